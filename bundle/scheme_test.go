package bundle

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestSchemeText: a Scheme decodes from JSON (and TOML, through the same
// UnmarshalText) and from a flag value exactly as ParseScheme parses it.
func TestSchemeText(t *testing.T) {
	var v struct {
		Scheme Scheme `json:"scheme"`
	}
	for in, want := range map[string]Scheme{`{"scheme":"cmc"}`: SchemeCMC, `{"scheme":"refval-v1"}`: SchemeV1, `{"scheme":""}`: SchemeV1, `{}`: ""} {
		v.Scheme = ""
		if err := json.Unmarshal([]byte(in), &v); err != nil || v.Scheme != want {
			t.Errorf("%s: %q, %v; want %q", in, v.Scheme, err, want)
		}
	}
	if err := json.Unmarshal([]byte(`{"scheme":"v0"}`), &v); !errors.Is(err, ErrUnsupportedScheme) {
		t.Errorf("unknown scheme: %v, want ErrUnsupportedScheme", err)
	}
	b, err := json.Marshal(struct{ S Scheme }{SchemeCMC})
	if err != nil || string(b) != `{"S":"cmc"}` {
		t.Errorf("marshal: %s %v", b, err)
	}
	var s Scheme
	if err := s.Set("cmc"); err != nil || s != SchemeCMC || s.String() != "cmc" {
		t.Errorf("Set(cmc): %q %v", s, err)
	}
	if err := s.Set("CMC"); !errors.Is(err, ErrUnsupportedScheme) || s != SchemeCMC {
		t.Errorf("Set(CMC): %q %v; want an error and the value unchanged", s, err)
	}
}
