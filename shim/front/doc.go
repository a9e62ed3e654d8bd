// Package front is the C front of containerd-shim-cmc-v1: a constructor
// (front.c) that runs when the binary starts, before the Go runtime, and
// for a call that is certainly one the Go code does not measure execve's
// what the Go code would exec at once -- the Go start-up (about 2 ms here)
// is skipped. runc's own nsexec starts the same way. On any doubt, and if
// execve fails, it returns and the Go code (shim.Main) handles the call as
// if the front did not exist.
//
// There are three fast paths, by argv[0]'s base name:
//
//   - runc pass-through, token from the environment: argv[0] is "runc"
//     (the link the shim mode puts first in the runc shim's PATH), the
//     global flags are only --root, --log, --log-format, --criu, --rootless
//     (with a value) and --debug, --systemd-cgroup, the subcommand is one
//     the wrapper passes through unmeasured (start, state, kill, delete,
//     events, ps, pause, resume, update, exec, features, list, checkpoint;
//     never create, run or restore), and the environment holds
//     shim.FastEnv, the token the shim mode sets for the runc shim.
//   - runc pass-through, token from the cache: the same call without
//     shim.FastEnv in the environment (runtime io.containerd.runc.v2 with
//     the runc link as BinaryName: no shim mode runs). The token is the
//     one an earlier Go runc call of this binary and configuration path
//     left in the "runc-" cache under shim.RunLinkRoot, which names this
//     binary's path.
//   - shim mode: argv[0] is not "runc" and argv[1] is -namespace or -info
//     (so the Go Main takes it as a shim call: start, delete, -info), and
//     the Go shim mode left a "fast-" cache under shim.RunLinkRoot for this
//     binary and configuration path: this binary's path, the token, the
//     configured runc shim and the runc link directory (configured, or the
//     installed/fallback pair). The front execs the runc shim (configured,
//     or the first in PATH that is not this binary) when each named runc
//     link is still this binary, with the link directory first in PATH and
//     the token set.
//
// A cache is read only if it is a regular file and its directory a
// directory, both owned by this user and writable by no one else. Every
// path requires that the token matches the configuration file as it is
// now (same device, inode, size, modification and change times; or still
// absent) -- so its runc and log level are the ones the Go code read --
// and that this binary (/proc/self/exe) was not replaced since it started.
// A runc call also requires that the configured runc (absolute, existing,
// not this binary) or the first runc in PATH that is not this binary, and
// every PATH entry (absolute and clean), are as the Go wrapper would find
// them. The Go code gives a token (shim.FastToken) only when the file
// parsed (or the default path is absent), did not change during the read
// nor in the 100 ms before it, runc is unset or absolute, and the log
// level is not debug with a log_file set (the Go wrapper then logs every
// pass-through; without a log_file nothing is logged and debug keeps the
// token). An environment of more than 4096 entries is left to Go (the
// front's duplicate-key check is quadratic).
//
// The front builds the environment as the Go code does (os.Environ: no
// empty entries, the first of each key; for runc, PATH without the
// entries whose runc is this binary and shim.FastEnv removed; for the
// runc shim, the link directory first in PATH and the token set) and
// execs with argv unchanged but for argv[0], the path it resolved.
//
// The token is not an authenticator. Whoever sets the environment of a
// runc call can already choose what runs (PATH), so a forged token gains
// nothing; but the front then execs the runc the token names, as long as
// the configuration file's fingerprint matches. The fingerprint assumes a
// local file system's timestamps: on NFS or FUSE the times the front sees
// may be cached and miss a change, so keep the configuration file on a
// local file system.
//
// The constructor reads (argc, argv, envp) from its arguments, which glibc
// passes to .init_array functions; other C libraries need not (musl
// passes none), so without glibc (__GLIBC__ undefined) the constructor is
// not compiled and every call takes the Go path.
//
// Classify, Prepare and ShimClassify expose the C decisions (without
// exec) to the differential tests and fuzz targets, which compare them
// with shim.ParseRuncArgs, shim.LooksLikeRunc and the Go wrapper's
// environment. They are exported from a non-test file only because cgo
// cannot be used in _test.go files; nothing else calls them. Built
// without cgo the package holds only stubs (Enabled false) and the binary
// is the Go wrapper alone.
package front
