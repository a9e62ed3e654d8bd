package engine

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultPathEnv is containerd's defaultUnixEnv, used when the image sets
// no environment at all.
var defaultPathEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// replaceOrAppendEnv merges overrides into defaults the way containerd's
// replaceOrAppendEnvValues does: KEY=VALUE replaces the first entry of
// that key in place (or is appended), a bare KEY removes the entry of that
// key, and order is otherwise kept. Note that a bare KEY naming a key not
// in defaults is dropped, so `ctr run --env KEY` (applied before the image
// env is merged) never unsets an image variable.
func replaceOrAppendEnv(defaults, overrides []string) []string {
	index := make(map[string]int, len(defaults))
	out := make([]string, 0, len(defaults))
	for i, e := range defaults {
		k, _, _ := strings.Cut(e, "=")
		out = append(out, e)
		index[k] = i // the last occurrence wins, as in containerd
	}
	for _, v := range overrides {
		k, _, ok := strings.Cut(v, "=")
		i, exists := index[k]
		switch {
		case !ok && exists:
			out[i] = "" // removed below
		case !ok:
		case exists:
			out[i] = v
		default:
			out = append(out, v)
		}
	}
	// containerd marks removals with "" and then drops every empty
	// entry, so an empty string already present in defaults goes too.
	return slices.DeleteFunc(out, func(e string) bool { return e == "" })
}

// WithEnv merges vars into process.env (ctr run --env, applied to the
// still empty environment of the default spec, before the image's).
func WithEnv(vars []string) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		if len(vars) > 0 {
			setProcess(s)
			s.Process.Env = replaceOrAppendEnv(s.Process.Env, vars)
		}
		return nil
	}
}

// WithEnvFile is WithEnv over the lines of an --env-file: containerd
// takes every line verbatim (no comments, no quotes, no trimming), so a
// line without "=" is an unset and "#x=y" sets the variable "#x".
func WithEnvFile(content []byte) SpecOpts {
	return WithEnv(envFileLines(content))
}

// envFileLines splits like bufio.Scanner's ScanLines, which ctr uses:
// lines end at "\n", a "\r" before it is dropped, the last line needs no
// newline, and an empty final line is not a line.
func envFileLines(b []byte) []string {
	var lines []string
	for len(b) > 0 {
		i := strings.IndexByte(string(b), '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i], b[i+1:]
		}
		line = []byte(strings.TrimSuffix(string(line), "\r"))
		lines = append(lines, string(line))
	}
	return lines
}

// WithMounts adds the --mount mounts after the default ones. From 2.0 on,
// ctr first removes the mounts whose (cleaned) destination equals one of
// the new destinations; 1.x only appends, leaving both.
func WithMounts(mounts []specs.Mount) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		if c.rules.mountReplaces {
			s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool {
				return slices.ContainsFunc(mounts, func(n specs.Mount) bool {
					return filepath.Clean(m.Destination) == n.Destination
				})
			})
			if len(s.Mounts) == 0 {
				s.Mounts = nil
			}
		}
		s.Mounts = append(s.Mounts, mounts...)
		return nil
	}
}

// WithImageConfig applies the image's execution config (containerd's
// WithImageConfig on a Linux spec): the image env (or the default PATH
// when the image has none) with the env already in the spec merged over
// it; args = entrypoint + cmd; cwd = working dir or "/"; and the user,
// resolved against the image's /etc/passwd and /etc/group, with the
// additional GIDs of that user (of root when the image names no user).
func WithImageConfig(cfg ocispec.ImageConfig) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		setProcess(s)
		if s.Linux == nil {
			return fmt.Errorf("%w: spec has no linux section", ErrInvalidOption)
		}
		defaults := cfg.Env
		if len(defaults) == 0 {
			defaults = defaultPathEnv
		}
		s.Process.Env = replaceOrAppendEnv(defaults, s.Process.Env)
		s.Process.Args = append(slices.Clip(cfg.Entrypoint), cfg.Cmd...)
		if len(s.Process.Args) == 0 {
			s.Process.Args = nil
		}
		s.Process.Cwd = cfg.WorkingDir
		if s.Process.Cwd == "" {
			s.Process.Cwd = "/"
		}
		if cfg.User != "" {
			if err := WithUser(cfg.User)(c, s); err != nil {
				return err
			}
			return WithAdditionalGIDs(fmt.Sprint(s.Process.User.UID))(c, s)
		}
		return WithAdditionalGIDs("root")(c, s)
	}
}

// WithRootFSReadonly sets root.readonly (ctr run --read-only).
func WithRootFSReadonly() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		if s.Root == nil {
			s.Root = &specs.Root{}
		}
		s.Root.Readonly = true
		return nil
	}
}

// WithProcessArgs replaces process.args entirely (ctr run IMAGE ID ARGS…):
// unlike `docker run`, the image's entrypoint is dropped too.
func WithProcessArgs(args ...string) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setProcess(s)
		s.Process.Args = args
		s.Process.CommandLine = ""
		return nil
	}
}

// WithProcessCwd sets process.cwd (ctr run --cwd).
func WithProcessCwd(cwd string) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setProcess(s)
		s.Process.Cwd = cwd
		return nil
	}
}

// WithTTY sets process.terminal and appends TERM=xterm to the env
// (ctr run --tty). It appends without merging, after the image env, so an
// image TERM is followed by a second TERM entry.
func WithTTY() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setProcess(s)
		s.Process.Terminal = true
		if s.Linux != nil {
			s.Process.Env = append(s.Process.Env, "TERM=xterm")
		}
		return nil
	}
}

// WithCapabilities sets the bounding, effective and permitted sets; from
// 1.7 on, the inheritable set is filtered to caps (cleared when empty).
func WithCapabilities(caps []string) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		setCapabilities(s)
		pc := s.Process.Capabilities
		pc.Bounding, pc.Effective, pc.Permitted = caps, caps, caps
		if c.rules.inheritableCaps {
			if len(caps) == 0 {
				pc.Inheritable = nil
			} else if len(pc.Inheritable) > 0 {
				pc.Inheritable = slices.DeleteFunc(slices.Clone(pc.Inheritable), func(x string) bool { return !slices.Contains(caps, x) })
				if len(pc.Inheritable) == 0 {
					pc.Inheritable = nil
				}
			}
		}
		return nil
	}
}

// WithAddedCapabilities appends each capability not yet present to the
// bounding, effective and permitted sets (ctr run --cap-add).
func WithAddedCapabilities(caps []string) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setCapabilities(s)
		pc := s.Process.Capabilities
		for _, cp := range caps {
			for _, set := range []*[]string{&pc.Bounding, &pc.Effective, &pc.Permitted} {
				if !slices.Contains(*set, cp) {
					*set = append(*set, cp)
				}
			}
		}
		return nil
	}
}

// WithDroppedCapabilities removes the capabilities from the bounding,
// effective and permitted sets, and from 1.7 on from the inheritable set
// (ctr run --cap-drop). A set left empty becomes absent.
func WithDroppedCapabilities(caps []string) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		setCapabilities(s)
		pc := s.Process.Capabilities
		sets := []*[]string{&pc.Bounding, &pc.Effective, &pc.Permitted}
		if c.rules.inheritableCaps {
			sets = append(sets, &pc.Inheritable)
		}
		for _, cp := range caps {
			for _, set := range sets {
				// containerd rebuilds the list with append from nil.
				var kept []string
				for _, x := range *set {
					if x != cp {
						kept = append(kept, x)
					}
				}
				*set = kept
			}
		}
		return nil
	}
}

// WithPrivileged is containerd's WithPrivileged: all capabilities of the
// process that runs ctr (the device's; from Host), no masked or read-only
// paths, sysfs and cgroupfs mounts writable, no SELinux label, AppArmor
// profile or seccomp filter.
func WithPrivileged() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		if c.Host == nil {
			return fmt.Errorf("%w: --privileged grants the capabilities of ctr on the device", ErrHostDependent)
		}
		if err := WithCapabilities(slices.Clone(c.Host.Capabilities))(c, s); err != nil {
			return err
		}
		setLinux(s)
		s.Linux.MaskedPaths = nil
		s.Linux.ReadonlyPaths = nil
		for _, m := range s.Mounts {
			if m.Type == "sysfs" || m.Type == "cgroup" {
				for i, o := range m.Options {
					if o == "ro" {
						m.Options[i] = "rw"
					}
				}
			}
		}
		s.Process.SelinuxLabel = ""
		s.Process.ApparmorProfile = ""
		s.Linux.Seccomp = nil
		return nil
	}
}

// WithAllDevicesAllowed replaces the device cgroup rules by one rule
// allowing every device (part of ctr run --privileged).
func WithAllDevicesAllowed() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setResources(s)
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		return nil
	}
}

// WithHostDevices appends the device's device nodes to linux.devices
// (part of ctr run --privileged).
func WithHostDevices() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		if c.Host == nil {
			return fmt.Errorf("%w: --privileged adds every device node of the device's /dev", ErrHostDependent)
		}
		setLinux(s)
		s.Linux.Devices = append(s.Linux.Devices, c.Host.Devices...)
		return nil
	}
}

// WithDefaultUnixDevices appends containerd's default device cgroup rules
// (null, random, full, tty, zero, urandom, console, pts, ptmx), which
// ctr run applies right after the default spec.
func WithDefaultUnixDevices() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setResources(s)
		n := func(i int64) *int64 { return &i }
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
			specs.LinuxDeviceCgroup{Type: "c", Major: n(1), Minor: n(3), Access: "rwm", Allow: true},
			specs.LinuxDeviceCgroup{Type: "c", Major: n(1), Minor: n(8), Access: "rwm", Allow: true},
			specs.LinuxDeviceCgroup{Type: "c", Major: n(1), Minor: n(7), Access: "rwm", Allow: true},
			specs.LinuxDeviceCgroup{Type: "c", Major: n(5), Minor: n(0), Access: "rwm", Allow: true},
			specs.LinuxDeviceCgroup{Type: "c", Major: n(1), Minor: n(5), Access: "rwm", Allow: true},
			specs.LinuxDeviceCgroup{Type: "c", Major: n(1), Minor: n(9), Access: "rwm", Allow: true},
			specs.LinuxDeviceCgroup{Type: "c", Major: n(5), Minor: n(1), Access: "rwm", Allow: true},
			specs.LinuxDeviceCgroup{Type: "c", Major: n(136), Access: "rwm", Allow: true},
			specs.LinuxDeviceCgroup{Type: "c", Major: n(5), Minor: n(2), Access: "rwm", Allow: true},
		)
		return nil
	}
}

// WithHostNetwork removes the network namespace and bind-mounts the
// device's /etc/hosts and /etc/resolv.conf read-only, and sets HOSTNAME to
// the device's hostname (ctr run --net-host).
func WithHostNetwork() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		if c.Host == nil || c.Host.Hostname == "" {
			return fmt.Errorf("%w: --net-host sets HOSTNAME to the device's hostname", ErrHostDependent)
		}
		setLinux(s)
		if i := slices.IndexFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }); i >= 0 {
			s.Linux.Namespaces = slices.Delete(s.Linux.Namespaces, i, i+1)
		}
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: "/etc/hosts", Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: "/etc/resolv.conf", Options: []string{"rbind", "ro"}},
		)
		return WithEnv([]string{"HOSTNAME=" + c.Host.Hostname})(c, s)
	}
}

// WithSeccompProfile sets linux.seccomp to the profile in raw (ctr run
// --seccomp --seccomp-profile FILE), decoded into the runtime-spec type as
// containerd does, so unknown fields are dropped.
func WithSeccompProfile(raw []byte) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setLinux(s)
		var p specs.LinuxSeccomp
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("%w: seccomp profile: %v", ErrInvalidOption, err)
		}
		s.Linux.Seccomp = &p
		return nil
	}
}

// WithNewPrivileges clears process.noNewPrivileges (ctr run --allow-new-privs).
func WithNewPrivileges() SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setProcess(s)
		s.Process.NoNewPrivileges = false
		return nil
	}
}

// WithCPUShares sets linux.resources.cpu.shares. ctr run always applies
// it: --cpu-shares defaults to 1024.
func WithCPUShares(shares uint64) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		setResources(s)
		if s.Linux.Resources.CPU == nil {
			s.Linux.Resources.CPU = &specs.LinuxCPU{}
		}
		s.Linux.Resources.CPU.Shares = &shares
		return nil
	}
}

// WithHostname sets the UTS hostname (ctr run --hostname, 1.7 and later).
func WithHostname(name string) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		s.Hostname = name
		return nil
	}
}
