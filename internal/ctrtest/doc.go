// Package ctrtest starts private containerd daemons for tests: containerd
// 1.6 from Debian (/usr/bin) or 2.x built by scripts/deps.sh, each with its
// own root, state, gRPC socket and containerd namespace in a fresh
// temporary directory, its NRI plugin off (CRI too, unless WithCRI), and
// containerd's PATH set so that the matching containerd-shim-runc-v2 and
// Debian's runc are the ones found (plus any directories a test adds, e.g. for an extra
// runtime shim). Tests import OCI archives and run containers through the
// version's own ctr.
//
//	c := ctrtest.New(t, ctrtest.V1_6)
//	refs := c.Import(archive)
//	r := c.Run("--rm", refs[0], "id1", "echo", "hi") // r.Stdout, r.ExitCode
//
// Cleanup stops exactly what the harness started: it kills and deletes the
// tasks and containers of its namespace, stops its containerd, kills any
// shim still serving its socket (found by the unique -address argument),
// unmounts what is left below its directory and removes it.
//
// Cleanup runs from t.Cleanup: if the test binary is killed (go test
// -timeout, SIGKILL) containerd dies with it (parent-death signal) but
// shims of running tasks survive; they carry "-address
// /tmp/ctrtest-*/containerd.sock" on their command line.
//
// Guarantees: nothing outside the temporary directory is touched except
// the per-namespace runc state that containerd keeps under /run/containerd
// and the shim sockets under /run/containerd/s (both removed by task
// deletion). WithCRI turns on the CRI API (namespace k8s.io, host-network
// pods only: CNI has no plugins). Left out: kubelet, CNI networking,
// remote registries.
//
// Requirements: root (containerd), Debian containerd and runc; for 2.x,
// $REFVAL_CONTAINERD2_BIN or $REFVAL_CACHE/containerd-v2.4.2/bin
// (scripts/deps.sh builds it). When something is missing the test is
// skipped, or fails when CI=true. testing.Short() skips.
package ctrtest
