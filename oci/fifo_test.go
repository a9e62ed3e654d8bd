package oci

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	ti "github.com/refval/refval/internal/testimage"
)

// noHang runs fn and fails the test when it has not returned after a
// while: a FIFO opened for reading waits for a writer forever.
func noHang(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s hangs", what)
		return nil
	}
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFIFOs: a FIFO (or another non-regular file) as index.json, a blob
// or the config, in an oci: source, in the store, or inside an
// oci-archive: fails at once with ErrInvalidImage naming the file, and
// leaves no extraction behind.
func TestFIFOs(t *testing.T) {
	ctx := context.Background()
	img := simpleImage()
	b, err := ti.Build(img)
	if err != nil {
		t.Fatal(err)
	}
	blob := func(dir, d string) string { return filepath.Join(dir, "blobs", "sha256", d) }
	var (
		index  = func(dir string) string { return filepath.Join(dir, "index.json") }
		config = func(dir string) string { return blob(dir, b.ConfigDesc.Digest.Encoded()) }
		lay    = func(dir string) string { return blob(dir, b.LayerDescs[0].Digest.Encoded()) }
		man    = func(dir string) string { return blob(dir, b.ManifestDesc.Digest.Encoded()) }
	)
	files := map[string]func(string) string{"index.json": index, "config": config, "layer": lay, "manifest": man}
	check := func(t *testing.T, what string, err error, name string) {
		t.Helper()
		if !errors.Is(err, ErrInvalidImage) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "FIFO") {
			t.Errorf("%s: err = %v, want ErrInvalidImage naming the FIFO %s", what, err, name)
		}
	}
	for name, file := range files {
		t.Run("oci source "+name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "src")
			if _, err := ti.WriteLayout(dir, "v1", img); err != nil {
				t.Fatal(err)
			}
			mkfifo(t, file(dir))
			store := filepath.Join(t.TempDir(), "store")
			err := noHang(t, "pull", func() error {
				_, err := Pull(ctx, "oci:"+dir+":v1", WithLayout(store), WithInsecurePolicy())
				return err
			})
			check(t, "pull", err, file(dir))
			assertStoreEmpty(t, store)
		})
		t.Run("store "+name, func(t *testing.T) {
			ref := layoutRef(t, img)
			store := filepath.Join(t.TempDir(), "store")
			if _, err := Pull(ctx, ref, WithLayout(store), WithInsecurePolicy()); err != nil {
				t.Fatal(err)
			}
			mkfifo(t, file(store))
			opts := []Option{WithLayout(store), WithPullPolicy(PullNever), WithRootless(os.Geteuid() != 0)}
			err := noHang(t, "measure", func() error { _, err := MeasureImage(ctx, ref, opts...); return err })
			check(t, "measure", err, file(store))
			parent := t.TempDir()
			err = noHang(t, "unpack", func() error { _, err := Unpack(ctx, ref, filepath.Join(parent, "b"), opts...); return err })
			check(t, "unpack", err, file(store))
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("unpack left %v", ents)
			}
		})
		t.Run("oci-archive entry "+name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "src")
			if _, err := ti.WriteLayout(dir, "v1", img); err != nil {
				t.Fatal(err)
			}
			mkfifo(t, file(dir))
			arch := filepath.Join(t.TempDir(), "a.tar")
			if err := ti.TarDir(arch, dir); err != nil {
				t.Fatal(err)
			}
			store := filepath.Join(t.TempDir(), "store")
			err := noHang(t, "pull", func() error {
				_, err := Pull(ctx, "oci-archive:"+arch+":v1", WithLayout(store), WithInsecurePolicy())
				return err
			})
			check(t, "pull", err, strings.TrimPrefix(file(dir), dir+"/"))
			assertStoreEmpty(t, store)
		})
	}
	t.Run("archive is a FIFO", func(t *testing.T) {
		for _, tr := range []string{"oci-archive", "docker-archive"} {
			p := filepath.Join(t.TempDir(), "a.tar")
			mkfifo(t, p)
			err := noHang(t, tr, func() error {
				_, err := Pull(ctx, tr+":"+p, WithLayout(filepath.Join(t.TempDir(), "store")), WithInsecurePolicy())
				return err
			})
			check(t, tr, err, p)
		}
	})
}

// TestStaleStaging: staging directories of killed pulls (their lock is
// free) are removed at the next pull with what they hold, a live pull's
// is kept, and a lock-less one (an older refval) only after a day.
func TestStaleStaging(t *testing.T) {
	ctx := context.Background()
	store := filepath.Join(t.TempDir(), "store")
	ref := layoutRef(t, simpleImage())
	if _, err := Pull(ctx, ref, WithLayout(store), WithInsecurePolicy()); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	mk := func(name string, lock bool) string {
		d := filepath.Join(store, name)
		if err := os.MkdirAll(filepath.Join(d, "tmp", "container_images_oci123", "blobs"), 0o700); err != nil {
			t.Fatal(err)
		}
		if lock {
			f, err := os.Create(filepath.Join(d, stagingLock))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			os.Chtimes(filepath.Join(d, stagingLock), old, old)
		}
		return d
	}
	killed := mk(".pull-killed", true)
	live := mk(".pull-live", true)
	legacy := mk(".pull-legacy", false)
	fresh := mk(".pull-fresh", true)
	os.Chtimes(filepath.Join(fresh, stagingLock), time.Now(), time.Now())
	// A live pull: its lock is held (by another open file description).
	f, err := os.Open(filepath.Join(live, stagingLock))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, ref, WithLayout(store), WithInsecurePolicy()); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]bool{killed: false, live: true, legacy: true, fresh: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
	day := time.Now().Add(-25 * time.Hour)
	os.Chtimes(legacy, day, day)
	if _, err := Pull(ctx, ref, WithLayout(store), WithInsecurePolicy()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(legacy); err == nil {
		t.Error("a lock-less staging directory a day old was kept")
	}
}

// A child process for TestKilledPull: it pulls the oci-archive named by
// the environment and stops for good at the first progress line (the
// archive is extracted by then), saying so on stdout.
func init() {
	arch, store := os.Getenv("REFVAL_TEST_KILLED_PULL"), os.Getenv("REFVAL_TEST_KILLED_PULL_STORE")
	if arch == "" {
		return
	}
	Pull(context.Background(), "oci-archive:"+arch+":v1", WithLayout(store), WithInsecurePolicy(), WithProgress(stopWriter{}))
	os.Exit(2)
}

type stopWriter struct{}

func (stopWriter) Write(p []byte) (int, error) {
	os.Stdout.WriteString("ready\n")
	time.Sleep(time.Hour) // until killed
	return len(p), nil
}

// TestKilledPull: a pull killed (SIGKILL) while its oci-archive is
// extracted leaves the extraction inside its staging directory, not in
// /var/tmp (containers/image's default), and the next pull removes it.
func TestKilledPull(t *testing.T) {
	arch := filepath.Join(t.TempDir(), "a.tar")
	if _, err := ti.WriteOCIArchive(arch, "v1", simpleImage()); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(t.TempDir(), "store")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "REFVAL_TEST_KILLED_PULL="+arch, "REFVAL_TEST_KILLED_PULL_STORE="+store)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q, %v", line, err)
	}
	extracted, _ := filepath.Glob(filepath.Join(store, ".pull-*", "tmp", "container_images_oci*"))
	cmd.Process.Kill()
	cmd.Wait()
	// The extraction is in the staging directory (not /var/tmp, which
	// other processes share, so it is not counted there).
	if len(extracted) != 1 {
		t.Errorf("extractions in the staging directory: %v", extracted)
	}
	// The lock file of the killed pull must look old enough.
	locks, _ := filepath.Glob(filepath.Join(store, ".pull-*", stagingLock))
	for _, l := range locks {
		old := time.Now().Add(-time.Minute)
		os.Chtimes(l, old, old)
	}
	if _, err := Pull(context.Background(), "oci-archive:"+arch+":v1", WithLayout(store), WithInsecurePolicy()); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(store, ".pull-*")); len(m) != 0 {
		t.Errorf("left behind after the next pull: %v", m)
	}
}
