package engine_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/internal/testimage"
)

// TestKubePredictMatchesRecordedRuntime replays configs the real kubelet
// and containerd wrote (testdata/kube-recorded.json, recorded by
// internal/kubetest): the prediction for the same pod and node profile
// measures the same under refval-v2. It needs no root, so it guards the
// model everywhere.
func TestKubePredictMatchesRecordedRuntime(t *testing.T) {
	raw, err := os.ReadFile("testdata/kube-recorded.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct {
		Case        string             `json:"case"`
		Profile     engine.NodeProfile `json:"profile"`
		Manifest    string             `json:"manifest"`
		Container   string             `json:"container"`
		ContainerID string             `json:"containerID"`
		Config      json.RawMessage    `json:"config"`
	}
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatal(err)
	}
	imgCfg, userFS := imageConfigAndFS(t, testimage.Busybox())
	for _, r := range recs {
		t.Run(r.Case, func(t *testing.T) {
			want, wantNorm, err := bundle.HashConfig(r.Config, bundle.WithScheme(bundle.SchemeV2), bundle.WithContainerID(r.ContainerID))
			if err != nil {
				t.Fatal(err)
			}
			pod, err := engine.ParseKubeObject("manifest", []byte(strings.ReplaceAll(r.Manifest, "ctrtest.local/import:app", "ctrtest.local/import:app")))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := engine.PredictKube(pod, r.Container, imgCfg, userFS, &r.Profile)
			if err != nil {
				t.Fatal(err)
			}
			got, gotNorm, err := bundle.HashConfig(cfg, bundle.WithScheme(bundle.SchemeV2), bundle.WithContainerID(engine.KubeContainerID))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("prediction %s, recorded %s:\n%s", got, want, cmp.Diff(string(wantNorm), string(gotNorm)))
			}
		})
	}
}

const kubePlain = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    image: example/app:1
    command: [/bin/sleep, "1"]
`

func predictKube(t *testing.T, manifest, name string, np *engine.NodeProfile) error {
	t.Helper()
	pod, err := engine.ParseKubeObject("pod.yaml", []byte(manifest))
	if err != nil {
		return err
	}
	imgCfg, userFS := imageConfigAndFS(t, testimage.Busybox())
	_, err = engine.PredictKube(pod, name, imgCfg, userFS, np)
	return err
}

// TestKubeUnpredictable: what the model cannot predict is an explicit
// error naming the field, never a config.
func TestKubeUnpredictable(t *testing.T) {
	cluster := engine.DefaultNodeProfile()
	cluster.KubernetesService = &engine.ServiceAddr{Host: "10.96.0.1", Port: 443}
	containerd17 := engine.DefaultNodeProfile()
	containerd17.ContainerdVersion = "1.7"
	c := func(extra string) string { return kubePlain + extra }
	for _, tc := range []struct {
		name, manifest, ctr string
		np                  *engine.NodeProfile
		want                error
		field               string
	}{
		{"privileged", c("    securityContext: {privileged: true}\n"), "app", nil, engine.ErrHostDependent, "privileged"},
		{"localhost seccomp", c("    securityContext: {seccompProfile: {type: Localhost, localhostProfile: p.json}}\n"), "app", nil, engine.ErrUnsupported, "seccompProfile"},
		{"runtime-default seccomp of an unpinned containerd", c("    securityContext: {seccompProfile: {type: RuntimeDefault}}\n"), "app", &containerd17, engine.ErrUnsupported, "seccomp"},
		{"burstable without node memory", c("    resources: {requests: {memory: 1Mi}}\n"), "app", nil, engine.ErrHostDependent, "memoryCapacityBytes"},
		{"host network without hostname", strings.Replace(kubePlain, "spec:\n", "spec:\n  hostNetwork: true\n", 1), "app", nil, engine.ErrHostDependent, "hostNetwork"},
		{"service links in a cluster", kubePlain, "app", &cluster, engine.ErrUnsupported, "enableServiceLinks"},
		{"valueFrom env", c("    env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\n"), "app", nil, engine.ErrUnsupported, "valueFrom"},
		{"unknown field", c("    lifecycle: {preStop: {exec: {command: [x]}}}\n"), "app", nil, engine.ErrUnsupported, "lifecycle"},
		{"env expansion", c("    env: [{name: A, value: \"$(B)\"}]\n"), "app", nil, engine.ErrUnsupported, "expansion"},
		{"subPath", strings.Replace(kubePlain, "spec:\n", "spec:\n  volumes: [{name: v, emptyDir: {}}]\n", 1) + "    volumeMounts: [{name: v, mountPath: /v, subPath: x}]\n", "app", nil, engine.ErrUnsupported, "subPath"},
		{"memory-backed emptyDir", strings.Replace(kubePlain, "spec:\n", "spec:\n  volumes: [{name: v, emptyDir: {medium: Memory}}]\n", 1), "app", nil, engine.ErrUnsupported, "medium"},
		{"gpu resource", c("    resources: {limits: {nvidia.com/gpu: 1}}\n"), "app", nil, engine.ErrUnsupported, "nvidia.com/gpu"},
		{"the sandbox of a pod with spec.hostname", strings.Replace(kubePlain, "spec:\n", "spec:\n  hostname: h\n", 1), "POD", nil, engine.ErrUnsupported, "hostname"},
		{"the sandbox of an unpinned containerd", kubePlain, "POD", &containerd17, engine.ErrUnsupported, "seccomp"},
		{"no such container", kubePlain, "db", nil, engine.ErrInvalidOption, "db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := predictKube(t, tc.manifest, tc.ctr, tc.np)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("err = %v; want %v naming %q", err, tc.want, tc.field)
			}
		})
	}
}

// TestParseKubeObjectWorkloads: the pod template of every workload kind is
// what is predicted.
func TestParseKubeObjectWorkloads(t *testing.T) {
	tmpl := "template:\n  metadata: {labels: {a: b}}\n  spec:\n    containers: [{name: app, image: x, command: [/bin/true]}]\n"
	ind := func(s, pre string) string {
		return pre + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+pre) + "\n"
	}
	for _, doc := range []string{
		"kind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n" + ind(tmpl, "  "),
		"kind: DaemonSet\nmetadata: {name: web}\nspec:\n" + ind(tmpl, "  "),
		"kind: StatefulSet\nmetadata: {name: web}\nspec:\n" + ind(tmpl, "  "),
		"kind: Job\nmetadata: {name: web}\nspec:\n" + ind(tmpl, "  "),
		"kind: CronJob\nmetadata: {name: web}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n" + ind(tmpl, "      "),
	} {
		pod, err := engine.ParseKubeObject("w.yaml", []byte("apiVersion: apps/v1\n"+doc))
		if err != nil {
			t.Errorf("%s: %v", strings.SplitN(doc, "\n", 2)[0], err)
			continue
		}
		if pod.Name != "web" || len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Name != "app" {
			t.Errorf("%s: %+v", strings.SplitN(doc, "\n", 2)[0], pod)
		}
	}
	for _, bad := range []string{"kind: Service\nmetadata: {name: x}\n", "kind: Deployment\nmetadata: {name: x}\nspec: {}\n", "[1,2]", "kind: Pod\nmetadata: {name: x}\nspec: {containers: []}\n"} {
		if _, err := engine.ParseKubeObject("bad.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%q: err = %v; want an error naming the file", bad, err)
		}
	}
}

// TestKubeQOSAndResources: the QoS class picks the cgroup parent and the
// oomScoreAdj, the requests and limits the cpu and memory fields — values
// from the kubelet's documented formulas (shares = milliCPU*1024/1000,
// quota = milliCPU*100000/1000, Guaranteed -997, BestEffort 1000,
// Burstable 1000 - 1000*request/capacity).
func TestKubeQOSAndResources(t *testing.T) {
	np := engine.DefaultNodeProfile()
	np.MemoryCapacityBytes = 8 << 30
	for _, tc := range []struct {
		name, res, cgroup string
		shares            uint64
		quota, mem        int64
		oom               int
	}{
		{"besteffort", "", "/kubepods/besteffort/pod", 2, 0, 0, 1000},
		{"guaranteed", "    resources: {limits: {cpu: 500m, memory: 1Gi}}\n", "/kubepods/pod", 512, 50000, 1 << 30, -997},
		{"burstable", "    resources: {requests: {cpu: \"0.25\", memory: 2Gi}}\n", "/kubepods/burstable/pod", 256, 0, 0, 750},
	} {
		pod, err := engine.ParseKubeObject("p", []byte(kubePlain+tc.res))
		if err != nil {
			t.Fatal(err)
		}
		imgCfg, userFS := imageConfigAndFS(t, testimage.Busybox())
		s, err := engine.PredictKubeSpec(pod, "app", imgCfg, userFS, &np)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.HasPrefix(s.Linux.CgroupsPath, tc.cgroup) {
			t.Errorf("%s: cgroupsPath %s", tc.name, s.Linux.CgroupsPath)
		}
		cpu := s.Linux.Resources.CPU
		if *cpu.Shares != tc.shares || (cpu.Quota == nil) != (tc.quota == 0) || (cpu.Quota != nil && *cpu.Quota != tc.quota) || *cpu.Period != 100000 {
			t.Errorf("%s: cpu %+v", tc.name, cpu)
		}
		if m := s.Linux.Resources.Memory.Limit; (m == nil) != (tc.mem == 0) || (m != nil && *m != tc.mem) {
			t.Errorf("%s: memory limit %v", tc.name, m)
		}
		if *s.Process.OOMScoreAdj != tc.oom {
			t.Errorf("%s: oomScoreAdj %d; want %d", tc.name, *s.Process.OOMScoreAdj, tc.oom)
		}
	}
}

func TestLoadNodeProfile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{`{"containerdVersion":"2.4","kubeletRootDir":"/srv/kubelet"}`, ""},
		{`{"containerdVersion":"3.0"}`, "containerdVersion"},
		{`{"kubeletVersion":"1.30.0"}`, "kubeletVersion"},
		{`{"kubeletRootDir":"var/lib/kubelet"}`, "kubeletRootDir"},
		{`{"cgroupDriver":"cgroupfs2"}`, "cgroupDriver"},
		{`{"surprise":1}`, "surprise"},
	} {
		p := dir + "/np.json"
		if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		np, err := engine.LoadNodeProfile(p)
		if tc.want == "" {
			if err != nil || np.KubeletRootDir != "/srv/kubelet" || np.ContainerdRoot != "/var/lib/containerd" {
				t.Errorf("%s: %+v %v", tc.body, np, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want one naming %s", tc.body, err, tc.want)
		}
	}
}
