package engine

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Docker's mounts: -v and --mount type=bind (volume/mounts/linux_parser.go),
// --tmpfs (HostConfig.Tmpfs), the network files under the data root
// (container.NetworkMounts) and the order and options WithMounts gives
// them (daemon/oci_linux.go).

// dockerShmSize is config.DefaultShmSize, the size of /dev/shm.
const dockerShmSize = 64 << 20

// dockerMaxSorted: dockerd orders its mounts with sort.Sort, which is a
// stable insertion sort up to 12 elements only.
const dockerMaxSorted = 12

// parseMounts reads -v, --mount and --tmpfs into binds and tmpfs.
func (d *dockerSpec) parseMounts() error {
	for _, v := range d.run.Volumes {
		m, err := parseDockerVolume(v)
		if err != nil {
			return err
		}
		d.binds = append(d.binds, m)
	}
	for _, v := range d.run.Mounts {
		m, err := parseDockerMount(v)
		if err != nil {
			return err
		}
		d.binds = append(d.binds, m)
	}
	for _, v := range d.run.Tmpfs {
		dst, data, _ := strings.Cut(v, ":")
		if !path.IsAbs(dst) || path.Clean(dst) != dst {
			return fmt.Errorf("%w: --tmpfs %q: the destination must be a clean absolute path", ErrInvalidOption, v)
		}
		d.tmpfs = append(d.tmpfs, dockerMount{destination: dst, source: "tmpfs", data: data, tmpfs: true})
	}
	root := d.daemon.dataRoot()
	seen := map[string]bool{}
	depth := map[int]string{}
	for _, m := range slices.Concat(d.binds, d.tmpfs) {
		switch m.destination {
		case "/etc/resolv.conf", "/etc/hostname", "/etc/hosts", "/dev/shm", "/dev", "/":
			return fmt.Errorf("%w: a mount at %s replaces one of dockerd's own", ErrUnsupported, m.destination)
		}
		if seen[m.destination] {
			return fmt.Errorf("%w: duplicate mount point %s", ErrInvalidOption, m.destination)
		}
		seen[m.destination] = true
		// dockerd keeps user mounts in maps and sorts them by depth only:
		// two at the same depth start in a random order.
		n := strings.Count(m.destination, "/")
		if other, ok := depth[n]; ok {
			return fmt.Errorf("%w: mounts %s and %s: dockerd 20.10 orders mounts of the same depth at random (a new order, and value, per start); nest them at different depths", ErrUnsupported, other, m.destination)
		}
		depth[n] = m.destination
		if !m.tmpfs && (strings.HasPrefix(m.source, root) || strings.HasPrefix(root, m.source)) {
			return fmt.Errorf("%w: bind source %s: a source inside or above the daemon's data root %s gets propagation that depends on the device's mounts", ErrHostDependent, m.source, root)
		}
	}
	if len(d.binds)+len(d.tmpfs)+3 > dockerMaxSorted {
		return fmt.Errorf("%w: more than %d mounts: dockerd's sort is not stable beyond that", ErrUnsupported, dockerMaxSorted-3)
	}
	return nil
}

// parseDockerVolume reads -v SRC:DST[:OPTS] for a host path SRC.
func parseDockerVolume(v string) (dockerMount, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return dockerMount{}, fmt.Errorf("%w: -v %q: want SRC:DST[:OPTIONS]", ErrInvalidOption, v)
	}
	if !path.IsAbs(parts[0]) {
		return dockerMount{}, fmt.Errorf("%w: -v %q: named volumes are not predicted (their data lives in the daemon); bind a host path", ErrUnsupported, v)
	}
	if !path.IsAbs(parts[1]) {
		return dockerMount{}, fmt.Errorf("%w: -v %q: the destination must be an absolute path", ErrInvalidOption, v)
	}
	m := dockerMount{source: path.Clean(parts[0]), destination: path.Clean(parts[1]), writable: true}
	if len(parts) == 3 {
		rw := 0
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				m.writable = false
				rw++
			case "rw":
				rw++
			case "private", "rprivate":
				if m.propagation != "" {
					return dockerMount{}, fmt.Errorf("%w: -v %q: more than one propagation mode", ErrInvalidOption, v)
				}
				m.propagation = o
			case "shared", "rshared", "slave", "rslave":
				return dockerMount{}, fmt.Errorf("%w: -v %q: propagation %s depends on the device's mount of the source", ErrHostDependent, v, o)
			default:
				return dockerMount{}, fmt.Errorf("%w: -v %q: option %q (predicted: ro, rw, private, rprivate)", ErrUnsupported, v, o)
			}
		}
		if rw > 1 {
			return dockerMount{}, fmt.Errorf("%w: -v %q: invalid mode", ErrInvalidOption, v)
		}
	}
	return m, nil
}

// parseDockerMount reads --mount type=bind,source=S,target=D[,readonly][,bind-propagation=P].
func parseDockerMount(v string) (dockerMount, error) {
	m := dockerMount{writable: true}
	typ := ""
	for _, f := range strings.Split(v, ",") {
		k, val, hasVal := strings.Cut(f, "=")
		switch strings.ToLower(k) {
		case "type":
			typ = val
		case "source", "src":
			m.source = val
		case "target", "destination", "dst":
			m.destination = val
		case "readonly", "ro":
			ro := true
			if hasVal {
				b, err := strconv.ParseBool(val)
				if err != nil {
					return m, fmt.Errorf("%w: --mount %q: invalid value for %s: %s", ErrInvalidOption, v, k, val)
				}
				ro = b
			}
			m.writable = !ro
		case "bind-propagation":
			switch val {
			case "private", "rprivate":
				m.propagation = val
			default:
				return m, fmt.Errorf("%w: --mount %q: bind-propagation %s depends on the device's mount of the source", ErrHostDependent, v, val)
			}
		default:
			return m, fmt.Errorf("%w: --mount %q: key %q (predicted: type=bind, source, target, readonly, bind-propagation)", ErrUnsupported, v, k)
		}
	}
	if typ != "bind" {
		return m, fmt.Errorf("%w: --mount %q: type %q (predicted: bind; use --tmpfs for tmpfs)", ErrUnsupported, v, typ)
	}
	if !path.IsAbs(m.source) || !path.IsAbs(m.destination) {
		return m, fmt.Errorf("%w: --mount %q: source and target must be absolute paths", ErrInvalidOption, v)
	}
	m.source, m.destination = path.Clean(m.source), path.Clean(m.destination)
	return m, nil
}

// withMounts is WithMounts: the default mounts not replaced by a user
// mount (/dev/shm with its size), then the user's binds sorted by depth,
// the network files, the tmpfs mounts, sorted again by depth (both sorts
// stable here, see parseMounts); --read-only and --privileged adjust
// options.
func (d *dockerSpec) withMounts(s *specs.Spec) error {
	byDepth := func(ms []dockerMount) {
		slices.SortStableFunc(ms, func(a, b dockerMount) int {
			return strings.Count(a.destination, "/") - strings.Count(b.destination, "/")
		})
	}
	binds := slices.Clone(d.binds)
	byDepth(binds)
	dir := d.daemon.dataRoot() + "/containers/" + d.c.ID + "/"
	for _, f := range []struct{ dst, name string }{{"/etc/resolv.conf", "resolv.conf"}, {"/etc/hostname", "hostname"}, {"/etc/hosts", "hosts"}} {
		binds = append(binds, dockerMount{source: dir + f.name, destination: f.dst, writable: !d.run.ReadOnly, propagation: "rprivate"})
	}
	ms := append(binds, d.tmpfs...)
	byDepth(ms)
	user := map[string]bool{}
	for _, m := range ms {
		user[m.destination] = true
	}
	var out []specs.Mount
	for _, m := range s.Mounts {
		if user[m.Destination] {
			continue
		}
		if m.Destination == "/dev/shm" {
			m.Options = append(slices.Clone(m.Options), "size="+strconv.Itoa(dockerShmSize))
		}
		out = append(out, m)
	}
	for _, m := range ms {
		if m.tmpfs {
			opts := []string{"noexec", "nosuid", "nodev", "rprivate"}
			if m.data != "" {
				opts = append(opts, strings.Split(m.data, ",")...)
			}
			merged, err := mergeTmpfsOptions(opts)
			if err != nil {
				return fmt.Errorf("--tmpfs %s: %w", m.destination, err)
			}
			out = append(out, specs.Mount{Destination: m.destination, Source: "tmpfs", Type: "tmpfs", Options: merged})
			continue
		}
		opts := []string{"rbind"}
		if !m.writable {
			opts = append(opts, "ro")
		}
		prop := m.propagation
		if prop == "" {
			prop = "rprivate"
		}
		opts = append(opts, prop)
		out = append(out, specs.Mount{Destination: m.destination, Source: m.source, Type: "bind", Options: opts})
	}
	if d.run.ReadOnly {
		for i, m := range out {
			switch m.Destination {
			case "/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev":
				continue
			}
			if !user[m.Destination] && !slices.Contains(m.Options, "ro") {
				out[i].Options = append(out[i].Options, "ro")
			}
		}
	}
	if d.run.Privileged {
		for i, m := range out {
			if m.Destination == "/sys" || m.Type == "cgroup" {
				out[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
			}
		}
		s.Linux.ReadonlyPaths, s.Linux.MaskedPaths = nil, nil
	}
	s.Mounts = out
	return nil
}

// tmpfsFlagKeys groups the mount flags of moby/sys/mount's table that
// exclude each other (ro and rw set the same bit); all propagation modes
// share one key.
var tmpfsFlagKeys = map[string]string{
	"ro": "rdonly", "rw": "rdonly", "suid": "nosuid", "nosuid": "nosuid", "dev": "nodev", "nodev": "nodev",
	"exec": "noexec", "noexec": "noexec", "sync": "sync", "async": "sync", "dirsync": "dirsync",
	"remount": "remount", "mand": "mand", "nomand": "mand", "atime": "noatime", "noatime": "noatime",
	"diratime": "nodiratime", "nodiratime": "nodiratime", "bind": "bind", "rbind": "rbind",
	"relatime": "relatime", "norelatime": "relatime", "strictatime": "strictatime", "nostrictatime": "strictatime",
	"unbindable": "propagation", "runbindable": "propagation", "private": "propagation", "rprivate": "propagation",
	"shared": "propagation", "rshared": "propagation", "slave": "propagation", "rslave": "propagation",
}

// tmpfsDataKeys are the tmpfs data options mount.MergeTmpfsOptions accepts.
var tmpfsDataKeys = map[string]bool{"size": true, "mode": true, "uid": true, "gid": true, "nr_inodes": true, "nr_blocks": true, "mpol": true}

// mergeTmpfsOptions is moby/sys/mount.MergeTmpfsOptions: from the last
// option backwards, the first of each flag group and of each data key
// wins; "defaults" is dropped; the survivors keep their order.
func mergeTmpfsOptions(options []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i := len(options) - 1; i >= 0; i-- {
		o := options[i]
		if o == "defaults" {
			continue
		}
		key, isFlag := tmpfsFlagKeys[o]
		if !isFlag {
			k, _, ok := strings.Cut(o, "=")
			if !ok || !tmpfsDataKeys[k] {
				return nil, fmt.Errorf("%w: invalid tmpfs option %q", ErrInvalidOption, o)
			}
			key = "=" + k
		}
		if !seen[key] {
			seen[key] = true
			out = append([]string{o}, out...)
		}
	}
	return out, nil
}
