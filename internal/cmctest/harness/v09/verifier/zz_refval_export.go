//go:build cmcharness

// This file is copied by internal/cmctest into an extracted CMC v0.9 tree
// (package verifier): it only exports CMC's own verifier stages to the harness.
package verifier

import (
	"crypto/x509"

	ar "github.com/Fraunhofer-AISEC/cmc/attestationreport"
)

// RefvalVerifyMetadata is CMC's verifyMetadata without OMSP checks.
func RefvalVerifyMetadata(cas []*x509.Certificate, m map[string][]byte) (ar.MetadataSummary, ar.Status) {
	return verifyMetadata(cas, m, false)
}

// RefvalCollectComponents is CMC's collectComponents.
func RefvalCollectComponents(m []ar.MetadataResult, d []ar.ManifestDescription) (map[string][]ar.Component, error) {
	return collectComponents(m, d)
}
