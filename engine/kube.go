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

// Kubernetes names the prediction of what the kubelet (1.34) and
// containerd's CRI plugin write for one container of a pod.
const Kubernetes Kind = "kubernetes"

// The per-start values a kubernetes prediction is made with. They are
// placeholders of the right format: refval-v2 replaces them (and the real
// ones) at the same positions, so a prediction measured with refval-v2
// equals every start's measurement. Measure predictions with
// bundle.WithScheme(bundle.SchemeV2) and bundle.WithContainerID(KubeContainerID).
const (
	KubeContainerID = "1111111111111111111111111111111111111111111111111111111111111111"
	KubeSandboxID   = "2222222222222222222222222222222222222222222222222222222222222222"
	KubePodUID      = "33333333-3333-3333-3333-333333333333"
	kubeTermLeaf    = "44444444"
	// kubeSandboxPid is a pid for the /proc/<pid>/ns/* paths of the
	// namespaces joined (refval-v1's namespace-paths rule replaces them).
	kubeSandboxPid = 1
)

// KubeQOS is a pod's QoS class (core/v1 PodQOSClass).
type KubeQOS string

// QoS classes.
const (
	QOSGuaranteed KubeQOS = "Guaranteed"
	QOSBurstable  KubeQOS = "Burstable"
	QOSBestEffort KubeQOS = "BestEffort"
)

// PredictKube returns the config.json that the kubelet and containerd CRI of
// node profile np write for the container named name (an app or init
// container) of pod, started from image (rootfs: the image's root
// filesystem for /etc/passwd and /etc/group, or nil). What the model does
// not cover, or what depends on the node beyond np, is an error wrapping
// ErrUnsupported or ErrHostDependent that names the field — never a wrong
// config. The name KubeSandbox ("POD") predicts the pod's sandbox
// container instead (PredictKubeSandbox; image is then the sandbox image).
func PredictKube(pod *KubePod, name string, image ocispec.Image, rootfs fs.FS, np *NodeProfile) ([]byte, error) {
	s, err := PredictKubeSpec(pod, name, image, rootfs, np)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("predict kubernetes config: %w", err)
	}
	return b, nil
}

// PredictKubeSpec is PredictKube returning the spec.
func PredictKubeSpec(pod *KubePod, name string, image ocispec.Image, rootfs fs.FS, np *NodeProfile) (*specs.Spec, error) {
	if name == KubeSandbox {
		return PredictKubeSandboxSpec(pod, image, rootfs, np)
	}
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
	if image.OS != "" && image.OS != "linux" {
		return nil, fmt.Errorf("%w: image OS %q (only linux images)", ErrUnsupported, image.OS)
	}
	ctr, field, err := findContainer(pod, name)
	if err != nil {
		return nil, err
	}
	if err := checkPodModelled(pod, np); err != nil {
		return nil, err
	}
	if err := checkContainerModelled(ctr, field); err != nil {
		return nil, err
	}
	qos, err := podQOS(pod)
	if err != nil {
		return nil, err
	}
	k := &kubeContainer{pod: pod, c: ctr, field: field, np: np, qos: qos,
		ctr: &Container{ID: KubeContainerID, Namespace: "k8s.io", Rootfs: rootfs, rules: r}}
	var s specs.Spec
	if err := ApplyOpts(k.ctr, &s, k.opts(image)...); err != nil {
		return nil, fmt.Errorf("predict kubernetes config of %s: %w", field, err)
	}
	return &s, nil
}

// kubeContainer is one container being predicted.
type kubeContainer struct {
	pod   *KubePod
	c     *KubeContainer
	field string // "spec.containers[1]", for errors
	np    *NodeProfile
	qos   KubeQOS
	ctr   *Container
}

func findContainer(pod *KubePod, name string) (*KubeContainer, string, error) {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i], fmt.Sprintf("spec.initContainers[%d]", i), nil
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i], fmt.Sprintf("spec.containers[%d]", i), nil
		}
	}
	return nil, "", fmt.Errorf("%w: pod %s has no container %q (%s selects the sandbox)", ErrInvalidOption, pod.Name, name, KubeSandbox)
}

// checkPodModelled refuses pod-level settings whose effect on an app
// container's config is not modelled.
func checkPodModelled(pod *KubePod, np *NodeProfile) error {
	sp := &pod.Spec
	if sp.HostNetwork && np.NodeHostname == "" {
		return fmt.Errorf("%w: spec.hostNetwork: the container's HOSTNAME is the node's hostname; give nodeHostname in the node profile", ErrHostDependent)
	}
	if sp.Hostname != "" || sp.Subdomain != "" {
		return fmt.Errorf("%w: spec.hostname and spec.subdomain are not modelled", ErrUnsupported)
	}
	if np.KubernetesService != nil && (sp.EnableServiceLinks == nil || *sp.EnableServiceLinks) {
		return fmt.Errorf("%w: spec.enableServiceLinks: the service-link variables depend on the Services of the namespace when the pod starts; set enableServiceLinks: false", ErrUnsupported)
	}
	if psc := sp.SecurityContext; psc != nil {
		if err := checkSeccompType(psc.SeccompProfile, "spec.securityContext"); err != nil {
			return err
		}
	}
	for i, v := range sp.Volumes {
		n := 0
		for _, set := range []bool{v.EmptyDir != nil, v.HostPath != nil, v.ConfigMap != nil, v.Secret != nil, v.Projected != nil, v.DownwardAPI != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%w: spec.volumes[%d] (%s): want exactly one of emptyDir, hostPath, configMap, secret, projected, downwardAPI", ErrUnsupported, i, v.Name)
		}
		if v.EmptyDir != nil && v.EmptyDir.Medium != "" {
			return fmt.Errorf("%w: spec.volumes[%d].emptyDir.medium %q is not modelled", ErrUnsupported, i, v.EmptyDir.Medium)
		}
		if v.HostPath != nil && (!path.IsAbs(v.HostPath.Path) || path.Clean(v.HostPath.Path) != v.HostPath.Path) {
			return fmt.Errorf("%w: spec.volumes[%d].hostPath.path %q: want a clean absolute path (containerd resolves symlinks on the node)", ErrUnsupported, i, v.HostPath.Path)
		}
	}
	return nil
}

func checkContainerModelled(c *KubeContainer, field string) error {
	for _, a := range append(slices.Clone(c.Command), c.Args...) {
		if strings.Contains(a, "$(") {
			return fmt.Errorf("%w: %s: $(VAR) expansion in command or args is not modelled", ErrUnsupported, field)
		}
	}
	for i, e := range c.Env {
		if strings.Contains(e.Value, "$(") {
			return fmt.Errorf("%w: %s.env[%d]: $(VAR) expansion is not modelled", ErrUnsupported, field, i)
		}
	}
	for i, m := range c.VolumeMounts {
		if m.SubPath != "" {
			return fmt.Errorf("%w: %s.volumeMounts[%d].subPath is not modelled", ErrUnsupported, field, i)
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.Privileged != nil && *sc.Privileged {
			return fmt.Errorf("%w: %s.securityContext.privileged gives the container the node's devices", ErrHostDependent, field)
		}
		if err := checkSeccompType(sc.SeccompProfile, field+".securityContext"); err != nil {
			return err
		}
		if sc.ProcMount != "" && sc.ProcMount != "Default" && sc.ProcMount != "Unmasked" {
			return fmt.Errorf("%w: %s.securityContext.procMount %q", ErrInvalidOption, field, sc.ProcMount)
		}
	}
	for kind, m := range map[string]map[string]Quantity{"limits": c.Resources.Limits, "requests": c.Resources.Requests} {
		for res := range m {
			if res != "cpu" && res != "memory" {
				return fmt.Errorf("%w: %s.resources.%s.%s is not modelled", ErrUnsupported, field, kind, res)
			}
		}
	}
	return nil
}

// opts are the spec options in containerd CRI's order (buildLinuxSpec,
// then the platform options containerd applies on top), with the values
// the kubelet puts into the CRI request.
func (k *kubeContainer) opts(image ocispec.Image) []SpecOpts {
	return []SpecOpts{
		WithDefaultSpec(),
		kubeWithoutRunMount,
		kubeWithoutDefaultSecuritySettings,
		k.withProcessArgs(image.Config),
		WithEnv(defaultPathEnv), // oci.WithDefaultPathEnv
		WithNewPrivileges(),
		k.withCwd(image.Config),
		k.withTTY(),
		WithEnv([]string{"HOSTNAME=" + k.hostname()}),
		WithEnv(append(slices.Clone(image.Config.Env), k.env()...)),
		k.withCgroupNamespace(),
		k.withMounts(),
		k.withMaskedPaths(),
		k.withCapabilities(),
		kubeWithoutAmbientCaps,
		k.withNoNewPrivs(),
		k.withReadonlyRootfs(),
		k.withResources(),
		k.withCgroupsPath(),
		k.withOOMScoreAdj(),
		k.withPodNamespaces(),
		k.withSupplementalGroups(),
		k.withAnnotations(image),
		// platformSpecOpts, applied after the spec is built.
		k.withUser(image.Config),
		k.withAdditionalGIDs(image.Config),
		k.withSupplementalGroups(),
		k.withAppArmor(),
		k.withSeccomp(image.Architecture),
	}
}

// kubeWithoutRunMount is oci.WithoutRunMount: CRI drops the /run tmpfs.
func kubeWithoutRunMount(_ *Container, s *specs.Spec) error {
	s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/run" })
	return nil
}

// kubeWithoutDefaultSecuritySettings is CRI's
// WithoutDefaultSecuritySettings: no AppArmor profile, no seccomp, no
// rlimits (containerd/cri#515).
func kubeWithoutDefaultSecuritySettings(_ *Container, s *specs.Spec) error {
	setProcess(s)
	s.Process.ApparmorProfile = ""
	s.Process.Rlimits = nil
	if s.Linux != nil {
		s.Linux.Seccomp = nil
	}
	return nil
}

// withProcessArgs is CRI's WithProcessArgs: the kubelet's command and args
// (core/v1 semantics: command replaces the entrypoint, args the cmd; with
// a command but no args the image's cmd is not used).
func (k *kubeContainer) withProcessArgs(img ocispec.ImageConfig) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		command, args := slices.Clone(k.c.Command), slices.Clone(k.c.Args)
		if len(command) == 0 {
			if len(args) == 0 {
				args = slices.Clone(img.Cmd)
			}
			if k.c.Command == nil && (len(img.Entrypoint) != 1 || img.Entrypoint[0] != "") {
				command = slices.Clone(img.Entrypoint)
			}
		}
		if len(command) == 0 && len(args) == 0 {
			return fmt.Errorf("%w: %s: no command (neither the container nor the image has one)", ErrInvalidOption, k.field)
		}
		setProcess(s)
		s.Process.Args = append(command, args...)
		return nil
	}
}

func (k *kubeContainer) withCwd(img ocispec.ImageConfig) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		switch {
		case k.c.WorkingDir != "":
			s.Process.Cwd = k.c.WorkingDir
		case img.WorkingDir != "":
			s.Process.Cwd = img.WorkingDir
		}
		return nil
	}
}

func (k *kubeContainer) withTTY() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		if k.c.TTY {
			s.Process.Terminal = true
		}
		return nil
	}
}

// hostname is the pod's hostname as the kubelet sends it in the sandbox
// config: the node's for hostNetwork pods, else the pod name (the refval-v2
// hostname rule normalises it).
func (k *kubeContainer) hostname() string {
	if k.pod.Spec.HostNetwork {
		return k.np.NodeHostname
	}
	return podHostnameOf(k.pod.Name)
}

// podHostnameOf is the kubelet's truncatePodHostnameIfNeeded.
func podHostnameOf(name string) string {
	if len(name) <= 63 {
		return name
	}
	return strings.TrimRight(name[:63], "-.")
}

// env is the kubelet's environment for the container: the literal env
// values in order, then, in a cluster, the "kubernetes" Service's variables
// (envvars.FromServices; enableServiceLinks: false is required, see
// checkPodModelled).
func (k *kubeContainer) env() []string {
	var env []string
	for _, e := range k.c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	if svc := k.np.KubernetesService; svc != nil {
		port := strconv.Itoa(svc.Port)
		url := "tcp://" + svc.Host + ":" + port
		env = append(env,
			"KUBERNETES_SERVICE_HOST="+svc.Host,
			"KUBERNETES_SERVICE_PORT="+port,
			"KUBERNETES_SERVICE_PORT_HTTPS="+port,
			"KUBERNETES_PORT="+url,
			"KUBERNETES_PORT_"+port+"_TCP="+url,
			"KUBERNETES_PORT_"+port+"_TCP_PROTO=tcp",
			"KUBERNETES_PORT_"+port+"_TCP_PORT="+port,
			"KUBERNETES_PORT_"+port+"_TCP_ADDR="+svc.Host)
	}
	return env
}

func (k *kubeContainer) privileged() bool {
	sc := k.c.SecurityContext
	return sc != nil && sc.Privileged != nil && *sc.Privileged
}

// withCgroupNamespace: on cgroup v2, unprivileged containers get a cgroup
// namespace.
func (k *kubeContainer) withCgroupNamespace() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		if k.np.CgroupV2 && !k.privileged() {
			setNamespace(s, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		}
		return nil
	}
}

// setNamespace is oci.WithLinuxNamespace: replace the entry of that type,
// or append one.
func setNamespace(s *specs.Spec, ns specs.LinuxNamespace) {
	setLinux(s)
	for i, n := range s.Linux.Namespaces {
		if n.Type == ns.Type {
			s.Linux.Namespaces[i] = ns
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, ns)
}

// kubeMount is one CRI mount (runtime.Mount) the kubelet or containerd asks for.
type kubeMount struct {
	host, ctr string
	readonly  bool
}

func (k *kubeContainer) podDir() string {
	return path.Join(k.np.KubeletRootDir, "pods", KubePodUID)
}

// criMounts are the kubelet's mounts for the container (makeMounts: the
// volume mounts in order, then /etc/hosts, then the termination log).
func (k *kubeContainer) criMounts() ([]kubeMount, error) {
	var out []kubeMount
	etcHosts := true
	for i, m := range k.c.VolumeMounts {
		var vol *Volume
		for j := range k.pod.Spec.Volumes {
			if k.pod.Spec.Volumes[j].Name == m.Name {
				vol = &k.pod.Spec.Volumes[j]
			}
		}
		if vol == nil {
			return nil, fmt.Errorf("%w: %s.volumeMounts[%d]: no volume %q", ErrInvalidOption, k.field, i, m.Name)
		}
		ro := m.ReadOnly
		var host string
		switch {
		case vol.EmptyDir != nil:
			host = path.Join(k.podDir(), "volumes", "kubernetes.io~empty-dir", vol.Name)
		case vol.HostPath != nil:
			host = vol.HostPath.Path
		case vol.ConfigMap != nil:
			host, ro = path.Join(k.podDir(), "volumes", "kubernetes.io~configmap", vol.Name), true
		case vol.Secret != nil:
			host, ro = path.Join(k.podDir(), "volumes", "kubernetes.io~secret", vol.Name), true
		case vol.Projected != nil:
			host, ro = path.Join(k.podDir(), "volumes", "kubernetes.io~projected", vol.Name), true
		case vol.DownwardAPI != nil:
			host, ro = path.Join(k.podDir(), "volumes", "kubernetes.io~downward-api", vol.Name), true
		}
		if path.Clean(m.MountPath) == "/etc/hosts" {
			etcHosts = false
		}
		out = append(out, kubeMount{host: host, ctr: m.MountPath, readonly: ro})
	}
	if etcHosts {
		out = append(out, kubeMount{host: path.Join(k.podDir(), "etc-hosts"), ctr: "/etc/hosts"})
	}
	tmp := k.c.TerminationMessagePath
	if tmp == "" {
		tmp = "/dev/termination-log"
	}
	out = append(out, kubeMount{host: path.Join(k.podDir(), "containers", k.c.Name, kubeTermLeaf), ctr: tmp})
	return out, nil
}

// withMounts is CRI's withMounts: the kubelet's mounts, then containerd's
// sandbox files (linuxContainerMounts: hostname, resolv.conf, shm) unless the kubelet mounts the
// same destination; stable-sorted by the number of '/' in the destination;
// the cgroup mount; the default mounts a given one does not replace (none
// under /dev when /dev is given); then the given ones as rbind mounts.
func (k *kubeContainer) withMounts() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		mounts, err := k.criMounts()
		if err != nil {
			return err
		}
		cri := "io.containerd.grpc.v1.cri/sandboxes/" + KubeSandboxID
		// linuxContainerMounts: read-only with a read-only rootfs; a
		// hostIPC pod gets the host's /dev/shm.
		ro := false
		if sc := k.c.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil {
			ro = *sc.ReadOnlyRootFilesystem
		}
		shm := path.Join(k.np.ContainerdState, cri, "shm")
		if k.pod.Spec.HostIPC {
			shm = "/dev/shm"
		}
		extra := []kubeMount{
			{host: path.Join(k.np.ContainerdRoot, cri, "hostname"), ctr: "/etc/hostname", readonly: ro},
			{host: path.Join(k.np.ContainerdRoot, cri, "resolv.conf"), ctr: "/etc/resolv.conf", readonly: ro},
			{host: shm, ctr: "/dev/shm"},
		}
		for _, e := range extra {
			if !slices.ContainsFunc(mounts, func(m kubeMount) bool { return path.Clean(m.ctr) == path.Clean(e.ctr) }) {
				mounts = append(mounts, e)
			}
		}
		slices.SortStableFunc(mounts, func(a, b kubeMount) int {
			return strings.Count(path.Clean(a.ctr), "/") - strings.Count(path.Clean(b.ctr), "/")
		})
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
			Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}})
		given := map[string]bool{}
		for _, m := range mounts {
			given[path.Clean(m.ctr)] = true
		}
		defaults := s.Mounts
		s.Mounts = nil
		for _, m := range defaults {
			dst := path.Clean(m.Destination)
			if given[dst] || (given["/dev"] && strings.HasPrefix(dst, "/dev/")) {
				continue
			}
			s.Mounts = append(s.Mounts, m)
		}
		for _, m := range mounts {
			opt := "rw"
			if m.readonly {
				opt = "ro"
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.ctr, Type: "bind", Source: m.host,
				Options: []string{"rbind", "rprivate", opt}})
		}
		return nil
	}
}

// withMaskedPaths: CRI clears containerd's defaults and applies the
// kubelet's (securitycontext.ConvertToRuntimeMaskedPaths and
// ...ReadonlyPaths: its own list, in its own order, plus the node's
// thermal_throttle paths; none for procMount Unmasked).
func (k *kubeContainer) withMaskedPaths() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setLinux(s)
		if sc := k.c.SecurityContext; sc != nil && sc.ProcMount == "Unmasked" {
			s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = []string{}, []string{}
			return nil
		}
		s.Linux.MaskedPaths = append([]string{"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
			"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
			"/sys/firmware", "/sys/devices/virtual/powercap"}, k.np.ExtraMaskedPaths...)
		s.Linux.ReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
		return nil
	}
}

// withCapabilities is CRI's WithCapabilities on containerd's default set:
// "ALL" in add or drop first, then each added and dropped one with "CAP_".
func (k *kubeContainer) withCapabilities() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		sc := k.c.SecurityContext
		if sc == nil || sc.Capabilities == nil {
			return nil
		}
		var opts []SpecOpts
		caps := sc.Capabilities
		if slices.Contains(caps.Add, "ALL") {
			return fmt.Errorf("%w: %s.securityContext.capabilities.add ALL grants containerd's full capability list of the node", ErrHostDependent, k.field)
		}
		if slices.Contains(caps.Drop, "ALL") {
			opts = append(opts, WithCapabilities(nil))
		}
		var add, drop []string
		for _, x := range caps.Add {
			add = append(add, "CAP_"+strings.ToUpper(x))
		}
		for _, x := range caps.Drop {
			if strings.ToUpper(x) != "ALL" {
				drop = append(drop, "CAP_"+strings.ToUpper(x))
			}
		}
		opts = append(opts, WithAddedCapabilities(add), WithDroppedCapabilities(drop))
		return ApplyOpts(c, s, opts...)
	}
}

func kubeWithoutAmbientCaps(_ *Container, s *specs.Spec) error {
	setCapabilities(s)
	s.Process.Capabilities.Ambient = nil
	return nil
}

// withNoNewPrivs: the kubelet asks for no_new_privs only when
// allowPrivilegeEscalation is false (securitycontext.AddNoNewPrivileges).
func (k *kubeContainer) withNoNewPrivs() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		if sc := k.c.SecurityContext; sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			s.Process.NoNewPrivileges = true
		}
		return nil
	}
}

func (k *kubeContainer) withReadonlyRootfs() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		if sc := k.c.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
			if s.Root == nil {
				s.Root = &specs.Root{}
			}
			s.Root.Readonly = true
		}
		return nil
	}
}

// kubeResources are the kubelet's LinuxContainerResources
// (calculateLinuxResources, cpuCFSQuota on, period 100ms).
type kubeResources struct {
	shares, quota, period, memLimit int64
}

func (k *kubeContainer) resources() (kubeResources, error) {
	var r kubeResources
	req, hasReq := k.c.Resources.Requests["cpu"]
	lim, hasLim := k.c.Resources.Limits["cpu"]
	var reqMilli, limMilli int64
	var err error
	if hasReq {
		if reqMilli, err = quantityMilli(string(req)); err != nil {
			return r, fmt.Errorf("%w: %s.resources.requests.cpu: %v", ErrInvalidOption, k.field, err)
		}
	}
	if hasLim {
		if limMilli, err = quantityMilli(string(lim)); err != nil {
			return r, fmt.Errorf("%w: %s.resources.limits.cpu: %v", ErrInvalidOption, k.field, err)
		}
	}
	if !hasReq && hasLim {
		r.shares = milliCPUToShares(limMilli)
	} else {
		r.shares = milliCPUToShares(reqMilli)
	}
	r.period = 100000
	r.quota = milliCPUToQuota(limMilli, r.period)
	if v, ok := k.c.Resources.Limits["memory"]; ok {
		if r.memLimit, err = quantityValue(string(v)); err != nil {
			return r, fmt.Errorf("%w: %s.resources.limits.memory: %v", ErrInvalidOption, k.field, err)
		}
	}
	return r, nil
}

// milliCPUToShares is the kubelet's cm.MilliCPUToShares.
func milliCPUToShares(milli int64) int64 {
	if milli == 0 {
		return 2
	}
	return max(milli*1024/1000, 2)
}

// milliCPUToQuota is the kubelet's cm.MilliCPUToQuota.
func milliCPUToQuota(milli, period int64) int64 {
	if milli == 0 {
		return 0
	}
	return max(milli*period/1000, 1000)
}

// withResources is CRI's WithResources with the kubelet's values.
func (k *kubeContainer) withResources() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		r, err := k.resources()
		if err != nil {
			return err
		}
		setResources(s)
		res := s.Linux.Resources
		if res.CPU == nil {
			res.CPU = &specs.LinuxCPU{}
		}
		if res.Memory == nil {
			res.Memory = &specs.LinuxMemory{}
		}
		if r.period != 0 {
			p := uint64(r.period)
			res.CPU.Period = &p
		}
		if r.quota != 0 {
			q := r.quota
			res.CPU.Quota = &q
		}
		if r.shares != 0 {
			sh := uint64(r.shares)
			res.CPU.Shares = &sh
		}
		if r.memLimit != 0 {
			l := r.memLimit
			res.Memory.Limit = &l
			if k.np.SwapAccounting {
				sw := l
				res.Memory.Swap = &sw
			}
		}
		return nil
	}
}

// withCgroupsPath: the pod's cgroup under the kubelet's QoS hierarchy
// (cgroupsPerQOS), then the container ID (containerd's getCgroupsPath).
func (k *kubeContainer) withCgroupsPath() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setLinux(s)
		qos := ""
		switch k.qos {
		case QOSBurstable:
			qos = "burstable"
		case QOSBestEffort:
			qos = "besteffort"
		}
		if k.np.CgroupDriver == "systemd" {
			slice := "kubepods"
			if qos != "" {
				slice += "-" + qos
			}
			slice += "-pod" + strings.ReplaceAll(KubePodUID, "-", "_") + ".slice"
			s.Linux.CgroupsPath = slice + ":cri-containerd:" + k.ctr.ID
			return nil
		}
		s.Linux.CgroupsPath = path.Join(k.np.CgroupRoot, "kubepods", qos, "pod"+KubePodUID, k.ctr.ID)
		return nil
	}
}

// withOOMScoreAdj is the kubelet's qos.GetContainerOOMScoreAdjust, clamped
// by containerd when restrict_oom_score_adj is set.
func (k *kubeContainer) withOOMScoreAdj() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		var adj int
		switch k.qos {
		case QOSGuaranteed:
			adj = -997
		case QOSBestEffort:
			adj = 1000
		default:
			if k.np.MemoryCapacityBytes <= 0 {
				return fmt.Errorf("%w: a Burstable container's oomScoreAdj depends on the node's memory; give memoryCapacityBytes in the node profile", ErrHostDependent)
			}
			if k.c.RestartPolicy == "Always" {
				return fmt.Errorf("%w: %s: the oomScoreAdj of a Burstable sidecar is not modelled", ErrUnsupported, k.field)
			}
			var req int64
			if v, ok := k.c.Resources.Requests["memory"]; ok {
				var err error
				if req, err = quantityValue(string(v)); err != nil {
					return fmt.Errorf("%w: %s.resources.requests.memory: %v", ErrInvalidOption, k.field, err)
				}
			} else if v, ok := k.c.Resources.Limits["memory"]; ok {
				req, _ = quantityValue(string(v)) // requests default to limits
			}
			a := 1000 - (1000*req)/k.np.MemoryCapacityBytes
			switch {
			case a < 1000-997:
				a = 3
			case a == 1000:
				a = 999
			}
			adj = int(a)
		}
		if k.np.RestrictOOMScoreAdj && adj < k.np.ContainerdOOMScoreAdj {
			adj = k.np.ContainerdOOMScoreAdj
		}
		setProcess(s)
		s.Process.OOMScoreAdj = &adj
		return nil
	}
}

// withPodNamespaces is CRI's WithPodNamespaces: network, IPC and UTS are
// the sandbox's (joined by path, also for hostNetwork/hostIPC pods, whose
// sandbox is in the host's namespaces); PID too unless the kubelet asks
// for a container PID namespace (no hostPID, no shareProcessNamespace).
func (k *kubeContainer) withPodNamespaces() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		pid := strconv.Itoa(kubeSandboxPid)
		setNamespace(s, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/" + pid + "/ns/net"})
		setNamespace(s, specs.LinuxNamespace{Type: specs.IPCNamespace, Path: "/proc/" + pid + "/ns/ipc"})
		setNamespace(s, specs.LinuxNamespace{Type: specs.UTSNamespace, Path: "/proc/" + pid + "/ns/uts"})
		if k.pod.Spec.HostPID {
			setNamespace(s, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: "/proc/" + pid + "/ns/pid"})
		}
		return nil
	}
}

// supplementalGroups are the kubelet's: fsGroup, then supplementalGroups.
func (k *kubeContainer) supplementalGroups() []uint32 {
	var g []uint32
	if psc := k.pod.Spec.SecurityContext; psc != nil {
		if psc.FSGroup != nil {
			g = append(g, uint32(*psc.FSGroup))
		}
		for _, x := range psc.SupplementalGroups {
			g = append(g, uint32(x))
		}
	}
	return g
}

// withSupplementalGroups is CRI's WithSupplementalGroups: the union with
// the present additionalGids, sorted (mergeGids).
func (k *kubeContainer) withSupplementalGroups() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setProcess(s)
		s.Process.User.AdditionalGids = mergeGids(s.Process.User.AdditionalGids, k.supplementalGroups())
		return nil
	}
}

func mergeGids(a, b []uint32) []uint32 {
	set := map[uint32]bool{}
	for _, g := range a {
		set[g] = true
	}
	for _, g := range b {
		set[g] = true
	}
	if len(set) == 0 {
		return nil
	}
	out := make([]uint32, 0, len(set))
	for g := range set {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// withAnnotations are containerd's DefaultCRIAnnotations for a container.
func (k *kubeContainer) withAnnotations(image ocispec.Image) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		s.Annotations = map[string]string{
			"io.kubernetes.cri.container-type":    "container",
			"io.kubernetes.cri.container-name":    k.c.Name,
			"io.kubernetes.cri.image-name":        k.c.Image,
			"io.kubernetes.cri.sandbox-id":        KubeSandboxID,
			"io.kubernetes.cri.sandbox-name":      k.pod.Name,
			"io.kubernetes.cri.sandbox-namespace": k.pod.Namespace,
			"io.kubernetes.cri.sandbox-uid":       KubePodUID,
		}
		return nil
	}
}

// effectiveUser is the user the kubelet asks for (container, then pod
// securityContext; else the image's user, which the kubelet passes on as
// a uid when numeric) as CRI's user string.
func (k *kubeContainer) effectiveUser(img ocispec.ImageConfig) (userstr string, gid *int64) {
	var uid *int64
	if psc := k.pod.Spec.SecurityContext; psc != nil {
		uid, gid = psc.RunAsUser, psc.RunAsGroup
	}
	if sc := k.c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
	}
	if uid != nil {
		return strconv.FormatInt(*uid, 10), gid
	}
	u, _, _ := strings.Cut(img.User, ":")
	return u, gid
}

// withUser is CRI's platform option oci.WithUser(GenerateUserString(...)),
// or the image's user when the kubelet sends none.
func (k *kubeContainer) withUser(img ocispec.ImageConfig) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		u, gid := k.effectiveUser(img)
		userstr := u
		if gid != nil {
			if u == "" {
				return fmt.Errorf("%w: %s: runAsGroup without a user", ErrInvalidOption, k.field)
			}
			userstr += ":" + strconv.FormatInt(*gid, 10)
		}
		if userstr == "" {
			userstr = img.User
		}
		if userstr == "" {
			return nil
		}
		return WithUser(userstr)(c, s)
	}
}

// withAdditionalGIDs is CRI's WithAdditionalGIDs(userstr) (policy Merge):
// the groups /etc/group gives the user, merged with those present.
func (k *kubeContainer) withAdditionalGIDs(img ocispec.ImageConfig) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		userstr, _ := k.effectiveUser(img)
		if userstr == "" {
			userstr = "0"
		}
		before := slices.Clone(s.Process.User.AdditionalGids)
		if err := WithAdditionalGIDs(userstr)(c, s); err != nil {
			return err
		}
		s.Process.User.AdditionalGids = mergeGids(s.Process.User.AdditionalGids, before)
		return nil
	}
}

// withAppArmor: with AppArmor on the node, containerd gives unprivileged
// containers its default profile when the kubelet asks for none.
func (k *kubeContainer) withAppArmor() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		if k.np.AppArmor {
			s.Process.ApparmorProfile = "cri-containerd.apparmor.d"
		}
		return nil
	}
}

// podQOS is core/v1 GetPodQOS over the init and app containers (cpu and
// memory only).
func podQOS(pod *KubePod) (KubeQOS, error) {
	all := append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...)
	any, guaranteed := false, true
	for _, c := range all {
		req, lim := map[string]int64{}, map[string]int64{}
		for _, kv := range []struct {
			m   map[string]Quantity
			out map[string]int64
		}{{c.Resources.Requests, req}, {c.Resources.Limits, lim}} {
			for res, v := range kv.m {
				n, err := quantityMilli(string(v))
				if err != nil {
					return "", fmt.Errorf("%w: container %s: resources %s: %v", ErrInvalidOption, c.Name, res, err)
				}
				if n != 0 {
					kv.out[res] = n
					any = true
				}
			}
		}
		for res, l := range lim {
			if _, ok := req[res]; !ok {
				req[res] = l // requests default to limits
			}
		}
		for _, res := range []string{"cpu", "memory"} {
			l, ok := lim[res]
			if !ok || req[res] != l {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return QOSBestEffort, nil
	case guaranteed:
		return QOSGuaranteed, nil
	}
	return QOSBurstable, nil
}
