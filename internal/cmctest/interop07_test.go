package cmctest_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/cmctest"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/measurelist"
	"github.com/refval/refval/signing"
)

const ctrID = "3f1c0a9e8b7d6c5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877"

// measureCMC07 measures a bundle with refval's cmc scheme (CMC v0.7's).
func measure(t *testing.T, dir string, s bundle.Scheme) *bundle.Result {
	t.Helper()
	r, err := bundle.Measure(context.Background(), dir, bundle.WithScheme(s), bundle.WithContainerID(ctrID))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sign(t *testing.T, payload []byte, f manifest.Format, p cmctest.PKI, out string) string {
	t.Helper()
	s, err := signing.LoadSigner(p.Key, p.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	env, err := signing.Sign(payload, f, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, env, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func validity(t *testing.T) manifest.Validity {
	t.Helper()
	v := manifest.Validity{NotBefore: "2020-01-01T00:00:00Z", NotAfter: "2099-01-01T00:00:00Z"}
	return v
}

// appManifest07 is today's refval output for a container: an App Manifest
// with the SW reference value of the measurement.
func appManifest07(t *testing.T, r *bundle.Result, version string, f manifest.Format) []byte {
	t.Helper()
	rv, err := manifest.ContainerReferenceValue("app", manifest.DriverSW, 0, false, r)
	if err != nil {
		t.Fatal(err)
	}
	d, err := manifest.Create(manifest.CreateOptions{Name: "de.refval.app", Version: version,
		Validity: validity(t), ReferenceValues: []manifest.ReferenceValue{rv}}, f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeList07(t *testing.T, path string, rs ...*bundle.Result) string {
	t.Helper()
	var l []measurelist.Entry
	for _, r := range rs {
		l = append(l, measurelist.NewEntry(ctrID, nil, r))
	}
	b, err := measurelist.Encode(l, measurelist.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCMC07MeasureEqualsCMC: refval's cmc scheme equals CMC v0.7.2's own
// measure functions (GetSpecMeasurement, GetRootfsMeasurement).
func TestCMC07MeasureEqualsCMC(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V07)
	dir := cmctest.Bundle(t, t.TempDir(), ctrID, []string{"B=2", "A=1", "PATH=/bin"})
	r := measure(t, dir, bundle.SchemeCMC)
	want, err := tools.Measure(ctrID, filepath.Join(dir, "config.json"), filepath.Join(dir, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(r.ConfigSha256[:]); got != want.ConfigSha256 {
		t.Errorf("config: refval %s, CMC %s\nrefval: %s\nCMC:    %s", got, want.ConfigSha256, r.NormalizedConfig, want.NormalizedConfig)
	}
	if got := hex.EncodeToString(r.RootfsSha256[:]); got != want.RootfsSha256 {
		t.Errorf("rootfs: refval %s, CMC %s", got, want.RootfsSha256)
	}
	if got := hex.EncodeToString(r.TemplateSha256[:]); got != want.TemplateSha256 {
		t.Errorf("template: refval %s, CMC %s", got, want.TemplateSha256)
	}
}

// TestCMC07AcceptsRefvalManifests: CMC v0.7.2's metadata filter, token
// verification, App Manifest parsing and validity check accept today's
// refval-signed App Manifests, JSON (JWS) and CBOR (COSE), for P-256.
func TestCMC07AcceptsRefvalManifests(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V07)
	tmp := t.TempDir()
	r := measure(t, cmctest.Bundle(t, t.TempDir(), ctrID, []string{"A=1"}), bundle.SchemeCMC)
	p := cmctest.NewPKI(t, tmp, "p256")
	for _, f := range []manifest.Format{manifest.JSON, manifest.CBOR} {
		out := sign(t, appManifest07(t, r, "2025-01-01T00:00:00Z", f), f, p, filepath.Join(tmp, "m."+string(f)))
		res, err := tools.VerifyMetadata(p.CA, out)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Kept || !res.Signature || res.Status != "success" || res.Type != manifest.TypeAppManifest {
			t.Errorf("%s: CMC 0.7 verdict %+v", f, res)
		}
	}
}

// TestCMC07IgnoresNonRFC3339Version: CMC's metadata filter drops a
// manifest whose version is not RFC 3339 (the oracle for manifest create's
// version check).
func TestCMC07IgnoresNonRFC3339Version(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V07)
	tmp := t.TempDir()
	r := measure(t, cmctest.Bundle(t, t.TempDir(), ctrID, []string{"A=1"}), bundle.SchemeCMC)
	p := cmctest.NewPKI(t, tmp, "p256")
	out := sign(t, appManifest07(t, r, "1.0.0", manifest.JSON), manifest.JSON, p, filepath.Join(tmp, "m.json"))
	res, err := tools.VerifyMetadata(p.CA, out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept {
		t.Errorf("CMC 0.7 kept a manifest with version 1.0.0: %+v", res)
	}
}

// TestCMC07SWVerifierMatchesList: CMC v0.7.2's SW verifier matches
// refval's list against refval's manifest, and refuses it after a change
// to the environment or to a rootfs file.
func TestCMC07SWVerifierMatchesList(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V07)
	tmp := t.TempDir()
	dir := cmctest.Bundle(t, t.TempDir(), ctrID, []string{"A=1"})
	r := measure(t, dir, bundle.SchemeCMC)
	m := filepath.Join(tmp, "m.json")
	if err := os.WriteFile(m, appManifest07(t, r, "2025-01-01T00:00:00Z", manifest.JSON), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := tools.Match(writeList07(t, filepath.Join(tmp, "list.json"), r), m)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.References != 1 {
		t.Errorf("CMC 0.7 refused the list: %+v", res)
	}
	changed := cmctest.Bundle(t, t.TempDir(), ctrID, []string{"A=2"})
	r2 := measure(t, changed, bundle.SchemeCMC)
	os.WriteFile(filepath.Join(dir, "rootfs/etc/app.conf"), []byte("greeting=bye\n"), 0o644)
	r3 := measure(t, dir, bundle.SchemeCMC)
	for name, rr := range map[string]*bundle.Result{"env": r2, "rootfs": r3} {
		res, err := tools.Match(writeList07(t, filepath.Join(tmp, name+".json"), rr), m)
		if err != nil {
			t.Fatal(err)
		}
		if res.OK {
			t.Errorf("CMC 0.7 accepted a list after a change of %s", name)
		}
	}
}

// TestCMC07ParsesDeviceDescriptionWithExternalConnection: a Device
// Description edited by refval with an external connection parses with
// CMC v0.7.2's DeviceDescription type (it did not while refval wrote strings).
func TestCMC07ParsesDeviceDescriptionWithExternalConnection(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V07)
	tmp := t.TempDir()
	p := cmctest.NewPKI(t, tmp, "p256")
	conns, err := manifest.ParseExternalConnections([]string{"interface=eth0,port=443,endpoint=https"})
	if err != nil {
		t.Fatal(err)
	}
	dd := []byte(`{"type":"Device Description","name":"dev","version":"2025-01-01T00:00:00Z","location":"lab","appDescriptions":[]}`)
	out, _, err := manifest.UpdateDeviceDescription(dd, manifest.AppDescription{Name: "app", Version: "2025-01-01T00:00:00Z",
		AppManifest: "de.refval.app", ExternalConnections: conns})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tools.VerifyMetadata(p.CA, sign(t, out, manifest.JSON, p, filepath.Join(tmp, "dd.json")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "success" || res.Type != manifest.TypeDeviceDescription {
		t.Fatalf("CMC 0.7 verdict %+v", res)
	}
	var got struct {
		AppDescriptions []struct {
			External []struct {
				Type, AppEndpoint, Interface string
				Port                         int
			} `json:"externalConnections"`
		} `json:"appDescriptions"`
	}
	if err := json.Unmarshal(res.Detail, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.AppDescriptions) != 1 || len(got.AppDescriptions[0].External) != 1 ||
		got.AppDescriptions[0].External[0].Port != 443 || got.AppDescriptions[0].External[0].Interface != "eth0" {
		t.Errorf("CMC 0.7 parsed %s", res.Detail)
	}
}
