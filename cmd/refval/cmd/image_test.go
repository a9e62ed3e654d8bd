package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ti "github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
)

func imageRef(t *testing.T, imgs ...ti.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	if _, err := ti.WriteLayout(dir, "v1", imgs...); err != nil {
		t.Fatal(err)
	}
	return "oci:" + dir + ":v1"
}

// TestMeasureImageEqualsUnpackCLI: refval measure IMAGE prints the same
// reference value and records as refval unpack + refval measure-bundle
// (as root; rootless unpacks write a different config).
func TestMeasureImageEqualsUnpackCLI(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("compares with a root unpack")
	}
	ref := imageRef(t, ti.Crafted(true))
	store := filepath.Join(t.TempDir(), "store")
	tmp := t.TempDir()
	out, errs, code := runCLI(t, "measure", "--cmc-version", "0.7", ref, "--layout", store, "--insecure-policy", "--name", "app", "--driver", "tpm", "--records", filepath.Join(tmp, "image.jsonl"))
	if code != 0 {
		t.Fatalf("measure: exit %d: %s", code, errs)
	}
	var got []manifest.ReferenceValue
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("measure output %q: %v", out, err)
	}
	b, _ := ti.Build(ti.Crafted(true))
	if !strings.Contains(got[0].Description, b.ManifestDesc.Digest.String()) {
		t.Errorf("description %q lacks the manifest digest %s", got[0].Description, b.ManifestDesc.Digest)
	}

	bdir := filepath.Join(tmp, "bundle")
	if _, errs, code := runCLI(t, "unpack", "--layout", store, "--pull", "never", ref, bdir); code != 0 {
		t.Fatalf("unpack: exit %d: %s", code, errs)
	}
	out, errs, code = runCLI(t, "measure-bundle", "--cmc-version", "0.7", bdir, "--name", "app", "--driver", "tpm", "--records", filepath.Join(tmp, "bundle.jsonl"))
	if code != 0 {
		t.Fatalf("measure-bundle: exit %d: %s", code, errs)
	}
	var want []manifest.ReferenceValue
	if err := json.Unmarshal([]byte(out), &want); err != nil {
		t.Fatal(err)
	}
	want[0].Description = got[0].Description
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("measure:\n%s\nunpack + measure-bundle:\n%s", g, w)
	}
	ri, _ := os.ReadFile(filepath.Join(tmp, "image.jsonl"))
	rb, _ := os.ReadFile(filepath.Join(tmp, "bundle.jsonl"))
	if len(ri) == 0 || string(ri) != string(rb) {
		t.Errorf("records differ:\nmeasure:\n%s\nmeasure-bundle:\n%s", ri, rb)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPullCLI(t *testing.T) {
	ref := imageRef(t, ti.Image{Layers: []ti.Layer{{ti.File("f", 0o644, "x")}}})
	store := filepath.Join(t.TempDir(), "store")
	out, errs, code := runCLI(t, "pull", ref, "--layout", store, "--insecure-policy", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var img oci.Image
	if err := json.Unmarshal([]byte(out), &img); err != nil {
		t.Fatal(err)
	}
	b, _ := ti.Build(ti.Image{Layers: []ti.Layer{{ti.File("f", 0o644, "x")}}})
	if len(img.Manifests) != 1 || img.Manifests[0].Digest != b.ManifestDesc.Digest || img.Manifests[0].Layers[0].Digest != b.LayerDescs[0].Digest {
		t.Errorf("pull output: %s", out)
	}
}

// TestImageCLIErrors: usage errors exit 2, failures exit 1 with a message
// naming the problem, and nothing is written.
func TestImageCLIErrors(t *testing.T) {
	ref := imageRef(t, ti.Image{Layers: []ti.Layer{{ti.File("f", 0o644, "x")}}})
	store := filepath.Join(t.TempDir(), "store")
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "mine"), []byte("x"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown transport", []string{"pull", "ftp://x/y"}, ExitUsage, "unknown transport"},
		{"no transport", []string{"measure", "busybox"}, ExitUsage, "unknown transport"},
		{"bad platform", []string{"pull", ref, "--platform", "linux"}, ExitUsage, "os/arch"},
		{"platform and all", []string{"measure", ref, "--platform", "linux/amd64", "--all-platforms"}, ExitUsage, "exclude"},
		{"records of all platforms", []string{"measure", ref, "--all-platforms", "--records", filepath.Join(full, "r.jsonl")}, ExitUsage, "--platform"},
		{"config of all platforms", []string{"measure", ref, "--all-platforms", "--normalized-config", filepath.Join(full, "c.json")}, ExitUsage, "--platform"},
		{"bad pull policy", []string{"measure", ref, "--pull", "sometimes"}, ExitUsage, "--pull"},
		{"bad scheme", []string{"measure", ref, "--scheme", "v0"}, ExitUsage, "scheme"},
		{"missing tag", []string{"pull", strings.TrimSuffix(ref, ":v1") + ":v2", "--layout", store, "--insecure-policy"}, ExitFailure, "v2"},
		{"not in store", []string{"measure", ref, "--layout", store, "--pull", "never"}, ExitFailure, "not in the layout store"},
		{"destination not empty", []string{"unpack", ref, full, "--layout", store, "--insecure-policy", "--rootless=" + map[bool]string{true: "true", false: "false"}[os.Geteuid() != 0]}, ExitFailure, "not empty"},
		{"unpack needs two args", []string{"unpack", ref}, ExitUsage, "accepts 2 arg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs, code := runCLI(t, c.args...)
			if code != c.code || !strings.Contains(errs, c.msg) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, c.code, errs, c.msg)
			}
		})
	}
	if names, _ := os.ReadDir(full); len(names) != 1 {
		t.Errorf("non-empty destination changed: %v", names)
	}
}
