package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/refval/refval/engine"
)

// The expected rules below are written by hand from CMC v0.9.15's rule
// language (verifier/ocivalidation.go): one rule object per array element
// by position up to the last marked one, "modifiable" for a field that
// may take any value, "replace:HOSTNAME=*" for process.env.

func kubeRuler(t *testing.T, hostNetwork bool) *engine.KubePredictor {
	t.Helper()
	m := "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: app, image: example/app:1}\n"
	if hostNetwork {
		m += "  hostNetwork: true\n"
	}
	pod, err := engine.ParseKubeObject("pod.yaml", []byte(m))
	if err != nil {
		t.Fatal(err)
	}
	np := engine.DefaultNodeProfile()
	np.NodeHostname = "node1"
	return &engine.KubePredictor{Pod: pod, Container: "app", Node: &np}
}

func rulesOf(t *testing.T, r engine.OCIRuler, spec string) map[string]any {
	t.Helper()
	got, err := r.OCIRules([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	// Compare as JSON, the form CMC reads.
	b, _ := json.Marshal(got)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

func want(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestKubeOCIRules(t *testing.T) {
	sid, uid := engine.KubeSandboxID, engine.KubePodUID
	spec := strings.NewReplacer("SID", sid, "UID", uid).Replace(`{
	"process": {"env": ["HOSTNAME=web", "PATH=/bin"]},
	"mounts": [
		{"destination": "/proc", "source": "proc"},
		{"destination": "/data", "source": "/data/SID"},
		{"destination": "/x", "source": "/srv/sandboxes/SID/x"},
		{"destination": "/etc/hostname", "source": "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/SID/hostname"},
		{"destination": "/etc/hosts", "source": "/var/lib/kubelet/pods/UID/etc-hosts"},
		{"destination": "/other", "source": "/var/lib/kubelet/pods/44444444-4444-4444-4444-444444444444/etc-hosts"},
		{"destination": "/dev/shm", "source": "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/SID/shm"},
		{"destination": "/host", "source": "/var/log"}
	],
	"linux": {
		"cgroupsPath": "/kubepods/besteffort/podUID/<container-id>",
		"namespaces": [{"type": "ipc", "path": "/proc/4242/ns/ipc"}, {"type": "mount"}, {"type": "network", "path": "/var/run/netns/fixed"},
			{"type": "pid", "path": "/proc/01/ns/pid"}, {"type": "uts", "path": "/proc/4242/ns/uts"}, {"type": "user", "path": "/proc/self/ns/user"}]
	}}`)
	got := rulesOf(t, kubeRuler(t, false), spec)
	exp := want(t, `{
	"process": {"env": "replace:HOSTNAME=*"},
	"mounts": [{}, {}, {}, {"source": "modifiable"}, {"source": "modifiable"}, {}, {"source": "modifiable"}],
	"linux": {"cgroupsPath": "modifiable", "namespaces": [{"path": "modifiable"}, {}, {}, {}, {"path": "modifiable"}]}}`)
	if d := cmp.Diff(exp, got); d != "" {
		t.Errorf("rules (-want +got):\n%s", d)
	}

	// systemd cgroup form; a hostNetwork pod's HOSTNAME is the node's and
	// stays mandatory, as does a HOSTNAME that is not the pod name.
	spec = strings.NewReplacer("UID_", strings.ReplaceAll(uid, "-", "_")).Replace(`{
	"process": {"env": ["HOSTNAME=node1"]},
	"linux": {"cgroupsPath": "kubepods-besteffort-podUID_.slice:cri-containerd:<container-id>"}}`)
	got = rulesOf(t, kubeRuler(t, true), spec)
	if d := cmp.Diff(want(t, `{"linux": {"cgroupsPath": "modifiable"}}`), got); d != "" {
		t.Errorf("hostNetwork rules (-want +got):\n%s", d)
	}
	got = rulesOf(t, kubeRuler(t, false), `{"process": {"env": ["HOSTNAME=webx"]}, "linux": {"cgroupsPath": "/kubepods/besteffort/pod44444444-4444-4444-4444-444444444444/x"}}`)
	if len(got) != 0 {
		t.Errorf("rules for a config without per-start fields: %v", got)
	}
}

func TestDockerOCIRules(t *testing.T) {
	docker := &engine.Predictor{Profile: engine.Profile{Kind: engine.Docker}}
	setkey := `{"path": "/usr/bin/dockerd", "args": ["libnetwork-setkey", "-exec-root=/var/run/docker", "<container-id>", "<docker-network-controller-id>"]}`
	spec := `{
	"process": {"env": ["HOSTNAME=<container-id>"]},
	"hooks": {"prestart": [
		{"path": "/usr/bin/x", "args": ["x"]},
		` + setkey + `,
		{"path": "/usr/bin/dockerd", "args": ["libnetwork-setkey", "-exec-root=/var/run/docker", "<container-id>", "<docker-network-controller-id>"], "env": ["LD_PRELOAD=/x.so"]},
		{"path": "/usr/bin/dockerd", "args": ["libnetwork-setkey", "-exec-root=relative", "<container-id>", "<docker-network-controller-id>"]},
		{"path": "/usr/bin/dockerd", "args": ["libnetwork-setkey", "-exec-root=/var/run/docker", "ffff", "<docker-network-controller-id>"]}
	]},
	"linux": {"namespaces": [{"type": "ipc"}, {"type": "network", "path": "/proc/77/ns/net"}]}}`
	got := rulesOf(t, docker, spec)
	exp := want(t, `{"hooks": {"prestart": [{}, {"path": "modifiable"}]}, "linux": {"namespaces": [{}, {"path": "modifiable"}]}}`)
	if d := cmp.Diff(exp, got); d != "" {
		t.Errorf("rules (-want +got):\n%s", d)
	}
	// --network host: dockerd's fixed netns path stays mandatory.
	if got := rulesOf(t, docker, `{"linux": {"namespaces": [{"type": "network", "path": "/var/run/docker/netns/default"}]}}`); len(got) != 0 {
		t.Errorf("host network: %v", got)
	}
	// ctr run: nothing CMC does not normalise varies.
	ctr := &engine.Predictor{Profile: engine.Profile{Kind: engine.Containerd}}
	if got := rulesOf(t, ctr, `{"hooks": {"prestart": [`+setkey+`]}, "linux": {"namespaces": [{"type": "network", "path": "/proc/77/ns/net"}]}}`); len(got) != 0 {
		t.Errorf("containerd: %v", got)
	}
	if _, err := docker.OCIRules([]byte(`{"mounts": 3}`)); err == nil || !strings.Contains(err.Error(), "ociSpec") {
		t.Errorf("bad ociSpec: %v", err)
	}
}
