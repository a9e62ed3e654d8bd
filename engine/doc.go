// Package engine predicts, offline, the runtime config (config.json) that a
// container engine writes into the bundle when it starts an image, so that a
// reference value signed in CI equals the measurement the shim takes on the
// device.
//
// Two profiles exist. The runc profile is the bundle as an unpacker writes
// it (umoci's image-config → runtime-spec conversion, what `runc run` on an
// unpacked bundle uses; RuncSpec, which package oci also unpacks and
// measures with). The containerd profile is what `ctr run [options]
// IMAGE ID [args]` writes, for the containerd versions in Versions: the
// engine's default spec (what `ctr oci spec` prints, or a device's own
// capture given with WithBaseSpec), then the spec functions `ctr run`
// applies, in ctr's order. Each of those functions is a SpecOpts here, one
// small documented rule each, reimplemented from reading containerd's
// pkg/oci and cmd/ctr source (containerd is not a dependency: both the 1.x
// and the 2.x behaviour are needed side by side).
//
// Guarantees: for the options in RunOptions and an image whose
// /etc/passwd and /etc/group are given through an fs.FS (UserFiles builds
// one from their content), Predict returns the config containerd writes,
// field for field, for the pinned versions 1.6.20, 1.7.35, 2.0.14 and
// 2.4.2. The default specs of all four are checked against `ctr oci spec`
// of the real binaries; whole configs are checked against real containerd
// 1.6.20 and 2.4.2 (TestFidelity, and TestPredictMatchesRecordedRuntime,
// which replays the configs recorded there); the ctr run behaviour of 1.7
// and 2.0 comes from their source. Predict reads no host state unless the
// caller passes a Host (needed for --privileged and --net-host, whose spec
// depends on the device's /dev, capabilities and hostname).
//
// The kubernetes prediction (PredictKube, KubePredictor; kube*.go) is what
// kubelet 1.34 and containerd CRI 1.6/2.4 write for a container of a pod
// spec on nodes of a NodeProfile, checked against a real kubelet
// (TestFidelityKubernetes); what it does not model is an error.
//
// The docker prediction (docker*.go) is what dockerd 20.10.24 writes for
// `docker run` (DockerRun), its init layer included; the nerdctl
// prediction (nerdctl*.go) is what nerdctl 2.2.1 writes for `nerdctl run`
// (NerdctlRun) with the spec options and default seccomp profile of the
// containerd v2.2.1 client library it is built with, and hooks carrying
// nerdctl's path, global options and environment from the host profile
// (NerdctlHost). Both are checked against the real engines
// (TestDockerFidelity, TestNerdctlFidelity); what they do not model is an
// error naming the option.
//
// OCIRules (ocirules.go, OCIRuler) states, for the kubernetes and docker
// predictions, the CMC v0.9 ociRules that mark exactly the fields those
// engines vary per start, at their positions in the prediction's
// cmc-0.9-normalised config; checked with CMC's own verifier
// (internal/cmctest).
//
// Left out: --seccomp with containerd's
// built-in default profile (its syscall list depends on the exact version
// and architecture; pass --seccomp-profile FILE instead); --gpus, --device,
// --cni, --uidmap, AppArmor and rdt options; Windows and FreeBSD specs.
// Predict returns ErrUnsupported for these rather than a wrong config.
package engine
