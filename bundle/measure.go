package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/refval/refval/internal/boundedfile"
)

// Measure measures the bundle in bundleDir: its config.json (or the file
// given by WithConfigPath) and the rootfs that root.path names (or the
// directory given by WithRootfsPath). bundleDir may be empty when both
// paths are given. Errors name the file, and for configs the JSON field.
func Measure(ctx context.Context, bundleDir string, opts ...Option) (*Result, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	cfgPath := o.configPath
	if cfgPath == "" {
		if bundleDir == "" {
			return nil, errors.New("measure: no bundle directory and no config path")
		}
		cfgPath = filepath.Join(bundleDir, "config.json")
	}
	raw, err := readConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	return measure(o, cfgPath, raw, opts, func() (Digest, int, error) {
		rootfs, ropts, err := o.rootfsOf(raw, bundleDir, cfgPath, opts)
		if err != nil {
			return Digest{}, 0, err
		}
		return HashRootfs(ctx, rootfs, ropts...)
	})
}

// rootfsOf returns the rootfs directory of the bundle whose config is raw
// (WithRootfsPath, else root.path relative to the bundle directory) and
// the options to measure it with: those given, plus the config's
// linux.uidMappings and gidMappings unless WithIDMappings was given.
func (o *options) rootfsOf(raw []byte, bundleDir, cfgPath string, opts []Option) (string, []Option, error) {
	loc, err := locate(raw)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	rootfs := o.rootfsPath
	if rootfs == "" {
		if loc.Root == nil || loc.Root.Path == "" {
			return "", nil, fmt.Errorf("%s: %w", cfgPath, fieldErr("root.path", "is missing (give the rootfs explicitly)"))
		}
		rootfs = loc.Root.Path
		if !filepath.IsAbs(rootfs) {
			base := bundleDir
			if base == "" {
				base = filepath.Dir(cfgPath)
			}
			rootfs = filepath.Join(base, rootfs)
		}
	}
	ropts := opts
	if !o.idMapSet && loc.Linux != nil && (len(loc.Linux.UIDMappings) > 0 || len(loc.Linux.GIDMappings) > 0) {
		if err := validateMappings("linux.uidMappings", loc.Linux.UIDMappings); err != nil {
			return "", nil, fmt.Errorf("%s: %w", cfgPath, err)
		}
		if err := validateMappings("linux.gidMappings", loc.Linux.GIDMappings); err != nil {
			return "", nil, fmt.Errorf("%s: %w", cfgPath, err)
		}
		ropts = append(ropts[:len(ropts):len(ropts)], WithIDMappings(loc.Linux.UIDMappings, loc.Linux.GIDMappings))
	}
	return rootfs, ropts, nil
}

// HashRootfs measures the directory tree at dir with the selected scheme
// and returns its digest and the number of entries measured. With
// refval-v1, owners are translated by WithIDMappings and the rootless
// xattr; dir itself may be a symlink, nothing below it is followed.
func HashRootfs(ctx context.Context, dir string, opts ...Option) (Digest, int, error) {
	o, err := newOptions(opts)
	if err != nil {
		return Digest{}, 0, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return Digest{}, 0, fmt.Errorf("%w: %v", ErrInvalidRootfs, err)
	}
	if !fi.IsDir() {
		return Digest{}, 0, fmt.Errorf("%w: %s is not a directory", ErrInvalidRootfs, dir)
	}
	switch o.scheme {
	case SchemeCMC:
		return hashRootfsCMC(ctx, dir)
	case SchemeCMC09:
		return hashRootfsCMC09(ctx, dir)
	}
	return hashSource(dirSource{ctx, dir, o}, o.recordFn)
}

// readConfig reads a config file of bounded size. It opens without
// blocking and refuses anything but a regular file, so that a fifo (or a
// device) in place of config.json is an error instead of a hang; symlinks
// are followed, as runc follows them.
func readConfig(path string) ([]byte, error) {
	raw, err := boundedfile.Read(path, maxConfigSize, boundedfile.FollowLinks)
	var fe *boundedfile.Error
	switch {
	case errors.As(err, &fe):
		return nil, &ConfigError{Err: fe} // names the file: not regular, or too large
	case err != nil:
		return nil, fmt.Errorf("read config: %w", err)
	}
	return raw, nil
}

// location is the part of a config that says where the rootfs is and how
// its owners map; decoded leniently, after HashConfig validated the JSON.
type location struct {
	Root *struct {
		Path string `json:"path"`
	} `json:"root"`
	Linux *struct {
		UIDMappings []specs.LinuxIDMapping `json:"uidMappings"`
		GIDMappings []specs.LinuxIDMapping `json:"gidMappings"`
	} `json:"linux"`
}

func locate(raw []byte) (*location, error) {
	var loc location
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&loc); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fieldErr(te.Field, "is a JSON %s, want %s", te.Value, te.Type)
		}
		return nil, &ConfigError{Err: err}
	}
	return &loc, nil
}
