// Package layerfs applies OCI image layers (tar streams) to an in-memory
// file tree and emits the tree as refval-v1 records, so that an image's
// rootfs can be measured without writing it to disk.
//
// The tree holds metadata and content digests only: no file content is
// kept (except small files the caller asks to retain), so memory grows with
// the number of entries, not with their size. Layers may end with or
// without the end-of-archive blocks (umoci insert writes none).
//
// Guarantee: for every layer sequence that umoci (the unpacker refval
// uses, github.com/opencontainers/umoci/oci/layer) extracts as root with
// a umask of 022, the records emitted equal those bundle.HashRootfs reads
// from umoci's rootfs. The rules are umoci's, each one documented where it
// is implemented:
//
//   - names are cleaned lexically (CleanPath: "../x" and "/x" become "x");
//     a name that cleans to "/" sets the root's metadata and must be a
//     directory;
//   - the parent of each entry is resolved through symlinks inside the
//     tree (securejoin semantics: ".." stops at the root, absolute targets
//     restart at the root, at most 255 links); the entry's own last
//     component is never followed;
//   - missing parents are created as 0755 root:root directories (0777
//     less umask 022), inheriting group and setgid from a setgid parent as
//     the kernel does; a non-directory where a parent must be is replaced
//     by a directory, and an immediate parent that was a non-directory
//     keeps that old entry's mode, owner and capability (umoci re-applies
//     the parent's previous metadata after each entry);
//   - an entry replaces whatever was at its path, except a directory over
//     a directory, which keeps its children and takes the new metadata;
//   - ".wh.NAME" removes NAME and ".wh..wh..opq" empties its directory,
//     sparing what the same layer already created (and their ancestors);
//   - a hardlink becomes a copy of its target at link time (content digest,
//     mode, owner, capability): later layers cannot change one without
//     replacing it, so a copy measures the same as a shared inode;
//   - mode is the header's mode & 07777 (0 recorded for symlinks); owner
//     the header's uid/gid, truncated to 32 bits, 0xFFFFFFFF meaning
//     "unchanged" as in chown(2); device numbers as mknod(2) stores them;
//   - security.capability comes from the PAX record
//     SCHILY.xattr.security.capability; values the kernel rejects are an
//     error, a version-3 value with root ID 0 is recorded as the version-2
//     value the kernel returns for it, and the xattr is cleared when an
//     entry without it replaces or re-applies metadata.
//
// Rejected (ErrInvalidLayer), where umoci would fail or do something no
// layer can mean: a non-directory entry for the root, whiteouts of "." or
// "..", hardlinks to missing entries or to directories, symlink loops in a
// parent path, tar entry types other than file, directory, symlink,
// hardlink, character and block device and fifo, and file contents shorter
// than their header says.
//
// Bounded (Budget, WithLimits; bundle.Limits documents the defaults): the
// tree and the unpacker read layers through one Budget per image, which
// refuses with a *bundle.LimitError (bundle.ErrLimitExceeded) an entry
// beyond the entry count, the declared or read bytes of its layer or
// image, the expansion of file content over the tar stream (sparse
// holes), or the depth, name or path length — of the path as written and,
// in the tree, as resolved through symlinks. Memory is linear in the
// entries, and Records walks iteratively over one path buffer.
//
// Left out: the user.rootlesscontainers xattr of a layer is ignored (it
// is an unpacker's private marker, not image content; refval's unpack
// strips it too, since honouring it would let an image claim any owner);
// other xattrs are not measured and not kept.
package layerfs
