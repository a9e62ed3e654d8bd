package bundle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// keepOpenDepth is how many directory levels keep their descriptor open
// during the walk. Below it, a directory's descriptor is closed when the
// walk descends and reopened through ".." when it comes back (checked
// against the device and inode seen on the way down), so that the walk
// holds at most keepOpenDepth+2 directory descriptors at any depth.
const keepOpenDepth = 64

// direntBufSize is the getdents buffer, shared by every directory.
const direntBufSize = 64 << 10

// frame is one directory on the walk's stack: its sorted entries, the
// next one to visit, and the length of its path in walker.path.
type frame struct {
	fd       int // -1 while closed (below keepOpenDepth)
	dev, ino uint64
	pathLen  int
	names    []byte // NUL-terminated names, back to back
	ents     []dirent
	next     int
}

// dirent is one directory entry: names[off:off+n] is the name, names[off+n]
// its NUL; typ is the d_type hint of getdents.
type dirent struct {
	off int
	n   uint16
	typ uint8
}

func (f *frame) name(e dirent) []byte  { return f.names[e.off : e.off+int(e.n)] }
func (f *frame) nameZ(e dirent) []byte { return f.names[e.off : e.off+int(e.n)+1] }

// walk emits the records of the tree below rootFD in measurement order:
// pre-order, children sorted bytewise. It is iterative, with one shared
// path buffer, so that memory grows with depth only by a frame per level
// and descriptors not at all beyond keepOpenDepth.
func (w *walker) walk(rootFD int) error {
	var st unix.Stat_t
	if err := unix.Fstat(rootFD, &st); err != nil {
		return fmt.Errorf("%s: %w", w.root, err)
	}
	rec := Record{Type: TypeDir}
	if err := w.meta.describe(&rec, &st, xattrSrc{fd: rootFD}); err != nil {
		return fmt.Errorf("/: %w", err)
	}
	w.path = append(w.path[:0], '/')
	if err := w.send(rec); err != nil {
		return err
	}
	w.path = w.path[:0]
	if err := w.push(rootFD, &st); err != nil {
		return err
	}
	for len(w.frames) > 0 {
		top := &w.frames[len(w.frames)-1]
		if top.next == len(top.ents) {
			if err := w.pop(); err != nil {
				return err
			}
			continue
		}
		if err := w.ctx.Err(); err != nil {
			return err
		}
		e := top.ents[top.next]
		top.next++
		w.path = append(append(w.path[:top.pathLen], '/'), top.name(e)...)
		if err := w.check(LimitDepth, int64(len(w.frames)), int64(w.limits.Depth), ""); err != nil {
			return err
		}
		if err := w.entry(top, e); err != nil {
			return err
		}
	}
	return nil
}

// entry emits the record of one entry of the directory top (whose path is
// in w.path), and pushes it when it is a directory.
func (w *walker) entry(top *frame, e dirent) error {
	typ := e.typ
	if typ == unix.DT_UNKNOWN { // file systems without d_type
		var st unix.Stat_t
		if err := unix.Fstatat(top.fd, string(top.name(e)), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return w.pathErr(err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			typ = unix.DT_REG
		case unix.S_IFDIR:
			typ = unix.DT_DIR
		}
	}
	switch typ {
	case unix.DT_REG:
		return w.addFile(top.fd, top.nameZ(e))
	case unix.DT_DIR:
		return w.dir(top, e)
	}
	return w.other(top, e)
}

// dir emits a directory's record and pushes it, so that its subtree comes next.
func (w *walker) dir(parent *frame, e dirent) error {
	fd, err := openatZ(parent.fd, parent.nameZ(e), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			err = fmt.Errorf("%w (no longer a directory)", ErrFileChanged)
		}
		return w.pathErr(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return w.pathErr(err)
	}
	rec := Record{}
	if err := w.meta.describe(&rec, &st, xattrSrc{fd: fd}); err != nil {
		unix.Close(fd)
		return w.pathErr(err)
	}
	if err := w.send(rec); err != nil {
		unix.Close(fd)
		return err
	}
	if len(w.frames) > keepOpenDepth {
		unix.Close(parent.fd)
		parent.fd = -1
	}
	return w.push(fd, &st)
}

// push lists the open directory fd (whose path is w.path) onto the stack;
// the walk owns fd from here on.
func (w *walker) push(fd int, st *unix.Stat_t) error {
	if len(w.frames) == cap(w.frames) {
		w.frames = append(w.frames, frame{})
	} else {
		w.frames = w.frames[:len(w.frames)+1]
	}
	w.dirSeq++
	f := &w.frames[len(w.frames)-1]
	f.fd, f.dev, f.ino, f.pathLen, f.next = fd, st.Dev, st.Ino, len(w.path), 0
	if err := w.readDir(f); err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return err
		}
		return fmt.Errorf("%s/: %w", w.path, err)
	}
	return nil
}

// pop leaves the directory on top of the stack, reopening its parent
// through ".." if the parent's descriptor was closed.
func (w *walker) pop() error {
	top := &w.frames[len(w.frames)-1]
	w.frames = w.frames[:len(w.frames)-1]
	w.dirSeq++
	if len(w.frames) == 0 {
		return nil // the root's descriptor belongs to walkRecords
	}
	parent := &w.frames[len(w.frames)-1]
	defer unix.Close(top.fd)
	if parent.fd >= 0 {
		return nil
	}
	w.path = w.path[:parent.pathLen]
	fd, err := openatZ(top.fd, dotdotZ, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("%s/: reopen: %w", w.path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return fmt.Errorf("%s/: %w", w.path, err)
	}
	if st.Dev != parent.dev || st.Ino != parent.ino {
		unix.Close(fd)
		return fmt.Errorf("%s/: %w (moved during the measurement)", w.path, ErrFileChanged)
	}
	parent.fd = fd
	return nil
}

// readDir lists the directory of f with getdents into f's reused buffers
// and sorts the entries bytewise by name.
func (w *walker) readDir(f *frame) error {
	f.names, f.ents = f.names[:0], f.ents[:0]
	if w.dbuf == nil {
		w.dbuf = make([]byte, direntBufSize)
	}
	for {
		n, err := unix.Getdents(f.fd, w.dbuf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			break
		}
		before := len(f.ents)
		if err := f.parseDirents(w.dbuf[:n]); err != nil {
			return err
		}
		// Every entry listed becomes a record (the root is one more): the
		// limit applies while listing, so that the names waiting on the
		// stack are bounded too, however the tree is shaped.
		w.listed += int64(len(f.ents) - before)
		if err := w.check(LimitEntries, w.listed+1, w.limits.Entries, "/"); err != nil {
			return err
		}
	}
	slices.SortFunc(f.ents, func(a, b dirent) int { return bytes.Compare(f.name(a), f.name(b)) })
	return nil
}

// parseDirents appends the entries of a getdents64 buffer (struct
// linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name, NUL),
// without "." and "..".
func (f *frame) parseDirents(buf []byte) error {
	for len(buf) > 0 {
		if len(buf) < 19 {
			return errors.New("getdents: short record")
		}
		reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
		if reclen < 19 || reclen > len(buf) {
			return errors.New("getdents: bad record length")
		}
		typ := buf[18]
		name := buf[19:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		buf = buf[reclen:]
		if (len(name) == 1 && name[0] == '.') || (len(name) == 2 && name[0] == '.' && name[1] == '.') || len(name) == 0 {
			continue
		}
		f.ents = append(f.ents, dirent{off: len(f.names), n: uint16(len(name)), typ: typ})
		f.names = append(append(f.names, name...), 0)
	}
	return nil
}

// other emits the record of an entry that is neither a regular file nor a
// directory (symlink, device, fifo, socket), without opening it.
func (w *walker) other(top *frame, e dirent) error {
	name := string(top.name(e))
	var st unix.Stat_t
	if err := unix.Fstatat(top.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return w.pathErr(err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return w.pathErr(fmt.Errorf("%w (became a regular file)", ErrFileChanged))
	case unix.S_IFDIR:
		return w.pathErr(fmt.Errorf("%w (became a directory)", ErrFileChanged))
	}
	// Through /proc/self/fd so that deep trees never hit PATH_MAX; the
	// full path where /proc is not mounted.
	xp := w.root + string(w.path)
	if w.procFD {
		xp = "/proc/self/fd/" + strconv.Itoa(top.fd) + "/" + name
	}
	rec := Record{}
	if err := w.meta.describe(&rec, &st, xattrSrc{fd: -1, path: xp}); err != nil {
		return w.pathErr(err)
	}
	if rec.Type == TypeSymlink {
		var err error
		if rec.Target, err = w.readlink(top.fd, name); err != nil {
			return w.pathErr(err)
		}
	}
	return w.send(rec)
}

func (w *walker) readlink(dirFD int, name string) (string, error) {
	if w.linkBuf == nil {
		w.linkBuf = make([]byte, 256)
	}
	for {
		n, err := unix.Readlinkat(dirFD, name, w.linkBuf)
		if err != nil {
			return "", err
		}
		if n < len(w.linkBuf) {
			return string(w.linkBuf[:n]), nil
		}
		w.linkBuf = make([]byte, 2*len(w.linkBuf))
	}
}

// pathErr returns err about the entry at w.path.
func (w *walker) pathErr(err error) error {
	return fmt.Errorf("%s: %w", w.path, err)
}

// check is CheckLimit for the entry at w.path (with suffix), whose path
// string is only made when the limit is exceeded.
func (w *walker) check(limit Limit, value, max int64, suffix string) error {
	if max < 0 || value <= max {
		return nil
	}
	return CheckLimit(limit, value, max, string(w.path)+suffix)
}
