package refval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
	"github.com/refval/refval/signing"
)

// GenerateOptions configure Generate: the dialect, template, validity,
// format and outputs of manifest.GenerateConfig, and how images are
// measured and manifests signed.
type GenerateOptions struct {
	manifest.GenerateConfig
	// Signers sign every manifest (when GenerateConfig.Sign is nil), each
	// set up for the CMC version (signing.ForDialect).
	Signers []signing.Signer
	// Image holds the image-source options (store, registry, policy) of
	// every measurement (when GenerateConfig.Measure or MeasureComponent
	// is nil).
	Image []oci.Option
}

// Generate measures every job's image with MeasureImage (CMC 0.7) or
// MeasureImageComponent (0.9), puts its reference value into a copy of the
// template, signs it with the signers and writes it (manifest.Generate:
// one result per job, a failing image does not stop the others,
// configuration errors fail before anything is measured). Jobs must hold
// resolved run options (see MeasureImage).
//
// For CMC 0.9 a signer whose algorithm CMC's verifier rejects in the
// chosen format fails before anything is measured (an RSA key signs JWS
// with RS256); for CMC 0.7 it is a logged warning, so that 0.7 outputs stay
// what they were before dialects existed.
func Generate(ctx context.Context, jobs []manifest.Job, o GenerateOptions) ([]manifest.GenerateResult, error) {
	cfg := o.GenerateConfig
	// Run options fail before anything is measured, as the rest of the
	// configuration does in manifest.Generate.
	for i, j := range jobs {
		if _, _, err := Prediction(j.Run, j.Env, ""); err != nil {
			return nil, fmt.Errorf("images[%d] (%s): run: %w", i, j.Image, err)
		}
	}
	if cfg.Measure == nil {
		cfg.Measure = Measurer(o.Image...)
	}
	if cfg.MeasureComponent == nil {
		cfg.MeasureComponent = ComponentMeasurer(o.Image...)
	}
	if cfg.Sign == nil {
		signers, err := dialectSigners(o.Signers, cfg.CMCVersion, cfg.Format)
		if err != nil {
			return nil, err
		}
		cfg.Sign = func(payload []byte, f manifest.Format) ([]byte, error) {
			return signing.Sign(payload, f, signers...)
		}
	}
	return manifest.Generate(ctx, jobs, cfg)
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
// manifest.MeasureFunc.
func Measurer(base ...oci.Option) manifest.MeasureFunc {
	return func(ctx context.Context, ref string, o manifest.RunOptions) (manifest.ReferenceValue, manifest.ImageInfo, error) {
		return MeasureImage(ctx, ref, o, base...)
	}
}

// ComponentMeasurer returns MeasureImageComponent with the image-source
// options base, as a manifest.MeasureComponentFunc.
func ComponentMeasurer(base ...oci.Option) manifest.MeasureComponentFunc {
	return func(ctx context.Context, ref string, o manifest.RunOptions) (manifest.Component, manifest.ImageInfo, error) {
		return MeasureImageComponent(ctx, ref, o, base...)
	}
}
