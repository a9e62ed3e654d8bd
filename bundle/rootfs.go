package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// CapabilityXattr holds file capabilities. It is measured because it grants
// privilege without changing a file's content, mode or owner.
const CapabilityXattr = "security.capability"

// window bounds the entries between the walk and the digest: the records in
// flight, and so the memory and file descriptors, whatever the tree size.
const windowPerWorker = 64

// pending is one entry on its way from the walk to the digest. For regular
// files a worker fills rec.Sha256 (or err) and closes done.
type pending struct {
	rec  Record
	f    *os.File // regular files only; closed by the worker
	st   unix.Stat_t
	done chan struct{}
	err  error
}

// walker produces the records of a tree in measurement order.
type walker struct {
	ctx     context.Context
	root    string
	ids     idMapper
	order   chan<- *pending
	jobs    chan<- *pending
	procFD  bool // /proc/self/fd is usable for *at-style xattr calls
	xbuf    []byte
	linkBuf []byte
}

// hashRootfsV1 measures the tree at root with scheme refval-v1: a
// sequential pre-order walk (children sorted bytewise) feeds an ordered
// window; a pool of workers hashes file contents in parallel; records leave
// the window in walk order into the RootfsHasher.
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

	order := make(chan *pending, o.workers*windowPerWorker)
	jobs := make(chan *pending, o.workers*windowPerWorker)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for p := range jobs {
				if err := ctx.Err(); err != nil {
					p.err = err
				} else {
					p.err = hashFile(p, buf)
				}
				p.f.Close()
				close(p.done)
			}
		}()
	}

	w := &walker{ctx: ctx, root: root, ids: idMapper{o.uidMap, o.gidMap}, order: order, jobs: jobs}
	_, perr := os.Stat("/proc/self/fd/" + strconv.Itoa(rootFD))
	w.procFD = perr == nil
	walkErr := make(chan error, 1)
	go func() {
		err := w.walkRoot(rootFD)
		unix.Close(rootFD)
		close(order)
		close(jobs)
		walkErr <- err
	}()

	h := NewRootfsHasher()
	var first error
	for p := range order {
		if p.done != nil {
			<-p.done
		}
		if first != nil {
			continue // drain, so every worker and the walk finish
		}
		if p.err == nil {
			p.err = h.Add(&p.rec)
		}
		if p.err == nil && o.recordFn != nil {
			p.err = o.recordFn(&p.rec)
		}
		if p.err != nil {
			first = p.err
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

// hashFile hashes an open regular file and checks that it did not change
// while being read: the inode, mode and owner the walk recorded, and the
// same size, mtime and ctime before and after, with exactly size bytes read.
func hashFile(p *pending, buf []byte) error {
	var before, after unix.Stat_t
	fd := int(p.f.Fd())
	if err := unix.Fstat(fd, &before); err != nil {
		return fmt.Errorf("%s: %w", p.rec.Path, err)
	}
	if before.Ino != p.st.Ino || before.Dev != p.st.Dev || before.Mode != p.st.Mode || before.Uid != p.st.Uid || before.Gid != p.st.Gid {
		return fmt.Errorf("%s: %w (replaced before it was opened)", p.rec.Path, ErrFileChanged)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, p.f, buf)
	if err != nil {
		return fmt.Errorf("%s: read: %w", p.rec.Path, err)
	}
	if err := unix.Fstat(fd, &after); err != nil {
		return fmt.Errorf("%s: %w", p.rec.Path, err)
	}
	if n != before.Size || after.Size != before.Size || after.Mtim != before.Mtim || after.Ctim != before.Ctim {
		return fmt.Errorf("%s: %w", p.rec.Path, ErrFileChanged)
	}
	h.Sum(p.rec.Sha256[:0])
	return nil
}

func (w *walker) send(p *pending) error {
	select {
	case w.order <- p:
	case <-w.ctx.Done():
		if p.f != nil {
			p.f.Close()
		}
		return w.ctx.Err()
	}
	if p.f != nil {
		w.jobs <- p // workers always drain jobs, so this cannot block forever
	}
	return nil
}

func (w *walker) walkRoot(fd int) error {
	p := &pending{rec: Record{Path: "/"}}
	if err := unix.Fstat(fd, &p.st); err != nil {
		return fmt.Errorf("%s: %w", w.root, err)
	}
	rootless, capab, err := w.xattrs(func(name string, buf []byte) (int, error) { return unix.Fgetxattr(fd, name, buf) },
		func(buf []byte) (int, error) { return unix.Flistxattr(fd, buf) })
	if err != nil {
		return fmt.Errorf("/: %w", err)
	}
	if err := w.fill(p, rootless, capab); err != nil {
		return fmt.Errorf("/: %w", err)
	}
	if err := w.send(p); err != nil {
		return err
	}
	return w.walkDir(fd, "")
}

// walkDir emits the records of the children of the open directory dirFD,
// whose path in the rootfs is dir ("" for the root), depth first.
func (w *walker) walkDir(dirFD int, dir string) error {
	names, err := readDirNames(dirFD)
	if err != nil {
		return fmt.Errorf("%s/: %w", dir, err)
	}
	slices.Sort(names) // bytewise
	for _, name := range names {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		path := dir + "/" + name
		p := &pending{rec: Record{Path: path}}
		if err := unix.Fstatat(dirFD, name, &p.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		rootless, capab, err := w.entryXattrs(dirFD, name, path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := w.fill(p, rootless, capab); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		switch p.rec.Type {
		case TypeFile:
			// O_NONBLOCK: if a fifo took the file's place since the stat,
			// the open must not hang; hashFile then sees the new inode.
			fd, err := unix.Openat(dirFD, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			p.f = os.NewFile(uintptr(fd), path)
			p.done = make(chan struct{})
			if err := w.send(p); err != nil {
				return err
			}
		case TypeSymlink:
			if p.rec.Target, err = w.readlink(dirFD, name); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := w.send(p); err != nil {
				return err
			}
		case TypeDir:
			if err := w.send(p); err != nil {
				return err
			}
			fd, err := unix.Openat(dirFD, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil || st.Ino != p.st.Ino || st.Dev != p.st.Dev {
				unix.Close(fd)
				return fmt.Errorf("%s: %w (replaced while walking)", path, ErrFileChanged)
			}
			err = w.walkDir(fd, path)
			unix.Close(fd)
			if err != nil {
				return err
			}
		default:
			if err := w.send(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// fill sets type, mode, owner and device numbers of p.rec from p.st.
func (w *walker) fill(p *pending, rootless, capab []byte) error {
	st := &p.st
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		p.rec.Type = TypeDir
	case unix.S_IFREG:
		p.rec.Type = TypeFile
	case unix.S_IFLNK:
		p.rec.Type = TypeSymlink
	case unix.S_IFCHR:
		p.rec.Type = TypeChar
	case unix.S_IFBLK:
		p.rec.Type = TypeBlock
	case unix.S_IFIFO:
		p.rec.Type = TypeFifo
	case unix.S_IFSOCK:
		p.rec.Type = TypeSocket
	default:
		return fmt.Errorf("%w: mode %#o", ErrUnknownType, st.Mode)
	}
	if p.rec.Type != TypeSymlink {
		p.rec.Mode = st.Mode & PermMask
	}
	if p.rec.Type == TypeChar || p.rec.Type == TypeBlock {
		p.rec.DevMajor, p.rec.DevMinor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	}
	var err error
	p.rec.UID, p.rec.GID, err = w.ids.owner(st.Uid, st.Gid, rootless)
	p.rec.Capability = capab
	return err
}

// entryXattrs reads the two measured-or-used xattrs of dirFD/name without
// following a symlink, through /proc/self/fd so that deep trees never hit
// PATH_MAX (falling back to the full path where /proc is not mounted).
func (w *walker) entryXattrs(dirFD int, name, rel string) ([]byte, []byte, error) {
	var p string
	if w.procFD {
		p = "/proc/self/fd/" + strconv.Itoa(dirFD) + "/" + name
	} else {
		p = w.root + rel
	}
	return w.xattrs(func(attr string, buf []byte) (int, error) { return unix.Lgetxattr(p, attr, buf) },
		func(buf []byte) (int, error) { return unix.Llistxattr(p, buf) })
}

func (w *walker) xattrs(get func(string, []byte) (int, error), list func([]byte) (int, error)) (rootless, capab []byte, err error) {
	names, err := readXattr(func(b []byte) (int, error) { return list(b) }, &w.xbuf)
	if err != nil || len(names) == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			err = nil
		}
		return nil, nil, err
	}
	for _, n := range bytes.Split(names, []byte{0}) {
		switch string(n) {
		case RootlessXattr:
			if rootless, err = readXattr(func(b []byte) (int, error) { return get(RootlessXattr, b) }, nil); err != nil {
				return nil, nil, fmt.Errorf("xattr %s: %w", RootlessXattr, err)
			}
		case CapabilityXattr:
			if capab, err = readXattr(func(b []byte) (int, error) { return get(CapabilityXattr, b) }, nil); err != nil {
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
		if errors.Is(err, unix.ERANGE) || (err == nil && buf == nil && n > 0) {
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

// readDirNames lists a directory without closing dirFD.
func readDirNames(dirFD int) ([]string, error) {
	fd, err := unix.Dup(dirFD)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	return f.Readdirnames(-1)
}
