package refval

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
)

func testLayout(t *testing.T) (ref string, base []oci.Option, desc string, platform string) {
	t.Helper()
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	img := testimage.Image{Layers: []testimage.Layer{{
		testimage.Dir("etc", 0o755),
		testimage.File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n"),
		testimage.File("etc/group", 0o644, "root:x:0:\n"),
	}}}
	d, err := testimage.WriteLayout(layout, "web", img)
	if err != nil {
		t.Fatal(err)
	}
	p := runtime.GOOS + "/" + runtime.GOARCH // testimage's default: the host's
	if d.Platform != nil {
		p = d.Platform.OS + "/" + d.Platform.Architecture
	}
	return "oci:" + layout + ":web", []oci.Option{oci.WithLayout(filepath.Join(dir, "store")), oci.WithInsecurePolicy()}, d.Digest.String(), p
}

// TestMeasureImageDefaults: a job with no driver, PCR or name gets a SW
// reference value named after the image ("web"), described by the exact
// image (the digest the test-image builder wrote); driver tpm gets PCR 11;
// the value equals the one ImageReferenceValues gives for the same
// measurement, which is how `refval measure` prints it.
func TestMeasureImageDefaults(t *testing.T) {
	ctx := context.Background()
	ref, base, digest, platform := testLayout(t)
	rv, info, err := MeasureImage(ctx, ref, RunOptions{}, base...)
	if err != nil {
		t.Fatal(err)
	}
	if rv.Type != manifest.TypeSW || rv.Pcr != nil || rv.Name != "web" || info.Digest != digest || info.Platform != platform || info.Reference != ref {
		t.Errorf("defaults: %+v %+v; want an SW value named web, image %s %s", rv, info, digest, platform)
	}
	wantDesc := "image " + ref + " manifest " + digest + " platform " + platform
	if rv.Description != wantDesc {
		t.Errorf("description %q, want %q", rv.Description, wantDesc)
	}
	tpm, _, err := MeasureImage(ctx, ref, RunOptions{Driver: manifest.DriverTPM, Name: "front"}, base...)
	if err != nil {
		t.Fatal(err)
	}
	if tpm.Type != manifest.TypeTPM || tpm.Pcr == nil || *tpm.Pcr != 11 || tpm.Name != "front" || tpm.Sha256.String() != rv.Sha256.String() {
		t.Errorf("tpm: %+v; want a TPM value on PCR 11 named front with the same template hash", tpm)
	}

	m, err := oci.MeasureImage(ctx, ref, append(base, oci.WithPullPolicy(oci.PullNever))...)
	if err != nil {
		t.Fatal(err)
	}
	rvs, err := ImageReferenceValues(ref, m, ValueOptions{})
	if err != nil || len(rvs) != 1 {
		t.Fatalf("%v %v", rvs, err)
	}
	// `refval measure` names the value after the reference without its
	// transport, generate after the image name.
	if rvs[0].Name != strings.TrimPrefix(ref, "oci:") || rvs[0].Sha256.String() != rv.Sha256.String() || rvs[0].Description != wantDesc {
		t.Errorf("ImageReferenceValues: %+v", rvs[0])
	}
	if _, err := ImageReferenceValues(ref, m, ValueOptions{Driver: "pcr"}); err == nil {
		t.Error("unknown driver accepted")
	}
}

// TestNewPredictor: the run options of a job become one prediction; what
// cannot be predicted fails with ErrRunOptions before any image is read.
func TestNewPredictor(t *testing.T) {
	if p, err := NewPredictor(nil, []string{"A=1"}, ""); p != nil || err != nil {
		t.Errorf("no run: %v %v, want nil (runc)", p, err)
	}
	if p, err := NewPredictor(&Run{Engine: "runc"}, nil, ""); p != nil || err != nil {
		t.Errorf("runc: %v %v, want nil", p, err)
	}
	run := &Run{Engine: "containerd", EngineVersion: "2.4", RunOptions: engine.RunOptions{Env: []string{"B=2"}, Cwd: "/srv"}}
	p, err := NewPredictor(run, []string{"A=1"}, "ctr1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Profile.Version != "2.4.2" || strings.Join(p.Run.Env, " ") != "A=1 B=2" || p.Run.Cwd != "/srv" || p.ContainerID() != "ctr1" {
		t.Errorf("predictor %+v; want containerd 2.4.2, env A=1 then B=2, cwd /srv, id ctr1", p)
	}
	if strings.Join(run.Env, " ") != "B=2" {
		t.Errorf("the job's run options were changed: env %q", run.Env)
	}
	for name, bad := range map[string]*Run{
		"runc with options":   {RunOptions: engine.RunOptions{Cwd: "/srv"}},
		"unknown engine":      {Engine: "podman"},
		"unknown version":     {Engine: "containerd", EngineVersion: "9.9"},
		"privileged, no host": {Engine: "containerd", RunOptions: engine.RunOptions{Privileged: true}},
		"no CAP_ prefix":      {Engine: "containerd", RunOptions: engine.RunOptions{CapAdd: []string{"SYS_ADMIN"}}},
		"bad base spec":       {Engine: "containerd", BaseSpec: []byte(`{"ociVersion":1}`)},
		"command line":        {CommandLine: []string{"--engine", "containerd"}},
	} {
		if _, err := NewPredictor(bad, nil, ""); !errors.Is(err, ErrRunOptions) {
			t.Errorf("%s: %v, want ErrRunOptions", name, err)
		}
	}
}

// TestGenerateChecksRunOptionsFirst: a job whose run options cannot be
// predicted fails Generate before any image is measured.
func TestGenerateChecksRunOptionsFirst(t *testing.T) {
	measured := 0
	jobs := []Job{{Image: "oci:/l:a"}, {Image: "oci:/l:b", RunOptions: RunOptions{Run: &Run{Engine: "podman"}}}}
	_, err := Generate(context.Background(), jobs, GenerateOptions{
		Template: []byte(`{"type":"App Manifest","name":"t","version":"1","validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2027-01-01T00:00:00Z"}}`),
		OutDir:   t.TempDir(),
		Measure: func(context.Context, string, RunOptions) (manifest.ReferenceValue, ImageInfo, error) {
			measured++
			return manifest.ReferenceValue{}, ImageInfo{}, nil
		},
	})
	if !errors.Is(err, ErrRunOptions) || measured != 0 || !strings.Contains(err.Error(), "images[1]") {
		t.Errorf("err %v, %d measured; want ErrRunOptions naming images[1] before measuring", err, measured)
	}
}

// TestRunOptionsErrorField: the error names the member of Run at
// fault, so that the CLI can name its flag and a batch its member.
func TestRunOptionsErrorField(t *testing.T) {
	for want, run := range map[string]*Run{
		"engine":   {Engine: "podman"},
		"baseSpec": {Engine: "containerd", BaseSpec: []byte(`[]`)},
		"host":     {Engine: "containerd", RunOptions: engine.RunOptions{NetHost: true}},
		"":         {Engine: "containerd", EngineVersion: "1.7", RunOptions: engine.RunOptions{Seccomp: true}},
	} {
		_, err := NewPredictor(run, nil, "")
		var re *RunOptionsError
		if !errors.As(err, &re) || re.Field != want || !errors.Is(err, ErrRunOptions) {
			t.Errorf("%+v: %v; want a RunOptionsError for %q", run, err, want)
		}
	}
}

// TestImageNaming: the name and description rules of a multi-platform
// measurement, on hand-made image descriptions.
func TestImageNaming(t *testing.T) {
	arm := &oci.Manifest{Digest: "sha256:aa", Platform: ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}
	for _, tc := range []struct {
		ref, name string
		several   bool
		want      string
	}{
		{"docker://r.example/ns/web:1", "", false, "r.example/ns/web:1"},
		{"oci:/l:web", "", true, "/l:web (linux/arm64/v8)"},
		{"oci:/l:web", "front", true, "front (linux/arm64/v8)"},
		{"oci:/l:web", "front", false, "front"},
	} {
		if got := ImageValueName(tc.ref, tc.name, arm, tc.several); got != tc.want {
			t.Errorf("ImageValueName(%q, %q, %v) = %q, want %q", tc.ref, tc.name, tc.several, got, tc.want)
		}
	}
	img := &oci.Image{Reference: "docker://r/web:1", IndexDigest: "sha256:ii"}
	if got, want := ImageDescription(img, arm), "image docker://r/web:1 manifest sha256:aa platform linux/arm64/v8 index sha256:ii"; got != want {
		t.Errorf("ImageDescription = %q, want %q", got, want)
	}
}

// TestOCIRulesNerdctl: CMC's treatment of nerdctl's per-start fields is not
// modelled, so asking for ociRules is an error, never a claim that there
// are none.
func TestOCIRulesNerdctl(t *testing.T) {
	p, err := engine.ParseProfile("nerdctl", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = OCIRules(&engine.Predictor{Profile: p}, bundle.SchemeCMC09)
	if !errors.Is(err, engine.ErrUnsupported) || errors.Is(err, ErrNoOCIRules) {
		t.Errorf("nerdctl ociRules: %v, want ErrUnsupported", err)
	}
}
