package bundle

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Scheme names a versioned measurement scheme (docs/measurement.md).
type Scheme string

const (
	// SchemeV1 is refval's own scheme and the default: JCS over the
	// normalised config, canonical per-entry records for the rootfs.
	SchemeV1 Scheme = "refval-v1"
	// SchemeCMC reproduces the values of CMC's measure-bundle and proxy shim
	// (a tar stream of the rootfs, the config through the runtime-spec struct).
	SchemeCMC Scheme = "cmc"
)

// Schemes lists every scheme this package implements, default first.
var Schemes = []Scheme{SchemeV1, SchemeCMC}

// ParseScheme returns the Scheme named s ("" means the default).
func ParseScheme(s string) (Scheme, error) {
	if s == "" {
		return SchemeV1, nil
	}
	for _, k := range Schemes {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("%w: %q (want refval-v1 or cmc)", ErrUnsupportedScheme, s)
}

// Sentinel errors. Errors returned by this package wrap one of these where
// one applies, so callers can test with errors.Is.
var (
	// ErrUnsupportedScheme: the scheme name is not one of Schemes.
	ErrUnsupportedScheme = errors.New("unsupported measurement scheme")
	// ErrInvalidConfig: config.json is not a runtime config the rules can
	// normalise (not JSON, not an object, or a field of the wrong type).
	ErrInvalidConfig = errors.New("invalid bundle config")
	// ErrInvalidRootfs: the rootfs is missing or is not a directory.
	ErrInvalidRootfs = errors.New("invalid rootfs")
	// ErrUnknownType: a record carries an entry type refval-v1 does not define.
	ErrUnknownType = errors.New("unknown entry type")
	// ErrFileChanged: a file changed while it was being measured, so no
	// digest of it would be honest.
	ErrFileChanged = errors.New("file changed during measurement")
)

// Result is the measurement of one bundle.
type Result struct {
	Scheme         Scheme `json:"scheme"`
	ConfigSha256   Digest `json:"configSha256"`
	RootfsSha256   Digest `json:"rootfsSha256"`
	TemplateSha256 Digest `json:"templateSha256"`
	// NormalizedConfig holds the exact bytes whose SHA-256 is ConfigSha256.
	NormalizedConfig []byte `json:"-"`
	// Entries counts the rootfs entries measured.
	Entries int `json:"entries"`
}

type options struct {
	scheme      Scheme
	containerID string
	configPath  string
	rootfsPath  string
	recordFn    func(*Record) error
	workers     int
	uidMap      []specs.LinuxIDMapping
	gidMap      []specs.LinuxIDMapping
	idMapSet    bool
	// noRootless ignores user.rootlesscontainers (WithoutRootlessXattr).
	noRootless bool
	limits     Limits // WithLimits; a zero field is its default (Limits.Resolved)
}

// Option configures a measurement.
type Option func(*options) error

// WithScheme selects the measurement scheme (default SchemeV1).
func WithScheme(s Scheme) Option {
	return func(o *options) error {
		k, err := ParseScheme(string(s))
		o.scheme = k
		return err
	}
}

// WithContainerID names the container whose ID (and its 12-character
// prefix) the config rules replace by "<container-id>".
func WithContainerID(id string) Option {
	return func(o *options) error { o.containerID = id; return nil }
}

// WithConfigPath measures this file instead of BUNDLE/config.json.
func WithConfigPath(p string) Option {
	return func(o *options) error { o.configPath = p; return nil }
}

// WithRootfsPath measures this directory instead of the one root.path names.
func WithRootfsPath(p string) Option {
	return func(o *options) error { o.rootfsPath = p; return nil }
}

// WithRecordFunc calls fn with every refval-v1 rootfs record, in
// measurement order, from the calling goroutine of Measure or HashRootfs.
// The record is only valid during the call. An error from fn stops the
// measurement and is returned. It has no effect with SchemeCMC.
func WithRecordFunc(fn func(*Record) error) Option {
	return func(o *options) error { o.recordFn = fn; return nil }
}

// WithWorkers bounds the number of files hashed at once (default GOMAXPROCS).
func WithWorkers(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("workers: %d is not a positive number", n)
		}
		o.workers = n
		return nil
	}
}

// WithIDMappings translates on-disk (host) owners into the IDs the
// container sees, as the kernel does for a user namespace with these
// mappings. Measure takes them from linux.uidMappings and linux.gidMappings
// of the bundle config unless this option is given.
func WithIDMappings(uids, gids []specs.LinuxIDMapping) Option {
	return func(o *options) error {
		o.uidMap, o.gidMap, o.idMapSet = uids, gids, true
		return nil
	}
}

// WithoutRootlessXattr measures the on-disk owner (through the ID
// mappings) and ignores user.rootlesscontainers. The runtime measurement
// must use it: that xattr only describes a rootless unpack's intent, the
// kernel never applies it, and an engine running as root (containerd's
// layer applier) copies it verbatim from image layers, so honouring it
// there would let an image claim any owner for any file (for example a
// setuid binary owned by root that measures as owned by uid 1000).
func WithoutRootlessXattr() Option {
	return func(o *options) error { o.noRootless = true; return nil }
}

func newOptions(opts []Option) (*options, error) {
	o := &options{scheme: SchemeV1, workers: runtime.GOMAXPROCS(0)}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

var _ = context.Background
