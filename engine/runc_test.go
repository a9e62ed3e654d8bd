package engine_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/oci"
)

// TestRuncProfileIsUnpackedConfig: the runc profile is the config that
// refval's own unpack writes (package oci, umoci's conversion, root
// unpack), for every image of the fidelity matrix.
func TestRuncProfileIsUnpackedConfig(t *testing.T) {
	if _, err := os.Stat(testimage.BusyboxPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test images need %s: %v", testimage.BusyboxPath, err)
		}
		t.Skipf("test images need %s: %v", testimage.BusyboxPath, err)
	}
	store := filepath.Join(t.TempDir(), "store")
	for _, im := range fidelityImages() {
		layout := filepath.Join(t.TempDir(), "layout")
		if _, err := testimage.WriteLayout(layout, im.name, im.img); err != nil {
			t.Fatal(err)
		}
		m, err := oci.MeasureImage(t.Context(), "oci:"+layout+":"+im.name, oci.WithLayout(store), oci.WithInsecurePolicy())
		if err != nil {
			t.Fatal(err)
		}
		cfg, fsys := imageConfigAndFS(t, im.img)
		raw, err := engine.Predict(cfg, fsys, engine.RunOptions{}, engine.WithProfile(engine.Profile{Kind: engine.Runc}))
		if err != nil {
			t.Fatalf("%s: %v", im.name, err)
		}
		d, _, err := bundle.HashConfig(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Results[0].Result.ConfigSha256; got != d {
			t.Errorf("%s: runc profile config %s, unpacked config %s", im.name, d, got)
		}
	}
}
