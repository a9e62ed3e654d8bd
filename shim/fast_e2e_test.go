package shim_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/refval/refval/measurelist"
	"github.com/refval/refval/shim"
)

// fastRig is the shim binary with a runc link dir, a second name for it
// that always takes the Go path (runc-go: not "runc", so the C front
// leaves it alone, and --root makes Go's Main take it as runc), and a fake
// runc and runc shim that record their argv and environment.
type fastRig struct {
	bin, dir, link, goRunc, real, cfg string
}

func newFastRig(t *testing.T, extra string) *fastRig {
	t.Helper()
	d := t.TempDir()
	r := &fastRig{bin: shimBinary(t), dir: d, link: filepath.Join(d, "link"), goRunc: filepath.Join(d, "go", "runc-go"),
		real: filepath.Join(d, "real"), cfg: filepath.Join(d, "shim.toml")}
	for _, dir := range []string{r.link, filepath.Dir(r.goRunc), r.real} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{filepath.Join(r.link, "runc"), r.goRunc} {
		if err := os.Symlink(r.bin, l); err != nil {
			t.Fatal(err)
		}
	}
	// The fake runc and runc shim record what they were given, as the
	// kernel gave it (/proc/$$/cmdline and environ are not the shell's).
	rec := "#!/bin/sh\ncat /proc/$$/cmdline > \"$REC.argv\"; cat /proc/$$/environ > \"$REC.env\"\n"
	for _, n := range []string{"runc", shim.RuncShimName} {
		if err := os.WriteFile(filepath.Join(r.real, n), []byte(rec), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.writeConfig(t, extra)
	t.Cleanup(func() { removeFastCaches(r.cfg) })
	return r
}

func (r *fastRig) writeConfig(t *testing.T, extra string) {
	t.Helper()
	cfg := fmt.Sprintf("cmc_version = \"0.7\"\nlist = %q\nlog_file = %q\nruncLinkDirLine\nrunc_shim = %q\n%s\n",
		filepath.Join(r.dir, "list.json"), filepath.Join(r.dir, "shim.log"), filepath.Join(r.real, shim.RuncShimName), extra)
	linkLine := fmt.Sprintf("runc_link_dir = %q", r.link)
	if strings.Contains(extra, "runc_link_dir") {
		linkLine = ""
	}
	cfg = strings.Replace(cfg, "runcLinkDirLine", linkLine, 1)
	if err := os.WriteFile(r.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// The shim mode gives no token for a file changed in the last 100 ms.
	time.Sleep(150 * time.Millisecond)
}

// result is one call: its exit code, stderr, and what the fake runc (or
// runc shim) received.
type result struct {
	code   int
	stderr string
	argv   []string
	env    []string
	goRan  bool // the Go runtime started (GODEBUG=inittrace=1 printed)
}

// call starts argv0 with args and env exactly (syscall.ForkExec: os/exec
// would drop duplicate keys and empty entries, which the test wants).
func (r *fastRig) call(t *testing.T, argv0 string, args, env []string) result {
	t.Helper()
	rec := filepath.Join(t.TempDir(), "rec")
	env = append(slices.Clip(env), "REC="+rec, "GODEBUG=inittrace=1")
	stderr, err := os.Create(rec + ".stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	pid, err := syscall.ForkExec(argv0, append([]string{argv0}, args...), &syscall.ProcAttr{
		Dir: r.dir, Env: env, Files: []uintptr{0, 1, stderr.Fd()},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	res := result{code: ws.ExitStatus()}
	b, _ := os.ReadFile(rec + ".stderr")
	res.stderr = string(b)
	res.goRan = strings.Contains(res.stderr, "init runtime @")
	if b, err := os.ReadFile(rec + ".argv"); err == nil {
		res.argv = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	}
	if b, err := os.ReadFile(rec + ".env"); err == nil {
		// REC differs per call; the rest is compared.
		res.env = slices.DeleteFunc(strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"),
			func(kv string) bool { return kv == "REC="+rec })
	}
	return res
}

// shimEnv runs the binary in shim mode and returns the environment it
// gives the runc shim, without the test's own REC and GODEBUG.
func (r *fastRig) shimEnv(t *testing.T) []string {
	t.Helper()
	env := []string{"PATH=" + r.real + ":/usr/bin:/bin", shim.ConfigEnv + "=" + r.cfg, "KEEP=1"}
	res := r.call(t, r.bin, []string{"-namespace", "n", "-id", "c", "start"}, env)
	if res.code != 0 || res.env == nil {
		t.Fatalf("shim mode: exit %d, %s", res.code, res.stderr)
	}
	return slices.DeleteFunc(res.env, func(kv string) bool { return strings.HasPrefix(kv, "GODEBUG=") })
}

func getenvOf(env []string, key string) (string, bool) {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

var passThroughCalls = [][]string{
	{"--root", "/run/containerd/runc/n", "--log", "/tmp/log.json", "--log-format", "json", "start", "c"},
	{"--root", "/run/containerd/runc/n", "--log", "/tmp/log.json", "--log-format", "json", "delete", "--force", "c"},
	{"--root", "/r", "--systemd-cgroup", "state", "c"},
	{"--root=/r", "--debug", "kill", "c", "9"},
}

// TestFastPathPassesThrough: with the token of the shim mode, the runc
// pass-through calls never start the Go runtime, and runc gets exactly
// the argv and environment the Go wrapper gives it -- also from an
// environment with duplicate keys, empty entries and entries without "=".
func TestFastPathPassesThrough(t *testing.T) {
	r := newFastRig(t, "log_level = \"info\"")
	env := r.shimEnv(t)
	if p, _ := getenvOf(env, "PATH"); !strings.HasPrefix(p, r.link+":") {
		t.Fatalf("runc shim PATH %q does not start with the link dir", p)
	}
	if _, ok := getenvOf(env, shim.FastEnv); !ok {
		t.Fatalf("shim mode set no %s: %q", shim.FastEnv, env)
	}
	nasty := append(slices.Clip(env), "PATH=/later", "KEEP=2", "", "NOEQUALS", "=odd", shim.FastEnv+"=x")
	for _, e := range [][]string{env, nasty} {
		for _, args := range passThroughCalls {
			fast := r.call(t, filepath.Join(r.link, "runc"), args, e)
			slow := r.call(t, r.goRunc, args, e)
			if fast.goRan || fast.code != 0 {
				t.Fatalf("%q: the C front did not take it (exit %d):\n%s", args, fast.code, fast.stderr)
			}
			if !slow.goRan || slow.code != 0 {
				t.Fatalf("%q: runc-go did not take the Go path (exit %d):\n%s", args, slow.code, slow.stderr)
			}
			want := append([]string{"/bin/sh", filepath.Join(r.real, "runc")}, args...)
			if !slices.Equal(fast.argv, want) || !slices.Equal(slow.argv, want) {
				t.Fatalf("runc argv: front %q, Go %q, want %q", fast.argv, slow.argv, want)
			}
			if !slices.Equal(fast.env, slow.env) {
				t.Fatalf("runc environment differs:\nfront %q\nGo    %q", fast.env, slow.env)
			}
			if _, ok := getenvOf(fast.env, shim.FastEnv); ok {
				t.Fatalf("%s reached runc: %q", shim.FastEnv, fast.env)
			}
			if p, _ := getenvOf(fast.env, "PATH"); p != r.real+":/usr/bin:/bin" {
				t.Fatalf("runc PATH %q", p)
			}
		}
	}
}

// TestFastPathNeverMeasuredCalls: create, run and restore take the Go
// path with the token set, and the container is measured.
func TestFastPathNeverMeasuredCalls(t *testing.T) {
	r := newFastRig(t, "log_level = \"info\"")
	env := r.shimEnv(t)
	b := filepath.Join(r.dir, "bundle")
	os.MkdirAll(filepath.Join(b, "rootfs"), 0o755)
	for i, cmd := range []string{"create", "run", "restore"} {
		cfg := fmt.Sprintf(`{"ociVersion":"1.0.2","process":{"args":["sh"],"env":["N=%d"],"cwd":"/"},"root":{"path":"rootfs"}}`, i)
		if err := os.WriteFile(filepath.Join(b, "config.json"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		res := r.call(t, filepath.Join(r.link, "runc"), []string{"--root", "/r", "--log", "/tmp/l", "--log-format", "json", cmd, "--bundle", b, "c"}, env)
		if !res.goRan || res.code != 0 {
			t.Fatalf("%s: Go did not run it (exit %d):\n%s", cmd, res.code, res.stderr)
		}
		l, err := measurelist.Read(filepath.Join(r.dir, "list.json"), measurelist.JSON)
		if err != nil || len(l) != i+1 {
			t.Fatalf("%s: list has %d entries (%v), want %d", cmd, len(l), err, i+1)
		}
	}
}

// TestFastPathFallsBack: whenever the token is missing, stale or unusable,
// the Go wrapper handles the call, with the same outcome it always had.
func TestFastPathFallsBack(t *testing.T) {
	args := passThroughCalls[0]
	t.Run("no-token", func(t *testing.T) {
		r := newFastRig(t, "")
		env := slices.DeleteFunc(r.shimEnv(t), func(kv string) bool { return strings.HasPrefix(kv, shim.FastEnv+"=") })
		if res := r.call(t, filepath.Join(r.link, "runc"), args, env); !res.goRan || res.code != 0 || res.argv == nil {
			t.Fatalf("exit %d, Go ran %v:\n%s", res.code, res.goRan, res.stderr)
		}
	})
	t.Run("config-changed", func(t *testing.T) {
		r := newFastRig(t, "")
		env := r.shimEnv(t)
		r.writeConfig(t, "") // same content, new times
		if res := r.call(t, filepath.Join(r.link, "runc"), args, env); !res.goRan || res.code != 0 || res.argv == nil {
			t.Fatalf("stale token: exit %d, Go ran %v:\n%s", res.code, res.goRan, res.stderr)
		}
	})
	t.Run("config-env-changed", func(t *testing.T) {
		r := newFastRig(t, "")
		env := append(r.shimEnv(t), "X=1")
		other := filepath.Join(r.dir, "other.toml")
		b, _ := os.ReadFile(r.cfg)
		os.WriteFile(other, b, 0o644)
		for i, kv := range env {
			if strings.HasPrefix(kv, shim.ConfigEnv+"=") {
				env[i] = shim.ConfigEnv + "=" + other
			}
		}
		if res := r.call(t, filepath.Join(r.link, "runc"), args, env); !res.goRan || res.code != 0 {
			t.Fatalf("exit %d, Go ran %v:\n%s", res.code, res.goRan, res.stderr)
		}
	})
	t.Run("debug", func(t *testing.T) {
		r := newFastRig(t, "log_level = \"debug\"")
		env := r.shimEnv(t)
		if _, ok := getenvOf(env, shim.FastEnv); ok {
			t.Fatalf("token with log_level debug")
		}
		if res := r.call(t, filepath.Join(r.link, "runc"), args, env); !res.goRan || res.code != 0 {
			t.Fatalf("exit %d, Go ran %v:\n%s", res.code, res.goRan, res.stderr)
		}
		if b, _ := os.ReadFile(filepath.Join(r.dir, "shim.log")); !bytes.Contains(b, []byte(`"pass through"`)) {
			t.Fatalf("debug log lacks the pass-through:\n%s", b)
		}
	})
	t.Run("relative-path-entry", func(t *testing.T) {
		r := newFastRig(t, "")
		env := r.shimEnv(t)
		for i, kv := range env {
			if strings.HasPrefix(kv, "PATH=") {
				env[i] = kv + ":relative"
			}
		}
		res := r.call(t, filepath.Join(r.link, "runc"), args, env)
		if !res.goRan || res.code != 0 {
			t.Fatalf("exit %d, Go ran %v:\n%s", res.code, res.goRan, res.stderr)
		}
		if p, _ := getenvOf(res.env, "PATH"); p != r.real+":/usr/bin:/bin:relative" {
			t.Fatalf("runc PATH %q", p)
		}
	})
	t.Run("runc-is-self", func(t *testing.T) {
		r := newFastRig(t, "")
		r.writeConfig(t, fmt.Sprintf("runc = %q", r.bin))
		env := r.shimEnv(t)
		if _, ok := getenvOf(env, shim.FastEnv); !ok {
			t.Fatalf("no token")
		}
		res := r.call(t, filepath.Join(r.link, "runc"), args, env)
		if !res.goRan || res.code != 1 || !strings.Contains(res.stderr, "loop") {
			t.Fatalf("exit %d, Go ran %v:\n%s", res.code, res.goRan, res.stderr)
		}
	})
	t.Run("huge-environment", func(t *testing.T) {
		// The front handles at most 4096 environment entries (front.c
		// MAX_ENV); beyond that Go runs the call, with the same outcome.
		r := newFastRig(t, "log_level = \"info\"")
		env := r.shimEnv(t)
		for _, c := range []struct {
			extra int
			goRan bool
		}{{4000, false}, {4100, true}} {
			e := slices.Clip(env)
			for i := range c.extra {
				e = append(e, fmt.Sprintf("E%05d=v", i))
			}
			res := r.call(t, filepath.Join(r.link, "runc"), args, e)
			if res.goRan != c.goRan || res.code != 0 || res.argv == nil {
				t.Fatalf("%d entries: exit %d, Go ran %v, want %v:\n%.400s", len(e)+2, res.code, res.goRan, c.goRan, res.stderr)
			}
		}
	})
	t.Run("runc-missing", func(t *testing.T) {
		r := newFastRig(t, "")
		r.writeConfig(t, fmt.Sprintf("runc = %q", filepath.Join(r.dir, "gone", "runc")))
		env := r.shimEnv(t)
		res := r.call(t, filepath.Join(r.link, "runc"), args, env)
		if !res.goRan || res.code != 1 {
			t.Fatalf("exit %d, Go ran %v:\n%s", res.code, res.goRan, res.stderr)
		}
	})
}

// removeFastCaches removes the C front's caches for the configuration
// file cfg: the ones the binary wrote under shim.RunLinkRoot.
func removeFastCaches(cfg string) { shim.RemoveFastCaches(cfg) }

// TestFastPathShimMode: once a shim-mode call in Go has left its cache,
// the next shim calls exec the runc shim from the C front, with the argv
// and environment the Go shim mode gives it; a changed configuration, a
// missing runc link or an unsafe cache sends them back to Go.
func TestFastPathShimMode(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (the cache is under /run)")
		}
		t.Skip("needs root: the cache is under /run")
	}
	for _, linkDir := range []string{"configured", "fallback"} {
		t.Run(linkDir, func(t *testing.T) {
			r := newFastRig(t, "log_level = \"info\"")
			if linkDir == "fallback" {
				r.writeConfig(t, "log_level = \"info\"\nrunc_link_dir = \"\"")
				t.Cleanup(func() {
					if real, err := filepath.EvalSymlinks(r.bin); err == nil {
						os.RemoveAll(shim.FallbackRuncLinkDir(real))
					}
				})
			}
			t.Cleanup(func() { removeFastCaches(r.cfg) })
			env := []string{"PATH=" + r.real + ":/usr/bin:/bin", shim.ConfigEnv + "=" + r.cfg, "KEEP=1"}
			nasty := append(slices.Clip(env), "PATH=/later", "KEEP=2", "", "NOEQUALS", shim.FastEnv+"=stale")
			start := []string{"-namespace", "n", "-address", "/a.sock", "-publish-binary", "/usr/bin/containerd", "-id", "c", "start"}
			first := r.call(t, r.bin, start, env)
			if !first.goRan || first.code != 0 {
				t.Fatalf("first shim call: exit %d, Go ran %v:\n%s", first.code, first.goRan, first.stderr)
			}
			if _, ok := getenvOf(first.env, shim.FastEnv); !ok {
				t.Fatalf("no token: %q", first.env)
			}
			for _, e := range [][]string{env, nasty} {
				slow := first
				if len(e) != len(env) {
					// Go's answer for this environment: the same call with
					// the flags in an order the front leaves alone.
					reordered := append([]string{"-address", "/a.sock", "-namespace", "n"}, start[4:]...)
					if slow = r.call(t, r.bin, reordered, e); !slow.goRan {
						t.Fatalf("reordered call did not take the Go path:\n%s", slow.stderr)
					}
				}
				for _, args := range [][]string{start, {"-namespace", "n", "-address", "/a.sock", "-id", "c", "-bundle", "/b", "delete"}, {"-info"}} {
					fast := r.call(t, r.bin, args, e)
					if fast.goRan || fast.code != 0 {
						t.Fatalf("%q: the C front did not take it (exit %d):\n%s", args, fast.code, fast.stderr)
					}
					want := append([]string{"/bin/sh", filepath.Join(r.real, shim.RuncShimName)}, args...)
					if !slices.Equal(fast.argv, want) {
						t.Fatalf("runc shim argv %q, want %q", fast.argv, want)
					}
					if !slices.Equal(fast.env, slow.env) {
						t.Fatalf("runc shim environment differs:\nfront %q\nGo    %q", fast.env, slow.env)
					}
				}
			}
			// Back to Go: a rewritten configuration (the token is stale) ...
			r.writeConfig(t, map[string]string{"configured": "log_level = \"info\"", "fallback": "log_level = \"info\"\nrunc_link_dir = \"\""}[linkDir])
			if res := r.call(t, r.bin, start, env); !res.goRan || res.code != 0 {
				t.Fatalf("changed config: exit %d, Go ran %v", res.code, res.goRan)
			}
			if res := r.call(t, r.bin, start, env); res.goRan {
				t.Fatalf("the Go call after the change left no new cache")
			}
			// ... a missing runc link (Go recreates the fallback one; a
			// configured one is missing: fail-open, PATH without it) ...
			link := filepath.Join(r.link, "runc")
			if linkDir == "fallback" {
				real, _ := filepath.EvalSymlinks(r.bin)
				link = filepath.Join(shim.FallbackRuncLinkDir(real), "runc")
			}
			os.Remove(link)
			res := r.call(t, r.bin, start, env)
			if !res.goRan || res.code != 0 {
				t.Fatalf("missing link: exit %d, Go ran %v:\n%s", res.code, res.goRan, res.stderr)
			}
			if p, _ := getenvOf(res.env, "PATH"); strings.HasPrefix(p, filepath.Dir(link)) != (linkDir == "fallback") {
				t.Fatalf("missing %s link: PATH %q", linkDir, p)
			}
			// ... and a cache others may write.
			os.Symlink(r.bin, link)
			files, _ := filepath.Glob(filepath.Join(shim.RunLinkRoot, "fast-*"))
			for _, f := range files {
				if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(hex.EncodeToString([]byte(r.cfg)))) {
					os.Chmod(f, 0o666)
				}
			}
			if res := r.call(t, r.bin, start, env); !res.goRan {
				t.Fatalf("group/other-writable cache used")
			}
		})
	}
}

// TestFastPathRuncCache: runc calls that come without the token (the
// runc.v2 BinaryName form: no shim mode) take the C front once a Go runc
// call of the same binary and configuration has left its token in the
// cache, with the environment Go gives runc; a changed configuration or a
// cache others may write sends them back to Go.
func TestFastPathRuncCache(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (the cache is under /run)")
		}
		t.Skip("needs root: the cache is under /run")
	}
	r := newFastRig(t, "log_level = \"info\"")
	t.Cleanup(func() { removeFastCaches(r.cfg) })
	env := []string{"PATH=" + r.link + ":" + r.real + ":/usr/bin:/bin", shim.ConfigEnv + "=" + r.cfg, "KEEP=1", "KEEP=2", ""}
	args := passThroughCalls[0]
	first := r.call(t, filepath.Join(r.link, "runc"), args, env)
	if !first.goRan || first.code != 0 {
		t.Fatalf("first call: exit %d, Go ran %v:\n%s", first.code, first.goRan, first.stderr)
	}
	for _, a := range passThroughCalls {
		fast := r.call(t, filepath.Join(r.link, "runc"), a, env)
		if fast.goRan || fast.code != 0 {
			t.Fatalf("%q: the C front did not take it (exit %d):\n%s", a, fast.code, fast.stderr)
		}
		if want := append([]string{"/bin/sh", filepath.Join(r.real, "runc")}, a...); !slices.Equal(fast.argv, want) {
			t.Fatalf("argv %q, want %q", fast.argv, want)
		}
		if !slices.Equal(fast.env, first.env) {
			t.Fatalf("runc environment differs:\nfront %q\nGo    %q", fast.env, first.env)
		}
	}
	r.writeConfig(t, "log_level = \"info\"")
	if res := r.call(t, filepath.Join(r.link, "runc"), args, env); !res.goRan {
		t.Fatal("stale cache used after the configuration changed")
	}
	if res := r.call(t, filepath.Join(r.link, "runc"), args, env); res.goRan {
		t.Fatal("the Go call after the change left no new cache")
	}
	files, _ := filepath.Glob(filepath.Join(shim.RunLinkRoot, "runc-*"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(hex.EncodeToString([]byte(r.cfg)))) {
			os.Chmod(f, 0o646)
		}
	}
	if res := r.call(t, filepath.Join(r.link, "runc"), args, env); !res.goRan {
		t.Fatal("other-writable cache used")
	}
	// A create is measured whatever the cache says.
	b := filepath.Join(r.dir, "bundle")
	os.MkdirAll(filepath.Join(b, "rootfs"), 0o755)
	os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}`), 0o644)
	if res := r.call(t, filepath.Join(r.link, "runc"), []string{"--root", "/r", "create", "--bundle", b, "c"}, env); !res.goRan || res.code != 0 {
		t.Fatalf("create: exit %d, Go ran %v:\n%s", res.code, res.goRan, res.stderr)
	}
	if l, err := measurelist.Read(filepath.Join(r.dir, "list.json"), measurelist.JSON); err != nil || len(l) != 1 {
		t.Fatalf("list: %d entries, %v", len(l), err)
	}
}

// TestFastPathShimModeBadLinkLine: a shim-mode cache whose runc link
// line is empty, a bare kind or of no known kind sends the call to Go
// (which writes the cache again: the next call is fast).
func TestFastPathShimModeBadLinkLine(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (the cache is under /run)")
		}
		t.Skip("needs root: the cache is under /run")
	}
	r := newFastRig(t, "log_level = \"info\"")
	env := []string{"PATH=" + r.real + ":/usr/bin:/bin", shim.ConfigEnv + "=" + r.cfg, "KEEP=1"}
	start := []string{"-namespace", "n", "-address", "/a.sock", "-id", "c", "start"}
	if res := r.call(t, r.bin, start, env); !res.goRan || res.code != 0 {
		t.Fatalf("first shim call: exit %d, Go ran %v:\n%s", res.code, res.goRan, res.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(shim.RunLinkRoot, "fast-*"))
	var cache string
	for _, f := range files {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(hex.EncodeToString([]byte(r.cfg)))) {
			cache = f
		}
	}
	if cache == "" {
		t.Fatal("the Go shim mode left no cache")
	}
	for _, link := range []string{"", "c", "a", "c ", "a ", "x 2f"} {
		if res := r.call(t, r.bin, start, env); res.goRan || res.code != 0 {
			t.Fatalf("before %q: the C front did not take the call (exit %d):\n%s", link, res.code, res.stderr)
		}
		b, err := os.ReadFile(cache)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		lines[len(lines)-1] = link
		if err := os.WriteFile(cache, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res := r.call(t, r.bin, start, env)
		if !res.goRan || res.code != 0 || res.argv == nil {
			t.Fatalf("link line %q: exit %d, Go ran %v:\n%s", link, res.code, res.goRan, res.stderr)
		}
	}
}
