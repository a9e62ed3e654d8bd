package ctrtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Versions the harness knows.
const (
	V1_6 = "1.6"   // Debian's containerd 1.6 in /usr/bin
	V2_4 = "2.4.2" // containerd 2.4.2 built by scripts/deps.sh
)

// Versions lists every version, for table tests.
var Versions = []string{V1_6, V2_4}

// SystemPATH is appended to containerd's PATH after the version's binaries.
const SystemPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// BinDir returns the directory holding containerd, ctr and
// containerd-shim-runc-v2 of version, or an error saying what is missing.
func BinDir(version string) (string, error) {
	var dir string
	switch version {
	case V1_6, "1", "1.6.20":
		dir = "/usr/bin"
	case V2_4, "2", "2.4":
		dir = os.Getenv("REFVAL_CONTAINERD2_BIN")
		if dir == "" {
			cache := os.Getenv("REFVAL_CACHE")
			if cache == "" {
				base, err := os.UserCacheDir()
				if err != nil {
					return "", err
				}
				cache = filepath.Join(base, "refval")
			}
			dir = filepath.Join(cache, "containerd-v2.4.2", "bin")
		}
	default:
		return "", fmt.Errorf("ctrtest: unknown containerd version %q", version)
	}
	for _, b := range []string{"containerd", "ctr", "containerd-shim-runc-v2"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("containerd %s: %w (run scripts/deps.sh)", version, err)
		}
	}
	return dir, nil
}

// Require skips the test (or fails it when CI=true) unless version can run
// here: root, the binaries, runc. It returns the version's bin directory.
func Require(t testing.TB, version string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("ctrtest: starts a real containerd; skipped with -short")
	}
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("ctrtest: "+format, args...)
		}
		t.Skipf("ctrtest: "+format, args...)
	}
	if os.Geteuid() != 0 {
		missing("containerd needs root")
	}
	dir, err := BinDir(version)
	if err != nil {
		missing("%v", err)
	}
	if _, err := exec.LookPath("runc"); err != nil {
		if _, err := os.Stat("/usr/sbin/runc"); err != nil {
			missing("runc not installed (Debian package runc)")
		}
	}
	return dir
}

// Containerd is one running private containerd.
type Containerd struct {
	t         testing.TB
	Version   string
	Dir       string   // temporary directory holding everything
	Bin       string   // directory of containerd, ctr, containerd-shim-runc-v2
	Address   string   // gRPC socket
	Namespace string   // containerd namespace used by Ctr and Run
	Env       []string // environment of containerd (and so of its shims)
	cmd       *exec.Cmd
	exited    chan struct{} // closed when containerd has been reaped
	logPath   string
	args      []string // containerd's arguments, for Restart
}

type options struct {
	cri         string // sandbox image; "" = CRI off
	path        []string
	env         []string
	extraConfig string
	logLevel    string
	snapshotter string
}

// Option configures New.
type Option func(*options)

// WithPath puts dirs first in containerd's PATH (runtime shims named
// containerd-shim-NAME-v1 are looked up there).
func WithPath(dirs ...string) Option { return func(o *options) { o.path = append(o.path, dirs...) } }

// WithEnv adds KEY=VALUE entries to containerd's environment, which
// containerd passes on to the shims it starts.
func WithEnv(kv ...string) Option { return func(o *options) { o.env = append(o.env, kv...) } }

// WithConfig appends TOML to containerd's configuration (plugins sections,
// runtimes). The harness writes config version 2 for 1.6 and 3 for 2.x.
func WithConfig(toml string) Option {
	return func(o *options) { o.extraConfig += "\n" + toml + "\n" }
}

// WithCRI turns the CRI plugin on, serving the CRI API on Address, with
// sandboxImage as the pod sandbox ("pause") image: import it (Import)
// before running pods, nothing is pulled. The containerd namespace becomes
// "k8s.io", the one CRI uses. CNI is configured with empty directories, so
// only host-network pods can run. Add runtime handlers with WithConfig.
func WithCRI(sandboxImage string) Option { return func(o *options) { o.cri = sandboxImage } }

// CRINamespace is the containerd namespace of CRI.
const CRINamespace = "k8s.io"

// WithLogLevel sets containerd's log level (default "info").
func WithLogLevel(l string) Option { return func(o *options) { o.logLevel = l } }

// New starts containerd version and registers its cleanup with t.
func New(t testing.TB, version string, opts ...Option) *Containerd {
	t.Helper()
	bin := Require(t, version)
	o := options{logLevel: "info"}
	for _, f := range opts {
		f(&o)
	}
	// Short path: unix socket paths are limited to 108 bytes, and
	// t.TempDir's names grow with the test name.
	dir, err := os.MkdirTemp("", "ctrtest-")
	if err != nil {
		t.Fatal(err)
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	c := &Containerd{
		t:         t,
		Version:   version,
		Dir:       dir,
		Bin:       bin,
		Address:   filepath.Join(dir, "containerd.sock"),
		Namespace: "ctrtest-" + hex.EncodeToString(rnd[:]),
		logPath:   filepath.Join(dir, "containerd.log"),
	}
	if o.cri != "" {
		c.Namespace = CRINamespace
	}
	path := strings.Join(append(slices.Clone(o.path), bin, SystemPATH), ":")
	c.Env = append([]string{"PATH=" + path, "HOME=" + dir, "TMPDIR=" + dir}, o.env...)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(c.config(o)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.args = []string{"--config", cfgPath, "--log-level", o.logLevel}
	if err := c.start(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("ctrtest: start containerd %s: %v", version, err)
	}
	t.Cleanup(c.stop)
	if err := c.wait(30 * time.Second); err != nil {
		t.Fatalf("ctrtest: containerd %s did not come up: %v\n%s", version, err, c.LogTail(40))
	}
	return c
}

// start starts containerd with c.args, its log appended to logPath.
func (c *Containerd) start() error {
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	c.cmd = exec.Command(filepath.Join(c.Bin, "containerd"), c.args...)
	c.cmd.Env = c.Env
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	cmd := c.cmd
	c.exited = exited
	go func() { cmd.Wait(); close(exited) }()
	return nil
}

// Restart stops containerd (SIGTERM; its shims and containers keep
// running, as on a daemon restart) and starts it again on the same root,
// state and socket, failing the test when it does not come back.
func (c *Containerd) Restart() {
	c.t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	if err := c.start(); err != nil {
		c.t.Fatalf("ctrtest: restart containerd %s: %v", c.Version, err)
	}
	if err := c.wait(30 * time.Second); err != nil {
		c.t.Fatalf("ctrtest: containerd %s did not come back: %v\n%s", c.Version, err, c.LogTail(40))
	}
}

// V1 reports whether the version is a containerd 1.x (config version 2,
// CRI plugin io.containerd.grpc.v1.cri).
func (c *Containerd) V1() bool {
	return c.Version == V1_6 || c.Version == "1" || c.Version == "1.6.20"
}

func (c *Containerd) config(o options) string {
	disabled := []string{"io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.btrfs",
		"io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
		"io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
		"io.containerd.internal.v1.tracing"}
	if o.cri == "" {
		disabled = append(disabled, "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime",
			"io.containerd.cri.v1.images", "io.containerd.podsandbox.controller.v1.podsandbox",
			"io.containerd.sandbox.controller.v1.shim")
	}
	version := 3
	if c.V1() {
		version = 2
	}
	var b strings.Builder
	fmt.Fprintf(&b, "version = %d\nroot = %q\nstate = %q\ndisabled_plugins = [", version,
		filepath.Join(c.Dir, "root"), filepath.Join(c.Dir, "state"))
	for i, p := range disabled {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", p)
	}
	b.WriteString("]\n")
	fmt.Fprintf(&b, "[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n", c.Address, c.Address+".ttrpc")
	fmt.Fprintf(&b, "[plugins.%q]\n  path = %q\n", "io.containerd.internal.v1.opt", filepath.Join(c.Dir, "opt"))
	if o.cri != "" {
		cniBin, cniConf := filepath.Join(c.Dir, "cni", "bin"), filepath.Join(c.Dir, "cni", "conf")
		if c.V1() {
			// restrict_oom_score_adj: CRI lowers the sandbox's OOM score
			// to -998, which needs CAP_SYS_RESOURCE; test machines (and
			// VMs) may not grant it.
			fmt.Fprintf(&b, "[plugins.%q]\n  sandbox_image = %q\n  restrict_oom_score_adj = true\n", "io.containerd.grpc.v1.cri", o.cri)
			fmt.Fprintf(&b, "[plugins.%q.cni]\n  bin_dir = %q\n  conf_dir = %q\n", "io.containerd.grpc.v1.cri", cniBin, cniConf)
			// Defining any runtime replaces 1.6's default table: keep runc.
			fmt.Fprintf(&b, "[plugins.%q.containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n", "io.containerd.grpc.v1.cri")
		} else {
			fmt.Fprintf(&b, "[plugins.%q.pinned_images]\n  sandbox = %q\n", "io.containerd.cri.v1.images", o.cri)
			fmt.Fprintf(&b, "[plugins.%q]\n  restrict_oom_score_adj = true\n", "io.containerd.cri.v1.runtime")
			fmt.Fprintf(&b, "[plugins.%q.cni]\n  bin_dirs = [%q]\n  conf_dir = %q\n", "io.containerd.cri.v1.runtime", cniBin, cniConf)
			fmt.Fprintf(&b, "[plugins.%q.containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n", "io.containerd.cri.v1.runtime")
		}
	}
	b.WriteString(o.extraConfig)
	return b.String()
}

func (c *Containerd) wait(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r := c.CtrContext(ctx, "version")
		cancel()
		if r.Err == nil && r.ExitCode == 0 {
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("containerd exited: %v", c.cmd.ProcessState)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s: %s", c.Address, r.Stderr)
		}
	}
}

// Result is the outcome of one ctr invocation.
type Result struct {
	Args     []string
	Stdout   string
	Stderr   string
	ExitCode int
	// Err is set when ctr could not be run at all (not for a non-zero exit).
	Err      error
	Duration time.Duration
}

// String summarises r for test failure messages.
func (r Result) String() string {
	return fmt.Sprintf("ctr %s: exit %d (err %v)\nstdout: %s\nstderr: %s", strings.Join(r.Args, " "), r.ExitCode, r.Err, r.Stdout, r.Stderr)
}

// Ctr runs this containerd's ctr with the given arguments (after the
// address and namespace flags).
func (c *Containerd) Ctr(args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.CtrContext(ctx, args...)
}

// CtrContext is Ctr with a context.
func (c *Containerd) CtrContext(ctx context.Context, args ...string) Result {
	full := append([]string{"--address", c.Address, "--namespace", c.Namespace}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, "ctr"), full...)
	cmd.Env = c.Env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := Result{Args: args, Stdout: out.String(), Stderr: errb.String(), Duration: time.Since(start)}
	r.setExit(err)
	return r
}

// setExit records how the command ended: its exit code, or Err and -1
// when it did not run to an exit.
func (r *Result) setExit(err error) {
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.ExitCode = ee.ExitCode()
	case err != nil:
		r.Err, r.ExitCode = err, -1
	}
}

// RunIO runs `ctr run ARGS...` with stdin, stdout and stderr connected to
// the given reader and writers (nil: /dev/null, or discarded); the
// Result's Stdout and Stderr are empty. A slow writer slows ctr down, as a
// slow terminal would.
func (c *Containerd) RunIO(stdin io.Reader, stdout, stderr io.Writer, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"--address", c.Address, "--namespace", c.Namespace, "run"}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, "ctr"), full...)
	cmd.Env = c.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	start := time.Now()
	err := cmd.Run()
	r := Result{Args: args, Duration: time.Since(start)}
	r.setExit(err)
	return r
}

// SyncTimeout bounds how long RunSynced waits for the output it expects.
const SyncTimeout = 30 * time.Second

// RunSynced runs `ctr run ARGS...` for a container that prints its
// output, then reads its stdin before it exits (`echo out; read x; exit
// 3`): ctr's stdin is held open until ready reports that the output seen
// so far is complete (or SyncTimeout passed), then closed, which lets the
// container exit.
//
// Why: the ctr of containerd before 1.6.22 and 1.7.3 closes its stdout and
// stderr FIFOs as soon as it learns that the task exited, before draining
// them (containerd commit 34a93a0c2, "task: don't close() io before
// cancel()"; moby/moby#45689). Output that is still between the
// container and ctr when the exit event arrives -- a few bytes on a
// loaded machine -- is lost by ctr itself, shim or no shim. A container
// that cannot exit before its output has reached the test closes that
// window without changing what is compared: every byte must still
// arrive, and a lost byte still fails the test (after SyncTimeout).
func (c *Containerd) RunSynced(ready func(stdout, stderr string) bool, args ...string) Result {
	var mu sync.Mutex
	var out, errb bytes.Buffer
	// An *os.File, so that ctr gets the descriptor itself: no copying
	// goroutine for Wait to wait on when ctr exits without reading it.
	pr, pw, err := os.Pipe()
	if err != nil {
		return Result{Args: args, Err: err, ExitCode: -1}
	}
	defer pr.Close()
	var once sync.Once
	release := func() { once.Do(func() { pw.Close() }) }
	timer := time.AfterFunc(SyncTimeout, release)
	defer timer.Stop()
	check := func() {
		if ready(out.String(), errb.String()) {
			release()
		}
	}
	w := func(b *bytes.Buffer) io.Writer {
		return writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			b.Write(p)
			check()
			return len(p), nil
		})
	}
	mu.Lock()
	check() // a container with no output expected
	mu.Unlock()
	r := c.RunIO(pr, w(&out), w(&errb), args...)
	release()
	mu.Lock()
	r.Stdout, r.Stderr = out.String(), errb.String()
	mu.Unlock()
	return r
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// RunTTY is Run with a new pseudo-terminal as ctr's controlling terminal
// and stdio, as `ctr run --tty` requires; Stdout holds everything the
// terminal showed. Setup failures fail t.
func (c *Containerd) RunTTY(t testing.TB, args ...string) Result {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("pty slave: %v", err)
	}
	defer slave.Close()
	full := append([]string{"--address", c.Address, "--namespace", c.Namespace, "run"}, args...)
	cmd := exec.Command(filepath.Join(c.Bin, "ctr"), full...)
	cmd.Env = c.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, master); close(done) }()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("ctr on a pty: %v", err)
	}
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	timer.Stop()
	r := Result{Args: args, Duration: time.Since(start)}
	r.setExit(err)
	slave.Close()
	master.Close()
	<-done
	r.Stdout = out.String()
	return r
}

// Run runs `ctr run ARGS...` (for example "--rm", image, id, cmd...) and
// returns its result; a non-zero exit is a result, not a test failure.
func (c *Containerd) Run(args ...string) Result {
	return c.Ctr(append([]string{"run"}, args...)...)
}

// Import imports an OCI or Docker archive and returns the names of the
// images it added. Names without a registry part get the base name
// "ctrtest.local/import". It fails the test when ctr fails.
func (c *Containerd) Import(archive string) []string {
	c.t.Helper()
	before := c.images()
	r := c.Ctr("images", "import", "--base-name", "ctrtest.local/import", archive)
	if r.Err != nil || r.ExitCode != 0 {
		c.t.Fatalf("ctrtest: import %s: %s", archive, r)
	}
	var added []string
	for _, n := range c.images() {
		if !slices.Contains(before, n) {
			added = append(added, n)
		}
	}
	if len(added) == 0 {
		// Re-importing the same archive adds no name; report what it has.
		for _, l := range strings.Split(r.Stdout, "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "unpacking" {
				added = append(added, f[1])
			}
		}
	}
	if len(added) == 0 {
		c.t.Fatalf("ctrtest: import %s added no image: %s", archive, r)
	}
	return added
}

func (c *Containerd) images() []string {
	r := c.Ctr("images", "ls", "-q")
	if r.ExitCode != 0 {
		c.t.Fatalf("ctrtest: list images: %s", r)
	}
	return strings.Fields(r.Stdout)
}

// LogTail returns the last n lines of containerd's log.
func (c *Containerd) LogTail(n int) string {
	b, _ := os.ReadFile(c.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stop tears down everything New started; see the package doc.
func (c *Containerd) stop() {
	if c.t.Failed() {
		c.t.Logf("ctrtest: containerd %s log tail:\n%s", c.Version, c.LogTail(30))
	}
	select {
	case <-c.exited:
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for _, id := range strings.Fields(c.CtrContext(ctx, "tasks", "ls", "-q").Stdout) {
			c.CtrContext(ctx, "tasks", "kill", "-s", "SIGKILL", id)
		}
		for _, id := range strings.Fields(c.CtrContext(ctx, "tasks", "ls", "-q").Stdout) {
			c.CtrContext(ctx, "tasks", "delete", "--force", id)
		}
		if ids := strings.Fields(c.CtrContext(ctx, "containers", "ls", "-q").Stdout); len(ids) > 0 {
			c.CtrContext(ctx, append([]string{"containers", "delete"}, ids...)...)
		}
		cancel()
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-c.exited
		}
	}
	c.killShims()
	c.unmountAll()
	if err := os.RemoveAll(c.Dir); err != nil {
		c.t.Logf("ctrtest: remove %s: %v", c.Dir, err)
	}
	// containerd keeps per-namespace runc state outside its root.
	os.Remove(filepath.Join("/run/containerd/runc", c.Namespace))
}

// killShims kills processes whose command line carries this containerd's
// unique socket as their -address: shims that outlived their tasks.
func (c *Containerd) killShims() { KillShims(c.Address) }

// KillShims kills every process whose command line carries address as its
// -address argument: the shims of the containerd serving that socket.
func KillShims(address string) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-address" && args[i+1] == address {
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
}

// unmountAll lazily unmounts every mount below Dir, deepest first.
func (c *Containerd) unmountAll() { UnmountBelow(c.Dir) }

// UnmountBelow lazily unmounts every mount below dir, deepest first.
func UnmountBelow(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var mps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			mp := unescapeMount(fields[4])
			if strings.HasPrefix(mp, dir+"/") {
				mps = append(mps, mp)
			}
		}
	}
	slices.SortFunc(mps, func(a, b string) int { return len(b) - len(a) })
	for _, mp := range mps {
		unix.Unmount(mp, unix.MNT_DETACH)
	}
}

// unescapeMount undoes mountinfo's octal escapes (\040 for space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// BundleDir returns the runtime bundle directory of container id (it
// exists while the task does): containerd's runtime v2 task state.
func (c *Containerd) BundleDir(id string) string {
	return filepath.Join(c.Dir, "state", "io.containerd.runtime.v2.task", c.Namespace, id)
}
