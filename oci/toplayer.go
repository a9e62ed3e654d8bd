package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/oci/layerfs"
)

// TopLayerFunc returns a layer (an uncompressed tar; nil for none) that an
// engine puts on top of the image's layers before the container starts,
// computed from the image's root filesystem: Docker's init layer, for
// example (engine.Predictor.TopLayer).
type TopLayerFunc func(img ocispec.Image, rootfs fs.ReadLinkFS) ([]byte, error)

// WithTopLayer makes MeasureImage measure the rootfs with fn's layer
// applied on top of the image's, as the engine's container sees it. Unpack
// and the cmc scheme (which measures an unpacked tree) refuse it for now.
func WithTopLayer(fn TopLayerFunc) Option {
	return func(o *options) error { o.topLayer = fn; return nil }
}

// errTopLayerUnpack: an engine's top layer is only applied by the
// in-memory measurement.
var errTopLayerUnpack = errors.New("the engine's own layer (Docker's init layer) is applied only by the in-memory measurement: use refval measure with scheme refval-v1 or refval-v2, not an unpacked bundle")

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
