package layerfs

import (
	"slices"

	"github.com/refval/refval/bundle"
)

// Records calls fn with the record of every entry, the root "/" first, in
// refval-v1 measurement order: pre-order, the children of a directory
// sorted bytewise by name. The record is only valid during the call; an
// error from fn stops the walk and is returned.
//
// The walk is iterative over one shared path buffer: memory is the sorted
// names of the directories on the current path plus one path, whatever
// the depth of the tree (a recursion copying the path at each level
// needed memory quadratic in the depth).
func (t *Tree) Records(fn func(*bundle.Record) error) error {
	type frame struct {
		dir   *node
		names []string // sorted children of dir still to visit
		plen  int      // len(path) of dir, with its trailing "/"
	}
	var rec bundle.Record
	path := make([]byte, 0, 256)
	emit := func(n *node) error {
		rec = bundle.Record{Path: string(path), Type: n.typ, Mode: n.mode, UID: n.uid, GID: n.gid}
		switch n.typ {
		case bundle.TypeFile:
			rec.Sha256 = n.sum
		case bundle.TypeSymlink:
			rec.Mode = 0
			rec.Target = n.target
		case bundle.TypeChar, bundle.TypeBlock:
			rec.DevMajor, rec.DevMinor = n.major, n.minor
		}
		if n.capab != "" {
			rec.Capability = []byte(n.capab)
		}
		return fn(&rec)
	}
	var stack []frame
	push := func(n *node) {
		if n.typ != bundle.TypeDir || len(n.kids) == 0 {
			return
		}
		names := make([]string, 0, len(n.kids))
		for name := range n.kids {
			names = append(names, name)
		}
		slices.Sort(names) // Go compares strings bytewise
		if len(path) > 1 {
			path = append(path, '/')
		}
		stack = append(stack, frame{dir: n, names: names, plen: len(path)})
	}
	path = append(path, '/')
	if err := emit(t.root); err != nil {
		return err
	}
	push(t.root)
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if len(f.names) == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		name := f.names[0]
		f.names = f.names[1:]
		k := f.dir.kids[name]
		path = append(path[:f.plen], name...)
		if err := emit(k); err != nil {
			return err
		}
		push(k)
	}
	return nil
}

// File is a regular file found by LookupFile.
type File struct {
	Sha256  bundle.Digest
	Size    int64
	Content []byte // nil unless retained (WithRetain)
	Loc     Locator
}

// LookupFile resolves p (an absolute path inside the tree) following
// symlinks in every component, the last included, and confined to the
// tree as securejoin confines them; ok is false when p does not resolve to
// a regular file.
func (t *Tree) LookupFile(p string) (f File, ok bool, err error) {
	comps, err := t.resolve(splitClean(p))
	if err != nil {
		return File{}, false, err
	}
	n := t.lookup(comps)
	if n == nil || n.typ != bundle.TypeFile {
		return File{}, false, nil
	}
	return File{Sha256: n.sum, Size: n.size, Content: n.content, Loc: n.loc}, true, nil
}
