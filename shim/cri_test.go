package shim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/shim"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestCRI runs a Kubernetes-style pod (sandbox plus two app containers)
// through the CRI API with the runtime handler "cmc" configured exactly as
// examples/containerd says, and checks that every container of the pod is
// measured -- in containerd 2.x the shim binary's start runs once per
// pod, so this is the case measuring at runc create exists for.
func TestCRI(t *testing.T) {
	for _, v := range ctrtest.Versions {
		t.Run(v, func(t *testing.T) { testCRI(t, v) })
	}
}

func testCRI(t *testing.T, version string) {
	example := "../examples/containerd/config-2.x.toml"
	if version == ctrtest.V1_6 {
		example = "../examples/containerd/config-1.x.toml"
	}
	raw, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	rs, dir := newCRI(t, version, string(raw))
	// Option A (runtime_type cmc), A2 (runc.v2 + runtime_path), B (runc.v2 +
	// BinaryName = the runc link) of the example.
	for _, handler := range []string{"cmc", "cmc-opts", "cmc-runc"} {
		t.Run(handler, func(t *testing.T) {
			if missing := runPod(t, rs, dir, handler); len(missing) > 0 {
				t.Errorf("containers not measured: %v", missing)
			}
		})
	}
	starts := 0
	for _, line := range strings.Split(mustRead(t, filepath.Join(dir, "shim.log")), "\n") {
		if strings.Contains(line, `"exec runc shim"`) && strings.Contains(line, `"start"]`) {
			starts++
		}
	}
	t.Logf("containerd %s: shim binary start ran %d times for 2 pods of 3 containers each (handlers cmc, cmc-opts)", version, starts)
}

// TestCRIRuntimeV1 checks the CMC seed's containerd 1.6 configuration
// (runtime v1 with the binary as the runc of a CRI runtime) option by
// option: runtime v1 reads the runc binary from options.Runtime; the
// seed's options.BinaryName is the runc.v2 option name and is ignored, so
// such pods run unmeasured.
func TestCRIRuntimeV1(t *testing.T) {
	for _, tc := range []struct {
		key      string
		measured bool
	}{{"Runtime", true}, {"BinaryName", false}} {
		t.Run(tc.key, func(t *testing.T) {
			bin := shimBinary(t)
			cfg := fmt.Sprintf("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.cmc]\n"+
				"  runtime_type = \"io.containerd.runtime.v1.linux\"\n"+
				"  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.cmc.options]\n    %s = %q\n", tc.key, bin)
			rs, dir := newCRI(t, ctrtest.V1_6, cfg)
			missing := runPod(t, rs, dir, "cmc")
			if tc.measured && len(missing) > 0 {
				t.Errorf("options.%s: containers not measured: %v", tc.key, missing)
			}
			if !tc.measured && len(missing) != 3 {
				t.Errorf("options.%s: expected to be ignored by runtime v1, yet %d of 3 containers were measured", tc.key, 3-len(missing))
			}
		})
	}
}

// newCRI starts containerd with CRI, the shim on its PATH and the given
// runtime configuration (installed example paths replaced by this test's
// binary and runc link), imports a sandbox and an app image, and returns a
// CRI client and the directory of the shim's list and log.
func newCRI(t *testing.T, version, runtimes string) (runtimeapi.RuntimeServiceClient, string) {
	t.Helper()
	ctrtest.Require(t, version)
	bin := shimBinary(t)
	dir := t.TempDir()
	img, err := testimage.BusyboxImage()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// The sandbox ("pause") image: busybox sleeping.
	pause := img
	pause.Config.Entrypoint, pause.Config.Cmd = []string{"/bin/sleep"}, []string{"3600"}
	archive := filepath.Join(dir, "images.tar")
	if _, err := testimage.WriteOCIArchive(archive, "pause", pause); err != nil {
		t.Fatal(err)
	}
	appArchive := filepath.Join(dir, "app.tar")
	if _, err := testimage.WriteOCIArchive(appArchive, "app", img); err != nil {
		t.Fatal(err)
	}
	linkDir := filepath.Join(dir, "link")
	os.Mkdir(linkDir, 0o755)
	os.Symlink(bin, filepath.Join(linkDir, "runc"))
	// The harness writes its own version line.
	runtimes = regexp.MustCompile(`(?m)^version = \d+$`).ReplaceAllString(runtimes, "")
	runtimes = strings.ReplaceAll(runtimes, "/usr/local/bin/containerd-shim-cmc-v1", bin)
	runtimes = strings.ReplaceAll(runtimes, "/usr/local/libexec/refval/runc", filepath.Join(linkDir, "runc"))

	cfgPath := filepath.Join(dir, "shim.toml")
	logFile := filepath.Join(dir, "shim.log")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf("cmc_version = \"0.7\"\nlist = %q\nlog_file = %q\nlog_level = \"debug\"\nrunc_link_dir = %q\n",
		filepath.Join(dir, "list.json"), logFile, linkDir)), 0o644); err != nil {
		t.Fatal(err)
	}
	c := ctrtest.New(t, version,
		ctrtest.WithCRI("ctrtest.local/import:pause"),
		ctrtest.WithPath(filepath.Dir(bin)),
		ctrtest.WithEnv(shim.ConfigEnv+"="+cfgPath),
		ctrtest.WithConfig(runtimes))
	c.Import(archive)
	c.Import(appArchive)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("shim log:\n%s", b)
		}
	})
	conn, err := grpc.NewClient("unix://"+c.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return runtimeapi.NewRuntimeServiceClient(conn), dir
}

// runPod runs a host-network pod (sandbox plus two containers printing an
// env var) with the runtime handler and checks output and list.
// It returns the IDs of the pod's containers that were not measured.
func runPod(t *testing.T, rs runtimeapi.RuntimeServiceClient, dir, handler string) (missing []string) {
	const appImage = "ctrtest.local/import:app"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logDir := filepath.Join(dir, "pod-logs-"+handler)
	os.Mkdir(logDir, 0o755)
	podCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: handler, Namespace: "default", Uid: "uid-" + handler},
		LogDirectory: logDir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
		}},
	}
	pod, err := rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg, RuntimeHandler: "cmc"})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	defer func() {
		rs.StopPodSandbox(context.Background(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod.PodSandboxId})
		rs.RemovePodSandbox(context.Background(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod.PodSandboxId})
	}()
	var ids []string
	for _, val := range []string{"one", "two"} {
		cc, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
			PodSandboxId: pod.PodSandboxId,
			Config: &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: "app-" + val},
				Image:    &runtimeapi.ImageSpec{Image: appImage},
				Command:  []string{"sh", "-c", "echo out:$VAL"},
				Envs:     []*runtimeapi.KeyValue{{Key: "VAL", Value: []byte(val)}},
				LogPath:  "app-" + val + ".log",
			},
			SandboxConfig: podCfg,
		})
		if err != nil {
			t.Fatalf("CreateContainer: %v", err)
		}
		if _, err := rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cc.ContainerId}); err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		ids = append(ids, cc.ContainerId)
	}
	for i, id := range ids {
		var st *runtimeapi.ContainerStatus
		for {
			r, err := rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
			if err != nil {
				t.Fatal(err)
			}
			if st = r.Status; st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if st.ExitCode != 0 {
			t.Errorf("container %d exited %d", i, st.ExitCode)
		}
	}
	for _, val := range []string{"one", "two"} {
		// CRI log format: "TIMESTAMP stdout F out:one".
		b, _ := os.ReadFile(filepath.Join(logDir, "app-"+val+".log"))
		if !strings.Contains(string(b), " stdout F out:"+val+"\n") {
			t.Errorf("container log app-%s: %q", val, b)
		}
	}
	// Every container of the pod was measured at its runc create, and its
	// template hash is in the list (under the first container that had
	// it: identical configurations share one entry).
	measured := measuredTemplates(t, filepath.Join(dir, "shim.log"))
	inList := map[string]bool{}
	for _, e := range readList(t, dir) {
		inList[e.TemplateSha256.String()] = true
	}
	for i, id := range append([]string{pod.PodSandboxId}, ids...) {
		th, ok := measured[id]
		if !ok {
			missing = append(missing, fmt.Sprintf("%d:%.12s", i, id))
		} else if !inList[th] {
			t.Errorf("container %d (%s): template %s not in the list", i, id, th)
		}
	}
	t.Logf("%s: sandbox %.12s, app-one %.12s, app-two %.12s", handler, measured[pod.PodSandboxId], measured[ids[0]], measured[ids[1]])
	return missing
}

// measuredTemplates maps container IDs to the template hashes of the
// shim log's "measured container" lines.
func measuredTemplates(t *testing.T, log string) map[string]string {
	m := map[string]string{}
	raw, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) { // no log: nothing was measured
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		var rec struct{ Msg, ID, TemplateSha256 string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "measured container" {
			m[rec.ID] = rec.TemplateSha256
		}
	}
	return m
}
