package refval

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/refval/refval/engine"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
)

// ValueOptions say how a measurement becomes a CMC reference value.
type ValueOptions struct {
	// Name of the reference value ("": derived from the image reference).
	Name string
	// Driver is manifest.DriverTPM or manifest.DriverSW ("": DriverSW).
	Driver string
	// PCR of a TPM reference value (nil: manifest.DefaultPCR).
	PCR *int
	// Optional marks the reference value optional.
	Optional bool
}

func (v ValueOptions) driver() (string, int) {
	driver, pcr := v.Driver, manifest.DefaultPCR
	if driver == "" {
		driver = manifest.DriverSW
	}
	if v.PCR != nil {
		pcr = *v.PCR
	}
	return driver, pcr
}

// ImageReferenceValues returns one reference value per platform of an
// image measurement, in its order. Each is named v.Name, or else ref
// without its transport ("oci:/l:web" gives "/l:web"); with several
// platforms the platform is appended, "NAME (linux/arm64)". Its
// description names the exact image: reference, manifest digest,
// platform and, for an index, the index digest.
func ImageReferenceValues(ref string, m *oci.ImageMeasurement, v ValueOptions) ([]manifest.ReferenceValue, error) {
	several := len(m.Results) > 1
	driver, pcr := v.driver()
	rvs := make([]manifest.ReferenceValue, 0, len(m.Results))
	for i := range m.Results {
		r := &m.Results[i]
		rv, err := manifest.ContainerReferenceValue(ImageValueName(ref, v.Name, r.Manifest, several), driver, pcr, v.Optional, &r.Result)
		if err != nil {
			return nil, err
		}
		rv.Description = ImageDescription(m.Image, r.Manifest)
		rvs = append(rvs, rv)
	}
	return rvs, nil
}

// ImageComponents is ImageReferenceValues for the CMC v0.9 dialect: one
// component per platform measured (manifest.ContainerComponent), named and
// described the same way.
func ImageComponents(ref string, m *oci.ImageMeasurement, v ValueOptions) ([]manifest.Component, error) {
	several := len(m.Results) > 1
	driver, pcr := v.driver()
	cs := make([]manifest.Component, 0, len(m.Results))
	for i := range m.Results {
		r := &m.Results[i]
		c, err := manifest.ContainerComponent(ImageValueName(ref, v.Name, r.Manifest, several), driver, pcr, v.Optional, &r.Result)
		if err != nil {
			return nil, err
		}
		c.Description = ImageDescription(m.Image, r.Manifest)
		cs = append(cs, c)
	}
	return cs, nil
}

// PredictionOptions are the oci options that make Unpack write, and
// MeasureImage measure, the container pred predicts (none for nil, the
// runc engine): its config, its container ID and, for an engine that adds
// a layer of its own (Docker's init layer, engine.LayerAdder), that layer
// on top of the image's.
func PredictionOptions(pred engine.ConfigPredictor) []oci.Option {
	if pred == nil {
		return nil
	}
	opts := []oci.Option{oci.WithRuntimeConfig(pred.Config), oci.WithContainerID(pred.ContainerID())}
	if la, ok := pred.(engine.LayerAdder); ok && la.AddsLayer() {
		opts = append(opts, oci.WithTopLayer(la.TopLayer))
	}
	return opts
}

// ImageValueName is the name ImageReferenceValues gives the value of
// manifest m: name, or else ref without its transport, with the platform
// appended when the measurement covers several.
func ImageValueName(ref, name string, m *oci.Manifest, several bool) string {
	if name == "" {
		_, name, _ = strings.Cut(ref, ":")
		name = strings.TrimPrefix(name, "//")
	}
	if several {
		name += " (" + Platform(m) + ")"
	}
	return name
}

// ImageDescription says which exact image a reference value belongs to
// (the CMC format's description field, so that the JSON stays CMC's).
func ImageDescription(img *oci.Image, m *oci.Manifest) string {
	d := fmt.Sprintf("image %s manifest %s platform %s", img.Reference, m.Digest, Platform(m))
	if img.IndexDigest != "" {
		d += " index " + img.IndexDigest.String()
	}
	return d
}

// Platform returns m's platform as os/arch[/variant].
func Platform(m *oci.Manifest) string {
	s := m.Platform.OS + "/" + m.Platform.Architecture
	if m.Platform.Variant != "" {
		s += "/" + m.Platform.Variant
	}
	return s
}

// MeasureImage measures one image for a job (the stream path of package
// oci: no rootfs on disk) into the reference value its manifest carries:
// the job's scheme (else the prediction's, refval-v2 for kubernetes),
// platform and run options (Prediction), named o.Name
// or else after the image (NameFromImage: "web" for
// "docker://r/ns/web:1"), described by the exact image. The ImageInfo
// gives the manifest digest users know, the one at the source. base holds
// the image-source options (store, registry, policy).
//
// A job whose Run is still in its command-line form is refused: resolve
// it first (cmd/refval does, with its flag parser).
func MeasureImage(ctx context.Context, ref string, o RunOptions, base ...oci.Option) (manifest.ReferenceValue, ImageInfo, error) {
	var rv manifest.ReferenceValue
	res, vo, info, err := measureJob(ctx, ref, o, base)
	if err != nil {
		return rv, info, err
	}
	rvs, err := ImageReferenceValues(ref, res, vo)
	if err != nil {
		return rv, info, err
	}
	return rvs[0], info, nil
}

// MeasureImageComponent is MeasureImage for the CMC v0.9 dialect: the
// image's component (ImageComponents), ctrData.ociSpec being the config
// the job's run options predict.
func MeasureImageComponent(ctx context.Context, ref string, o RunOptions, base ...oci.Option) (manifest.Component, ImageInfo, error) {
	var c manifest.Component
	res, vo, info, err := measureJob(ctx, ref, o, base)
	if err != nil {
		return c, info, err
	}
	cs, err := ImageComponents(ref, res, vo)
	if err != nil {
		return c, info, err
	}
	return cs[0], info, nil
}

// measureJob measures the one platform of a job's image and returns it with
// the value options and image identity MeasureImage gives it.
func measureJob(ctx context.Context, ref string, o RunOptions, base []oci.Option) (*oci.ImageMeasurement, ValueOptions, ImageInfo, error) {
	var info ImageInfo
	pred, scheme, err := Prediction(o.Run, o.Env, "")
	if err != nil {
		return nil, ValueOptions{}, info, err
	}
	if o.Scheme != "" {
		scheme = o.Scheme
	}
	opts := append(slices.Clone(base), oci.WithScheme(scheme))
	opts = append(opts, PredictionOptions(pred)...)
	if o.Platform != "" {
		opts = append(opts, oci.WithPlatform(o.Platform))
	}
	res, err := oci.MeasureImage(ctx, ref, opts...)
	if err != nil {
		return nil, ValueOptions{}, info, err
	}
	if len(res.Results) != 1 {
		return nil, ValueOptions{}, info, fmt.Errorf("%s: %d platforms measured, want one (select one with platform)", ref, len(res.Results))
	}
	name := o.Name
	if name == "" {
		name = NameFromImage(ref)
	}
	r := &res.Results[0]
	// The digest users know is the manifest's at the source; the store
	// may hold a converted copy (r.Manifest.Digest, in the description).
	d := r.Manifest.Digest
	if r.Manifest.SourceDigest != "" {
		d = r.Manifest.SourceDigest
	}
	info = ImageInfo{Reference: ref, Digest: d.String(), Platform: Platform(r.Manifest)}
	return res, ValueOptions{Name: name, Driver: o.Driver, PCR: o.PCR, Optional: o.Optional}, info, nil
}
