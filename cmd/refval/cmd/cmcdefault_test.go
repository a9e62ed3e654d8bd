package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refval/refval"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
)

// TestDefaultCMCVersionIs09: without --cmc-version the commands speak
// current CMC: measure-bundle prints what --cmc-version 0.9 prints (a v0.9
// component whose hash is the rootfs hash), not the 0.7 reference value;
// manifest create writes a Manifest, refuses reference values of the other
// dialect (naming the flag that takes them) and a version CMC ignores.
func TestDefaultCMCVersionIs09(t *testing.T) {
	dir := writeBundle(t)
	def, errs, code := runCLI(t, "measure-bundle", dir, "--id", "c1", "--name", "app")
	if code != 0 {
		t.Fatalf("measure-bundle: exit %d: %s", code, errs)
	}
	v09, _, _ := runCLI(t, "measure-bundle", dir, "--id", "c1", "--name", "app", "--cmc-version", "0.9")
	v07, _, _ := runCLI(t, "measure-bundle", dir, "--id", "c1", "--name", "app", "--cmc-version", "0.7")
	if def != v09 || def == v07 {
		t.Errorf("default output:\n%s\nis not --cmc-version 0.9's:\n%s", def, v09)
	}
	want, err := bundle.Measure(t.Context(), dir, bundle.WithContainerID("c1"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := manifest.ReadComponents([]byte(def))
	if err != nil || len(cs) != 1 || cs[0].Hash(manifest.HashSHA256).String() != want.RootfsSha256.String() {
		t.Fatalf("default output is not one v0.9 component with the rootfs hash %s (%v):\n%s", want.RootfsSha256, err, def)
	}

	t.Setenv("SOURCE_DATE_EPOCH", fmtUnix(time.Now()))
	code, out, stderr := sigCLI(t, def, "manifest", "create", "--name", "app", "--version", "2026-01-02T15:04:05Z", "--refvals", "-")
	if code != 0 {
		t.Fatalf("manifest create: exit %d: %s", code, stderr)
	}
	var m manifest.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.Type != manifest.TypeManifest || m.Sbom == nil || len(m.Sbom.Components) != 1 {
		t.Errorf("default manifest create wrote %v:\n%s", err, out)
	}
	for _, tc := range []struct {
		stdin   string
		args    []string
		mention string
	}{
		{sigRefvals, nil, "--cmc-version 0.7"},                        // 0.7 reference values under the default
		{def, []string{"--cmc-version", "0.7"}, "CMC 0.9 components"}, // 0.9 components under 0.7
		{def, []string{"--version", "1.0.0"}, "RFC 3339"},             // a version CMC ignores
	} {
		args := append([]string{"manifest", "create", "--name", "app", "--version", "2026-01-02T15:04:05Z", "--refvals", "-"}, tc.args...)
		if code, out, stderr := sigCLI(t, tc.stdin, args...); code != ExitUsage || out != "" || !strings.Contains(stderr, tc.mention) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want a usage error mentioning %q", tc.args, code, out, stderr, tc.mention)
		}
	}
	// 0.7 stays what it was with the flag.
	if code, out, stderr := sigCLI(t, sigRefvals, "manifest", "create", "--cmc-version", "0.7", "--name", "app", "--version", "1", "--refvals", "-"); code != 0 || !strings.Contains(out, `"App Manifest"`) {
		t.Errorf("--cmc-version 0.7: exit %d %s %s", code, out, stderr)
	}
}

// fakeComponent stands in for package oci in the CMC 0.9 path, as
// fakeMeasure does for 0.7.
func fakeComponent(measured *int) refval.MeasureComponentFunc {
	return func(_ context.Context, ref string, o refval.RunOptions) (manifest.Component, refval.ImageInfo, error) {
		*measured++
		if strings.Contains(ref, "broken") {
			return manifest.Component{}, refval.ImageInfo{}, errors.New("corrupted blob")
		}
		return manifest.Component{Type: manifest.ComponentApplication, Name: o.Name + "/" + string(o.Scheme),
				Hashes: []manifest.Hash{{Alg: manifest.HashSHA256, Content: bytes.Repeat([]byte{9}, 32)}}},
			refval.ImageInfo{Reference: ref, Digest: "sha256:" + strings.Repeat("cd", 32)}, nil
	}
}

// TestGenerateCMC09: generate writes signed CMC v0.9 Manifests by default
// (template Manifest, components replaced, validity from the flags, a
// Manifest Description per image), and the dialect is chosen by
// --cmc-version or the batch file's cmc_version; everything CMC 0.9 would
// ignore or reject fails before any image is measured.
func TestGenerateCMC09(t *testing.T) {
	dir := t.TempDir()
	root, signers := sigPKI(t, dir, "gen09")
	measured := 0
	oldC, oldM := componentMeasurer, imageMeasurer
	t.Cleanup(func() { componentMeasurer, imageMeasurer = oldC, oldM })
	componentMeasurer = func([]oci.Option) refval.MeasureComponentFunc { return fakeComponent(&measured) }
	imageMeasurer = func([]oci.Option) refval.MeasureFunc { return fakeMeasure }
	t.Setenv("SOURCE_DATE_EPOCH", fmtUnix(time.Now().Add(-time.Minute)))
	tmpl := filepath.Join(dir, "manifest.json")
	imgDesc := filepath.Join(dir, "image.json")
	if code, _, stderr := sigCLI(t, "", "manifest", "create", "--name", "tmpl", "--version", "2026-01-02T15:04:05Z", "--developer", "gen09 signer",
		"--out", tmpl, "--image-description", imgDesc); code != 0 {
		t.Fatalf("template: %s", stderr)
	}
	appTmpl := filepath.Join(dir, "app.manifest.json")
	os.WriteFile(appTmpl, []byte(`{"type":"App Manifest","name":"x","version":"1","referenceValues":[]}`), 0o644)
	outDir := filepath.Join(dir, "out")
	key := []string{"--key", signers[0][0], "--cert", signers[0][1]}
	gen := func(args ...string) (int, string, string) {
		return sigCLI(t, "", append(append([]string{"generate", "--out", outDir, "--valid-for", "1d"}, key...), args...)...)
	}

	code, out, stderr := gen("oci:/layout:web", "--template", tmpl, "--image-description", imgDesc, "--scheme", "cmc")
	if code != 0 {
		t.Fatalf("generate: exit %d %s", code, stderr)
	}
	var sum []refval.GenerateResult
	if err := json.Unmarshal([]byte(out), &sum); err != nil || len(sum) != 1 || sum[0].Component == nil || sum[0].ReferenceValue != nil {
		t.Fatalf("summary %v:\n%s", err, out)
	}
	// The scheme "cmc" of a job is the CMC version's own (cmc-0.9).
	if sum[0].Component.Name != "web/cmc-0.9" {
		t.Errorf("component %q, want the image measured with scheme cmc-0.9", sum[0].Component.Name)
	}
	payload := filepath.Join(dir, "payload.json")
	if code, vout, _ := sigCLI(t, "", "verify", "--ca", root, "--payload-out", payload, sum[0].Output); code != 0 {
		t.Fatalf("generated manifest does not verify: %s", vout)
	}
	b, _ := os.ReadFile(payload)
	var m manifest.Manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Type != manifest.TypeManifest || m.Name != "web" || m.DeveloperCommonName != "gen09 signer" ||
		m.Sbom == nil || len(m.Sbom.Components) != 1 || m.Sbom.Components[0].Name != "web/cmc-0.9" || m.Validity == nil {
		t.Errorf("generated Manifest %v:\n%s", err, b)
	}
	if nb, _ := time.Parse(time.RFC3339, m.Validity.NotBefore); time.Since(nb) > time.Hour {
		t.Errorf("validity %+v not from the flags", m.Validity)
	}
	ib, _ := os.ReadFile(imgDesc)
	var id manifest.ImageDescription
	if err := json.Unmarshal(ib, &id); err != nil || len(id.Descriptions) != 2 || id.Descriptions[1].Manifest != "web" {
		t.Errorf("image description without the generated manifest's description (%v):\n%s", err, ib)
	}

	// The batch file's cmc_version selects 0.7: an App Manifest template.
	batch := filepath.Join(dir, "batch.json")
	os.WriteFile(batch, []byte(`{"cmc_version":"0.7","images":[{"image":"oci:/layout:web","name":"old"}]}`), 0o644)
	code, out, stderr = gen("--batch", batch, "--template", appTmpl)
	if code != 0 || !strings.Contains(out, `"referenceValue"`) || strings.Contains(out, `"component"`) {
		t.Errorf("batch cmc_version 0.7: exit %d %s %s", code, out, stderr)
	}

	measured = 0
	os.WriteFile(filepath.Join(dir, "v1.json"), []byte(`{"type":"Manifest","name":"t","version":"1.0.0"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "typo.json"), []byte(`{"cmc_version":"0.8","images":[{"image":"oci:/layout:web"}]}`), 0o644)
	for _, tc := range []struct {
		name    string
		args    []string
		exit    int
		mention string
	}{
		{"App Manifest template under the default", []string{"oci:/layout:web", "--template", appTmpl}, ExitFailure, "--cmc-version 0.7"},
		{"flag and batch disagree", []string{"--batch", batch, "--template", tmpl, "--cmc-version", "0.9"}, ExitUsage, "cmc_version 0.7"},
		{"unknown batch cmc_version", []string{"--batch", filepath.Join(dir, "typo.json"), "--template", tmpl}, ExitUsage, "cmc_version"},
		{"version CMC ignores", []string{"oci:/layout:web", "--template", filepath.Join(dir, "v1.json")}, ExitFailure, "RFC 3339"},
		{"device description is 0.7's", []string{"oci:/layout:web", "--template", tmpl, "--device-description", imgDesc}, ExitFailure, "Image Description"},
		{"Ed25519 JWS rejected by CMC 0.9", []string{"oci:/layout:web", "--template", tmpl, "--key", signers[1][0], "--cert", signers[1][1]}, ExitFailure, "EdDSA"},
	} {
		code, out, stderr := gen(tc.args...)
		if code != tc.exit || out != "" || !strings.Contains(stderr, tc.mention) || measured != 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q, %d measured; want exit %d mentioning %q before measuring", tc.name, code, out, stderr, measured, tc.exit, tc.mention)
		}
	}
	// CMC 0.9's COSE verifier takes EdDSA: the CBOR form signs with it.
	if code, _, stderr := gen("oci:/layout:web", "--template", tmpl, "--format", "cbor", "--key", signers[1][0], "--cert", signers[1][1]); code != 0 {
		t.Errorf("Ed25519 COSE for CMC 0.9: exit %d %s", code, stderr)
	}
}

// TestSetRefvalsNamesTheDialect: set-refvals edits CMC 0.7 App Manifests;
// fed the default (0.9) measure-bundle output it says which flag measures
// what it takes, and writes nothing.
func TestSetRefvalsNamesTheDialect(t *testing.T) {
	dir := writeBundle(t)
	comps, _, _ := runCLI(t, "measure-bundle", dir)
	tmpl := filepath.Join(t.TempDir(), "app.manifest.json")
	os.WriteFile(tmpl, []byte(`{"type":"App Manifest","name":"x","version":"1","referenceValues":[]}`), 0o644)
	out := filepath.Join(t.TempDir(), "out.json")
	code, stdout, stderr := sigCLI(t, comps, "manifest", "set-refvals", tmpl, "--out", out)
	if _, err := os.Stat(out); code != ExitUsage || stdout != "" || !strings.Contains(stderr, "--cmc-version 0.7") || !os.IsNotExist(err) {
		t.Errorf("set-refvals with components: exit %d, stdout %q, stderr %q, output %v; want a usage error naming --cmc-version 0.7", code, stdout, stderr, err)
	}
	rvs, _, _ := runCLI(t, "measure-bundle", dir, "--cmc-version", "0.7")
	if code, _, stderr := sigCLI(t, rvs, "manifest", "set-refvals", tmpl, "--out", out); code != 0 {
		t.Errorf("set-refvals with 0.7 reference values: exit %d %s", code, stderr)
	}
}

// TestManifestCreateFromImage: --from-image measures the image in the
// dialect of the command: a component in a Manifest by default (scheme
// cmc resolved to cmc-0.9), a reference value in an App Manifest with
// --cmc-version 0.7; a version CMC 0.9 ignores fails before measuring.
func TestManifestCreateFromImage(t *testing.T) {
	measured := 0
	oldC, oldM := componentMeasurer, imageMeasurer
	t.Cleanup(func() { componentMeasurer, imageMeasurer = oldC, oldM })
	componentMeasurer = func([]oci.Option) refval.MeasureComponentFunc { return fakeComponent(&measured) }
	imageMeasurer = func([]oci.Option) refval.MeasureFunc { return fakeMeasure }
	t.Setenv("SOURCE_DATE_EPOCH", fmtUnix(time.Now()))
	code, out, stderr := sigCLI(t, "", "manifest", "create", "--from-image", "oci:/layout:web", "--scheme", "cmc", "--name", "web", "--version", "2026-01-02T15:04:05Z")
	var m manifest.Manifest
	if err := json.Unmarshal([]byte(out), &m); code != 0 || err != nil || m.Type != manifest.TypeManifest || m.Sbom == nil ||
		len(m.Sbom.Components) != 1 || m.Sbom.Components[0].Name != "web/cmc-0.9" {
		t.Errorf("default --from-image: exit %d %v %s\n%s", code, err, stderr, out)
	}
	code, out, stderr = sigCLI(t, "", "manifest", "create", "--cmc-version", "0.7", "--from-image", "oci:/layout:web", "--name", "web", "--version", "1")
	var am manifest.AppManifest
	if err := json.Unmarshal([]byte(out), &am); code != 0 || err != nil || am.Type != manifest.TypeAppManifest || len(am.ReferenceValues) != 1 {
		t.Errorf("--cmc-version 0.7 --from-image: exit %d %v %s\n%s", code, err, stderr, out)
	}
	measured = 0
	if code, _, stderr := sigCLI(t, "", "manifest", "create", "--from-image", "oci:/layout:web", "--name", "web", "--version", "1.0.0"); code != ExitUsage || measured != 0 || !strings.Contains(stderr, "RFC 3339") {
		t.Errorf("version 1.0.0: exit %d, %d measured, %s; want a usage error before measuring", code, measured, stderr)
	}
}
