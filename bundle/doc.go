// Package bundle measures OCI runtime bundles: a config.json and the root
// filesystem it names, reduced to three SHA-256 values (configSha256,
// rootfsSha256 and the templateSha256 the CMC stack records). The offline
// tools and the runtime shim both measure through this package, so the
// same bundle gives the same bytes wherever it is measured. A rootfs is a
// record Source: the directory walker (Measure, HashRootfs) and the
// in-memory layer tree of package oci/layerfs (MeasureSource) are two, and
// both reach the one digest (HashSource) and the one Result builder.
//
// What it guarantees (scheme refval-v1, the default; docs/measurement.md is
// normative):
//   - Determinism: the result depends only on the bundle's content, never
//     on timestamps, inode numbers, directory order, the number of workers
//     or the host's user database.
//   - Sensitivity: file content, type, permission bits (setuid, setgid and
//     sticky included), owner as the container sees it, symlink targets,
//     device numbers, file capabilities and every config field outside the
//     documented normalisation rules change the measurement.
//   - Containment: symlinks are never followed and the walk never leaves the
//     rootfs; paths longer than PATH_MAX work (every access is *at-relative).
//   - Honesty: a file that changes while it is read makes the measurement
//     fail (ErrFileChanged) instead of describing a state that never was.
//   - Streaming: file contents are opened, read and hashed by a bounded
//     pool of workers (GOMAXPROCS by default) while the walk goes on; memory
//     does not depend on file sizes, and on the tree only through the
//     bounded window of records in flight and the names of the directories
//     from the root to the current one. The walk is iterative over one path
//     buffer and keeps no descriptor per level below the 64th (it comes
//     back through "..", checked against the inode it left).
//   - Bounded: Limits.Entries and Limits.Depth (WithLimits; the defaults
//     apply without it) refuse a tree beyond them with a *LimitError.
//
// What it leaves out: ACLs and xattrs other than security.capability (and
// user.rootlesscontainers, which only sets the owner, and not even that
// with WithoutRootlessXattr, as the runtime shim measures), timestamps, and
// anything outside the bundle (mounts added by the engine at start, the
// kernel, the runtime binary). Scheme cmc reproduces the original CMC tools
// bit for bit, weaknesses included; prefer refval-v1 where both ends are
// refval.
package bundle
