package cmctest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/cmctest"
)

// refvalBin returns the refval binary of `make build` (REFVAL_BIN).
func refvalBin(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("REFVAL_BIN")
	if dir == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("REFVAL_BIN is not set in CI")
		}
		t.Skip("REFVAL_BIN not set (make build; REFVAL_BIN=$PWD/_output)")
	}
	return filepath.Join(dir, "refval")
}

func run(t *testing.T, wantOK bool, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1735689600")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if wantOK && err != nil {
		t.Fatalf("%s %q: %v\n%s", filepath.Base(name), args, err, errb.String())
	}
	if !wantOK && err == nil {
		t.Fatalf("%s %q succeeded, want an error", filepath.Base(name), args)
	}
	return out.Bytes()
}

func readJSON(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// TestCLIv09WithCMC drives the refval CLI through the CMC v0.9 path and
// judges every output with CMC's own code: measure-bundle's components are
// metatool's --components input, and metatool's Manifest equals refval's
// field by field; refval-signed manifests (RSA → RS256) pass CMC's metadata
// verification, Ed25519 JWS is refused by sign; CMC's SW verifier matches
// the list against the signed manifest.
func TestCLIv09WithCMC(t *testing.T) {
	bin := refvalBin(t)
	tools := cmctest.Require(t, cmctest.V09)
	tmp := t.TempDir()
	dir := richBundle(t, []string{"A=1"})
	comps := filepath.Join(tmp, "c.json")
	out := run(t, true, bin, "measure-bundle", dir, "--cmc-version", "0.9", "--scheme", "cmc", "--id", ctrID, "--name", "app")
	os.WriteFile(comps, out, 0o644)

	common := []string{"--name", "de.refval.app", "--version", "2025-01-01T00:00:00Z",
		"--not-before", "2025-01-01T00:00:00Z", "--not-after", "2099-01-01T00:00:00Z"}
	mRefval := filepath.Join(tmp, "m.json")
	run(t, true, bin, append([]string{"manifest", "create", "--refvals", comps, "--out", mRefval}, common...)...)
	mMeta := filepath.Join(tmp, "metatool.json")
	run(t, true, tools.Metatool, append([]string{"create", "manifest", "--components", comps, "--out", mMeta}, common...)...)
	if diff := cmp.Diff(readJSON(t, mMeta), readJSON(t, mRefval)); diff != "" {
		t.Errorf("metatool vs refval manifest (-metatool +refval):\n%s", diff)
	}

	rsa := cmctest.NewPKI(t, t.TempDir(), "rsa2048")
	signed := filepath.Join(tmp, "m.signed.json")
	run(t, true, bin, "sign", "--in", mRefval, "--out", signed, "--key", rsa.Key, "--cert", rsa.Leaf)
	res, err := tools.VerifyMetadata(rsa.CA, signed)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Kept || !res.Signature || res.Status != "success" || res.Type != "Manifest" {
		t.Errorf("CMC 0.9 verdict on refval's RSA-signed manifest: %+v", res)
	}
	ed := cmctest.NewPKI(t, t.TempDir(), "ed25519")
	run(t, false, bin, "sign", "--in", mRefval, "--out", filepath.Join(tmp, "ed.json"), "--key", ed.Key, "--cert", ed.Leaf)
	run(t, true, bin, "sign", "--allow-cmc-rejected", "--in", mRefval, "--out", filepath.Join(tmp, "ed.json"), "--key", ed.Key, "--cert", ed.Leaf)

	r := measure(t, dir, bundle.SchemeCMC09)
	m, err := tools.Match(writeList09(t, filepath.Join(tmp, "list.json"), r), signed)
	if err != nil {
		t.Fatal(err)
	}
	if !m.OK {
		t.Errorf("CMC 0.9 SW verifier refused the list against the CLI's manifest: %s", m.Result)
	}
	// A non-RFC 3339 version is refused for 0.9 (CMC would ignore the manifest).
	run(t, false, bin, "manifest", "create", "--refvals", comps, "--name", "x", "--version", "1.0.0", "--valid-for", "1d")
}

// TestCLILegacyMeasureBundleEqualsCMCTool: refval's "measure-bundle -config
// C -rootfs R" prints byte for byte what CMC v0.7.2's own measure-bundle
// prints for the same bundle.
func TestCLILegacyMeasureBundleEqualsCMCTool(t *testing.T) {
	bin := refvalBin(t)
	tools := cmctest.Require(t, cmctest.V07)
	dir := cmctest.Bundle(t, t.TempDir(), ctrID, []string{"B=2", "A=1"})
	args := []string{"-config", filepath.Join(dir, "config.json"), "-rootfs", filepath.Join(dir, "rootfs")}
	want := run(t, true, tools.MeasureBundle, args...)
	got := run(t, true, bin, append([]string{"measure-bundle"}, args...)...)
	if !bytes.Equal(got, want) {
		t.Errorf("refval:\n%s\nCMC's measure-bundle:\n%s", got, want)
	}
	// Any other flag: refval's own output (one reference value).
	own := run(t, true, bin, append([]string{"measure-bundle"}, append(args, "--id", ctrID)...)...)
	if bytes.Contains(own, []byte("OCI Runtime Config")) {
		t.Errorf("the extended form printed the CMC tool's output: %s", own)
	}
}
