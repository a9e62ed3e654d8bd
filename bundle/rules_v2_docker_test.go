package bundle

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// A Docker container's per-start values (formats of dockerd 20.10.24).
type dockerStart struct {
	id, pid, ctl string
}

var (
	dstart1 = dockerStart{id: strings.Repeat("d1", 32), pid: "29065", ctl: "b27e3dce6c3c"}
	dstart2 = dockerStart{id: strings.Repeat("e2", 32), pid: "5811", ctl: "034cab1a8abf"}
)

// dockerConfig is the part of the config dockerd 20.10 writes for
// `docker run --network none` that the Docker rules touch, with
// neighbours that must stay; hook, when not empty, replaces dockerd's hook.
func dockerConfig(s dockerStart, hook string) string {
	if hook == "" {
		hook = `{"path":"/proc/PID/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","CID","CTL"]}`
	}
	r := strings.NewReplacer("CID", s.id, "SHORT", s.id[:12], "PID", s.pid, "CTL", s.ctl)
	return r.Replace(`{"ociVersion":"1.0.2-dev",
"process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/","env":["PATH=/bin","HOSTNAME=SHORT"]},
"root":{"path":"/var/lib/docker/overlay2/x/merged"},"hostname":"SHORT",
"mounts":[{"destination":"/etc/hostname","type":"bind","source":"/var/lib/docker/containers/CID/hostname","options":["rbind","rprivate"]}],
"hooks":{"prestart":[` + hook + `]},
"linux":{"cgroupsPath":"/docker/CID","namespaces":[{"type":"mount"},{"type":"network"},{"type":"uts"}]}}`)
}

// TestDockerStartsMeasureAlike: two starts of the same docker run, across
// a daemon restart (new PID, new controller ID, new container ID), measure
// the same under refval-v2 and differ under refval-v1.
func TestDockerStartsMeasureAlike(t *testing.T) {
	a, b := dockerConfig(dstart1, ""), dockerConfig(dstart2, "")
	if na, nb := normV2(t, a, dstart1.id), normV2(t, b, dstart2.id); na != nb {
		t.Errorf("refval-v2 differs:\n%s\n%s", na, nb)
	} else if !strings.Contains(na, `"/proc/<dockerd-pid>/exe"`) || !strings.Contains(na, `"<docker-network-controller-id>"`) || !strings.Contains(na, `"HOSTNAME=<container-id>"`) {
		t.Errorf("placeholders missing: %s", na)
	}
	v1a, _ := NormalizeConfigV1([]byte(a), dstart1.id)
	v1b, _ := NormalizeConfigV1([]byte(b), dstart2.id)
	if bytes.Equal(v1a, v1b) {
		t.Error("refval-v1 measures the two starts alike: the test does not test the rules")
	}
	checkPythonV2(t, a, dstart1.id)
}

// TestDockerSetkeyHookOnlyExactForm: a hook that differs from dockerd's
// own in anything but the PID and controller ID keeps its values, so it
// measures differently from the real one.
func TestDockerSetkeyHookOnlyExactForm(t *testing.T) {
	real := normV2(t, dockerConfig(dstart1, ""), dstart1.id)
	for name, hook := range map[string]string{
		"env":           `{"path":"/proc/PID/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","CID","CTL"],"env":["LD_PRELOAD=/tmp/x.so"]}`,
		"timeout":       `{"path":"/proc/PID/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","CID","CTL"],"timeout":5}`,
		"other binary":  `{"path":"/tmp/evil","args":["libnetwork-setkey","-exec-root=/var/run/docker","CID","CTL"]}`,
		"leading zero":  `{"path":"/proc/0PID/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","CID","CTL"]}`,
		"pid sign":      `{"path":"/proc/+PID/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","CID","CTL"]}`,
		"pid path":      `{"path":"/proc/PID/../1/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","CID","CTL"]}`,
		"cwd":           `{"path":"/proc/PID/cwd","args":["libnetwork-setkey","-exec-root=/var/run/docker","CID","CTL"]}`,
		"relative root": `{"path":"/proc/PID/exe","args":["libnetwork-setkey","-exec-root=x","CID","CTL"]}`,
		"other id":      `{"path":"/proc/PID/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","` + dstart2.id + `","CTL"]}`,
		"long ctl":      `{"path":"/proc/PID/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","CID","CTL0"]}`,
		"upper ctl":     `{"path":"/proc/PID/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","CID","B27E3DCE6C3C"]}`,
		"extra arg":     `{"path":"/proc/PID/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","CID","CTL","x"]}`,
		"other verb":    `{"path":"/proc/PID/exe","args":["libnetwork-setkeys","-exec-root=/var/run/docker","CID","CTL"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := dockerConfig(dstart1, hook)
			got := normV2(t, cfg, dstart1.id)
			if got == real {
				t.Errorf("measures like dockerd's hook: %s", got)
			}
			if strings.Contains(got, DockerdPIDPlaceholder) {
				t.Errorf("rewritten: %s", got)
			}
			checkPythonV2(t, cfg, dstart1.id)
		})
	}
}

// TestDockerSetkeyHookExecRootMeasured: the exec-root is part of the
// profile, not per-start: another one measures differently.
func TestDockerSetkeyHookExecRootMeasured(t *testing.T) {
	real := normV2(t, dockerConfig(dstart1, ""), dstart1.id)
	other := normV2(t, dockerConfig(dstart1, `{"path":"/proc/PID/exe","args":["libnetwork-setkey","-exec-root=/tmp/x","CID","CTL"]}`), dstart1.id)
	if real == other || !strings.Contains(other, `"-exec-root=/tmp/x"`) {
		t.Errorf("exec-root not measured: %s", other)
	}
}

// TestDockerSetkeyHookJoinedNetns: dockerd writes the hook only for a
// network namespace of the container's own; with a joined one (a path) the
// same hook stays measured.
func TestDockerSetkeyHookJoinedNetns(t *testing.T) {
	cfg := strings.Replace(dockerConfig(dstart1, ""), `{"type":"network"}`, `{"type":"network","path":"/proc/1/ns/net"}`, 1)
	if got := normV2(t, cfg, dstart1.id); strings.Contains(got, DockerdPIDPlaceholder) {
		t.Errorf("rewritten with a joined network namespace: %s", got)
	}
	checkPythonV2(t, cfg, dstart1.id)
}

// TestEngineHostnameEnv: only HOSTNAME= with exactly the short ID of this
// container, and only for an engine's 64-hex ID.
func TestEngineHostnameEnv(t *testing.T) {
	id := dstart1.id
	for _, tc := range []struct {
		env, id string
		want    string
	}{
		{"HOSTNAME=" + id[:12], id, "HOSTNAME=<container-id>"},
		{"HOSTNAME=" + dstart2.id[:12], id, "HOSTNAME=" + dstart2.id[:12]},
		{"HOSTNAME=" + id[:11], id, "HOSTNAME=" + id[:11]},
		{"HOSTNAME=" + id[:12] + "x", id, "HOSTNAME=" + id[:12] + "x"},
		{"HOSTNAMEX=" + id[:12], id, "HOSTNAMEX=" + id[:12]},
		{"HOSTNAME=web", id, "HOSTNAME=web"},
		// Not an engine ID: refval-v1 behaviour (the whole string only).
		{"HOSTNAME=abcdefabcdef", "abcdefabcdef", "HOSTNAME=abcdefabcdef"},
	} {
		cfg := `{"process":{"env":["` + tc.env + `"]}}`
		var doc struct {
			Process struct{ Env []string }
		}
		if err := json.Unmarshal([]byte(normV2(t, cfg, tc.id)), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Process.Env) != 1 || doc.Process.Env[0] != tc.want {
			t.Errorf("%s (id %s…) → %v, want %s", tc.env, tc.id[:6], doc.Process.Env, tc.want)
		}
		checkPythonV2(t, cfg, tc.id)
	}
}

// TestDockerPlaceholdersRefused: a config that already holds a Docker
// placeholder cannot pose as a normalised one.
func TestDockerPlaceholdersRefused(t *testing.T) {
	for _, p := range []string{DockerdPIDPlaceholder, NetworkControllerPlaceholder} {
		cfg := `{"hooks":{"prestart":[{"path":"/proc/` + p + `/exe"}]}}`
		if _, err := NormalizeConfigV2([]byte(cfg), dstart1.id); err == nil {
			t.Errorf("%s accepted", p)
		}
		checkPythonV2(t, cfg, dstart1.id)
	}
}

// FuzzDockerRules: never panics; the Docker placeholders appear only
// where dockerd's hook stood.
func FuzzDockerRules(f *testing.F) {
	for _, p := range []string{"testdata/vectors-v2/docker-none.config.json", "testdata/vectors-v2/docker-forged.config.json", "testdata/vectors-v2/nerdctl-none.config.json"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, strings.Repeat("d1", 32))
		}
	}
	f.Add([]byte(dockerConfig(dstart1, "")), dstart1.id)
	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		norm, err := NormalizeConfigV2(raw, id)
		if err != nil {
			return
		}
		if !json.Valid(norm) {
			t.Fatalf("not valid JSON: %q", norm)
		}
		if bytes.Contains(norm, []byte(DockerdPIDPlaceholder)) && !bytes.Contains(norm, []byte(`"libnetwork-setkey"`)) {
			t.Fatalf("PID placeholder without the setkey hook: %s", norm)
		}
	})
}
