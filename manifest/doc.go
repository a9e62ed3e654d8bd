// Package manifest models the CMC attestation metadata that carries
// reference values: reference values, App Manifests and App Descriptions,
// in JSON and in CBOR with integer keys.
package manifest
