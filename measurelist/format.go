package measurelist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/driver"
	"github.com/refval/refval/manifest"
)

// Format is the encoding of a list file.
type Format string

// The formats.
const (
	JSON Format = "json"
	CBOR Format = "cbor"
)

// ErrList marks a measurement list that cannot be read (or a format that
// does not exist).
var ErrList = errors.New("invalid measurement list")

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, error) {
	f := Format(s)
	return f, f.Validate()
}

// Validate reports whether f is a known format.
func (f Format) Validate() error {
	switch f {
	case JSON, CBOR:
		return nil
	}
	return fmt.Errorf("%w: unknown format %q (want json or cbor)", ErrList, string(f))
}

// wireEntry is the one definition of an entry on the wire: hex strings in
// JSON, byte strings under integer keys 0-4 in CBOR, pcr absent when nil.
// Digests are byte slices here so that a missing, null or short digest
// is seen (and refused) instead of decoding as zeros.
type wireEntry struct {
	Pcr            *int              `json:"pcr,omitempty" cbor:"0,keyasint,omitempty"`
	TemplateSha256 manifest.HexBytes `json:"templateSha256" cbor:"1,keyasint"`
	Name           string            `json:"name" cbor:"2,keyasint"`
	ConfigSha256   manifest.HexBytes `json:"configSha256" cbor:"3,keyasint"`
	RootfsSha256   manifest.HexBytes `json:"rootfsSha256" cbor:"4,keyasint"`
}

func toWire(e Entry) wireEntry {
	w := wireEntry{
		TemplateSha256: e.TemplateSha256[:], Name: e.Name,
		ConfigSha256: e.ConfigSha256[:], RootfsSha256: e.RootfsSha256[:],
	}
	if e.Pcr != nil {
		p := int(*e.Pcr)
		w.Pcr = &p
	}
	return w
}

func fromWire(i int, w wireEntry) (Entry, error) {
	e := Entry{Name: w.Name}
	for _, f := range []struct {
		name string
		dst  *bundle.Digest
		v    []byte
	}{
		{"templateSha256", &e.TemplateSha256, w.TemplateSha256},
		{"configSha256", &e.ConfigSha256, w.ConfigSha256},
		{"rootfsSha256", &e.RootfsSha256, w.RootfsSha256},
	} {
		if len(f.v) != len(f.dst) {
			return e, fmt.Errorf("%w: entry %d: %s has %d bytes, want %d", ErrList, i, f.name, len(f.v), len(f.dst))
		}
		copy(f.dst[:], f.v)
	}
	if w.Pcr != nil {
		p := driver.PCR(*w.Pcr)
		e.Pcr = &p
	}
	return e, nil
}

// cborEnc encodes deterministically (RFC 8949 core deterministic encoding),
// so the same list is always the same bytes.
var cborEnc, _ = cbor.CoreDetEncOptions().EncMode()

// cborDec rejects duplicate map keys and bounds nesting: the list may be
// read by other tools, but it must never be ambiguous.
var cborDec, _ = cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF, MaxNestedLevels: 8}.DecMode()

// Decode parses a list in format f. An empty (or blank) file is an empty
// list: a crash can never leave one, but an administrator may create it.
func Decode(raw []byte, f Format) ([]Entry, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var l []wireEntry
	var err error
	switch f {
	case JSON:
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err = dec.Decode(&l); err == nil && dec.More() {
			err = errors.New("data after the JSON array")
		}
	case CBOR:
		var rest []byte
		rest, err = cborDec.UnmarshalFirst(raw, &l)
		if err == nil && len(rest) != 0 {
			err = errors.New("data after the CBOR array")
		}
	default:
		return nil, f.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrList, err)
	}
	if l == nil {
		return nil, nil
	}
	out := make([]Entry, len(l))
	for i, w := range l {
		if out[i], err = fromWire(i, w); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Encode serialises a list in format f: JSON (indented, trailing
// newline) or deterministic CBOR.
func Encode(l []Entry, f Format) ([]byte, error) {
	w := make([]wireEntry, len(l))
	for i, e := range l {
		w[i] = toWire(e)
	}
	switch f {
	case JSON:
		b, err := json.MarshalIndent(w, "", "  ")
		return append(b, '\n'), err
	case CBOR:
		return cborEnc.Marshal(w)
	}
	return nil, f.Validate()
}
