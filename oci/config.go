package oci

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/umoci/oci/config/convert"
	"github.com/opencontainers/umoci/oci/layer"

	"github.com/refval/refval/engine"
	"github.com/refval/refval/oci/layerfs"
)

// RuntimeConfigFunc produces the runtime config.json for an image from its
// image config and its root filesystem, of which only /etc/passwd and
// /etc/group are meant to be read: MeasureImage gives the layer tree's
// view (layerfs.Tree.FS), Unpack the unpacked rootfs. Both views resolve
// symlinks inside the image, implement fs.ReadLinkFS, and refuse to read
// a file larger than 64 MiB (ErrInvalidImage). engine.Predictor.Config is
// one such function.
type RuntimeConfigFunc func(img ocispec.Image, rootfs fs.FS) ([]byte, error)

// WithRuntimeConfig replaces umoci's image-config conversion: Unpack
// writes, and MeasureImage measures, the config fn returns (an engine
// profile's prediction, for example). Unpack and MeasureImage still agree
// when both get the same fn. It takes precedence over WithConfigFunc.
func WithRuntimeConfig(fn RuntimeConfigFunc) Option {
	return func(o *options) error { o.configFS = fn; return nil }
}

// runtimeConfigFor returns the config.json for img whose root filesystem
// is rootfs, by the function WithRuntimeConfig or WithConfigFunc gave, or
// else by umoci's conversion with the ID mappings of the unpack (mo).
// Unpack and MeasureImage both come here, so their configs agree for
// every image.
func (o *options) runtimeConfigFor(img ocispec.Image, rootfs fs.ReadLinkFS, mo layer.MapOptions) ([]byte, error) {
	rootfs = boundedFS{rootfs}
	switch {
	case o.configFS != nil:
		return o.configFS(img, rootfs)
	case o.configFn != nil:
		var files [2][]byte // passwd, group
		for i, name := range []string{"etc/passwd", "etc/group"} {
			var err error
			if files[i], err = readUserFile(rootfs, name); err != nil {
				return nil, err
			}
		}
		return o.configFn(img, files[0], files[1])
	}
	return umociConfig(img, rootfs, mo)
}

// readUserFile returns the content of a user file for a ConfigFunc: that
// of the regular file name resolves to inside rootfs, nil when none.
func readUserFile(rootfs fs.FS, name string) ([]byte, error) {
	f, err := engine.OpenUserFile(rootfs, name)
	if err != nil || f == nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// umociConfig returns the config.json umoci writes for an image
// (oci/layer.UnpackRuntimeJSON): umoci's image-config → runtime-spec
// conversion (engine.RuncSpec, which reads /etc/passwd and /etc/group
// from rootfs, symlinks resolved inside the image, where umoci would open
// them by host path), then umoci's user-namespace and rootless edits.
func umociConfig(img ocispec.Image, rootfs fs.FS, mo layer.MapOptions) ([]byte, error) {
	spec, err := engine.RuncSpec(img, rootfs)
	if err != nil {
		return nil, fmt.Errorf("%w: runtime config: %v", ErrInvalidImage, err)
	}
	// From layer.UnpackRuntimeJSON (umoci v0.6.0): a user namespace when
	// there are mappings, then the rootless conversion.
	if len(mo.UIDMappings) > 0 || len(mo.GIDMappings) > 0 {
		var namespaces []rspec.LinuxNamespace
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type != rspec.UserNamespace {
				namespaces = append(namespaces, ns)
			}
		}
		spec.Linux.Namespaces = append(namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
	}
	spec.Linux.UIDMappings = mo.UIDMappings
	spec.Linux.GIDMappings = mo.GIDMappings
	if mo.Rootless {
		if err := convert.ToRootless(spec); err != nil {
			return nil, fmt.Errorf("runtime config: rootless: %w", err)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "\t")
	if err := enc.Encode(spec); err != nil {
		return nil, fmt.Errorf("runtime config: %w", err)
	}
	return buf.Bytes(), nil
}

// boundedFS refuses to read a regular file larger than maxUserFile, so
// that a hostile image cannot make the config conversion read a huge
// /etc/passwd into memory: the open succeeds (the file exists, and its
// Stat says how large it is), every read fails with ErrInvalidImage.
type boundedFS struct{ fs.ReadLinkFS }

func (b boundedFS) Open(name string) (fs.File, error) {
	f, err := b.ReadLinkFS.Open(name)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > maxUserFile {
		return tooLarge{f, fmt.Errorf("%w: /%s is %d bytes, more than %d", ErrInvalidImage, name, fi.Size(), maxUserFile)}, nil
	}
	return f, nil
}

type tooLarge struct {
	fs.File
	err error
}

func (t tooLarge) Read([]byte) (int, error) { return 0, t.err }

// treeFS is the view of the layer tree t of m that the config conversion
// reads: contents the tree did not retain are read again from their layer.
func (s *store) treeFS(m *Manifest, t *layerfs.Tree) fs.ReadLinkFS {
	return t.FS(func(name string, f layerfs.File) (io.Reader, error) {
		if f.Content != nil || f.Size == 0 {
			return bytes.NewReader(f.Content), nil
		}
		var out []byte
		err := s.withLayer(m.Layers[f.Loc.Layer], func(r io.Reader) error {
			tr := tar.NewReader(r)
			for i := 0; ; i++ {
				if _, err := tr.Next(); err != nil {
					return fmt.Errorf("reading /%s again: %w", name, err)
				}
				if i == f.Loc.Entry {
					var err error
					out, err = io.ReadAll(io.LimitReader(tr, f.Size))
					return err
				}
			}
		})
		return bytes.NewReader(out), err
	})
}

// configFunc is runtimeConfigFor's signature, what unpackBundle converts with.
type configFunc func(img ocispec.Image, rootfs fs.ReadLinkFS, mo layer.MapOptions) ([]byte, error)
