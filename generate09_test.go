package refval

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refval/refval/manifest"
)

// TestGenerate09: the default dialect writes CMC v0.9 Manifests from a
// Manifest template: name and sbom.components replaced, every other member
// (of the SBOM head too) kept, in the asked format; the Image Description
// gets one Manifest Description per successful image; the scheme "cmc" of
// a job is measured as cmc-0.9.
func TestGenerate09(t *testing.T) {
	tmpl := []byte(`{"type":"Manifest","name":"t","version":"2026-01-02T15:04:05Z","x-keep":true,
	 "validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2027-01-01T00:00:00Z"},
	 "sbom":{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"application","name":"old"}]}}`)
	measured := 0
	var schemes []string
	measure := func(_ context.Context, ref string, o RunOptions) (manifest.Component, ImageInfo, error) {
		measured++
		schemes = append(schemes, string(o.Scheme))
		if strings.HasSuffix(ref, "bad") {
			return manifest.Component{}, ImageInfo{}, errors.New("boom")
		}
		return manifest.Component{Type: manifest.ComponentApplication, Name: o.Name, Hashes: []manifest.Hash{{Alg: manifest.HashSHA256, Content: bytes.Repeat([]byte{byte(measured)}, 32)}}},
			ImageInfo{Digest: "sha256:x"}, nil
	}
	sign := func(p []byte, f manifest.Format) ([]byte, error) {
		return append([]byte("signed "+string(f)+"\n"), p...), nil
	}
	dir := t.TempDir()
	idFile := filepath.Join(dir, "image.json")
	os.WriteFile(idFile, []byte(`{"type":"Image Description","name":"img","version":"2026-01-02T15:04:05Z","location":"here"}`), 0o644)
	jobs := []Job{{Image: "oci:/l:a", RunOptions: RunOptions{Scheme: "cmc"}}, {Image: "oci:/l:bad"}, {Image: "docker://r/x:1", RunOptions: RunOptions{Name: "c"}}}
	res, err := Generate(context.Background(), jobs, GenerateOptions{Template: tmpl, OutDir: dir, Format: manifest.CBOR, MeasureComponent: measure, Sign: sign, ImageDescription: idFile})
	if !errors.Is(err, ErrGenerate) || len(res) != 3 || measured != 3 {
		t.Fatalf("err %v, %d results, %d measured; want ErrGenerate after measuring all 3", err, len(res), measured)
	}
	if res[0].Component == nil || res[0].ReferenceValue != nil || res[1].Error == "" || res[2].Name != "c" || schemes[0] != "cmc-0.9" {
		t.Errorf("results %+v, schemes %q", res, schemes)
	}
	b, err := os.ReadFile(filepath.Join(dir, "c.manifest.cbor"))
	if err != nil || !bytes.HasPrefix(b, []byte("signed cbor\n")) {
		t.Fatalf("c.cbor: %v", err)
	}
	d, err := manifest.Parse(bytes.TrimPrefix(b, []byte("signed cbor\n")), manifest.CBOR)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest.Manifest
	if err := d.Decode(&m); err != nil || m.Name != "c" || m.Sbom == nil || len(m.Sbom.Components) != 1 || m.Sbom.Components[0].Hashes[0].Content[0] != 3 ||
		m.Sbom.SpecVersion != "1.6" || m.Validity == nil || m.Validity.NotAfter != "2027-01-01T00:00:00Z" {
		t.Errorf("manifest %+v %v", m, err)
	}
	if _, ok := members(t, d)["x-keep"]; !ok {
		t.Error("template member x-keep lost")
	}
	ib, _ := os.ReadFile(idFile)
	id, err := manifest.Parse(ib, manifest.JSON)
	if err != nil {
		t.Fatal(err)
	}
	var desc manifest.ImageDescription
	if err := id.Decode(&desc); err != nil || desc.Location != "here" || len(desc.Descriptions) != 2 ||
		desc.Descriptions[0].Manifest != "a" || desc.Descriptions[1].Manifest != "c" {
		t.Errorf("image description %+v %v", desc, err)
	}
}

// TestGenerate09RefusesUpFront: a template CMC 0.9 would ignore or cannot
// hold, or a description of the other dialect, fails before measuring.
func TestGenerate09RefusesUpFront(t *testing.T) {
	measured := 0
	measure := func(context.Context, string, RunOptions) (manifest.Component, ImageInfo, error) {
		measured++
		return manifest.Component{}, ImageInfo{}, nil
	}
	sign := func(p []byte, _ manifest.Format) ([]byte, error) { return p, nil }
	val := `"validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2027-01-01T00:00:00Z"}`
	jobs := []Job{{Image: "oci:/l:a"}}
	for name, tc := range map[string]struct {
		cfg     GenerateOptions
		mention string
	}{
		"App Manifest under 0.9": {GenerateOptions{Template: []byte(`{"type":"App Manifest","name":"t","version":"1",` + val + `}`)}, `cmc_version "0.7"`},
		"version not RFC 3339":   {GenerateOptions{Template: []byte(`{"type":"Manifest","name":"t","version":"1.0.0",` + val + `}`)}, "RFC 3339"},
		"no version":             {GenerateOptions{Template: []byte(`{"type":"Manifest","name":"t",` + val + `}`)}, "version"},
		"device description":     {GenerateOptions{DeviceDescription: "dd.json", Template: []byte(`{"type":"Manifest","name":"t","version":"2026-01-02T15:04:05Z",` + val + `}`)}, "Image Description"},
		"Manifest under 0.7": {GenerateOptions{CMCVersion: manifest.CMC07, Measure: func(context.Context, string, RunOptions) (manifest.ReferenceValue, ImageInfo, error) {
			measured++
			return manifest.ReferenceValue{}, ImageInfo{}, nil
		}, Template: []byte(`{"type":"Manifest","name":"t","version":"2026-01-02T15:04:05Z",` + val + `}`)}, "CMC 0.9 document"},
		"unknown version": {GenerateOptions{CMCVersion: "0.8", Template: []byte(`{"type":"Manifest"}`)}, "0.8"},
	} {
		cfg := tc.cfg
		cfg.OutDir, cfg.MeasureComponent, cfg.Sign = t.TempDir(), measure, sign
		if _, err := Generate(context.Background(), jobs, cfg); err == nil || !strings.Contains(err.Error(), tc.mention) || measured != 0 {
			t.Errorf("%s: %v, %d measured; want an error mentioning %q before measuring", name, err, measured, tc.mention)
		}
	}
}

// TestParseBatchFileCMCVersion: the batch file's cmc_version is validated
// as it is decoded; absent it is "" (the command's default applies).
func TestParseBatchFileCMCVersion(t *testing.T) {
	for in, want := range map[string]manifest.CMCVersion{
		`{"cmc_version":"0.7","images":[{"image":"x"}]}`:     manifest.CMC07,
		`{"cmc_version":"v0.9.15","images":[{"image":"x"}]}`: manifest.CMC09,
		`{"images":[{"image":"x"}]}`:                         "",
		`[{"image":"x"}]`:                                    "",
	} {
		b, err := ParseBatchFile([]byte(in))
		if err != nil || b.CMCVersion != want || len(b.Images) != 1 {
			t.Errorf("%s: %+v %v; want cmc_version %q", in, b, err, want)
		}
	}
	if _, err := ParseBatchFile([]byte(`{"cmc_version":"0.8","images":[{"image":"x"}]}`)); !errors.Is(err, manifest.ErrField) || !strings.Contains(err.Error(), "cmc_version") {
		t.Errorf("cmc_version 0.8: %v; want ErrField naming cmc_version", err)
	}
}

// TestGenerateOCIRules: a job's ociRules go into its Manifest Description
// (in a CBOR Image Description too), a job without them gets none; ociRules
// under CMC 0.7 or without an Image Description fail before measuring.
func TestGenerateOCIRules(t *testing.T) {
	measured := 0
	measure := func(_ context.Context, _ string, o RunOptions) (manifest.Component, ImageInfo, error) {
		measured++
		return manifest.Component{Type: manifest.ComponentApplication, Name: o.Name, Hashes: []manifest.Hash{{Alg: manifest.HashSHA256, Content: bytes.Repeat([]byte{1}, 32)}}}, ImageInfo{}, nil
	}
	sign := func(p []byte, _ manifest.Format) ([]byte, error) { return p, nil }
	tmpl := []byte(`{"type":"Manifest","name":"t","version":"2026-01-02T15:04:05Z","validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2027-01-01T00:00:00Z"}}`)
	rules := map[string]any{"linux": map[string]any{"cgroupsPath": "modifiable"}}
	jobs := func() []Job {
		return []Job{{Image: "oci:/l:a", RunOptions: RunOptions{OciRules: rules}}, {Image: "oci:/l:b"}}
	}
	dir := t.TempDir()
	id, err := manifest.CreateImageDescription(manifest.ImageDescriptionOptions{Name: "img", Version: "2026-01-02T15:04:05Z",
		Validity: manifest.Validity{NotBefore: "2026-01-01T00:00:00Z", NotAfter: "2027-01-01T00:00:00Z"}}, manifest.CBOR)
	if err != nil {
		t.Fatal(err)
	}
	ib, _ := id.Bytes()
	idFile := filepath.Join(dir, "image.cbor")
	os.WriteFile(idFile, ib, 0o644)
	if _, err := Generate(context.Background(), jobs(), GenerateOptions{Template: tmpl, OutDir: dir, MeasureComponent: measure, Sign: sign, ImageDescription: idFile}); err != nil {
		t.Fatal(err)
	}
	ib, _ = os.ReadFile(idFile)
	d, err := manifest.Parse(ib, manifest.CBOR)
	var desc manifest.ImageDescription
	if err == nil {
		err = d.Decode(&desc)
	}
	if err != nil || len(desc.Descriptions) != 2 || desc.Descriptions[0].Manifest != "a" || desc.Descriptions[1].OciRules != nil {
		t.Fatalf("image description %+v %v", desc, err)
	}
	if l, _ := desc.Descriptions[0].OciRules["linux"].(map[string]any); l["cgroupsPath"] != "modifiable" {
		t.Errorf("a's ociRules %v, want %v", desc.Descriptions[0].OciRules, rules)
	}

	measured = 0
	for name, tc := range map[string]struct {
		cfg     GenerateOptions
		mention string
	}{
		"no Image Description": {GenerateOptions{Template: tmpl}, "give an Image Description"},
		"CMC 0.7": {GenerateOptions{CMCVersion: manifest.CMC07, Template: []byte(`{"type":"App Manifest","name":"t","version":"1","validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2027-01-01T00:00:00Z"}}`),
			Measure: func(context.Context, string, RunOptions) (manifest.ReferenceValue, ImageInfo, error) {
				measured++
				return manifest.ReferenceValue{}, ImageInfo{}, nil
			}}, "CMC 0.9's"},
	} {
		cfg := tc.cfg
		cfg.OutDir, cfg.MeasureComponent, cfg.Sign = t.TempDir(), measure, sign
		if _, err := Generate(context.Background(), jobs(), cfg); !errors.Is(err, manifest.ErrField) || !strings.Contains(err.Error(), tc.mention) || measured != 0 {
			t.Errorf("%s: %v, %d measured; want ErrField mentioning %q before measuring", name, err, measured, tc.mention)
		}
	}
}
