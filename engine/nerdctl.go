package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// This file predicts the config.json that nerdctl 2.2.1 writes for
// `nerdctl run [OPTIONS] IMAGE [COMMAND] [ARG…]` on Linux as root,
// reimplemented from reading nerdctl v2.2.1: pkg/cmd/container/create.go
// (Create: the spec options and their order), run_linux.go
// (setPlatformOptions), run_cgroup_linux.go, run_security_linux.go,
// run_user.go, run_mount.go and pkg/mountutil (volumes and tmpfs),
// pkg/containerutil (the none and host networks, the state directory),
// pkg/clientutil (the data store <data-root>/<address hash>) and
// cmd/nerdctl/helpers.GlobalFlags (the hooks' arguments). nerdctl builds
// its spec with the containerd *client library* it is built with
// (containerd v2.2.1, nerdctl's go.mod), not with the daemon's: the
// default spec, the spec options and the default seccomp profile are that
// release's (nerdctlClientRules, seccomp_default_2.2_amd64.json), whatever
// containerd daemon runs the container.

// Nerdctl is what nerdctl writes into the bundle for `nerdctl run`.
const Nerdctl Kind = "nerdctl"

// NerdctlVersion is the nerdctl release whose behaviour is reproduced.
const NerdctlVersion = "2.2.1"

// nerdctlClientRules are containerd v2.2.1's client-side rules: ociVersion
// 1.3.0 (runtime-spec v1.3.0 in nerdctl's go.mod), the masked paths of
// pkg/oci/spec.go at v2.2.1 (without the /proc/interrupts that 2.4 adds),
// and WithUser/WithAdditionalGIDs as in 2.0 (no size bound on the user
// files). Not in knownRules: ctr 2.2 is not a pinned ctr release.
var nerdctlClientRules = &rules{version: "2.2.1", ociVersion: "1.3.0", maskedPaths: masked17, userFlag: true, hostnameFlag: true,
	mountReplaces: true, idRangeCheck: true, inheritableCaps: true}

// nerdctlProfile returns the nerdctl profile; version "" or 2.2[.1].
func nerdctlProfile(version string) (Profile, error) {
	switch strings.TrimPrefix(version, "v") {
	case "", "2.2", "2.2.1":
		return Profile{Kind: Nerdctl, Version: NerdctlVersion, rules: nerdctlClientRules}, nil
	}
	return Profile{}, fmt.Errorf("%w: nerdctl %s (known: 2.2.1)", ErrUnknownEngine, version)
}

// NerdctlHost is what a nerdctl config depends on besides the run
// options: how nerdctl is invoked on the device and what it finds there.
// Capture it with `refval host-profile --nerdctl` (LocalNerdctl) and keep
// it with the host profile.
type NerdctlHost struct {
	// Path is nerdctl's executable as os.Executable reports it (absolute,
	// symlinks resolved): the path of the hooks nerdctl adds.
	Path string `json:"path"`
	// GlobalArgs are nerdctl's global options as they are typed before
	// the command ("--address", "/run/c.sock", "--namespace", "t", …).
	// nerdctl writes them into its hooks' arguments (helpers.GlobalFlags);
	// they also give the address, namespace and data root.
	GlobalArgs []string `json:"globalArgs,omitempty"`
	// Env is nerdctl's complete environment, in order. nerdctl copies it
	// into its hooks, which run as root on the host: it is measured, not
	// normalised. Run nerdctl with a fixed one, e.g. `env -i
	// PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	// HOME=/root nerdctl …` (NerdctlFixedEnv).
	Env []string `json:"env"`
	// ResolvedAddress is containerd's address with symlinks resolved on
	// the device (nerdctl hashes that path for its data store); empty
	// when the address has no symlinks.
	ResolvedAddress string `json:"resolvedAddress,omitempty"`
	// CgroupV2 says the device runs the unified cgroup hierarchy (the
	// cgroup namespace is then private by default).
	CgroupV2 bool `json:"cgroupV2,omitempty"`
	// SystemdCgroup says nerdctl's default cgroup manager is systemd
	// (cgroup v2 on a systemd-booted device); else cgroupfs.
	SystemdCgroup bool `json:"systemdCgroup,omitempty"`
	// AppArmor says nerdctl applies its nerdctl-default AppArmor profile.
	AppArmor bool `json:"appArmor,omitempty"`
}

// NerdctlRun are the `nerdctl run` options that change the config, under
// nerdctl's names; ParseNerdctlRunArgs reads them from a command line.
type NerdctlRun struct {
	Env     []string `json:"env,omitempty"`     // -e KEY=VALUE, or KEY (taken from nerdctl's environment)
	EnvFile []byte   `json:"envFile,omitempty"` // --env-file contents, concatenated, applied before Env
	User    string   `json:"user,omitempty"`    // -u
	Workdir string   `json:"workdir,omitempty"` // -w
	Volumes []string `json:"volumes,omitempty"` // -v SRC:DST[:OPTS] (bind mounts)
	Tmpfs   []string `json:"tmpfs,omitempty"`   // --tmpfs DST[:OPTS]
	Mounts  []string `json:"mounts,omitempty"`  // --mount type=bind|tmpfs,…
	// Network is --network: "none" or "host" (nerdctl's default, bridge,
	// needs CNI and is not predicted).
	Network string `json:"network,omitempty"`
	// Hostname is -h/--hostname; empty: the short ID, or the device's
	// hostname under --network host.
	Hostname    string   `json:"hostname,omitempty"`
	ReadOnly    bool     `json:"readOnly,omitempty"`
	Privileged  bool     `json:"privileged,omitempty"`
	CapAdd      []string `json:"capAdd,omitempty"`
	CapDrop     []string `json:"capDrop,omitempty"`
	SecurityOpt []string `json:"securityOpt,omitempty"` // seccomp=unconfined|builtin, apparmor=unconfined, no-new-privileges[=BOOL], systempaths=unconfined
	// Entrypoint is --entrypoint (repeatable in nerdctl), used when
	// EntrypointSet; then the image's entrypoint and cmd are both dropped.
	Entrypoint    []string `json:"entrypoint,omitempty"`
	EntrypointSet bool     `json:"entrypointSet,omitempty"`
	Args          []string `json:"args,omitempty"` // COMMAND ARG…
	TTY           bool     `json:"tty,omitempty"`  // -t
	Cgroupns      string   `json:"cgroupns,omitempty"`
	// Resources: --cpus, --cpu-shares, --memory (bytes), --pids-limit.
	CPUs      float64 `json:"cpus,omitempty"`
	CPUShares uint64  `json:"cpuShares,omitempty"`
	Memory    int64   `json:"memory,omitempty"`
	PidsLimit int64   `json:"pidsLimit,omitempty"`
}

// nerdctlSpec is the state the nerdctl spec options see besides the spec.
type nerdctlSpec struct {
	c        *Container
	arch     string
	run      *NerdctlRun
	host     *NerdctlHost
	g        nerdctlGlobals
	image    ocispec.ImageConfig
	hostname string
	env      []string // the user env as nerdctl resolves it, then HOSTNAME
	secOpts  map[string]string
	mounts   []specs.Mount // -v, --tmpfs, --mount in nerdctl's order
}

// CheckNerdctlRun checks the nerdctl run options of ro against host as
// far as no image is needed, so that a bad option fails before a pull.
func CheckNerdctlRun(ro *RunOptions, host *Host) error {
	_, err := newNerdctlSpec(ro, host, DockerDefaultContainerID)
	return err
}

func newNerdctlSpec(ro *RunOptions, host *Host, id string) (*nerdctlSpec, error) {
	other := *ro
	other.Nerdctl = nil
	if !other.IsZero() {
		return nil, fmt.Errorf("%w: the nerdctl engine takes nerdctl run options, not ctr's", ErrUnsupported)
	}
	if !isDockerID(id) {
		return nil, fmt.Errorf("%w: container ID %q: nerdctl's IDs are 64 lowercase hex digits, and refval-v2 normalises only those", ErrInvalidOption, id)
	}
	if host == nil || host.Nerdctl == nil {
		return nil, fmt.Errorf("%w: nerdctl's hooks carry its path, global options and environment: give a host profile with a nerdctl section (refval host-profile --nerdctl)", ErrHostDependent)
	}
	run := ro.Nerdctl
	if run == nil {
		run = &NerdctlRun{}
	}
	g, err := parseNerdctlGlobals(host.Nerdctl)
	if err != nil {
		return nil, err
	}
	n := &nerdctlSpec{c: &Container{ID: id, Namespace: g.namespace, Host: host, rules: nerdctlClientRules}, run: run, host: host.Nerdctl, g: g}
	return n, n.check()
}

// check validates the options as nerdctl does before building the spec,
// and refuses what the prediction does not reproduce.
func (n *nerdctlSpec) check() error {
	r := n.run
	switch r.Network {
	case "none", "host":
	case "", "bridge":
		return fmt.Errorf("%w: --network bridge (nerdctl's default) sets the container up through CNI; give --network none or --network host", ErrUnsupported)
	default:
		return fmt.Errorf("%w: --network %q (predicted: none, host)", ErrUnsupported, r.Network)
	}
	n.hostname = n.c.ID[:12]
	if r.Hostname != "" {
		n.hostname = r.Hostname
	} else if r.Network == "host" {
		if n.c.Host.Hostname == "" {
			return fmt.Errorf("%w: --network host: the hostname is the device's; the host profile has none", ErrHostDependent)
		}
		n.hostname = n.c.Host.Hostname
	}
	switch r.Cgroupns {
	case "", "host", "private":
	default:
		return fmt.Errorf("%w: --cgroupns %q (want host or private)", ErrInvalidOption, r.Cgroupns)
	}
	if r.Workdir != "" && !path.IsAbs(r.Workdir) {
		return fmt.Errorf("%w: -w %q: nerdctl passes a relative working directory to the runtime, which refuses it", ErrInvalidOption, r.Workdir)
	}
	env, err := n.userEnv()
	if err != nil {
		return err
	}
	n.env = append(env, "HOSTNAME="+n.hostname)
	if n.secOpts, err = n.securityOpts(); err != nil {
		return err
	}
	if r.Privileged && len(n.c.Host.Capabilities) == 0 {
		return fmt.Errorf("%w: --privileged grants nerdctl's capabilities on the device; the host profile has none", ErrHostDependent)
	}
	if slices.Contains(dedupe(r.CapAdd), "ALL") && len(n.c.Host.Capabilities) == 0 {
		return fmt.Errorf("%w: --cap-add ALL grants nerdctl's capabilities on the device; the host profile has none", ErrHostDependent)
	}
	for _, v := range []struct {
		flag     string
		negative bool
	}{{"--cpus", r.CPUs < 0}, {"--memory", r.Memory < 0}, {"--pids-limit", r.PidsLimit < 0}} {
		if v.negative {
			return fmt.Errorf("%w: %s: negative value", ErrInvalidOption, v.flag)
		}
	}
	n.mounts, err = n.parseMounts()
	return err
}

// userEnv is flagutil.MergeEnvFileAndOSEnv: the --env-file lines (trimmed,
// blank and # lines skipped), then -e, each list without repeats; a name
// without "=" takes its value from nerdctl's environment (Env of the
// profile) and stays a bare name, which unsets it, when not there.
func (n *nerdctlSpec) userEnv() ([]string, error) {
	var vars []string
	for _, line := range strings.Split(string(n.run.EnvFile), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		vars = append(vars, line)
	}
	vars = append(vars, dedupe(n.run.Env)...)
	out := make([]string, len(vars))
	for i, v := range vars {
		k, _, ok := strings.Cut(v, "=")
		if k == "" {
			return nil, fmt.Errorf("%w: -e %q: invalid environment variable", ErrInvalidOption, v)
		}
		out[i] = v
		if !ok {
			if val, found := lookupEnv(n.host.Env, k); found {
				out[i] = k + "=" + val
			}
		}
	}
	return out, nil
}

// lookupEnv is os.LookupEnv on env: the first entry of the name wins, as
// in Go's syscall.Getenv.
func lookupEnv(env []string, name string) (string, bool) {
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// dedupe is nerdctl's strutil.DedupeStrSlice: the first of each value, in order.
func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// securityOpts parses --security-opt as nerdctl does (KEY=VALUE, deduped)
// and refuses what is not predicted.
func (n *nerdctlSpec) securityOpts() (map[string]string, error) {
	m := map[string]string{}
	for _, o := range dedupe(n.run.SecurityOpt) {
		k, v, _ := strings.Cut(o, "=")
		m[k] = v
	}
	for k, v := range m {
		switch {
		// nerdctl 2.2.1 (run_security_linux.go) takes its default profile
		// for "builtin" (defaults.SeccompProfileName) and loads any
		// other value but "unconfined" as a profile file: "default" is
		// a file named default, not predicted.
		case k == "seccomp" && (v == "unconfined" || v == nerdctlSeccompBuiltin):
		case k == "apparmor" && v == "unconfined":
		case k == "no-new-privileges" && isBoolOpt(v):
		case k == "systempaths" && v == "unconfined":
		default:
			return nil, fmt.Errorf("%w: --security-opt %q (predicted: seccomp=unconfined|builtin, apparmor=unconfined, no-new-privileges[=true|false], systempaths=unconfined)", ErrUnsupported, k+"="+v)
		}
	}
	return m, nil
}

// nerdctlSeccompBuiltin is nerdctl's name of its default seccomp profile
// (pkg/defaults: SeccompProfileName on Linux).
const nerdctlSeccompBuiltin = "builtin"

// isBoolOpt: a value maputil.MapBoolValueAsOpt accepts ("" is true).
func isBoolOpt(v string) bool {
	_, err := strconv.ParseBool(v)
	return v == "" || err == nil
}

// optTrue is maputil.MapBoolValueAsOpt's value of a present key.
func optTrue(v string) bool {
	b, _ := strconv.ParseBool(v)
	return v == "" || b
}

// dataStore is clientutil.DataStore: <data-root>/<first 8 hex digits of
// sha256(address with symlinks resolved)>.
func (n *nerdctlSpec) dataStore() string {
	addr := strings.TrimPrefix(n.g.address, "unix://")
	if n.host.ResolvedAddress != "" {
		addr = n.host.ResolvedAddress
	}
	sum := sha256.Sum256([]byte(addr))
	return path.Join(n.g.dataRoot, hex.EncodeToString(sum[:])[:8])
}

// stateDir is containerutil.ContainerStateDirPath.
func (n *nerdctlSpec) stateDir() string {
	return path.Join(n.dataStore(), "containers", n.g.namespace, n.c.ID)
}

// predictNerdctl builds the config nerdctl writes, in Create's order.
func predictNerdctl(image ocispec.Image, rootfs fs.FS, ro *RunOptions, host *Host, id string) (*specs.Spec, error) {
	n, err := newNerdctlSpec(ro, host, id)
	if err != nil {
		return nil, err
	}
	n.c.Rootfs = rootfs
	n.image = image.Config
	n.arch = image.Architecture
	if n.arch == "" {
		n.arch = runtime.GOARCH
	}
	var s specs.Spec
	steps := []SpecOpts{
		WithDefaultSpec(),
		// setPlatformOptions
		WithDefaultUnixDevices(), withoutMount("/run"), n.withCgroupMount(), n.withCgroups(),
		n.withCapabilities(), n.withSecurity(), withRlimits(), n.withNamespaces(),
		// the image, the process, the mounts, the network
		n.withImage(), n.withMounts(), n.withNetwork(),
		WithEnv(n.env), n.withHooks(), n.withUser(), n.withUnprivilegedPortSysctl(),
	}
	if err := ApplyOpts(n.c, &s, steps...); err != nil {
		return nil, fmt.Errorf("predict nerdctl %s config: %w", NerdctlVersion, err)
	}
	return &s, nil
}

// withoutMount is containerd's WithoutMounts for one destination
// (nerdctl's WithoutRunMount drops the default /run tmpfs).
func withoutMount(dst string) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == dst })
		return nil
	}
}

// withCgroupMount: nerdctl adds a read-only cgroup mount at /sys/fs/cgroup.
func (n *nerdctlSpec) withCgroupMount() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		s.Mounts = append(s.Mounts, specs.Mount{Type: "cgroup", Source: "cgroup", Destination: "/sys/fs/cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}})
		return nil
	}
}

// withCgroups is generateCgroupOpts for the predicted options: the
// systemd cgroup path, the CPU and memory limits, the empty realtime and
// memory objects nerdctl always writes, and the cgroup namespace.
func (n *nerdctlSpec) withCgroups() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		r := n.run
		if n.g.systemd {
			s.Linux.CgroupsPath = "system.slice:nerdctl:" + n.c.ID
		}
		setResources(s)
		res := s.Linux.Resources
		cpu := func() *specs.LinuxCPU {
			if res.CPU == nil {
				res.CPU = &specs.LinuxCPU{}
			}
			return res.CPU
		}
		if r.CPUs > 0 {
			period, quota := uint64(100000), int64(r.CPUs*100000.0)
			cpu().Period, cpu().Quota = &period, &quota
		}
		if r.CPUShares != 0 {
			shares := r.CPUShares
			cpu().Shares = &shares
		}
		var zero int64
		var zeroU uint64
		cpu().RealtimeRuntime, cpu().RealtimePeriod = &zero, &zeroU
		if res.Memory == nil {
			res.Memory = &specs.LinuxMemory{}
		}
		if r.Memory > 0 {
			limit, swap := r.Memory, 2*r.Memory
			res.Memory.Limit, res.Memory.Swap = &limit, &swap
		}
		if r.PidsLimit > 0 {
			l := r.PidsLimit
			res.Pids = &specs.LinuxPids{Limit: &l}
		}
		mode := r.Cgroupns
		if mode == "" {
			mode = "host"
			if n.host.CgroupV2 {
				mode = "private"
			}
		}
		if mode == "host" {
			s.Linux.Namespaces = withoutNamespace(s.Linux.Namespaces, specs.CgroupNamespace)
		} else {
			s.Linux.Namespaces = withNamespace(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		}
		return nil
	}
}

// withoutNamespace is containerd's WithHostNamespace.
func withoutNamespace(list []specs.LinuxNamespace, t specs.LinuxNamespaceType) []specs.LinuxNamespace {
	for i, ns := range list {
		if ns.Type == t {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// withNamespace is containerd's WithLinuxNamespace: replace the namespace
// of that type in place, or append it.
func withNamespace(list []specs.LinuxNamespace, ns specs.LinuxNamespace) []specs.LinuxNamespace {
	for i := range list {
		if list[i].Type == ns.Type {
			list[i] = ns
			return list
		}
	}
	return append(list, ns)
}

// canonicalCap is nerdctl's canonicalizeCapName.
func canonicalCap(c string) string {
	if c == "" {
		return ""
	}
	c = strings.ToUpper(c)
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	return c
}

// withCapabilities is generateCapOpts.
func (n *nerdctlSpec) withCapabilities() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		add, drop := dedupe(n.run.CapAdd), dedupe(n.run.CapDrop)
		if len(add) == 0 && len(drop) == 0 {
			return nil
		}
		var opts []SpecOpts
		if slices.Contains(drop, "ALL") {
			opts = append(opts, WithCapabilities(nil))
		}
		if slices.Contains(add, "ALL") {
			opts = append(opts, WithCapabilities(c.Host.Capabilities))
		} else {
			var caps []string
			for _, a := range add {
				caps = append(caps, canonicalCap(a))
			}
			opts = append(opts, WithAddedCapabilities(caps))
		}
		if !slices.Contains(drop, "ALL") {
			var caps []string
			for _, d := range drop {
				caps = append(caps, canonicalCap(d))
			}
			opts = append(opts, WithDroppedCapabilities(caps))
		}
		return ApplyOpts(c, s, opts...)
	}
}

// withSecurity is generateSecurityOpts: the default seccomp profile for
// the bounding set as it is at this point (before --privileged widens
// it), AppArmor, new privileges, system paths and --privileged.
func (n *nerdctlSpec) withSecurity() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		m := n.secOpts
		if v, ok := m["seccomp"]; !ok || v == nerdctlSeccompBuiltin {
			if err := withDefaultSeccomp(nerdctlClientRules.version, n.arch)(c, s); err != nil {
				return err
			}
		}
		if _, ok := m["apparmor"]; !ok && n.host.AppArmor {
			s.Process.ApparmorProfile = "nerdctl-default"
		}
		if v, ok := m["no-new-privileges"]; !ok || !optTrue(v) {
			s.Process.NoNewPrivileges = false
		}
		if _, ok := m["systempaths"]; ok {
			s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		}
		if n.run.Privileged {
			return ApplyOpts(c, s, WithPrivileged(), WithAllDevicesAllowed(), WithHostDevices(), WithNewPrivileges())
		}
		return nil
	}
}

// withRlimits: without --ulimit nerdctl clears the default RLIMIT_NOFILE.
func withRlimits() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		s.Process.Rlimits = nil
		return nil
	}
}

// withNamespaces is generateNamespaceOpts for the defaults: the UTS, IPC
// and PID namespaces stay private (no --uts, --ipc, --pid).
func (n *nerdctlSpec) withNamespaces() SpecOpts {
	return func(_ *Container, _ *specs.Spec) error { return nil }
}

// withImage is generateRootfsOpts: the default PATH when the image sets
// none, the image config with the command (or --entrypoint and the
// command), and --read-only; then -w and -t.
func (n *nerdctlSpec) withImage() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		cfg := n.image
		if !slices.ContainsFunc(cfg.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
			s.Process.Env = replaceOrAppendEnv(s.Process.Env, defaultPathEnv)
		}
		var opts []SpecOpts
		if !n.run.EntrypointSet {
			if len(n.run.Args) > 0 {
				cfg.Cmd = n.run.Args
			}
			opts = append(opts, WithImageConfig(cfg))
		} else {
			args := append(slices.Clone(n.run.Entrypoint), n.run.Args...)
			if len(args) == 0 {
				return fmt.Errorf("%w: no command or entrypoint provided, and no CMD or ENTRYPOINT from image", ErrInvalidOption)
			}
			opts = append(opts, WithImageConfig(cfg), WithProcessArgs(args...))
		}
		if n.run.ReadOnly {
			opts = append(opts, WithRootFSReadonly())
		}
		if n.run.Workdir != "" {
			opts = append(opts, WithProcessCwd(n.run.Workdir))
		}
		if n.run.TTY {
			opts = append(opts, WithTTY())
		}
		if err := ApplyOpts(c, s, opts...); err != nil {
			return err
		}
		if len(s.Process.Args) == 0 {
			return fmt.Errorf("%w: no command specified (the image has no entrypoint or cmd)", ErrInvalidOption)
		}
		return nil
	}
}

// withMounts is nerdctl's withMounts (run_mount.go): the default mounts
// whose destination a user mount takes (and, under a user /dev, those
// below /dev) are dropped, the user mounts appended, and all sorted by
// the depth of their destination with sort.Slice, as nerdctl does (the
// same algorithm gives the same order).
func (n *nerdctlSpec) withMounts() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		set := map[string]bool{}
		for _, m := range n.mounts {
			set[path.Clean(m.Destination)] = true
		}
		defaults := s.Mounts
		s.Mounts = nil
		for _, m := range defaults {
			dst := path.Clean(m.Destination)
			if set[dst] || set["/dev"] && strings.HasPrefix(dst, "/dev/") {
				continue
			}
			s.Mounts = append(s.Mounts, m)
		}
		s.Mounts = append(s.Mounts, n.mounts...)
		sort.Slice(s.Mounts, func(i, j int) bool {
			return strings.Count(path.Clean(s.Mounts[i].Destination), "/") < strings.Count(path.Clean(s.Mounts[j].Destination), "/")
		})
		return nil
	}
}

// withNetwork is the none and host network managers'
// ContainerNetworkingOpts: the host network namespace for host, then
// /etc/resolv.conf, /etc/hosts (unless a user mount has them) and
// /etc/hostname bound from nerdctl's state, and the hostname.
func (n *nerdctlSpec) withNetwork() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		if n.run.Network == "host" {
			s.Linux.Namespaces = withoutNamespace(s.Linux.Namespaces, specs.NetworkNamespace)
		}
		bind := func(dst, src string) specs.Mount {
			return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"bind", "rprivate"}}
		}
		has := func(dst string) bool {
			return slices.ContainsFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == dst })
		}
		state := n.stateDir()
		if !has("/etc/resolv.conf") {
			s.Mounts = append(s.Mounts, bind("/etc/resolv.conf", path.Join(state, "resolv.conf")))
		}
		if !has("/etc/hosts") {
			s.Mounts = append(s.Mounts, bind("/etc/hosts", path.Join(n.dataStore(), "etchosts", n.g.namespace, n.c.ID, "hosts")))
		}
		s.Hostname = n.hostname
		s.Mounts = append(s.Mounts, bind("/etc/hostname", path.Join(state, "hostname")))
		return nil
	}
}

// withHooks is withNerdctlOCIHook: a createRuntime and a poststop hook
// running nerdctl itself with its global options as GlobalFlags writes
// them, and nerdctl's whole environment followed by
// PATH=<its PATH>:/usr/sbin:/sbin.
func (n *nerdctlSpec) withHooks() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		p, _ := lookupEnv(n.host.Env, "PATH")
		env := append(slices.Clone(n.host.Env), "PATH="+p+":/usr/sbin:/sbin")
		args := append(append([]string{n.host.Path}, n.g.hookArgs...), "internal", "oci-hook")
		if s.Hooks == nil {
			s.Hooks = &specs.Hooks{}
		}
		s.Hooks.CreateRuntime = append(s.Hooks.CreateRuntime, specs.Hook{Path: n.host.Path, Args: append(slices.Clone(args), "createRuntime"), Env: env})
		s.Hooks.Poststop = append(s.Hooks.Poststop, specs.Hook{Path: n.host.Path, Args: append(slices.Clone(args), "postStop"), Env: slices.Clone(env)})
		return nil
	}
}

// withUser is generateUserOpts: -u resolves the user in the image, then
// the additional GIDs are those of that user.
func (n *nerdctlSpec) withUser() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		if n.run.User == "" {
			return nil
		}
		if err := WithUser(n.run.User)(c, s); err != nil {
			return err
		}
		s.Process.User.AdditionalGids = nil
		return WithAdditionalGIDs(n.run.User)(c, s)
	}
}

// withUnprivilegedPortSysctl: off the host network nerdctl sets
// net.ipv4.ip_unprivileged_port_start to 0.
func (n *nerdctlSpec) withUnprivilegedPortSysctl() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		if n.run.Network == "host" {
			return nil
		}
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		if _, ok := s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"]; !ok {
			s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] = "0"
		}
		return nil
	}
}
