// Package kubetest runs a real kubelet for tests: the kubelet of
// scripts/deps.sh (v1.34.2, built from the Go module proxy), standalone —
// no API server, no kubeconfig — with static pods from a manifest
// directory, on a private containerd with CRI started by internal/ctrtest
// (2.4 or Debian's 1.6), and a pod network from Debian's CNI bridge and
// host-local plugins.
//
//	k := kubetest.Start(t, ctrtest.V2_4, kubetest.WithImages(archive), kubetest.WithDefaultRuntime("cmc", runtimesTOML))
//	pod := k.RunStaticPod("plain", manifestYAML) // waits until it runs
//	pod.Containers["app"]                        // its container ID
//	k.RemoveStaticPod("plain")                   // waits until it is gone
//
// The facts that make a standalone kubelet run here (issue 11): it runs in
// its own mount namespace (slave propagation, so the host's mounts reach it
// and none of its own leave it) where /proc/sys/vm/overcommit_memory,
// kernel/panic and kernel/panic_on_oops are files of the harness bind-mounted
// over the real ones, since the kubelet insists on setting them;
// failCgroupV1: false; makeIPTablesUtilChains: false; authorization
// AlwaysAllow with its server off; --root-dir and --cert-dir as flags; no
// runtimeClassName (a standalone kubelet has no RuntimeClass manager and
// crashes), so a runtime under test is containerd's default_runtime_name
// (WithDefaultRuntime). Production defaults that shape a container's
// config are kept (cgroupsPerQOS: true, cgroupfs driver), except the cgroup
// root: a private /refval-kubetest-<random> so that nothing the kubelet
// creates collides with the host's /kubepods. Image GC is off (thresholds
// 100/99) so imported images stay.
//
// Cleanup stops exactly what Start started, in order: it removes the
// manifests and waits for the kubelet to stop the pods, stops and removes
// every pod sandbox through CRI (so containerd deletes their network
// namespaces), stops the kubelet, deletes the CNI bridge, removes the
// cgroup root it created (depth first, in every cgroup v1 hierarchy), and
// then ctrtest's cleanup stops containerd and removes the directory.
//
// Requirements: root, the kubelet ($REFVAL_KUBELET or
// $REFVAL_CACHE/kubelet-v1.34.2/kubelet), unshare and mount (util-linux),
// ip (iproute2), the CNI plugins in /usr/lib/cni (containernetworking-plugins),
// cgroup v1. When something is missing the test is skipped, or fails when
// CI=true. testing.Short() skips.
//
// Left out: an API server, so no configMap, secret or projected volumes, no
// service links, no runtime classes; image pulls (images are imported).
package kubetest
