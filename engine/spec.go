package engine

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Container is what a SpecOpts may consult besides the spec itself: the
// container's identity, the image's root filesystem (for /etc/passwd and
// /etc/group) and, when known, the device that runs it.
type Container struct {
	// ID is the container ID (ctr run's second argument).
	ID string
	// Namespace is the containerd namespace (ctr --namespace, "default").
	Namespace string
	// Rootfs is the image's root filesystem, or nil when it has none to
	// offer; only etc/passwd and etc/group are read, symlinks resolved
	// inside it when it implements fs.ReadLinkFS.
	Rootfs fs.FS
	// Host describes the device, or nil when unknown.
	Host *Host

	rules *rules
}

// SpecOpts changes a spec the way one containerd spec option does.
type SpecOpts func(c *Container, s *specs.Spec) error

// ApplyOpts applies opts to s in order and stops at the first error.
func ApplyOpts(c *Container, s *specs.Spec, opts ...SpecOpts) error {
	for _, o := range opts {
		if err := o(c, s); err != nil {
			return err
		}
	}
	return nil
}

// Compose turns a sequence of options into one.
func Compose(opts ...SpecOpts) SpecOpts {
	return func(c *Container, s *specs.Spec) error { return ApplyOpts(c, s, opts...) }
}

func setProcess(s *specs.Spec) {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
}

func setLinux(s *specs.Spec) {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
}

func setResources(s *specs.Spec) {
	setLinux(s)
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
}

func setCapabilities(s *specs.Spec) {
	setProcess(s)
	if s.Process.Capabilities == nil {
		s.Process.Capabilities = &specs.LinuxCapabilities{}
	}
}

func defaultCaps() []string {
	return []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}
}

// WithDefaultSpec replaces s by containerd's default Linux spec for the
// container (populateDefaultUnixSpec): what `ctr oci spec` prints, with
// linux.cgroupsPath "/<namespace>/<id>". The version decides ociVersion and
// the masked paths.
func WithDefaultSpec() SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		r := c.rules
		*s = specs.Spec{
			Version: r.ociVersion,
			Root:    &specs.Root{Path: "rootfs"},
			Process: &specs.Process{
				Cwd:             "/",
				NoNewPrivileges: true,
				Capabilities: &specs.LinuxCapabilities{
					Bounding:  defaultCaps(),
					Permitted: defaultCaps(),
					Effective: defaultCaps(),
				},
				Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			},
			Linux: &specs.Linux{
				MaskedPaths:   append([]string(nil), r.maskedPaths...),
				ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
				CgroupsPath:   path.Join("/", c.Namespace, c.ID),
				Resources: &specs.LinuxResources{
					Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
				},
				Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.NetworkNamespace}},
			},
			Mounts: defaultMounts(),
		}
		return nil
	}
}

// defaultMounts is containerd's defaultMounts (identical in 1.6 to 2.4).
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
	}
}

// WithCapturedSpec replaces s by a spec captured on the device with `ctr oci
// spec` (run there with the same --namespace), then sets the container's
// cgroups path. `ctr oci spec` generates the default spec for an empty
// container ID, so its cgroupsPath is "/<namespace>"; ctr run generates
// the same spec with the real ID, giving "/<namespace>/<id>". Every other
// field of the capture is kept, so host-specific defaults (the
// thermal_throttle masked paths of containerd 2.x) and local patches of a
// distribution's containerd are reproduced.
func WithCapturedSpec(raw []byte) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		b, err := parseBaseSpec(raw)
		if err != nil {
			return err
		}
		*s = *b
		s.Linux.CgroupsPath = path.Join("/", c.Namespace, c.ID)
		return nil
	}
}

// CheckBaseSpec reports whether raw can serve as a base spec (WithBaseSpec):
// a runtime-spec JSON object with process and linux objects, as `ctr oci
// spec` prints on Linux.
func CheckBaseSpec(raw []byte) error {
	_, err := parseBaseSpec(raw)
	return err
}

func parseBaseSpec(raw []byte) (*specs.Spec, error) {
	var b specs.Spec
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: base spec: %v", ErrInvalidOption, err)
	}
	if b.Linux == nil || b.Process == nil {
		return nil, fmt.Errorf("%w: base spec: not a Linux spec from `ctr oci spec` (no linux or process object)", ErrInvalidOption)
	}
	return &b, nil
}
