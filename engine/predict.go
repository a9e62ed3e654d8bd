package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/moby/sys/user"
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
	case Docker:
		if err := CheckDockerRun(&ro, o.host); err != nil {
			return nil, err
		}
		return predictDocker(image, rootfs, ro.Docker, o.host, o.id)
	case Nerdctl:
		if o.baseSpec != nil {
			return nil, fmt.Errorf("%w: the nerdctl engine builds its spec with its own containerd client library and takes no base spec", ErrUnsupported)
		}
		return predictNerdctl(image, rootfs, &ro, o.host, o.id)
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

// predictRunc is the runc profile: RuncSpec, for an image that may leave
// its OS out (Predict takes such an image as linux).
func predictRunc(image ocispec.Image, rootfs fs.FS) (*specs.Spec, error) {
	if image.OS == "" {
		image.OS = "linux"
	}
	s, err := RuncSpec(image, rootfs)
	if err != nil {
		return nil, fmt.Errorf("predict runc config: %w", err)
	}
	return s, nil
}

// RuncSpec is umoci's image-config → runtime-spec conversion
// (convert.ToRuntimeSpec of umoci v0.6.0): the config.json an unpack as
// root writes, before umoci's user-namespace and rootless edits. It is
// the one implementation: the runc profile predicts with it and package
// oci writes and measures its bundles' configs with it.
//
// umoci resolves the image's user against the rootfs's /etc/passwd and
// /etc/group opened by host path; here they are read from rootfs with
// symlinks resolved inside it (OpenUserFile; a missing or non-regular file
// is ignored, as umoci ignores one it cannot open, and more than 10 MiB
// is an error when umoci would read it, as its reader's cap makes it),
// and handed to the same parser (moby/sys/user.GetExecUser). umoci does
// everything else; root.path is "rootfs", the rootfs's name in a bundle.
func RuncSpec(image ocispec.Image, rootfs fs.FS) (*specs.Spec, error) {
	passwd, err := umociUserFile(rootfs, "etc/passwd")
	if err != nil {
		return nil, err
	}
	group, err := umociUserFile(rootfs, "etc/group")
	if err != nil {
		return nil, err
	}
	userSpec := image.Config.User
	// Without a rootfs and with no user, umoci's own lookup resolves
	// nothing: process.user stays 0:0 with no HOME, and is set below.
	image.Config.User = ""
	s, err := convert.ToRuntimeSpec("", image)
	if err != nil {
		return nil, err
	}
	s.Root.Path = runcRootfs
	u, err := user.GetExecUser(userSpec, nil, passwd, group)
	if err != nil {
		return nil, fmt.Errorf("cannot parse user spec: %q: %w", userSpec, err)
	}
	s.Process.User.UID = uint32(u.Uid)
	s.Process.User.GID = uint32(u.Gid)
	s.Process.User.AdditionalGids = []uint32{}
	for _, g := range u.Sgids {
		s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
	}
	if u.Home != "" {
		setEnv(&s.Process.Env, "HOME", u.Home)
	}
	return &s, nil
}

// runcRootfs is root.path of an unpacked bundle (umoci's layer.RootfsName).
const runcRootfs = "rootfs"

// setEnv sets name in env as umoci does: in place when it is there, else
// appended.
func setEnv(env *[]string, name, value string) {
	for i, kv := range *env {
		if strings.HasPrefix(kv, name+"=") {
			(*env)[i] = name + "=" + value
			return
		}
	}
	*env = append(*env, name+"="+value)
}

// umociUserFile returns a reader of the user file name for umoci's
// parser: nil when there is none (OpenUserFile), and one that fails like
// umoci's capped reader when the file holds more than maxUserFileBytes,
// so that the error comes, as in umoci, only if the parser reads it.
func umociUserFile(rootfs fs.FS, name string) (io.Reader, error) {
	f, err := OpenUserFile(rootfs, name)
	if err != nil || f == nil {
		return nil, err
	}
	defer f.Close()
	b, err := readUserFile(f, name)
	if errors.Is(err, errUserFileSize) {
		return errReader{err}, nil
	}
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// errReader is a reader whose every read fails with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
