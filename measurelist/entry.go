package measurelist

import (
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/driver"
)

// Entry is one container measurement. Pcr is nil for the sw driver, which
// extends no PCR. TemplateSha256 is bundle.TemplateHash(ConfigSha256,
// RootfsSha256) for a measured container (Decode does not check it: the
// list may be read to find out that it does not hold).
type Entry struct {
	Pcr            *driver.PCR
	TemplateSha256 bundle.Digest
	Name           string
	ConfigSha256   bundle.Digest
	RootfsSha256   bundle.Digest
	// Spec is the measured (normalised) config, carried only by the CMC
	// v0.9 list (Artifact) as the event's ctrData.ociSpec; nil otherwise.
	Spec []byte
}

// NewEntry returns the entry for container name measured as r.
func NewEntry(name string, pcr *driver.PCR, r *bundle.Result) Entry {
	return Entry{Pcr: pcr, TemplateSha256: r.TemplateSha256, Name: name, ConfigSha256: r.ConfigSha256, RootfsSha256: r.RootfsSha256}
}

// FailureMarker is the entry recorded, in fail-open mode, for a container
// that started although it could not be measured: config and rootfs
// hashes all zero, template hash SHA-256 of 64 zero bytes
// (FailureTemplate). No image has that reference value, so a verifier
// replaying the list sees that something ran unmeasured, and attestation
// fails instead of silently missing the container.
func FailureMarker(name string, pcr *driver.PCR) Entry {
	return Entry{Pcr: pcr, TemplateSha256: FailureTemplate, Name: name}
}

// FailureTemplate is the template hash of FailureMarker,
// SHA-256(32 zero bytes ‖ 32 zero bytes) =
// f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b. It is
// also the value the tpm driver extends when a measurement could not be
// recorded at all, so that the quote matches no reference.
var FailureTemplate = bundle.TemplateHash(bundle.Digest{}, bundle.Digest{})

// IsFailureMarker reports whether e is a failure marker.
func (e Entry) IsFailureMarker() bool {
	return e.TemplateSha256 == FailureTemplate && e.ConfigSha256.IsZero() && e.RootfsSha256.IsZero()
}
