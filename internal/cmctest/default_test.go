package cmctest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/refval/refval"
	"github.com/refval/refval/internal/cmctest"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/shim"
)

// shimList records the bundle dir as container ctrID with the shim's
// configuration cfg (TOML) and returns the list file the shim wrote.
func shimList(t *testing.T, cfg, dir string) string {
	t.Helper()
	list := filepath.Join(t.TempDir(), "list.json")
	c, err := shim.ParseConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	c.List = list
	r, err := shim.NewRecorder(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Measure(context.Background(), dir, ctrID); err != nil {
		t.Fatal(err)
	}
	return list
}

// TestDefaultIsCMC09 judges refval's defaults with CMC v0.9.15's own code:
// without --cmc-version, measure-bundle prints what --cmc-version 0.9
// prints, metatool's Manifest from those components equals refval's
// default `manifest create`, CMC's metadata verification accepts it signed
// by the default `sign` (P-256), and CMC's SW verifier matches against it
// the list a shim without cmc_version writes for the same container.
func TestDefaultIsCMC09(t *testing.T) {
	bin := refvalBin(t)
	tools := cmctest.Require(t, cmctest.V09)
	tmp := t.TempDir()
	dir := richBundle(t, []string{"A=1"})
	def := run(t, true, bin, "measure-bundle", dir, "--scheme", "cmc", "--id", ctrID, "--name", "app")
	if v09 := run(t, true, bin, "measure-bundle", dir, "--cmc-version", "0.9", "--scheme", "cmc", "--id", ctrID, "--name", "app"); !bytes.Equal(def, v09) {
		t.Errorf("default measure-bundle:\n%s\n--cmc-version 0.9:\n%s", def, v09)
	}
	comps := filepath.Join(tmp, "c.json")
	os.WriteFile(comps, def, 0o644)
	common := []string{"--name", "de.refval.app", "--version", "2025-01-01T00:00:00Z",
		"--not-before", "2025-01-01T00:00:00Z", "--not-after", "2099-01-01T00:00:00Z"}
	m := filepath.Join(tmp, "m.json")
	run(t, true, bin, append([]string{"manifest", "create", "--refvals", comps, "--out", m}, common...)...)
	mMeta := filepath.Join(tmp, "metatool.json")
	run(t, true, tools.Metatool, append([]string{"create", "manifest", "--components", comps, "--out", mMeta}, common...)...)
	if diff := cmp.Diff(readJSON(t, mMeta), readJSON(t, m)); diff != "" {
		t.Errorf("metatool vs refval's default manifest (-metatool +refval):\n%s", diff)
	}
	p := cmctest.NewPKI(t, t.TempDir(), "p256")
	signed := filepath.Join(tmp, "m.signed.json")
	run(t, true, bin, "sign", "--in", m, "--out", signed, "--key", p.Key, "--cert", p.Leaf)
	res, err := tools.VerifyMetadata(p.CA, signed)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Kept || !res.Signature || res.Status != "success" || res.Type != manifest.TypeManifest {
		t.Errorf("CMC 0.9 verdict on the default manifest: %+v", res)
	}
	match, err := tools.Match(shimList(t, `scheme = "cmc"`, dir), signed)
	if err != nil {
		t.Fatal(err)
	}
	if !match.OK {
		t.Errorf("CMC 0.9 SW verifier refused the default shim's list against the default manifest: %s", match.Result)
	}
	// The test can fail: the list of a shim with cmc_version 0.7 is CMC
	// 0.7's bare array, which CMC 0.9 cannot read.
	if _, err := tools.Match(shimList(t, "cmc_version = \"0.7\"", dir), signed); err == nil {
		t.Error("CMC 0.9 read the cmc_version 0.7 shim's bare-array list")
	}
}

// TestGenerateDefaultWithCMC: `refval generate` without --cmc-version
// writes signed CMC v0.9 Manifests that CMC v0.9.15's metadata verification
// accepts (JWS and COSE), whose component equals `refval measure`'s, and
// that CMC's SW verifier matches against the default shim's list of the
// unpacked image.
func TestGenerateDefaultWithCMC(t *testing.T) {
	bin := refvalBin(t)
	tools := cmctest.Require(t, cmctest.V09)
	if os.Geteuid() != 0 {
		t.Skip("the shim's list comes from a root unpack")
	}
	tmp := t.TempDir()
	layout := filepath.Join(tmp, "layout")
	img := testimage.Image{Layers: []testimage.Layer{{
		testimage.Dir("etc", 0o755),
		testimage.File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n"),
		testimage.File("etc/app.conf", 0o600, "mode=prod\n"),
	}}}
	if _, err := testimage.WriteLayout(layout, "web", img); err != nil {
		t.Fatal(err)
	}
	ref := "oci:" + layout + ":web"
	store := []string{"--layout", filepath.Join(tmp, "store"), "--insecure-policy", "-q"}
	tmpl := filepath.Join(tmp, "tmpl.json")
	run(t, true, bin, "manifest", "create", "--name", "tmpl", "--version", "2025-01-01T00:00:00Z", "--valid-for", "1d", "--out", tmpl)
	p := cmctest.NewPKI(t, t.TempDir(), "p256")
	out := filepath.Join(tmp, "out")
	var first []refval.GenerateResult
	for _, f := range []string{"json", "cbor"} {
		sum := run(t, true, bin, append([]string{"generate", ref, "--template", tmpl, "--scheme", "cmc", "--format", f,
			"--key", p.Key, "--cert", p.Leaf, "--out", out, "--not-before", "2025-01-01T00:00:00Z", "--valid-for", "36500d"}, store...)...)
		var rs []refval.GenerateResult
		if err := json.Unmarshal(sum, &rs); err != nil || len(rs) != 1 || rs[0].Component == nil {
			t.Fatalf("generate --format %s summary %v:\n%s", f, err, sum)
		}
		res, err := tools.VerifyMetadata(p.CA, rs[0].Output)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Kept || !res.Signature || res.Status != "success" || res.Type != manifest.TypeManifest {
			t.Errorf("CMC 0.9 verdict on generate's %s manifest: %+v", f, res)
		}
		if first == nil {
			first = rs
		}
	}
	meas := run(t, true, bin, append([]string{"measure", ref, "--scheme", "cmc", "--name", "web", "--pull", "never"}, store...)...)
	var cs []manifest.Component
	if err := json.Unmarshal(meas, &cs); err != nil || len(cs) != 1 {
		t.Fatalf("measure: %v\n%s", err, meas)
	}
	if diff := cmp.Diff(cs[0], *first[0].Component); diff != "" {
		t.Errorf("generate's component differs from measure's (-measure +generate):\n%s", diff)
	}
	bdir := filepath.Join(tmp, "bundle")
	run(t, true, bin, append([]string{"unpack", ref, bdir, "--pull", "never"}, store...)...)
	match, err := tools.Match(shimList(t, `scheme = "cmc"`, bdir), first[0].Output)
	if err != nil {
		t.Fatal(err)
	}
	if !match.OK {
		t.Errorf("CMC 0.9 SW verifier refused the default shim's list against generate's manifest: %s", match.Result)
	}
}
