package kubetest_test

import (
	"os"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pelletier/go-toml/v2"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/shim"
	yaml "go.yaml.in/yaml/v3"
)

// TestKubernetesExamples: the files of examples/kubernetes are what they
// claim: the shim configurations load (and say refval-v2), the containerd
// snippets are TOML naming the cmc runtime, the YAML documents parse, and
// the example Deployment is predictable with the example node profile.
func TestKubernetesExamples(t *testing.T) {
	const dir = "../../examples/kubernetes/"
	raw, err := os.ReadFile(dir + "shim.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := shim.ParseConfig(raw)
	if err != nil || cfg.Scheme != bundle.SchemeV2 {
		t.Errorf("shim.toml: %v, scheme %q", err, cfg.Scheme)
	}
	ds, err := os.ReadFile(dir + "daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(ds)))
	var cm struct {
		Kind string            `yaml:"kind"`
		Data map[string]string `yaml:"data"`
	}
	if err := dec.Decode(&cm); err != nil || cm.Kind != "ConfigMap" {
		t.Fatalf("daemonset.yaml first document: %v %q", err, cm.Kind)
	}
	if c, err := shim.ParseConfig([]byte(cm.Data["shim.toml"])); err != nil || c.Scheme != bundle.SchemeV2 {
		t.Errorf("daemonset.yaml shim.toml: %v", err)
	}
	var ds2 map[string]any
	if err := dec.Decode(&ds2); err != nil || ds2["kind"] != "DaemonSet" {
		t.Errorf("daemonset.yaml second document: %v %v", err, ds2["kind"])
	}
	for _, f := range []string{"containerd-2.x.toml", "containerd-1.x.toml"} {
		b, err := os.ReadFile(dir + f)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := toml.Unmarshal(b, &v); err != nil || !strings.Contains(string(b), "runtimes.cmc]") {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := toml.Unmarshal([]byte(cm.Data["cmc.toml"]), new(map[string]any)); err != nil {
		t.Errorf("daemonset.yaml cmc.toml: %v", err)
	}
	p, err := engine.NewKubePredictor(dir+"deployment.yaml", "web", dir+"node-profile.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Config(imageWithCmd(), engine.UserFiles(nil, nil)); err != nil {
		t.Errorf("deployment.yaml: %v", err)
	}
}

func imageWithCmd() (img ocispec.Image) {
	img.OS = "linux"
	img.Config.Cmd = []string{"/web"}
	return img
}
