package measurelist

import (
	"bytes"
	"errors"
	"testing"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/manifest"
)

func TestArtifactRoundTrip(t *testing.T) {
	r := &bundle.Result{ConfigSha256: bundle.Digest{1}, RootfsSha256: bundle.Digest{2}, NormalizedConfig: []byte(`{"ociVersion":"1.2.0","process":{"cwd":"/","env":["A=1"],"user":{"gid":0,"uid":0}}}`)}
	r.TemplateSha256 = bundle.TemplateHash(r.ConfigSha256, r.RootfsSha256)
	l := []Entry{NewEntry09("a", nil, r), FailureMarker("b", nil)}
	for _, f := range []Format{JSON, CBOR} {
		c := Artifact{Format: f, Index: 11}
		b, err := c.Encode(l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(got) != 2 || got[0].TemplateSha256 != r.TemplateSha256 || got[1].TemplateSha256 != FailureTemplate || got[0].Name != "a" {
			t.Fatalf("%s: round trip gave %+v", f, got)
		}
		// Re-encoding what was decoded gives the same bytes (the spec is
		// carried as its runtime-spec JSON form).
		b2, err := c.Encode(got)
		if err != nil || !bytes.Equal(b, b2) {
			t.Errorf("%s: re-encoding differs (%v)", f, err)
		}
		if _, err := (Artifact{Format: f, Index: 10}).Decode(b); !errors.Is(err, ErrList) {
			t.Errorf("%s: a list of index 11 read as index 10: %v", f, err)
		}
	}
	for _, bad := range []string{`{"type":"PCR Eventlog","index":11}`, `{"type":"SW Eventlog","index":11,"events":[{"type":"application","name":"x"}]}`, `[]`} {
		if _, err := (Artifact{Format: JSON, Index: 11}).Decode([]byte(bad)); !errors.Is(err, ErrList) {
			t.Errorf("%s: err = %v, want ErrList", bad, err)
		}
	}
}

func FuzzArtifactDecode(f *testing.F) {
	f.Add([]byte(`{"type":"SW Eventlog","index":11,"events":[]}`), false)
	f.Add([]byte{0xa2, 0x00, 0x6b, 'S', 'W', ' ', 'E', 'v', 'e', 'n', 't', 'l', 'o', 'g', 0x01, 0x0b}, true)
	f.Fuzz(func(t *testing.T, raw []byte, cbor bool) {
		c := Artifact{Format: JSON, Index: 11}
		if cbor {
			c.Format = CBOR
		}
		l, err := c.Decode(raw)
		if err != nil {
			return
		}
		if _, err := c.Encode(l); err != nil {
			t.Fatalf("decoded list does not encode: %v", err)
		}
	})
}

// TestCodecFor: CMC 0.7's list is the bare array in the given format,
// CMC 0.9's the Artifact with the index; the zero version is the
// default, 0.9.
func TestCodecFor(t *testing.T) {
	if c := CodecFor(manifest.CMC07, CBOR, 11); c != CBOR {
		t.Errorf("0.7: %#v, want the CBOR array", c)
	}
	for _, v := range []manifest.CMCVersion{manifest.CMC09, ""} {
		if c := CodecFor(v, JSON, 11); c != (Artifact{Format: JSON, Index: 11}) {
			t.Errorf("version %q: %#v, want the JSON Artifact with index 11", v, c)
		}
	}
}
