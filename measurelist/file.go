package measurelist

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/internal/boundedfile"
	"golang.org/x/sys/unix"
)

// MaxSize bounds a list file (64 MiB, about 200 000 distinct containers
// in JSON). Read refuses a larger file, and Append refuses an entry that
// would make the list larger: the list never grows without bound, and
// reading it never costs more than this.
const MaxSize = 64 << 20

// Errors of the list file. Each is wrapped with the path.
var (
	// ErrSymlink: the list or its lock is a symbolic link. The list is a
	// root-owned system file; following a link would let whoever placed it
	// make the shim rewrite (or create) a file elsewhere.
	ErrSymlink = errors.New("is a symbolic link")
	// ErrNotRegular: the list or its lock is a directory, FIFO, device or
	// socket (opening a FIFO could block, reading a device never end).
	ErrNotRegular = errors.New("is not a regular file")
	// ErrTooLarge: the list is (or would become) larger than MaxSize.
	ErrTooLarge = errors.New("measurement list too large")
)

// Read reads the list at path; a missing file is an empty list.
func Read(path string, f Format) ([]Entry, error) { return ReadCodec(path, f) }

// ReadCodec reads the list at path in wire format c.
func ReadCodec(path string, c Codec) ([]Entry, error) {
	raw, _, _, err := readFile(path)
	if err != nil {
		return nil, err
	}
	l, err := c.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// readFile reads the list file without following a symbolic link and
// without blocking on a FIFO, refusing anything but a regular file of at
// most MaxSize bytes; fi is the fstat of the file read. A missing file is
// (nil, false, nil, nil).
func readFile(path string) (raw []byte, exists bool, fi fs.FileInfo, err error) {
	raw, fi, err = boundedfile.ReadInfo(path, MaxSize, boundedfile.RefuseLinks)
	var fe *boundedfile.Error
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil, nil
	case errors.As(err, &fe):
		return nil, true, nil, listFileErr(fe)
	case err != nil:
		return nil, true, nil, fmt.Errorf("read measurement list: %w", err)
	}
	return raw, true, fi, nil
}

// listFileErr is the package's error for what boundedfile found wrong with
// the list file.
func listFileErr(fe *boundedfile.Error) error {
	switch {
	case errors.Is(fe, boundedfile.ErrSymlink):
		return fmt.Errorf("measurement list %s: %w", fe.Path, ErrSymlink)
	case errors.Is(fe, boundedfile.ErrNotRegular):
		return fmt.Errorf("measurement list %s: %w (%s)", fe.Path, ErrNotRegular, boundedfile.Kind(fe.Mode))
	case fe.Size < 0:
		return fmt.Errorf("measurement list %s: %w: grew past %d bytes while read", fe.Path, ErrTooLarge, fe.Limit)
	}
	return fmt.Errorf("measurement list %s: %w: %d bytes, limit %d", fe.Path, ErrTooLarge, fe.Size, fe.Limit)
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
// the old or the new list. Temporary files that a killed writer left
// behind are removed under the lock. Neither the list nor the lock may be
// a symbolic link or anything but a regular file.
func Append(path string, f Format, e Entry, commit CommitFunc) (added bool, err error) {
	return AppendCodec(path, f, e, commit)
}

// AppendCodec is Append for a list in wire format c (a Format, or the
// CMC v0.9 Artifact).
//
// For the codecs of this package, Append keeps the index LIST.idx (see
// listIndex): when it is trusted (a regular file of the effective uid,
// which also owns the list, that nobody else can write) and names c and
// the SHA-256 of the list's bytes, its template hashes decide duplicates
// and the entry is spliced into those bytes (the same bytes Encode would
// write) instead of decoding and re-encoding the whole list. Otherwise
// the list takes the full path, and a fresh index replaces the old one.
// Failing to read or write the index never fails Append.
func AppendCodec(path string, c Codec, e Entry, commit CommitFunc) (added bool, err error) {
	return appendCodec(path, c, e, commit, true)
}

// appendCodec is AppendCodec; useIndex false is the full path without
// the index (the benchmark's baseline).
func appendCodec(path string, c Codec, e Entry, commit CommitFunc, useIndex bool) (added bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("measurement list: %w", err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return false, err
	}
	defer unlock()
	removeStaleTemps(path)

	old, existed, listInfo, err := readFile(path)
	if err != nil {
		return false, err
	}
	sp, _ := c.(splicer)
	if !useIndex {
		sp = nil
	}
	var oldIdx []byte
	var b []byte
	var idx listIndex
	if sp != nil {
		oldIdx = trustedIndex(path, listInfo)
		if x, ok := validIndex(oldIdx, sp, old); ok {
			if x.has(e.TemplateSha256) {
				return false, nil
			}
			if b, err = sp.splice(old, len(x.templates), e); err == nil {
				idx = listIndex{codec: x.codec, sum: sha256.Sum256(b), templates: append(x.templates, e.TemplateSha256)}
			} else if !errors.Is(err, errNoSplice) {
				return false, err
			}
		}
	}
	if b == nil {
		l, err := c.Decode(old)
		if err != nil {
			// Never rewrite a list we cannot read: it is evidence.
			return false, fmt.Errorf("%s: %w", path, err)
		}
		for _, x := range l {
			if x.TemplateSha256 == e.TemplateSha256 {
				if sp != nil && existed {
					writeIndex(path, newIndex(sp.indexKey(), old, l).marshal())
				}
				return false, nil
			}
		}
		l = append(l, e)
		if b, err = c.Encode(l); err != nil {
			return false, err
		}
		if sp != nil {
			idx = newIndex(sp.indexKey(), b, l)
		}
	}
	if len(b) > MaxSize {
		return false, fmt.Errorf("measurement list %s: %w: adding %s would make it %d bytes, limit %d", path, ErrTooLarge, e.Name, len(b), MaxSize)
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return false, fmt.Errorf("measurement list: %w", err)
	}
	if sp != nil {
		writeIndex(path, idx.marshal())
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
		if sp != nil {
			// Back to the index of the restored list (or none: any index
			// whose hash does not match is ignored anyway).
			if rerr == nil && oldIdx != nil {
				writeIndex(path, oldIdx)
			} else {
				removeIndex(path)
			}
		}
		if rerr != nil {
			return false, errors.Join(cerr, fmt.Errorf("restore measurement list: %w", rerr))
		}
		return false, cerr
	}
	return true, nil
}

// removeStaleTemps removes the temporary files of earlier writers of the
// list at path that were killed between writing and renaming. It runs
// with the lock held, when no live writer has one open: every writer
// holds the lock while its temporary file exists. Only regular files
// matching atomicfile.TempPattern are removed; failures are ignored (the
// next writer tries again).
func removeStaleTemps(path string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), atomicfile.TempPattern(path)))
	idx, _ := filepath.Glob(filepath.Join(filepath.Dir(path), atomicfile.TempPattern(indexPath(path))))
	for _, m := range append(matches, idx...) {
		if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() {
			os.Remove(m)
		}
	}
}

// lockFile takes an exclusive flock on path (created if needed, never
// through a symbolic link) and returns the function that releases it.
// The kernel drops the lock if the process dies, so a crash never leaves
// the list locked.
func lockFile(path string) (func(), error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o644)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("lock measurement list: %s %w", path, ErrSymlink)
	}
	if err != nil {
		return nil, fmt.Errorf("lock measurement list: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	f := os.NewFile(uintptr(fd), path)
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s %w (%s)", path, ErrNotRegular, fi.Mode().Type())
		}
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
