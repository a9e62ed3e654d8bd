package refval

import (
	"errors"
	"fmt"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
)

// ErrNoOCIRules: the prediction has no fields that vary per start beyond
// what CMC's own normalisation removes (containerd, or the runc engine),
// so CMC matches its config by the hash and needs no ociRules.
var ErrNoOCIRules = errors.New("no per-start fields to state in ociRules")

// OCIRules returns what states the ociRules of CMC v0.9's Manifest
// Description (`refval manifest create --image-description F --oci-rules
// FILE`) for the container pred predicts, measured with scheme: the rules
// that make CMC's verifier accept every start of that container and mark
// nothing else (engine.OCIRuler: kubernetes and docker). Apply it to the
// measured result's NormalizedConfig. The scheme must be
// bundle.SchemeCMC09, the normalisation CMC compares ociSpecs in;
// ErrNoOCIRules for a prediction without per-start fields.
func OCIRules(pred engine.ConfigPredictor, scheme bundle.Scheme) (engine.OCIRuler, error) {
	if p, isCtr := pred.(*engine.Predictor); isCtr && p.Profile.Kind == engine.Nerdctl {
		// Not ErrNoOCIRules: a nerdctl config has per-start values (the
		// short ID in HOSTNAME and mount sources, nerdctl's annotations)
		// whose treatment by CMC's normalisation is not modelled.
		return nil, fmt.Errorf("ociRules: %w: CMC's handling of nerdctl's per-start fields is not modelled; measure nerdctl containers with refval-v2", engine.ErrUnsupported)
	}
	ruler, ok := pred.(engine.OCIRuler)
	if p, isCtr := pred.(*engine.Predictor); !ok || (isCtr && p.Profile.Kind != engine.Docker) {
		return nil, ErrNoOCIRules
	}
	if scheme != bundle.SchemeCMC09 {
		return nil, fmt.Errorf("ociRules: scheme %s: CMC compares configs in its own normalisation, measure with %s", scheme, bundle.SchemeCMC09)
	}
	return ruler, nil
}
