package shim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/refval/refval/measurelist"
)

type execCall struct {
	Path string
	Argv []string
	Env  []string
}

// stubExec replaces execve for one test and records the calls.
func stubExec(t *testing.T) *[]execCall {
	var calls []execCall
	old := execve
	execve = func(path string, argv, env []string) error {
		calls = append(calls, execCall{path, argv, env})
		return errors.New("stubbed exec")
	}
	t.Cleanup(func() { execve = old })
	return &calls
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "shim.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ConfigEnv, p)
	return p
}

func TestRuncMainExecsRuncUnchanged(t *testing.T) {
	d := t.TempDir()
	realRunc := filepath.Join(d, "real", "runc")
	writeExe(t, realRunc)
	list := filepath.Join(d, "list.json")
	writeConfig(t, fmt.Sprintf("cmc_version = \"0.7\"\nrunc = %q\nlist = %q\nlog_file = %q\n", realRunc, list, filepath.Join(d, "log")))
	b := testBundle(t)
	args := []string{"--root", "/run/r", "--log", filepath.Join(d, "runc.log"), "--log-format", "json",
		"create", "--bundle", b, "--pid-file", filepath.Join(d, "pid"), "c1"}
	calls := stubExec(t)
	var stderr bytes.Buffer
	env := []string{"PATH=/usr/bin", "KEEP=1"}
	if code := runcMain(append([]string{"runc"}, args...), env, &stderr); code != 1 {
		t.Fatalf("exit %d after a failed exec, want 1", code)
	}
	want := []execCall{{realRunc, append([]string{realRunc}, args...), env}}
	if d := cmp.Diff(want, *calls); d != "" {
		t.Errorf("exec (-want +got):\n%s", d)
	}
	if l, err := measurelist.Read(list, measurelist.JSON); err != nil || len(l) != 1 || l[0].Name != "c1" {
		t.Errorf("list %+v %v", l, err)
	}
	// Other subcommands: exec'ed as they are, nothing measured.
	*calls = nil
	runcMain([]string{"runc", "--root", "/run/r", "delete", "--force", "c1"}, env, &stderr)
	if len(*calls) != 1 || strings.Join((*calls)[0].Argv[1:], " ") != "--root /run/r delete --force c1" {
		t.Errorf("pass-through: %+v", *calls)
	}
}

// A checkpoint restore starts a container from a bundle: measured like
// create, then runc is exec'ed with the arguments unchanged.
func TestRuncMainMeasuresRestore(t *testing.T) {
	d := t.TempDir()
	realRunc := filepath.Join(d, "real", "runc")
	writeExe(t, realRunc)
	list := filepath.Join(d, "list.json")
	writeConfig(t, fmt.Sprintf("cmc_version = \"0.7\"\nrunc = %q\nlist = %q\nlog_file = %q\n", realRunc, list, filepath.Join(d, "log")))
	args := []string{"--root", "/run/r", "restore", "--image-path", filepath.Join(d, "ckpt"), "--work-path", filepath.Join(d, "work"),
		"--bundle", testBundle(t), "--pid-file", filepath.Join(d, "pid"), "--detach", "r1"}
	calls := stubExec(t)
	var stderr bytes.Buffer
	runcMain(append([]string{"runc"}, args...), []string{"PATH=/usr/bin"}, &stderr)
	if len(*calls) != 1 || cmp.Diff(append([]string{realRunc}, args...), (*calls)[0].Argv) != "" {
		t.Errorf("exec: %+v", *calls)
	}
	if l, err := measurelist.Read(list, measurelist.JSON); err != nil || len(l) != 1 || l[0].Name != "r1" {
		t.Errorf("restore not measured: list %+v %v", l, err)
	}
}

// An enforced refusal never execs runc, and leaves the reason where the
// runc shim looks for runc's errors: the --log file, in runc's JSON form.
func TestRuncMainRefusal(t *testing.T) {
	d := t.TempDir()
	realRunc := filepath.Join(d, "runc")
	writeExe(t, realRunc)
	writeConfig(t, fmt.Sprintf("cmc_version = \"0.7\"\nrunc = %q\nlist = %q\nlog_file = \"\"\nenforce = true\ndriver = \"cmcd\"\ncmcd_socket = %q\n",
		realRunc, filepath.Join(d, "list.json"), filepath.Join(d, "none.sock")))
	runcLog := filepath.Join(d, "runc.log")
	calls := stubExec(t)
	var stderr bytes.Buffer
	code := runcMain([]string{"runc", "--log", runcLog, "--log-format", "json", "create", "--bundle", testBundle(t), "c2"}, nil, &stderr)
	if code != 1 || len(*calls) != 0 {
		t.Fatalf("exit %d, execs %d; want 1 and none", code, len(*calls))
	}
	if !strings.Contains(stderr.String(), "container c2 not started") {
		t.Errorf("stderr: %q", stderr.String())
	}
	raw, err := os.ReadFile(runcLog)
	if err != nil {
		t.Fatal(err)
	}
	var line struct{ Level, Msg, Time string }
	if err := json.Unmarshal(raw, &line); err != nil || line.Level != "error" || !strings.Contains(line.Msg, "cmcd") || line.Time == "" {
		t.Errorf("runc log line %q (%v)", raw, err)
	}
}

// In shim mode the runc shim is exec'ed with the same arguments and the
// runc link first in PATH.
func TestShimMainExecsRuncShim(t *testing.T) {
	d := t.TempDir()
	realShim := filepath.Join(d, "bin", RuncShimName)
	writeExe(t, realShim)
	me, err := findSelf()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(d, "link")
	os.MkdirAll(link, 0o755)
	if err := os.Symlink(me.path, filepath.Join(link, "runc")); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, fmt.Sprintf("cmc_version = \"0.7\"\nrunc_shim = %q\nrunc_link_dir = %q\nlog_file = \"\"\n", realShim, link))
	calls := stubExec(t)
	args := []string{"-namespace", "default", "-address", "/run/containerd/containerd.sock", "-id", "x", "start"}
	if code := shimMain(append([]string{ShimName}, args...), []string{"PATH=/usr/bin", "A=b"}, &bytes.Buffer{}); code != 1 {
		t.Fatalf("exit %d", code)
	}
	want := []execCall{{realShim, append([]string{realShim}, args...), []string{"PATH=" + link + ":/usr/bin", "A=b"}}}
	if d := cmp.Diff(want, *calls); d != "" {
		t.Errorf("exec (-want +got):\n%s", d)
	}
}

// A pass-through call at the default log level touches no file: no log
// is created, the list is not looked at.
func TestPassThroughIsLean(t *testing.T) {
	d := t.TempDir()
	realRunc := filepath.Join(d, "runc")
	writeExe(t, realRunc)
	logFile := filepath.Join(d, "log", "shim.log")
	// A list that is a directory would refuse a create; pass-through
	// calls do not check it.
	listDir := filepath.Join(d, "list")
	os.Mkdir(listDir, 0o755)
	writeConfig(t, fmt.Sprintf("cmc_version = \"0.7\"\nrunc = %q\nlist = %q\nlog_file = %q\n", realRunc, listDir, logFile))
	// What the file system looked like when runc was exec'ed (the stub
	// returns, so the wrapper then logs the failed exec).
	var logAtExec error
	old := execve
	execve = func(path string, argv, env []string) error {
		_, logAtExec = os.Stat(filepath.Dir(logFile))
		return errors.New("stubbed exec")
	}
	t.Cleanup(func() { execve = old })
	var stderr bytes.Buffer
	runcMain([]string{"runc", "--root", "/run/r", "state", "c1"}, []string{"PATH=/usr/bin"}, &stderr)
	if !os.IsNotExist(logAtExec) {
		t.Errorf("pass-through created the log directory before exec: %v", logAtExec)
	}
	if strings.Contains(stderr.String(), "list") {
		t.Errorf("pass-through checked the list: %q", stderr.String())
	}
	runcMain([]string{"runc", "create", "--bundle", testBundle(t), "c2"}, nil, &stderr)
	if b, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(b), `"pid":`) || !strings.Contains(string(b), "container starts are refused") {
		t.Errorf("log after a refused create: %q %v", b, err)
	}
}
