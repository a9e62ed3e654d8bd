// Package staging makes the temporary directories of an operation (a
// pull's staging layout, an unpack's bundle before it is renamed into
// place, measure's temporary bundle) removable by a later run once the
// process that made them is gone, however it died.
//
// A staging directory holds a lock file that its process keeps flock'ed
// while it works; the kernel releases the lock when the process exits,
// SIGKILL included. A later run removes a directory only when it is
// provably abandoned: its name matches the operation's pattern, it holds
// the operation's lock file (a regular file, not a link, owned by the
// running user), the lock is free, and the lock file is older than Grace
// (the moment between creating and locking it). A directory without a
// lock file is never taken for abandoned unless the caller gives it an
// age (Stale's legacy). An orderly exit (an error, or SIGINT/SIGTERM
// through a cancelled context) removes its own directory; this package is
// for the deaths that run no code.
//
// Not guaranteed: removal of directories of another user (their lock
// files are not ours), or of a process that is stopped but alive (its
// lock is held).
package staging
