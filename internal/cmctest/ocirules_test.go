package cmctest_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/internal/cmctest"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
)

// ociCase is one measured config judged by CMC against a reference.
type ociCase struct {
	name   string
	mutate func(t *testing.T, cfg map[string]any) // nil: the config as given
	noRule bool                                   // judge without refval's rules
	accept bool
}

// negativeControls are changes every rule set must refuse: refval's
// rules mark only per-start fields.
var negativeControls = []ociCase{
	{name: "changed env value", mutate: func(t *testing.T, c map[string]any) {
		env := c["process"].(map[string]any)["env"].([]any)
		for i, e := range env {
			if s := e.(string); strings.HasPrefix(s, "PATH=") {
				env[i] = s + ":/tmp/evil"
				return
			}
		}
		t.Fatal("no PATH in env")
	}},
	{name: "added hostPath mount of /", mutate: func(t *testing.T, c map[string]any) {
		ms, _ := c["mounts"].([]any)
		c["mounts"] = append(ms, map[string]any{"destination": "/host", "type": "bind", "source": "/", "options": []any{"rbind", "rw"}})
	}},
	{name: "privileged (every capability, no seccomp, no masked paths)", mutate: func(t *testing.T, c map[string]any) {
		all := []any{"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO"}
		c["process"].(map[string]any)["capabilities"] = map[string]any{"bounding": all, "effective": all, "permitted": all}
		linux := c["linux"].(map[string]any)
		delete(linux, "seccomp")
		delete(linux, "maskedPaths")
		delete(linux, "readonlyPaths")
	}},
	{name: "added capability CAP_SYS_ADMIN", mutate: func(t *testing.T, c map[string]any) {
		caps := c["process"].(map[string]any)["capabilities"].(map[string]any)
		for _, set := range []string{"bounding", "effective", "permitted"} {
			l, _ := caps[set].([]any)
			caps[set] = append(l, "CAP_SYS_ADMIN")
		}
	}},
}

// judge runs CMC's comparison for every case on base (a raw config of
// container id) against the reference component file under rules.
func judge(t *testing.T, tools *cmctest.Tools, ref, rules, id string, base []byte, cases []ociCase) {
	t.Helper()
	dir := t.TempDir()
	for i, c := range cases {
		var cfg map[string]any
		if err := json.Unmarshal(base, &cfg); err != nil {
			t.Fatal(err)
		}
		if c.mutate != nil {
			c.mutate(t, cfg)
		}
		b, _ := json.Marshal(cfg)
		file := filepath.Join(dir, fmt.Sprintf("config-%d.json", i))
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r := rules
		if c.noRule {
			r = ""
		}
		v, err := tools.ValidateConfig(ref, r, file, id)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if v.OK != c.accept {
			t.Errorf("%s: CMC accepted=%v, want %v (%s)", c.name, v.OK, c.accept, v.Reason)
		}
		if c.accept && v.HashEqual && rules != "" && !c.noRule {
			t.Logf("%s: config hash equal, no rule needed", c.name)
		}
		t.Logf("%-60s accepted=%-5v hashEqual=%-5v %s", c.name, v.OK, v.HashEqual, v.Reason)
	}
}

// referenceOf returns refval's component of the predicted config cfg
// (measured with cmc-0.9 for the prediction's container ID, rootfs digest
// rootfs) and the ociRules refval states for it.
func referenceOf(t *testing.T, pred engine.ConfigPredictor, cfg []byte, rootfs bundle.Digest) (manifest.Component, map[string]any) {
	t.Helper()
	d, norm, err := bundle.HashConfig(cfg, bundle.WithScheme(bundle.SchemeCMC09), bundle.WithContainerID(pred.ContainerID()))
	if err != nil {
		t.Fatal(err)
	}
	ruler, err := refval.OCIRules(pred, bundle.SchemeCMC09)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ruler.OCIRules(norm)
	if err != nil {
		t.Fatal(err)
	}
	return component09(t, &bundle.Result{Scheme: bundle.SchemeCMC09, ConfigSha256: d, RootfsSha256: rootfs, NormalizedConfig: norm}), rs
}

// reference writes referenceOf's component and rules and returns both
// file names.
func reference(t *testing.T, pred engine.ConfigPredictor, cfg []byte) (ref, rules string) {
	t.Helper()
	c, rs := referenceOf(t, pred, cfg, bundle.Digest{})
	dir := t.TempDir()
	ref, rules = filepath.Join(dir, "component.json"), filepath.Join(dir, "rules.json")
	cb, _ := json.Marshal(c)
	rb, _ := json.MarshalIndent(rs, "", " ")
	if err := os.WriteFile(ref, cb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, rb, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("ociRules: %s", rb)
	return ref, rules
}

// TestCMC09AcceptsKubeletStartsUnderRefvalRules: for the pod the kubelet
// started on real containerd (engine/testdata/kube-recorded.json, two
// nodes), refval predicts the container's config and states its ociRules;
// CMC v0.9.15's own measure and verifier code accepts the recorded config
// and a further start (new sandbox, pod UID, termination log, pause PID,
// container ID), refuses it without the rules, and refuses the negative
// controls with them.
func TestCMC09AcceptsKubeletStartsUnderRefvalRules(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V09)
	for _, r := range kubeRecords(t) {
		t.Run(r.Case, func(t *testing.T) {
			ref, rules := reference(t, r.pred, r.predicted)

			var rc struct {
				Annotations map[string]string `json:"annotations"`
				Mounts      []struct {
					Destination, Source string
				} `json:"mounts"`
				Linux struct {
					Namespaces []struct{ Path string } `json:"namespaces"`
				} `json:"linux"`
			}
			if err := json.Unmarshal(r.Config, &rc); err != nil {
				t.Fatal(err)
			}
			sid, uid := rc.Annotations["io.kubernetes.cri.sandbox-id"], rc.Annotations["io.kubernetes.cri.sandbox-uid"]
			var leaf, pid string
			for _, m := range rc.Mounts {
				if m.Destination == "/dev/termination-log" {
					leaf = filepath.Base(m.Source)
				}
			}
			for _, ns := range rc.Linux.Namespaces {
				if ns.Path != "" {
					pid = strings.Split(ns.Path, "/")[2]
				}
			}
			if sid == "" || uid == "" || leaf == "" || pid == "" {
				t.Fatalf("recorded config lacks sandbox %q, uid %q, termination log %q or pause PID %q", sid, uid, leaf, pid)
			}
			newID := strings.Repeat("9", 64)
			restart := replaceAll(r.Config, sid, strings.Repeat("a", 64), uid, strings.Repeat("b", 32),
				"/"+leaf, "/0f1e2d3c", "/proc/"+pid+"/", "/proc/4242/", r.ContainerID, newID)
			cases := append([]ociCase{
				{name: "recorded start", accept: true},
				{name: "recorded start, no ociRules", noRule: true},
				{name: "recorded start, HOSTNAME of another pod (replace: takes any)", accept: true, mutate: func(t *testing.T, c map[string]any) {
					env := c["process"].(map[string]any)["env"].([]any)
					for i, e := range env {
						if strings.HasPrefix(e.(string), "HOSTNAME=") {
							env[i] = "HOSTNAME=other-pod"
						}
					}
				}},
				{name: "recorded start, another pod's /etc/hostname (modifiable takes any source)", accept: true, mutate: func(t *testing.T, c map[string]any) {
					// Sandbox 000…0 sorts before this pod's: the mount keeps its position.
					setSource(c, "/etc/hostname", strings.Replace(sourceOf(c, "/etc/hostname"), sid, strings.Repeat("0", 64), 1))
				}},
				{name: "recorded start, /etc/hosts from the host's /etc (sorts elsewhere: positions shift)", mutate: func(t *testing.T, c map[string]any) {
					setSource(c, "/etc/hosts", "/etc/hosts")
				}},
			}, negativeControls...)
			judge(t, tools, ref, rules, r.ContainerID, r.Config, cases)
			judge(t, tools, ref, rules, newID, restart, []ociCase{{name: "another start (sandbox, pod UID, termination log, pause PID, container ID)", accept: true}})
		})
	}
}

// kubeRecord is a config the kubelet wrote (engine/testdata) with
// refval's prediction of it.
type kubeRecord struct {
	Case        string             `json:"case"`
	Profile     engine.NodeProfile `json:"profile"`
	Manifest    string             `json:"manifest"`
	Container   string             `json:"container"`
	ContainerID string             `json:"containerID"`
	Config      json.RawMessage    `json:"config"`
	pred        *engine.KubePredictor
	predicted   []byte
}

// kubeRecords reads the two recorded starts of the pod and predicts each
// for its node.
func kubeRecords(t *testing.T) []kubeRecord {
	t.Helper()
	raw, err := os.ReadFile("../../engine/testdata/kube-recorded.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []kubeRecord
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) < 2 {
		t.Fatalf("%d recorded configs, want 2", len(recs))
	}
	imgCfg, userFS := busyboxImage(t)
	for i := range recs {
		r := &recs[i]
		pod, err := engine.ParseKubeObject("manifest", []byte(r.Manifest))
		if err != nil {
			t.Fatal(err)
		}
		r.pred = &engine.KubePredictor{Pod: pod, Container: r.Container, Node: &r.Profile}
		if r.predicted, err = r.pred.Config(imgCfg, userFS); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

// TestCMC09SWVerifierAppliesRefvalRules: through CMC's SW verifier, the
// whole path — refval's Manifest, the Image Description whose Manifest
// Description carries refval's ociRules, and a measurement list of the
// kubelet's recorded start — is accepted; without the Image Description
// (no rules) it is refused.
func TestCMC09SWVerifierAppliesRefvalRules(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V09)
	dir := t.TempDir()
	rootfs := bundle.Digest{1, 2, 3}
	for i, r := range kubeRecords(t) {
		c, rules := referenceOf(t, r.pred, r.predicted, rootfs)
		m := filepath.Join(dir, fmt.Sprintf("manifest-%d.json", i))
		if err := os.WriteFile(m, manifest09(t, manifest.JSON, c), 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := manifest.CreateImageDescription(manifest.ImageDescriptionOptions{Name: "node", Version: "2025-01-01T00:00:00Z", Validity: validity(t),
			Descriptions: []manifest.ManifestDescription{{Name: "de.refval.app", Manifest: "de.refval.app", OciRules: rules}}}, manifest.JSON)
		if err != nil {
			t.Fatal(err)
		}
		db, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		desc := filepath.Join(dir, fmt.Sprintf("image-%d.json", i))
		if err := os.WriteFile(desc, db, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, norm, err := bundle.HashConfig(r.Config, bundle.WithScheme(bundle.SchemeCMC09), bundle.WithContainerID(r.ContainerID))
		if err != nil {
			t.Fatal(err)
		}
		list := writeList09(t, filepath.Join(dir, fmt.Sprintf("list-%d.json", i)), &bundle.Result{Scheme: bundle.SchemeCMC09,
			ConfigSha256: cfg, RootfsSha256: rootfs, TemplateSha256: bundle.TemplateHash(cfg, rootfs), NormalizedConfig: norm})
		res, err := tools.Match(list, m, desc)
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK || res.References != 1 {
			t.Errorf("%s: CMC's SW verifier refused the start under refval's rules: %s", r.Case, res.Result)
		}
		res, err = tools.Match(list, m)
		if err != nil {
			t.Fatal(err)
		}
		if res.OK {
			t.Errorf("%s: CMC's SW verifier accepted the start without rules", r.Case)
		}
	}
}

// busyboxImage returns the config of the busybox test image the kubelet
// configs were recorded with (internal/kubetest), and its user files.
func busyboxImage(t *testing.T) (ocispec.Image, fs.FS) {
	t.Helper()
	img, err := testimage.BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	b, err := testimage.Build(img)
	if err != nil {
		t.Fatal(err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(b.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, l := range img.Layers {
		for _, e := range l {
			files[e.Path] = e.Content
		}
	}
	return cfg, engine.UserFiles(files["etc/passwd"], files["etc/group"])
}

// TestCMC09AcceptsDockerStartsUnderRefvalRules: for the configs dockerd
// 20.10 wrote (bundle/testdata/vectors-v2/docker-*), refval's Docker rules
// make CMC accept a start whose libnetwork-setkey hook resolves to another
// binary than on the machine that computed the reference (CMC resolves
// /proc/<dockerd PID>/exe where it measures), and a start with a new
// container ID, controller ID and joined-namespace PID; the negative
// controls are refused.
func TestCMC09AcceptsDockerStartsUnderRefvalRules(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V09)
	// A live process other than this one: its /proc/<pid>/exe resolves to
	// another binary, as dockerd's on the device does.
	sleep := exec.Command("sleep", "600")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	self, other := fmt.Sprintf("/proc/%d/exe", os.Getpid()), fmt.Sprintf("/proc/%d/exe", sleep.Process.Pid)
	pred := &engine.Predictor{Profile: engine.Profile{Kind: engine.Docker}}
	for _, name := range []string{"docker-none", "docker-joined-netns", "docker-host"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile("../../bundle/testdata/vectors-v2/" + name + ".config.json")
			if err != nil {
				t.Fatal(err)
			}
			var exp struct {
				ContainerID string `json:"containerID"`
			}
			eb, err := os.ReadFile("../../bundle/testdata/vectors-v2/" + name + ".expected.json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(eb, &exp); err != nil {
				t.Fatal(err)
			}
			id := exp.ContainerID
			// The reference: this config as measured where refval runs.
			ref, rules := dockerReference(t, pred, replaceAll(raw, "/proc/19653/exe", self), id)
			start := replaceAll(raw, "/proc/19653/exe", other)
			newID := strings.Repeat("e", 64)
			restart := replaceAll(start, id, newID, id[:12], newID[:12], "988d0f50b906", "0123456789ab", "/proc/1/ns/", "/proc/4242/ns/")
			cases := append([]ociCase{{name: "start", accept: true}}, negativeControls...)
			if strings.Contains(string(raw), "libnetwork-setkey") {
				cases = append(cases, ociCase{name: "start, no ociRules", noRule: true})
				cases = append(cases, ociCase{name: "start, setkey hook with another exec-root", mutate: func(t *testing.T, c map[string]any) {
					h := c["hooks"].(map[string]any)["prestart"].([]any)[0].(map[string]any)
					h["args"].([]any)[1] = "-exec-root=/tmp/evil"
				}})
			}
			judge(t, tools, ref, rules, id, start, cases)
			judge(t, tools, ref, rules, newID, restart, []ociCase{{name: "another start (container ID, controller ID, netns PID)", accept: true}})
		})
	}
}

// dockerReference is reference for a Docker config recorded with
// container ID id.
func dockerReference(t *testing.T, pred *engine.Predictor, cfg []byte, id string) (string, string) {
	t.Helper()
	p := *pred
	p.ID = id
	return reference(t, &p, cfg)
}

// sourceOf returns the source of the mount at destination dst.
func sourceOf(c map[string]any, dst string) string {
	for _, m := range c["mounts"].([]any) {
		if m := m.(map[string]any); m["destination"] == dst {
			return m["source"].(string)
		}
	}
	return ""
}

// setSource sets the source of the mount at destination dst.
func setSource(c map[string]any, dst, src string) {
	for _, m := range c["mounts"].([]any) {
		if m := m.(map[string]any); m["destination"] == dst {
			m["source"] = src
		}
	}
}

// replaceAll replaces every pair (old, new, ...) in the raw config text,
// earlier pairs first where two match at one position.
func replaceAll(b []byte, pairs ...string) []byte {
	return []byte(strings.NewReplacer(pairs...).Replace(string(b)))
}
