package layerfs

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/refval/refval/bundle"
)

// ErrInvalidLayer is wrapped by every error about a layer's content (as
// opposed to an error reading it).
var ErrInvalidLayer = errors.New("invalid layer")

// maxSymlinks is securejoin's limit (consts.MaxSymlinkLimit), the number of
// symlinks umoci follows while resolving one parent path.
const maxSymlinks = 255

// Whiteout names of the OCI image spec (layer.md, "Whiteouts").
const (
	whPrefix = ".wh."
	whOpaque = ".wh..wh..opq"
)

// Locator names the tar entry that holds a file's content: the index of
// the layer (the order of Apply calls, from 0) and of the entry in that
// layer's tar stream (the order tar.Reader.Next returns them, from 0).
type Locator struct{ Layer, Entry int }

type node struct {
	typ          bundle.EntryType
	mode         uint32 // & bundle.PermMask
	uid, gid     uint32
	sum          bundle.Digest // files
	size         int64         // files
	target       string        // symlinks
	major, minor uint32        // devices
	capab        string        // security.capability as the kernel returns it; "" when absent
	kids         map[string]*node
	upper        int // the layer (gen) whose entries created or touched it
	swept        int // the layer (gen) in which sweep last emptied it of lower entries
	loc          Locator
	content      []byte // retained file content
}

// clone copies a non-directory node (a hardlink's view of its target).
func (n *node) clone() *node {
	c := *n
	c.kids = nil
	return &c
}

// Tree is an image rootfs assembled in memory from its layers.
type Tree struct {
	root   *node
	gen    int // 1 + index of the layer being applied
	retain func(path string, size int64) bool
	budget *Budget
	sweeps int // directories swept by whiteouts (tests bound it)
}

// Option configures a Tree.
type Option func(*Tree)

// WithRetain keeps the content of regular files for which fn returns
// true, given the file's canonical path ("/etc/passwd") when it is
// extracted and its size. LookupFile returns it.
func WithRetain(fn func(path string, size int64) bool) Option {
	return func(t *Tree) { t.retain = fn }
}

// WithLimits bounds the work of all layers applied to the tree (see
// bundle.Limits; without it the defaults apply). Paths are checked as
// written in the layer and again after symlinks in their parent are
// resolved, as the path that an unpack creates.
func WithLimits(l bundle.Limits) Option {
	return func(t *Tree) { t.budget = NewBudget(l) }
}

// New returns a tree holding only the root directory, as umoci creates it
// before the first layer: mode 0755, owner root.
func New(opts ...Option) *Tree {
	t := &Tree{root: &node{typ: bundle.TypeDir, mode: 0o755, kids: map[string]*node{}}, budget: NewBudget(bundle.Limits{})}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Apply applies the next layer, an uncompressed tar stream, to the tree.
// It reads r to the end of the archive (not necessarily to EOF). After an
// error the tree is in an undefined state and must not be used.
func (t *Tree) Apply(ctx context.Context, r io.Reader) error {
	t.gen++
	layer := t.gen - 1
	buf := make([]byte, 64<<10)
	err := t.budget.Entries(ctx, r, func(i int, hdr *tar.Header, content io.Reader) error {
		return t.entry(hdr, content, Locator{layer, i}, buf)
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("layer %d: %w", layer, err)
	}
	return err
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidLayer, fmt.Sprintf(format, a...))
}

// splitClean returns the components of name after umoci's CleanPath:
// lexically cleaned as if rooted at "/", so ".." never climbs above the
// root and absolute names are relative to the root.
func splitClean(name string) []string {
	c := path.Clean("/" + name)
	if c == "/" {
		return nil
	}
	return strings.Split(c[1:], "/")
}

func (t *Tree) entry(hdr *tar.Header, r io.Reader, loc Locator, buf []byte) error {
	comps := splitClean(hdr.Name)
	if len(comps) == 0 {
		// An entry for the root only sets its metadata; umoci refuses any
		// other type, which could turn the root into a symlink.
		if hdr.Typeflag != tar.TypeDir {
			return invalid("refusing to change the type of the root directory")
		}
		return t.applyMeta(t.root, hdr)
	}
	dirComps, file := comps[:len(comps)-1], comps[len(comps)-1]
	dir, err := t.resolve(dirComps)
	if err != nil {
		return err
	}
	if err := t.budget.CheckPath(append(dir[:len(dir):len(dir)], file), ""); err != nil {
		return err
	}
	// umoci captures the parent's metadata before the entry and restores it
	// afterwards; that only changes anything when the parent was not a
	// directory and is replaced by one below.
	oldParent := t.lookup(dir)

	if wo, ok := strings.CutPrefix(file, whPrefix); ok {
		if file == whOpaque {
			wo = ""
		}
		if wo == "." || wo == ".." {
			// umoci would delete the directory itself or its parent, which
			// for the root is the bundle directory.
			return invalid("whiteout %q names no entry", file)
		}
		t.whiteout(dir, wo)
		return nil
	}

	parent, err := t.mkdirAll(dir)
	if err != nil {
		return err
	}
	if oldParent != nil && oldParent.typ != bundle.TypeDir {
		parent.mode, parent.uid, parent.gid, parent.capab = oldParent.mode, oldParent.uid, oldParent.gid, oldParent.capab
	}
	old := parent.kids[file]
	var n *node
	if old != nil && old.typ == bundle.TypeDir && hdr.Typeflag == tar.TypeDir {
		n = old
	} else {
		delete(parent.kids, file)
		// New inodes start owned by root, with group (and, for directories,
		// setgid) inherited from a setgid parent; chown -1 keeps that.
		n = &node{}
		if parent.mode&0o2000 != 0 {
			n.gid = parent.gid
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			n.typ = bundle.TypeFile
			n.loc = loc
			if err := t.readContent(n, hdr, r, append(dir, file), buf); err != nil {
				return err
			}
		case tar.TypeDir:
			n.typ = bundle.TypeDir
			n.kids = map[string]*node{}
		case tar.TypeSymlink:
			n.typ = bundle.TypeSymlink
			n.target = hdr.Linkname
		case tar.TypeLink:
			// The target's directory is resolved like a parent path, its
			// last component is not followed (a hardlink to a symlink links
			// the symlink). A hardlink shares the target's inode: content,
			// mode, owner and capability, and gets no metadata of its own.
			tc := splitClean(hdr.Linkname)
			if len(tc) == 0 {
				return invalid("hardlink to the root directory")
			}
			td, err := t.resolve(tc[:len(tc)-1])
			if err != nil {
				return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
			}
			tn := t.lookup(append(td, tc[len(tc)-1]))
			switch {
			case tn == nil:
				return invalid("hardlink target %q does not exist", hdr.Linkname)
			case tn.typ == bundle.TypeDir:
				return invalid("hardlink target %q is a directory", hdr.Linkname)
			}
			n = tn.clone()
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			n.typ = map[byte]bundle.EntryType{tar.TypeChar: bundle.TypeChar, tar.TypeBlock: bundle.TypeBlock, tar.TypeFifo: bundle.TypeFifo}[hdr.Typeflag]
			if hdr.Typeflag != tar.TypeFifo {
				n.major, n.minor = mknodDev(hdr.Devmajor, hdr.Devminor)
			}
		default:
			return invalid("unsupported tar entry type %q", hdr.Typeflag)
		}
		parent.kids[file] = n
	}
	if hdr.Typeflag != tar.TypeLink {
		if err := t.applyMeta(n, hdr); err != nil {
			return err
		}
	}
	// Mark the entry and its ancestors as written by this layer, so that a
	// later whiteout in the same layer spares them.
	t.markUpper(append(dir, file))
	return nil
}

func (t *Tree) readContent(n *node, hdr *tar.Header, r io.Reader, comps []string, buf []byte) error {
	h := sha256.New()
	var w io.Writer = h
	var keep *strings.Builder
	if t.retain != nil && t.retain("/"+strings.Join(comps, "/"), hdr.Size) {
		keep = &strings.Builder{}
		w = io.MultiWriter(h, keep)
	}
	nr, err := io.CopyBuffer(w, io.LimitReader(r, hdr.Size), buf)
	if err != nil {
		return err
	}
	if nr != hdr.Size {
		return invalid("content is %d bytes, header says %d", nr, hdr.Size)
	}
	h.Sum(n.sum[:0])
	n.size = nr
	if keep != nil {
		n.content = []byte(keep.String())
	}
	return nil
}

// applyMeta applies owner, mode and capability in umoci's order (chown,
// chmod, clear xattrs, set xattrs).
func (t *Tree) applyMeta(n *node, hdr *tar.Header) error {
	// chown(2) takes 32-bit IDs; -1 (all ones) leaves the ID unchanged.
	if uid := uint32(hdr.Uid); uid != ^uint32(0) {
		n.uid = uid
	}
	if gid := uint32(hdr.Gid); gid != ^uint32(0) {
		n.gid = gid
	}
	if n.typ != bundle.TypeSymlink {
		n.mode = uint32(hdr.Mode) & bundle.PermMask
	}
	capab, err := kernelCapability(hdr)
	if err != nil {
		return err
	}
	n.capab = capab
	return nil
}

// Capability xattr layout (linux/capability.h).
const (
	capRevisionMask = 0xFF000000
	capRevision2    = 0x02000000
	capRevision3    = 0x03000000
	capEffective    = 0x000001
	capSizeV2       = 20
	capSizeV3       = 24
)

// kernelCapability returns the security.capability value a root process
// in the initial user namespace reads back after setting the header's
// value (security/commoncap.c: cap_convert_nscap on set,
// cap_inode_getsecurity on get):
//   - absent or empty: nothing (an empty value is stored unchecked and
//     measured like an absent one);
//   - version 2 (20 bytes): stored and returned as is;
//   - version 3 (24 bytes, with a root ID): stored with only the
//     effective flag kept; returned as version 2 when the root ID is 0;
//   - anything else: EINVAL, so umoci fails and so do we.
func kernelCapability(hdr *tar.Header) (string, error) {
	v, ok := hdr.PAXRecords["SCHILY.xattr."+bundle.CapabilityXattr]
	if !ok || v == "" {
		return "", nil
	}
	b := []byte(v)
	if len(b) < 4 {
		return "", invalid("security.capability of %d bytes", len(b))
	}
	magic := binary.LittleEndian.Uint32(b)
	switch {
	case len(b) == capSizeV2 && magic&capRevisionMask == capRevision2:
		return v, nil
	case len(b) == capSizeV3 && magic&capRevisionMask == capRevision3:
		rootID := binary.LittleEndian.Uint32(b[20:])
		if rootID == ^uint32(0) {
			return "", invalid("security.capability root ID is -1")
		}
		out := make([]byte, 0, capSizeV3)
		rev := uint32(capRevision3)
		if rootID == 0 {
			rev = capRevision2
		}
		out = binary.LittleEndian.AppendUint32(out, rev|magic&capEffective)
		out = append(out, b[4:20]...)
		if rootID != 0 {
			out = binary.LittleEndian.AppendUint32(out, rootID)
		}
		return string(out), nil
	}
	return "", invalid("security.capability: %d bytes with revision %#x is not a value the kernel accepts", len(b), magic&capRevisionMask)
}

// mknodDev returns the device numbers stat(2) reports after umoci's
// mknod(path, mode, unix.Mkdev(uint32(major), uint32(minor))): the syscall
// takes a 32-bit dev_t and decodes it with new_decode_dev.
func mknodDev(major, minor int64) (uint32, uint32) {
	ma, mi := uint64(uint32(major)), uint64(uint32(minor))
	dev := (ma&0x00000fff)<<8 | (ma&0xfffff000)<<32 | (mi & 0x000000ff) | (mi&0xffffff00)<<12
	d := uint32(dev)
	return (d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00)
}

// lookup returns the node at comps without following symlinks, or nil
// (also when a component on the way is not a directory).
func (t *Tree) lookup(comps []string) *node {
	n := t.root
	for _, c := range comps {
		if n.typ != bundle.TypeDir {
			return nil
		}
		if n = n.kids[c]; n == nil {
			return nil
		}
	}
	return n
}

// resolve returns the canonical components of the directory path comps,
// following symlinks inside the tree as securejoin.SecureJoinVFS does:
// components are applied one by one, ".." stops at the root, missing or
// non-symlink components are taken literally, a symlink's target is
// expanded in place (an absolute one restarting at the root).
func (t *Tree) resolve(comps []string) ([]string, error) {
	var cur []string
	stack := []*node{t.root} // stack[i] = node at cur[:i], nil when missing
	rem := slices.Clone(comps)
	links := 0
	for len(rem) > 0 {
		part := rem[0]
		rem = rem[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur, stack = cur[:len(cur)-1], stack[:len(stack)-1]
			}
			continue
		}
		var n *node
		if p := stack[len(stack)-1]; p != nil && p.typ == bundle.TypeDir {
			n = p.kids[part]
		}
		if n == nil || n.typ != bundle.TypeSymlink {
			cur, stack = append(cur, part), append(stack, n)
			continue
		}
		if links++; links > maxSymlinks {
			return nil, invalid("too many levels of symbolic links in %q", strings.Join(comps, "/"))
		}
		if strings.HasPrefix(n.target, "/") {
			cur, stack = cur[:0], stack[:1]
		}
		rem = append(strings.Split(n.target, "/"), rem...)
	}
	return cur, nil
}

// implicitDir is a directory made by MkdirAll(0777) under umask 022: mode
// 0755 owned by root, with the group and setgid bit of a setgid parent.
func implicitDir(parent *node) *node {
	d := &node{typ: bundle.TypeDir, mode: 0o755, kids: map[string]*node{}}
	if parent.mode&0o2000 != 0 {
		d.gid = parent.gid
		d.mode |= 0o2000
	}
	return d
}

// mkdirAll creates the missing directories of comps (a resolved path, so
// no component is a symlink) and returns the last. A non-directory in the
// way is replaced, as umoci's mkdirAll does on ENOTDIR.
func (t *Tree) mkdirAll(comps []string) (*node, error) {
	n := t.root
	for _, c := range comps {
		k := n.kids[c]
		if k == nil || k.typ != bundle.TypeDir {
			k = implicitDir(n)
			n.kids[c] = k
		}
		n = k
	}
	return n, nil
}

func (t *Tree) markUpper(comps []string) {
	n := t.root
	for _, c := range comps {
		if n = n.kids[c]; n == nil {
			return
		}
		n.upper = t.gen
	}
}

// whiteout removes dir/name (dir itself when name is "": an opaque
// whiteout, which keeps the directory). Like umoci it walks the target and
// removes everything not written by the current layer, keeping entries
// the layer wrote and their ancestors.
func (t *Tree) whiteout(dir []string, name string) {
	target := dir
	if name != "" {
		target = append(slices.Clone(dir), name)
	}
	n := t.lookup(target)
	if n == nil {
		return
	}
	if name != "" && n.upper != t.gen {
		delete(t.lookup(dir).kids, name)
		return
	}
	// An opaque whiteout keeps the directory itself, written by this layer
	// or not; a whiteout of a path this layer wrote keeps what it wrote.
	t.sweep(n)
}

// sweep removes the children of dir not written by the current layer and
// recurses into those that were. A directory is walked once per layer:
// afterwards its subtree holds only entries of this layer, and every node
// this layer adds is of this layer too (markUpper), so sweeping it again
// would remove nothing; without this, one layer of n entries and n opaque
// whiteouts of their directory took n² steps.
func (t *Tree) sweep(dir *node) {
	if dir.typ != bundle.TypeDir || dir.swept == t.gen {
		return
	}
	dir.swept = t.gen
	t.sweeps++
	for name, k := range dir.kids {
		if k.upper != t.gen {
			delete(dir.kids, name)
			continue
		}
		t.sweep(k)
	}
}
