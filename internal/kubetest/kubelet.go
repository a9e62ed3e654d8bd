package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/refval/refval/internal/ctrtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Version is the kubelet version scripts/deps.sh builds.
const Version = "v1.34.2"

// NodeName is the kubelet's node name (--hostname-override); static pods
// are named <manifest name>-<NodeName>.
const NodeName = "kubetest"

// SandboxImage is the image name containerd's CRI uses as the pod sandbox
// image; WithImages must import an image of that name (ctrtest names
// imported images ctrtest.local/import:<name>).
const SandboxImage = "ctrtest.local/import:pause"

// Bin returns the kubelet binary, or an error saying how to get it.
func Bin() (string, error) {
	p := os.Getenv("REFVAL_KUBELET")
	if p == "" {
		cache := os.Getenv("REFVAL_CACHE")
		if cache == "" {
			base, err := os.UserCacheDir()
			if err != nil {
				return "", err
			}
			cache = filepath.Join(base, "refval")
		}
		p = filepath.Join(cache, "kubelet-"+Version, "kubelet")
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("kubelet %s: %w (run scripts/deps.sh)", Version, err)
	}
	return p, nil
}

// Kubelet is one running standalone kubelet and its containerd.
type Kubelet struct {
	t           testing.TB
	C           *ctrtest.Containerd
	Dir         string // holds manifests, root-dir, cert-dir, logs
	RootDir     string // --root-dir
	ManifestDir string
	CgroupRoot  string // the kubelet's cgroupRoot, e.g. /refval-kubetest-1a2b3c4d
	Bridge      string // CNI bridge name
	CRI         runtimeapi.RuntimeServiceClient
	cmd         *exec.Cmd
	exited      chan struct{}
	logPath     string
	cgroupDirs  []string // cgroup root directories the harness created
}

type options struct {
	images  []string
	ctr     []ctrtest.Option
	runtime string // TOML of the default runtime
	name    string
}

// Option configures Start.
type Option func(*options)

// WithImages imports these OCI archives into containerd before the kubelet
// starts; one must provide SandboxImage.
func WithImages(archives ...string) Option {
	return func(o *options) { o.images = append(o.images, archives...) }
}

// WithContainerd passes options to ctrtest.New (WithPath, WithEnv, ...).
func WithContainerd(opts ...ctrtest.Option) Option {
	return func(o *options) { o.ctr = append(o.ctr, opts...) }
}

// WithDefaultRuntime makes the CRI runtime handler name containerd's
// default_runtime_name. runtimes is the TOML that defines it (tables under
// the version's CRI runtime plugin, as examples/containerd writes them).
func WithDefaultRuntime(name, runtimes string) Option {
	return func(o *options) { o.name, o.runtime = name, runtimes }
}

// Require skips the test (or fails it when CI=true) unless a kubelet can
// run here, and returns the kubelet binary.
func Require(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("kubetest: starts a real kubelet; skipped with -short")
	}
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("kubetest: "+format, args...)
		}
		t.Skipf("kubetest: "+format, args...)
	}
	if os.Geteuid() != 0 {
		missing("the kubelet needs root")
	}
	bin, err := Bin()
	if err != nil {
		missing("%v", err)
	}
	for _, tool := range []string{"unshare", "mount", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing("%s not found", tool)
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(cniPluginDir, p)); err != nil {
			missing("CNI plugin %s: %v (Debian package containernetworking-plugins)", p, err)
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		missing("this harness expects cgroup v1 (no /sys/fs/cgroup/memory)")
	}
	return bin
}

// Start starts containerd (ctrtest, CRI on) and a standalone kubelet
// serving static pods, and registers their cleanup with t.
func Start(t testing.TB, version string, opts ...Option) *Kubelet {
	t.Helper()
	bin := Require(t)
	var o options
	for _, f := range opts {
		f(&o)
	}
	copts := append([]ctrtest.Option{ctrtest.WithCRI(SandboxImage)}, o.ctr...)
	if o.name != "" {
		copts = append(copts, ctrtest.WithConfig(defaultRuntimeTOML(version, o.name)+"\n"+o.runtime))
	}
	c := ctrtest.New(t, version, copts...)
	for _, a := range o.images {
		c.Import(a)
	}
	rnd := randHex(4)
	k := &Kubelet{
		t: t, C: c,
		Dir:        filepath.Join(c.Dir, "kubelet"),
		CgroupRoot: "/refval-kubetest-" + rnd,
		Bridge:     "rvk" + rnd,
		exited:     make(chan struct{}),
	}
	k.RootDir = filepath.Join(k.Dir, "root")
	k.ManifestDir = filepath.Join(k.Dir, "manifests")
	k.logPath = filepath.Join(k.Dir, "kubelet.log")
	for _, d := range []string{k.RootDir, k.ManifestDir, filepath.Join(k.Dir, "certs"), filepath.Join(k.Dir, "pod-logs"), filepath.Join(k.Dir, "sys")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.setupCNI(); err != nil {
		t.Fatalf("kubetest: CNI: %v", err)
	}
	t.Cleanup(k.deleteBridge)
	if err := k.makeCgroupRoot(); err != nil {
		k.removeCgroupRoot()
		t.Fatalf("kubetest: cgroup root: %v", err)
	}
	t.Cleanup(k.removeCgroupRoot)

	conn, err := grpc.NewClient("unix://"+c.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	k.CRI = runtimeapi.NewRuntimeServiceClient(conn)
	t.Cleanup(k.removeSandboxes)

	if err := k.start(bin); err != nil {
		t.Fatalf("kubetest: start kubelet: %v", err)
	}
	t.Cleanup(k.stop)
	if err := k.waitReady(2 * time.Minute); err != nil {
		t.Fatalf("kubetest: kubelet not ready: %v\n%s", err, k.LogTail(40))
	}
	return k
}

// defaultRuntimeTOML names the default runtime handler of version's CRI.
func defaultRuntimeTOML(version, name string) string {
	plugin := "io.containerd.cri.v1.runtime"
	if version == ctrtest.V1_6 {
		plugin = "io.containerd.grpc.v1.cri"
	}
	return fmt.Sprintf("[plugins.%q.containerd]\n  default_runtime_name = %q\n", plugin, name)
}

// sysctlFiles are the /proc/sys files the kubelet insists on writing,
// with the values it wants (pkg/kubelet/cm: setupKernelTunables).
var sysctlFiles = map[string]string{
	"vm/overcommit_memory": "1",
	"kernel/panic":         "10",
	"kernel/panic_on_oops": "1",
}

func (k *Kubelet) config() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://%s
staticPodPath: %s
fileCheckFrequency: 1s
syncFrequency: 10s
podLogsDir: %s
cgroupDriver: cgroupfs
cgroupsPerQOS: true
cgroupRoot: %s
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
enableServer: false
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
registerNode: false
enableControllerAttachDetach: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%%"
  nodefs.inodesFree: "1%%"
  imagefs.available: "1%%"
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
`, k.C.Address, k.ManifestDir, filepath.Join(k.Dir, "pod-logs"), k.CgroupRoot)
}

func (k *Kubelet) start(bin string) error {
	cfg := filepath.Join(k.Dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(k.config()), 0o644); err != nil {
		return err
	}
	script := "set -e\n"
	for name, val := range sysctlFiles {
		f := filepath.Join(k.Dir, "sys", strings.ReplaceAll(name, "/", "."))
		if err := os.WriteFile(f, []byte(val+"\n"), 0o644); err != nil {
			return err
		}
		script += fmt.Sprintf("mount --bind %q /proc/sys/%s\n", f, name)
	}
	script += `exec "$@"` + "\n"
	args := []string{"--mount", "--propagation", "slave", "--", "/bin/sh", "-c", script, "sh",
		bin, "--config", cfg, "--root-dir", k.RootDir, "--cert-dir", filepath.Join(k.Dir, "certs"),
		"--hostname-override", NodeName, "--v", "2"}
	logf, err := os.Create(k.logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	k.cmd = exec.Command("unshare", args...)
	k.cmd.Env = []string{"PATH=" + ctrtest.SystemPATH, "HOME=" + k.Dir}
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := k.cmd.Start(); err != nil {
		return err
	}
	go func() { k.cmd.Wait(); close(k.exited) }()
	return nil
}

// waitReady waits until the kubelet has synced its static pod source: it
// logs that once its pod workers run (it has no readiness endpoint with
// the server off).
func (k *Kubelet) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-k.exited:
			return fmt.Errorf("kubelet exited: %v", k.cmd.ProcessState)
		default:
		}
		b, _ := os.ReadFile(k.logPath)
		if strings.Contains(string(b), "Starting kubelet main sync loop") {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("no main sync loop after %s", timeout)
}

// LogTail returns the last n lines of the kubelet's log.
func (k *Kubelet) LogTail(n int) string {
	b, _ := os.ReadFile(k.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (k *Kubelet) stop() {
	if k.t.Failed() {
		k.t.Logf("kubetest: kubelet log tail:\n%s", k.LogTail(40))
	}
	// Let the kubelet stop its pods first: it owns them.
	ents, _ := os.ReadDir(k.ManifestDir)
	for _, e := range ents {
		os.Remove(filepath.Join(k.ManifestDir, e.Name()))
	}
	if len(ents) > 0 {
		k.waitNoReadySandbox(time.Minute)
	}
	select {
	case <-k.exited:
	default:
		syscall.Kill(-k.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-k.exited:
		case <-time.After(15 * time.Second):
			syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
			<-k.exited
		}
	}
}

// removeSandboxes stops and removes every pod sandbox left (it runs after
// stop): containerd then deletes their network namespaces and CNI
// releases their addresses.
func (k *Kubelet) removeSandboxes() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := k.CRI.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return
	}
	for _, s := range r.Items {
		k.CRI.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id})
		k.CRI.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id})
	}
}

func (k *Kubelet) waitNoReadySandbox(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := k.CRI.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
			State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}}})
		cancel()
		if err == nil && len(r.Items) == 0 {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
