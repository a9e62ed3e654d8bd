package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refval/refval"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
)

// TestMeasureDockerEngine: `refval measure IMAGE --engine docker
// --host-profile F -- DOCKER-RUN-OPTIONS CMD` gives the value of the
// library path that engine.TestDockerFidelity checks against a real
// dockerd (the prediction's config and init layer, refval-v2), and docker
// run's options are parsed under docker's names.
func TestMeasureDockerEngine(t *testing.T) {
	img, err := testimage.BusyboxImage()
	if err != nil {
		t.Skip(err)
	}
	layout := t.TempDir()
	if _, err := testimage.WriteLayout(layout, "web", img); err != nil {
		t.Fatal(err)
	}
	host := &engine.Host{Hostname: "node1", Docker: &engine.DockerDaemon{KernelVersion: "6.1.0"}}
	hp := filepath.Join(t.TempDir(), "host.json")
	b, _ := json.Marshal(host)
	if err := os.WriteFile(hp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ref := "oci:" + layout + ":web"
	out, errs, code := runCLI(t, "measure", "--cmc-version", "0.7", ref, "--layout", t.TempDir(), "--engine", "docker", "--host-profile", hp,
		"--", "-e", "A=1", "--read-only", "--network", "none", "sh", "-c", "true")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	run, err := engine.ParseDockerRunArgs([]string{"-e", "A=1", "--read-only", "--network", "none", "sh", "-c", "true"}, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	pr := &engine.Predictor{Profile: engine.Profile{Kind: engine.Docker, Version: engine.DockerVersion}, Run: engine.RunOptions{Docker: run}, Host: host}
	res, err := oci.MeasureImage(context.Background(), ref, oci.WithLayout(t.TempDir()), oci.WithScheme(bundle.SchemeV2),
		oci.WithRuntimeConfig(pr.Config), oci.WithTopLayer(pr.TopLayer), oci.WithContainerID(pr.ContainerID()))
	if err != nil {
		t.Fatal(err)
	}
	if want := res.Results[0].Result.TemplateSha256.String(); !strings.Contains(out, want) {
		t.Errorf("measure printed %s, want template %s", out, want)
	}
	// unpack writes the same bundle: config and init layer (as root, so
	// that owners are exact).
	if os.Geteuid() == 0 {
		b := filepath.Join(t.TempDir(), "bundle")
		if _, errs, code := runCLI(t, "unpack", ref, b, "--layout", t.TempDir(), "--engine", "docker", "--host-profile", hp,
			"--", "-e", "A=1", "--read-only", "--network", "none", "sh", "-c", "true"); code != 0 {
			t.Fatalf("unpack: exit %d: %s", code, errs)
		}
		if _, err := os.Stat(filepath.Join(b, "rootfs", ".dockerenv")); err != nil {
			t.Errorf("unpacked rootfs without Docker's init layer: %v", err)
		}
		mb, errs, code := runCLI(t, "measure-bundle", "--cmc-version", "0.7", b, "--scheme", "refval-v2", "--id", engine.DockerDefaultContainerID)
		if code != 0 {
			t.Fatalf("measure-bundle: exit %d: %s", code, errs)
		}
		if want := res.Results[0].Result.TemplateSha256.String(); !strings.Contains(mb, want) {
			t.Errorf("measure-bundle of the unpacked bundle printed %s, want template %s", mb, want)
		}
	}
	for _, args := range [][]string{
		{"--env", "A=1"},            // ctr's flag, not docker's
		{"--", "-e", "A"},           // a value from the caller's environment
		{"--", "--network", "mine"}, // a user network
		{"--", "-v", "vol:/data"},   // a named volume
		{"--", "--bogus"},           // not a docker run option
		{"--", "--privileged"},      // no host profile
	} {
		full := append([]string{"measure", "--cmc-version", "0.7", ref, "--layout", t.TempDir(), "--engine", "docker"}, args...)
		if _, errs, code := runCLI(t, full...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, ExitUsage, errs)
		}
	}
}

// TestGenerateDockerRun: a batch entry with the docker engine, in the
// object form and the legacy command-line form, gives the value of
// `refval measure --engine docker` with the entry's env as -e options.
func TestGenerateDockerRun(t *testing.T) {
	dir := t.TempDir()
	_, signers := sigPKI(t, dir, "docker")
	img, err := testimage.BusyboxImage()
	if err != nil {
		t.Skip(err)
	}
	layout := filepath.Join(dir, "layout")
	if _, err := testimage.WriteLayout(layout, "web", img); err != nil {
		t.Fatal(err)
	}
	ref, store := "oci:"+layout+":web", filepath.Join(dir, "store")
	host := `{"hostname":"node1","docker":{"kernelVersion":"6.1.0"}}`
	hp := filepath.Join(dir, "host.json")
	os.WriteFile(hp, []byte(host), 0o644)
	code, out, stderr := sigCLI(t, "", "measure", "--cmc-version", "0.7", ref, "--layout", store, "--insecure-policy", "-q", "--engine", "docker", "--host-profile", hp,
		"--", "-e", "MODE=prod", "--network", "none", "true")
	var rv []manifest.ReferenceValue
	if code != 0 || json.Unmarshal([]byte(out), &rv) != nil || len(rv) != 1 {
		t.Fatalf("measure: exit %d %s %s", code, out, stderr)
	}
	tmpl := filepath.Join(dir, "app.manifest.json")
	os.WriteFile(tmpl, []byte(`{"type":"App Manifest","name":"x","version":"1","referenceValues":[],"validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2036-01-01T00:00:00Z"}}`), 0o644)
	batch := filepath.Join(dir, "images.json")
	os.WriteFile(batch, []byte(`{"images":[
 {"image":"`+ref+`","name":"object","env":["MODE=prod"],"run":{"engine":"docker","host":`+host+`,"docker":{"network":"none","args":["true"]}}},
 {"image":"`+ref+`","name":"legacy","env":["MODE=prod"],"run":["--engine","docker","--host-profile","`+hp+`","--","--network","none","true"]}]}`), 0o644)
	code, sumOut, stderr := sigCLI(t, "", "generate", "--cmc-version", "0.7", "--batch", batch, "--template", tmpl, "--key", signers[0][0], "--cert", signers[0][1],
		"--out", filepath.Join(dir, "out"), "--layout", store, "--insecure-policy", "-q")
	if code != 0 {
		t.Fatalf("generate: exit %d\n%s\n%s", code, sumOut, stderr)
	}
	var sum []refval.GenerateResult
	if err := json.Unmarshal([]byte(sumOut), &sum); err != nil || len(sum) != 2 {
		t.Fatalf("summary %v: %s", err, sumOut)
	}
	for _, s := range sum {
		if s.ReferenceValue == nil || s.ReferenceValue.Sha256.String() != rv[0].Sha256.String() {
			t.Errorf("%s: %+v, want template hash %s", s.Name, s.ReferenceValue, rv[0].Sha256)
		}
	}
}
