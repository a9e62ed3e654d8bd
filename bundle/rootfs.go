package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// CapabilityXattr holds file capabilities. It is measured because it grants
// privilege without changing a file's content, mode or owner.
const CapabilityXattr = "security.capability"

// Bounds of the pipeline between the walk and the digest: at most
// windowPerWorker batches per worker in flight, each of at most batchFiles
// regular files and batchBytes of content (a larger file travels alone).
// Memory and open file descriptors are therefore bounded whatever the tree.
// Batching small files saves the per-file hand-offs between goroutines,
// which otherwise cost more than hashing a 1 KiB file.
const (
	windowPerWorker = 16
	batchFiles      = 32
	batchBytes      = 512 << 10
)

// batch is a run of consecutive entries on their way from the walk to the
// digest: either one entry the walk described itself, or up to batchFiles
// regular files (opened, with their stat) that a worker describes and
// hashes before closing done.
type batch struct {
	recs  []Record
	files []openFile
	size  int64
	done  chan struct{}
	err   error
}

type openFile struct {
	fd int
	st unix.Stat_t
}

// walker produces the records of a tree in measurement order.
type walker struct {
	ctx     context.Context
	root    string
	order   chan<- *batch
	jobs    chan<- *batch
	cur     *batch // files collected but not yet sent
	procFD  bool   // /proc/self/fd is usable for *at-style xattr calls
	meta    describer
	linkBuf []byte
}

// walkRecords calls fn with the refval-v1 records of the tree at root: a
// sequential pre-order walk (children sorted bytewise) feeds an ordered
// window; a pool of workers describes, reads and hashes regular files in
// parallel; records leave the window in walk order into fn (HashSource's
// digest). Errors, fn's included, are prefixed by "hash rootfs:".
func walkRecords(ctx context.Context, root string, o *options, fn func(*Record) error) error {
	rootFD, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%w: %s: %v", ErrInvalidRootfs, root, err)
		}
		return fmt.Errorf("hash rootfs: open %s: %w", root, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	ids := idMapper{uids: o.uidMap, gids: o.gidMap, noRootless: o.noRootless}
	order := make(chan *batch, o.workers*windowPerWorker)
	jobs := make(chan *batch, o.workers*windowPerWorker)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := describer{ids: ids}
			fh := &fileHasher{h: sha256.New(), buf: make([]byte, 256<<10)}
			for b := range jobs {
				for i := range b.files {
					if b.err == nil {
						if b.err = ctx.Err(); b.err == nil {
							b.err = d.hashFile(&b.recs[i], &b.files[i], fh)
						}
					}
					unix.Close(b.files[i].fd)
				}
				close(b.done)
			}
		}()
	}

	w := &walker{ctx: ctx, root: root, order: order, jobs: jobs, meta: describer{ids: ids}}
	_, perr := os.Stat("/proc/self/fd/" + strconv.Itoa(rootFD))
	w.procFD = perr == nil
	walkErr := make(chan error, 1)
	go func() {
		err := w.walkRoot(rootFD)
		if err == nil {
			err = w.flush()
		} else {
			w.discard()
		}
		unix.Close(rootFD)
		close(order)
		close(jobs)
		walkErr <- err
	}()

	var first error
	for b := range order {
		if b.done != nil {
			<-b.done
		}
		if first != nil {
			continue // drain, so every worker and the walk finish
		}
		first = b.err
		for i := 0; i < len(b.recs) && first == nil; i++ {
			first = fn(&b.recs[i])
		}
		if first != nil {
			cancel()
		}
	}
	wg.Wait()
	if err := <-walkErr; first == nil && err != nil {
		first = err
	}
	if first != nil {
		return fmt.Errorf("hash rootfs: %w", first)
	}
	return nil
}

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

// hashFile describes and hashes a regular file the walk opened and
// stat'ed, and checks that it did not change while being read: the same
// size, mtime, ctime, mode and owner after the read as at the open, with
// exactly size bytes read.
func (d *describer) hashFile(rec *Record, f *openFile, fh *fileHasher) error {
	if err := d.describe(rec, &f.st, fdXattrs(f.fd)); err != nil {
		return fmt.Errorf("%s: %w", rec.Path, err)
	}
	fh.h.Reset()
	var n int64
	for {
		m, err := unix.Read(f.fd, fh.buf)
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
	}
	var after unix.Stat_t
	if err := unix.Fstat(f.fd, &after); err != nil {
		return fmt.Errorf("%s: %w", rec.Path, err)
	}
	st := &f.st
	if n != st.Size || after.Size != st.Size || after.Mtim != st.Mtim || after.Ctim != st.Ctim ||
		after.Mode != st.Mode || after.Uid != st.Uid || after.Gid != st.Gid {
		return fmt.Errorf("%s: %w", rec.Path, ErrFileChanged)
	}
	fh.h.Sum(rec.Sha256[:0])
	return nil
}

// addFile queues an opened regular file into the current batch, sending
// the batch when it is full.
func (w *walker) addFile(path string, f openFile) error {
	if w.cur != nil && (len(w.cur.files) == batchFiles || w.cur.size+f.st.Size > batchBytes) {
		if err := w.flush(); err != nil {
			unix.Close(f.fd)
			return err
		}
	}
	if w.cur == nil {
		w.cur = &batch{done: make(chan struct{})}
	}
	w.cur.recs = append(w.cur.recs, Record{Path: path, Type: TypeFile})
	w.cur.files = append(w.cur.files, f)
	w.cur.size += f.st.Size
	return nil
}

// flush sends the current batch of files, if any.
func (w *walker) flush() error {
	b := w.cur
	if b == nil {
		return nil
	}
	w.cur = nil
	select {
	case w.order <- b:
	case <-w.ctx.Done():
		closeFiles(b)
		return w.ctx.Err()
	}
	w.jobs <- b // workers always drain jobs, so this cannot block forever
	return nil
}

// discard closes the files of a batch that will never be sent.
func (w *walker) discard() {
	if w.cur != nil {
		closeFiles(w.cur)
		w.cur = nil
	}
}

func closeFiles(b *batch) {
	for _, f := range b.files {
		unix.Close(f.fd)
	}
}

// send emits one record the walk described itself, after the files before it.
func (w *walker) send(rec Record) error {
	if err := w.flush(); err != nil {
		return err
	}
	select {
	case w.order <- &batch{recs: []Record{rec}}:
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

func (w *walker) walkRoot(fd int) error {
	rec := Record{Path: "/"}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", w.root, err)
	}
	if err := w.meta.describe(&rec, &st, fdXattrs(fd)); err != nil {
		return fmt.Errorf("/: %w", err)
	}
	if err := w.send(rec); err != nil {
		return err
	}
	return w.walkDir(fd, "")
}

// walkDir emits the records of the children of the open directory dirFD,
// whose path in the rootfs is dir ("" for the root), depth first. The
// directory's own d_type hints save a stat for files and directories,
// which are opened and then described through their descriptor.
func (w *walker) walkDir(dirFD int, dir string) error {
	ents, err := readDir(dirFD)
	if err != nil {
		return fmt.Errorf("%s/: %w", dir, err)
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) }) // bytewise
	for _, de := range ents {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		name := de.Name()
		path := dir + "/" + name
		switch de.Type() {
		case 0: // regular file
			// O_NONBLOCK: if a fifo took the file's place, the open must
			// not hang; hashFile then sees that it is not a regular file.
			fd, err := unix.Openat(dirFD, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			if err != nil {
				if errors.Is(err, unix.ELOOP) {
					err = fmt.Errorf("%w (became a symlink)", ErrFileChanged)
				}
				return fmt.Errorf("%s: %w", path, err)
			}
			f := openFile{fd: fd}
			if err := unix.Fstat(fd, &f.st); err != nil {
				unix.Close(fd)
				return fmt.Errorf("%s: %w", path, err)
			}
			if f.st.Mode&unix.S_IFMT != unix.S_IFREG {
				unix.Close(fd)
				return fmt.Errorf("%s: %w (no longer a regular file)", path, ErrFileChanged)
			}
			if err := w.addFile(path, f); err != nil {
				return err
			}
		case fs.ModeDir:
			if err := w.dir(dirFD, name, path); err != nil {
				return err
			}
		default:
			if err := w.other(dirFD, name, path); err != nil {
				return err
			}
		}
	}
	return nil
}

// dir emits a directory's record, then its subtree.
func (w *walker) dir(parentFD int, name, path string) error {
	fd, err := unix.Openat(parentFD, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			err = fmt.Errorf("%w (no longer a directory)", ErrFileChanged)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	rec := Record{Path: path}
	if err := w.meta.describe(&rec, &st, fdXattrs(fd)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := w.send(rec); err != nil {
		return err
	}
	return w.walkDir(fd, path)
}

// other emits the record of an entry that is neither a regular file nor a
// directory (symlink, device, fifo, socket), without opening it.
func (w *walker) other(dirFD int, name, path string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirFD, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return fmt.Errorf("%s: %w (became a regular file)", path, ErrFileChanged)
	case unix.S_IFDIR:
		return fmt.Errorf("%s: %w (became a directory)", path, ErrFileChanged)
	}
	// Through /proc/self/fd so that deep trees never hit PATH_MAX; the
	// full path where /proc is not mounted.
	xp := w.root + path
	if w.procFD {
		xp = "/proc/self/fd/" + strconv.Itoa(dirFD) + "/" + name
	}
	rec := Record{Path: path}
	if err := w.meta.describe(&rec, &st, pathXattrs(xp)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if rec.Type == TypeSymlink {
		var err error
		if rec.Target, err = w.readlink(dirFD, name); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return w.send(rec)
}

// describe sets type, mode, owner, device numbers and capability of rec.
func (d *describer) describe(rec *Record, st *unix.Stat_t, xa xattrFuncs) error {
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

// xattrFuncs reads extended attributes of one entry, never following a
// symlink: list(buf) like listxattr(2), get(name, buf) like getxattr(2).
type xattrFuncs struct {
	list func([]byte) (int, error)
	get  func(string, []byte) (int, error)
}

func fdXattrs(fd int) xattrFuncs {
	return xattrFuncs{
		list: func(b []byte) (int, error) { return unix.Flistxattr(fd, b) },
		get:  func(n string, b []byte) (int, error) { return unix.Fgetxattr(fd, n, b) },
	}
}

func pathXattrs(p string) xattrFuncs {
	return xattrFuncs{
		list: func(b []byte) (int, error) { return unix.Llistxattr(p, b) },
		get:  func(n string, b []byte) (int, error) { return unix.Lgetxattr(p, n, b) },
	}
}

// xattrs returns the rootless-owner and capability attributes (nil when
// absent). Most entries have no xattrs at all: one listxattr call says so.
func (d *describer) xattrs(xa xattrFuncs) (rootless, capab []byte, err error) {
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

// readDir lists a directory (names and d_type hints) without closing or
// rewinding dirFD.
func readDir(dirFD int) ([]fs.DirEntry, error) {
	fd, err := unix.Dup(dirFD)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	return f.ReadDir(-1)
}
