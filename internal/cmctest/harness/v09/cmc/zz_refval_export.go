//go:build cmcharness

// This file is copied by internal/cmctest into an extracted CMC v0.9 tree
// (package cmc): it only exports CMC's own metadata filter to the harness.
package cmc

// RefvalFilterMetadata is CMC's filterMetadata (drops objects CMC ignores).
func RefvalFilterMetadata(l [][]byte) ([][]byte, error) { return filterMetadata(l) }
