package measurelist

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/refval/refval/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// Read reads the list at path; a missing file is an empty list.
func Read(path string, f Format) ([]Entry, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read measurement list: %w", err)
	}
	l, err := Decode(raw, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// CommitFunc is called with the list lock held after a new entry was
// written; an error makes Append restore the previous list, so the list
// and what a driver recorded never diverge.
type CommitFunc func(Entry) error

// Append adds e to the list at path unless an entry with the same
// template hash is already there (then added is false and commit is not
// called). The read-modify-write runs under an exclusive flock on
// path+".lock" (the list itself is replaced by rename, so it cannot carry
// the lock); the new list is written to a temporary file, fsynced and
// renamed, so concurrent writers lose nothing and a crash leaves either
// the old or the new list.
func Append(path string, f Format, e Entry, commit CommitFunc) (added bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("measurement list: %w", err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return false, err
	}
	defer unlock()

	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("read measurement list: %w", err)
	}
	existed := err == nil
	l, err := Decode(old, f)
	if err != nil {
		// Never rewrite a list we cannot read: it is evidence.
		return false, fmt.Errorf("%s: %w", path, err)
	}
	for _, x := range l {
		if x.TemplateSha256 == e.TemplateSha256 {
			return false, nil
		}
	}
	b, err := Encode(append(l, e), f)
	if err != nil {
		return false, err
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return false, fmt.Errorf("measurement list: %w", err)
	}
	if commit == nil {
		return true, nil
	}
	if cerr := commit(e); cerr != nil {
		var rerr error
		if existed {
			rerr = atomicfile.WriteFile(path, old, 0o644)
		} else {
			rerr = os.Remove(path)
		}
		if rerr != nil {
			return false, errors.Join(cerr, fmt.Errorf("restore measurement list: %w", rerr))
		}
		return false, cerr
	}
	return true, nil
}

// lockFile takes an exclusive flock on path (created if needed) and
// returns the function that releases it. The kernel drops the lock if the
// process dies, so a crash never leaves the list locked.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock measurement list: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}
