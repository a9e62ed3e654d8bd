package boundedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// within runs fn and fails the test if it is still blocked after 10 s,
// then unblocks a FIFO reader at p so that fn's goroutine ends.
func within(t *testing.T, p string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		if f, err := os.OpenFile(p, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		t.Fatalf("%s: still blocked after 10 s", p)
		return nil
	}
}

// TestNotRegular: a FIFO (which a blocking open would wait on for a
// writer forever), a directory and a character device are refused at
// once by Open and Read, under both link policies, naming the file and
// its type.
func TestNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, kind string }{
		{fifo, "FIFO"},
		{dir, "directory"},
		{"/dev/null", "character device"},
	}
	for _, c := range cases {
		for _, links := range []Links{FollowLinks, RefuseLinks} {
			for name, fn := range map[string]func() error{
				"Open": func() error {
					f, err := Open(c.path, links)
					if f != nil {
						f.Close()
					}
					return err
				},
				"Read": func() error { _, err := Read(c.path, 1<<20, links); return err },
			} {
				err := within(t, c.path, fn)
				var e *Error
				if !errors.Is(err, ErrNotRegular) || !errors.As(err, &e) || e.Path != c.path {
					t.Errorf("%s %s (links %v): %v, want an *Error wrapping ErrNotRegular", name, c.path, links, err)
					continue
				}
				if msg := err.Error(); !strings.Contains(msg, c.path) || !strings.Contains(msg, c.kind) || !strings.Contains(msg, "not a regular file") {
					t.Errorf("%s %s: %q, want it to name the file as a %s, not a regular file", name, c.path, msg, c.kind)
				}
			}
		}
	}
}

// TestLimit: a file of exactly limit bytes is read whole; one byte more is
// refused naming the file and the limit, whether fstat tells (a sparse
// file, not read) or only the read does (a /proc file, whose size is 0).
func TestLimit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := Read(p, 10, FollowLinks)
	if err != nil || string(b) != "0123456789" {
		t.Errorf("Read at the limit: %q, %v", b, err)
	}
	_, err = Read(p, 9, FollowLinks)
	var e *Error
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &e) || e.Size != 10 || e.Limit != 9 {
		t.Fatalf("Read over the limit: %v, want ErrTooLarge with size 10, limit 9", err)
	}
	if msg := err.Error(); !strings.Contains(msg, p) || !strings.Contains(msg, "limit of 9 bytes") {
		t.Errorf("over the limit: %q, want it to name %s and the limit", msg, p)
	}

	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 40); err != nil { // 1 TiB: reading it whole would never end
		t.Skipf("no sparse file here: %v", err)
	}
	f.Close()
	if _, err := Read(sparse, 1<<20, RefuseLinks); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprint(1<<20)) {
		t.Errorf("1 TiB sparse file: %v, want ErrTooLarge naming the limit", err)
	}

	// /proc/self/status is a regular file that fstat says is empty.
	if fi, err := os.Stat("/proc/self/status"); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Skipf("no /proc/self/status of size 0: %v", err)
	}
	_, err = Read("/proc/self/status", 16, FollowLinks)
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &e) || e.Size != -1 || !strings.Contains(err.Error(), "limit of 16 bytes") {
		t.Errorf("/proc/self/status with limit 16: %v, want ErrTooLarge after the read, naming the limit", err)
	}
}

// TestLinks: FollowLinks reads the file a link names (and refuses a link
// to a FIFO as a FIFO); RefuseLinks refuses the link itself with
// ErrSymlink, whatever it names, but follows links in the directories
// above the file. A missing file is fs.ErrNotExist under both.
func TestLinks(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	fifo := filepath.Join(dir, "fifo")
	os.WriteFile(file, []byte("x"), 0o644)
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	toFile, toFifo, dangling := filepath.Join(dir, "to-file"), filepath.Join(dir, "to-fifo"), filepath.Join(dir, "dangling")
	os.Symlink(file, toFile)
	os.Symlink(fifo, toFifo)
	os.Symlink(filepath.Join(dir, "none"), dangling)
	linkedDir := filepath.Join(t.TempDir(), "d")
	os.Symlink(dir, linkedDir)

	if b, err := Read(toFile, 10, FollowLinks); err != nil || string(b) != "x" {
		t.Errorf("FollowLinks through a link: %q, %v", b, err)
	}
	if err := within(t, fifo, func() error { _, err := Read(toFifo, 10, FollowLinks); return err }); !errors.Is(err, ErrNotRegular) {
		t.Errorf("FollowLinks, link to a FIFO: %v, want ErrNotRegular", err)
	}
	for _, l := range []string{toFile, toFifo, dangling} {
		err := within(t, fifo, func() error { _, err := Read(l, 10, RefuseLinks); return err })
		if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), l) {
			t.Errorf("RefuseLinks %s: %v, want ErrSymlink naming the link", l, err)
		}
	}
	if b, err := Read(filepath.Join(linkedDir, "file"), 10, RefuseLinks); err != nil || string(b) != "x" {
		t.Errorf("RefuseLinks under a linked directory: %q, %v", b, err)
	}
	for _, links := range []Links{FollowLinks, RefuseLinks} {
		if _, err := Read(filepath.Join(dir, "none"), 10, links); !errors.Is(err, fs.ErrNotExist) || errors.As(err, new(*Error)) {
			t.Errorf("missing file (links %v): %v, want fs.ErrNotExist", links, err)
		}
	}
	if _, err := Read(dangling, 10, FollowLinks); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("FollowLinks, dangling link: %v, want fs.ErrNotExist", err)
	}
}
