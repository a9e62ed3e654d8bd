package engine_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/engine/diff"
	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/kubetest"
	"github.com/refval/refval/internal/testimage"
)

// kubeCase is one pod spec of the kubernetes fidelity matrix: a static
// pod manifest (POD stands for its name, IMAGE for the app image) and the
// containers to compare.
type kubeCase struct {
	name       string
	manifest   string
	containers []string
}

// kubeSandboxOnly are the cases of which only the sandbox is predicted
// (the model refuses their containers: privileged ones get the node's
// devices).
var kubeSandboxOnly = map[string]bool{"privileged-pod": true}

const kubeImage = "ctrtest.local/import:kubeapp"
const kubeOther = "ctrtest.local/import:kubeother"

func kubeCases() []kubeCase {
	head := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: POD\n  namespace: default\nUIDLINE\nspec:\n  terminationGracePeriodSeconds: 1\n"
	sleep := "    image: IMAGE\n    imagePullPolicy: Never\n    command: [\"/bin/sleep\", \"100000\"]\n"
	return []kubeCase{
		{"plain", head + "  containers:\n  - name: app\n" + sleep, []string{"app"}},
		{"user-fsgroup", head + "  securityContext:\n    runAsUser: 1000\n    runAsGroup: 3000\n    fsGroup: 2000\n    supplementalGroups: [44]\n" +
			"  containers:\n  - name: app\n" + sleep + "    env:\n    - name: MODE\n      value: strict\n", []string{"app"}},
		{"readonly-volumes", head + "  volumes:\n  - name: cache\n    emptyDir: {}\n  - name: data\n    hostPath:\n      path: HOSTDIR\n" +
			"  containers:\n  - name: app\n" + sleep + "    workingDir: /tmp\n    securityContext:\n      readOnlyRootFilesystem: true\n      allowPrivilegeEscalation: false\n" +
			"      capabilities:\n        drop: [ALL]\n        add: [NET_BIND_SERVICE]\n    volumeMounts:\n    - name: cache\n      mountPath: /cache\n    - name: data\n      mountPath: /data\n      readOnly: true\n",
			[]string{"app"}},
		{"guaranteed", head + "  containers:\n  - name: app\n" + sleep + "    resources:\n      limits:\n        cpu: 250m\n        memory: 64Mi\n", []string{"app"}},
		{"burstable", head + "  containers:\n  - name: app\n" + sleep + "    resources:\n      requests:\n        cpu: 100m\n        memory: 32Mi\n      limits:\n        memory: 64Mi\n", []string{"app"}},
		{"init-two-apps", head + "  initContainers:\n  - name: init\n    image: IMAGE\n    imagePullPolicy: Never\n    command: [\"/bin/true\"]\n" +
			"  containers:\n  - name: web\n" + sleep + "  - name: side\n" + sleep + "    args: [\"200000\"]\n", []string{"init", "web", "side"}},
		{"hostnetwork", head + "  hostNetwork: true\n  containers:\n  - name: app\n" + sleep, []string{"app"}},
		{"runtime-default", head + "  containers:\n  - name: app\n" + sleep + "    securityContext:\n      seccompProfile:\n        type: RuntimeDefault\n", []string{"app"}},
		{"privileged-pod", head + "  containers:\n  - name: app\n" + sleep + "    securityContext:\n      privileged: true\n", []string{"app"}},
	}
}

// kubeNegatives change the plain pod in one security-relevant way: the
// runtime value of the changed pod must differ from the plain prediction.
func kubeNegatives() []kubeCase {
	plain := kubeCases()[0].manifest
	return []kubeCase{
		{"+hostPath /", strings.Replace(plain, "  containers:\n", "  volumes:\n  - name: root\n    hostPath:\n      path: /\n  containers:\n", 1) +
			"    volumeMounts:\n    - name: root\n      mountPath: /host\n", []string{"app"}},
		{"privileged", plain + "    securityContext:\n      privileged: true\n", []string{"app"}},
		{"+cap SYS_ADMIN", plain + "    securityContext:\n      capabilities:\n        add: [SYS_ADMIN]\n", []string{"app"}},
		{"runAsUser 1000", plain + "    securityContext:\n      runAsUser: 1000\n", []string{"app"}},
		{"env A=2 (predicted A=1)", plain + "    env:\n    - name: A\n      value: \"2\"\n", []string{"app"}},
		{"other image", strings.Replace(plain, "IMAGE", kubeOther, 1), []string{"app"}},
		{"seccomp RuntimeDefault", plain + "    securityContext:\n      seccompProfile:\n        type: RuntimeDefault\n", []string{"app"}},
		// The sandbox's config is where the pod's host namespaces show.
		{"hostNetwork", strings.Replace(plain, "spec:\n", "spec:\n  hostNetwork: true\n", 1), []string{engine.KubeSandbox}},
		{"hostPID", strings.Replace(plain, "spec:\n", "spec:\n  hostPID: true\n", 1), []string{engine.KubeSandbox}},
		{"hostIPC", strings.Replace(plain, "spec:\n", "spec:\n  hostIPC: true\n", 1), []string{engine.KubeSandbox}},
		{"privileged container", plain + "    securityContext:\n      privileged: true\n", []string{engine.KubeSandbox}},
	}
}

func kubeImages() (app, other, pause testimage.Image) {
	users := testimage.Layer{
		testimage.File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n"),
		testimage.File("etc/group", 0o644, "root:x:0:\napp:x:1001:app\nvideo:x:44:app\n"),
	}
	app = testimage.Busybox(users)
	other = testimage.Busybox(users, testimage.Layer{testimage.File("etc/other", 0o644, "other\n")})
	pause = testimage.Busybox()
	pause.Config.Entrypoint, pause.Config.Cmd = []string{"/bin/sleep"}, []string{"100000"}
	return app, other, pause
}

// TestFidelityKubernetes runs every pod spec of the matrix as a static pod of a
// real kubelet (v1.34.2) on containerd 2.4 and 1.6 with the shim as the
// default runtime, twice (the second time with another pod UID), and
// compares each container's refval-v2 value with the offline prediction
// (engine.PredictKube with the node's profile) and with the other start.
func TestFidelityKubernetes(t *testing.T) {
	var rows []fidelityRow
	for _, v := range []string{ctrtest.V2_4, ctrtest.V1_6} {
		t.Run(v, func(t *testing.T) { rows = append(rows, runKubeFidelity(t, v)...) })
	}
	printFidelityTable(t, rows)
}

func runKubeFidelity(t *testing.T, version string) []fidelityRow {
	app, other, pause := kubeImages()
	dir := t.TempDir()
	var archives []string
	for name, im := range map[string]testimage.Image{"pause": pause, "kubeapp": app, "kubeother": other} {
		p := filepath.Join(dir, name+".tar")
		if _, err := testimage.WriteOCIArchive(p, name, im); err != nil {
			t.Fatal(err)
		}
		archives = append(archives, p)
	}
	s := kubetest.NewShim(t, string(bundle.SchemeV2))
	k := kubetest.Start(t, version, append(s.Options(version), kubetest.WithImages(archives...))...)
	np := nodeProfileOf(t, k, version)
	hostDir := t.TempDir()
	imgCfg, userFS := imageConfigAndFS(t, app)
	rootfs := offlineRootfsDigest(t, app).String()
	pauseCfg, pauseFS := imageConfigAndFS(t, pause)
	pauseRootfs := offlineRootfsDigest(t, pause).String()

	// predict predicts container ctr of c (engine.KubeSandbox: its
	// sandbox, from the pause image).
	predict := func(c kubeCase, ctr string) (bundle.Digest, []byte, error) {
		pod, err := engine.ParseKubeObject(c.name, []byte(expand(c.manifest, c.name, "", hostDir)))
		if err != nil {
			return bundle.Digest{}, nil, err
		}
		if c.name == "env A=2 (predicted A=1)" {
			pod.Spec.Containers[0].Env[0].Value = "1"
		}
		img, ifs, id := imgCfg, userFS, engine.KubeContainerID
		if ctr == engine.KubeSandbox {
			img, ifs, id = pauseCfg, pauseFS, engine.KubeSandboxID
		}
		raw, err := engine.PredictKube(pod, ctr, img, ifs, np)
		if err != nil {
			return bundle.Digest{}, nil, err
		}
		d, norm, err := bundle.HashConfig(raw, bundle.WithScheme(bundle.SchemeV2), bundle.WithContainerID(id))
		return d, norm, err
	}
	var rows []fidelityRow
	for ci, c := range kubeCases() {
		var starts []*kubetest.Pod
		for i, uid := range []string{"", fmt.Sprintf("  uid: 0f1e2d3c-4b5a-6978-8796-%012x", ci+1)} {
			p := k.RunStaticPod(c.name, []byte(expand(c.manifest, c.name, uid, hostDir)), c.containers...)
			starts = append(starts, p)
			k.RemoveStaticPod(c.name)
			if i == 1 && p.UID == starts[0].UID {
				t.Fatalf("%s: the second start has the same pod UID", c.name)
			}
		}
		predicted := slices.Clone(c.containers)
		if kubeSandboxOnly[c.name] {
			predicted = nil
		}
		for _, ctr := range append(predicted, engine.KubeSandbox) {
			row := fidelityRow{image: c.name, option: ctr, version: version}
			ids := []string{starts[0].Containers[ctr], starts[1].Containers[ctr]}
			offRootfs := rootfs
			if ctr == engine.KubeSandbox {
				row.option = "POD (sandbox)"
				ids = []string{starts[0].SandboxID, starts[1].SandboxID}
				offRootfs = pauseRootfs
			}
			rt := []generated{readGenerated(t, filepath.Join(s.GenerateDir, ids[0])),
				readGenerated(t, filepath.Join(s.GenerateDir, ids[1]))}
			row.runtime = rt[0].template
			if rt[0].template == "" || rt[0].config == "" {
				t.Fatalf("%s/%s on %s: the shim's generate output has no template or config hash", c.name, ctr, version)
			}
			if rt[0].template != rt[1].template {
				t.Errorf("%s/%s on %s: two starts differ:\n%s", c.name, ctr, version, configDiff(t, rt[0].normalized, rt[1].normalized))
				row.note = "starts differ"
			}
			d, norm, err := predict(c, ctr)
			if err != nil {
				t.Errorf("%s/%s on %s: predict: %v", c.name, ctr, version, err)
				row.offline, row.note = "-", "predict: "+err.Error()
				rows = append(rows, row)
				continue
			}
			row.offline = bundle.TemplateHash(d, mustDigest(t, offRootfs)).String()
			row.configEqual, row.rootfsEqual = d.String() == rt[0].config, offRootfs == rt[0].rootfs
			if !row.configEqual {
				row.note = configDiff(t, norm, rt[0].normalized)
				t.Errorf("%s/%s on containerd %s: predicted config differs from the runtime one:\n%s", c.name, ctr, version, row.note)
			}
			if !row.rootfsEqual {
				t.Errorf("%s/%s: rootfs %s offline, %s at runtime", c.name, ctr, offRootfs, rt[0].rootfs)
			}
			rows = append(rows, row)
		}
	}
	base, _, err := predict(kubeCases()[0], "app")
	if err != nil {
		t.Fatal(err)
	}
	baseTemplate := bundle.TemplateHash(base, mustDigest(t, rootfs)).String()
	baseSandbox, _, err := predict(kubeCases()[0], engine.KubeSandbox)
	if err != nil {
		t.Fatal(err)
	}
	sandboxTemplate := bundle.TemplateHash(baseSandbox, mustDigest(t, pauseRootfs)).String()
	for _, n := range kubeNegatives() {
		p := k.RunStaticPod("neg", []byte(expand(n.manifest, "neg", "", hostDir)), "app")
		k.RemoveStaticPod("neg")
		id, base, what := p.Containers["app"], baseTemplate, "plain (predicted)"
		if n.containers[0] == engine.KubeSandbox {
			id, base, what = p.SandboxID, sandboxTemplate, "plain POD (predicted)"
		}
		rt := readGenerated(t, filepath.Join(s.GenerateDir, id))
		if rt.template == "" {
			t.Fatalf("negative control %q on %s: the shim's generate output has no template hash", n.name, version)
		}
		rows = append(rows, fidelityRow{image: what, option: n.name, version: version, offline: base,
			runtime: rt.template, note: "negative control: must differ"})
		if rt.template == base {
			t.Errorf("negative control %q on %s: runtime value equals the plain prediction", n.name, version)
		}
	}
	return rows
}

func expand(manifest, name, uidLine, hostDir string) string {
	if uidLine == "" {
		manifest = strings.Replace(manifest, "UIDLINE\n", "", 1)
	}
	return strings.NewReplacer("POD", name, "UIDLINE", uidLine, "IMAGE", kubeImage, "HOSTDIR", hostDir).Replace(manifest)
}

func mustDigest(t *testing.T, s string) bundle.Digest {
	t.Helper()
	d, err := bundle.ParseDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func configDiff(t *testing.T, a, b []byte) string {
	t.Helper()
	d, err := diff.Configs(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range d {
		lines = append(lines, c.String())
	}
	return strings.Join(lines, "\n")
}

// nodeProfileOf is the node profile of the test's kubelet and containerd:
// what `refval host-profile` would capture there.
func nodeProfileOf(t *testing.T, k *kubetest.Kubelet, version string) *engine.NodeProfile {
	t.Helper()
	np := engine.DefaultNodeProfile()
	np.ContainerdVersion = version
	np.KubeletRootDir = k.RootDir
	np.ContainerdRoot = filepath.Join(k.C.Dir, "root")
	np.ContainerdState = filepath.Join(k.C.Dir, "state")
	np.CgroupRoot = k.CgroupRoot
	np.RestrictOOMScoreAdj = true // ctrtest sets restrict_oom_score_adj
	adj, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	np.ContainerdOOMScoreAdj, _ = strconv.Atoi(strings.TrimSpace(string(adj)))
	_, err = os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	np.SwapAccounting = err == nil
	np.MemoryCapacityBytes = memTotal(t)
	if np.NodeHostname, err = os.Hostname(); err != nil {
		t.Fatal(err)
	}
	if err := np.Validate(); err != nil {
		t.Fatal(err)
	}
	return &np
}

func memTotal(t *testing.T) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
			return kb * 1024
		}
	}
	t.Fatal("no MemTotal in /proc/meminfo")
	return 0
}
