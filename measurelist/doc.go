// Package measurelist is the container measurement list: the file in
// which containerd-shim-cmc-v1 records every distinct container it
// started, in the CMC container-measurement list format, and which a
// verifier replays against the TPM quote (or reads as the software
// measurement log of the sw driver).
//
// The wire format is defined once, here: an array of entries, JSON (hex
// strings, indented, trailing newline) or deterministic CBOR (RFC 8949
// core deterministic encoding; byte strings under integer keys 0-4), as
// CMC v0.7 reads it (a Format is this Codec); or CMC v0.9's Artifact. See
// Entry for the fields. The caller chooses the Codec: Read and Append,
// which take a Format, are v0.7's list; CodecFor maps a CMC version to
// its Codec, the zero version being manifest.DefaultCMCVersion (0.9).
//
// Guarantees: Decode accepts only lists whose every digest has 32 bytes
// and rejects unknown fields, duplicate CBOR map keys and trailing data;
// Encode is deterministic (the same list is the same bytes); Append adds
// an entry under an exclusive lock with atomic replacement, so
// concurrent writers lose nothing and a crash leaves the old or the new
// list, never a torn one; an unreadable list is never rewritten.
//
// Left out: the PCR replay itself and any policy (the verifier's part),
// and the drivers that record an entry elsewhere (package driver).
package measurelist
