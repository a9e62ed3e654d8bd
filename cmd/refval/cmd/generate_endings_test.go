package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refval/refval"
	ti "github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
)

// TestGenerateLayerEndings: `refval generate` takes layers however real
// writers end them (no end-of-archive blocks as umoci insert writes them,
// one zero block, extra zero blocks) and signs the reference value of the
// same layers with the standard ending (the ending is no content: the
// oracle is `refval measure` of the standard image); a truncated layer
// fails its image, naming the layer, with no manifest written for it,
// after the others are finished.
func TestGenerateLayerEndings(t *testing.T) {
	dir := t.TempDir()
	_, signers := sigPKI(t, dir, "endings")
	store := filepath.Join(dir, "store")
	tmpl := filepath.Join(dir, "app.manifest.json")
	os.WriteFile(tmpl, []byte(`{"type":"App Manifest","name":"x","version":"1","referenceValues":[],"validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2036-01-01T00:00:00Z"}}`), 0o644)
	ref := func(name string, end ti.Ending) string {
		img := ti.Crafted(true)
		img.Ending = end
		// The umoci insert ending differs only after a regular file
		// whose content does not fill its last block: end each layer so.
		for i := range img.Layers {
			img.Layers[i] = append(append(ti.Layer{}, img.Layers[i]...), ti.File(fmt.Sprintf("zz-last-%d", i), 0o644, "tail\n"))
		}
		layout := filepath.Join(dir, "layouts", name)
		if _, err := ti.WriteLayout(layout, "v1", img); err != nil {
			t.Fatal(err)
		}
		return "oci:" + layout + ":v1"
	}
	out, errs, code := runCLI(t, "measure", "--cmc-version", "0.7", ref("standard", ti.EndOfArchive), "--layout", store, "--insecure-policy", "-q")
	var want []manifest.ReferenceValue
	if code != 0 || json.Unmarshal([]byte(out), &want) != nil || len(want) != 1 {
		t.Fatalf("measure: exit %d %s %s", code, out, errs)
	}
	type job struct {
		Image string `json:"image"`
		Name  string `json:"name"`
	}
	var jobs []job
	for name, end := range ti.Endings {
		n := strings.ReplaceAll(name, " ", "-")
		jobs = append(jobs, job{ref(n, end), n})
	}
	jobs = append(jobs, job{ref("truncated", ti.EndTruncated), "truncated"})
	b, _ := json.Marshal(map[string][]job{"images": jobs})
	batch := filepath.Join(dir, "images.json")
	os.WriteFile(batch, b, 0o644)
	outDir := filepath.Join(dir, "out")
	code, sumOut, stderr := sigCLI(t, "", "generate", "--cmc-version", "0.7", "--batch", batch, "--template", tmpl, "--key", signers[0][0], "--cert", signers[0][1],
		"--out", outDir, "--layout", store, "--insecure-policy", "-q")
	if code != 1 {
		t.Errorf("generate: exit %d, want 1 (the truncated image failed)\n%s", code, stderr)
	}
	var sum []refval.GenerateResult
	if err := json.Unmarshal([]byte(sumOut), &sum); err != nil || len(sum) != len(jobs) {
		t.Fatalf("summary %v: %s", err, sumOut)
	}
	for _, r := range sum {
		if r.Name == "truncated" {
			if r.Error == "" || !strings.Contains(r.Error, "layer 0 (sha256:") || r.Output != "" {
				t.Errorf("truncated: error %q, output %q; want an error naming layer 0 and no output", r.Error, r.Output)
			}
			continue
		}
		if r.Error != "" || r.ReferenceValue == nil || r.ReferenceValue.Sha256.String() != want[0].Sha256.String() {
			t.Errorf("%s: error %q, reference value %+v; want template hash %s", r.Name, r.Error, r.ReferenceValue, want[0].Sha256)
			continue
		}
		if _, err := os.Stat(r.Output); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
	ents, _ := os.ReadDir(outDir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if strings.HasPrefix(e.Name(), "truncated") {
			t.Errorf("written for the truncated image: %s", e.Name())
		}
	}
	if len(ents) != len(ti.Endings) {
		t.Errorf("out: %v; want one manifest per accepted ending", names)
	}
}
