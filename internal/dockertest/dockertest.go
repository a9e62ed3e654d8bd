package dockertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/refval/refval/internal/ctrtest"
)

// The Docker binaries of Debian's docker.io. /usr/bin/docker is named
// explicitly: another docker client earlier in PATH may speak another API
// version.
var (
	DockerdPath = "/usr/sbin/dockerd"
	DockerPath  = "/usr/bin/docker"
)

// Version is the Docker version the harness is written for.
const Version = "20.10.24"

// Require skips the test (or fails it when CI=true) unless dockerd can run
// here: root, dockerd, docker, containerd, runc.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("dockertest: starts a real dockerd; skipped with -short")
	}
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("dockertest: "+format, args...)
		}
		t.Skipf("dockertest: "+format, args...)
	}
	if os.Geteuid() != 0 {
		missing("dockerd needs root")
	}
	for _, p := range []string{DockerdPath, DockerPath, "/usr/bin/containerd", "/usr/sbin/runc"} {
		if _, err := os.Stat(p); err != nil {
			missing("%v (Debian packages docker.io, containerd, runc: run scripts/deps.sh)", err)
		}
	}
}

// Dockerd is one private dockerd.
type Dockerd struct {
	t        testing.TB
	Dir      string   // temporary directory holding everything
	DataRoot string   // --data-root
	ExecRoot string   // --exec-root
	Socket   string   // API socket (-H unix://Socket)
	Env      []string // dockerd's environment (inherited by its containerd and shims)
	// PID is the running dockerd's process ID (0 while stopped).
	PID     int
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
	args    []string
}

type options struct {
	runtimes map[string]string
	env      []string
}

// Option configures New.
type Option func(*options)

// WithRuntime registers a runc-compatible runtime under name in
// daemon.json ("runtimes": {name: {"path": path}}, the Docker 20.10 form).
func WithRuntime(name, path string) Option {
	return func(o *options) { o.runtimes[name] = path }
}

// WithEnv adds KEY=VALUE entries to dockerd's environment; dockerd passes
// it to its containerd, which passes it to shims and runc.
func WithEnv(kv ...string) Option { return func(o *options) { o.env = append(o.env, kv...) } }

// SystemPATH is dockerd's PATH.
const SystemPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// New starts a dockerd and registers its cleanup with t.
func New(t testing.TB, opts ...Option) *Dockerd {
	t.Helper()
	Require(t)
	o := options{runtimes: map[string]string{}}
	for _, f := range opts {
		f(&o)
	}
	// Short path: the socket paths under the exec-root must stay below
	// the 108 bytes of a unix socket address.
	dir, err := os.MkdirTemp("", "dockertest-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Dockerd{
		t:        t,
		Dir:      dir,
		DataRoot: filepath.Join(dir, "root"),
		ExecRoot: filepath.Join(dir, "exec"),
		Socket:   filepath.Join(dir, "docker.sock"),
		logPath:  filepath.Join(dir, "dockerd.log"),
	}
	d.Env = append([]string{"PATH=" + SystemPATH, "HOME=" + dir, "TMPDIR=" + dir}, o.env...)
	// The trust key (default /etc/docker/key.json) goes to the temporary
	// directory; 20.10 has no flag for it, only this daemon.json key.
	cfg := map[string]any{"deprecated-key-path": filepath.Join(dir, "key.json")}
	if len(o.runtimes) > 0 {
		rt := map[string]any{}
		for n, p := range o.runtimes {
			rt[n] = map[string]string{"path": p}
		}
		cfg["runtimes"] = rt
	}
	raw, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	d.args = []string{
		"--config-file", cfgPath,
		"--data-root", d.DataRoot,
		"--exec-root", d.ExecRoot,
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"-H", "unix://" + d.Socket,
		"--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
	}
	t.Cleanup(d.cleanup)
	d.Start()
	return d
}

// Start starts dockerd (after Stop) on the same roots and configuration.
func (d *Dockerd) Start() {
	d.t.Helper()
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		d.t.Fatal(err)
	}
	d.cmd = exec.Command(DockerdPath, d.args...)
	d.cmd.Env = d.Env
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		d.t.Fatalf("dockertest: start dockerd: %v", err)
	}
	logf.Close()
	d.PID = d.cmd.Process.Pid
	exited := make(chan struct{})
	d.exited = exited
	cmd := d.cmd
	go func() { cmd.Wait(); close(exited) }()
	if err := d.wait(60 * time.Second); err != nil {
		d.t.Fatalf("dockertest: dockerd did not come up: %v\n%s", err, d.LogTail(40))
	}
}

func (d *Dockerd) wait(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return errors.New("dockerd exited")
		default:
		}
		if r := d.Docker("version", "--format", "{{.Server.Version}}"); r.ExitCode == 0 && r.Err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("no answer on %s after %v", d.Socket, timeout)
}

// Result is the outcome of one docker invocation.
type Result struct {
	Args     []string
	Stdout   string
	Stderr   string
	ExitCode int
	// Err is set when docker could not be run at all (not for a non-zero exit).
	Err error
}

// String summarises r for test failure messages.
func (r Result) String() string {
	return fmt.Sprintf("docker %s: exit %d (err %v)\nstdout: %s\nstderr: %s", strings.Join(r.Args, " "), r.ExitCode, r.Err, r.Stdout, r.Stderr)
}

// Docker runs this daemon's docker client with args (after -H).
func (d *Dockerd) Docker(args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, DockerPath, append([]string{"-H", "unix://" + d.Socket}, args...)...)
	cmd.Env = []string{"PATH=" + SystemPATH, "HOME=" + d.Dir, "DOCKER_CONFIG=" + filepath.Join(d.Dir, "client")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Args: args, Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.ExitCode = ee.ExitCode()
	case err != nil:
		r.Err, r.ExitCode = err, -1
	}
	return r
}

// Load runs `docker load -i archive`, failing the test when it fails.
func (d *Dockerd) Load(archive string) {
	d.t.Helper()
	if r := d.Docker("load", "-i", archive); r.ExitCode != 0 || r.Err != nil {
		d.t.Fatalf("dockertest: %s", r)
	}
}

// LogTail returns the last n lines of dockerd's log.
func (d *Dockerd) LogTail(n int) string {
	b, _ := os.ReadFile(d.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Restart stops dockerd and starts it again on the same roots: a new
// daemon PID and a new network-controller ID, the same containers dir.
func (d *Dockerd) Restart() {
	d.t.Helper()
	d.Stop()
	d.Start()
}

// Stop removes every container of this daemon and stops dockerd and the
// containerd it supervises.
func (d *Dockerd) Stop() {
	if d.cmd == nil {
		return
	}
	select {
	case <-d.exited:
	default:
		if ids := strings.Fields(d.Docker("ps", "-aq").Stdout); len(ids) > 0 {
			d.Docker(append([]string{"rm", "-f"}, ids...)...)
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(20 * time.Second):
			d.cmd.Process.Kill()
			<-d.exited
		}
	}
	d.cmd, d.PID = nil, 0
	d.stopContainerd()
	d.killShims()
}

// containerdSocket is the socket of the containerd dockerd supervises.
func (d *Dockerd) containerdSocket() string {
	return filepath.Join(d.ExecRoot, "containerd", "containerd.sock")
}

// stopContainerd stops dockerd's containerd if it outlived dockerd (it
// normally stops with it), identified by its pid file and its --config
// under this exec-root.
func (d *Dockerd) stopContainerd() {
	b, err := os.ReadFile(filepath.Join(d.ExecRoot, "containerd", "containerd.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || !strings.Contains(string(cmdline), filepath.Join(d.ExecRoot, "containerd")+"/") {
		return // gone, or the PID was reused by another process
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// killShims kills shims that outlived their tasks: processes whose
// command line carries this daemon's containerd socket as -address.
func (d *Dockerd) killShims() { ctrtest.KillShims(d.containerdSocket()) }

func (d *Dockerd) cleanup() {
	if d.t.Failed() {
		d.t.Logf("dockertest: dockerd log tail:\n%s", d.LogTail(30))
	}
	d.Stop()
	ctrtest.UnmountBelow(d.Dir)
	if err := os.RemoveAll(d.Dir); err != nil {
		d.t.Logf("dockertest: remove %s: %v", d.Dir, err)
	}
}
