package shim_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/driver/cmcd"
	"github.com/refval/refval/internal/benchproc"
	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/measurelist"
	"github.com/refval/refval/oci"
	"github.com/refval/refval/shim"
)

const buildTags = "containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper containers_image_storage_stub"

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	shim.RemoveTestFastCacheRoot()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// shimBinary returns the shim binary: $REFVAL_BIN/containerd-shim-cmc-v1
// (make test builds it) or one built once for this test run.
func shimBinary(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("REFVAL_BIN"); d != "" {
		p := filepath.Join(d, shim.ShimName)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("REFVAL_BIN: %v", err)
		}
		return p
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "shimbin-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, shim.ShimName)
		// As the Makefile builds it: with cgo (the C front), static.
		cmd := exec.Command("go", "build", "-tags", buildTags+" netgo osusergo", "-ldflags", "-linkmode external -extldflags -static", "-o", buildPath, "github.com/refval/refval/cmd/containerd-shim-cmc-v1")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// rig is one private containerd with the shim on its PATH and a shim
// configuration file that each subtest rewrites.
type rig struct {
	c       *ctrtest.Containerd
	shim    string
	linkDir string // holds runc -> shim
	cfgPath string
	image   string
	layout  string // OCI layout of the image, for offline comparisons
}

func newRig(t testing.TB, version string) *rig {
	t.Helper()
	ctrtest.Require(t, version)
	img, err := testimage.BusyboxImage()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	bin := shimBinary(t)
	dir := t.TempDir()
	r := &rig{shim: bin, linkDir: filepath.Join(dir, "link"), cfgPath: filepath.Join(dir, "shim.toml")}
	if err := os.Mkdir(r.linkDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(r.linkDir, "runc")); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "busybox.tar")
	if _, err := testimage.WriteOCIArchive(archive, "latest", img); err != nil {
		t.Fatal(err)
	}
	r.layout = filepath.Join(dir, "layout")
	if _, err := testimage.WriteLayout(r.layout, "latest", img); err != nil {
		t.Fatal(err)
	}
	// The shim directory goes on containerd's PATH so that runtime
	// io.containerd.cmc.v1 resolves to containerd-shim-cmc-v1.
	opts := []ctrtest.Option{
		ctrtest.WithPath(filepath.Dir(bin)),
		ctrtest.WithEnv(shim.ConfigEnv + "=" + r.cfgPath),
	}
	if version == ctrtest.V1_6 {
		// The seed's configuration: runtime v1 (containerd-shim) with this
		// binary as its runc ("runtime" is the plugin-wide BinaryName).
		opts = append(opts, ctrtest.WithConfig(fmt.Sprintf(
			"[plugins.\"io.containerd.runtime.v1.linux\"]\n  shim = \"containerd-shim\"\n  runtime = %q\n", bin)))
	}
	r.c = ctrtest.New(t, version, opts...)
	// Starts without runc_link_dir (and with a broken config) make the
	// shim keep a runc link under /run for this binary; remove it.
	t.Cleanup(func() {
		if real, err := filepath.EvalSymlinks(bin); err == nil {
			os.RemoveAll(shim.FallbackRuncLinkDir(real))
		}
		removeFastCaches(r.cfgPath)
	})
	r.image = r.c.Import(archive)[0]
	return r
}

// setup writes a shim configuration (extra TOML lines appended, "{dir}"
// replaced by the directory) with a fresh list and log in a new
// directory, and returns that directory.
func (r *rig) setup(t testing.TB, extra string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf("log_file = %q\n%s\n", filepath.Join(dir, "shim.log"), strings.ReplaceAll(extra, "{dir}", dir))
	if !strings.Contains(extra, "list =") {
		cfg = fmt.Sprintf("list = %q\n", filepath.Join(dir, "list.json")) + cfg
	}
	if !strings.Contains(extra, "runc_link_dir") {
		cfg += fmt.Sprintf("runc_link_dir = %q\n", r.linkDir)
	}
	if !strings.Contains(extra, "cmc_version") {
		cfg += "cmc_version = \"0.7\"\n"
	}
	if !strings.Contains(extra, "log_level") {
		cfg += "log_level = \"debug\"\n"
	}
	if err := os.WriteFile(r.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "shim.log"))
			t.Logf("shim log:\n%s", b)
		}
	})
	return dir
}

func readList(t testing.TB, dir string) []measurelist.Entry {
	t.Helper()
	l, err := measurelist.Read(filepath.Join(dir, "list.json"), measurelist.JSON)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

const runtimeCMC = "io.containerd.cmc.v1"

// script prints to both streams and exits non-zero, so any change the
// shim made to stdio or the exit code would show. It reads its stdin
// before it exits, so that runScript can hold the exit back until the
// output has arrived (see ctrtest.RunSynced: ctr 1.6.20 itself drops
// output still in flight when the exit event arrives).
var script = []string{"sh", "-c", "echo out:$VAL; echo err >&2; read x; exit 3"}

func (r *rig) run(args ...string) ctrtest.Result { return r.c.Run(args...) }

// runScript runs script with env (VAL=...) under the runtime flags rt,
// letting it exit once its stdout line and its stderr line have arrived.
func (r *rig) runScript(rt []string, env, id string) ctrtest.Result {
	val, _ := strings.CutPrefix(env, "VAL=")
	return r.c.RunSynced(func(stdout, stderr string) bool {
		return strings.Contains(stdout, "out:"+val+"\n") && strings.Contains(containerStderr(stderr), "err\n")
	}, runArgs(rt, env, r.image, id, script)...)
}

func runArgs(runtime []string, env, image, id string, cmd []string) []string {
	a := append([]string{"--rm"}, runtime...)
	if env != "" {
		a = append(a, "--env", env)
	}
	return append(append(a, image, id), cmd...)
}

func TestShim(t *testing.T) {
	for _, v := range ctrtest.Versions {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v)
			t.Run("StartFacts", r.testStartFacts)
			t.Run("Transparent", r.testTransparent)
			t.Run("Output", r.testOutput)
			t.Run("PodGroup", r.testPodGroup)
			t.Run("Generate", r.testGenerate)
			t.Run("Concurrent", r.testConcurrent)
			t.Run("TPM", r.testTPM)
			t.Run("CMCD", r.testCMCD)
			t.Run("Enforce", r.testEnforce)
		})
	}
}

// testTransparent: every way in gives the container's own output and exit
// code, one list entry per distinct container, a new entry for a changed
// env var.
func (r *rig) testTransparent(t *testing.T) {
	base := r.runScript(nil, "VAL=a", "base")
	if base.Err != nil || base.ExitCode != 3 || base.Stdout != "out:a\n" {
		t.Fatalf("baseline run without the shim: %s", base)
	}
	ways := map[string][]string{
		"runtime-name": {"--runtime", runtimeCMC},
		"runtime-path": {"--runtime", r.shim},
		// The runc wrapper reached directly: the binary as runc BinaryName.
		"runc-binary": {"--runc-binary", r.shim},
		"runc-link":   {"--runc-binary", filepath.Join(r.linkDir, "runc")},
	}
	if r.c.Version == ctrtest.V1_6 {
		ways["runtime-v1"] = []string{"--runtime", "io.containerd.runtime.v1.linux"}
	}
	for name, rt := range ways {
		t.Run(name, func(t *testing.T) {
			dir := r.setup(t, "")
			if name == "runtime-name" {
				// No runc_link_dir and no installed link: the shim keeps
				// its own under /run.
				dir = r.setup(t, "runc_link_dir = \"\"")
			}
			for i, env := range []string{"VAL=a", "VAL=a", "VAL=b"} {
				got := r.runScript(rt, env, fmt.Sprintf("%s-%d", name, i))
				want := base
				if env == "VAL=b" {
					want.Stdout = "out:b\n"
				}
				if got.Err != nil || got.ExitCode != want.ExitCode || got.Stdout != want.Stdout || containerStderr(got.Stderr) != containerStderr(want.Stderr) {
					t.Fatalf("with the shim:\n%s\nwithout:\n%s", got, want)
				}
			}
			l := readList(t, dir)
			if len(l) != 2 {
				t.Fatalf("list has %d entries, want 2 (two identical starts, one with another env): %+v", len(l), l)
			}
			if l[0].TemplateSha256 == l[1].TemplateSha256 {
				t.Errorf("a changed env var kept the template hash %x", l[0].TemplateSha256)
			}
			if l[0].Name != name+"-0" || l[1].Name != name+"-2" {
				t.Errorf("entry names %q, %q; want %s-0, %s-2", l[0].Name, l[1].Name, name, name)
			}
			for _, e := range l {
				th := sha256.Sum256(append(append([]byte{}, e.ConfigSha256[:]...), e.RootfsSha256[:]...))
				if th != e.TemplateSha256 {
					t.Errorf("entry %s: templateSha256 %x != SHA-256(config||rootfs) %x", e.Name, e.TemplateSha256, th)
				}
				if e.Pcr != nil {
					t.Errorf("sw driver wrote pcr %d", *e.Pcr)
				}
			}
		})
	}
}

// testOutput: the shim loses no byte of a container's output, also when
// the reader is slow (a first write that takes a second, so that every
// buffer between the container and ctr fills) and the output is larger
// than the pipes hold. Unsynchronised, this loses bytes with the plain
// runc runtime too: ctr drops what is in flight when the exit arrives
// (ctrtest.RunSynced), so the container exits only once all arrived.
func (r *rig) testOutput(t *testing.T) {
	r.setup(t, "")
	const lines = 30000 // about 170 KiB, more than pipe and FIFO buffer
	var want strings.Builder
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	cmd := []string{"sh", "-c", fmt.Sprintf("echo out; seq 1 %d >&2; read x; exit 3", lines)}
	ways := map[string][]string{
		"runc":         nil,
		"runtime-name": {"--runtime", runtimeCMC},
		"runc-binary":  {"--runc-binary", r.shim},
	}
	for name, rt := range ways {
		t.Run(name, func(t *testing.T) {
			var slow sync.Once
			got := r.c.RunSynced(func(stdout, stderr string) bool {
				if stderr != "" {
					slow.Do(func() { time.Sleep(time.Second) })
				}
				return stdout == "out\n" && strings.HasSuffix(containerStderr(stderr), "\n"+strconv.Itoa(lines)+"\n")
			}, runArgs(rt, "", r.image, "output-"+name, cmd)...)
			if got.Err != nil || got.ExitCode != 3 || got.Stdout != "out\n" {
				t.Fatalf("run: exit %d err %v stdout %q", got.ExitCode, got.Err, got.Stdout)
			}
			if e := containerStderr(got.Stderr); e != want.String() {
				t.Errorf("stderr: %d bytes, want %d (first difference at byte %d)", len(e), want.Len(), firstDiff(e, want.String()))
			}
		})
	}
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// testStartFacts checks the fact the design rests on: when containerd
// runs the shim binary's start, the bundle has config.json but the rootfs
// is not mounted yet (so measuring there would be wrong).
func (r *rig) testStartFacts(t *testing.T) {
	d := t.TempDir()
	out := filepath.Join(d, "seen")
	spy := filepath.Join(d, "shim-spy")
	body := fmt.Sprintf(`#!/bin/sh
for a; do last=$a; done
if [ "$last" = start ]; then
  echo "config=$(test -f config.json && echo yes || echo no) rootfs=$(ls -A rootfs 2>/dev/null | wc -l)" >> %q
fi
exec %q "$@"
`, out, filepath.Join(r.c.Bin, "containerd-shim-runc-v2"))
	if err := os.WriteFile(spy, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := r.setup(t, fmt.Sprintf("runc_shim = %q\n", spy))
	if x := r.run(runArgs([]string{"--runtime", runtimeCMC}, "", r.image, "facts", []string{"true"})...); x.ExitCode != 0 {
		t.Fatalf("run: %s", x)
	}
	if got := strings.TrimSpace(mustRead(t, out)); got != "config=yes rootfs=0" {
		t.Errorf("at shim start: %q, want config=yes rootfs=0", got)
	}
	// ... while at runc create the rootfs was there: more entries than
	// the root directory alone.
	if l := readList(t, dir); len(l) != 1 {
		t.Fatalf("list: %+v", l)
	}
	for _, line := range strings.Split(mustRead(t, filepath.Join(dir, "shim.log")), "\n") {
		var rec struct {
			Msg     string `json:"msg"`
			Entries int    `json:"entries"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "measured container" && rec.Entries < 2 {
			t.Errorf("runc create saw an empty rootfs: %s", line)
		}
	}
}

// testPodGroup reproduces what CRI does with a pod: containers that share
// a shim group annotation are served by the one runc shim process started
// for the first. The second container here is even started with the plain
// runc.v2 runtime, so no cmc shim binary runs for it -- yet its runc
// create goes through the wrapper, because the running shim inherited the
// wrapper's PATH. This is why the shim measures at runc create.
func (r *rig) testPodGroup(t *testing.T) {
	dir := r.setup(t, "")
	group := "io.containerd.runc.v2.group=pod-" + r.c.Namespace
	first := r.run("-d", "--runtime", runtimeCMC, "--annotation", group, r.image, "pod-sandbox", "sleep", "600")
	if first.ExitCode != 0 {
		t.Fatalf("first container: %s", first)
	}
	defer func() {
		r.c.Ctr("tasks", "kill", "-s", "SIGKILL", "pod-sandbox")
		time.Sleep(200 * time.Millisecond)
		r.c.Ctr("tasks", "delete", "--force", "pod-sandbox")
		r.c.Ctr("containers", "delete", "pod-sandbox")
	}()
	second := r.run("--rm", "--annotation", group, "--env", "VAL=app", r.image, "pod-app", "sh", "-c", "echo out:$VAL")
	if second.ExitCode != 0 || second.Stdout != "out:app\n" {
		t.Fatalf("second container: %s", second)
	}
	var names []string
	for _, e := range readList(t, dir) {
		names = append(names, e.Name)
	}
	if d := cmp.Diff([]string{"pod-sandbox", "pod-app"}, names); d != "" {
		t.Errorf("measured containers (-want +got):\n%s", d)
	}
}

// testGenerate: generate-mode values equal bundle.Measure on the runtime
// bundle, and the rootfs hash equals the one of an independent unpack of
// the same image (umoci).
func (r *rig) testGenerate(t *testing.T) {
	dir := r.setup(t, "generate_dir = \"{dir}/measure\"\ndriver = \"tpm\"\ntpm = \"tcp://127.0.0.1:1\"\n")
	gen := filepath.Join(dir, "measure")
	// The TPM is unreachable: fail-open still writes the reference values
	// and starts the container.
	id := shim.GenerateID
	res := r.run("-d", "--runtime", runtimeCMC, "--env", "VAL=HELLO", r.image, id, "sleep", "600")
	if res.ExitCode != 0 {
		t.Fatalf("generate run: %s", res)
	}
	defer func() {
		r.c.Ctr("tasks", "kill", "-s", "SIGKILL", id)
		time.Sleep(200 * time.Millisecond)
		r.c.Ctr("tasks", "delete", "--force", id)
		r.c.Ctr("containers", "delete", id)
	}()
	var refs []manifest.ReferenceValue
	if err := json.Unmarshal([]byte(mustRead(t, filepath.Join(gen, shim.RefsFile))), &refs); err != nil {
		t.Fatalf("%s: %v", shim.RefsFile, err)
	}
	// The running container's bundle is no longer what runc create saw:
	// runc makes missing mount points (here /run) in the rootfs. So the
	// reference is the runtime config.json of the bundle together with an
	// independent offline unpack of the image (umoci), measured by
	// bundle.Measure as `refval measure-bundle --config --rootfs` does.
	if _, err := exec.LookPath("umoci"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("umoci missing")
		}
		t.Skip("umoci missing, no offline unpack to compare with")
	}
	ub := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command("umoci", "unpack", "--image", r.layout+":latest", ub).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	got, err := bundle.Measure(context.Background(), "", bundle.WithContainerID(id),
		bundle.WithConfigPath(filepath.Join(r.c.BundleDir(id), "config.json")),
		bundle.WithRootfsPath(filepath.Join(ub, "rootfs")))
	if err != nil {
		t.Fatal(err)
	}
	pcr := 11
	want := []manifest.ReferenceValue{{
		Type: manifest.TypeTPM, Pcr: &pcr, Name: id, Sha256: got.TemplateSha256[:],
		CtrData: &manifest.CtrData{ConfigSha256: got.ConfigSha256[:], RootfsSha256: got.RootfsSha256[:]},
	}}
	if d := cmp.Diff(want, refs); d != "" {
		t.Errorf("container-refs differ from the runtime config + offline rootfs (-want +got):\n%s", d)
	}
	norm := mustRead(t, filepath.Join(gen, shim.NormalizedConfigFile))
	if s := sha256.Sum256([]byte(norm)); s != got.ConfigSha256 {
		t.Errorf("SHA-256 of %s is %x, configSha256 %s", shim.NormalizedConfigFile, s, got.ConfigSha256)
	}
	if !strings.Contains(norm, "VAL=HELLO") {
		t.Errorf("normalized config lacks the env var: %s", norm)
	}
	// `refval measure IMAGE` offline (oci.MeasureImage, from the layer
	// blobs, no unpack) gives the same rootfs hash.
	im, err := oci.MeasureImage(context.Background(), "oci:"+r.layout+":latest",
		oci.WithLayout(filepath.Join(t.TempDir(), "store")), oci.WithInsecurePolicy())
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Results) != 1 || im.Results[0].Result.RootfsSha256 != got.RootfsSha256 {
		t.Errorf("oci.MeasureImage rootfs %v, runtime rootfs %s", im.Results, got.RootfsSha256)
	}
	// Records: replaying them gives the rootfs hash.
	f, err := os.Open(filepath.Join(gen, shim.RecordsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := bundle.NewRootfsHasher()
	if err := bundle.ReadRecords(f, h.Add); err != nil {
		t.Fatal(err)
	}
	if h.Sum() != got.RootfsSha256 || h.Count() != got.Entries {
		t.Errorf("records replay to %s (%d), want %s (%d)", h.Sum(), h.Count(), got.RootfsSha256, got.Entries)
	}
	// The TPM extend failed, so the list entry was rolled back.
	if l := readList(t, dir); len(l) != 0 {
		t.Errorf("fail-open with an unreachable TPM must not keep a list entry the PCR lacks: %+v", l)
	}
}

// containerStderr drops ctr's own timestamped log lines (containerd 2.x
// warns about cgroup v1 on every run) from ctr's stderr.
func containerStderr(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "time=\"") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

func mustRead(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testConcurrent: 50 containers started at once give 50 entries.
func (r *rig) testConcurrent(t *testing.T) {
	dir := r.setup(t, "")
	const n = 50
	var wg sync.WaitGroup
	res := make([]ctrtest.Result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = r.run(runArgs([]string{"--runtime", runtimeCMC}, "N="+strconv.Itoa(i), r.image, "c"+strconv.Itoa(i), []string{"true"})...)
		}()
	}
	wg.Wait()
	for i, x := range res {
		if x.Err != nil || x.ExitCode != 0 {
			t.Errorf("container %d: %s", i, x)
		}
	}
	l := readList(t, dir)
	if len(l) != n {
		t.Fatalf("list has %d entries, want %d", len(l), n)
	}
	seen := map[string]bool{}
	for _, e := range l {
		seen[e.Name] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct names in %d entries", len(seen), n)
	}
}

// testTPM: after starts through the tpm driver on swtpm, tpm2_pcrread
// shows the PCR that replaying the list from zero predicts.
func (r *rig) testTPM(t *testing.T) {
	port := startSWTPM(t)
	dir := r.setup(t, fmt.Sprintf("driver = \"tpm\"\npcr = 16\ntpm = \"tcp://127.0.0.1:%d\"\n", port))
	// PCR 16 (debug) is resettable and starts at zero, so the replay
	// starts from zero without resetting anything.
	for i, env := range []string{"VAL=1", "VAL=2", "VAL=1", "VAL=3"} {
		if x := r.run(runArgs([]string{"--runtime", runtimeCMC}, env, r.image, "tpm"+strconv.Itoa(i), []string{"true"})...); x.ExitCode != 0 {
			t.Fatalf("run: %s", x)
		}
	}
	l := readList(t, dir)
	if len(l) != 3 {
		t.Fatalf("list has %d entries, want 3", len(l))
	}
	var pcr [32]byte
	for _, e := range l {
		if e.Pcr == nil || *e.Pcr != 16 {
			t.Errorf("entry %s: pcr %v, want 16", e.Name, e.Pcr)
		}
		pcr = sha256.Sum256(append(pcr[:], e.TemplateSha256[:]...))
	}
	if got := pcrRead(t, port, 16); got != hex.EncodeToString(pcr[:]) {
		t.Errorf("tpm2_pcrread: PCR 16 = %s, replaying the list gives %x", got, pcr)
	}
}

// testCMCD: the cmcd driver sends each new measurement to the daemon.
func (r *rig) testCMCD(t *testing.T) {
	srv := startCMCD(t, true)
	dir := r.setup(t, fmt.Sprintf("driver = \"cmcd\"\ncmcd_socket = %q\n", srv.path))
	for i, env := range []string{"VAL=1", "VAL=1", "VAL=2"} {
		if x := r.run(runArgs([]string{"--runtime", runtimeCMC}, env, r.image, "cmcd"+strconv.Itoa(i), []string{"true"})...); x.ExitCode != 0 {
			t.Fatalf("run: %s", x)
		}
	}
	l := readList(t, dir)
	var want []cmcd.MeasureRequest
	for _, e := range l {
		want = append(want, cmcd.MeasureRequest{Name: e.Name, ConfigSha256: e.ConfigSha256[:], RootfsSha256: e.RootfsSha256[:]})
	}
	if len(want) != 2 {
		t.Fatalf("list has %d entries, want 2", len(want))
	}
	if d := cmp.Diff(want, srv.requests()); d != "" {
		t.Errorf("cmcd received (-list +received):\n%s", d)
	}
}

// testEnforce: with enforce a failed recording refuses the start with a
// clear error; without it the container starts.
func (r *rig) testEnforce(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-cmcd.sock")
	t.Run("refuse", func(t *testing.T) {
		dir := r.setup(t, fmt.Sprintf("driver = \"cmcd\"\ncmcd_socket = %q\nenforce = true\n", missing))
		x := r.run(runArgs([]string{"--runtime", runtimeCMC}, "", r.image, "enforced", script)...)
		if x.ExitCode == 0 || strings.Contains(x.Stdout, "out:") {
			t.Fatalf("enforce: container started: %s", x)
		}
		if !strings.Contains(x.Stderr, "not started") || !strings.Contains(x.Stderr, "cmcd") {
			t.Errorf("ctr does not show the reason: %s", x.Stderr)
		}
		if l := readList(t, dir); len(l) != 0 {
			t.Errorf("refused start left list entries: %+v", l)
		}
		r.c.Ctr("containers", "delete", "enforced")
	})
	t.Run("cmcd-refuses", func(t *testing.T) {
		srv := startCMCD(t, false)
		dir := r.setup(t, fmt.Sprintf("driver = \"cmcd\"\ncmcd_socket = %q\nenforce = true\n", srv.path))
		x := r.run(runArgs([]string{"--runtime", runtimeCMC}, "", r.image, "refused", script)...)
		if x.ExitCode == 0 || !strings.Contains(x.Stderr, "success false") {
			t.Fatalf("a daemon answering success=false must refuse the start: %s", x)
		}
		if l := readList(t, dir); len(l) != 0 {
			t.Errorf("refused start left list entries: %+v", l)
		}
		r.c.Ctr("containers", "delete", "refused")
	})
	t.Run("fail-open", func(t *testing.T) {
		dir := r.setup(t, fmt.Sprintf("driver = \"cmcd\"\ncmcd_socket = %q\n", missing))
		x := r.runScript([]string{"--runtime", runtimeCMC}, "VAL=open", "open")
		if x.ExitCode != 3 || x.Stdout != "out:open\n" {
			t.Fatalf("fail-open: %s", x)
		}
		if !strings.Contains(mustRead(t, filepath.Join(dir, "shim.log")), "fail-open") {
			t.Errorf("the failure is not logged")
		}
	})
	t.Run("list-is-a-directory", func(t *testing.T) {
		// Fail-open, but nothing could ever be recorded: refused at load.
		dir := r.setup(t, "")
		list := filepath.Join(dir, "list.json")
		if err := os.Mkdir(list, 0o755); err != nil {
			t.Fatal(err)
		}
		x := r.run(runArgs([]string{"--runtime", runtimeCMC}, "", r.image, "listdir", script)...)
		if x.ExitCode == 0 || strings.Contains(x.Stdout, "out:") || !strings.Contains(x.Stderr, list) {
			t.Errorf("a list that is a directory must refuse the start, naming it: %s", x)
		}
		if log := mustRead(t, filepath.Join(dir, "shim.log")); !strings.Contains(log, "container starts are refused") {
			t.Errorf("the refusal is not in the shim log:\n%s", log)
		}
		r.c.Ctr("containers", "delete", "listdir")
	})
	t.Run("broken-config", func(t *testing.T) {
		if err := os.WriteFile(r.cfgPath, []byte("enforse = true\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		x := r.run(runArgs([]string{"--runtime", runtimeCMC}, "", r.image, "broken", script)...)
		if x.ExitCode == 0 || !strings.Contains(x.Stderr, "enforse") {
			t.Errorf("a misspelt key must refuse the start and be named: %s", x)
		}
		r.c.Ctr("containers", "delete", "broken")
	})
}

// --- swtpm and a fake cmcd ---

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSWTPM starts swtpm on loopback and returns its command port (the
// control port is the next one).
func startSWTPM(t *testing.T) int {
	t.Helper()
	for _, tool := range []string{"swtpm", "tpm2_pcrread"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing (Debian swtpm, tpm2-tools)", tool)
			}
			t.Skipf("%s missing (Debian swtpm, tpm2-tools)", tool)
		}
	}
	state := t.TempDir()
	var port int
	var cmd *exec.Cmd
	for attempt := 0; ; attempt++ {
		port = freePort(t)
		cmd = exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state,
			"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
			"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1),
			"--flags", "not-need-init,startup-clear")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ok := false
		for range 50 {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				ok = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if ok {
			break
		}
		cmd.Process.Kill()
		cmd.Wait()
		if attempt == 3 {
			t.Fatalf("swtpm did not listen: %s", out.String())
		}
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return port
}

// pcrRead reads a SHA-256 PCR with tpm2_pcrread (an independent TPM
// client) and returns it as lowercase hex.
func pcrRead(t *testing.T, port, pcr int) string {
	t.Helper()
	cmd := exec.Command("tpm2_pcrread", fmt.Sprintf("sha256:%d", pcr))
	cmd.Env = append(os.Environ(), fmt.Sprintf("TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=%d", port))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tpm2_pcrread: %v\n%s", err, out)
	}
	// "  sha256:\n    16: 0x0123...\n"
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && strings.TrimSpace(k) == strconv.Itoa(pcr) {
			return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(v), "0x"))
		}
	}
	t.Fatalf("tpm2_pcrread output without PCR %d:\n%s", pcr, out)
	return ""
}

type fakeCMCD struct {
	path string
	mu   sync.Mutex
	reqs []cmcd.MeasureRequest
}

func (f *fakeCMCD) requests() []cmcd.MeasureRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cmcd.MeasureRequest(nil), f.reqs...)
}

// startCMCD serves the CMC daemon's measure API on a unix socket,
// decoding requests with its own CBOR reading of the wire format.
func startCMCD(t *testing.T, success bool) *fakeCMCD {
	t.Helper()
	d, err := os.MkdirTemp("", "cmcd-")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCMCD{path: filepath.Join(d, "cmcd.sock")}
	l, err := net.Listen("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); os.RemoveAll(d) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				typ, payload, err := cmcd.ReadMessage(c)
				if err != nil || typ != cmcd.TypeMeasure {
					return
				}
				req, err := decodeMeasureRequest(payload)
				if err != nil {
					cmcd.WriteMessage(c, cmcd.TypeError, []byte{0xa1, 0x00, 0x63, 'b', 'a', 'd'})
					return
				}
				f.mu.Lock()
				f.reqs = append(f.reqs, req)
				f.mu.Unlock()
				// {0: success} with CBOR true (0xf5) or false (0xf4).
				b := byte(0xf4)
				if success {
					b = 0xf5
				}
				cmcd.WriteMessage(c, cmcd.TypeMeasure, []byte{0xa1, 0x00, b})
			}()
		}
	}()
	return f
}

// decodeMeasureRequest reads the request through a generic CBOR map, not
// through the shim's struct tags, so a wrong key number would show.
func decodeMeasureRequest(b []byte) (cmcd.MeasureRequest, error) {
	var m map[uint64]any
	if err := cbor.Unmarshal(b, &m); err != nil {
		return cmcd.MeasureRequest{}, err
	}
	name, _ := m[0].(string)
	cfg, _ := m[1].([]byte)
	rfs, _ := m[2].([]byte)
	if len(m) != 3 || name == "" || len(cfg) != 32 || len(rfs) != 32 {
		return cmcd.MeasureRequest{}, fmt.Errorf("bad request %v", m)
	}
	return cmcd.MeasureRequest{Name: name, ConfigSha256: cfg, RootfsSha256: rfs}, nil
}

// BenchmarkStartLatency compares `ctr run --rm` of a small image through
// the shim with the plain runc shim, interleaved in the same run, and
// relates the difference to the measurement time the shim logs.
func BenchmarkStartLatency(b *testing.B) {
	for _, v := range ctrtest.Versions {
		b.Run(v, func(b *testing.B) {
			r := newRig(b, v)
			// The list on a tmpfs, where the shipped default is.
			dir := r.setup(b, fmt.Sprintf("log_level = \"info\"\nlist = %q", filepath.Join(tmpfsDir(b), "list.json")))
			time.Sleep(150 * time.Millisecond) // the C front wants a settled configuration
			// A second containerd whose shim configuration has log_level
			// debug: no token, so every call takes the Go path, as before
			// the C front (plus one log line per call).
			rGo := newRig(b, v)
			rGo.setup(b, fmt.Sprintf("log_level = \"debug\"\nlist = %q", filepath.Join(tmpfsDir(b), "list.json")))
			time.Sleep(150 * time.Millisecond) // the C front wants a settled configuration
			const pairs = 20
			// runc: the plain runc-v2 shim; cmc: runtime io.containerd.cmc.v1
			// (the C front takes every call but create); binary: runc-v2
			// with the runc link as its runc binary (BinaryName: no shim
			// mode; the runc calls take the front from the token the Go
			// create leaves in the cache); go-runc, go: the same as runc
			// and cmc on the second containerd (the Go path).
			modes := map[string][]string{"runc": nil, "cmc": {"--runtime", runtimeCMC}, "binary": {"--runc-binary", filepath.Join(r.linkDir, "runc")},
				"go-runc": nil, "go": {"--runtime", runtimeCMC}}
			times := map[string][]time.Duration{}
			for range b.N {
				for i := range pairs {
					order := []string{"runc", "cmc", "binary", "go-runc", "go"}
					order = append(order[i%5:], order[:i%5]...)
					for _, m := range order {
						rig := r
						if strings.HasPrefix(m, "go") {
							rig = rGo
						}
						args := append([]string{"--rm"}, modes[m]...)
						// A distinct env per start, so every start records a new entry.
						args = append(args, "--env", fmt.Sprintf("I=%d-%s", i, m), rig.image, fmt.Sprintf("bench-%d-%s", i, m), "true")
						x := rig.run(args...)
						if x.ExitCode != 0 {
							b.Fatalf("run: %s", x)
						}
						times[m] = append(times[m], x.Duration)
					}
				}
			}
			base, with := times["runc"], times["cmc"]
			if fastTokenOf(r.cfgPath) == "" {
				b.Fatal("the shim mode left no fast-path cache: the C front was not used")
			}
			// Medians: the machine is shared, and a load spike during one
			// start must not decide the figure.
			measure, total := logTimes(b, filepath.Join(dir, "shim.log"))
			baseMs, withMs := median(base), median(with)
			b.ReportMetric(baseMs, "ms/run-runc")
			b.ReportMetric(withMs, "ms/run-shim")
			b.ReportMetric(withMs/baseMs, "ratio")
			b.ReportMetric(withMs-baseMs, "ms-overhead")
			b.ReportMetric(measure, "ms-measure")
			b.ReportMetric(total, "ms-measure+record")
			b.ReportMetric(withMs-baseMs-total, "ms-overhead-beyond-measurement")
			b.ReportMetric(median(times["binary"])-baseMs, "ms-overhead-binaryname")
			// Medians of the per-round differences: a load change between
			// rounds cancels out.
			b.ReportMetric(pairedMedian(with, base), "ms-overhead-paired")
			b.ReportMetric(pairedMedian(times["binary"], base), "ms-overhead-binaryname-paired")
			goOverhead := median(times["go"]) - median(times["go-runc"])
			b.ReportMetric(goOverhead, "ms-overhead-go-path")
			b.ReportMetric(pairedMedian(times["go"], times["go-runc"]), "ms-overhead-go-path-paired")
			benchproc.TableRow(b, fmt.Sprintf("`ctr run --rm` under the shim vs runc-v2, containerd %s, %d rounds", v, pairs),
				fmt.Sprintf("runc-v2 %.1f ms, shim %.1f ms: %+.1f ms (per round %+.1f ms), of which measure + record %.1f ms; BinaryName form %+.1f ms; Go path (no C front) %+.1f ms",
					baseMs, withMs, withMs-baseMs, pairedMedian(with, base), total, pairedMedian(times["binary"], base), goOverhead),
				"—", fmt.Sprintf("%.3f× runc-v2", withMs/baseMs), "—", "—", goal(withMs-baseMs <= 5, "+5 ms"))
		})
	}
}

// goal says whether a latency goal of issue 14 was met in this run.
func goal(met bool, what string) string {
	if met {
		return "goal ≤ " + what + ": met"
	}
	return "goal ≤ " + what + ": not met"
}

// pairedMedian is the median of a[i]-b[i], in ms.
func pairedMedian(a, b []time.Duration) float64 {
	d := make([]time.Duration, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	return median(d)
}

func median(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return float64(m.Microseconds()) / 1000
}

// logTimes returns the medians of measureMs and totalMs over the shim
// log's "measured container" lines.
func logTimes(b testing.TB, path string) (measure, total float64) {
	raw := mustRead(b, path)
	var ms, ts []time.Duration
	for _, line := range strings.Split(raw, "\n") {
		var rec struct {
			Msg       string  `json:"msg"`
			MeasureMs float64 `json:"measureMs"`
			TotalMs   float64 `json:"totalMs"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "measured container" {
			ms = append(ms, time.Duration(rec.MeasureMs*float64(time.Millisecond)))
			ts = append(ts, time.Duration(rec.TotalMs*float64(time.Millisecond)))
		}
	}
	if len(ms) == 0 {
		b.Fatalf("no measurements in %s", path)
	}
	return median(ms), median(ts)
}
