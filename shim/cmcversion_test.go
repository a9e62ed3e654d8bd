package shim

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/measurelist"
)

// TestConfigDefaultCMCVersion: without cmc_version the shim speaks current
// CMC (0.9): scheme "cmc" is CMC v0.9.15's measurement and the list is the
// v0.9 Artifact; cmc_version = "0.7" keeps the seed-era dialect.
func TestConfigDefaultCMCVersion(t *testing.T) {
	for _, tc := range []struct {
		toml   string
		want   manifest.CMCVersion
		scheme bundle.Scheme
	}{
		{`scheme = "cmc"`, manifest.CMC09, bundle.SchemeCMC09},
		{"", manifest.CMC09, bundle.SchemeV1},
		{"cmc_version = \"0.7\"\nscheme = \"cmc\"", manifest.CMC07, bundle.SchemeCMC},
		{"cmc_version = \"0.9\"\nscheme = \"cmc\"", manifest.CMC09, bundle.SchemeCMC09},
	} {
		c, err := ParseConfig([]byte(tc.toml))
		if err != nil {
			t.Fatalf("%q: %v", tc.toml, err)
		}
		if c.CMC() != tc.want || c.Scheme != tc.scheme {
			t.Errorf("%q: CMC %s scheme %s; want %s, %s", tc.toml, c.CMC(), c.Scheme, tc.want, tc.scheme)
		}
		_, artifact := c.ListCodec().(measurelist.Artifact)
		if artifact != (tc.want == manifest.CMC09) {
			t.Errorf("%q: list codec %T for CMC %s", tc.toml, c.ListCodec(), tc.want)
		}
	}
	if DefaultConfig().CMC() != manifest.CMC09 {
		t.Errorf("the default configuration speaks CMC %s, want 0.9", DefaultConfig().CMC())
	}
}

// TestRecorderGenerateDefault09: with the default configuration the
// generate mode writes a CMC v0.9 component (hash: the rootfs hash) and the
// list is an Artifact whose event carries the container's hashes.
func TestRecorderGenerateDefault09(t *testing.T) {
	b := testBundle(t)
	out := t.TempDir()
	c := DefaultConfig()
	c.List = filepath.Join(out, "list.json")
	c.GenerateDir = filepath.Join(out, "measure")
	c.GenerateAll = true
	r, err := NewRecorder(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Measure(context.Background(), b, "c1"); err != nil {
		t.Fatal(err)
	}
	want, err := bundle.Measure(context.Background(), b, bundle.WithContainerID("c1"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(c.GenerateDir, "c1", RefsFile))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := manifest.ReadComponents(raw)
	if err != nil || len(cs) != 1 {
		t.Fatalf("generate output is not one CMC 0.9 component (%v):\n%s", err, raw)
	}
	if got := cs[0].Hash(manifest.HashSHA256).String(); got != want.RootfsSha256.String() || cs[0].CtrData == nil ||
		cs[0].CtrData.ConfigSha256.String() != want.ConfigSha256.String() || cs[0].CtrData.OciSpec == nil {
		t.Errorf("component %+v; want hash = rootfs %s, ctrData with config %s and ociSpec", cs[0], want.RootfsSha256, want.ConfigSha256)
	}
	if _, err := measurelist.Read(c.List, measurelist.JSON); err == nil {
		t.Error("the default list reads as CMC 0.7's bare array")
	}
	l, err := measurelist.ReadCodec(c.List, measurelist.Artifact{Format: measurelist.JSON, Index: int(c.PCR)})
	if err != nil || len(l) != 1 || l[0].Name != "c1" || l[0].RootfsSha256 != want.RootfsSha256 {
		t.Errorf("list %+v (%v); want one v0.9 event for c1", l, err)
	}
}
