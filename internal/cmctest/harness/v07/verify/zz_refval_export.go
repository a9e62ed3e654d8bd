//go:build cmcharness

// This file is copied by internal/cmctest into an extracted CMC v0.7 tree
// (package verify): it only exports CMC's own verifier stages to the harness.
package verify

import (
	"crypto/x509"

	ar "github.com/Fraunhofer-AISEC/cmc/attestationreport"
)

// RefvalVerifySw is CMC's verifySwMeasurements.
func RefvalVerifySw(m ar.Measurement, nonce []byte, cas []*x509.Certificate, s ar.Serializer, refs []ar.ReferenceValue) (*ar.MeasurementResult, bool) {
	return verifySwMeasurements(m, nonce, cas, s, refs)
}

// RefvalCheckValidity is CMC's checkValidity.
func RefvalCheckValidity(v ar.Validity) ar.Result { return checkValidity(v) }

// RefvalCollectReferenceValues is CMC's collectReferenceValues.
func RefvalCollectReferenceValues(m *ar.Metadata) (map[string][]ar.ReferenceValue, error) {
	return collectReferenceValues(m)
}
