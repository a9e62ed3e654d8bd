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
