package refval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
	"github.com/refval/refval/signing"
)

// ImageInfo identifies the exact image a reference value was measured from.
type ImageInfo struct {
	Reference string `json:"reference,omitempty"`
	Digest    string `json:"digest,omitempty"`
	Platform  string `json:"platform,omitempty"`
}

// MeasureFunc measures one image (the stream path of package oci) into
// the reference value a manifest carries.
type MeasureFunc func(ctx context.Context, imageRef string, opts RunOptions) (manifest.ReferenceValue, ImageInfo, error)

// MeasureComponentFunc measures one image (the stream path of package oci)
// into the CMC v0.9 component its Manifest carries.
type MeasureComponentFunc func(ctx context.Context, imageRef string, opts RunOptions) (manifest.Component, ImageInfo, error)

// SignFunc wraps an encoded manifest in a signed envelope.
type SignFunc func(payload []byte, f manifest.Format) ([]byte, error)

// ErrGenerate is wrapped by Generate when at least one image failed.
var ErrGenerate = errors.New("some images failed")

// GenerateOptions configure Generate: the dialect, template, validity,
// format and outputs of the manifests, and how images are measured and
// manifests signed.
type GenerateOptions struct {
	// CMCVersion is the dialect of the manifests ("":
	// manifest.DefaultCMCVersion). It decides the template's type, what is
	// measured (Measure or MeasureComponent), the description file, and
	// the version of the scheme "cmc" of the jobs.
	CMCVersion manifest.CMCVersion
	// Template is the document (JSON or CBOR) whose members every
	// generated manifest keeps: an App Manifest for CMC 0.7 (name and
	// referenceValues are replaced), a Manifest for CMC 0.9 (name and
	// sbom.components are replaced; its version must be RFC 3339).
	Template []byte
	// Validity, when set, replaces the template's validity window.
	Validity *manifest.Validity
	// Format of the written manifests.
	Format manifest.Format
	// OutDir receives <name>.manifest.json or <name>.manifest.cbor.
	OutDir string
	// DeviceDescription, when set, is a Device Description file (JSON or
	// CBOR) that receives one App Description per successful image, with
	// the run's environment; it is rewritten atomically at the end. CMC
	// 0.7 only.
	DeviceDescription string
	// ImageDescription is DeviceDescription for CMC 0.9: an Image
	// Description file that receives one Manifest Description per
	// successful image.
	ImageDescription string
	// Measure measures an image for CMC 0.7, MeasureComponent for 0.9
	// (nil: MeasureImage and MeasureImageComponent with the options Image).
	Measure          MeasureFunc
	MeasureComponent MeasureComponentFunc
	// Sign signs an encoded manifest (nil: signing.Sign with Signers).
	Sign SignFunc
	// Signers sign every manifest (when Sign is nil), each set up for the
	// CMC version (signing.ForDialect).
	Signers []signing.Signer
	// Image holds the image-source options (store, registry, policy) of
	// every measurement (when Measure or MeasureComponent is nil).
	Image []oci.Option
}

// GenerateResult is the summary line of one image.
type GenerateResult struct {
	Image          string                   `json:"image"`
	Name           string                   `json:"name"`
	ImageDigest    string                   `json:"imageDigest,omitempty"`
	Platform       string                   `json:"platform,omitempty"`
	ReferenceValue *manifest.ReferenceValue `json:"referenceValue,omitempty"`
	Component      *manifest.Component      `json:"component,omitempty"`
	Output         string                   `json:"output,omitempty"`
	Error          string                   `json:"error,omitempty"`
}

// Generate measures every job's image with MeasureImage (CMC 0.7) or
// MeasureImageComponent (0.9), puts its reference value into a copy of the
// template, signs it with the signers, writes it, and returns one result
// per job in order. A failing image does not stop the others; the error
// then wraps ErrGenerate. Configuration errors (bad run options or
// template, duplicate or unsafe names) fail before anything is measured.
// Jobs must hold resolved run options (see MeasureImage).
//
// For CMC 0.9 a signer whose algorithm CMC's verifier rejects in the
// chosen format fails before anything is measured (an RSA key signs JWS
// with RS256); for CMC 0.7 it is a logged warning, so that 0.7 outputs stay
// what they were before dialects existed.
func Generate(ctx context.Context, jobs []Job, o GenerateOptions) ([]GenerateResult, error) {
	jobs = slices.Clone(jobs) // names and schemes are resolved in the copy
	for i, j := range jobs {
		if _, _, err := Prediction(j.Run, j.Env, ""); err != nil {
			return nil, fmt.Errorf("images[%d] (%s): run: %w", i, j.Image, err)
		}
	}
	if o.Measure == nil {
		o.Measure = Measurer(o.Image...)
	}
	if o.MeasureComponent == nil {
		o.MeasureComponent = ComponentMeasurer(o.Image...)
	}
	if o.Sign == nil {
		signers, err := dialectSigners(o.Signers, o.CMCVersion, o.Format)
		if err != nil {
			return nil, err
		}
		o.Sign = func(payload []byte, f manifest.Format) ([]byte, error) {
			return signing.Sign(payload, f, signers...)
		}
	}
	v, err := o.dialect()
	if err != nil {
		return nil, err
	}
	if o.Format == "" {
		o.Format = manifest.JSON
	}
	if _, err := manifest.ParseFormat(string(o.Format)); err != nil {
		return nil, err
	}
	tmpl, err := manifest.Parse(o.Template, "")
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if err := manifest.CheckTemplate(tmpl, v); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	// Every manifest needs a validity window (Verify rejects one without):
	// without o.Validity it comes from the template, so check it before
	// anything is measured rather than fail each image after measuring.
	if o.Validity == nil {
		if _, _, err := tmpl.ValidityWindow(); err != nil {
			return nil, fmt.Errorf("template: %w (and no validity window given)", err)
		}
	}
	if err := checkNames(jobs, v); err != nil {
		return nil, err
	}
	descFile, descType := o.DeviceDescription, manifest.TypeDeviceDescription
	if v == manifest.CMC09 {
		descFile, descType = o.ImageDescription, manifest.TypeImageDescription
	}
	var dd *manifest.Document
	if descFile != "" {
		b, err := os.ReadFile(descFile)
		if err != nil {
			return nil, err
		}
		if dd, err = manifest.Parse(b, ""); err != nil {
			return nil, fmt.Errorf("%s: %w", descFile, err)
		}
		if dd.Type() != descType {
			return nil, fmt.Errorf("%s: %w: %q, want %q", descFile, manifest.ErrUnknownType, dd.Type(), descType)
		}
	}
	for _, j := range jobs {
		if err := j.Validate(); err != nil {
			return nil, fmt.Errorf("image %s: %w", j.Image, err)
		}
		switch {
		case j.OciRules != nil && v != manifest.CMC09:
			return nil, fmt.Errorf("%w: image %s: ociRules are CMC 0.9's (CMC %s has no Manifest Description)", manifest.ErrField, j.Image, v)
		case j.OciRules != nil && descFile == "":
			return nil, fmt.Errorf("%w: image %s: ociRules go in the Manifest Description: give an Image Description", manifest.ErrField, j.Image)
		}
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	results := make([]GenerateResult, len(jobs))
	failed := 0
	for i, j := range jobs {
		res := &results[i]
		res.Image, res.Name = j.Image, j.Name
		if err := generateOne(ctx, j, tmpl, v, o, res); err != nil {
			res.Error = err.Error()
			failed++
			continue
		}
		if dd != nil {
			if err := putDescription(dd, j); err != nil {
				return results, fmt.Errorf("%s: %w", descFile, err)
			}
		}
	}
	if dd != nil {
		b, err := dd.Bytes()
		if err == nil {
			err = atomicfile.WriteFile(descFile, b, 0o644)
		}
		if err != nil {
			return results, fmt.Errorf("%s: %w", descFile, err)
		}
	}
	if failed > 0 {
		return results, fmt.Errorf("%w: %d of %d", ErrGenerate, failed, len(jobs))
	}
	return results, nil
}

// dialect validates o's CMC version ("" is manifest.DefaultCMCVersion)
// and that the description file is the one of that dialect.
func (o *GenerateOptions) dialect() (manifest.CMCVersion, error) {
	v, err := manifest.ParseCMCVersion(string(o.CMCVersion))
	if err != nil {
		return "", fmt.Errorf("generate: %w", err)
	}
	if v == manifest.CMC09 && o.DeviceDescription != "" {
		return "", fmt.Errorf("%w: device description: an App Description is CMC 0.7's; CMC %s takes an Image Description", manifest.ErrField, v)
	}
	if v == manifest.CMC07 && o.ImageDescription != "" {
		return "", fmt.Errorf("%w: image description: CMC 0.9's; CMC 0.7 takes a Device Description", manifest.ErrField)
	}
	return v, nil
}

// checkNames gives every job without a name the one of its image and
// checks that the names are distinct file names; the scheme "cmc" of a
// job becomes CMC version v's own measurement.
func checkNames(jobs []Job, v manifest.CMCVersion) error {
	seen := map[string]int{}
	for i := range jobs {
		hint := ""
		if jobs[i].Name == "" {
			jobs[i].Name = NameFromImage(jobs[i].Image)
			hint = " (derived from the image); give a name"
		}
		n := jobs[i].Name
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\\x00") {
			return fmt.Errorf("%w: image %s: name %q cannot be a file name%s", manifest.ErrField, jobs[i].Image, n, hint)
		}
		if j, dup := seen[n]; dup {
			return fmt.Errorf("%w: images %s and %s both named %q", manifest.ErrField, jobs[j].Image, jobs[i].Image, n)
		}
		seen[n] = i
		if jobs[i].Scheme == bundle.SchemeCMC {
			jobs[i].Scheme = v.Scheme()
		}
	}
	return nil
}

func generateOne(ctx context.Context, j Job, tmpl *manifest.Document, v manifest.CMCVersion, o GenerateOptions, res *GenerateResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A fresh copy of the template: edits must not leak between images.
	d, err := tmpl.Clone()
	if err != nil {
		return err
	}
	d.SetName(j.Name)
	if err := measureInto(ctx, d, j, v, o, res); err != nil {
		return err
	}
	if o.Validity != nil {
		if err := d.SetValidity(*o.Validity); err != nil {
			return err
		}
	}
	if _, _, err := d.ValidityWindow(); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if d, err = d.Convert(o.Format); err != nil {
		return err
	}
	payload, err := d.Bytes()
	if err != nil {
		return err
	}
	env, err := o.Sign(payload, o.Format)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	out := filepath.Join(o.OutDir, j.Name+".manifest."+string(o.Format))
	if err := atomicfile.WriteFile(out, env, 0o644); err != nil {
		return err
	}
	res.Output = out
	return nil
}

// measureInto measures j's image for dialect v and puts its reference
// value (0.7) or component (0.9) into d, and into res.
func measureInto(ctx context.Context, d *manifest.Document, j Job, v manifest.CMCVersion, o GenerateOptions, res *GenerateResult) error {
	if v == manifest.CMC09 {
		c, info, err := o.MeasureComponent(ctx, j.Image, j.RunOptions)
		if err != nil {
			return fmt.Errorf("measure: %w", err)
		}
		res.ImageDigest, res.Platform, res.Component = info.Digest, info.Platform, &c
		return d.SetComponents([]manifest.Component{c})
	}
	rv, info, err := o.Measure(ctx, j.Image, j.RunOptions)
	if err != nil {
		return fmt.Errorf("measure: %w", err)
	}
	res.ImageDigest, res.Platform, res.ReferenceValue = info.Digest, info.Platform, &rv
	return d.SetReferenceValues([]manifest.ReferenceValue{rv})
}

// putDescription adds j's entry to a Device Description (an App
// Description with the run's environment) or an Image Description (a
// Manifest Description naming the manifest, with j's ociRules).
func putDescription(dd *manifest.Document, j Job) error {
	var err error
	if dd.Type() == manifest.TypeImageDescription {
		_, err = dd.PutManifestDescription(manifest.ManifestDescription{Name: j.Name, Manifest: j.Name, OciRules: j.OciRules})
	} else {
		env, _ := manifest.ParseEnv(j.Env)
		_, err = dd.PutAppDescription(manifest.AppDescription{Name: j.Name, AppManifest: j.Name, Environment: env})
	}
	return err
}

// dialectSigners sets every signer up for CMC version v ("" is the
// default) and format f ("" is JSON): see Generate.
func dialectSigners(signers []signing.Signer, v manifest.CMCVersion, f manifest.Format) ([]signing.Signer, error) {
	v, err := manifest.ParseCMCVersion(string(v))
	if err != nil {
		return nil, err
	}
	if f == "" {
		f = manifest.JSON
	}
	out := slices.Clone(signers)
	for i, s := range signers {
		ds, err := signing.ForDialect(s, v, f)
		switch {
		case err == nil && v == manifest.CMC09:
			out[i] = ds
		case err == nil:
			// 0.7: the key's own algorithm, as before dialects existed.
		case v == manifest.CMC07 && errors.Is(err, signing.ErrAlgorithmRejected):
			slog.Warn("generate: CMC 0.7 will reject this signature", "signer", i+1, "err", err)
		default:
			return nil, fmt.Errorf("signer %d: %w", i+1, err)
		}
	}
	return out, nil
}

// Measurer returns MeasureImage with the image-source options base, as a
// MeasureFunc.
func Measurer(base ...oci.Option) MeasureFunc {
	return func(ctx context.Context, ref string, o RunOptions) (manifest.ReferenceValue, ImageInfo, error) {
		return MeasureImage(ctx, ref, o, base...)
	}
}

// ComponentMeasurer returns MeasureImageComponent with the image-source
// options base, as a MeasureComponentFunc.
func ComponentMeasurer(base ...oci.Option) MeasureComponentFunc {
	return func(ctx context.Context, ref string, o RunOptions) (manifest.Component, ImageInfo, error) {
		return MeasureImageComponent(ctx, ref, o, base...)
	}
}
