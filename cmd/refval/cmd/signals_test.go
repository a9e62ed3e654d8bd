package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/internal/staging"
	ti "github.com/refval/refval/internal/testimage"
)

// A child process for the signal tests: refval (Run, as the binary runs
// it) with the arguments in REFVAL_TEST_SIGNAL_ARGS (a JSON array).
func init() {
	a := os.Getenv("REFVAL_TEST_SIGNAL_ARGS")
	if a == "" {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(a), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(99)
	}
	os.Exit(Run(args, os.Stdin, os.Stdout, os.Stderr))
}

// child is a refval process started by a test.
type child struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
	code   int
}

// startChild runs refval args in a child process with extra environment.
func startChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	a, _ := json.Marshal(args)
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), done: make(chan struct{})}
	c.cmd.Env = append(append(os.Environ(), "REFVAL_TEST_SIGNAL_ARGS="+string(a)), env...)
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.cmd.Wait()
		c.code = c.cmd.ProcessState.ExitCode()
		if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			c.code = 128 + int(ws.Signal())
		}
		close(c.done)
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

// wait waits for the child to exit; a child that does not exit within a
// minute hangs, which fails the test.
func (c *child) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(time.Minute):
		c.cmd.Process.Kill()
		<-c.done
		t.Fatalf("refval did not exit within a minute of the signal; stderr:\n%s", c.stderr.String())
		return 0
	}
}

// stallingRegistry serves one image (repository app, tag v1) over the
// registry API and stalls in the middle of its layer blob until the
// client goes away; stalled is closed once a client is stalled there.
type stallingRegistry struct {
	built   *ti.Built
	stalled chan struct{}
	once    sync.Once
}

func (s *stallingRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	blob := func(b []byte, mt string) {
		w.Header().Set("Content-Type", mt)
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		if r.Method != http.MethodHead {
			w.Write(b)
		}
	}
	switch p := r.URL.Path; {
	case p == "/v2/":
		w.Write([]byte("{}"))
	case p == "/v2/app/manifests/v1" || p == "/v2/app/manifests/"+s.built.ManifestDesc.Digest.String():
		w.Header().Set("Docker-Content-Digest", s.built.ManifestDesc.Digest.String())
		blob(s.built.Manifest, ocispec.MediaTypeImageManifest)
	case p == "/v2/app/blobs/"+s.built.ConfigDesc.Digest.String():
		blob(s.built.Config, "application/octet-stream")
	case p == "/v2/app/blobs/"+s.built.LayerDescs[0].Digest.String():
		l := s.built.Layers[0]
		w.Header().Set("Content-Length", fmt.Sprint(len(l)))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(l[:len(l)/2])
		w.(http.Flusher).Flush()
		s.once.Do(func() { close(s.stalled) })
		<-r.Context().Done()
	default:
		http.NotFound(w, r)
	}
}

// largeImage is an image whose unpack takes a while (n files).
func largeImage(n int) ti.Image {
	l := ti.Layer{}
	for d := 0; d < (n+999)/1000; d++ {
		l = append(l, ti.Dir(fmt.Sprintf("d%03d", d), 0o755))
	}
	for i := 0; i < n; i++ {
		l = append(l, ti.File(fmt.Sprintf("d%03d/f%06d", i/1000, i), 0o644, "x"))
	}
	return ti.Image{Layers: []ti.Layer{l}, Compress: true}
}

// TestSignalDuringPull: pull, unpack and measure stopped by SIGINT or
// SIGTERM while the pull waits for a layer exit 128+signal, saying so,
// and leave no staging directory in the store, no image in its index,
// no bundle and no temporary directory.
func TestSignalDuringPull(t *testing.T) {
	b, err := ti.Build(ti.Image{Layers: []ti.Layer{{ti.File("a", 0o644, strings.Repeat("a", 64<<10))}}, Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"pull", "unpack", "measure"} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(sub+"/"+sig.String(), func(t *testing.T) {
				reg := &stallingRegistry{built: b, stalled: make(chan struct{})}
				srv := httptest.NewServer(reg)
				defer srv.Close()
				dir := t.TempDir()
				store, tmp, dest := filepath.Join(dir, "store"), filepath.Join(dir, "tmp"), filepath.Join(dir, "out", "bundle")
				os.Mkdir(tmp, 0o700)
				args := []string{sub, "--layout", store, "--insecure-policy", "--tls-verify=false", "docker://" + strings.TrimPrefix(srv.URL, "http://") + "/app:v1"}
				if sub == "unpack" {
					args = append(args, dest)
				}
				c := startChild(t, []string{"TMPDIR=" + tmp}, args...)
				select {
				case <-reg.stalled:
				case <-c.done:
					t.Fatalf("refval exited %d before it read the layer: %s", c.code, c.stderr.String())
				case <-time.After(time.Minute):
					t.Fatalf("refval never asked for the layer: %s", c.stderr.String())
				}
				if m, _ := filepath.Glob(filepath.Join(store, ".pull-*")); len(m) != 1 {
					t.Fatalf("staging directories during the pull: %v", m)
				}
				c.cmd.Process.Signal(sig)
				if code := c.wait(t); code != 128+int(sig) || !strings.Contains(c.stderr.String(), "stopped by signal") {
					t.Errorf("exit %d, stderr %q; want %d and the signal named", code, c.stderr.String(), 128+int(sig))
				}
				if m, _ := filepath.Glob(filepath.Join(store, ".pull-*")); len(m) != 0 {
					t.Errorf("left in the store: %v", m)
				}
				// Only complete blobs, named by their digest, and the
				// store's own files: no partial blob.
				filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					rel, _ := filepath.Rel(store, p)
					switch {
					case rel == "index.json", rel == "oci-layout", rel == ".refval.lock":
					case strings.HasPrefix(rel, "blobs/sha256/") && digest.Digest("sha256:"+d.Name()).Validate() == nil:
					default:
						t.Errorf("left in the store: %s", rel)
					}
					return nil
				})
				if idx, err := os.ReadFile(filepath.Join(store, "index.json")); err == nil && strings.Contains(string(idx), b.ManifestDesc.Digest.String()) {
					t.Errorf("the interrupted pull is in the index: %s", idx)
				}
				for _, d := range []string{tmp, filepath.Dir(dest)} {
					if ents, _ := os.ReadDir(d); len(ents) != 0 {
						t.Errorf("left in %s: %v", d, ents)
					}
				}
			})
		}
	}
}

// interruptWhenStaged starts refval args and sends sig as soon as a
// directory named prefix* appears in dir (the operation's staging
// directory: the signal lands while it works there). The image's unpack
// takes long enough for that; should refval still finish first (exit 0),
// the run is repeated with four times the files.
func interruptWhenStaged(t *testing.T, sig syscall.Signal, dir, prefix string, env []string, args func(ref string) []string) (*child, []string) {
	t.Helper()
	for n := 20000; n <= 320000; n *= 4 {
		c := startChild(t, env, args(imageRef(t, largeImage(n)))...)
		var seen []string
	poll:
		for {
			select {
			case <-c.done:
				break poll
			default:
			}
			if seen, _ = filepath.Glob(filepath.Join(dir, prefix+"*")); len(seen) > 0 {
				c.cmd.Process.Signal(sig)
				break
			}
			time.Sleep(time.Millisecond)
		}
		if code := c.wait(t); code != 0 || len(seen) == 0 {
			t.Logf("%d files: exit %d, stderr: %s", n, code, c.stderr.String())
			return c, seen
		}
		t.Logf("%d files: refval finished before the signal; again, larger", n)
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o755)
	}
	t.Fatal("refval always finished before the signal")
	return nil, nil
}

// TestSignalDuringUnpack: unpack (its bundle half-written in
// .refval-unpack-*) and measure --scheme cmc (its temporary bundle in
// $TMPDIR/refval-measure-*) stopped by a signal remove what they wrote.
func TestSignalDuringUnpack(t *testing.T) {
	if testing.Short() {
		t.Skip("unpacks large images (-short)")
	}
	t.Run("unpack/SIGINT", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		os.Mkdir(out, 0o755)
		store := filepath.Join(t.TempDir(), "store")
		c, seen := interruptWhenStaged(t, syscall.SIGINT, out, ".refval-unpack-", nil, func(ref string) []string {
			return []string{"unpack", "--layout", store, "--insecure-policy", ref, filepath.Join(out, "bundle")}
		})
		if c.code != 130 || len(seen) == 0 {
			t.Errorf("exit %d (staged %v), stderr %q; want 130", c.code, seen, c.stderr.String())
		}
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Errorf("left behind: %v", ents)
		}
	})
	t.Run("measure-cmc/SIGTERM", func(t *testing.T) {
		tmp := filepath.Join(t.TempDir(), "tmp")
		os.Mkdir(tmp, 0o755)
		store := filepath.Join(t.TempDir(), "store")
		c, seen := interruptWhenStaged(t, syscall.SIGTERM, tmp, "refval-measure-", []string{"TMPDIR=" + tmp}, func(ref string) []string {
			return []string{"measure", "--scheme", "cmc", "--layout", store, "--insecure-policy", ref}
		})
		if c.code != 143 || len(seen) == 0 {
			t.Errorf("exit %d (staged %v), stderr %q; want 143", c.code, seen, c.stderr.String())
		}
		if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
			t.Errorf("left behind: %v", ents)
		}
	})
}

// TestKilledUnpackSwept: what an unpack killed with SIGKILL leaves (its
// lock released by the kernel) is removed by the next unpack into the
// same directory; a live unpack's directory, one without a lock file, one
// with a fresh lock and anything else named alike are kept. The same for
// measure's temporary bundles in $TMPDIR.
func TestKilledUnpackSwept(t *testing.T) {
	if testing.Short() {
		t.Skip("unpacks large images (-short)")
	}
	out := filepath.Join(t.TempDir(), "out")
	os.Mkdir(out, 0o755)
	store := filepath.Join(t.TempDir(), "store")
	var killed string
	for try := 0; killed == "" && try < 3; try++ {
		_, seen := interruptWhenStaged(t, syscall.SIGKILL, out, ".refval-unpack-", nil, func(ref string) []string {
			return []string{"unpack", "--layout", store, "--insecure-policy", ref, filepath.Join(out, "bundle")}
		})
		if len(seen) != 1 {
			t.Fatalf("staged: %v", seen)
		}
		if _, err := os.Stat(filepath.Join(seen[0], staging.LockName)); err == nil {
			killed = seen[0]
			break
		}
		// Killed after the bundle was renamed into place: again.
		t.Logf("killed after the unpack finished (%v); again", seen)
		os.RemoveAll(out)
		os.Mkdir(out, 0o755)
	}
	if killed == "" {
		t.Fatal("the kill never landed during the unpack")
	}
	old := time.Now().Add(-time.Minute)
	os.Chtimes(filepath.Join(killed, staging.LockName), old, old) // beyond staging.Grace
	decoys := map[string]bool{}
	mk := func(name string, lock, aged bool) string {
		d := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Join(d, "rootfs"), 0o700); err != nil {
			t.Fatal(err)
		}
		if lock {
			os.WriteFile(filepath.Join(d, staging.LockName), nil, 0o600)
			if aged {
				os.Chtimes(filepath.Join(d, staging.LockName), old, old)
			}
		}
		os.Chtimes(d, old.Add(-48*time.Hour), old.Add(-48*time.Hour))
		decoys[d] = true
		return d
	}
	live := mk(".refval-unpack-live", true, true)
	mk(".refval-unpack-nolock", false, false)
	mk(".refval-unpack-fresh", true, false)
	mk("other-dir", true, true)
	f, err := os.Open(filepath.Join(live, staging.LockName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ref := imageRef(t, ti.Image{Layers: []ti.Layer{{ti.File("a", 0o644, "a")}}})
	if _, errs, code := runCLI(t, "unpack", "--layout", store, "--insecure-policy", ref, filepath.Join(out, "next")); code != 0 {
		t.Fatalf("next unpack: %s", errs)
	}
	if _, err := os.Stat(killed); err == nil {
		t.Errorf("the killed unpack's %s was kept", filepath.Base(killed))
	}
	for d := range decoys {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed", filepath.Base(d))
		}
	}
	if _, err := os.Stat(filepath.Join(out, "next", staging.LockName)); err == nil {
		t.Error("the lock file is in the bundle")
	}

	// measure: a temporary bundle of a dead measure (its lock free).
	tmp := filepath.Join(t.TempDir(), "tmp")
	os.Mkdir(tmp, 0o755)
	t.Setenv("TMPDIR", tmp)
	sd, err := staging.Create(tmp, "refval-measure-", os.RemoveAll)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(sd.Path, "bundle", "rootfs"), 0o700)
	sd.Close()
	os.Chtimes(filepath.Join(sd.Path, staging.LockName), old, old)
	if _, errs, code := runCLI(t, "measure", "--scheme", "cmc", "--layout", store, "--insecure-policy", ref); code != 0 {
		t.Fatalf("measure: %s", errs)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("left in TMPDIR after the next measure: %v", ents)
	}
}
