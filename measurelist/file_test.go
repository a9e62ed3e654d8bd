package measurelist

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// within fails t if fn does not return within a few seconds: the calls
// tested here used to block forever.
func within(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still blocked after 5 s", what)
		return nil
	}
}

// A list path that is a symbolic link is refused, and neither the link's
// target nor anything else is written.
func TestAppendRefusesSymlinkList(t *testing.T) {
	d := t.TempDir()
	target := filepath.Join(d, "elsewhere")
	os.WriteFile(target, []byte("keep"), 0o644)
	dangling := filepath.Join(d, "nothing-here")
	for name, to := range map[string]string{"existing": target, "dangling": dangling} {
		t.Run(name, func(t *testing.T) {
			list := filepath.Join(t.TempDir(), "list.json")
			if err := os.Symlink(to, list); err != nil {
				t.Fatal(err)
			}
			if _, err := Append(list, JSON, entry("a"), nil); !errors.Is(err, ErrSymlink) {
				t.Errorf("Append through a symlink: %v, want ErrSymlink", err)
			}
			if _, err := Read(list, JSON); !errors.Is(err, ErrSymlink) {
				t.Errorf("Read through a symlink: %v, want ErrSymlink", err)
			}
			if b, _ := os.ReadFile(target); string(b) != "keep" {
				t.Errorf("symlink target rewritten: %q", b)
			}
			if _, err := os.Lstat(dangling); !os.IsNotExist(err) {
				t.Errorf("dangling symlink target created: %v", err)
			}
			if fi, err := os.Lstat(list); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the link itself was replaced: %v %v", fi, err)
			}
		})
	}
}

// A lock path that is a symbolic link is refused: the lock is never
// created where the link points.
func TestAppendRefusesSymlinkLock(t *testing.T) {
	d := t.TempDir()
	list := filepath.Join(d, "list.json")
	where := filepath.Join(d, "created-by-the-link")
	if err := os.Symlink(where, list+".lock"); err != nil {
		t.Fatal(err)
	}
	if _, err := Append(list, JSON, entry("a"), nil); !errors.Is(err, ErrSymlink) {
		t.Errorf("Append with a symlink lock: %v, want ErrSymlink", err)
	}
	if _, err := os.Lstat(where); !os.IsNotExist(err) {
		t.Errorf("the lock symlink created its target: %v", err)
	}
	if _, err := os.Lstat(list); !os.IsNotExist(err) {
		t.Errorf("list written without the lock: %v", err)
	}
}

// A FIFO as list or lock is refused at once instead of blocking.
func TestListFIFO(t *testing.T) {
	t.Run("list", func(t *testing.T) {
		list := filepath.Join(t.TempDir(), "list.json")
		if err := unix.Mkfifo(list, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := within(t, "Read of a FIFO", func() error { _, err := Read(list, JSON); return err }); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Read: %v, want ErrNotRegular", err)
		}
		if err := within(t, "Append to a FIFO", func() error { _, err := Append(list, JSON, entry("a"), nil); return err }); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Append: %v, want ErrNotRegular", err)
		}
	})
	t.Run("lock", func(t *testing.T) {
		list := filepath.Join(t.TempDir(), "list.json")
		if err := unix.Mkfifo(list+".lock", 0o644); err != nil {
			t.Fatal(err)
		}
		if err := within(t, "Append with a FIFO lock", func() error { _, err := Append(list, JSON, entry("a"), nil); return err }); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Append: %v, want ErrNotRegular", err)
		}
	})
}

// A list larger than MaxSize is refused without being read whole.
func TestReadTooLarge(t *testing.T) {
	list := filepath.Join(t.TempDir(), "list.json")
	f, err := os.Create(list)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(MaxSize + 1) // sparse: costs no disk
	f.Close()
	if _, err := Read(list, JSON); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Read: %v, want ErrTooLarge", err)
	}
	if _, err := Append(list, JSON, entry("a"), nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append: %v, want ErrTooLarge", err)
	}
}

// Temporary files of writers killed before their rename (kill -9 during
// an update) are removed by the next append; other files stay.
func TestAppendRemovesStaleTemps(t *testing.T) {
	d := t.TempDir()
	list := filepath.Join(d, "list.json")
	stale := []string{".list.json.tmp-123456", ".list.json.tmp-9"}
	keep := []string{".other.json.tmp-1", "list.json.tmp-1", ".list.json.bak"}
	for _, n := range append(append([]string{}, stale...), keep...) {
		os.WriteFile(filepath.Join(d, n), []byte("[{"), 0o644)
	}
	os.Mkdir(filepath.Join(d, ".list.json.tmp-dir"), 0o755)
	if _, err := Append(list, JSON, entry("a"), nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range stale {
		if _, err := os.Lstat(filepath.Join(d, n)); !os.IsNotExist(err) {
			t.Errorf("stale temporary %s not removed: %v", n, err)
		}
	}
	for _, n := range append(keep, ".list.json.tmp-dir") {
		if _, err := os.Lstat(filepath.Join(d, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
	if l, err := Read(list, JSON); err != nil || len(l) != 1 {
		t.Errorf("list %v %v", l, err)
	}
}
