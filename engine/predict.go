package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/umoci/oci/config/convert"
)

// DefaultContainerID is the container ID predictions use unless
// WithContainerID says otherwise. The ID appears in the config
// (linux.cgroupsPath is /<namespace>/<id>), so measure a prediction with
// bundle.WithContainerID(DefaultContainerID): the measurement replaces it
// by "<container-id>", exactly as the shim does with the real ID.
const DefaultContainerID = "refval-predicted-container"

// DefaultNamespace is ctr's default --namespace.
const DefaultNamespace = "default"

type options struct {
	profile   Profile
	baseSpec  []byte
	host      *Host
	id        string
	profileOK bool
}

// Option configures Predict.
type Option func(*options) error

// WithProfile selects the engine (default: containerd DefaultVersion).
func WithProfile(p Profile) Option {
	return func(o *options) error {
		if p.Kind == Containerd && p.rules == nil {
			return fmt.Errorf("%w: use ParseProfile", ErrUnknownEngine)
		}
		o.profile, o.profileOK = p, true
		return nil
	}
}

// WithBaseSpec starts from a spec captured with `ctr oci spec` on the
// device instead of the built-in default of the profile's version.
func WithBaseSpec(raw []byte) Option {
	return func(o *options) error {
		if raw == nil {
			raw = []byte{}
		}
		o.baseSpec = raw
		return nil
	}
}

// WithHost gives the device profile that --privileged and --net-host need.
func WithHost(h *Host) Option {
	return func(o *options) error { o.host = h; return nil }
}

// WithContainerID predicts for this container ID instead of DefaultContainerID.
func WithContainerID(id string) Option {
	return func(o *options) error {
		if id == "" {
			return fmt.Errorf("%w: empty container ID", ErrInvalidOption)
		}
		o.id = id
		return nil
	}
}

// Predict returns the config.json the profile's engine writes into the
// bundle when it starts image with run options ro. rootfs is the image's
// root filesystem (only etc/passwd and etc/group are read; nil when the
// image has neither). The result is compact JSON in the runtime-spec
// field order, as containerd writes it.
func Predict(image ocispec.Image, rootfs fs.FS, ro RunOptions, opts ...Option) ([]byte, error) {
	s, err := PredictSpec(image, rootfs, ro, opts...)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("predict config: %w", err)
	}
	return b, nil
}

// PredictSpec is Predict returning the spec before serialisation.
func PredictSpec(image ocispec.Image, rootfs fs.FS, ro RunOptions, opts ...Option) (*specs.Spec, error) {
	o := &options{id: DefaultContainerID}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if !o.profileOK {
		p, err := ParseProfile(string(Containerd), DefaultVersion)
		if err != nil {
			return nil, err
		}
		o.profile = p
	}
	if image.OS != "" && image.OS != "linux" {
		return nil, fmt.Errorf("%w: image OS %q (only linux images)", ErrUnsupported, image.OS)
	}
	switch o.profile.Kind {
	case Runc:
		if !ro.IsZero() || o.baseSpec != nil {
			return nil, fmt.Errorf("%w: the runc profile is the unpacked bundle and takes no run options or base spec", ErrUnsupported)
		}
		return predictRunc(image, rootfs)
	case Containerd:
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownEngine, o.profile.Kind)
	}
	ns := ro.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	c := &Container{ID: o.id, Namespace: ns, Rootfs: rootfs, Host: o.host, rules: o.profile.rules}
	sopts, err := ro.CtrOpts(o.profile, image, o.baseSpec)
	if err != nil {
		return nil, err
	}
	var s specs.Spec
	if err := ApplyOpts(c, &s, sopts...); err != nil {
		return nil, fmt.Errorf("predict %s config: %w", o.profile, err)
	}
	return &s, nil
}

// predictRunc is umoci's conversion of the image config (what an unpack
// as root writes). umoci resolves the user from files on disk, so the
// image's passwd and group files are copied, resolved, into a temporary
// rootfs that holds nothing else.
func predictRunc(image ocispec.Image, rootfs fs.FS) (*specs.Spec, error) {
	tmp, err := os.MkdirTemp("", "refval-runc-profile-")
	if err != nil {
		return nil, fmt.Errorf("predict runc config: %w", err)
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "rootfs")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o700); err != nil {
		return nil, fmt.Errorf("predict runc config: %w", err)
	}
	c := &Container{Rootfs: rootfs, rules: knownRules[len(knownRules)-1]}
	for _, name := range []string{"etc/passwd", "etc/group"} {
		r, err := c.openUserFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("predict runc config: %w", err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("predict runc config: %w", err)
		}
		if err := os.WriteFile(filepath.Join(root, name), b, 0o600); err != nil {
			return nil, fmt.Errorf("predict runc config: %w", err)
		}
	}
	if image.OS == "" {
		image.OS = "linux"
	}
	s, err := convert.ToRuntimeSpec(root, image)
	if err != nil {
		return nil, fmt.Errorf("predict runc config: %w", err)
	}
	return &s, nil
}
