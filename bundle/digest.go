package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Digest is a SHA-256 value. It marshals to and from lowercase hex.
type Digest [sha256.Size]byte

// String returns the lowercase hex form.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText implements encoding.TextMarshaler (hex).
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (hex, 64 characters).
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// IsZero reports whether d is all zero bytes (no value).
func (d Digest) IsZero() bool { return d == Digest{} }

// ParseDigest parses 64 hex characters into a Digest.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*len(d) {
		return d, fmt.Errorf("digest %q: want %d hex characters, have %d", s, 2*len(d), len(s))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("digest %q: %w", s, err)
	}
	return d, nil
}

// TemplateHash returns SHA-256(config ‖ rootfs) over the 32 raw bytes of
// each: the value the CMC stack records in its measurement list and extends
// into the PCR.
func TemplateHash(config, rootfs Digest) Digest {
	h := sha256.New()
	h.Write(config[:])
	h.Write(rootfs[:])
	var d Digest
	h.Sum(d[:0])
	return d
}
