package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refval/refval/bundle"
	ti "github.com/refval/refval/internal/testimage"
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
		{[]string{"--engine", "kubernetes", "--pod", pod, "--container", "POD"}, "sandbox"},
		{[]string{"--engine", "kubernetes", "--pod", filepath.Join(dir, "none.yaml"), "--container", "app"}, "none.yaml"},
	} {
		_, errOut, code := runCLI(t, append([]string{"measure", ref, "--layout", filepath.Join(dir, "store"), "--insecure-policy"}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want failure mentioning %q", tc.args, code, errOut, tc.want)
		}
	}
}
