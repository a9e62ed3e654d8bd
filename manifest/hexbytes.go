package manifest

import (
	"encoding/hex"
	"fmt"
)

// HexBytes is a byte string: lowercase hex in JSON, a byte string in CBOR.
type HexBytes []byte

// MarshalText implements encoding.TextMarshaler.
func (h HexBytes) MarshalText() ([]byte, error) {
	return []byte(hex.EncodeToString(h)), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *HexBytes) UnmarshalText(b []byte) error {
	d := make([]byte, hex.DecodedLen(len(b)))
	if _, err := hex.Decode(d, b); err != nil {
		return fmt.Errorf("hex value %q: %w", b, err)
	}
	*h = d
	return nil
}

// String returns the lowercase hex form.
func (h HexBytes) String() string { return hex.EncodeToString(h) }
