package cmctest_test

import (
	"bytes"
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

// TestCMC09CmcdReceivesShimMeasurements: the shim's recorder with
// cmc_version 0.9 and the cmcd driver sends each measurement to CMC
// v0.9.15's real cmcd (message type 7, the full event); cmcd accepts it and
// writes its own list, which equals the shim's list (same encoding: CBOR,
// the encoding of the request) entry by entry and byte for byte, and which
// CMC's SW verifier matches against refval's manifest.
func TestCMC09CmcdReceivesShimMeasurements(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V09)
	c := tools.StartCmcd(t, "")
	tmp := t.TempDir()
	cfg := shim.DefaultConfig()
	cfg.Driver = driver.CMCD
	cfg.CMCDSocket = c.Socket
	cfg.CMCVersion = manifest.CMC09
	cfg.Scheme = bundle.SchemeCMC
	cfg.List = filepath.Join(tmp, "list.cbor")
	cfg.ListFormat = measurelist.CBOR
	cfg.LogFile = filepath.Join(tmp, "shim.log")
	cfg.GenerateDir = filepath.Join(tmp, "gen")
	rec, err := shim.NewRecorder(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Scheme != bundle.SchemeCMC09 {
		t.Fatalf("scheme cmc with cmc_version 0.9 is %q, want cmc-0.9", cfg.Scheme)
	}
	dirs := []string{richBundle(t, []string{"A=1"}), cmctest.Bundle(t, t.TempDir(), ctrID, []string{"B=2"})}
	var results []*bundle.Result
	for _, d := range dirs {
		m, err := rec.Measure(context.Background(), d, ctrID)
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(c.Dir, "cmcd.log"))
			t.Fatalf("measure with the cmcd driver: %v\ncmcd log:\n%s", err, log)
		}
		results = append(results, m.Result)
	}
	shimList, err := os.ReadFile(cfg.List)
	if err != nil {
		t.Fatal(err)
	}
	cmcdList, err := os.ReadFile(c.CtrLog)
	if err != nil {
		t.Fatalf("cmcd wrote no list: %v", err)
	}
	codec := measurelist.Artifact{Format: measurelist.CBOR, Index: manifest.DefaultPCR}
	a, errA := codec.Decode(shimList)
	b, errB := codec.Decode(cmcdList)
	if errA != nil || errB != nil || len(a) != 2 || len(b) != 2 {
		t.Fatalf("lists: shim %d entries (%v), cmcd %d entries (%v)", len(a), errA, len(b), errB)
	}
	for i := range a {
		if a[i].TemplateSha256 != b[i].TemplateSha256 || !bytes.Equal(a[i].Spec, b[i].Spec) {
			t.Errorf("entry %d differs: shim %s, cmcd %s", i, a[i].TemplateSha256, b[i].TemplateSha256)
		}
	}
	if !bytes.Equal(shimList, cmcdList) {
		t.Errorf("cmcd's list (%d bytes) is not byte-identical to the shim's (%d bytes)", len(cmcdList), len(shimList))
	}
	m := filepath.Join(tmp, "m.json")
	os.WriteFile(m, manifest09(t, manifest.JSON, component09(t, results[0]), component09(t, results[1])), 0o644)
	res, err := tools.Match(c.CtrLog, m)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.References != 2 {
		t.Errorf("CMC's SW verifier refused cmcd's list against refval's manifest: %s", res.Result)
	}
	// The same with only the first container's reference: the second
	// measurement has no reference value and is refused.
	os.WriteFile(m, manifest09(t, manifest.JSON, component09(t, results[0])), 0o644)
	if res, err := tools.Match(c.CtrLog, m); err != nil || res.OK {
		t.Errorf("CMC's SW verifier accepted an unreferenced container: %v %v", res.OK, err)
	}
}
