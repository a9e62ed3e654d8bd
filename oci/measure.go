package oci

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/umoci/oci/layer"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/staging"
	"github.com/refval/refval/oci/layerfs"
)

// ImageMeasurement is the measurement of an image, one result per
// platform measured.
type ImageMeasurement struct {
	Image   *Image        `json:"image"`
	Results []Measurement `json:"results"`
}

// Measurement is the measurement of one platform's image: the reference
// value of the bundle refval's unpack would produce for it as root.
type Measurement struct {
	Manifest *Manifest     `json:"manifest"`
	Result   bundle.Result `json:"result"`
	// Config is the config.json the measurement covers (before
	// normalisation; Result.NormalizedConfig holds the hashed form).
	Config []byte `json:"-"`
}

// retainMax bounds the /etc/passwd and /etc/group kept in memory while
// layers stream by; larger ones are read again from their layer.
const retainMax = 1 << 20

// maxUserFile bounds the /etc/passwd or /etc/group read into memory to
// resolve the image's user (boundedFS, for the layer tree's view and the
// unpacked rootfs alike); a larger one is refused rather than letting a
// hostile image exhaust memory (umoci's conversion and the engine
// profiles refuse more than 10 MiB, as containerd 2.x does; real files
// are a few KiB).
var maxUserFile int64 = 64 << 20 // a variable for tests

// MeasureImage pulls ref (see Pull; WithPullPolicy(PullNever) to stay
// offline) and measures it without unpacking it: with bundle.SchemeV1 the
// layers stream through layerfs into an in-memory tree, file contents are
// hashed as they pass, and the tree is measured as a record source by
// bundle.MeasureSource, the code bundle.Measure runs on a directory (same
// config hashing, same digest of the records). The result equals Unpack (as root) followed by
// bundle.Measure on the bundle, config included; it needs no privilege and
// is exact for owners, capabilities and device nodes. WithAllPlatforms
// measures every image of an index. With bundle.SchemeCMC, whose rootfs
// digest is defined over an on-disk tree, the image is unpacked into a
// temporary bundle and measured from there.
func MeasureImage(ctx context.Context, ref string, opts ...Option) (*ImageMeasurement, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	img, err := o.pullImage(ctx, ref)
	if err != nil {
		return nil, err
	}
	s := o.readStore()
	defer s.wait()
	out := &ImageMeasurement{Image: img}
	for i := range img.Manifests {
		m := &img.Manifests[i]
		var res Measurement
		if o.scheme.IsCMC() {
			res, err = o.measureUnpacked(ctx, s, m)
		} else {
			res, err = o.measureStream(ctx, s, m)
		}
		if err != nil {
			return nil, fmt.Errorf("measure %s (%s): %w", ref, m.Digest, err)
		}
		out.Results = append(out.Results, res)
	}
	return out, nil
}

func (o *options) bundleOptions() []bundle.Option {
	bo := []bundle.Option{bundle.WithScheme(o.scheme), bundle.WithContainerID(o.containerID)}
	if o.recordFn != nil {
		bo = append(bo, bundle.WithRecordFunc(o.recordFn))
	}
	return bo
}

// Tree applies the layers of m to an in-memory tree (layerfs), verifying
// blob digests and diff IDs on the way.
func (s *store) tree(ctx context.Context, m *Manifest) (*layerfs.Tree, error) {
	t := layerfs.New(layerfs.WithLimits(s.limits), layerfs.WithRetain(func(p string, size int64) bool {
		return (p == "/etc/passwd" || p == "/etc/group") && size <= retainMax
	}))
	for i, l := range m.Layers {
		if err := s.withLayer(l, func(r io.Reader) error { return t.Apply(ctx, r) }); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, l.Digest, err)
		}
	}
	return t, nil
}

func (o *options) measureStream(ctx context.Context, s *store, m *Manifest) (Measurement, error) {
	t, err := s.tree(ctx, m)
	if err != nil {
		return Measurement{}, err
	}
	if err := o.applyTopLayer(ctx, m, t, s.treeFS(m, t)); err != nil {
		return Measurement{}, err
	}
	cfg, err := o.runtimeConfigFor(m.config, s.treeFS(m, t), layer.MapOptions{})
	if err != nil {
		return Measurement{}, err
	}
	r, err := bundle.MeasureSource(ctx, cfg, t, o.bundleOptions()...)
	if err != nil {
		return Measurement{}, err
	}
	return Measurement{Manifest: m, Config: cfg, Result: *r}, nil
}

// measureUnpacked unpacks m into a temporary bundle (rootless when not
// root) and measures it from disk.
func (o *options) measureUnpacked(ctx context.Context, s *store, m *Manifest) (Measurement, error) {
	// A staging directory (internal/staging): removed here, or by a later
	// measure if this process dies first.
	sd, err := staging.Create(o.tmpDir, "refval-measure-", removeStaged)
	if err != nil {
		return Measurement{}, err
	}
	defer sd.Close()
	tmp := sd.Path
	rootless := os.Geteuid() != 0
	defer removeTree(tmp, rootless)
	dir := tmp + "/bundle"
	inexact, err := unpackBundle(ctx, s, m, dir, rootless, false, o.runtimeConfigFor, o.topLayer)
	if err != nil {
		return Measurement{}, err
	}
	if len(inexact) > 0 {
		return Measurement{}, fmt.Errorf("a rootless unpack cannot measure this image exactly with the cmc scheme: %v", inexact)
	}
	r, err := bundle.Measure(ctx, dir, o.bundleOptions()...)
	if err != nil {
		return Measurement{}, err
	}
	cfg, _ := os.ReadFile(dir + "/config.json")
	return Measurement{Manifest: m, Result: *r, Config: cfg}, nil
}
