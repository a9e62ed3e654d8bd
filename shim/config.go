package shim

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/driver"
	"github.com/refval/refval/internal/boundedfile"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/measurelist"
)

// Configuration file location.
const (
	// DefaultConfigPath is read when ConfigEnv is unset. A missing file at
	// this path means "all defaults"; a missing file named by ConfigEnv is
	// an error (someone asked for it).
	DefaultConfigPath = "/etc/refval/shim.toml"
	// ConfigEnv overrides DefaultConfigPath. containerd passes its own
	// environment to shims, and the runc shim passes it on to runc, so
	// setting it in containerd's environment reaches every mode.
	ConfigEnv = "REFVAL_SHIM_CONFIG"
)

// Defaults.
const (
	DefaultListPath    = "/run/refval/container-measurements.json"
	DefaultLogFile     = "/tmp/containerd-shim-cmc.log"
	DefaultGenerateDir = "/tmp/measure"
	DefaultTPM         = "/dev/tpmrm0"
	DefaultCMCDSocket  = "/run/cmcd/api.sock"
)

// ErrConfig marks a configuration file that cannot be used.
var ErrConfig = errors.New("invalid shim configuration")

// MaxConfigSize bounds the configuration file (1 MiB; a complete one is
// well under 1 KiB). A larger file is refused without being read whole.
const MaxConfigSize = 1 << 20

// Config is the shim configuration (TOML, keys as in the struct tags).
type Config struct {
	// Scheme is the measurement scheme (bundle.SchemeV1 or SchemeCMC).
	Scheme bundle.Scheme `toml:"scheme"`
	// CMCVersion is the CMC dialect ("" is manifest.DefaultCMCVersion,
	// 0.9): the list format (0.9: an Artifact), the cmcd protocol (0.9:
	// type 7) and the version of the "cmc" scheme (0.9: cmc-0.9).
	// Validated when decoded.
	CMCVersion manifest.CMCVersion `toml:"cmc_version"`
	// Driver is where a new measurement goes besides the list: sw, tpm, cmcd.
	Driver driver.Kind `toml:"driver"`
	// PCR is the PCR the tpm driver extends (and the list entries name).
	PCR driver.PCR `toml:"pcr"`
	// List is the measurement list file; ListFormat is json or cbor.
	List       string             `toml:"list"`
	ListFormat measurelist.Format `toml:"list_format"`
	// TPM is a TPM device path (/dev/tpmrm0), tcp://HOST:PORT for a swtpm
	// or TPM simulator command port, or unix:///PATH for a raw socket.
	TPM string `toml:"tpm"`
	// CMCDSocket is the CMC daemon socket: a unix socket path or
	// tcp://HOST:PORT.
	CMCDSocket string `toml:"cmcd_socket"`
	// Runc is the real runc. Empty: the next "runc" in PATH that is not
	// this binary.
	Runc string `toml:"runc"`
	// RuncShim is the real containerd-shim-runc-v2. Empty: found in PATH.
	RuncShim string `toml:"runc_shim"`
	// RuncLinkDir is a directory holding a "runc" link to this binary; the
	// shim puts it first in PATH. Empty: <exe dir>/../libexec/refval if its
	// runc is this binary, else a link the shim keeps under /run.
	RuncLinkDir string `toml:"runc_link_dir"`
	// LogFile and LogLevel (debug, info, warn, error) configure the log.
	LogFile  string `toml:"log_file"`
	LogLevel string `toml:"log_level"`
	// Enforce refuses to start a container whose measurement or recording
	// failed. The default (false) logs the failure and starts it.
	Enforce bool `toml:"enforce"`
	// GenerateAll writes reference values for every container, not only
	// for the container ID GenerateID.
	GenerateAll bool `toml:"generate_all"`
	// GenerateDir receives the reference values in generate mode.
	GenerateDir string `toml:"generate_dir"`
	// Limits bound the walk of a container's rootfs (the [limits] table).
	Limits DiskLimits `toml:"limits"`

	path string // file the config came from, "" for defaults
}

// DiskLimits are the limits of bundle.Limits that apply to the walk of a
// rootfs on disk, as `refval measure-bundle --max-entries --max-depth`
// sets them: names and paths on disk have already passed the kernel, and
// sizes are those of files that exist, read once each. A rootfs beyond a
// limit fails its measurement (refused with enforce, unrecorded
// otherwise). Zero (or absent) is bundle.DefaultLimits' value, -1 no
// limit.
type DiskLimits struct {
	// Entries bounds the entries of the rootfs.
	Entries int64 `toml:"entries"`
	// Depth bounds the components of a path in the rootfs.
	Depth int `toml:"depth"`
}

// bundleLimits returns l as bundle.Limits (its other fields do not apply
// on disk and keep their defaults).
func (l DiskLimits) bundleLimits() bundle.Limits {
	return bundle.Limits{Entries: l.Entries, Depth: l.Depth}.Resolved()
}

// DefaultConfig returns the configuration used when no file exists.
func DefaultConfig() *Config {
	return &Config{
		Scheme:      bundle.SchemeV1,
		Driver:      driver.SW,
		PCR:         manifest.DefaultPCR,
		List:        DefaultListPath,
		ListFormat:  measurelist.JSON,
		TPM:         DefaultTPM,
		CMCDSocket:  DefaultCMCDSocket,
		LogFile:     DefaultLogFile,
		LogLevel:    "info",
		GenerateDir: DefaultGenerateDir,
	}
}

// ConfigPath returns the path of the configuration file to read and
// whether it was asked for explicitly (through ConfigEnv).
func ConfigPath() (path string, explicit bool) {
	if p := os.Getenv(ConfigEnv); p != "" {
		return p, true
	}
	return DefaultConfigPath, false
}

// LoadConfig reads the configuration from path. If the file does not exist
// and mustExist is false, it returns the defaults. The file must be a
// regular file (a symbolic link to one is fine) of at most MaxConfigSize
// bytes: a FIFO or device is refused at once, never waited on.
//
// After parsing, the files the configuration names are checked on disk
// (CheckFiles). A configuration that parses but fails that check is
// returned together with the error, so that the caller can still log
// where the configuration says, while refusing to start containers.
func LoadConfig(path string, mustExist bool) (*Config, error) {
	return loadConfigFile(path, mustExist, true)
}

// loadConfigFile is LoadConfig, with the on-disk checks only if asked.
func loadConfigFile(path string, mustExist, checkFiles bool) (*Config, error) {
	raw, err := readConfigFile(path)
	if errors.Is(err, fs.ErrNotExist) && !mustExist {
		return DefaultConfig(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c, err := ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.path = path
	if !checkFiles {
		return c, nil
	}
	if err := c.CheckFiles(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// readConfigFile reads a regular file of at most MaxConfigSize bytes,
// opening it non-blocking so that a FIFO cannot hang the shim; a symbolic
// link to one is followed.
func readConfigFile(path string) ([]byte, error) {
	return boundedfile.Read(path, MaxConfigSize, boundedfile.FollowLinks)
}

// CheckFiles checks the files the configuration names as they are on
// disk, so that a configuration under which every start would go
// unrecorded is refused when loaded instead of failing open at each
// start: the list must not be a symbolic link, a directory or any other
// non-regular file (nor its lock, nor its index LIST.idx), and its
// directory, if it exists, must be a directory. A list that does not
// exist yet is fine.
func (c *Config) CheckFiles() error {
	for _, p := range []struct{ key, path string }{{"list", c.List}, {"list", c.List + ".lock"}, {"list", c.List + ".idx"}} {
		fi, err := os.Lstat(p.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrConfig, p.key, err)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s: %s %w", ErrConfig, p.key, p.path, measurelist.ErrSymlink)
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%w: %s: %s %w (%s)", ErrConfig, p.key, p.path, measurelist.ErrNotRegular, fi.Mode().Type())
		}
	}
	if fi, err := os.Stat(filepath.Dir(c.List)); err == nil && !fi.IsDir() {
		return fmt.Errorf("%w: list: %s is not a directory", ErrConfig, filepath.Dir(c.List))
	}
	return nil
}

// ParseConfig parses TOML over the defaults and validates the result.
// Unknown keys are errors: a misspelt "enforce" must not silently turn
// into fail-open.
func ParseConfig(raw []byte) (*Config, error) {
	c := DefaultConfig()
	dec := toml.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		var sme *toml.StrictMissingError
		if errors.As(err, &sme) {
			return nil, fmt.Errorf("%w: %s", ErrConfig, sme.String())
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			if k := de.Key(); len(k) > 0 {
				return nil, fmt.Errorf("%w: line %d column %d: key %s: %s", ErrConfig, row, col, strings.Join(k, "."), de.Error())
			}
			return nil, fmt.Errorf("%w: line %d column %d: %s", ErrConfig, row, col, de.Error())
		}
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks every field and names the first bad one.
func (c *Config) Validate() error {
	scheme, err := bundle.ParseScheme(string(c.Scheme))
	if err != nil {
		return fmt.Errorf("%w: scheme: %w", ErrConfig, err)
	}
	c.Scheme = scheme // "" is the default scheme: name it
	if c.CMCVersion != "" {
		v, err := manifest.ParseCMCVersion(string(c.CMCVersion))
		if err != nil {
			return fmt.Errorf("%w: cmc_version: %w", ErrConfig, err)
		}
		c.CMCVersion = v
	}
	if c.Scheme == bundle.SchemeCMC {
		c.Scheme = c.CMC().Scheme()
	}
	if err := c.Driver.Validate(); err != nil {
		return fmt.Errorf("%w: driver: %w", ErrConfig, err)
	}
	// The CMC convention is PCR 11.
	if err := c.PCR.Validate(); err != nil {
		return fmt.Errorf("%w: pcr: %w", ErrConfig, err)
	}
	if err := c.ListFormat.Validate(); err != nil {
		return fmt.Errorf("%w: list_format: %w", ErrConfig, err)
	}
	for _, f := range []struct{ key, val string }{
		{"list", c.List}, {"log_file", c.LogFile}, {"generate_dir", c.GenerateDir},
		{"runc", c.Runc}, {"runc_shim", c.RuncShim}, {"runc_link_dir", c.RuncLinkDir},
		{"tpm", c.TPM}, {"cmcd_socket", c.CMCDSocket},
	} {
		// No system call takes a path with a NUL byte: such a path could
		// never be opened, and every start would fail.
		if strings.ContainsRune(f.val, 0) {
			return fmt.Errorf("%w: %s: %q holds a NUL byte", ErrConfig, f.key, f.val)
		}
		if f.key == "tpm" || f.key == "cmcd_socket" {
			continue
		}
		if f.val != "" && !filepath.IsAbs(f.val) {
			return fmt.Errorf("%w: %s: %q is not an absolute path", ErrConfig, f.key, f.val)
		}
	}
	if c.List == "" {
		return fmt.Errorf("%w: list: empty", ErrConfig)
	}
	if strings.HasSuffix(c.List, "/") || filepath.Base(c.List) == ".." || filepath.Clean(c.List) == "/" {
		return fmt.Errorf("%w: list: %q names a directory", ErrConfig, c.List)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return fmt.Errorf("%w: log_level: %w", ErrConfig, err)
	}
	if c.Limits.Entries < -1 {
		return fmt.Errorf("%w: limits.entries: %d is neither a count nor -1 (no limit)", ErrConfig, c.Limits.Entries)
	}
	if c.Limits.Depth < -1 {
		return fmt.Errorf("%w: limits.depth: %d is neither a count nor -1 (no limit)", ErrConfig, c.Limits.Depth)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}
