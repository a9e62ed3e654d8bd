// Package boundedfile opens and reads files that must be regular files of
// bounded size: configuration files, measurement lists, image layout
// files. It is the one implementation of "open without blocking, refuse
// anything but a regular file, read at most N bytes" that bundle, oci,
// measurelist and the shim share.
//
// Guarantees: Open never blocks on a FIFO (the file is opened with
// O_NONBLOCK, which has no effect on a regular file, and O_NOCTTY), and
// returns the file only when fstat of the opened descriptor says it is a
// regular file, so a file swapped between a check and the open cannot
// slip through. Read never reads more than limit+1 bytes, whatever the
// file claims or does while read, and refuses a file larger than limit.
// Whether a symbolic link as the file itself is followed is the caller's
// explicit choice (FollowLinks or RefuseLinks); links in the directories
// above it are always followed.
//
// Errors about the file itself are *Error, naming the file, wrapping one
// of ErrSymlink, ErrNotRegular and ErrTooLarge, and carrying the file's
// type or size and the limit, so that callers wrap them in their own
// typed errors; failures of the open itself are the *fs.PathError of the
// os package (errors.Is(err, fs.ErrNotExist) for a missing file).
//
// Left out: content checks (the callers parse), locking and writing
// (internal/atomicfile writes).
package boundedfile
