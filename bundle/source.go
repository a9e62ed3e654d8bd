package bundle

import (
	"context"
	"fmt"
)

// Source is a root filesystem given as its refval-v1 records: Records
// calls fn with the record of every entry, the root "/" first, in
// measurement order (pre-order, children sorted bytewise by name), and
// stops at and returns the first error fn returns. A record is only valid
// during the call.
//
// The directory walker of this package is one source (HashRootfs,
// Measure); the in-memory layer tree of package oci/layerfs is another
// (an image measured from its layers). Both reach the digest through
// HashSource, so the same records give the same digest, and the record
// function sees them in the same order, whichever source produced them.
type Source interface {
	Records(fn func(*Record) error) error
}

// HashSource returns the refval-v1 rootfs digest of the records src
// yields, and their number. It is the one place the digest is computed:
// each record is added to the RootfsHasher and then, if WithRecordFunc
// was given, passed to the record function (so the function sees only
// records that were measured, in measurement order).
func HashSource(src Source, opts ...Option) (Digest, int, error) {
	o, err := newOptions(opts)
	if err != nil {
		return Digest{}, 0, err
	}
	return hashSource(src, o.recordFn)
}

func hashSource(src Source, recordFn func(*Record) error) (Digest, int, error) {
	h := NewRootfsHasher()
	err := src.Records(func(r *Record) error {
		if err := h.Add(r); err != nil {
			return err
		}
		if recordFn != nil {
			return recordFn(r)
		}
		return nil
	})
	if err != nil {
		return Digest{}, 0, err
	}
	return h.Sum(), h.Count(), nil
}

// dirSource is a directory tree on disk, walked by the parallel walker of
// rootfs.go with the owner translation of its options.
type dirSource struct {
	ctx  context.Context
	root string
	o    *options
}

func (d dirSource) Records(fn func(*Record) error) error {
	return walkRecords(d.ctx, d.root, d.o, fn)
}

// ctxSource checks ctx every 1024 records of a source that has no context
// of its own (an in-memory tree).
type ctxSource struct {
	ctx context.Context
	src Source
}

func (c ctxSource) Records(fn func(*Record) error) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	n := 0
	return c.src.Records(func(r *Record) error {
		if n++; n%1024 == 0 {
			if err := c.ctx.Err(); err != nil {
				return err
			}
		}
		return fn(r)
	})
}

// MeasureSource measures the bundle whose config.json holds config and
// whose rootfs src yields (schemes refval-v1 and refval-v2, whose rootfs
// digests are the same; scheme cmc hashes a tar stream of an on-disk tree,
// not records). It is Measure without the
// files: the same config hashing, the same digest of the records, the same
// Result. package oci measures images through it, with the layer tree as
// the source. Config errors are prefixed by "config:".
func MeasureSource(ctx context.Context, config []byte, src Source, opts ...Option) (*Result, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.scheme == SchemeCMC {
		return nil, fmt.Errorf("%w: %s measures a directory, not records (use Measure)", ErrUnsupportedScheme, o.scheme)
	}
	return measure(o, "config", config, opts, func() (Digest, int, error) {
		return hashSource(ctxSource{ctx, src}, o.recordFn)
	})
}
