package layerfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/refval/refval/bundle"
)

// ContentFunc returns the content of the regular file f, found at name
// (an fs.FS path, "etc/passwd") of a tree's FS view. f.Content holds the
// content when the tree retained it (WithRetain); otherwise the function
// reads it from f.Loc (the tar entry of its layer).
type ContentFunc func(name string, f File) (io.Reader, error)

// FS returns a read-only view of the tree as a file system: an fs.FS
// whose Open follows symlinks inside the tree (confined to it as
// LookupFile resolves them), and an fs.ReadLinkFS (Lstat and ReadLink do
// not follow the last component) and fs.ReadDirFS, so that code written
// for an unpacked rootfs (os.DirFS, os.Root.FS) reads an image straight
// from its layers. Entries report their type and permission bits (setuid,
// setgid and sticky as fs.ModeSetuid, fs.ModeSetgid, fs.ModeSticky), file
// sizes and symlink target lengths; no times (the zero time) and no
// owners. Names are fs.FS names ("etc/passwd", "." for the root) except
// that they need not be UTF-8, as layer entry names need not be.
//
// The content of a regular file is read on the first Read, through
// content (nil: only retained and empty files can be read; others fail
// with an error). The tree must not be changed while the view is in use.
func (t *Tree) FS(content ContentFunc) fs.ReadLinkFS {
	return &treeFS{t: t, content: content}
}

type treeFS struct {
	t       *Tree
	content ContentFunc
}

var (
	_ fs.ReadLinkFS = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
)

// fsComps checks name and returns its components (nil for "."). Names
// follow fs.ValidPath except that they need not be UTF-8: layer entries
// are byte strings, and the view must reach every entry it lists.
func fsComps(op, name string) ([]string, error) {
	if !validPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return nil, nil
	}
	return strings.Split(name, "/"), nil
}

func validPath(name string) bool {
	if name == "." {
		return true
	}
	for {
		i := strings.IndexByte(name, '/')
		elem := name
		if i >= 0 {
			elem = name[:i]
		}
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
		if i < 0 {
			return true
		}
		name = name[i+1:]
	}
}

// follow returns the node at name with every symlink resolved, the last
// component's included.
func (f *treeFS) follow(op, name string) (*node, error) {
	comps, err := fsComps(op, name)
	if err != nil {
		return nil, err
	}
	res, err := f.t.resolve(comps)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	n := f.t.lookup(res)
	if n == nil || n.typ == bundle.TypeSymlink {
		// A symlink still there after resolve points at nothing.
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// lstat returns the node at name, its parent resolved and its last
// component not followed.
func (f *treeFS) lstat(op, name string) (*node, error) {
	comps, err := fsComps(op, name)
	if err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		return f.t.root, nil
	}
	dir, err := f.t.resolve(comps[:len(comps)-1])
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	n := f.t.lookup(append(dir, comps[len(comps)-1]))
	if n == nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

func (f *treeFS) Open(name string) (fs.File, error) {
	n, err := f.follow("open", name)
	if err != nil {
		return nil, err
	}
	return &treeFile{fsys: f, name: name, n: n, info: fileInfo{name: path.Base(name), n: n}}, nil
}

func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.follow("stat", name)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: path.Base(name), n: n}, nil
}

func (f *treeFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.lstat("lstat", name)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: path.Base(name), n: n}, nil
}

func (f *treeFS) ReadLink(name string) (string, error) {
	n, err := f.lstat("readlink", name)
	if err != nil {
		return "", err
	}
	if n.typ != bundle.TypeSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.target, nil
}

func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.follow("readdir", name)
	if err != nil {
		return nil, err
	}
	if n.typ != bundle.TypeDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return dirEntries(n), nil
}

// dirEntries lists a directory sorted by name, as fs.ReadDir does.
func dirEntries(n *node) []fs.DirEntry {
	names := make([]string, 0, len(n.kids))
	for name := range n.kids {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make([]fs.DirEntry, len(names))
	for i, name := range names {
		out[i] = fs.FileInfoToDirEntry(fileInfo{name: name, n: n.kids[name]})
	}
	return out
}

// fileInfo describes a node.
type fileInfo struct {
	name string
	n    *node
}

func (i fileInfo) Name() string { return i.name }

func (i fileInfo) Size() int64 {
	switch i.n.typ {
	case bundle.TypeFile:
		return i.n.size
	case bundle.TypeSymlink:
		return int64(len(i.n.target))
	}
	return 0
}

func (i fileInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.n.mode & 0o777)
	if i.n.mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if i.n.mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if i.n.mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch i.n.typ {
	case bundle.TypeDir:
		m |= fs.ModeDir
	case bundle.TypeSymlink:
		m = fs.ModeSymlink | 0o777
	case bundle.TypeChar:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case bundle.TypeBlock:
		m |= fs.ModeDevice
	case bundle.TypeFifo:
		m |= fs.ModeNamedPipe
	case bundle.TypeSocket:
		m |= fs.ModeSocket
	}
	return m
}

func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return i.n.typ == bundle.TypeDir }
func (i fileInfo) Sys() any           { return nil }

// treeFile is an open entry: a regular file reads its content lazily, a
// directory lists its children, anything else cannot be read.
type treeFile struct {
	fsys   *treeFS
	name   string
	n      *node
	info   fileInfo
	r      io.Reader
	dir    []fs.DirEntry
	dirOff int
	closed bool
}

func (f *treeFile) Stat() (fs.FileInfo, error) {
	if f.closed {
		return nil, &fs.PathError{Op: "stat", Path: f.name, Err: fs.ErrClosed}
	}
	return f.info, nil
}

func (f *treeFile) Read(b []byte) (int, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrClosed}
	}
	if f.n.typ != bundle.TypeFile {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: errors.New("not a regular file")}
	}
	if f.r == nil {
		r, err := f.open()
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		f.r = r
	}
	return f.r.Read(b)
}

// open returns the content of a regular file: retained or empty content
// from memory unless a ContentFunc is given, else through it.
func (f *treeFile) open() (io.Reader, error) {
	file := File{Sha256: f.n.sum, Size: f.n.size, Content: f.n.content, Loc: f.n.loc}
	if f.fsys.content != nil {
		r, err := f.fsys.content(f.name, file)
		if err != nil {
			return nil, err
		}
		// Never more than the tree says the file holds.
		return io.LimitReader(r, file.Size), nil
	}
	if file.Content == nil && file.Size != 0 {
		return nil, errors.New("content not retained")
	}
	return bytes.NewReader(file.Content), nil
}

func (f *treeFile) ReadDir(count int) ([]fs.DirEntry, error) {
	if f.closed {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: fs.ErrClosed}
	}
	if f.n.typ != bundle.TypeDir {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: errors.New("not a directory")}
	}
	if f.dir == nil {
		f.dir = dirEntries(f.n)
	}
	rest := f.dir[f.dirOff:]
	if count <= 0 {
		f.dirOff = len(f.dir)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(count, len(rest))]
	f.dirOff += len(rest)
	return rest, nil
}

func (f *treeFile) Close() error {
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	return nil
}
