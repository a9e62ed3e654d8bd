// Package manifest reads, writes, edits and converts the metadata documents
// of the CMC attestation stack: App Manifests with their reference values,
// App Descriptions and Device Descriptions, in JSON and in CBOR with
// integer keys (key maps in docs/manifests.md and schema.go).
//
// Guarantees:
//   - Output is deterministic: sorted-key, two-space-indented JSON and RFC
//     8949 core deterministic CBOR; no function reads the clock to fill a
//     document (validity comes from the caller, see NewValidity and
//     SourceDateEpoch).
//   - Documents are edited generically, so members this package does not
//     know survive SetReferenceValues, SetValidity and PutAppDescription
//     unchanged, in both encodings (CBOR byte strings and tags included).
//   - Convert is lossless both ways or fails with ErrNotConvertible.
//   - Parsing rejects malformed input, duplicate keys, trailing data and
//     wrong member types, naming the member path; it never panics (fuzzed).
//
// The CMC v0.9 documents (Manifest, Image and Manifest Description,
// components) are modelled too; CMCVersion selects the dialect, and every
// function taking none, ParseCMCVersion("") included, speaks
// DefaultCMCVersion (0.9). The zero CMCVersion is that default too,
// wherever it is passed (CMCVersion.Resolved is the one place that says
// so: the cmcd driver, the measurement list codec and the signature
// algorithms of a zero version are CMC 0.9's). CheckTemplate refuses a
// template of the other dialect, and for 0.9 one whose version CMC would
// ignore.
//
// Left out: signatures (package signing), measuring images (package oci),
// the batch file, run options and the generation pipeline (package refval,
// the composition tier: run options hold engine options, and this package
// imports no engine, umoci or YAML, since the shim links it), and the CBOR
// key maps of CMC document types other than those above.
package manifest
