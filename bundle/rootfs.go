package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"os"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// CapabilityXattr holds file capabilities. It is measured because it grants
// privilege without changing a file's content, mode or owner.
const CapabilityXattr = "security.capability"

// Bounds of the pipeline between the walk and the digest: at most
// windowPerWorker batches per worker (and maxWindow in all) in flight, each
// of at most batchFiles records, batchBytes of file content (a larger file
// travels alone) and batchPathBytes of paths. Memory and open file
// descriptors are therefore bounded whatever the tree. Batching saves the
// per-file hand-offs between goroutines, which otherwise cost more than
// hashing a 1 KiB file.
const (
	windowPerWorker = 16
	maxWindow       = 64
	batchFiles      = 32
	batchBytes      = 512 << 10
	batchPathBytes  = 64 << 10
)

// batch is a run of consecutive records on their way from the walk to the
// digest. recs[i] is a regular file when files[i].fd >= 0: opened, with
// its stat, for a worker to describe and hash before closing done; the
// walk described every other record itself. The paths of recs share one
// string, allocated per batch.
type batch struct {
	recs   []Record
	files  []openFile
	nfiles int
	size   int64
	arena  []byte // the paths, back to back, until the batch is sent
	ends   []int  // where each record's path ends in arena
	done   chan struct{}
	err    error
}

type openFile struct {
	fd int
	st unix.Stat_t
}

// walker produces the records of a tree in measurement order (walk.go).
type walker struct {
	ctx     context.Context
	root    string
	order   chan<- *batch
	jobs    chan<- *batch
	cur     *batch // records collected but not yet sent
	procFD  bool   // /proc/self/fd is usable for *at-style xattr calls
	meta    describer
	linkBuf []byte
	path    []byte  // the current entry's path, shared by every level
	frames  []frame // the directories from the root to the current one
	dbuf    []byte  // getdents buffer
}

// hashRootfsV1 measures the tree at root with scheme refval-v1: a
// sequential pre-order walk (children sorted bytewise) feeds an ordered
// window; a pool of workers describes, reads and hashes regular files in
// parallel; records leave the window in walk order into the RootfsHasher.
func hashRootfsV1(ctx context.Context, root string, o *options) (Digest, int, error) {
	rootFD, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ENOENT) {
			return Digest{}, 0, fmt.Errorf("%w: %s: %v", ErrInvalidRootfs, root, err)
		}
		return Digest{}, 0, fmt.Errorf("hash rootfs: open %s: %w", root, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	ids := idMapper{uids: o.uidMap, gids: o.gidMap, noRootless: o.noRootless}
	window := min(o.workers*windowPerWorker, maxWindow)
	order := make(chan *batch, window)
	jobs := make(chan *batch, window)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := describer{ids: ids}
			fh := &fileHasher{h: sha256.New(), buf: make([]byte, 256<<10)}
			for b := range jobs {
				for i := range b.files {
					f := &b.files[i]
					if f.fd < 0 {
						continue
					}
					if b.err == nil {
						if b.err = ctx.Err(); b.err == nil {
							b.err = d.hashFile(&b.recs[i], f, fh)
						}
					}
					unix.Close(f.fd)
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
		err := w.walk(rootFD)
		if err == nil {
			err = w.flush()
		} else {
			w.discard()
		}
		for _, f := range w.frames { // left open by an error
			if f.fd >= 0 && f.fd != rootFD {
				unix.Close(f.fd)
			}
		}
		unix.Close(rootFD)
		close(order)
		close(jobs)
		walkErr <- err
	}()

	h := NewRootfsHasher()
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
			if first = h.Add(&b.recs[i]); first == nil && o.recordFn != nil {
				first = o.recordFn(&b.recs[i])
			}
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
		return Digest{}, 0, fmt.Errorf("hash rootfs: %w", first)
	}
	return h.Sum(), h.Count(), nil
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
// stat'ed, and checks that it did not change while being read: exactly
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

// add appends a record for the entry at w.path to the current batch,
// sending the batch first when it is full. f.fd < 0 for a record the walk
// described itself.
func (w *walker) add(rec Record, f openFile) error {
	if b := w.cur; b != nil && (len(b.recs) == batchFiles || len(b.arena)+len(w.path) > batchPathBytes ||
		(f.fd >= 0 && b.nfiles > 0 && b.size+f.st.Size > batchBytes)) {
		if err := w.flush(); err != nil {
			if f.fd >= 0 {
				unix.Close(f.fd)
			}
			return err
		}
	}
	b := w.cur
	if b == nil {
		b = &batch{recs: make([]Record, 0, batchFiles), files: make([]openFile, 0, batchFiles), ends: make([]int, 0, batchFiles),
			arena: make([]byte, 0, min(batchPathBytes, max(4<<10, 2*len(w.path))))}
		w.cur = b
	}
	b.arena = append(b.arena, w.path...)
	b.ends = append(b.ends, len(b.arena))
	b.recs = append(b.recs, rec)
	b.files = append(b.files, f)
	if f.fd >= 0 {
		b.nfiles++
		b.size += f.st.Size
	}
	return nil
}

// addFile queues an opened regular file at w.path.
func (w *walker) addFile(f openFile) error { return w.add(Record{Type: TypeFile}, f) }

// send queues a record the walk described itself.
func (w *walker) send(rec Record) error { return w.add(rec, openFile{fd: -1}) }

// flush sends the current batch, if any: to the workers too when it
// holds files.
func (w *walker) flush() error {
	b := w.cur
	if b == nil {
		return nil
	}
	w.cur = nil
	paths, start := string(b.arena), 0 // one string for all the batch's paths
	for i, end := range b.ends {
		b.recs[i].Path = paths[start:end]
		start = end
	}
	b.arena = nil
	if b.nfiles > 0 {
		b.done = make(chan struct{})
	}
	select {
	case w.order <- b:
	case <-w.ctx.Done():
		closeFiles(b)
		return w.ctx.Err()
	}
	if b.nfiles > 0 {
		w.jobs <- b // workers always drain jobs, so this cannot block forever
	}
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
		if f.fd >= 0 {
			unix.Close(f.fd)
		}
	}
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
