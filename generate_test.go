package refval

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refval/refval/manifest"
)

func TestGenerate(t *testing.T) {
	tmpl := []byte(`{"type":"App Manifest","name":"t","version":"1","x-keep":true,
	 "validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2027-01-01T00:00:00Z"},"referenceValues":[]}`)
	measured := 0
	measure := func(_ context.Context, ref string, o RunOptions) (manifest.ReferenceValue, ImageInfo, error) {
		measured++
		if strings.HasSuffix(ref, "bad") {
			return manifest.ReferenceValue{}, ImageInfo{}, errors.New("boom")
		}
		return manifest.ReferenceValue{Type: manifest.TypeSW, Name: o.Name, Sha256: bytes.Repeat([]byte{byte(measured)}, 32)}, ImageInfo{Digest: "sha256:x"}, nil
	}
	// The fake signer prefixes the format, so the test sees what was signed.
	sign := func(p []byte, f manifest.Format) ([]byte, error) {
		return append([]byte("signed "+string(f)+"\n"), p...), nil
	}
	dir := t.TempDir()
	jobs := []Job{{Image: "oci:/l:a"}, {Image: "oci:/l:bad"}, {Image: "docker://r/x:1", RunOptions: RunOptions{Name: "c"}}}
	jobs[0].Env = []string{"MODE=prod"}
	ddFile := filepath.Join(dir, "device.json")
	os.WriteFile(ddFile, []byte(`{"type":"Device Description","name":"d","version":"1","x":1}`), 0o644)
	res, err := Generate(context.Background(), jobs, GenerateOptions{CMCVersion: manifest.CMC07, Template: tmpl, OutDir: dir, Format: manifest.CBOR, Measure: measure, Sign: sign, DeviceDescription: ddFile})
	if !errors.Is(err, ErrGenerate) || len(res) != 3 || measured != 3 {
		t.Fatalf("err %v, %d results, %d measured; want ErrGenerate after measuring all 3", err, len(res), measured)
	}
	if res[0].Name != "a" || res[0].Error != "" || res[1].Error == "" || res[2].Name != "c" || res[2].Error != "" {
		t.Errorf("results %+v", res)
	}
	b, err := os.ReadFile(filepath.Join(dir, "c.manifest.cbor"))
	if err != nil || !bytes.HasPrefix(b, []byte("signed cbor\n")) {
		t.Fatalf("c.cbor: %v", err)
	}
	d, err := manifest.Parse(bytes.TrimPrefix(b, []byte("signed cbor\n")), manifest.CBOR)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest.AppManifest
	if err := d.Decode(&m); err != nil || m.Name != "c" || len(m.ReferenceValues) != 1 || m.ReferenceValues[0].Sha256[0] != 3 {
		t.Errorf("manifest %+v %v", m, err)
	}
	if _, ok := members(t, d)["x-keep"]; !ok {
		t.Error("template member x-keep lost")
	}
	// the device description has app descriptions for the two successful images
	ddb, _ := os.ReadFile(ddFile)
	dd, err := manifest.Parse(ddb, manifest.JSON)
	if err != nil {
		t.Fatal(err)
	}
	ads := members(t, dd)["appDescriptions"].([]any)
	if len(ads) != 2 || ads[0].(map[string]any)["name"] != "a" || ads[1].(map[string]any)["name"] != "c" ||
		!strings.Contains(string(ddb), `"value": "prod"`) || !strings.Contains(string(ddb), `"x": 1`) {
		t.Errorf("device description:\n%s", ddb)
	}

	five := 5
	if err := (RunOptions{PCR: &five}).Validate(); !errors.Is(err, manifest.ErrField) {
		t.Errorf("pcr without driver tpm: err %v, want ErrField", err)
	}
	if err := (RunOptions{PCR: &five, Driver: manifest.DriverTPM}).Validate(); err != nil {
		t.Errorf("pcr with driver tpm: %v", err)
	}
	for _, bad := range [][]Job{
		{{Image: "oci:/l:a"}, {Image: "docker://r/a:2"}},          // both named a
		{{Image: "x", RunOptions: RunOptions{Name: "../escape"}}}, // unsafe name
		{{Image: "x", RunOptions: RunOptions{Name: ".."}}},
	} {
		measured = 0
		if _, err := Generate(context.Background(), bad, GenerateOptions{CMCVersion: manifest.CMC07, Template: tmpl, OutDir: dir, Measure: measure, Sign: sign}); !errors.Is(err, manifest.ErrField) || measured != 0 {
			t.Errorf("%+v: err %v, measured %d; want ErrField before measuring", bad, err, measured)
		}
	}
	// A template without validity, and none given: refused before measuring.
	measured = 0
	noValidity := []byte(`{"type":"App Manifest","name":"t","version":"1"}`)
	if _, err := Generate(context.Background(), jobs[:1], GenerateOptions{CMCVersion: manifest.CMC07, Template: noValidity, OutDir: dir, Measure: measure, Sign: sign}); !errors.Is(err, manifest.ErrField) || measured != 0 {
		t.Errorf("template without validity: err %v, measured %d; want ErrField before measuring", err, measured)
	}
	val, err := manifest.NewValidity(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := Generate(context.Background(), jobs[:1], GenerateOptions{CMCVersion: manifest.CMC07, Template: noValidity, OutDir: dir, Measure: measure, Sign: sign, Validity: &val}); err != nil || res[0].Error != "" {
		t.Errorf("template without validity, validity given: err %v, %+v", err, res)
	}
}

// members decodes d's members, unknown ones included, for a test to look
// at.
func members(t *testing.T, d *manifest.Document) map[string]any {
	t.Helper()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}
