package layerfs

import (
	"slices"

	"github.com/refval/refval/bundle"
)

// Records calls fn with the record of every entry, the root "/" first, in
// refval-v1 measurement order: pre-order, the children of a directory
// sorted bytewise by name. The record is only valid during the call; an
// error from fn stops the walk and is returned.
func (t *Tree) Records(fn func(*bundle.Record) error) error {
	var rec bundle.Record
	var walk func(p string, n *node) error
	walk = func(p string, n *node) error {
		rec = bundle.Record{Path: p, Type: n.typ, Mode: n.mode, UID: n.uid, GID: n.gid}
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
		if err := fn(&rec); err != nil {
			return err
		}
		if n.typ != bundle.TypeDir || len(n.kids) == 0 {
			return nil
		}
		names := make([]string, 0, len(n.kids))
		for name := range n.kids {
			names = append(names, name)
		}
		slices.Sort(names) // Go compares strings bytewise
		prefix := p
		if prefix != "/" {
			prefix += "/"
		}
		for _, name := range names {
			if err := walk(prefix+name, n.kids[name]); err != nil {
				return err
			}
		}
		return nil
	}
	return walk("/", t.root)
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
