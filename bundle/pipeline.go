package bundle

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Bounds of the pipeline between the walk and the digest: at most
// windowPerWorker batches per worker (and maxWindow in all) in flight, each
// of at most batchFiles records, batchPathBytes of paths and files from
// batchDirs directories. Memory and open file descriptors are therefore
// bounded whatever the tree: a worker holds one file open at a time, a
// batch one duplicated descriptor per directory its files are in. Batching saves the per-file hand-offs
// between goroutines, which otherwise cost more than hashing a 1 KiB file.
const (
	windowPerWorker = 16
	maxWindow       = 64
	batchFiles      = 32
	batchPathBytes  = 64 << 10
	batchDirs       = 8 // directory descriptors per batch
	// helpBytes: a worker that meets a file larger than this puts the
	// batch back for another worker to take the batch's next files.
	helpBytes = 1 << 20
)

// batch is a run of consecutive records on their way from the walk to the
// digest. The walk describes directories, symlinks and special files
// itself; the regular files (files) only have a name, for the workers to
// open, describe, read and hash, each file claimed by one worker (several
// workers may share a batch of large files). The last worker to finish
// closes done. The paths of recs share one string, set when the batch is
// sent.
type batch struct {
	recs  []Record
	files []fileJob
	dirs  []int  // duplicated descriptors of the directories of files
	arena []byte // each record's path and a NUL, back to back
	ends  []int  // where each record's path ends (its NUL) in arena
	next  atomic.Int32
	left  atomic.Int32
	done  chan struct{}
	// dirSeq is the walker's directory sequence number of dirs' last entry.
	dirSeq uint64
}

// fileJob is a regular file of a batch: recs[rec], opened from dirs[dir]
// by the name that starts at arena[name].
type fileJob struct {
	rec, dir, name int32
	err            error
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
	dirSeq  uint64  // changes whenever the directory on top of frames does
	limits  Limits  // resolved: Entries and Depth apply
	listed  int64   // entries listed so far: each becomes a record
}

// walkRecords calls fn with the refval-v1 records of the tree at root: a
// sequential pre-order walk (children sorted bytewise) feeds an ordered
// window; a pool of workers opens, describes, reads and hashes regular
// files in parallel; records leave the window in walk order into fn
// (HashSource's digest). Errors, fn's included, are prefixed by "hash
// rootfs:".
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
	window := min(o.workers*windowPerWorker, maxWindow)
	order := make(chan *batch, window)
	// Workers put batches of large files back: room for that beyond the
	// window, so that the walk's sends never wait on a worker's.
	jobs := make(chan *batch, window+o.workers)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := worker{ctx: ctx, jobs: jobs, d: describer{ids: ids}, fh: &fileHasher{h: sha256.New(), buf: make([]byte, 256<<10)}}
			for b := range jobs {
				wk.run(b)
			}
		}()
	}

	w := &walker{ctx: ctx, root: root, order: order, jobs: jobs, meta: describer{ids: ids}, limits: o.limits.Resolved()}
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
		k := 0
		for i := 0; i < len(b.recs) && first == nil; i++ {
			if k < len(b.files) && int(b.files[k].rec) == i {
				first = b.files[k].err
				k++
				if first != nil {
					break
				}
			}
			first = fn(&b.recs[i])
		}
		if first != nil {
			cancel()
		}
	}
	// Every batch is done: no worker holds or puts back one any more.
	close(jobs)
	wg.Wait()
	if err := <-walkErr; first == nil && err != nil {
		first = err
	}
	if first != nil {
		return fmt.Errorf("hash rootfs: %w", first)
	}
	return nil
}

// worker is one goroutine of the pool with its own scratch state.
type worker struct {
	ctx  context.Context
	jobs chan<- *batch
	d    describer
	fh   *fileHasher
}

// run takes the files of b that no other worker took yet, one at a time;
// the worker that finishes b's last file closes its descriptors and done.
func (wk *worker) run(b *batch) {
	for {
		k := int(b.next.Add(1)) - 1
		if k >= len(b.files) {
			return
		}
		j := &b.files[k]
		if j.err = wk.ctx.Err(); j.err == nil {
			j.err = wk.file(b, j)
		}
		if b.left.Add(-1) == 0 {
			closeDirs(b)
			close(b.done)
			return
		}
	}
}

// file opens, checks and hashes one regular file of b. Before hashing a
// large one it puts b back, so that another worker takes the next files
// meanwhile.
func (wk *worker) file(b *batch, j *fileJob) error {
	rec := &b.recs[j.rec]
	// O_NONBLOCK: if a fifo took the file's place, the open must not hang;
	// the type check below then refuses it.
	fd, err := openatZ(b.dirs[j.dir], b.arena[j.name:b.ends[j.rec]+1], unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			err = fmt.Errorf("%w (became a symlink)", ErrFileChanged)
		}
		return fmt.Errorf("%s: %w", rec.Path, err)
	}
	defer unix.Close(fd)
	f := openFile{fd: fd}
	if err := unix.Fstat(fd, &f.st); err != nil {
		return fmt.Errorf("%s: %w", rec.Path, err)
	}
	if f.st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s: %w (no longer a regular file)", rec.Path, ErrFileChanged)
	}
	if f.st.Size > helpBytes && int(b.next.Load()) < len(b.files) {
		select {
		case wk.jobs <- b:
		default: // the queue is full: the others have work
		}
	}
	return wk.d.hashFile(rec, &f, wk.fh)
}

// add appends a record for the entry at w.path to the current batch,
// sending the batch first when it is full.
func (w *walker) add(rec Record) (*batch, error) {
	if b := w.cur; b != nil && (len(b.recs) == batchFiles || len(b.arena)+len(w.path) > batchPathBytes) {
		if err := w.flush(); err != nil {
			return nil, err
		}
	}
	b := w.cur
	if b == nil {
		b = &batch{recs: make([]Record, 0, batchFiles), ends: make([]int, 0, batchFiles),
			arena: make([]byte, 0, min(batchPathBytes, max(4<<10, 2*len(w.path))))}
		w.cur = b
	}
	b.arena = append(b.arena, w.path...)
	b.ends = append(b.ends, len(b.arena))
	b.arena = append(b.arena, 0)
	b.recs = append(b.recs, rec)
	return b, nil
}

// addFile queues the regular file named name (NUL-terminated) in the
// directory dirFD, whose path is w.path, for a worker.
func (w *walker) addFile(dirFD int, name []byte) error {
	if b := w.cur; b != nil && len(b.dirs) == batchDirs && b.dirSeq != w.dirSeq {
		if err := w.flush(); err != nil {
			return err
		}
	}
	b, err := w.add(Record{Type: TypeFile})
	if err != nil {
		return err
	}
	if len(b.dirs) == 0 || b.dirSeq != w.dirSeq {
		fd, err := unix.FcntlInt(uintptr(dirFD), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return w.pathErr(err)
		}
		b.dirs = append(b.dirs, fd)
		b.dirSeq = w.dirSeq
	}
	nameAt := b.ends[len(b.ends)-1] - (len(name) - 1)
	b.files = append(b.files, fileJob{rec: int32(len(b.recs) - 1), dir: int32(len(b.dirs) - 1), name: int32(nameAt)})
	return nil
}

// send queues a record the walk described itself.
func (w *walker) send(rec Record) error {
	_, err := w.add(rec)
	return err
}

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
		start = end + 1
	}
	if len(b.files) > 0 {
		b.done = make(chan struct{})
		b.left.Store(int32(len(b.files)))
	} else {
		b.arena = nil
	}
	select {
	case w.order <- b:
	case <-w.ctx.Done():
		closeDirs(b)
		return w.ctx.Err()
	}
	if len(b.files) > 0 {
		w.jobs <- b // workers always drain jobs, so this cannot block forever
	}
	return nil
}

// discard closes the descriptors of a batch that will never be sent.
func (w *walker) discard() {
	if w.cur != nil {
		closeDirs(w.cur)
		w.cur = nil
	}
}

func closeDirs(b *batch) {
	for _, fd := range b.dirs {
		unix.Close(fd)
	}
	b.dirs = nil
}
