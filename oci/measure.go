package oci

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/umoci/oci/layer"

	"github.com/refval/refval/bundle"
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
// resolve the image's user; a larger one is refused rather than letting a
// hostile image exhaust memory (engine profiles refuse more than 10 MiB,
// as containerd 2.x does; real files are a few KiB).
var maxUserFile int64 = 64 << 20 // a variable for tests

// MeasureImage pulls ref (see Pull; WithPullPolicy(PullNever) to stay
// offline) and measures it without unpacking it: with bundle.SchemeV1 the
// layers stream through layerfs into an in-memory tree, file contents are
// hashed as they pass, and the records are hashed in measurement order by
// bundle.RootfsHasher. The result equals Unpack (as root) followed by
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
	t := layerfs.New(layerfs.WithRetain(func(p string, size int64) bool {
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
	passwd, err := s.treeFile(m, t, "/etc/passwd")
	if err != nil {
		return Measurement{}, err
	}
	group, err := s.treeFile(m, t, "/etc/group")
	if err != nil {
		return Measurement{}, err
	}
	var cfg []byte
	if o.configFn != nil {
		cfg, err = o.configFn(m.config, passwd, group)
	} else {
		cfg, err = runtimeConfig(m.config, passwd, group, layer.MapOptions{})
	}
	if err != nil {
		return Measurement{}, err
	}
	cfgDigest, norm, err := bundle.HashConfig(cfg, o.bundleOptions()...)
	if err != nil {
		return Measurement{}, fmt.Errorf("config: %w", err)
	}
	h := bundle.NewRootfsHasher()
	add := h.Add
	if o.recordFn != nil {
		add = func(r *bundle.Record) error {
			if err := o.recordFn(r); err != nil {
				return err
			}
			return h.Add(r)
		}
	}
	if err := t.Records(add); err != nil {
		return Measurement{}, err
	}
	rootDigest := h.Sum()
	return Measurement{Manifest: m, Config: cfg, Result: bundle.Result{
		Scheme:           o.scheme,
		ConfigSha256:     cfgDigest,
		RootfsSha256:     rootDigest,
		TemplateSha256:   bundle.TemplateHash(cfgDigest, rootDigest),
		NormalizedConfig: norm,
		Entries:          h.Count(),
	}}, nil
}

// treeFile returns the content of the regular file p of the tree (nil when
// there is none), reading its layer again when it was not retained.
func (s *store) treeFile(m *Manifest, t *layerfs.Tree, p string) ([]byte, error) {
	f, ok, err := t.LookupFile(p)
	if err != nil || !ok {
		return nil, err
	}
	if f.Size > maxUserFile {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrInvalidImage, p, f.Size, maxUserFile)
	}
	if f.Content != nil || f.Size == 0 {
		return append([]byte{}, f.Content...), nil
	}
	var out []byte
	err = s.withLayer(m.Layers[f.Loc.Layer], func(r io.Reader) error {
		tr := tar.NewReader(r)
		for i := 0; ; i++ {
			if _, err := tr.Next(); err != nil {
				return fmt.Errorf("reading %s again: %w", p, err)
			}
			if i == f.Loc.Entry {
				out, err = io.ReadAll(tr)
				return err
			}
		}
	})
	return out, err
}

// measureUnpacked unpacks m into a temporary bundle (rootless when not
// root) and measures it from disk.
func (o *options) measureUnpacked(ctx context.Context, s *store, m *Manifest) (Measurement, error) {
	tmp, err := os.MkdirTemp(o.tmpDir, "refval-measure-")
	if err != nil {
		return Measurement{}, err
	}
	rootless := os.Geteuid() != 0
	defer removeTree(tmp, rootless)
	dir := tmp + "/bundle"
	inexact, err := unpackBundle(ctx, s, m, dir, rootless, false, o.configFn)
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
