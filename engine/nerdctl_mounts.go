package engine

import (
	"fmt"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// parseMounts is parseMountFlags (run_mount.go) for what is predicted:
// the -v bind mounts, then the --tmpfs mounts, each list without repeats.
// Named and anonymous volumes (a random ID and nerdctl's volume store),
// relative sources (nerdctl's working directory), shared or slave
// propagation (the device's mount table) and --mount are refused.
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
	if len(n.run.Mounts) > 0 {
		return nil, fmt.Errorf("%w: --mount %q (give bind mounts as -v SRC:DST[:OPTS] and tmpfs mounts as --tmpfs DST[:OPTS])", ErrUnsupported, n.run.Mounts[0])
	}
	return out, nil
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
