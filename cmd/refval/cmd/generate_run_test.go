package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refval/refval"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
)

// TestGenerateRunOptions: a batch entry's "run" predicts the engine's
// config exactly as `refval measure --engine …` does, with the entry's env
// included; without "run" the config is unpack's; bad run options fail
// before anything is measured.
func TestGenerateRunOptions(t *testing.T) {
	dir := t.TempDir()
	_, signers := sigPKI(t, dir, "run")
	layout := filepath.Join(dir, "layout")
	img := testimage.Image{Layers: []testimage.Layer{{
		testimage.Dir("etc", 0o755),
		testimage.File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n"),
		testimage.File("etc/group", 0o644, "root:x:0:\n"),
	}}}
	if _, err := testimage.WriteLayout(layout, "web", img); err != nil {
		t.Fatal(err)
	}
	ref := "oci:" + layout + ":web"
	store := filepath.Join(dir, "store")
	tmpl := filepath.Join(dir, "app.manifest.json")
	os.WriteFile(tmpl, []byte(`{"type":"App Manifest","name":"x","version":"1","referenceValues":[],"validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2036-01-01T00:00:00Z"}}`), 0o644)
	measure := func(extra ...string) manifest.ReferenceValue {
		t.Helper()
		args := append([]string{"measure", "--cmc-version", "0.7", ref, "--layout", store, "--insecure-policy", "-q"}, extra...)
		code, out, stderr := sigCLI(t, "", args...)
		var rv []manifest.ReferenceValue
		if code != 0 || json.Unmarshal([]byte(out), &rv) != nil || len(rv) != 1 {
			t.Fatalf("measure %v: exit %d %s %s", extra, code, out, stderr)
		}
		return rv[0]
	}
	predicted := measure("--engine", "containerd", "--env", "MODE=prod", "--cwd", "/etc")
	unpacked := measure()

	batch := filepath.Join(dir, "images.json")
	os.WriteFile(batch, []byte(`{"images":[
 {"image":"`+ref+`","name":"predicted","env":["MODE=prod"],"run":["--engine","containerd","--cwd","/etc"]},
 {"image":"`+ref+`","name":"unpacked","env":["MODE=prod"]}]}`), 0o644)
	out := filepath.Join(dir, "out")
	code, sumOut, stderr := sigCLI(t, "", "generate", "--cmc-version", "0.7", "--batch", batch, "--template", tmpl, "--key", signers[0][0], "--cert", signers[0][1],
		"--out", out, "--layout", store, "--insecure-policy", "-q")
	if code != 0 {
		t.Fatalf("generate: exit %d\n%s\n%s", code, sumOut, stderr)
	}
	var sum []refval.GenerateResult
	if err := json.Unmarshal([]byte(sumOut), &sum); err != nil || len(sum) != 2 {
		t.Fatalf("summary %v: %s", err, sumOut)
	}
	for i, want := range []manifest.ReferenceValue{predicted, unpacked} {
		got := sum[i].ReferenceValue
		if got == nil || got.Sha256.String() != want.Sha256.String() {
			t.Errorf("%s: reference value %+v; want template hash %s", sum[i].Name, got, want.Sha256)
		}
	}
	if predicted.Sha256.String() == unpacked.Sha256.String() {
		t.Error("the predicted and the unpacked config measure the same: the test shows nothing")
	}

	os.WriteFile(batch, []byte(`{"images":[{"image":"`+ref+`","run":["--engine","containerd","--bogus"]}]}`), 0o644)
	code, _, stderr = sigCLI(t, "", "generate", "--cmc-version", "0.7", "--batch", batch, "--template", tmpl, "--key", signers[0][0], "--cert", signers[0][1],
		"--out", filepath.Join(dir, "out2"), "--layout", store, "--insecure-policy", "-q")
	if code != 2 || !strings.Contains(stderr, "images[0].run") {
		t.Errorf("bad run options: exit %d, %q; want 2 naming images[0].run", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out2")); err == nil {
		if ents, _ := os.ReadDir(filepath.Join(dir, "out2")); len(ents) > 0 {
			t.Errorf("output written despite bad run options: %v", ents)
		}
	}
}
