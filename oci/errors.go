package oci

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these where
// one applies, so callers can test with errors.Is.
var (
	// ErrUnknownTransport: the image reference names no supported
	// transport (docker://, oci:, oci-archive:, docker-archive:, dir:).
	ErrUnknownTransport = errors.New("unknown transport")
	// ErrInvalidReference: the reference does not parse for its transport.
	ErrInvalidReference = errors.New("invalid image reference")
	// ErrNotInStore: with PullNever, the image is not in the layout store.
	ErrNotInStore = errors.New("image not in the layout store")
	// ErrNoPlatform: the image index has no manifest for the platform.
	ErrNoPlatform = errors.New("no image for the platform")
	// ErrUnsupportedMediaType: a manifest, config or layer media type
	// that refval cannot unpack or measure.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrDigestMismatch: a blob's content does not match its descriptor
	// (digest or size), or a layer does not match its diff ID.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrDestinationNotEmpty: the unpack destination exists and is not an
	// empty directory (use WithForce to replace it).
	ErrDestinationNotEmpty = errors.New("destination is not empty")
	// ErrInvalidImage: the image's JSON documents are malformed.
	ErrInvalidImage = errors.New("invalid image")
)
