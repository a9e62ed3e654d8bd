package engine

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// parseMounts is parseMountFlags (run_mount.go) for what is predicted:
// the -v bind mounts, then the --tmpfs mounts, then --mount (bind and
// tmpfs), each list without repeats. Named and anonymous volumes (a random
// ID and nerdctl's volume store), relative sources (nerdctl's working
// directory) and shared or slave propagation (the device's mount table)
// are refused.
func (n *nerdctlSpec) parseMounts() ([]specs.Mount, error) {
	var out []specs.Mount
	for _, v := range dedupe(n.run.Volumes) {
		m, err := parseNerdctlVolume(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, v := range dedupe(n.run.Tmpfs) {
		m, err := parseNerdctlTmpfs(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, v := range dedupe(n.run.Mounts) {
		tmpfs, legacy, err := nerdctlMountToLegacy(v)
		if err != nil {
			return nil, err
		}
		var m specs.Mount
		if tmpfs {
			m, err = parseNerdctlTmpfs(legacy)
		} else {
			m, err = parseNerdctlVolume(legacy)
		}
		if err != nil {
			return nil, fmt.Errorf("--mount %q: %w", v, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// nerdctlMountToLegacy is the first half of mountutil.ProcessFlagMount
// (Linux): it turns a --mount value (type=bind|tmpfs|volume, src, dst,
// ro/readonly/rro, bind-propagation, bind-nonrecursive, tmpfs-size,
// tmpfs-mode) into the -v or --tmpfs form nerdctl then processes.
func nerdctlMountToLegacy(s string) (tmpfs bool, legacy string, err error) {
	typ, src, dst, prop, rw := "volume", "", "", "", ""
	nonRecursive := false
	var size int64
	mode := uint64(0o1777)
	bad := func(format string, a ...any) (bool, string, error) {
		return false, "", fmt.Errorf("%w: --mount %q: %s", ErrInvalidOption, s, fmt.Sprintf(format, a...))
	}
	for _, field := range strings.Split(s, ",") {
		k, v, hasValue := strings.Cut(field, "=")
		key := strings.ToLower(k)
		if !hasValue {
			switch key {
			case "readonly", "ro", "rw", "rro":
				rw = key
				continue
			case "bind-nonrecursive":
				nonRecursive = true
				continue
			}
			return bad("invalid field '%s' must be a key=value pair", field)
		}
		switch key {
		case "type":
			switch v {
			case "tmpfs", "bind", "volume":
				typ = v
			default:
				return bad("invalid mount type '%s' must be a volume/bind/tmpfs", v)
			}
		case "source", "src":
			src = v
		case "target", "dst", "destination":
			dst = v
		case "readonly", "ro", "rw", "rro":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("invalid value for %s: %s", key, v)
			}
			if b {
				rw = key
			}
		case "bind-propagation":
			prop = v
		case "bind-nonrecursive":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("invalid value for %s: %s", key, v)
			}
			nonRecursive = b
		case "tmpfs-size":
			if size, err = dockerRAMInBytes(v); err != nil {
				return bad("invalid value for %s: %s", key, v)
			}
		case "tmpfs-mode":
			if mode, err = strconv.ParseUint(v, 8, 32); err != nil {
				return bad("invalid value for %s: %s", key, v)
			}
		default:
			return bad("unexpected key '%s' in '%s'", key, field)
		}
	}
	var opts []string
	if rw == "readonly" {
		rw = "ro"
	}
	if rw != "" {
		opts = append(opts, rw)
	}
	var fields []string
	if typ == "tmpfs" {
		fields = []string{dst}
		if mode != 0 {
			opts = append(opts, "mode="+strconv.FormatUint(mode, 8))
		}
		if size > 0 {
			opts = append(opts, "size="+nerdctlTmpfsSize(size))
		}
	} else {
		fields = []string{src, dst}
		if prop != "" {
			opts = append(opts, prop)
		}
		if typ == "bind" {
			if nonRecursive {
				opts = append(opts, "bind")
			} else {
				opts = append(opts, "rbind")
			}
		}
	}
	if len(opts) > 0 {
		fields = append(fields, strings.Join(opts, ","))
	}
	return typ == "tmpfs", strings.Join(fields, ":"), nil
}

// nerdctlTmpfsSize is mountutil's getTmpfsSize: the largest of g, m, k
// that divides the size, else bytes.
func nerdctlTmpfsSize(size int64) string {
	for _, u := range []struct {
		suffix string
		div    int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if size%u.div == 0 {
			return strconv.FormatInt(size/u.div, 10) + u.suffix
		}
	}
	return strconv.FormatInt(size, 10)
}

// parseNerdctlVolume is mountutil.ProcessFlagV for a bind mount
// SRC:DST[:OPTS]: OPTS are rw, ro or rro, bind or rbind, and private or
// rprivate (the default); other words are ignored, as nerdctl ignores
// them with a warning. Without bind or rbind the mount has type "none"
// and "rbind" appended.
func parseNerdctlVolume(v string) (specs.Mount, error) {
	split := strings.Split(strings.TrimLeft(v, ":"), ":")
	if len(split) == 1 {
		return specs.Mount{}, fmt.Errorf("%w: -v %q: an anonymous volume has a random name", ErrUnsupported, v)
	}
	if len(split) > 3 {
		return specs.Mount{}, fmt.Errorf("%w: -v %q: failed to parse", ErrInvalidOption, v)
	}
	src, dst := split[0], strings.TrimLeft(split[1], ":")
	if !path.IsAbs(dst) {
		return specs.Mount{}, fmt.Errorf("%w: -v %q: expected an absolute path, got %q", ErrInvalidOption, v, dst)
	}
	switch {
	case strings.HasPrefix(src, "."):
		return specs.Mount{}, fmt.Errorf("%w: -v %q: a relative source depends on nerdctl's working directory; give an absolute path", ErrUnsupported, v)
	case !strings.HasPrefix(src, "/"):
		return specs.Mount{}, fmt.Errorf("%w: -v %q: named volumes live in nerdctl's volume store; give a bind mount", ErrUnsupported, v)
	}
	var opts []string
	if len(split) == 3 {
		var write, prop, bind []string
		for _, o := range strings.Split(split[2], ",") {
			switch o {
			case "rw", "ro", "rro":
				write = append(write, o)
			case "private", "rprivate":
				prop = append(prop, o)
			case "shared", "rshared", "slave", "rslave":
				return specs.Mount{}, fmt.Errorf("%w: -v %q: %s propagation depends on the device's mount table", ErrUnsupported, v, o)
			case "bind", "rbind":
				bind = append(bind, o)
			}
		}
		switch {
		case len(bind) > 1:
			return specs.Mount{}, fmt.Errorf("%w: -v %q: duplicated bind/rbind option", ErrInvalidOption, v)
		case len(write) > 1:
			return specs.Mount{}, fmt.Errorf("%w: -v %q: duplicated read/write volume option", ErrInvalidOption, v)
		case len(prop) > 1:
			return specs.Mount{}, fmt.Errorf("%w: -v %q: duplicated volume propagation option", ErrInvalidOption, v)
		}
		opts = append(opts, bind...)
		if len(write) == 1 {
			switch write[0] {
			case "ro":
				opts = append(opts, "ro")
			case "rro":
				opts = append(opts, "ro", "rro")
			}
		}
		p := "rprivate"
		if len(prop) == 1 {
			p = prop[0]
		}
		opts = append(opts, p)
	}
	typ := "none"
	if len(opts) > 0 && (opts[0] == "bind" || opts[0] == "rbind") {
		typ = "bind"
	} else {
		opts = append(opts, "rbind")
	}
	return specs.Mount{Type: typ, Source: path.Clean(src), Destination: path.Clean(dst), Options: opts}, nil
}

// parseNerdctlTmpfs is mountutil.ProcessFlagTmpfs: DST[:OPTS], options
// noexec, nosuid, nodev merged with OPTS as moby/sys/mount does.
func parseNerdctlTmpfs(v string) (specs.Mount, error) {
	dst, raw, hasOpts := strings.Cut(v, ":")
	opts := []string{"noexec", "nosuid", "nodev"}
	if hasOpts {
		var err error
		if opts, err = mergeTmpfsOptions(append(opts, strings.Split(raw, ",")...)); err != nil {
			return specs.Mount{}, fmt.Errorf("--tmpfs %q: %w", v, err)
		}
	}
	return specs.Mount{Type: "tmpfs", Source: "tmpfs", Destination: dst, Options: opts}, nil
}
