package measurelist

import (
	"errors"
	"testing"
)

// The failure marker's template hash, computed independently:
// python3 -c "import hashlib; print(hashlib.sha256(bytes(64)).hexdigest())"
const failureTemplateHex = "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"

func TestFailureMarker(t *testing.T) {
	m := FailureMarker("x", nil)
	if m.TemplateSha256.String() != failureTemplateHex || FailureTemplate.String() != failureTemplateHex {
		t.Errorf("failure template %s, want %s", m.TemplateSha256, failureTemplateHex)
	}
	if !m.IsFailureMarker() || entry("x").IsFailureMarker() {
		t.Error("IsFailureMarker does not tell the marker from a measurement")
	}
}

// A digest that is missing or null is refused, not read as zeros (which
// would look like the failure marker's components).
func TestDecodeMissingDigest(t *testing.T) {
	h := `"` + failureTemplateHex + `"`
	for _, in := range []string{
		`[{"templateSha256":` + h + `,"name":"x","configSha256":` + h + `}]`,
		`[{"templateSha256":` + h + `,"name":"x","configSha256":` + h + `,"rootfsSha256":null}]`,
	} {
		if _, err := Decode([]byte(in), JSON); !errors.Is(err, ErrList) {
			t.Errorf("Decode(%s) = %v, want ErrList", in, err)
		}
	}
	// CBOR: {1: h'00', 2: "x", 3: ..., 4: ...} with a 1-byte template.
	in := []byte{0x81, 0xa4, 0x01, 0x41, 0x00, 0x02, 0x61, 'x', 0x03, 0x41, 0x00, 0x04, 0x41, 0x00}
	if _, err := Decode(in, CBOR); !errors.Is(err, ErrList) {
		t.Errorf("short CBOR digest: %v, want ErrList", err)
	}
}
