package refval

import (
	"context"
	"fmt"

	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
	"github.com/refval/refval/signing"
)

// GenerateOptions configure Generate: the template, validity, format and
// outputs of manifest.GenerateConfig, and how images are measured and
// manifests signed.
type GenerateOptions struct {
	manifest.GenerateConfig
	// Signers sign every manifest (when GenerateConfig.Sign is nil).
	Signers []signing.Signer
	// Image holds the image-source options (store, registry, policy) of
	// every measurement (when GenerateConfig.Measure is nil).
	Image []oci.Option
}

// Generate measures every job's image with MeasureImage, puts its
// reference value into a copy of the template, signs it with the signers
// and writes it (manifest.Generate: one result per job, a failing image
// does not stop the others, configuration errors fail before anything is
// measured). Jobs must hold resolved run options (see MeasureImage).
func Generate(ctx context.Context, jobs []manifest.Job, o GenerateOptions) ([]manifest.GenerateResult, error) {
	cfg := o.GenerateConfig
	// Run options fail before anything is measured, as the rest of the
	// configuration does in manifest.Generate.
	for i, j := range jobs {
		if _, err := NewPredictor(j.Run, j.Env, ""); err != nil {
			return nil, fmt.Errorf("images[%d] (%s): run: %w", i, j.Image, err)
		}
	}
	if cfg.Measure == nil {
		cfg.Measure = Measurer(o.Image...)
	}
	if cfg.Sign == nil {
		signers := o.Signers
		cfg.Sign = func(payload []byte, f manifest.Format) ([]byte, error) {
			return signing.Sign(payload, f, signers...)
		}
	}
	return manifest.Generate(ctx, jobs, cfg)
}

// Measurer returns MeasureImage with the image-source options base, as a
// manifest.MeasureFunc.
func Measurer(base ...oci.Option) manifest.MeasureFunc {
	return func(ctx context.Context, ref string, o manifest.RunOptions) (manifest.ReferenceValue, manifest.ImageInfo, error) {
		return MeasureImage(ctx, ref, o, base...)
	}
}
