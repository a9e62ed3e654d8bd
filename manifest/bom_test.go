package manifest

import (
	"errors"
	"strings"
	"testing"
)

// TestByteOrderMarkRefused: a BOM before JSON is refused by name, not
// taken for CBOR (0xef is not how CBOR metadata begins) and not skipped
// (CMC's JSON parser would refuse the same file on the device).
func TestByteOrderMarkRefused(t *testing.T) {
	doc := `{"type":"App Manifest","name":"web","version":"1"}`
	for _, in := range []string{"\ufeff" + doc, "\ufeff[]", "\n\ufeff" + doc} {
		f, err := DetectFormat([]byte(in))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "byte order mark") || f != "" {
			t.Errorf("DetectFormat(%q) = %q, %v; want ErrFormat naming the byte order mark", in, f, err)
		}
		if _, err := Parse([]byte(in), ""); err == nil || !strings.Contains(err.Error(), "byte order mark") || strings.Contains(err.Error(), "cbor") {
			t.Errorf("Parse(%q): %v; want an error naming the byte order mark", in, err)
		}
	}
	if f, err := DetectFormat([]byte(doc)); f != JSON || err != nil {
		t.Errorf("without BOM: %q, %v", f, err)
	}
}

// TestByteOrderMarkForcedJSON: with the format given (no detection) the
// JSON decoder names the byte order mark too.
func TestByteOrderMarkForcedJSON(t *testing.T) {
	_, err := Parse([]byte("\ufeff{\"type\":\"App Manifest\"}"), JSON)
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "byte order mark") {
		t.Errorf("Parse(BOM, JSON): %v; want ErrSyntax naming the byte order mark", err)
	}
	if err := ValidateJSON([]byte("\ufeff[]")); err == nil || !strings.Contains(err.Error(), "byte order mark") {
		t.Errorf("ValidateJSON(BOM): %v", err)
	}
}
