package engine_test

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/refval/refval/engine"
	"github.com/refval/refval/internal/testimage"
)

func predictSandbox(t *testing.T, manifest, version string) *specs.Spec {
	t.Helper()
	pod, err := engine.ParseKubeObject("pod.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	pause := testimage.Busybox()
	pause.Config.Entrypoint, pause.Config.Cmd = []string{"/pause"}, nil
	cfg, fsys := imageConfigAndFS(t, pause)
	np := engine.DefaultNodeProfile()
	np.ContainerdVersion = version
	s, err := engine.PredictKubeSandboxSpec(pod, cfg, fsys, &np)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func nsTypes(s *specs.Spec) []specs.LinuxNamespaceType {
	var out []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		out = append(out, n.Type)
	}
	return out
}

func mountOf(s *specs.Spec, dst string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dst {
			return &s.Mounts[i]
		}
	}
	return nil
}

// TestKubeSandbox checks the sandbox prediction against containerd CRI's
// sandboxContainerSpec (podsandbox/sandbox_run_linux.go of 2.4.2,
// pkg/cri/server/sandbox_run_linux.go of 1.6.20) and the kubelet's
// PodSandboxConfig (kuberuntime_sandbox.go of 1.34.2).
func TestKubeSandbox(t *testing.T) {
	s := predictSandbox(t, kubePlain, "2.4")
	if !slices.Equal(s.Process.Args, []string{"/pause"}) || !s.Root.Readonly || s.Hostname != "web" {
		t.Errorf("args %v, readonly root %v, hostname %q", s.Process.Args, s.Root.Readonly, s.Hostname)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
		t.Error("the sandbox lacks the RuntimeDefault profile the kubelet asks for")
	}
	if got := s.Linux.CgroupsPath; got != "/kubepods/besteffort/pod"+engine.KubePodUID+"/"+engine.KubeSandboxID {
		t.Errorf("cgroupsPath %s", got)
	}
	if s.Linux.Resources.CPU == nil || *s.Linux.Resources.CPU.Shares != 2 || s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != -998 {
		t.Errorf("cpu %+v oomScoreAdj %v: want DefaultSandboxCPUshares 2 and defaultSandboxOOMAdj -998", s.Linux.Resources.CPU, s.Process.OOMScoreAdj)
	}
	if s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" || s.Linux.Sysctl["net.ipv4.ping_group_range"] != "0 2147483647" {
		t.Errorf("sysctls %v: want containerd 2.x's unprivileged ports and ICMP", s.Linux.Sysctl)
	}
	if m := mountOf(s, "/dev/shm"); m == nil || m.Type != "bind" || !strings.HasSuffix(m.Source, "/sandboxes/"+engine.KubeSandboxID+"/shm") ||
		!slices.Equal(m.Options, []string{"rbind", "ro", "nosuid", "nodev", "noexec"}) {
		t.Errorf("/dev/shm %+v", m)
	}
	if m := mountOf(s, "/run"); m != nil {
		t.Error("the sandbox has the /run tmpfs")
	}
	if !slices.Equal(nsTypes(s), []specs.LinuxNamespaceType{"pid", "ipc", "uts", "mount", "network"}) || s.Linux.Namespaces[4].Path == "" {
		t.Errorf("namespaces %+v", s.Linux.Namespaces)
	}

	host := predictSandbox(t, strings.Replace(kubePlain, "spec:\n", "spec:\n  hostNetwork: true\n  hostPID: true\n  hostIPC: true\n", 1), "2.4")
	if !slices.Equal(nsTypes(host), []specs.LinuxNamespaceType{"mount"}) || host.Hostname != "" || host.Linux.Sysctl != nil {
		t.Errorf("host namespaces: %v, hostname %q, sysctls %v", nsTypes(host), host.Hostname, host.Linux.Sysctl)
	}
	if m := mountOf(host, "/dev/shm"); m == nil || m.Source != "/dev/shm" {
		t.Errorf("hostIPC /dev/shm %+v", m)
	}

	priv := predictSandbox(t, kubePlain+"    securityContext: {privileged: true}\n", "2.4")
	if priv.Linux.Seccomp != nil || !slices.Contains(mountOf(priv, "/sys").Options, "rw") {
		t.Errorf("privileged pod: seccomp %v, /sys %v (want none, rw)", priv.Linux.Seccomp != nil, mountOf(priv, "/sys").Options)
	}

	user := predictSandbox(t, strings.Replace(kubePlain, "spec:\n", "spec:\n  securityContext: {runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [44]}\n", 1), "2.4")
	// oci.WithUser, applied last, resets additionalGids to the primary group.
	if u := user.Process.User; u.UID != 1000 || u.GID != 3000 || !slices.Equal(u.AdditionalGids, []uint32{3000}) {
		t.Errorf("user %+v", u)
	}
	groups := predictSandbox(t, strings.Replace(kubePlain, "spec:\n", "spec:\n  securityContext: {fsGroup: 2000, supplementalGroups: [44]}\n", 1), "2.4")
	if u := groups.Process.User; u.UID != 0 || !slices.Equal(u.AdditionalGids, []uint32{44, 2000}) {
		t.Errorf("user %+v: want the pod's groups, sorted", u)
	}

	if priv16 := predictSandbox(t, kubePlain+"    securityContext: {privileged: true}\n", "1.6"); priv16.Linux.Seccomp != nil || !slices.Contains(mountOf(priv16, "/sys").Options, "ro") {
		t.Error("privileged pod on 1.6: want no seccomp and /sys still read-only")
	}
	old := predictSandbox(t, kubePlain, "1.6")
	if m := mountOf(old, "/dev/shm"); m == nil || m.Type != "tmpfs" {
		t.Error("containerd 1.6 keeps the default /dev/shm tmpfs before the sandbox's bind")
	}
	if n := len(old.Mounts); old.Mounts[n-2].Destination != "/dev/shm" || !slices.Equal(old.Mounts[n-2].Options, []string{"rbind", "ro"}) || old.Linux.Sysctl != nil {
		t.Errorf("1.6: mounts %+v, sysctls %v", old.Mounts, old.Linux.Sysctl)
	}
}

// TestKubeRuntimeDefault: seccompProfile RuntimeDefault (container or pod
// level) gives an app container containerd's default profile for its own
// capabilities; the container's setting wins over the pod's.
func TestKubeRuntimeDefault(t *testing.T) {
	imgCfg, userFS := imageConfigAndFS(t, testimage.Busybox())
	predict := func(manifest string) *specs.Spec {
		pod, err := engine.ParseKubeObject("pod.yaml", []byte(manifest))
		if err != nil {
			t.Fatal(err)
		}
		s, err := engine.PredictKubeSpec(pod, "app", imgCfg, userFS, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := predict(kubePlain); s.Linux.Seccomp != nil {
		t.Error("seccomp without RuntimeDefault")
	}
	s := predict(kubePlain + "    securityContext: {seccompProfile: {type: RuntimeDefault}, capabilities: {add: [SYS_ADMIN]}}\n")
	if s.Linux.Seccomp == nil || ruleIndex(s.Linux.Seccomp, "mount") < 0 {
		t.Error("RuntimeDefault with CAP_SYS_ADMIN: want the profile allowing mount")
	}
	pod := strings.Replace(kubePlain, "spec:\n", "spec:\n  securityContext: {seccompProfile: {type: RuntimeDefault}}\n", 1)
	if s := predict(pod); s.Linux.Seccomp == nil || ruleIndex(s.Linux.Seccomp, "mount") >= 0 {
		t.Error("pod-level RuntimeDefault: want the profile without mount")
	}
	if s := predict(pod + "    securityContext: {seccompProfile: {type: Unconfined}}\n"); s.Linux.Seccomp != nil {
		t.Error("the container's Unconfined does not win over the pod's RuntimeDefault")
	}
}
