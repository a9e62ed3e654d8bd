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

// nerdctlTestHost is a host profile with a nerdctl section, as
// `refval host-profile --nerdctl` writes it.
const nerdctlTestHost = `{"hostname":"node1","capabilities":["CAP_CHOWN"],"devices":[],"nerdctl":{"path":"/usr/local/bin/nerdctl","globalArgs":["--namespace","prod"],"env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin","HOME=/root"]}}`

// TestMeasureNerdctlEngine: `refval measure IMAGE --engine nerdctl
// --host-profile F -- NERDCTL-RUN-OPTIONS CMD` gives the value of the
// library path that engine.TestNerdctlFidelity checks against the real
// nerdctl (refval-v2), and what cannot be predicted is a usage error.
func TestMeasureNerdctlEngine(t *testing.T) {
	img, err := testimage.BusyboxImage()
	if err != nil {
		t.Skip(err)
	}
	layout := t.TempDir()
	if _, err := testimage.WriteLayout(layout, "web", img); err != nil {
		t.Fatal(err)
	}
	hp := filepath.Join(t.TempDir(), "host.json")
	if err := os.WriteFile(hp, []byte(nerdctlTestHost), 0o644); err != nil {
		t.Fatal(err)
	}
	var host engine.Host
	if err := json.Unmarshal([]byte(nerdctlTestHost), &host); err != nil {
		t.Fatal(err)
	}
	ref := "oci:" + layout + ":web"
	opts := []string{"-e", "A=1", "--read-only", "--network", "none", "sh", "-c", "true"}
	out, errs, code := runCLI(t, append([]string{"measure", "--cmc-version", "0.7", ref, "--layout", t.TempDir(), "--engine", "nerdctl", "--host-profile", hp, "--"}, opts...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	run, err := engine.ParseNerdctlRunArgs(opts, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	pr := &engine.Predictor{Profile: engine.Profile{Kind: engine.Nerdctl, Version: engine.NerdctlVersion}, Run: engine.RunOptions{Nerdctl: run}, Host: &host}
	p, err := engine.ParseProfile("nerdctl", "")
	if err != nil {
		t.Fatal(err)
	}
	pr.Profile = p
	res, err := oci.MeasureImage(context.Background(), ref, oci.WithLayout(t.TempDir()), oci.WithScheme(bundle.SchemeV2),
		oci.WithRuntimeConfig(pr.Config), oci.WithContainerID(pr.ContainerID()))
	if err != nil {
		t.Fatal(err)
	}
	if want := res.Results[0].Result.TemplateSha256.String(); !strings.Contains(out, want) {
		t.Errorf("measure printed %s, want template %s", out, want)
	}
	// unpack writes the same config (nerdctl adds no layer): its bundle
	// measures to the same value for the ID predictions use.
	b := filepath.Join(t.TempDir(), "bundle")
	if _, errs, code := runCLI(t, append([]string{"unpack", ref, b, "--layout", t.TempDir(), "--engine", "nerdctl", "--host-profile", hp, "--"}, opts...)...); code != 0 {
		t.Fatalf("unpack: exit %d: %s", code, errs)
	}
	if os.Geteuid() == 0 {
		mb, errs, code := runCLI(t, "measure-bundle", "--cmc-version", "0.7", b, "--scheme", "refval-v2", "--id", engine.DockerDefaultContainerID)
		if code != 0 {
			t.Fatalf("measure-bundle: exit %d: %s", code, errs)
		}
		if want := res.Results[0].Result.TemplateSha256.String(); !strings.Contains(mb, want) {
			t.Errorf("measure-bundle of the unpacked bundle printed %s, want template %s", mb, want)
		}
	}
	for _, args := range [][]string{
		{"--host-profile", hp, "--env", "A=1"},                            // ctr's flag, not nerdctl's
		{"--host-profile", hp, "--", "true"},                              // the default bridge network (CNI)
		{"--host-profile", hp, "--", "--network", "none", "-v", "vol:/d"}, // a named volume
		{"--host-profile", hp, "--", "--bogus"},                           // not a nerdctl run option
		{"--", "--network", "none", "true"},                               // no host profile: the hooks are unknown
	} {
		full := append([]string{"measure", "--cmc-version", "0.7", ref, "--layout", t.TempDir(), "--engine", "nerdctl"}, args...)
		if _, errs, code := runCLI(t, full...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, ExitUsage, errs)
		}
	}
}

// TestGenerateNerdctlRun: a batch entry with the nerdctl engine, in the
// object form and the legacy command-line form, gives the value of
// `refval measure --engine nerdctl` with the entry's env as -e options.
func TestGenerateNerdctlRun(t *testing.T) {
	dir := t.TempDir()
	_, signers := sigPKI(t, dir, "nerdctl")
	img, err := testimage.BusyboxImage()
	if err != nil {
		t.Skip(err)
	}
	layout := filepath.Join(dir, "layout")
	if _, err := testimage.WriteLayout(layout, "web", img); err != nil {
		t.Fatal(err)
	}
	ref, store := "oci:"+layout+":web", filepath.Join(dir, "store")
	hp := filepath.Join(dir, "host.json")
	os.WriteFile(hp, []byte(nerdctlTestHost), 0o644)
	code, out, stderr := sigCLI(t, "", "measure", "--cmc-version", "0.7", ref, "--layout", store, "--insecure-policy", "-q", "--engine", "nerdctl", "--host-profile", hp,
		"--", "-e", "MODE=prod", "--network", "none", "true")
	var rv []manifest.ReferenceValue
	if code != 0 || json.Unmarshal([]byte(out), &rv) != nil || len(rv) != 1 {
		t.Fatalf("measure: exit %d %s %s", code, out, stderr)
	}
	tmpl := filepath.Join(dir, "app.manifest.json")
	os.WriteFile(tmpl, []byte(`{"type":"App Manifest","name":"x","version":"1","referenceValues":[],"validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2036-01-01T00:00:00Z"}}`), 0o644)
	batch := filepath.Join(dir, "images.json")
	os.WriteFile(batch, []byte(`{"images":[
 {"image":"`+ref+`","name":"object","env":["MODE=prod"],"run":{"engine":"nerdctl","host":`+nerdctlTestHost+`,"nerdctl":{"network":"none","args":["true"]}}},
 {"image":"`+ref+`","name":"legacy","env":["MODE=prod"],"run":["--engine","nerdctl","--host-profile","`+hp+`","--","--network","none","true"]}]}`), 0o644)
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
