package cmctest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/driver"
	"github.com/refval/refval/internal/cmctest"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/measurelist"
	"github.com/refval/refval/shim"
)

// TestCMC09FullAttestation: a full CMC v0.9.15 attestation with refval's
// metadata. cmcd (sw driver) loads refval-signed metadata (a Manifest with
// the container's component, an Image Description naming it), receives the
// shim's measurement (cmcd driver, type 7), produces an attestation report,
// and CMC's verifier accepts it; after a container refval has no reference
// value for was recorded, the report is refused.
func TestCMC09FullAttestation(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V09)
	tmp := t.TempDir()
	p := cmctest.NewPKI(t, tmp, "p256")
	dir := richBundle(t, []string{"A=1"})
	r := measure(t, dir, bundle.SchemeCMC09)
	val := validity(t)
	const name = "de.refval.app"
	md, err := manifest.CreateManifest(manifest.ManifestOptions{Name: name, Version: "2025-01-01T00:00:00Z", Validity: val,
		BaseLayers: []string{name}, Components: []manifest.Component{component09(t, r)}}, manifest.JSON)
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := md.Bytes()
	id, err := manifest.CreateImageDescription(manifest.ImageDescriptionOptions{Name: "de.refval.image", Version: "2025-01-01T00:00:00Z",
		Validity: val, Descriptions: []manifest.ManifestDescription{{Name: name, Manifest: name}}}, manifest.JSON)
	if err != nil {
		t.Fatal(err)
	}
	ib, _ := id.Bytes()
	files := []string{sign(t, mb, manifest.JSON, p, filepath.Join(tmp, "m.json")), sign(t, ib, manifest.JSON, p, filepath.Join(tmp, "id.json"))}
	c := tools.StartCmcd(t, p.CA, files...)

	cfg := shim.DefaultConfig()
	cfg.Driver, cfg.CMCDSocket, cfg.CMCVersion, cfg.Scheme = driver.CMCD, c.Socket, manifest.CMC09, bundle.SchemeCMC
	cfg.List, cfg.ListFormat = filepath.Join(tmp, "list.json"), measurelist.JSON
	cfg.LogFile, cfg.GenerateDir = filepath.Join(tmp, "shim.log"), filepath.Join(tmp, "gen")
	rec, err := shim.NewRecorder(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Measure(context.Background(), dir, ctrID); err != nil {
		t.Fatal(err)
	}
	res, err := tools.Attest(c.Socket, p.CA)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "cmcd.log"))
		t.Fatalf("attest: %v\ncmcd log:\n%s", err, log)
	}
	if res.Status != "success" {
		t.Fatalf("CMC's verifier refused cmcd's report with refval's metadata: %s", res.Result)
	}
	other := cmctest.Bundle(t, t.TempDir(), ctrID, []string{"EVIL=1"})
	if _, err := rec.Measure(context.Background(), other, ctrID); err != nil {
		t.Fatal(err)
	}
	if res, err := tools.Attest(c.Socket, p.CA); err != nil || res.Status == "success" {
		t.Errorf("CMC's verifier accepted a report with an unreferenced container: %v %v", res.Status, err)
	}
}
