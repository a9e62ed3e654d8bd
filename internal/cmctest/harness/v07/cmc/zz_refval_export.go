//go:build cmcharness

// This file is copied by internal/cmctest into an extracted CMC v0.7 tree
// (package cmc): it only exports CMC's own metadata filter to the harness.
package cmc

import ar "github.com/Fraunhofer-AISEC/cmc/attestationreport"

// RefvalFilterMetadata is CMC's filterMetadata (drops objects CMC ignores).
func RefvalFilterMetadata(l [][]byte) ([][]byte, ar.Serializer, error) { return filterMetadata(l) }
