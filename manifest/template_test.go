package manifest

import (
	"os"
	"testing"
)

// TestCIExampleTemplate09: examples/ci/manifest.json, the template of the
// CI examples, is a CMC 0.9 template generate takes.
func TestCIExampleTemplate09(t *testing.T) {
	b, err := os.ReadFile("../examples/ci/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(b, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckTemplate(d, CMC09); err != nil {
		t.Errorf("json: %v", err)
	}
}

// TestCheckTemplateZeroVersion: the zero CMCVersion is the default (0.9)
// here as everywhere: a 0.9 Manifest passes, a 0.7 App Manifest fails
// naming the version to select.
func TestCheckTemplateZeroVersion(t *testing.T) {
	b, err := os.ReadFile("../examples/ci/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(b, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckTemplate(d, ""); err != nil {
		t.Errorf("0.9 template, zero version: %v", err)
	}
	app, err := Parse([]byte(`{"type":"App Manifest","name":"a","version":"1","validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2027-01-01T00:00:00Z"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckTemplate(app, ""); err == nil {
		t.Error("0.7 App Manifest accepted under the zero version (the default is 0.9)")
	}
}
