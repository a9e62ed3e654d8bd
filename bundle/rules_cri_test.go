package bundle

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Per-start values of one CRI container, as containerd and the kubelet
// write them (formats from containerd 2.4 internal/cri and kubelet 1.34).
type criStart struct {
	cid, sid, uid, pod, termLeaf, apiSuffix string
}

var (
	start1 = criStart{
		cid: strings.Repeat("c1", 32), sid: strings.Repeat("5a", 32),
		uid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", pod: "web-7d4b9c8f6d-x2x9q",
		termLeaf: "0a1b2c3d", apiSuffix: "bx7kq",
	}
	start2 = criStart{
		cid: strings.Repeat("c2", 32), sid: strings.Repeat("6b", 32),
		uid: "11111111-2222-3333-4444-555555555555", pod: "web-7d4b9c8f6d-zz4w2",
		termLeaf: "ffee0011", apiSuffix: "4h9mt",
	}
	// A static pod: its UID is 32 hex digits.
	startStatic = criStart{
		cid: strings.Repeat("c3", 32), sid: strings.Repeat("7c", 32),
		uid: "3f2504e04f8911d39a0c0305e82c3301", pod: "web-node1",
		termLeaf: "12345678", apiSuffix: "zzzzz",
	}
)

// criConfig is an app container config of the shape containerd 2.4's CRI
// writes for a kubelet pod (abridged: the parts the rules touch, and
// neighbours that must stay).
func criConfig(s criStart) string {
	r := strings.NewReplacer("CID", s.cid, "SID", s.sid, "UID", s.uid, "UUS", strings.ReplaceAll(s.uid, "-", "_"),
		"POD", s.pod, "TERM", s.termLeaf, "APIS", s.apiSuffix)
	return r.Replace(`{"ociVersion":"1.2.1",
"process":{"user":{"uid":0,"gid":0},"args":["/bin/sh"],"cwd":"/",
 "env":["PATH=/bin","HOSTNAME=POD","KUBERNETES_SERVICE_HOST=10.96.0.1"]},
"root":{"path":"rootfs"},
"mounts":[
 {"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},
 {"destination":"/etc/hosts","type":"bind","source":"/var/lib/kubelet/pods/UID/etc-hosts","options":["rbind","rprivate","rw"]},
 {"destination":"/dev/termination-log","type":"bind","source":"/var/lib/kubelet/pods/UID/containers/app/TERM","options":["rbind","rprivate","rw"]},
 {"destination":"/var/run/secrets/kubernetes.io/serviceaccount","type":"bind","source":"/var/lib/kubelet/pods/UID/volumes/kubernetes.io~projected/kube-api-access-APIS","options":["rbind","rprivate","ro"]},
 {"destination":"/etc/hostname","type":"bind","source":"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/SID/hostname","options":["rbind","rprivate","rw"]},
 {"destination":"/dev/shm","type":"bind","source":"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/SID/shm","options":["rbind","rprivate","rw"]}],
"annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"app",
 "io.kubernetes.cri.sandbox-id":"SID","io.kubernetes.cri.sandbox-uid":"UID","io.kubernetes.cri.sandbox-name":"POD",
 "io.kubernetes.cri.sandbox-namespace":"default"},
"linux":{"cgroupsPath":"/kubepods/besteffort/podUID/CID",
 "namespaces":[{"type":"pid"},{"type":"ipc","path":"/proc/42/ns/ipc"},{"type":"network","path":"/proc/42/ns/net"}]}}`)
}

func normV2(t *testing.T, cfg, id string) string {
	t.Helper()
	n, err := NormalizeConfigV2([]byte(cfg), id)
	if err != nil {
		t.Fatalf("NormalizeConfigV2: %v\n%s", err, cfg)
	}
	return string(n)
}

// TestV2StableAcrossStarts: two starts of one pod spec (new container,
// sandbox, pod UID, pod name suffix, termination-log leaf, service-account
// volume suffix) measure the same; refval-v1 does not.
func TestV2StableAcrossStarts(t *testing.T) {
	a, b, c := criConfig(start1), criConfig(start2), criConfig(startStatic)
	na, nb, nc := normV2(t, a, start1.cid), normV2(t, b, start2.cid), normV2(t, c, startStatic.cid)
	if diff := cmp.Diff(na, nb); diff != "" {
		t.Errorf("two starts measure differently (-1 +2):\n%s", diff)
	}
	if diff := cmp.Diff(na, nc); diff != "" {
		t.Errorf("static pod UID form (-1 +static):\n%s", diff)
	}
	for _, frag := range []string{
		`"/var/lib/kubelet/pods/<pod-uid>/etc-hosts"`,
		`"/var/lib/kubelet/pods/<pod-uid>/containers/app/<termination-log>"`,
		`"/var/lib/kubelet/pods/<pod-uid>/volumes/kubernetes.io~projected/kube-api-access-<random>"`,
		`"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/<sandbox-id>/hostname"`,
		`"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/<sandbox-id>/shm"`,
		`"/kubepods/besteffort/pod<pod-uid>/<container-id>"`,
		`"HOSTNAME=<pod-hostname>"`,
		`"KUBERNETES_SERVICE_HOST=10.96.0.1"`,
	} {
		if !strings.Contains(na, frag) {
			t.Errorf("normalised config lacks %s:\n%s", frag, na)
		}
	}
	v1a, _ := NormalizeConfigV1([]byte(a), start1.cid)
	v1b, _ := NormalizeConfigV1([]byte(b), start2.cid)
	if bytes.Equal(v1a, v1b) {
		t.Error("refval-v1 already stable: the test configs do not vary per start")
	}
}

// TestV2SecurityRelevantDiffers: every change that is not a per-start
// value changes the refval-v2 measurement — including attempts to make a
// rule hide one through crafted annotations or paths.
func TestV2SecurityRelevantDiffers(t *testing.T) {
	base := criConfig(start1)
	nbase := normV2(t, base, start1.cid)
	sid, uid := start1.sid, start1.uid
	edits := []struct{ name, old, new string }{
		{"hostPath / added", `"options":["nosuid","noexec","nodev"]},`, `"options":["nosuid","noexec","nodev"]},{"destination":"/host","type":"bind","source":"/","options":["rbind"]},`},
		{"containerd socket mounted", `"options":["nosuid","noexec","nodev"]},`, `"options":["nosuid","noexec","nodev"]},{"destination":"/s","type":"bind","source":"/run/containerd/containerd.sock","options":["rbind"]},`},
		{"kubelet root differs", `/var/lib/kubelet/pods/` + uid + `/etc-hosts`, `/srv/kubelet/pods/` + uid + `/etc-hosts`},
		{"cri state dir differs", `/run/containerd/io.containerd.grpc.v1.cri/sandboxes/` + sid + `/shm`, `/dev/io.containerd.grpc.v1.cri/sandboxes/` + sid + `/shm`},
		{"sandbox leaf differs", sid + `/hostname`, sid + `/resolv.conf`},
		{"sandbox ID elsewhere in a source", `/run/containerd/io.containerd.grpc.v1.cri/sandboxes/` + sid + `/shm`, `/data/` + sid + `/shm`},
		{"sandbox ID after other dir", `/run/containerd/io.containerd.grpc.v1.cri/sandboxes/` + sid + `/shm`, `/run/containerd/x/sandboxes/` + sid + `/shm`},
		{"pod UID in a hostPath outside the pod dir", `/var/lib/kubelet/pods/` + uid + `/etc-hosts`, `/data/pods/` + uid + `/secret`},
		{"pod UID with other entry", `/var/lib/kubelet/pods/` + uid + `/etc-hosts`, `/var/lib/kubelet/pods/` + uid + `/etc-passwd`},
		{"termination log of another container", `containers/app/` + start1.termLeaf, `containers/other/` + start1.termLeaf},
		{"termination log leaf not hex", `containers/app/` + start1.termLeaf, `containers/app/etc-shad`},
		{"termination log deeper", `containers/app/` + start1.termLeaf, `containers/app/` + start1.termLeaf + `/x`},
		{"api-access suffix not from the alphabet", `kube-api-access-` + start1.apiSuffix, `kube-api-access-aaaaa`},
		{"other projected volume", `kube-api-access-` + start1.apiSuffix, `token-` + start1.apiSuffix},
		{"cgroup QoS differs", `/kubepods/besteffort/pod`, `/kubepods/burstable/pod`},
		{"cgroup pod not at its place", `/kubepods/besteffort/pod` + uid + `/` + start1.cid, `/kubepods/besteffort/pod` + uid + `/x/` + start1.cid},
		{"HOSTNAME other than the pod name", `"HOSTNAME=` + start1.pod + `"`, `"HOSTNAME=` + start1.pod + `x"`},
		{"env value changed", `KUBERNETES_SERVICE_HOST=10.96.0.1`, `KUBERNETES_SERVICE_HOST=10.96.0.2`},
		{"pod name in another variable", `"PATH=/bin"`, `"PATH=/bin","NAME=` + start1.pod + `"`},
		{"privileged-like capability", `"user":{"uid":0,"gid":0}`, `"user":{"uid":0,"gid":0},"capabilities":{"bounding":["CAP_SYS_ADMIN"]}`},
		{"runAsUser", `"user":{"uid":0,"gid":0}`, `"user":{"uid":1000,"gid":0}`},
		{"host network", `{"type":"network","path":"/proc/42/ns/net"}`, `{"type":"uts"}`},
		{"mount order", `{"destination":"/etc/hostname","type":"bind","source":"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/` + sid + `/hostname","options":["rbind","rprivate","rw"]},
 {"destination":"/dev/shm","type":"bind","source":"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/` + sid + `/shm","options":["rbind","rprivate","rw"]}`,
			`{"destination":"/dev/shm","type":"bind","source":"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/` + sid + `/shm","options":["rbind","rprivate","rw"]},
 {"destination":"/etc/hostname","type":"bind","source":"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/` + sid + `/hostname","options":["rbind","rprivate","rw"]}`},
		{"mount option", `/etc-hosts","options":["rbind","rprivate","rw"]`, `/etc-hosts","options":["rbind","rprivate","ro"]`},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			if !strings.Contains(base, e.old) {
				t.Fatalf("test bug: %q not in the base config", e.old)
			}
			cfg := strings.Replace(base, e.old, e.new, 1)
			if got := normV2(t, cfg, start1.cid); got == nbase {
				t.Errorf("measures like the base config:\n%s", got)
			}
			checkPythonV2(t, cfg, start1.cid)
		})
	}
}

// TestV2AnnotationsMustBeWellFormed: a CRI rule acts only on annotation
// values of the format the engine writes; otherwise it leaves the config
// alone, so the per-start values stay measured.
func TestV2AnnotationsMustBeWellFormed(t *testing.T) {
	base := criConfig(start1)
	for _, e := range []struct{ name, old, new string }{
		{"no container type", `"io.kubernetes.cri.container-type":"container"`, `"x":"container"`},
		{"unknown container type", `"io.kubernetes.cri.container-type":"container"`, `"io.kubernetes.cri.container-type":"vm"`},
		{"annotations not an object", `"annotations":{`, `"annotations":"x","y":{`},
	} {
		cfg := strings.Replace(base, e.old, e.new, 1)
		v1, _ := NormalizeConfigV1([]byte(cfg), start1.cid)
		if got := normV2(t, cfg, start1.cid); got != string(v1) {
			t.Errorf("%s: refval-v2 differs from refval-v1:\n%s\n%s", e.name, got, v1)
		}
	}
	// A sandbox ID that is not 64 hex digits, a pod UID that is no UUID:
	// the value stays.
	short := strings.ReplaceAll(base, `"io.kubernetes.cri.sandbox-id":"`+start1.sid, `"io.kubernetes.cri.sandbox-id":"`+start1.sid[:63])
	short = strings.ReplaceAll(short, `sandboxes/`+start1.sid, `sandboxes/`+start1.sid[:63])
	if got := normV2(t, short, start1.cid); !strings.Contains(got, "sandboxes/"+start1.sid[:63]+"/") {
		t.Errorf("63-hex sandbox ID replaced:\n%s", got)
	}
	upper := strings.ReplaceAll(base, start1.uid, strings.ToUpper(start1.uid))
	if got := normV2(t, upper, start1.cid); strings.Contains(got, PodUIDPlaceholder) {
		t.Errorf("upper-case UID replaced:\n%s", got)
	}
}

func TestV2Rules(t *testing.T) {
	anno := func(uid string) string {
		return `"annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-uid":"` + uid + `","io.kubernetes.cri.sandbox-name":"p"}`
	}
	u := "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	us := strings.ReplaceAll(u, "-", "_")
	tests := []struct {
		name      string
		rule      func(map[string]any, string) error
		in, want  string
		wantField string
	}{
		{"cgroup/systemd", criPodUID,
			`{` + anno(u) + `,"linux":{"cgroupsPath":"kubepods-burstable-pod` + us + `.slice:cri-containerd:abc"}}`,
			`{` + anno(u) + `,"linux":{"cgroupsPath":"kubepods-burstable-pod<pod-uid>.slice:cri-containerd:abc"}}`, ""},
		{"cgroup/systemd-guaranteed", criPodUID,
			`{` + anno(u) + `,"linux":{"cgroupsPath":"kubepods-pod` + us + `.slice:cri-containerd:abc"}}`,
			`{` + anno(u) + `,"linux":{"cgroupsPath":"kubepods-pod<pod-uid>.slice:cri-containerd:abc"}}`, ""},
		{"cgroup/systemd-dashes-not-escaped", criPodUID,
			`{` + anno(u) + `,"linux":{"cgroupsPath":"kubepods-pod` + u + `.slice:cri-containerd:abc"}}`,
			`{` + anno(u) + `,"linux":{"cgroupsPath":"kubepods-pod` + u + `.slice:cri-containerd:abc"}}`, ""},
		{"cgroup/systemd-glued-prefix", criPodUID,
			`{` + anno(u) + `,"linux":{"cgroupsPath":"evilpod` + us + `.slice:cri-containerd:abc"}}`,
			`{` + anno(u) + `,"linux":{"cgroupsPath":"evilpod` + us + `.slice:cri-containerd:abc"}}`, ""},
		{"cgroup/cgroupfs-guaranteed", criPodUID,
			`{` + anno(u) + `,"linux":{"cgroupsPath":"/kubepods/pod` + u + `/abc"}}`,
			`{` + anno(u) + `,"linux":{"cgroupsPath":"/kubepods/pod<pod-uid>/abc"}}`, ""},
		{"cgroup/wrong-type", criPodUID, `{` + anno(u) + `,"linux":{"cgroupsPath":1}}`, "", "linux.cgroupsPath"},
		{"mounts/wrong-type", criPodUID, `{` + anno(u) + `,"mounts":{}}`, "", "mounts"},
		{"mounts/element-wrong-type", criPodUID, `{` + anno(u) + `,"mounts":[1]}`, "", "mounts[0]"},
		{"hostname/sandbox", criPodHostname, `{` + anno(u) + `,"hostname":"p"}`, `{` + anno(u) + `,"hostname":"<pod-hostname>"}`, ""},
		{"hostname/other", criPodHostname, `{` + anno(u) + `,"hostname":"q","process":{"env":["HOSTNAME=q","X=p"]}}`, `{` + anno(u) + `,"hostname":"q","process":{"env":["HOSTNAME=q","X=p"]}}`, ""},
		{"placeholders/refused", refusePlaceholders, `{"mounts":[{"source":"/x/<pod-uid>/y"}]}`, "", "mounts[0].source"},
		{"placeholders/annotations-free", refusePlaceholders, `{"annotations":{"a":"<pod-uid>"}}`, `{"annotations":{"a":"<pod-uid>"}}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyRule(t, tc.rule, tc.in, "")
			if tc.wantField != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Field != tc.wantField || !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v; want a ConfigError for field %q", err, tc.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, _ := applyRule(t, func(map[string]any, string) error { return nil }, tc.want, "")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestV2LongPodNameHostname: the kubelet cuts a pod name to 63 characters
// and trims trailing '-' and '.' for the hostname; the rule follows.
func TestV2LongPodNameHostname(t *testing.T) {
	pod := strings.Repeat("a", 62) + "-b" + strings.Repeat("c", 10)
	cfg := `{"annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-name":"` + pod + `"},` +
		`"process":{"env":["HOSTNAME=` + strings.Repeat("a", 62) + `"]}}`
	if got := normV2(t, cfg, ""); !strings.Contains(got, "HOSTNAME=<pod-hostname>") {
		t.Errorf("truncated hostname not replaced: %s", got)
	}
	checkPythonV2(t, cfg, "")
}

// TestV2RefusesPlaceholders: a config that already holds a placeholder
// could pose as the normalised form of another; both implementations refuse it.
func TestV2RefusesPlaceholders(t *testing.T) {
	for _, p := range []string{"<pod-uid>", "<sandbox-id>", "<container-id>", "kube-api-access-<random>", "<pod-hostname>", "<termination-log>", "<namespace-path>"} {
		cfg := `{"mounts":[{"destination":"/d","source":"/var/lib/kubelet/pods/` + p + `/etc-hosts"}]}`
		if _, err := NormalizeConfigV2([]byte(cfg), ""); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "mounts[0].source") {
			t.Errorf("%s: err = %v; want ErrInvalidConfig naming mounts[0].source", p, err)
		}
		checkPythonV2(t, cfg, "")
	}
}

// TestV2IsV1WithoutCRI: a config that is not a CRI container normalises
// under refval-v2 exactly as under refval-v1.
func TestV2IsV1WithoutCRI(t *testing.T) {
	matches, _ := filepath.Glob("testdata/vectors/*.config.json")
	for _, m := range matches {
		raw, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		a, err1 := NormalizeConfigV1(raw, "abc123")
		b, err2 := NormalizeConfigV2(raw, "abc123")
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: v1 %v %s\nv2 %v %s", m, err1, a, err2, b)
		}
	}
}

// TestV2Python compares the Go rules with the second implementation
// (testdata/refval_v2.py) on the per-start configs.
func TestV2Python(t *testing.T) {
	for _, s := range []criStart{start1, start2, startStatic} {
		checkPythonV2(t, criConfig(s), s.cid)
	}
}

// TestVectorsV2 checks testdata/vectors-v2, whose expected values were
// computed by testdata/refval_v2.py, not by this package.
func TestVectorsV2(t *testing.T) {
	matches, _ := filepath.Glob("testdata/vectors-v2/*.expected.json")
	if len(matches) == 0 {
		t.Fatal("no vectors")
	}
	for _, exp := range matches {
		name := strings.TrimSuffix(filepath.Base(exp), ".expected.json")
		t.Run(name, func(t *testing.T) {
			base := filepath.Join("testdata", "vectors-v2", name)
			var want struct {
				ContainerID  string `json:"containerID"`
				ConfigSha256 Digest `json:"configSha256"`
			}
			readJSON(t, exp, &want)
			cfg, err := os.ReadFile(base + ".config.json")
			if err != nil {
				t.Fatal(err)
			}
			wantNorm, err := os.ReadFile(base + ".normalized.json")
			if err != nil {
				t.Fatal(err)
			}
			d, norm, err := HashConfig(cfg, WithScheme(SchemeV2), WithContainerID(want.ContainerID))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(wantNorm), string(norm)); diff != "" {
				t.Errorf("normalized config (-want +got):\n%s", diff)
			}
			if d != want.ConfigSha256 {
				t.Errorf("configSha256 = %s; want %s", d, want.ConfigSha256)
			}
		})
	}
}

// TestRulesV2List pins the rule order of refval-v2 (docs/measurement.md
// lists the same).
func TestRulesV2List(t *testing.T) {
	var names []string
	for _, r := range RulesV2 {
		names = append(names, r.Name)
	}
	want := []string{"refuse-placeholders", "drop-root-path", "cri-sandbox-id", "kubelet-termination-log", "kubelet-api-access",
		"cri-pod-uid", "cri-pod-hostname", "engine-hostname-env", "docker-setkey-hook", "drop-annotations", "drop-terminal", "namespace-paths", "container-id", "sort-env"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("RulesV2 (-want +got):\n%s", diff)
	}
}

// TestRuleListsUnchangeable: what a caller gets from RulesV1 is a copy;
// changing it changes no measurement.
func TestRuleListsUnchangeable(t *testing.T) {
	cfg := []byte(`{"annotations":{"a":"b"}}`)
	before, _ := NormalizeConfigV1(cfg, "")
	for _, r := range RulesV1 {
		r.Apply = func(map[string]any, string) error { return errors.New("replaced") }
		r.Name = "x"
	}
	after, err := NormalizeConfigV1(cfg, "")
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("rule list changed from outside: %s %v", after, err)
	}
}

// checkPythonV2 runs testdata/refval_v2.py on cfg and compares its result
// (or its refusal) with NormalizeConfigV2's.
func checkPythonV2(t *testing.T, cfg, id string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if inCI() {
			t.Fatal("python3 is needed for the cross-implementation check")
		}
		t.Skip("python3 not found: cross-implementation check skipped")
	}
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(py, filepath.Join(filepath.Dir(file), "testdata", "refval_v2.py"), "config", p, id)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	norm, gerr := NormalizeConfigV2([]byte(cfg), id)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == 3:
		if gerr == nil {
			t.Errorf("refval_v2.py refuses %s (%s); Go accepts it", cfg, stderr.String())
		}
	case err != nil:
		t.Fatalf("refval_v2.py: %v\n%s", err, stderr.String())
	case gerr != nil:
		t.Errorf("Go refuses (%v); refval_v2.py gives %s", gerr, out)
	default:
		if want := string(norm) + "\n" + Digest(sha256.Sum256(norm)).String() + "\n"; string(out) != want {
			t.Errorf("Go %q;\nrefval_v2.py %q", want, out)
		}
	}
}
