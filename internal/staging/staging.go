package staging

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// LockName is the lock file of the staging directories made by Create.
const LockName = ".refval-staging.lock"

// Grace covers the moment between creating a lock file and locking it: a
// lock file younger than this is never taken for abandoned.
const Grace = 10 * time.Second

// Lock creates and locks the lock file name in dir; close the file to
// release the lock.
func Lock(dir, name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_RDWR|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Stale reports whether the staging directory dir, with lock file name,
// belongs to no live process (see the package doc). A directory without
// the lock file counts as stale only when legacy > 0 and its modification
// time is older than legacy (directories of a version that made no lock).
func Stale(dir, name string, legacy time.Duration) bool {
	f, ok := claim(dir, name, legacy)
	if f != nil {
		f.Close()
	}
	return ok
}

// claim is Stale that, for a directory with a lock file, returns the
// file holding its lock, so that the caller removes the directory while
// nobody else can claim it.
func claim(dir, name string, legacy time.Duration) (*os.File, bool) {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || !ours(fi) {
		return nil, false
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, errors.Is(err, fs.ErrNotExist) && legacy > 0 && time.Since(fi.ModTime()) > legacy
	}
	lfi, err := f.Stat()
	if err != nil || !lfi.Mode().IsRegular() || !ours(lfi) || time.Since(lfi.ModTime()) < Grace {
		f.Close()
		return nil, false
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, false // a live process holds it
	}
	return f, true
}

// ours reports whether the running user owns the file.
func ours(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// Sweep removes, with remove, the stale staging directories in parent
// whose names match pattern (an os.MkdirTemp pattern: "*" or a suffix
// wildcard) and that hold the lock file name. Errors are ignored: a
// directory that cannot be removed now is tried again at the next run.
func Sweep(parent, pattern, name string, legacy time.Duration, remove func(string) error) {
	glob := pattern
	if !strings.Contains(glob, "*") {
		glob += "*"
	}
	matches, _ := filepath.Glob(filepath.Join(parent, glob))
	for _, p := range matches {
		if f, ok := claim(p, name, legacy); ok {
			remove(p)
			if f != nil {
				f.Close()
			}
		}
	}
}

// Dir is a staging directory this process holds (Create).
type Dir struct {
	// Path is the directory.
	Path string
	lock *os.File
}

// Create removes the stale staging directories of pattern in parent
// (Sweep, with remove, no lock-less ones), then makes a new one
// (os.MkdirTemp) holding a locked LockName. An empty parent is
// os.TempDir(), as for os.MkdirTemp. The caller removes the
// directory when done with it, or renames it into place after Unlock,
// and then calls Close.
func Create(parent, pattern string, remove func(string) error) (*Dir, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	Sweep(parent, pattern, LockName, 0, remove)
	p, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return nil, err
	}
	f, err := Lock(p, LockName)
	if err != nil {
		os.Remove(p)
		return nil, err
	}
	return &Dir{Path: p, lock: f}, nil
}

// Unlock removes the lock file, keeping the directory locked by nothing:
// for a directory about to become a result (renamed into place), which no
// later run may then remove. A directory without its lock file is never
// swept (Create sweeps no lock-less ones).
func (d *Dir) Unlock() error {
	err := os.Remove(filepath.Join(d.Path, LockName))
	d.Close()
	return err
}

// Close releases the lock; the directory and lock file stay as they are.
func (d *Dir) Close() {
	if d.lock != nil {
		d.lock.Close()
		d.lock = nil
	}
}
