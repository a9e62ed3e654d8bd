package engine

import (
	"io/fs"
	"testing/fstest"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ConfigPredictor predicts the config.json an engine writes for an image
// whose root filesystem is rootfs: Predictor (containerd, ctr run) and
// KubePredictor (kubelet + containerd CRI). Measure the config with
// bundle.WithContainerID(ContainerID()).
type ConfigPredictor interface {
	Config(image ocispec.Image, rootfs fs.FS) ([]byte, error)
	ContainerID() string
}

// LayerAdder is a ConfigPredictor whose engine adds a layer of its own on
// top of the image's when it creates the container (Docker's init layer):
// TopLayer returns it as a tar stream for the image's rootfs, when
// AddsLayer says the prediction has one.
type LayerAdder interface {
	AddsLayer() bool
	TopLayer(image ocispec.Image, rootfs fs.ReadLinkFS) ([]byte, error)
}

var (
	_ LayerAdder      = (*Predictor)(nil)
	_ ConfigPredictor = (*Predictor)(nil)
	_ ConfigPredictor = (*KubePredictor)(nil)
)

// Predictor is a prediction set up once (engine, run options, base spec,
// host) and applied to any number of images, e.g. by `refval generate`.
type Predictor struct {
	Profile Profile
	Run     RunOptions
	// BaseSpec is a `ctr oci spec` capture (nil: the profile's default).
	BaseSpec []byte
	// Host is the device profile (nil: unknown; see ErrHostDependent).
	Host *Host
	// ID is the container ID to predict for ("" means DefaultContainerID).
	ID string
}

// ContainerID returns the ID the configs are predicted for. Measure them
// with bundle.WithContainerID(p.ContainerID()).
func (p *Predictor) ContainerID() string {
	if p.ID == "" {
		if p.Profile.Kind == Docker || p.Profile.Kind == Nerdctl {
			return DockerDefaultContainerID
		}
		return DefaultContainerID
	}
	return p.ID
}

// Config predicts the config.json for image whose root filesystem is
// rootfs (only etc/passwd and etc/group are read, symlinks resolved inside
// it: an unpacked rootfs, the layer tree's view of package oci/layerfs, or
// UserFiles for callers that hold only the two files' content).
func (p *Predictor) Config(image ocispec.Image, rootfs fs.FS) ([]byte, error) {
	opts := []Option{WithProfile(p.Profile), WithHost(p.Host), WithContainerID(p.ContainerID())}
	if p.BaseSpec != nil {
		opts = append(opts, WithBaseSpec(p.BaseSpec))
	}
	return Predict(image, rootfs, p.Run, opts...)
}

// UserFiles returns a file system holding only etc/passwd and etc/group
// with the given content (a nil slice leaves the file out), for callers
// that hold the two files' content instead of a root filesystem.
func UserFiles(passwd, group []byte) fs.FS {
	m := fstest.MapFS{}
	if passwd != nil {
		m["etc/passwd"] = &fstest.MapFile{Data: passwd, Mode: 0o644}
	}
	if group != nil {
		m["etc/group"] = &fstest.MapFile{Data: group, Mode: 0o644}
	}
	return m
}
