package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"hash"
	"slices"

	"golang.org/x/sys/unix"
)

// CapabilityXattr holds file capabilities. It is measured because it grants
// privilege without changing a file's content, mode or owner.
const CapabilityXattr = "security.capability"

// describer turns a stat and the entry's xattrs into the record's type,
// mode, owner, device numbers and capability. Each goroutine has its own
// (the xattr scratch buffer is not shared).
type describer struct {
	ids  idMapper
	xbuf []byte
}

// fileHasher is a worker's reusable hash state and read buffer.
type fileHasher struct {
	h   hash.Hash
	buf []byte
}

// hashFile describes and hashes a regular file opened and stat'ed by the
// caller, and checks that it did not change while being read: exactly
// the stat's size read (a file that claims to be empty is read once to
// be sure), and the same size, mtime, ctime, mode and owner after the
// read as at the open. A file that grows after its last byte was read has
// a new size or ctime at the second stat.
func (d *describer) hashFile(rec *Record, f *openFile, fh *fileHasher) error {
	if err := d.describe(rec, &f.st, xattrSrc{fd: f.fd}); err != nil {
		return fmt.Errorf("%s: %w", rec.Path, err)
	}
	st := &f.st
	if st.Size > 4<<20 {
		unix.Fadvise(f.fd, 0, 0, unix.FADV_SEQUENTIAL) // a hint: errors do not matter
	}
	fh.h.Reset()
	var n int64
	for n < st.Size || st.Size == 0 {
		m, err := unix.Read(f.fd, fh.buf[:min(int64(len(fh.buf)), max(st.Size-n, 1))])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: read: %w", rec.Path, err)
		}
		if m == 0 {
			break
		}
		fh.h.Write(fh.buf[:m])
		n += int64(m)
		if st.Size == 0 {
			break
		}
	}
	var after unix.Stat_t
	if err := unix.Fstat(f.fd, &after); err != nil {
		return fmt.Errorf("%s: %w", rec.Path, err)
	}
	if n != st.Size || after.Size != st.Size || after.Mtim != st.Mtim || after.Ctim != st.Ctim ||
		after.Mode != st.Mode || after.Uid != st.Uid || after.Gid != st.Gid {
		return fmt.Errorf("%s: %w", rec.Path, ErrFileChanged)
	}
	fh.h.Sum(rec.Sha256[:0])
	return nil
}

// describe sets type, mode, owner, device numbers and capability of rec.
func (d *describer) describe(rec *Record, st *unix.Stat_t, xa xattrSrc) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		rec.Type = TypeDir
	case unix.S_IFREG:
		rec.Type = TypeFile
	case unix.S_IFLNK:
		rec.Type = TypeSymlink
	case unix.S_IFCHR:
		rec.Type = TypeChar
	case unix.S_IFBLK:
		rec.Type = TypeBlock
	case unix.S_IFIFO:
		rec.Type = TypeFifo
	case unix.S_IFSOCK:
		rec.Type = TypeSocket
	default:
		return fmt.Errorf("%w: mode %#o", ErrUnknownType, st.Mode)
	}
	if rec.Type != TypeSymlink {
		rec.Mode = st.Mode & PermMask
	}
	if rec.Type == TypeChar || rec.Type == TypeBlock {
		rec.DevMajor, rec.DevMinor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	}
	rootless, capab, err := d.xattrs(xa)
	if err != nil {
		return err
	}
	rec.UID, rec.GID, err = d.ids.owner(st.Uid, st.Gid, rootless)
	rec.Capability = capab
	return err
}

// xattrSrc names the entry whose extended attributes are read, never
// following a symlink: an open descriptor, or (fd < 0) a path.
type xattrSrc struct {
	fd   int
	path string
}

// list is listxattr(2); get(name, buf) is getxattr(2).
func (x xattrSrc) list(b []byte) (int, error) {
	if x.fd >= 0 {
		return unix.Flistxattr(x.fd, b)
	}
	return unix.Llistxattr(x.path, b)
}

func (x xattrSrc) get(name string, b []byte) (int, error) {
	if x.fd >= 0 {
		return unix.Fgetxattr(x.fd, name, b)
	}
	return unix.Lgetxattr(x.path, name, b)
}

// xattrs returns the rootless-owner and capability attributes (nil when
// absent). Most entries have no xattrs at all: one listxattr call says so.
func (d *describer) xattrs(xa xattrSrc) (rootless, capab []byte, err error) {
	names, err := readXattr(xa.list, &d.xbuf)
	if err != nil || len(names) == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			err = nil
		}
		return nil, nil, err
	}
	for _, n := range bytes.Split(names, []byte{0}) {
		switch string(n) {
		case RootlessXattr:
			if d.ids.noRootless {
				continue
			}
			if rootless, err = readXattr(func(b []byte) (int, error) { return xa.get(RootlessXattr, b) }, nil); err != nil {
				return nil, nil, fmt.Errorf("xattr %s: %w", RootlessXattr, err)
			}
		case CapabilityXattr:
			if capab, err = readXattr(func(b []byte) (int, error) { return xa.get(CapabilityXattr, b) }, nil); err != nil {
				return nil, nil, fmt.Errorf("xattr %s: %w", CapabilityXattr, err)
			}
		}
	}
	return rootless, capab, nil
}

// readXattr calls f with a buffer large enough for its answer. With a
// scratch buffer the result aliases it; otherwise it is a fresh slice.
func readXattr(f func([]byte) (int, error), scratch *[]byte) ([]byte, error) {
	var buf []byte
	if scratch != nil {
		buf = (*scratch)[:cap(*scratch)]
	}
	for {
		n, err := f(buf)
		if errors.Is(err, unix.ERANGE) || (err == nil && len(buf) == 0 && n > 0) {
			sz, err := f(nil)
			if err != nil {
				return nil, err
			}
			buf = make([]byte, sz+64)
			if scratch != nil {
				*scratch = buf
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if scratch == nil {
			return slices.Clone(buf[:n]), nil
		}
		return buf[:n], nil
	}
}
