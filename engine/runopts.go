package engine

import (
	"encoding/csv"
	"fmt"
	"runtime"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RunOptions are the `ctr run` options that change the runtime config,
// under ctr's names. The zero value is `ctr run IMAGE ID` with no options.
type RunOptions struct {
	// Args replace the image's entrypoint and cmd (ctr run IMAGE ID ARGS…).
	Args []string `json:"args,omitempty"`
	// Env holds --env values in order: KEY=VALUE sets, a bare KEY unsets.
	Env []string `json:"env,omitempty"`
	// EnvFile is the content of the --env-file (not its path: the
	// prediction reads no files), applied before Env.
	EnvFile []byte `json:"envFile,omitempty"`
	// Cwd is --cwd.
	Cwd string `json:"cwd,omitempty"`
	// Mounts are the --mount values, parsed with ParseMount.
	Mounts []specs.Mount `json:"mounts,omitempty"`
	// ReadOnly is --read-only.
	ReadOnly bool `json:"readOnly,omitempty"`
	// Privileged is --privileged (needs a Host).
	Privileged bool `json:"privileged,omitempty"`
	// TTY is --tty.
	TTY bool `json:"tty,omitempty"`
	// NetHost is --net-host (needs a Host with a hostname).
	NetHost bool `json:"netHost,omitempty"`
	// CapAdd and CapDrop are --cap-add and --cap-drop ("CAP_" names).
	CapAdd  []string `json:"capAdd,omitempty"`
	CapDrop []string `json:"capDrop,omitempty"`
	// AllowNewPrivs is --allow-new-privs.
	AllowNewPrivs bool `json:"allowNewPrivs,omitempty"`
	// Seccomp is --seccomp: SeccompProfile (the content of
	// --seccomp-profile FILE) when given, else containerd's default
	// profile (DefaultSeccomp; generated for 1.6.20 and 2.4.2 only).
	Seccomp        bool   `json:"seccomp,omitempty"`
	SeccompProfile []byte `json:"seccompProfile,omitempty"`
	// User is --user (containerd 1.7 and later).
	User string `json:"user,omitempty"`
	// Hostname is --hostname (containerd 1.7 and later).
	Hostname string `json:"hostname,omitempty"`
	// CPUShares is --cpu-shares; 0 means ctr's default, 1024.
	CPUShares uint64 `json:"cpuShares,omitempty"`
	// Namespace is ctr's global --namespace; empty means "default". It
	// names the cgroup parent: linux.cgroupsPath is /NAMESPACE/ID.
	Namespace string `json:"namespace,omitempty"`
	// Docker holds the `docker run` options, under docker's names, of the
	// docker engine (docker.go); the ctr options above are then unset.
	Docker *DockerRun `json:"docker,omitempty"`
	// Nerdctl holds the `nerdctl run` options, under nerdctl's names, of
	// the nerdctl engine (nerdctl.go); the ctr options above are then unset.
	Nerdctl *NerdctlRun `json:"nerdctl,omitempty"`
}

// IsZero reports whether o holds no option at all.
func (o *RunOptions) IsZero() bool {
	return len(o.Args) == 0 && len(o.Env) == 0 && len(o.EnvFile) == 0 && o.Cwd == "" &&
		len(o.Mounts) == 0 && !o.ReadOnly && !o.Privileged && !o.TTY && !o.NetHost &&
		len(o.CapAdd) == 0 && len(o.CapDrop) == 0 && !o.AllowNewPrivs && !o.Seccomp &&
		len(o.SeccompProfile) == 0 && o.User == "" && o.Hostname == "" && o.CPUShares == 0 && o.Namespace == "" && o.Docker == nil && o.Nerdctl == nil
}

// ParseMount parses a ctr --mount value, a CSV record of key=value fields:
// type=, source= or src=, destination= or dst=, and options= with the
// mount options separated by ":" (e.g.
// "type=bind,src=/data,dst=/data,options=rbind:ro"). As in ctr, missing
// fields stay empty and a later field overrides an earlier one.
func ParseMount(v string) (specs.Mount, error) {
	var m specs.Mount
	r := csv.NewReader(strings.NewReader(v))
	fields, err := r.Read()
	if err != nil {
		return m, fmt.Errorf("%w: --mount %q: %v", ErrInvalidOption, v, err)
	}
	for _, f := range fields {
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			return m, fmt.Errorf("%w: --mount %q: field %q is not key=value", ErrInvalidOption, v, f)
		}
		switch key {
		case "type":
			m.Type = val
		case "source", "src":
			m.Source = val
		case "destination", "dst":
			m.Destination = val
		case "options":
			m.Options = strings.Split(val, ":")
		default:
			return m, fmt.Errorf("%w: --mount %q: key %q not supported", ErrInvalidOption, v, key)
		}
	}
	return m, nil
}

// validate checks what ctr itself refuses before building the spec, and
// what the prediction cannot reproduce.
func (o *RunOptions) validate(r *rules) error {
	for _, list := range [][]string{o.CapAdd, o.CapDrop} {
		for _, c := range list {
			if !strings.HasPrefix(c, "CAP_") {
				return fmt.Errorf("%w: capability %q: capabilities must be given with the CAP_ prefix", ErrInvalidOption, c)
			}
		}
	}
	if len(o.SeccompProfile) > 0 && !o.Seccomp {
		return fmt.Errorf("%w: a seccomp profile needs --seccomp", ErrInvalidOption)
	}
	if _, ok := seccompReleases[r.version]; o.Seccomp && len(o.SeccompProfile) == 0 && !ok {
		return fmt.Errorf("%w: --seccomp without --seccomp-profile uses containerd %s's built-in default profile, which is generated only for containerd 1.6.20 and 2.4.2 (give --seccomp-profile)", ErrUnsupported, r.version)
	}
	if o.User != "" && !r.userFlag {
		return fmt.Errorf("%w: --user: ctr run of containerd %s has no --user (the image's own USER still applies)", ErrUnsupported, r.version)
	}
	if o.Hostname != "" && !r.hostnameFlag {
		return fmt.Errorf("%w: --hostname: ctr run of containerd %s has no --hostname", ErrUnsupported, r.version)
	}
	if o.CPUShares > 1<<62 {
		return fmt.Errorf("%w: --cpu-shares %d out of range", ErrInvalidOption, o.CPUShares)
	}
	return nil
}

// CtrOpts returns the spec options `ctr run` applies for o, in ctr's
// order (cmd/ctr/commands/run/run_unix.go NewContainer): default spec
// (or the base spec), default devices, env file, env, mounts, image
// config, read-only, args, cwd, user, tty, privileged, net-host,
// capabilities, seccomp, cpu shares, new privileges, hostname.
func (o *RunOptions) CtrOpts(p Profile, image ocispec.Image, baseSpec []byte) ([]SpecOpts, error) {
	if p.Kind != Containerd || p.rules == nil {
		return nil, fmt.Errorf("%w: CtrOpts needs a containerd profile", ErrUnknownEngine)
	}
	r := p.rules
	if err := o.validate(r); err != nil {
		return nil, err
	}
	var opts []SpecOpts
	if baseSpec != nil {
		opts = append(opts, WithCapturedSpec(baseSpec))
	} else {
		opts = append(opts, WithDefaultSpec())
	}
	opts = append(opts, WithDefaultUnixDevices())
	if len(o.EnvFile) > 0 {
		opts = append(opts, WithEnvFile(o.EnvFile))
	}
	opts = append(opts, WithEnv(o.Env), WithMounts(o.Mounts), WithImageConfig(image.Config))
	if o.ReadOnly {
		opts = append(opts, WithRootFSReadonly())
	}
	if len(o.Args) > 0 {
		opts = append(opts, WithProcessArgs(o.Args...))
	}
	if o.Cwd != "" {
		opts = append(opts, WithProcessCwd(o.Cwd))
	}
	if o.User != "" {
		opts = append(opts, WithUser(o.User), WithAdditionalGIDs(o.User))
	}
	if o.TTY {
		opts = append(opts, WithTTY())
	}
	if o.Privileged {
		opts = append(opts, WithPrivileged(), WithAllDevicesAllowed(), WithHostDevices())
	}
	if o.NetHost {
		opts = append(opts, WithHostNetwork())
	}
	if len(o.CapAdd) > 0 {
		opts = append(opts, WithAddedCapabilities(o.CapAdd))
	}
	if len(o.CapDrop) > 0 {
		opts = append(opts, WithDroppedCapabilities(o.CapDrop))
	}
	if o.Seccomp && len(o.SeccompProfile) > 0 {
		opts = append(opts, WithSeccompProfile(o.SeccompProfile))
	} else if o.Seccomp {
		// seccomp.WithDefaultProfile of ctr's own containerd, for the
		// bounding set after --privileged and the capability options,
		// on ctr's architecture (the image's, which must match it).
		arch := image.Architecture
		if arch == "" {
			arch = runtime.GOARCH
		}
		opts = append(opts, withDefaultSeccomp(r.version, arch))
	}
	shares := o.CPUShares
	if shares == 0 {
		shares = 1024
	}
	opts = append(opts, WithCPUShares(shares))
	if o.AllowNewPrivs {
		opts = append(opts, WithNewPrivileges())
	}
	if o.Hostname != "" {
		opts = append(opts, WithHostname(o.Hostname))
	}
	return opts, nil
}
