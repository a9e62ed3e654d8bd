package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/umoci/oci/layer"
	"golang.org/x/sys/unix"

	"github.com/refval/refval/oci/layerfs"
)

// TopLayerFunc returns a layer (an uncompressed tar; nil for none) that an
// engine puts on top of the image's layers before the container starts,
// computed from the image's root filesystem: Docker's init layer, for
// example (engine.Predictor.TopLayer).
type TopLayerFunc func(img ocispec.Image, rootfs fs.ReadLinkFS) ([]byte, error)

// WithTopLayer makes MeasureImage measure, and Unpack write, the rootfs
// with fn's layer applied on top of the image's, as the engine's container
// sees it.
func WithTopLayer(fn TopLayerFunc) Option {
	return func(o *options) error { o.topLayer = fn; return nil }
}

// applyTopLayer applies the top layer, if any, to the tree of m.
func (o *options) applyTopLayer(ctx context.Context, m *Manifest, t *layerfs.Tree, rootfs fs.ReadLinkFS) error {
	if o.topLayer == nil {
		return nil
	}
	b, err := o.topLayer(m.config, rootfs)
	if err != nil {
		return err
	}
	if b == nil {
		return nil
	}
	if err := t.Apply(ctx, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("engine layer: %w", err)
	}
	return nil
}

// applyTopLayerDir applies the top layer, if any, to the unpacked rootfs
// (the image's files as the function's view), with the extractor and ID
// mappings of the unpack.
func applyTopLayerDir(ctx context.Context, top TopLayerFunc, img ocispec.Image, rootfs string, mo layer.MapOptions) error {
	if top == nil {
		return nil
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	b, err := top(img, root.FS().(fs.ReadLinkFS))
	root.Close()
	if err != nil || b == nil {
		return err
	}
	old := unix.Umask(0o022) // as extract
	defer unix.Umask(old)
	te := layer.NewTarExtractor(&layer.UnpackOptions{OnDiskFormat: layer.DirRootfs{MapOptions: mo}})
	err = layerfs.Entries(ctx, bytes.NewReader(b), func(_ int, hdr *tar.Header, content io.Reader) error {
		return te.UnpackEntry(rootfs, hdr, content)
	})
	if err != nil {
		return fmt.Errorf("engine layer: %w", err)
	}
	return nil
}
