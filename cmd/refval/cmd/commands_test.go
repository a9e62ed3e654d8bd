package cmd

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/refval/refval"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
)

// TestLegacyFlagsExist: every legacy single-dash name is a flag of its
// command, so the table in legacy.go cannot drift from the commands.
func TestLegacyFlagsExist(t *testing.T) {
	root := New(strings.NewReader(""), io.Discard, io.Discard)
	for name, flags := range legacyFlags {
		c, _, err := root.Find([]string{name})
		if err != nil || c == root {
			t.Errorf("legacy flags for %q: no such command", name)
			continue
		}
		for f := range flags {
			if c.Flags().Lookup(f) == nil {
				t.Errorf("legacy flag -%s: %s has no --%s", f, name, f)
			}
		}
	}
}

// TestNewBuildsFreshCommands: commands are constructed by New, not kept
// in package state: two roots share no command or flag value.
func TestNewBuildsFreshCommands(t *testing.T) {
	a := New(strings.NewReader(""), io.Discard, io.Discard)
	b := New(strings.NewReader(""), io.Discard, io.Discard)
	if len(a.Commands()) == 0 || len(a.Commands()) != len(b.Commands()) {
		t.Fatalf("%d and %d commands", len(a.Commands()), len(b.Commands()))
	}
	ma, _, _ := a.Find([]string{"measure"})
	mb, _, _ := b.Find([]string{"measure"})
	if ma == mb {
		t.Fatal("two roots share the measure command")
	}
	if err := ma.Flags().Set("scheme", "cmc"); err != nil {
		t.Fatal(err)
	}
	if got := mb.Flags().Lookup("scheme").Value.String(); got != "refval-v1" {
		t.Errorf("setting a flag of one root changed the other's: %q", got)
	}
	if err := ma.Flags().Set("scheme", "v0"); err == nil {
		t.Error("--scheme v0 accepted by the flag itself")
	}
}

// TestBatchRunObjectForm: a batch entry's "run" written as an object of
// engine run options predicts the same config as the command-line form
// and as `refval measure` with the same flags.
func TestBatchRunObjectForm(t *testing.T) {
	dir := t.TempDir()
	_, signers := sigPKI(t, dir, "obj")
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
	code, out, stderr := sigCLI(t, "", "measure", "--cmc-version", "0.7", ref, "--layout", store, "--insecure-policy", "-q",
		"--engine", "containerd", "--engine-version", "2.4", "--env", "MODE=prod", "--cwd", "/etc", "--read-only", "--", "/bin/app", "serve")
	var want []manifest.ReferenceValue
	if code != 0 || json.Unmarshal([]byte(out), &want) != nil || len(want) != 1 {
		t.Fatalf("measure: exit %d %s %s", code, out, stderr)
	}
	tmpl := filepath.Join(dir, "app.manifest.json")
	os.WriteFile(tmpl, []byte(`{"type":"App Manifest","name":"x","version":"1","referenceValues":[],"validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2036-01-01T00:00:00Z"}}`), 0o644)
	batch := filepath.Join(dir, "images.json")
	os.WriteFile(batch, []byte(`{"images":[
 {"image":"`+ref+`","name":"object","env":["MODE=prod"],"run":{"engine":"containerd","engineVersion":"2.4","cwd":"/etc","readOnly":true,"args":["/bin/app","serve"]}},
 {"image":"`+ref+`","name":"argv","env":["MODE=prod"],"run":["--engine","containerd","--engine-version","2.4","--cwd","/etc","--read-only","--","/bin/app","serve"]},
 {"image":"`+ref+`","name":"plain","env":["MODE=prod"]}]}`), 0o644)
	code, out, stderr = sigCLI(t, "", "generate", "--cmc-version", "0.7", "--batch", batch, "--template", tmpl, "--key", signers[0][0], "--cert", signers[0][1],
		"--out", filepath.Join(dir, "out"), "--layout", store, "--insecure-policy", "-q")
	var sum []refval.GenerateResult
	if code != 0 || json.Unmarshal([]byte(out), &sum) != nil || len(sum) != 3 {
		t.Fatalf("generate: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, r := range sum[:2] {
		if r.ReferenceValue == nil || !reflect.DeepEqual(r.ReferenceValue.Sha256, want[0].Sha256) {
			t.Errorf("%s: %+v; want measure's template hash %s", r.Name, r.ReferenceValue, want[0].Sha256)
		}
	}
	if sum[2].ReferenceValue == nil || reflect.DeepEqual(sum[2].ReferenceValue.Sha256, want[0].Sha256) {
		t.Error("without run options the value is the same: the test shows nothing")
	}
	// A bad object-form option is a usage error before anything is written.
	os.WriteFile(batch, []byte(`{"images":[{"image":"`+ref+`","run":{"engine":"containerd","capAdd":["SYS_ADMIN"]}}]}`), 0o644)
	code, _, stderr = sigCLI(t, "", "generate", "--cmc-version", "0.7", "--batch", batch, "--template", tmpl, "--key", signers[0][0], "--cert", signers[0][1],
		"--out", filepath.Join(dir, "out2"), "--layout", store, "--insecure-policy", "-q")
	if code != ExitUsage || !strings.Contains(stderr, "images[0]") || !strings.Contains(stderr, "CAP_") {
		t.Errorf("bad object run options: exit %d %q; want 2 naming images[0] and the capability", code, stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "out2")); len(ents) > 0 {
		t.Errorf("output written despite bad run options: %v", ents)
	}
}
