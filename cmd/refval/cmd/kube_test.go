package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/refval/refval"
	"github.com/refval/refval/bundle"
	ti "github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
)

// TestMeasureKubernetesCLI: refval measure --engine kubernetes predicts the
// configSha256 a real kubelet + containerd recorded for the same pod and
// node (engine/testdata/kube-recorded.json), with refval-v2 by default.
func TestMeasureKubernetesCLI(t *testing.T) {
	raw, err := os.ReadFile("../../../engine/testdata/kube-recorded.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct {
		Profile     json.RawMessage `json:"profile"`
		Manifest    string          `json:"manifest"`
		Container   string          `json:"container"`
		ContainerID string          `json:"containerID"`
		Config      json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatal(err)
	}
	ref := imageRef(t, ti.Busybox())
	dir := t.TempDir()
	for i, r := range recs {
		want, _, err := bundle.HashConfig(r.Config, bundle.WithScheme(bundle.SchemeV2), bundle.WithContainerID(r.ContainerID))
		if err != nil {
			t.Fatal(err)
		}
		pod, np := filepath.Join(dir, "pod.yaml"), filepath.Join(dir, "node.json")
		os.WriteFile(pod, []byte(r.Manifest), 0o644)
		os.WriteFile(np, r.Profile, 0o644)
		out, errOut, code := runCLI(t, "measure", ref, "--layout", filepath.Join(dir, "store"), "--insecure-policy", "--engine", "kubernetes", "--pod", pod, "--container", r.Container, "--node-profile", np, "--output", "text")
		if code != 0 {
			t.Fatalf("record %d: exit %d: %s", i, code, errOut)
		}
		if !strings.Contains(out, "scheme:         refval-v2\n") || !strings.Contains(out, "configSha256:   "+want.String()+"\n") {
			t.Errorf("record %d: want refval-v2 and configSha256 %s:\n%s", i, want, out)
		}
	}
	pod := filepath.Join(dir, "pod.yaml")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pod", pod, "--container", "app"}, "--pod needs --engine kubernetes"},
		{[]string{"--engine", "kubernetes", "--pod", pod}, "--container"},
		{[]string{"--engine", "kubernetes", "--pod", pod, "--container", "app", "--env", "A=1"}, "--env"},
		{[]string{"--engine", "kubernetes", "--pod", pod, "--container", "db"}, "POD selects the sandbox"},
		{[]string{"--engine", "kubernetes", "--pod", filepath.Join(dir, "none.yaml"), "--container", "app"}, "none.yaml"},
	} {
		_, errOut, code := runCLI(t, append([]string{"measure", ref, "--layout", filepath.Join(dir, "store"), "--insecure-policy"}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want failure mentioning %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestGenerateKubernetes: a batch entry with --engine kubernetes gives the
// reference value of `refval measure --engine kubernetes` (refval-v2).
func TestGenerateKubernetes(t *testing.T) {
	dir := t.TempDir()
	_, signers := sigPKI(t, dir, "kube")
	ref := imageRef(t, ti.Busybox())
	store := filepath.Join(dir, "store")
	pod := filepath.Join(dir, "pod.yaml")
	os.WriteFile(pod, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: app, image: x, command: [/bin/sleep, \"1\"]}\n"), 0o644)
	code, out, stderr := sigCLI(t, "", "measure", "--cmc-version", "0.7", ref, "--layout", store, "--insecure-policy", "-q", "--engine", "kubernetes", "--pod", pod, "--container", "app")
	var rv []manifest.ReferenceValue
	if code != 0 || json.Unmarshal([]byte(out), &rv) != nil || len(rv) != 1 {
		t.Fatalf("measure: exit %d %s %s", code, out, stderr)
	}
	tmpl := filepath.Join(dir, "app.manifest.json")
	os.WriteFile(tmpl, []byte(`{"type":"App Manifest","name":"x","version":"1","referenceValues":[],"validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2036-01-01T00:00:00Z"}}`), 0o644)
	batch := filepath.Join(dir, "images.json")
	os.WriteFile(batch, []byte(`{"images":[{"image":"`+ref+`","name":"web","run":["--engine","kubernetes","--pod",`+strconv.Quote(pod)+`,"--container","app"]}]}`), 0o644)
	code, sumOut, stderr := sigCLI(t, "", "generate", "--cmc-version", "0.7", "--batch", batch, "--template", tmpl, "--key", signers[0][0], "--cert", signers[0][1],
		"--out", filepath.Join(dir, "out"), "--layout", store, "--insecure-policy", "-q")
	if code != 0 {
		t.Fatalf("generate: exit %d\n%s\n%s", code, sumOut, stderr)
	}
	var sum []refval.GenerateResult
	if err := json.Unmarshal([]byte(sumOut), &sum); err != nil || len(sum) != 1 || sum[0].ReferenceValue == nil {
		t.Fatalf("summary %v: %s", err, sumOut)
	}
	if got := sum[0].ReferenceValue.Sha256.String(); got != rv[0].Sha256.String() {
		t.Errorf("generate %s; measure %s", got, rv[0].Sha256)
	}
	os.WriteFile(batch, []byte(`{"images":[{"image":"`+ref+`","env":["A=1"],"run":["--engine","kubernetes","--pod",`+strconv.Quote(pod)+`,"--container","app"]}]}`), 0o644)
	code, _, stderr = sigCLI(t, "", "generate", "--cmc-version", "0.7", "--batch", batch, "--template", tmpl, "--key", signers[0][0], "--cert", signers[0][1],
		"--out", filepath.Join(dir, "out2"), "--layout", store, "--insecure-policy", "-q")
	if code != 2 || !strings.Contains(stderr, "images[0].run") {
		t.Errorf("env with --engine kubernetes: exit %d, %q; want 2 naming images[0].run", code, stderr)
	}
}

// TestMeasureKubernetesSandboxCLI: --container POD predicts the pod's
// sandbox from the sandbox image given as IMAGE, measured with the
// sandbox ID as its container ID (what the shim sees at runtime), so its
// value differs from an app container's of the same image and shows
// hostNetwork.
func TestMeasureKubernetesSandboxCLI(t *testing.T) {
	ref := imageRef(t, ti.Busybox())
	dir := t.TempDir()
	measure := func(manifest, container string) string {
		pod := filepath.Join(dir, "pod.yaml")
		os.WriteFile(pod, []byte(manifest), 0o644)
		out, errOut, code := runCLI(t, "measure", ref, "--layout", filepath.Join(dir, "store"), "--insecure-policy", "--engine", "kubernetes", "--pod", pod, "--container", container, "--output", "text")
		if code != 0 {
			t.Fatalf("--container %s: exit %d: %s", container, code, errOut)
		}
		_, v, _ := strings.Cut(out, "configSha256:   ")
		v, _, _ = strings.Cut(v, "\n")
		return v
	}
	plain := "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: app, image: x, command: [/bin/sleep, \"1\"]}\n"
	sandbox := measure(plain, "POD")
	if sandbox == "" || sandbox == measure(plain, "app") {
		t.Errorf("sandbox configSha256 %q: want one, differing from the app container's", sandbox)
	}
	if host := measure(strings.Replace(plain, "spec:\n", "spec:\n  hostNetwork: true\n", 1), "POD"); host == sandbox {
		t.Error("a hostNetwork pod's sandbox measures the same as a plain pod's")
	}
}
