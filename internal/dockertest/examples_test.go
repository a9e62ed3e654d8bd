package dockertest_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/shim"
)

// TestExamples: examples/docker/shim.toml is a valid shim configuration
// with the scheme Docker needs, and the daemon.json files have the two
// runtime forms the README describes (the path form is the one the
// harness gives dockerd).
func TestExamples(t *testing.T) {
	raw, err := os.ReadFile("../../examples/docker/shim.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := shim.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.Scheme != bundle.SchemeV2 {
		t.Errorf("examples/docker/shim.toml: scheme %q, want refval-v2", c.Scheme)
	}
	for file, key := range map[string]string{"daemon.json": "path", "daemon-23.json": "runtimeType"} {
		raw, err := os.ReadFile("../../examples/docker/" + file)
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Runtimes map[string]map[string]string `json:"runtimes"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if rt := cfg.Runtimes["cmc"]; len(rt) != 1 || rt[key] == "" {
			t.Errorf("%s: runtimes.cmc = %v, want only %q", file, rt, key)
		}
	}
}
