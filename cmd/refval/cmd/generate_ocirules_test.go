package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/refval/refval"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
)

// TestGenerateOCIRules: generate --oci-rules puts the rules file into the
// Manifest Description of each image given as an argument, as manifest
// create --oci-rules does; a batch file gives each image its own
// "ociRules" (an image without them gets none); misuse fails naming the
// flag before anything is measured or written.
func TestGenerateOCIRules(t *testing.T) {
	dir := t.TempDir()
	_, signers := sigPKI(t, dir, "genrules")
	measured := 0
	oldC := componentMeasurer
	t.Cleanup(func() { componentMeasurer = oldC })
	componentMeasurer = func([]oci.Option) refval.MeasureComponentFunc { return fakeComponent(&measured) }
	t.Setenv("SOURCE_DATE_EPOCH", fmtUnix(time.Now().Add(-time.Minute)))
	// The template, and two Image Descriptions holding its description.
	tmpl := filepath.Join(dir, "manifest.json")
	imgDesc, batchDesc := filepath.Join(dir, "image.json"), filepath.Join(dir, "batch-image.json")
	for _, d := range []string{imgDesc, batchDesc} {
		if code, _, stderr := sigCLI(t, "", "manifest", "create", "--name", "tmpl", "--version", "2026-01-02T15:04:05Z", "--out", tmpl, "--image-description", d); code != 0 {
			t.Fatalf("template: %s", stderr)
		}
	}
	// Rules as measure --oci-rules-out writes them for a pod (CMC's rule
	// words: verifier/ocivalidation.go).
	const rulesJSON = `{"linux":{"cgroupsPath":"modifiable"},"process":{"env":"replace:HOSTNAME=*"}}`
	var want map[string]any
	json.Unmarshal([]byte(rulesJSON), &want)
	rules := filepath.Join(dir, "rules.json")
	os.WriteFile(rules, []byte(rulesJSON), 0o644)
	outDir := filepath.Join(dir, "out")
	gen := func(args ...string) (int, string, string) {
		return sigCLI(t, "", append([]string{"generate", "--out", outDir, "--valid-for", "1d", "--template", tmpl,
			"--key", signers[0][0], "--cert", signers[0][1]}, args...)...)
	}
	descriptions := func(p string) map[string]map[string]any {
		t.Helper()
		b, err := os.ReadFile(p)
		var id manifest.ImageDescription
		if err == nil {
			err = json.Unmarshal(b, &id)
		}
		if err != nil {
			t.Fatalf("image description %s: %v", p, err)
		}
		m := map[string]map[string]any{}
		for _, d := range id.Descriptions {
			m[d.Manifest] = d.OciRules
		}
		return m
	}

	if code, _, stderr := gen("oci:/layout:web", "oci:/layout:api", "--image-description", imgDesc, "--oci-rules", rules); code != 0 {
		t.Fatalf("generate --oci-rules: exit %d %s", code, stderr)
	}
	got := descriptions(imgDesc)
	if len(got) != 3 || !reflect.DeepEqual(got["web"], want) || !reflect.DeepEqual(got["api"], want) || got["tmpl"] != nil {
		t.Errorf("Manifest Descriptions' ociRules %v, want %v for web and api (and none for the template's)", got, want)
	}

	batch := filepath.Join(dir, "batch.json")
	os.WriteFile(batch, []byte(`{"images":[{"image":"oci:/layout:web","ociRules":`+rulesJSON+`},{"image":"oci:/layout:db"}]}`), 0o644)
	if code, _, stderr := gen("--batch", batch, "--image-description", batchDesc); code != 0 {
		t.Fatalf("generate --batch with ociRules: exit %d %s", code, stderr)
	}
	got = descriptions(batchDesc)
	if len(got) != 3 || !reflect.DeepEqual(got["web"], want) || got["db"] != nil {
		t.Errorf("batch Manifest Descriptions' ociRules %v, want %v for web, none for db", got, want)
	}

	measured = 0
	notObject := filepath.Join(dir, "array.json")
	os.WriteFile(notObject, []byte(`[]`), 0o644)
	noDesc := filepath.Join(dir, "nodesc.json")
	os.WriteFile(noDesc, []byte(`{"images":[{"image":"oci:/layout:web","ociRules":{}}]}`), 0o644)
	for _, tc := range []struct {
		name    string
		args    []string
		exit    int
		mention string
	}{
		{"no image description", []string{"oci:/layout:web", "--oci-rules", rules}, ExitUsage, "--image-description"},
		{"CMC 0.7", []string{"oci:/layout:web", "--cmc-version", "0.7", "--oci-rules", rules, "--image-description", filepath.Join(dir, "x.json")}, ExitUsage, "--cmc-version 0.9"},
		{"with a batch", []string{"--batch", batch, "--oci-rules", rules, "--image-description", filepath.Join(dir, "x.json")}, ExitUsage, `"ociRules"`},
		{"not an object", []string{"oci:/layout:web", "--oci-rules", notObject, "--image-description", filepath.Join(dir, "x.json")}, ExitFailure, "JSON object"},
		{"batch ociRules without an image description", []string{"--batch", noDesc}, ExitFailure, "Image Description"},
	} {
		code, out, stderr := gen(tc.args...)
		if code != tc.exit || out != "" || !strings.Contains(stderr, tc.mention) || measured != 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q, %d measured; want exit %d mentioning %q before measuring", tc.name, code, out, stderr, measured, tc.exit, tc.mention)
		}
		if _, err := os.Stat(filepath.Join(dir, "x.json")); err == nil {
			t.Errorf("%s: image description written", tc.name)
		}
	}
}
