package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ti "github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
)

// TestMeasureOCIRulesOut: measure --oci-rules-out writes, for the pod a
// real kubelet ran (engine/testdata/kube-recorded.json), rules marking
// exactly the kubelet's and containerd's per-pod mounts, the cgroup path,
// the sandbox's namespaces and HOSTNAME; manifest create --oci-rules takes
// the file into the Manifest Description; misuse fails naming the flag.
func TestMeasureOCIRulesOut(t *testing.T) {
	raw, err := os.ReadFile("../../../engine/testdata/kube-recorded.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct {
		Profile   json.RawMessage `json:"profile"`
		Manifest  string          `json:"manifest"`
		Container string          `json:"container"`
	}
	if err := json.Unmarshal(raw, &recs); err != nil || len(recs) == 0 {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ref := imageRef(t, ti.Busybox())
	pod, np := filepath.Join(dir, "pod.yaml"), filepath.Join(dir, "node.json")
	os.WriteFile(pod, []byte(recs[0].Manifest), 0o644)
	os.WriteFile(np, recs[0].Profile, 0o644)
	rulesFile := filepath.Join(dir, "rules.json")
	base := []string{"measure", ref, "--layout", filepath.Join(dir, "store"), "--insecure-policy", "-q"}
	kube := []string{"--engine", "kubernetes", "--pod", pod, "--container", recs[0].Container, "--node-profile", np}
	out, errOut, code := runCLI(t, append(append(base, kube...), "--scheme", "cmc", "--oci-rules-out", rulesFile)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	comps, err := manifest.ReadComponents([]byte(out))
	if err != nil || len(comps) != 1 || comps[0].CtrData == nil || comps[0].CtrData.OciSpec == nil {
		t.Fatalf("components %v:\n%s", err, out)
	}
	spec := comps[0].CtrData.OciSpec
	var rules struct {
		Mounts  []map[string]string `json:"mounts"`
		Process map[string]string   `json:"process"`
		Linux   struct {
			CgroupsPath string              `json:"cgroupsPath"`
			Namespaces  []map[string]string `json:"namespaces"`
		} `json:"linux"`
	}
	rb, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rb, &rules); err != nil {
		t.Fatalf("%v:\n%s", err, rb)
	}
	// The per-pod files, by destination (the kubelet's and CRI's mounts).
	perPod := []string{"/etc/hosts", "/dev/termination-log", "/etc/hostname", "/etc/resolv.conf", "/dev/shm"}
	var marked []string
	for i, m := range spec.Mounts {
		if i < len(rules.Mounts) && rules.Mounts[i]["source"] == "modifiable" {
			marked = append(marked, m.Destination)
		}
	}
	slices.Sort(marked)
	slices.Sort(perPod)
	if !slices.Equal(marked, perPod) {
		t.Errorf("modifiable mount sources %v, want %v\n%s", marked, perPod, rb)
	}
	if rules.Linux.CgroupsPath != "modifiable" || rules.Process["env"] != "replace:HOSTNAME=*" {
		t.Errorf("cgroupsPath and env rules:\n%s", rb)
	}
	for i, ns := range spec.Linux.Namespaces {
		marked := i < len(rules.Linux.Namespaces) && rules.Linux.Namespaces[i]["path"] == "modifiable"
		if marked != (ns.Path != "") {
			t.Errorf("namespace %s (path %q): marked %v\n%s", ns.Type, ns.Path, marked, rb)
		}
	}

	// manifest create takes the file as the Manifest Description's ociRules.
	refvals, desc := filepath.Join(dir, "refvals.json"), filepath.Join(dir, "image.json")
	os.WriteFile(refvals, []byte(out), 0o644)
	if _, errOut, code := runCLI(t, "manifest", "create", "--name", "web", "--version", "2026-01-02T15:04:05Z", "--refvals", refvals,
		"--not-before", "now", "--out", filepath.Join(dir, "manifest.json"), "--image-description", desc, "--oci-rules", rulesFile); code != 0 {
		t.Fatalf("manifest create: exit %d: %s", code, errOut)
	}
	db, _ := os.ReadFile(desc)
	var id struct {
		Descriptions []struct {
			Manifest string         `json:"manifest"`
			OciRules map[string]any `json:"ociRules"`
		} `json:"descriptions"`
	}
	if err := json.Unmarshal(db, &id); err != nil || len(id.Descriptions) != 1 || id.Descriptions[0].Manifest != "web" || id.Descriptions[0].OciRules["linux"] == nil {
		t.Errorf("image description %v:\n%s", err, db)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{kube, "--scheme cmc"},
		{append([]string{"--cmc-version", "0.7", "--scheme", "cmc"}, kube...), "--cmc-version 0.9"},
		{[]string{"--scheme", "cmc"}, "--engine kubernetes or docker"},
		{[]string{"--scheme", "cmc", "--engine", "containerd"}, "--engine kubernetes or docker"},
	} {
		bad := filepath.Join(dir, "bad.json")
		_, errOut, code := runCLI(t, append(append(base, tc.args...), "--oci-rules-out", bad)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want failure mentioning %q", tc.args, code, errOut, tc.want)
		}
		if _, err := os.Stat(bad); err == nil {
			t.Errorf("%v: rules written on failure", tc.args)
		}
	}
}
