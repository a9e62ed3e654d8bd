package engine

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// KubeSandbox is the --container name that selects a pod's sandbox (pause)
// container, the name the kubelet gives it in its logs and metrics.
// Container names are DNS labels (lowercase), so no container of a pod can
// have it.
const KubeSandbox = "POD"

// kubeSandboxOOMScoreAdj is containerd CRI's defaultSandboxOOMAdj.
const kubeSandboxOOMScoreAdj = -998

// PredictKubeSandbox returns the config.json that containerd CRI (with the
// kubelet's PodSandboxConfig for pod) writes for the pod's sandbox
// container, started from the node's sandbox image pause (rootfs: its root
// filesystem, for a user name, or nil). The sandbox's config is where
// hostNetwork, hostPID and hostIPC show (the app containers join its
// namespaces by path). It carries containerd's default seccomp profile
// (the kubelet asks for RuntimeDefault) unless a container of the pod is
// privileged. The sandbox's container ID is its sandbox ID: measure the
// prediction with bundle.WithContainerID(KubeSandboxID) and refval-v2.
func PredictKubeSandbox(pod *KubePod, pause ocispec.Image, rootfs fs.FS, np *NodeProfile) ([]byte, error) {
	s, err := PredictKubeSandboxSpec(pod, pause, rootfs, np)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("predict kubernetes sandbox config: %w", err)
	}
	return b, nil
}

// PredictKubeSandboxSpec is PredictKubeSandbox returning the spec.
func PredictKubeSandboxSpec(pod *KubePod, pause ocispec.Image, rootfs fs.FS, np *NodeProfile) (*specs.Spec, error) {
	if np == nil {
		p := DefaultNodeProfile()
		np = &p
	}
	if err := np.Validate(); err != nil {
		return nil, err
	}
	r, err := lookupRules(np.ContainerdVersion)
	if err != nil {
		return nil, err
	}
	if _, ok := seccompReleases[r.version]; !ok {
		return nil, fmt.Errorf("%w: the sandbox container of containerd %s (the sandbox and its default seccomp profile are modelled for containerd 1.6.20 and 2.4.2)", ErrUnsupported, r.version)
	}
	if pause.OS != "" && pause.OS != "linux" {
		return nil, fmt.Errorf("%w: image OS %q (only linux images)", ErrUnsupported, pause.OS)
	}
	if err := checkSandboxModelled(pod); err != nil {
		return nil, err
	}
	qos, err := podQOS(pod)
	if err != nil {
		return nil, err
	}
	k := &kubeContainer{pod: pod, field: "sandbox", np: np, qos: qos,
		ctr: &Container{ID: KubeSandboxID, Namespace: "k8s.io", Rootfs: rootfs, rules: r}}
	var s specs.Spec
	opts, err := k.sandboxOpts(pause)
	if err == nil {
		err = ApplyOpts(k.ctr, &s, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("predict kubernetes sandbox config of pod %s: %w", pod.Name, err)
	}
	return &s, nil
}

// checkSandboxModelled refuses pod settings whose effect on the sandbox's
// config is not modelled.
func checkSandboxModelled(pod *KubePod) error {
	if pod.Spec.Hostname != "" || pod.Spec.Subdomain != "" {
		return fmt.Errorf("%w: spec.hostname and spec.subdomain are not modelled", ErrUnsupported)
	}
	return nil
}

// sandboxOpts are containerd CRI's sandboxContainerSpec options in order,
// then the options applied on top of the generated spec (privileged
// sysfs, seccomp, user: sandboxContainerSpecOpts).
func (k *kubeContainer) sandboxOpts(pause ocispec.Image) ([]SpecOpts, error) {
	img := pause.Config
	if len(img.Entrypoint) == 0 && len(img.Cmd) == 0 {
		return nil, fmt.Errorf("%w: the sandbox image has neither an entrypoint nor a cmd", ErrInvalidOption)
	}
	arch, err := imageArch(pause.Architecture)
	if err != nil {
		return nil, err
	}
	opts := []SpecOpts{
		WithDefaultSpec(),
		k.withSandboxMaskedPaths(),
		kubeWithoutRunMount,
		kubeWithoutDefaultSecuritySettings,
		WithEnv(img.Env),
		WithRootFSReadonly(),
		WithHostname(k.sandboxHostname()),
	}
	if img.WorkingDir != "" {
		opts = append(opts, WithProcessCwd(img.WorkingDir))
	}
	opts = append(opts,
		WithProcessArgs(append(slices.Clone(img.Entrypoint), img.Cmd...)...),
		k.withCgroupsPath(),
		k.withSandboxNamespaces(),
		k.withSandboxMounts(),
		k.withSandboxSupplementalGroups(),
		k.withSandboxSysctls(),
		WithCPUShares(2), // WithDefaultSandboxShares
		k.withSandboxOOMScoreAdj(),
		k.withSandboxAnnotations(),
	)
	if k.sandboxPrivileged() {
		if strings.HasPrefix(k.ctr.rules.version, "2.") {
			opts = append(opts, kubeWithRWSysfs)
		}
	} else {
		opts = append(opts, withDefaultSeccomp(k.ctr.rules.version, arch))
	}
	return append(opts, k.withSandboxUser(img)), nil
}

// withSandboxMaskedPaths: containerd 2.x also masks the node's
// /sys/devices/system/cpu/cpuN/thermal_throttle paths in its default spec
// (the same paths the kubelet masks for app containers).
func (k *kubeContainer) withSandboxMaskedPaths() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		if strings.HasPrefix(c.rules.version, "2.") {
			s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, k.np.ExtraMaskedPaths...)
		}
		return nil
	}
}

// sandboxHostname is the kubelet's PodSandboxConfig.hostname: none for a
// hostNetwork pod (the sandbox keeps the node's UTS namespace).
func (k *kubeContainer) sandboxHostname() string {
	if k.pod.Spec.HostNetwork {
		return ""
	}
	return podHostnameOf(k.pod.Name)
}

// sandboxPrivileged is the kubelet's HasPrivilegedContainer (init, app
// containers).
func (k *kubeContainer) sandboxPrivileged() bool {
	for _, c := range append(slices.Clone(k.pod.Spec.InitContainers), k.pod.Spec.Containers...) {
		if sc := c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
			return true
		}
	}
	return false
}

// withSandboxNamespaces: the sandbox creates the pod's namespaces, or
// stays in the node's for hostNetwork (network and UTS), hostPID and
// hostIPC; its network namespace is the one CNI set up, joined by path.
func (k *kubeContainer) withSandboxNamespaces() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		without := map[specs.LinuxNamespaceType]bool{}
		sp := &k.pod.Spec
		if sp.HostNetwork {
			without[specs.NetworkNamespace], without[specs.UTSNamespace] = true, true
		} else {
			setNamespace(s, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/var/run/netns/cni-" + KubePodUID})
		}
		without[specs.PIDNamespace] = sp.HostPID
		without[specs.IPCNamespace] = sp.HostIPC
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return without[n.Type] })
		return nil
	}
}

// withSandboxMounts: the sandbox's /dev/shm (the host's for hostIPC) and
// /etc/resolv.conf, read-only binds; containerd 2.x first drops the
// default /dev/shm tmpfs and mounts both nosuid, nodev, noexec.
func (k *kubeContainer) withSandboxMounts() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		cri := "io.containerd.grpc.v1.cri/sandboxes/" + KubeSandboxID
		shm := path.Join(k.np.ContainerdState, cri, "shm")
		if k.pod.Spec.HostIPC {
			shm = "/dev/shm"
		}
		opts := []string{"rbind", "ro"}
		if strings.HasPrefix(c.rules.version, "2.") {
			s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/dev/shm" })
			opts = append(opts, "nosuid", "nodev", "noexec")
		}
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/dev/shm", Type: "bind", Source: shm, Options: slices.Clone(opts)},
			specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: path.Join(k.np.ContainerdRoot, cri, "resolv.conf"), Options: slices.Clone(opts)})
		return nil
	}
}

// withSandboxSupplementalGroups: the kubelet's sandbox supplemental
// groups (fsGroup, then supplementalGroups), merged as WithSupplementalGroups.
func (k *kubeContainer) withSandboxSupplementalGroups() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		s.Process.User.AdditionalGids = mergeGids(s.Process.User.AdditionalGids, k.supplementalGroups())
		return nil
	}
}

// withSandboxSysctls: the pod's sysctls, and, outside the node's network
// namespace, containerd 2.x's enable_unprivileged_ports and
// enable_unprivileged_icmp defaults (on; off in 1.6) where the pod sets
// none of them. A containerd configuration that changes these is not
// modelled.
func (k *kubeContainer) withSandboxSysctls() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		m := map[string]string{}
		if psc := k.pod.Spec.SecurityContext; psc != nil {
			for _, x := range psc.Sysctls {
				m[x.Name] = x.Value
			}
		}
		if !k.pod.Spec.HostNetwork && strings.HasPrefix(c.rules.version, "2.") {
			if _, ok := m["net.ipv4.ip_unprivileged_port_start"]; !ok {
				m["net.ipv4.ip_unprivileged_port_start"] = "0"
			}
			if _, ok := m["net.ipv4.ping_group_range"]; !ok {
				m["net.ipv4.ping_group_range"] = "0 2147483647"
			}
		}
		if len(m) > 0 {
			s.Linux.Sysctl = m
		}
		return nil
	}
}

// withSandboxOOMScoreAdj is WithPodOOMScoreAdj(defaultSandboxOOMAdj),
// clamped by restrict_oom_score_adj.
func (k *kubeContainer) withSandboxOOMScoreAdj() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		adj := kubeSandboxOOMScoreAdj
		if k.np.RestrictOOMScoreAdj && adj < k.np.ContainerdOOMScoreAdj {
			adj = k.np.ContainerdOOMScoreAdj
		}
		s.Process.OOMScoreAdj = &adj
		return nil
	}
}

// withSandboxAnnotations are DefaultCRIAnnotations for a sandbox (those
// refval-v2 reads; the rest are dropped by the measurement).
func (k *kubeContainer) withSandboxAnnotations() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		s.Annotations = map[string]string{
			"io.kubernetes.cri.container-type":    "sandbox",
			"io.kubernetes.cri.sandbox-id":        KubeSandboxID,
			"io.kubernetes.cri.sandbox-name":      k.pod.Name,
			"io.kubernetes.cri.sandbox-namespace": k.pod.Namespace,
			"io.kubernetes.cri.sandbox-uid":       KubePodUID,
		}
		return nil
	}
}

// kubeWithRWSysfs: a privileged pod's sandbox mounts /sys read-write
// (containerd 2.x; 1.6 keeps it read-only).
func kubeWithRWSysfs(_ *Container, s *specs.Spec) error {
	for i, m := range s.Mounts {
		if path.Clean(m.Destination) == "/sys" {
			if j := slices.Index(m.Options, "ro"); j >= 0 {
				s.Mounts[i].Options[j] = "rw"
			}
			break
		}
	}
	return nil
}

// withSandboxUser: the pod's runAsUser and runAsGroup, else the sandbox
// image's user.
func (k *kubeContainer) withSandboxUser(img ocispec.ImageConfig) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		var u string
		if psc := k.pod.Spec.SecurityContext; psc != nil {
			if psc.RunAsUser != nil {
				u = strconv.FormatInt(*psc.RunAsUser, 10)
			}
			if psc.RunAsGroup != nil {
				if u == "" {
					return fmt.Errorf("%w: spec.securityContext.runAsGroup without runAsUser", ErrInvalidOption)
				}
				u += ":" + strconv.FormatInt(*psc.RunAsGroup, 10)
			}
		}
		if u == "" {
			u = img.User
		}
		if u == "" {
			return nil
		}
		return WithUser(u)(c, s)
	}
}

// checkSeccompType refuses the seccomp profiles not modelled: Localhost
// (a file on the node) and unknown types.
func checkSeccompType(p *SeccompProfile, field string) error {
	if p == nil || p.Type == "Unconfined" || p.Type == "RuntimeDefault" {
		return nil
	}
	return fmt.Errorf("%w: %s.seccompProfile %q: only Unconfined and RuntimeDefault (containerd's default profile) are modelled; a Localhost profile is a file on the node", ErrUnsupported, field, p.Type)
}

// withSeccomp: the kubelet's seccomp profile for an app or init container
// (its own securityContext's, else the pod's; none else, the kubelet's
// seccompDefault being off by default) and, for RuntimeDefault,
// containerd's default profile on the container's final capabilities.
func (k *kubeContainer) withSeccomp(arch string) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		var p *SeccompProfile
		if psc := k.pod.Spec.SecurityContext; psc != nil {
			p = psc.SeccompProfile
		}
		if sc := k.c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
			p = sc.SeccompProfile
		}
		if p == nil || p.Type != "RuntimeDefault" {
			return nil
		}
		a, err := imageArch(arch)
		if err != nil {
			return err
		}
		return withDefaultSeccomp(c.rules.version, a)(c, s)
	}
}
