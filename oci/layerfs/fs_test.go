package layerfs

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/refval/refval/bundle"
	ti "github.com/refval/refval/internal/testimage"
)

// tarContent re-reads a file's content from its layer, as package oci
// does for contents the tree did not retain.
func tarContent(tars [][]byte) ContentFunc {
	return func(name string, f File) (io.Reader, error) {
		if f.Content != nil {
			return bytes.NewReader(f.Content), nil
		}
		tr := tar.NewReader(bytes.NewReader(tars[f.Loc.Layer]))
		for i := 0; ; i++ {
			if _, err := tr.Next(); err != nil {
				return nil, err
			}
			if i == f.Loc.Entry {
				return tr, nil
			}
		}
	}
}

func applyAll(t *testing.T, tr *Tree, tars [][]byte) {
	t.Helper()
	for _, b := range tars {
		if err := tr.Apply(context.Background(), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFSMatchesRecords: the FS view of the crafted image passes
// fstest.TestFS, lists exactly the entries Records emits, with their
// types, modes and sizes, and every regular file reads back the content
// whose digest the record holds.
func TestFSMatchesRecords(t *testing.T) {
	tars := ti.LayerTars(t, ti.CraftedLayers())
	tr := New()
	applyAll(t, tr, tars)
	fsys := tr.FS(tarContent(tars))
	var want []string
	recs := map[string]bundle.Record{}
	if err := tr.Records(func(r *bundle.Record) error {
		if r.Path != "/" {
			want = append(want, r.Path[1:])
			recs[r.Path[1:]] = *r
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// fstest.TestFS opens everything it lists; fifos and devices open but
	// do not read, so leave the ones of /dev out of its content checks.
	if err := fstest.TestFS(subFS{fsys, "dev"}, "etc/passwd", "usr/bin/ping"); err != nil {
		t.Error(err)
	}
	for _, p := range want {
		r := recs[p]
		fi, err := fsys.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		m := fi.Mode()
		var typ bundle.EntryType
		switch {
		case m.IsDir():
			typ = bundle.TypeDir
		case m.IsRegular():
			typ = bundle.TypeFile
		case m&fs.ModeSymlink != 0:
			typ = bundle.TypeSymlink
		case m&fs.ModeCharDevice != 0:
			typ = bundle.TypeChar
		case m&fs.ModeDevice != 0:
			typ = bundle.TypeBlock
		case m&fs.ModeNamedPipe != 0:
			typ = bundle.TypeFifo
		}
		if typ != r.Type {
			t.Errorf("%s: type %v, record %v", p, typ, r.Type)
		}
		perm := uint32(m.Perm())
		if m&fs.ModeSetuid != 0 {
			perm |= 0o4000
		}
		if m&fs.ModeSetgid != 0 {
			perm |= 0o2000
		}
		if m&fs.ModeSticky != 0 {
			perm |= 0o1000
		}
		if typ != bundle.TypeSymlink && perm != r.Mode {
			t.Errorf("%s: mode %o, record %o", p, perm, r.Mode)
		}
		switch typ {
		case bundle.TypeSymlink:
			if target, err := fsys.ReadLink(p); err != nil || target != r.Target {
				t.Errorf("%s: ReadLink %q %v, record %q", p, target, err, r.Target)
			}
		case bundle.TypeFile:
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				t.Fatal(err)
			}
			if bundle.Digest(sha256Of(b)) != r.Sha256 || fi.Size() != int64(len(b)) {
				t.Errorf("%s: content %q does not match its record", p, b)
			}
		}
	}
	// Open follows symlinks inside the tree: /etc/abs → /etc/passwd.
	if b, err := fs.ReadFile(fsys, "etc/abs"); err != nil || string(b) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("etc/abs: %q %v", b, err)
	}
	if _, err := fsys.Open("missing/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v, want ErrNotExist", err)
	}
	if _, err := fsys.Open("/etc/passwd"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("rooted name: %v, want ErrInvalid", err)
	}
	if _, err := fs.ReadFile(fsys, "dev/pipe"); err == nil {
		t.Error("reading a fifo of the view succeeded")
	}
}

// TestFSConfined: symlinks that climb out of the tree resolve inside it,
// as LookupFile resolves them (absolute targets restart at the root, ".."
// stops there).
func TestFSConfined(t *testing.T) {
	tars := ti.LayerTars(t, []ti.Layer{{
		ti.Dir("etc", 0o755), ti.Dir("real", 0o755),
		ti.File("real/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
		ti.Symlink("etc/passwd", "../../../real/passwd"),
		ti.Symlink("etc/group", "/../real/passwd"),
		ti.Symlink("etc/dangling", "/nowhere"),
	}})
	tr := New(WithRetain(func(p string, size int64) bool { return p == "/real/passwd" }))
	applyAll(t, tr, tars)
	fsys := tr.FS(nil) // retained content only
	for _, p := range []string{"etc/passwd", "etc/group"} {
		if b, err := fs.ReadFile(fsys, p); err != nil || !strings.HasPrefix(string(b), "root:") {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	if _, err := fsys.Open("etc/dangling"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dangling: %v, want ErrNotExist", err)
	}
	if fi, err := fsys.Lstat("etc/dangling"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat dangling: %v %v", fi, err)
	}
}

// subFS hides one top-level directory from fstest.TestFS.
type subFS struct {
	fs.ReadLinkFS
	hide string
}

func (s subFS) Open(name string) (fs.File, error) {
	if name == s.hide || strings.HasPrefix(name, s.hide+"/") {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := s.ReadLinkFS.Open(name)
	if err != nil || name != "." {
		return f, err
	}
	return &hideDir{f.(fs.ReadDirFile), s.hide}, nil
}

func (s subFS) ReadLink(name string) (string, error) { return s.ReadLinkFS.ReadLink(name) }
func (s subFS) Lstat(name string) (fs.FileInfo, error) {
	if name == s.hide || strings.HasPrefix(name, s.hide+"/") {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	return s.ReadLinkFS.Lstat(name)
}

type hideDir struct {
	fs.ReadDirFile
	hide string
}

func (d *hideDir) ReadDir(n int) ([]fs.DirEntry, error) {
	for {
		ents, err := d.ReadDirFile.ReadDir(n)
		out := ents[:0]
		for _, e := range ents {
			if e.Name() != d.hide {
				out = append(out, e)
			}
		}
		if len(out) > 0 || err != nil || n <= 0 {
			return out, err
		}
	}
}

func sha256Of(b []byte) [32]byte { return sha256.Sum256(b) }
