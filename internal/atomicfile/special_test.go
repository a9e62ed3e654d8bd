package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteKeepsSpecialFiles checks that an output path that is a symlink
// or a fifo (as /dev/stdout and /dev/null are) is written through, not
// replaced by a regular file, and that a regular file is replaced.
func TestWriteKeepsSpecialFiles(t *testing.T) {
	dir := t.TempDir()

	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("old content, longer than the new"), 0o644)
	link := filepath.Join(dir, "link")
	if err := os.Symlink("target", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced: %v %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Errorf("target holds %q, want %q", b, "new")
	}
	// A failing fill leaves the target as it was.
	if err := Write(link, 0o644, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return errors.New("boom")
	}); err == nil {
		t.Error("failing fill: no error")
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Errorf("after a failed write the target holds %q, want %q", b, "new")
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// The read end, opened without waiting for a writer (a regression
	// then fails instead of hanging).
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := WriteFile(fifo, []byte("through the fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); string(b) != "through the fifo" {
		t.Errorf("fifo reader got %q", b)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo replaced: %v %v", fi.Mode(), err)
	}

	regular := filepath.Join(dir, "regular")
	os.WriteFile(regular, []byte("old"), 0o600)
	if err := WriteFile(regular, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(regular); fi.Mode().Perm() != 0o644 {
		t.Errorf("regular file: mode %v, want 0644 (replaced atomically)", fi.Mode().Perm())
	}
}

// TestReplaceFileReplacesTheName: ReplaceFile swaps in a regular file at
// the name itself: a symlink there is replaced (its target untouched), a
// fifo is replaced without blocking (no reader is needed), and the new
// file has the given mode.
func TestReplaceFileReplacesTheName(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, fifo, filepath.Join(dir, "new")} {
		if err := ReplaceFile(p, []byte("data"), 0o640); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: after ReplaceFile %v %v, want a regular file 0640", p, fi.Mode(), err)
		}
		if b, _ := os.ReadFile(p); string(b) != "data" {
			t.Errorf("%s: content %q", p, b)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the symlink's target was written: %q", b)
	}
}
