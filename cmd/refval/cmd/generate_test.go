package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/refval/refval"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
)

// TestGenerateRealImage runs generate with package oci's measurement on an
// OCI layout built by the test-image builder: the signed manifest verifies
// and carries the same reference value `refval measure` prints for the
// image, next to the image's manifest digest.
func TestGenerateRealImage(t *testing.T) {
	dir := t.TempDir()
	root, signers := sigPKI(t, dir, "real")
	layout := filepath.Join(dir, "layout")
	img := testimage.Image{Layers: []testimage.Layer{{
		testimage.Dir("etc", 0o755),
		testimage.File("etc/hello", 0o644, "hello\n"),
		testimage.File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n"),
		testimage.File("etc/group", 0o644, "root:x:0:\n"),
	}}}
	desc, err := testimage.WriteLayout(layout, "web", img)
	if err != nil {
		t.Fatal(err)
	}
	ref := "oci:" + layout + ":web"
	tmpl := filepath.Join(dir, "app.manifest.json")
	os.WriteFile(tmpl, []byte(`{"type":"App Manifest","name":"x","version":"1","referenceValues":[]}`), 0o644)
	store := filepath.Join(dir, "store")
	out := filepath.Join(dir, "out")

	code, sumOut, stderr := sigCLI(t, "", "generate", "--cmc-version", "0.7", ref, "--template", tmpl, "--key", signers[0][0], "--cert", signers[0][1],
		"--out", out, "--layout", store, "--driver", "tpm", "--insecure-policy", "-q",
		"--not-before", fmtRFC(time.Now().Add(-time.Minute)), "--valid-for", "1d")
	if code != 0 {
		t.Fatalf("generate: exit %d\n%s\n%s", code, sumOut, stderr)
	}
	var sum []refval.GenerateResult
	if err := json.Unmarshal([]byte(sumOut), &sum); err != nil || len(sum) != 1 {
		t.Fatalf("summary %v: %s", err, sumOut)
	}
	if sum[0].ImageDigest != desc.Digest.String() || sum[0].Name != "web" {
		t.Errorf("summary %+v, want image digest %s and name web", sum[0], desc.Digest)
	}
	payload := filepath.Join(dir, "payload.json")
	if code, vout, _ := sigCLI(t, "", "verify", "--ca", root, "--payload-out", payload, sum[0].Output); code != 0 {
		t.Fatalf("verify: %s", vout)
	}
	b, _ := os.ReadFile(payload)
	var m manifest.AppManifest
	if err := json.Unmarshal(b, &m); err != nil || len(m.ReferenceValues) != 1 {
		t.Fatalf("payload %s: %v", b, err)
	}

	code, mOut, stderr := sigCLI(t, "", "measure", "--cmc-version", "0.7", ref, "--layout", store, "--pull", "never", "--driver", "tpm", "--insecure-policy", "-q")
	if code != 0 {
		t.Fatalf("measure: %d %s", code, stderr)
	}
	var want []manifest.ReferenceValue
	if err := json.Unmarshal([]byte(mOut), &want); err != nil || len(want) != 1 {
		t.Fatalf("measure output %s: %v", mOut, err)
	}
	got := m.ReferenceValues[0]
	if got.Sha256.String() != want[0].Sha256.String() || got.CtrData == nil ||
		got.CtrData.RootfsSha256.String() != want[0].CtrData.RootfsSha256.String() || got.Type != manifest.TypeTPM || *got.Pcr != manifest.DefaultPCR {
		t.Errorf("generate's reference value %+v differs from measure's %+v", got, want[0])
	}
}
