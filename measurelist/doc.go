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
// The index: AppendCodec keeps LIST.idx next to the list, a cache of the
// SHA-256 of the list file's exact bytes, the codec that wrote them and
// their entries' template hashes. The hash ties the index to the list's
// exact bytes; it does not prove the template hashes, and a hash the
// index claims makes Append skip that entry (no record, no commit). So
// the index is trusted only when its fstat shows a regular file owned by
// the effective uid and by the list's owner, that neither group nor
// others can write: then it was written by the writer of the list, and
// when it parses, names the codec and its hash is that of the list as
// read under the lock, the list is byte for byte what refval last wrote:
// the duplicate check reads the index, and the new entry's encoding is
// spliced into those bytes (JSON: before the closing bracket of the
// entries array, indented as MarshalIndent indents it; CBOR: the array
// head rewritten for one more element, the entry appended), which gives
// exactly Encode of the whole list, so an append costs reading, hashing
// and writing the file instead of decoding and re-encoding every entry.
// In every other case (no index, one of another owner or writable by
// others, another hash or codec, an index that does not parse, an empty
// list) the full decode/validate/encode path runs and a fresh index
// replaces the old one by rename. Whoever runs as the list's owner can
// write any list anyway. Failing to read or write the index never fails
// an append; a failed commit restores the index with the list. A
// symbolic link or other non-regular file as the index is neither read
// nor written through.
//
// Left out: the PCR replay itself and any policy (the verifier's part),
// and the drivers that record an entry elsewhere (package driver).
package measurelist
