package oci

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/bundle"
)

// PullPolicy says when Pull (and the functions that pull first) contact
// the image's source.
type PullPolicy string

const (
	// PullAlways copies from the source every time (the default). Blobs
	// already in the store are not transferred again, so this costs one
	// manifest fetch when nothing changed, and a moved tag is never missed.
	PullAlways PullPolicy = "always"
	// PullNever uses only what an earlier pull put into the store: no
	// network, no source access (offline measurement).
	PullNever PullPolicy = "never"
)

type options struct {
	layout       string
	platform     *ocispec.Platform
	allPlatforms bool
	authFile     string
	creds        string
	tlsVerify    *bool
	certDir      string
	policyPath   string
	insecurePol  bool
	report       io.Writer
	pull         PullPolicy
	force        bool
	rootless     *bool
	scheme       bundle.Scheme
	containerID  string
	recordFn     func(*bundle.Record) error
	tmpDir       string
	configFn     ConfigFunc
	configFS     RuntimeConfigFunc // WithRuntimeConfig (config.go)
	limits       bundle.Limits
	topLayer     TopLayerFunc // WithTopLayer (toplayer.go)
}

// Option configures Pull, Unpack and MeasureImage.
type Option func(*options) error

func newOptions(opts []Option) (*options, error) {
	o := &options{pull: PullAlways, scheme: bundle.SchemeV1}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.layout == "" {
		d, err := DefaultLayout()
		if err != nil {
			return nil, err
		}
		o.layout = d
	}
	return o, nil
}

// DefaultLayout returns the default layout store, refval/oci under the
// user's cache directory (os.UserCacheDir: $XDG_CACHE_HOME or ~/.cache).
func DefaultLayout() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("default layout store: %w", err)
	}
	return filepath.Join(d, "refval", "oci"), nil
}

// WithLayout selects the OCI image layout directory that serves as the
// image store (default DefaultLayout()).
func WithLayout(dir string) Option {
	return func(o *options) error { o.layout = dir; return nil }
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
		return ocispec.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant]", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// WithPlatform selects the image of a multi-platform index ("os/arch" or
// "os/arch/variant"); the default is the host's platform.
func WithPlatform(p string) Option {
	return func(o *options) error {
		pl, err := ParsePlatform(p)
		o.platform = &pl
		return err
	}
}

// WithAllPlatforms pulls (and measures) every image of an index.
func WithAllPlatforms() Option {
	return func(o *options) error { o.allPlatforms = true; return nil }
}

// WithAuthFile reads registry credentials from this auth.json. Without
// it: $REGISTRY_AUTH_FILE, then containers/image's defaults
// ($XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json,
// ~/.docker/config.json, ~/.dockercfg).
func WithAuthFile(path string) Option {
	return func(o *options) error { o.authFile = path; return nil }
}

// WithCredentials uses "USER[:PASSWORD]" for the registry.
func WithCredentials(userPass string) Option {
	return func(o *options) error {
		if userPass == "" {
			return fmt.Errorf("credentials: empty")
		}
		o.creds = userPass
		return nil
	}
}

// WithTLSVerify requires (true) or skips (false) TLS verification and
// HTTPS for the registry; unset, registries.conf decides (HTTPS verified).
func WithTLSVerify(v bool) Option {
	return func(o *options) error { o.tlsVerify = &v; return nil }
}

// WithCertDir uses the certificates (*.crt, *.cert, *.key) in dir to
// talk to the registry.
func WithCertDir(dir string) Option {
	return func(o *options) error { o.certDir = dir; return nil }
}

// WithPolicy verifies images against this signature policy (policy.json)
// instead of the system default.
func WithPolicy(path string) Option {
	return func(o *options) error { o.policyPath = path; return nil }
}

// WithInsecurePolicy accepts any image without verifying signatures (like
// skopeo --insecure-policy).
func WithInsecurePolicy() Option {
	return func(o *options) error { o.insecurePol = true; return nil }
}

// WithProgress writes transfer progress to w: containers/image draws mpb
// progress bars when w is a terminal and "Copying blob" lines otherwise.
// Without it nothing is written.
func WithProgress(w io.Writer) Option {
	return func(o *options) error { o.report = w; return nil }
}

// WithPullPolicy sets when the source is contacted (default PullAlways).
func WithPullPolicy(p PullPolicy) Option {
	return func(o *options) error {
		switch p {
		case PullAlways, PullNever:
			o.pull = p
			return nil
		}
		return fmt.Errorf("pull policy %q: want always or never", p)
	}
}

// WithForce lets Unpack replace a non-empty destination.
func WithForce() Option {
	return func(o *options) error { o.force = true; return nil }
}

// WithRootless forces (true) or forbids (false) a rootless unpack; the
// default is rootless exactly when not running as root.
func WithRootless(v bool) Option {
	return func(o *options) error { o.rootless = &v; return nil }
}

// WithScheme selects the measurement scheme of MeasureImage (default
// bundle.SchemeV1). SchemeCMC hashes an on-disk tree, so MeasureImage then
// unpacks the image into a temporary bundle first.
func WithScheme(s bundle.Scheme) Option {
	return func(o *options) error {
		k, err := bundle.ParseScheme(string(s))
		o.scheme = k
		return err
	}
}

// WithContainerID is bundle.WithContainerID for MeasureImage.
func WithContainerID(id string) Option {
	return func(o *options) error { o.containerID = id; return nil }
}

// WithRecordFunc is bundle.WithRecordFunc for MeasureImage: fn gets every
// rootfs record in measurement order (with several platforms, platform
// after platform).
func WithRecordFunc(fn func(*bundle.Record) error) Option {
	return func(o *options) error { o.recordFn = fn; return nil }
}

// WithTempDir sets where MeasureImage with SchemeCMC unpacks (default
// os.TempDir()).
func WithTempDir(dir string) Option {
	return func(o *options) error { o.tmpDir = dir; return nil }
}

// ConfigFunc produces the runtime config.json for an image from its image
// config and the content of its /etc/passwd and /etc/group (nil when
// absent; symlinks resolved inside the image): RuntimeConfigFunc for
// callers that need no more of the image than these two files' content.
type ConfigFunc func(img ocispec.Image, passwd, group []byte) ([]byte, error)

// WithConfigFunc replaces umoci's image-config conversion: Unpack writes,
// and MeasureImage measures, the config fn returns (an engine profile's
// prediction, for example). Unpack and MeasureImage still agree when both
// get the same fn.
func WithConfigFunc(fn ConfigFunc) Option {
	return func(o *options) error { o.configFn = fn; return nil }
}

// WithLimits bounds the work a hostile image can cause in MeasureImage and
// Unpack: expanded bytes per layer and per image, the expansion ratio,
// entries, path depth, name and path length (bundle.Limits; zero fields
// keep their defaults, negative ones remove the limit). An image beyond a
// limit is refused with a *bundle.LimitError naming the layer, the entry
// and the limit.
func WithLimits(l bundle.Limits) Option {
	return func(o *options) error { o.limits = l; return nil }
}
