// Package diff explains why two measurements of a container differ: which
// fields of the normalized runtime config (as JSON paths) and which rootfs
// entries (added, removed, or changed in type, content, mode, owner,
// capability, symlink target or device numbers). It is what `refval diff`
// runs when an attestation fails: one side is the offline reference
// (refval measure --normalized-config/--records), the other what the shim
// recorded on the device (its generate mode).
//
// Configs are compared after the measurement's own normalisation
// (bundle.HashConfig), so a raw config.json can be compared with a
// normalized one and only differences that change the config hash are
// reported. Arrays are aligned by a longest-common-subsequence match, so
// one inserted environment variable is reported as one addition, not as a
// change of every later entry; values of the same kind at the same place
// of an unaligned stretch are reported as changed (objects and arrays
// field by field).
//
// Rootfs records are compared in one streaming pass (both lists are in
// measurement order: pre-order, children sorted bytewise); memory grows
// with the number of differences, not of entries.
//
// Guarantees: a Report with no changes means the two config documents are
// equal as JSON values and the record lists are equal record for record,
// hence the digests are equal; any difference that changes a digest is
// reported. Left out: the cmc scheme's tar-stream rootfs (it has no
// records), and explaining *why* an engine wrote a field.
package diff
