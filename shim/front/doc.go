// Package front is the C front of containerd-shim-cmc-v1: a constructor
// (front.c) that runs when the binary starts, before the Go runtime, and
// for a runc call that is certainly a pass-through execve's the real runc
// at once -- the Go start-up (about 2 ms here) is skipped for the calls
// the wrapper does not measure. runc's own nsexec starts the same way.
//
// It takes the fast path only when all of these hold, and otherwise
// returns, leaving the call to the Go wrapper (shim.Main) as if it did
// not exist:
//
//   - argv[0]'s base name is "runc" (the link the shim mode puts first in
//     the runc shim's PATH);
//   - the global flags are only --root, --log, --log-format, --criu,
//     --rootless (with a value) and --debug, --systemd-cgroup, and the
//     subcommand is one that the wrapper passes through unmeasured (start,
//     state, kill, delete, events, ps, pause, resume, update, exec,
//     features, list, checkpoint): never create, run or restore;
//   - the environment holds shim.FastEnv, the token the shim mode sets
//     for the runc shim (shim.FastToken), and the configuration file is
//     still the one the token describes (same device, inode, size,
//     modification and change times; or still absent): so its runc and
//     log level are the ones the shim mode read, and the log level is not
//     debug (which logs every pass-through);
//   - this binary, the configured runc (absolute) or the first runc in
//     PATH that is not this binary, and every PATH entry (absolute and
//     clean) are as the Go wrapper would find them.
//
// It then builds runc's environment as the Go wrapper does (os.Environ:
// no empty entries, the first of each key; PATH without the entries whose
// runc is this binary; shim.FastEnv removed) and execs runc with argv
// unchanged but for argv[0], the real runc's path. If execve fails, Go
// runs and reports.
//
// The package has Go code only for tests (Classify, Prepare): the
// differential tests and the fuzz target compare the C classifier with
// shim.ParseRuncArgs and the C environment with the Go wrapper's. Built
// without cgo the package is empty and the binary is the Go wrapper alone.
package front
