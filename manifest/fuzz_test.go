package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func addGoldenSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	cb, _ := filepath.Glob("testdata/*.cbor")
	for _, p := range append(files, cb...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParse: no input panics; what parses re-encodes to something that
// parses to the same bytes; and a document that converts to CBOR, to JSON
// and back to CBOR comes back byte for byte (the canonical CBOR is exact
// where JSON text is not: "1.50" and "1.5" are one value).
func FuzzParse(f *testing.F) {
	addGoldenSeeds(f)
	f.Add([]byte(`{"type":"App Manifest","7":[1.5e300,-1,"x",{"-3":null}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Parse(in, "")
		if err != nil {
			return
		}
		b1, err := d.Bytes()
		if err != nil {
			t.Fatalf("encode parsed document: %v", err)
		}
		d2, err := Parse(b1, d.Format())
		if err != nil {
			t.Fatalf("re-parse own output: %v\n%q", err, b1)
		}
		if b2, _ := d2.Bytes(); !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable:\n%q\n%q", b1, b2)
		}
		c, err := d.Convert(CBOR)
		if err != nil {
			return
		}
		cb, err := c.Bytes()
		if err != nil {
			t.Fatalf("encode CBOR: %v", err)
		}
		j, err := c.Convert(JSON)
		if err != nil {
			return
		}
		jb, err := j.Bytes()
		if err != nil {
			t.Fatalf("encode JSON: %v", err)
		}
		j2, err := Parse(jb, JSON)
		if err != nil {
			t.Fatalf("re-parse converted JSON: %v\n%s", err, jb)
		}
		c2, err := j2.Convert(CBOR)
		if err != nil {
			t.Fatalf("JSON from CBOR does not convert back: %v\n%s", err, jb)
		}
		if cb2, _ := c2.Bytes(); !bytes.Equal(cb, cb2) {
			t.Fatalf("CBOR → JSON → CBOR changed the document:\n%x\n%x\n%s", cb, cb2, jb)
		}
		var m AppManifest
		_ = d.Decode(&m)
	})
}

func FuzzReadReferenceValues(f *testing.F) {
	f.Add([]byte(`[{"type":"TPM Reference Value","name":"web","pcr":11,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]`))
	f.Add([]byte("\x81\xa2\x00\x72SW Reference Value\x01\x41\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = ReadReferenceValues(in)
	})
}
