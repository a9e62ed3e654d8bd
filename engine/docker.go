package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// This file predicts the config.json that dockerd 20.10.24 (Debian's
// docker.io) writes for `docker run [OPTIONS] IMAGE [COMMAND] [ARG…]`,
// reimplemented from reading moby v20.10.24: oci/defaults.go (the default
// spec), daemon/oci_linux.go (createSpec and its spec options, applied in
// its order), daemon/commit.go (merging the image config), container/env.go
// and container/container_unix.go (environment, network and tmpfs mounts),
// oci/caps and profiles/seccomp. Each step is one function below.

// Docker is what dockerd writes into the bundle for `docker run`.
const Docker Kind = "docker"

// DockerVersion is the dockerd release whose behaviour is reproduced.
const DockerVersion = "20.10.24"

// DockerDefaultContainerID is the container ID docker predictions use: 64
// hex digits, the form of Docker's own IDs, which refval-v2's Docker rules
// require (a prediction measured for it equals a real container's).
const DockerDefaultContainerID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// isDockerID: 64 lowercase hex digits.
func isDockerID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// dockerOCIVersion is specs.Version of the runtime-spec module moby
// v20.10.24 vendors.
const dockerOCIVersion = "1.0.2-dev"

// dockerProfile returns the Docker profile; version "" or 20.10[.24].
func dockerProfile(version string) (Profile, error) {
	switch strings.TrimPrefix(version, "v") {
	case "", "20.10", "20.10.24":
		return Profile{Kind: Docker, Version: DockerVersion}, nil
	}
	return Profile{}, fmt.Errorf("%w: docker %s (known: 20.10.24, Debian's docker.io)", ErrUnknownEngine, version)
}

// DockerDaemon is what the config depends on besides the run options: the
// daemon's configuration and the kernel of the device. Capture it on the
// device (docs/engines.md) and keep it with the host profile.
type DockerDaemon struct {
	// DataRoot is dockerd's --data-root (default /var/lib/docker): the
	// sources of /etc/hostname, /etc/hosts and /etc/resolv.conf are
	// <DataRoot>/containers/<id>/….
	DataRoot string `json:"dataRoot,omitempty"`
	// ExecRoot is dockerd's --exec-root (default /var/run/docker), an
	// argument of the libnetwork-setkey hook.
	ExecRoot string `json:"execRoot,omitempty"`
	// BridgeNone is --bridge=none: the default network is then disabled
	// (no network setup, no setkey hook).
	BridgeNone bool `json:"bridgeNone,omitempty"`
	// CgroupDriver is "cgroupfs" (default) or "systemd".
	CgroupDriver string `json:"cgroupDriver,omitempty"`
	// KernelVersion is the device's kernel release (uname -r): the default
	// seccomp profile has rules for kernels from a given version on, and
	// the default sysctls exist only on newer kernels.
	KernelVersion string `json:"kernelVersion,omitempty"`
	// AppArmor says whether the kernel has AppArmor enabled (dockerd then
	// sets the docker-default profile).
	AppArmor bool `json:"appArmor,omitempty"`
}

func (d *DockerDaemon) dataRoot() string {
	if d == nil || d.DataRoot == "" {
		return "/var/lib/docker"
	}
	return path.Clean(d.DataRoot)
}

func (d *DockerDaemon) execRoot() string {
	if d == nil || d.ExecRoot == "" {
		return "/var/run/docker"
	}
	return path.Clean(d.ExecRoot)
}

// DockerRun are the `docker run` options that change the config, under
// docker's names; ParseDockerRunArgs reads them from a docker command line.
type DockerRun struct {
	Env     []string `json:"env,omitempty"`     // -e KEY=VALUE
	EnvFile []byte   `json:"envFile,omitempty"` // --env-file content, applied before Env
	User    string   `json:"user,omitempty"`    // -u
	Workdir string   `json:"workdir,omitempty"` // -w
	Volumes []string `json:"volumes,omitempty"` // -v SRC:DST[:OPTS] (bind mounts)
	Mounts  []string `json:"mounts,omitempty"`  // --mount type=bind,… or type=tmpfs,…
	Tmpfs   []string `json:"tmpfs,omitempty"`   // --tmpfs DST[:OPTS]
	// Network is --network: "" or "default", "none", "host".
	Network     string   `json:"network,omitempty"`
	Hostname    string   `json:"hostname,omitempty"` // -h
	ReadOnly    bool     `json:"readOnly,omitempty"`
	Privileged  bool     `json:"privileged,omitempty"`
	CapAdd      []string `json:"capAdd,omitempty"`
	CapDrop     []string `json:"capDrop,omitempty"`
	SecurityOpt []string `json:"securityOpt,omitempty"` // no-new-privileges[:true|false], seccomp=unconfined
	// Entrypoint is --entrypoint; nil: the image's, "" clears it.
	Entrypoint *string  `json:"entrypoint,omitempty"`
	Args       []string `json:"args,omitempty"` // COMMAND ARG…
	TTY        bool     `json:"tty,omitempty"`  // -t
	// Resources: --memory and --memory-swap in bytes, --cpu-shares,
	// --cpus in units of 1e-9 CPUs, --pids-limit.
	Memory     int64  `json:"memory,omitempty"`
	MemorySwap int64  `json:"memorySwap,omitempty"`
	CPUShares  int64  `json:"cpuShares,omitempty"`
	NanoCPUs   int64  `json:"nanoCPUs,omitempty"`
	PidsLimit  *int64 `json:"pidsLimit,omitempty"`
}

// dockerSpec is the state a Docker spec option sees besides the spec: the
// container as dockerd has it after merging the image config.
type dockerSpec struct {
	c                           *Container
	arch                        string // the image's GOARCH, the device's
	run                         *DockerRun
	daemon                      *DockerDaemon
	image                       ocispec.ImageConfig
	hostname                    string
	env                         []string // Config.Env: user env, then the image's not overridden
	path                        string   // the process to run and its arguments
	args                        []string
	cwd                         string
	user                        string
	binds                       []dockerMount
	tmpfs                       []dockerMount
	noNewPrivileges, unconfined bool
}

// dockerMount is one entry of dockerd's container.Mount list.
type dockerMount struct {
	source, destination string
	writable            bool
	propagation         string
	data                string // tmpfs options
	tmpfs               bool
}

// predictDocker builds the config dockerd writes, in createSpec's order.
func predictDocker(image ocispec.Image, rootfs fs.FS, run *DockerRun, host *Host, id string) (*specs.Spec, error) {
	if run == nil {
		run = &DockerRun{}
	}
	if !isDockerID(id) {
		return nil, fmt.Errorf("%w: container ID %q: Docker's IDs are 64 lowercase hex digits, and refval-v2 normalises only those", ErrInvalidOption, id)
	}
	var daemon *DockerDaemon
	if host != nil {
		daemon = host.Docker
	}
	d := &dockerSpec{
		c:      &Container{ID: id, Rootfs: rootfs, Host: host, rules: knownRules[len(knownRules)-1]},
		run:    run,
		daemon: daemon,
		image:  image.Config,
		arch:   image.Architecture,
	}
	if d.arch == "" {
		d.arch = runtime.GOARCH
	}
	if err := d.merge(); err != nil {
		return nil, err
	}
	s := dockerDefaultSpec()
	for _, step := range []func(*specs.Spec) error{
		d.withCommonOptions, d.withCgroups, d.withResources, d.withDevices, d.withUser,
		d.withNamespaces, d.withCapabilities, d.withSeccomp, d.withMounts, d.withLibnetwork,
		d.withAppArmor, d.withOOMScore, d.withNoNewPrivileges,
	} {
		if err := step(&s); err != nil {
			return nil, fmt.Errorf("predict docker %s config: %w", DockerVersion, err)
		}
	}
	return &s, nil
}

// CheckDockerRun checks the docker run options of ro against host as far
// as no image is needed, so that a bad option fails before a pull. The
// ctr options of ro must be unset.
func CheckDockerRun(ro *RunOptions, host *Host) error {
	ctrOnly := *ro
	ctrOnly.Docker = nil
	if !ctrOnly.IsZero() {
		return fmt.Errorf("%w: the docker engine takes docker run options, not ctr's", ErrUnsupported)
	}
	run := ro.Docker
	if run == nil {
		run = &DockerRun{}
	}
	d := &dockerSpec{c: &Container{ID: DockerDefaultContainerID, Host: host}, run: run, image: ocispec.ImageConfig{Cmd: []string{"/"}}}
	if host != nil {
		d.daemon = host.Docker
	}
	return d.merge()
}

// networkMode is the container's network mode after the daemon's
// defaults: "default" becomes "bridge".
func (d *dockerSpec) networkMode() string {
	switch d.run.Network {
	case "", "default", "bridge":
		return "bridge"
	}
	return d.run.Network
}

// networkDisabled: with --bridge=none the daemon disables the default
// network of a container on it.
func (d *dockerSpec) networkDisabled() bool {
	return d.networkMode() == "bridge" && d.daemon != nil && d.daemon.BridgeNone
}

// merge fills in what dockerd keeps in container.Config after the CLI's
// parsing and daemon/commit.go's merge with the image config.
func (d *dockerSpec) merge() error {
	r := d.run
	switch r.Network {
	case "", "default", "bridge", "none", "host":
	default:
		return fmt.Errorf("%w: --network %q (predicted: default, none, host)", ErrUnsupported, r.Network)
	}
	if r.Network == "bridge" && d.daemon != nil && d.daemon.BridgeNone {
		return fmt.Errorf("%w: --network bridge: the daemon runs with --bridge=none", ErrInvalidOption)
	}
	// Environment: --env-file lines, then -e, then the image's variables
	// whose names the user did not set.
	userEnv, err := parseDockerEnvFile(r.EnvFile)
	if err != nil {
		return err
	}
	for _, e := range r.Env {
		if !strings.Contains(e, "=") {
			return fmt.Errorf("%w: -e %q: a variable without a value takes it from the environment docker is run in; give KEY=VALUE", ErrUnsupported, e)
		}
		userEnv = append(userEnv, e)
	}
	d.env = slices.Clone(userEnv)
	for _, ie := range d.image.Env {
		k, _, _ := strings.Cut(ie, "=")
		if !slices.ContainsFunc(userEnv, func(u string) bool { uk, _, _ := strings.Cut(u, "="); return uk == k }) {
			d.env = append(d.env, ie)
		}
	}
	// Entrypoint and command.
	entry, cmd := d.image.Entrypoint, r.Args
	if r.Entrypoint != nil {
		entry = nil
		if *r.Entrypoint != "" {
			entry = []string{*r.Entrypoint}
		}
	}
	if len(entry) == 0 && len(cmd) == 0 {
		cmd = d.image.Cmd
	}
	switch {
	case len(entry) > 0:
		d.path, d.args = entry[0], append(slices.Clone(entry[1:]), cmd...)
	case len(cmd) > 0:
		d.path, d.args = cmd[0], slices.Clone(cmd[1:])
	default:
		return fmt.Errorf("%w: no command specified (the image has no entrypoint or cmd)", ErrInvalidOption)
	}
	d.cwd = r.Workdir
	if d.cwd == "" {
		d.cwd = d.image.WorkingDir
	}
	if d.cwd != "" && !path.IsAbs(d.cwd) {
		return fmt.Errorf("%w: -w: the working directory '%s' is invalid, it needs to be an absolute path", ErrInvalidOption, d.cwd)
	}
	d.user = r.User
	if d.user == "" {
		d.user = d.image.User
	}
	// Hostname: the short ID, or the device's name on the host network.
	d.hostname = r.Hostname
	if d.hostname == "" {
		if d.networkMode() == "host" {
			if d.c.Host == nil || d.c.Host.Hostname == "" {
				return fmt.Errorf("%w: --network host: the hostname is the device's; give a host profile", ErrHostDependent)
			}
			d.hostname = d.c.Host.Hostname
		} else {
			d.hostname = d.c.ID
			if len(d.hostname) > 12 {
				d.hostname = d.hostname[:12]
			}
		}
	}
	if r.Privileged && d.c.Host == nil {
		return fmt.Errorf("%w: --privileged adds the device's /dev: give a host profile", ErrHostDependent)
	}
	for _, o := range r.SecurityOpt {
		switch o {
		case "no-new-privileges", "no-new-privileges:true", "no-new-privileges=true":
			d.noNewPrivileges = true
		case "no-new-privileges:false", "no-new-privileges=false":
			d.noNewPrivileges = false
		case "seccomp=unconfined", "seccomp:unconfined":
			d.unconfined = true
		default:
			return fmt.Errorf("%w: --security-opt %q (predicted: no-new-privileges, seccomp=unconfined)", ErrUnsupported, o)
		}
	}
	if r.Memory < 0 || r.MemorySwap < -1 || r.CPUShares < 0 || r.NanoCPUs < 0 {
		return fmt.Errorf("%w: negative resource value", ErrInvalidOption)
	}
	return d.parseMounts()
}

// parseDockerEnvFile reads an --env-file as the docker CLI does
// (opts.ParseEnvFile): one KEY=VALUE per line, blank lines and lines
// starting with # skipped, leading whitespace of the name trimmed.
func parseDockerEnvFile(b []byte) ([]string, error) {
	var out []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimLeft(strings.TrimSuffix(line, "\r"), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%w: --env-file line %d: %q has no value (docker takes it from its own environment); give KEY=VALUE", ErrUnsupported, i+1, line)
		}
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%w: --env-file line %d: variable %q contains whitespaces", ErrInvalidOption, i+1, k)
		}
		out = append(out, line)
	}
	return out, nil
}

// dockerDefaultSpec is moby v20.10.24's oci.DefaultLinuxSpec.
func dockerDefaultSpec() specs.Spec {
	caps := dockerDefaultCaps()
	dev := func(allow bool, major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}
	}
	return specs.Spec{
		Version: dockerOCIVersion,
		Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps, Permitted: caps, Effective: caps}},
		Root:    &specs.Root{},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777"}},
		},
		Linux: &specs.Linux{
			MaskedPaths: []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			Namespaces:    []specs.LinuxNamespace{{Type: "mount"}, {Type: "network"}, {Type: "uts"}, {Type: "pid"}, {Type: "ipc"}},
			Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
				{Allow: false, Access: "rwm"},
				dev(true, 1, 5), dev(true, 1, 3), dev(true, 1, 9), dev(true, 1, 8), dev(true, 5, 0), dev(true, 5, 1),
				dev(false, 10, 229),
			}},
			Sysctl: map[string]string{},
		},
	}
}

// dockerDefaultCaps is oci/caps.DefaultCapabilities.
func dockerDefaultCaps() []string {
	return []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
		"CAP_KILL", "CAP_AUDIT_WRITE"}
}

// dockerAllCaps is oci/caps.GetAllCapabilities: gocapability's list up to
// CAP_AUDIT_READ (37), which 20.10 caps it at, in capability-number order.
func dockerAllCaps() []string { return slices.Clone(capNames[:38]) }

// withCommonOptions: root, args, cwd, env, hostname and the default
// network sysctls (WithCommonOptions).
func (d *dockerSpec) withCommonOptions(s *specs.Spec) error {
	s.Root = &specs.Root{Path: "rootfs", Readonly: d.run.ReadOnly}
	s.Process.Args = append([]string{d.path}, d.args...)
	// SetupWorkingDirectory cleans Config.WorkingDir before it is used.
	s.Process.Cwd = "/"
	if d.cwd != "" {
		s.Process.Cwd = path.Clean(d.cwd)
	}
	// CreateDaemonEnvironment: PATH and HOSTNAME (and TERM with -t), then
	// Config.Env replacing or appending (container/env.go, the same
	// algorithm as containerd's copy of it).
	env := append(slices.Clone(defaultPathEnv), "HOSTNAME="+d.hostname)
	if d.run.TTY {
		env = append(env, "TERM=xterm")
	}
	s.Process.Env = replaceOrAppendEnv(env, d.env)
	s.Process.Terminal = d.run.TTY
	s.Hostname = d.hostname
	if d.networkMode() != "host" {
		// sysctlExists on the device: ping_group_range is in every kernel
		// dockerd 20.10 supports; ip_unprivileged_port_start since 4.11.
		s.Linux.Sysctl["net.ipv4.ping_group_range"] = "0 2147483647"
		ok, err := d.kernelAtLeast("4.11", "the default sysctl net.ipv4.ip_unprivileged_port_start")
		if err != nil {
			return err
		}
		if ok {
			s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] = "0"
		}
	}
	return nil
}

// withCgroups: /docker/<id> (cgroupfs) or system.slice:docker:<id>.
func (d *dockerSpec) withCgroups(s *specs.Spec) error {
	drv := ""
	if d.daemon != nil {
		drv = d.daemon.CgroupDriver
	}
	switch drv {
	case "", "cgroupfs":
		s.Linux.CgroupsPath = "/docker/" + d.c.ID
	case "systemd":
		s.Linux.CgroupsPath = "system.slice:docker:" + d.c.ID
	default:
		return fmt.Errorf("%w: cgroup driver %q", ErrInvalidOption, drv)
	}
	return nil
}

// withResources: memory, cpu, block I/O weight and pids (WithResources
// with adaptContainerSettings' defaults: swap twice the memory, shares
// clamped to 2…262144). The CLI always sends OomKillDisable=false.
func (d *dockerSpec) withResources(s *specs.Spec) error {
	r := d.run
	mem := &specs.LinuxMemory{DisableOOMKiller: new(bool)}
	if r.Memory > 0 {
		limit, swap := r.Memory, r.MemorySwap
		if swap == 0 {
			swap = 2 * limit
		}
		mem.Limit = &limit
		if swap > 0 {
			mem.Swap = &swap
		}
	}
	shares := uint64(r.CPUShares)
	if shares > 0 && shares < 2 {
		shares = 2
	} else if shares > 262144 {
		shares = 262144
	}
	cpu := &specs.LinuxCPU{Shares: &shares}
	if r.NanoCPUs > 0 {
		period := uint64(100000)
		quota := r.NanoCPUs * int64(period) / 1e9
		cpu.Period, cpu.Quota = &period, &quota
	}
	weight := uint16(0)
	res := &specs.LinuxResources{Memory: mem, CPU: cpu, BlockIO: &specs.LinuxBlockIO{Weight: &weight}}
	if r.PidsLimit != nil {
		l := *r.PidsLimit
		if l <= 0 {
			l = -1
		}
		res.Pids = &specs.LinuxPids{Limit: &l}
	}
	res.Devices = s.Linux.Resources.Devices
	s.Linux.Resources = res
	return nil
}

// withDevices: --privileged gives every device of the host and allows
// all in the device cgroup.
func (d *dockerSpec) withDevices(s *specs.Spec) error {
	if d.run.Privileged {
		s.Linux.Devices = append(s.Linux.Devices, d.c.Host.Devices...)
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	return nil
}

// withUser resolves the user as runc's (moby/sys/user) GetExecUserPath
// does in the image's /etc/passwd and /etc/group; additionalGids is the
// primary gid followed by the supplementary ones.
func (d *dockerSpec) withUser(s *specs.Spec) error {
	open := func(name string) (io.Reader, error) {
		r, err := d.c.openUserFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return r, err
	}
	passwd, err := open("etc/passwd")
	if err != nil {
		return err
	}
	group, err := open("etc/group")
	if err != nil {
		return err
	}
	eu, err := user.GetExecUser(d.user, nil, passwd, group)
	if err != nil {
		return fmt.Errorf("%w: user %q: %v", ErrUserNotFound, d.user, err)
	}
	s.Process.User = specs.User{UID: uint32(eu.Uid), GID: uint32(eu.Gid), AdditionalGids: []uint32{uint32(eu.Gid)}}
	for _, g := range eu.Sgids {
		s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
	}
	return nil
}

// withNamespaces: the host network joins dockerd's default sandbox
// (<exec-root>/netns/default); everything else keeps the default
// namespaces.
func (d *dockerSpec) withNamespaces(s *specs.Spec) error {
	if d.networkDisabled() {
		return nil
	}
	if d.networkMode() == "host" {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == "network" {
				s.Linux.Namespaces[i].Path = d.daemon.execRoot() + "/netns/default"
			}
		}
	}
	return nil
}

// withCapabilities is TweakCapabilities then SetCapabilities: a non-root
// user gets only the bounding set.
func (d *dockerSpec) withCapabilities(s *specs.Spec) error {
	caps, err := tweakDockerCaps(d.run.CapAdd, d.run.CapDrop, d.run.Privileged)
	if err != nil {
		return err
	}
	if s.Process.User.UID == 0 {
		s.Process.Capabilities = &specs.LinuxCapabilities{Effective: caps, Bounding: caps, Permitted: caps}
	} else {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps}
	}
	return nil
}

// tweakDockerCaps is oci/caps.TweakCapabilities on the default set.
func tweakDockerCaps(adds, drops []string, privileged bool) ([]string, error) {
	if privileged {
		return dockerAllCaps(), nil
	}
	if len(adds) == 0 && len(drops) == 0 {
		return dockerDefaultCaps(), nil
	}
	norm := func(list []string, flag string) ([]string, error) {
		var out []string
		for _, c := range list {
			c = strings.ToUpper(c)
			if c != "ALL" {
				if !strings.HasPrefix(c, "CAP_") {
					c = "CAP_" + c
				}
				if !slices.Contains(dockerAllCaps(), c) {
					return nil, fmt.Errorf("%w: %s: unknown capability: %q", ErrInvalidOption, flag, c)
				}
			}
			out = append(out, c)
		}
		return out, nil
	}
	drop, err := norm(drops, "--cap-drop")
	if err != nil {
		return nil, err
	}
	add, err := norm(adds, "--cap-add")
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case slices.Contains(add, "ALL"):
		for _, c := range dockerAllCaps() {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drop, "ALL"):
		caps = add
	default:
		for _, c := range dockerDefaultCaps() {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
		caps = append(caps, add...)
	}
	return caps, nil
}

// withSeccomp: the default profile filtered for the container, none
// when privileged or unconfined.
func (d *dockerSpec) withSeccomp(s *specs.Spec) error {
	if d.unconfined || d.run.Privileged {
		return nil
	}
	sc, err := dockerDefaultSeccomp(d.arch, s.Process.Capabilities.Bounding, d.kernelAtLeast)
	if err != nil {
		return err
	}
	s.Linux.Seccomp = sc
	return nil
}

// withLibnetwork adds the libnetwork-setkey prestart hook for a network
// namespace of the container's own. The PID of dockerd and the network
// controller's ID are per daemon start: the prediction writes a PID of 1
// and a controller ID of zeros, which refval-v2's docker-setkey-hook
// rule replaces exactly as it replaces the real ones.
func (d *dockerSpec) withLibnetwork(s *specs.Spec) error {
	s.Hooks = &specs.Hooks{}
	if d.networkDisabled() {
		return nil
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == "network" && ns.Path == "" {
			s.Hooks.Prestart = append(s.Hooks.Prestart, specs.Hook{ //nolint:staticcheck // what dockerd writes
				Path: "/proc/1/exe",
				Args: []string{"libnetwork-setkey", "-exec-root=" + d.daemon.execRoot(), d.c.ID, "000000000000"},
			})
		}
	}
	return nil
}

// withAppArmor: docker-default, or unconfined for --privileged, when the
// kernel has AppArmor.
func (d *dockerSpec) withAppArmor(s *specs.Spec) error {
	if d.daemon == nil || !d.daemon.AppArmor {
		return nil
	}
	s.Process.ApparmorProfile = "docker-default"
	if d.run.Privileged {
		s.Process.ApparmorProfile = "unconfined"
	}
	return nil
}

// withOOMScore: HostConfig.OomScoreAdj, 0 unless --oom-score-adj.
func (d *dockerSpec) withOOMScore(s *specs.Spec) error {
	s.Process.OOMScoreAdj = new(int)
	return nil
}

func (d *dockerSpec) withNoNewPrivileges(s *specs.Spec) error {
	if d.noNewPrivileges {
		s.Process.NoNewPrivileges = true
	}
	return nil
}

// kernelAtLeast compares the device's kernel with want ("4.8"); what
// names the rule that needs it, for the error when it is unknown.
func (d *dockerSpec) kernelAtLeast(want, what string) (bool, error) {
	if d.daemon == nil || d.daemon.KernelVersion == "" {
		return false, fmt.Errorf("%w: %s depends on the kernel version: give the host profile's docker.kernelVersion", ErrHostDependent, what)
	}
	have, err := kernelMajorMinor(d.daemon.KernelVersion)
	if err != nil {
		return false, err
	}
	w, err := kernelMajorMinor(want)
	if err != nil {
		return false, err
	}
	return have[0] > w[0] || have[0] == w[0] && have[1] >= w[1], nil
}

func kernelMajorMinor(v string) ([2]int, error) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, fmt.Errorf("%w: kernel version %q (want MAJOR.MINOR…)", ErrInvalidOption, v)
	}
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i]
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return [2]int{}, fmt.Errorf("%w: kernel version %q (want MAJOR.MINOR…)", ErrInvalidOption, v)
	}
	return [2]int{ma, mi}, nil
}
