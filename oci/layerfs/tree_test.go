package layerfs

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/refval/refval/bundle"
	ti "github.com/refval/refval/internal/testimage"
)

func treeRecords(t *testing.T, tars [][]byte) ([]bundle.Record, error) {
	t.Helper()
	tr := New()
	for _, b := range tars {
		if err := tr.Apply(context.Background(), bytes.NewReader(b)); err != nil {
			return nil, err
		}
	}
	var recs []bundle.Record
	err := tr.Records(func(r *bundle.Record) error { recs = append(recs, *r); return nil })
	return recs, err
}

// TestCraftedExpected checks the crafted image against the tree its doc
// comment states, written by hand from the OCI layer rules.
func TestCraftedExpected(t *testing.T) {
	recs, err := treeRecords(t, ti.LayerTars(t, ti.CraftedLayers()))
	if err != nil {
		t.Fatal(err)
	}
	sum := func(s string) bundle.Digest { return sha256.Sum256([]byte(s)) }
	dir := func(p string, mode uint32) bundle.Record {
		return bundle.Record{Path: p, Type: bundle.TypeDir, Mode: mode}
	}
	file := func(p string, mode uint32, content string) bundle.Record {
		return bundle.Record{Path: p, Type: bundle.TypeFile, Mode: mode, Sha256: sum(content)}
	}
	cp := []byte(ti.CapNetRaw)
	want := []bundle.Record{
		dir("/", 0o755),
		dir("/bin", 0o755),
		file("/bin/"+ti.NonUTF8Name, 0o644, "not utf-8\n"),
		dir("/dev", 0o755),
		{Path: "/dev/null", Type: bundle.TypeChar, Mode: 0o666, DevMajor: 1, DevMinor: 3},
		{Path: "/dev/pipe", Type: bundle.TypeFifo, Mode: 0o600},
		{Path: "/dev/sda", Type: bundle.TypeBlock, Mode: 0o660, GID: 6, DevMajor: 8},
		dir("/etc", 0o755),
		{Path: "/etc/abs", Type: bundle.TypeSymlink, Target: "/etc/passwd"},
		file("/etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
		{Path: "/hl", Type: bundle.TypeFile, Mode: 0o640, UID: 1000, GID: 1000, Sha256: sum("target\n"), Capability: cp},
		{Path: "/hl2", Type: bundle.TypeFile, Mode: 0o755, Sha256: sum("ping\n"), Capability: cp},
		dir("/opq", 0o755),
		file("/opq/c", 0o644, "c\n"),
		dir("/replaced", 0o700),
		file("/replaced/child", 0o644, "child\n"),
		{Path: "/shared", Type: bundle.TypeDir, Mode: 0o2775, GID: 50},
		file("/shared/keep", 0o644, "keep\n"),
		dir("/tmp", 0o1777),
		file("/tofile", 0o600, "now a file\n"),
		dir("/usr", 0o755),
		dir("/usr/bin", 0o755),
		{Path: "/usr/bin/nobody", Type: bundle.TypeFile, Mode: 0o644, UID: 65534, GID: 65534, Sha256: sum("")},
		{Path: "/usr/bin/ping", Type: bundle.TypeFile, Mode: 0o755, Sha256: sum("ping\n"), Capability: cp},
		file("/usr/bin/su", 0o4755, "su\n"),
		file("/usr/bin/tool", 0o755, "tool v2\n"),
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestRejected: layers umoci cannot extract, or that no layer can mean,
// are errors (package oci checks that umoci fails on them too).
func TestRejected(t *testing.T) {
	for name, layers := range ti.RejectedLayers() {
		t.Run(name, func(t *testing.T) {
			_, err := treeRecords(t, ti.LayerTars(t, layers))
			if !errors.Is(err, ErrInvalidLayer) {
				t.Fatalf("err = %v, want ErrInvalidLayer", err)
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	b := ti.LayerTars(t, []ti.Layer{{ti.File("f", 0o644, string(make([]byte, 4096)))}})[0]
	_, err := treeRecords(t, [][]byte{b[:1024]})
	if err == nil {
		t.Fatal("truncated layer accepted")
	}
}

func TestLookupFile(t *testing.T) {
	tr := New(WithRetain(func(p string, size int64) bool { return p == "/real/passwd" }))
	b := ti.LayerTars(t, []ti.Layer{{
		ti.Dir("etc", 0o755), ti.Dir("real", 0o755),
		ti.File("real/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
		ti.Symlink("etc/passwd", "../../real/passwd"),
		ti.File("etc/group", 0o644, "root:x:0:\n"),
	}})
	for _, l := range b {
		if err := tr.Apply(context.Background(), bytes.NewReader(l)); err != nil {
			t.Fatal(err)
		}
	}
	f, ok, err := tr.LookupFile("/etc/passwd")
	if err != nil || !ok || string(f.Content) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("passwd: %+v %v %v", f, ok, err)
	}
	g, ok, err := tr.LookupFile("/etc/group")
	if err != nil || !ok || g.Content != nil || g.Loc != (Locator{0, 4}) || g.Size != 10 {
		t.Errorf("group: %+v %v %v", g, ok, err)
	}
	if _, ok, _ := tr.LookupFile("/etc"); ok {
		t.Error("a directory is not a file")
	}
}

// FuzzApply feeds arbitrary bytes as a layer (after a fixed base layer):
// no panic, and a valid layer (one the tree accepts) yields records that
// the encoder accepts.
func FuzzApply(f *testing.F) {
	for _, layers := range ti.EdgeCases() {
		for _, b := range ti.LayerTars(f, layers) {
			f.Add(b)
		}
	}
	base := ti.LayerTars(f, []ti.Layer{ti.CraftedLayers()[0]})[0]
	f.Fuzz(func(t *testing.T, data []byte) {
		// Skip inputs declaring large files (sparse entries can expand to
		// gigabytes of zeros): hashing them is correct but slow, and it
		// starves the fuzzer.
		pre := tar.NewReader(bytes.NewReader(data))
		for {
			h, err := pre.Next()
			if err != nil {
				break
			}
			if h.Size > 1<<20 {
				return
			}
		}
		tr := New()
		if err := tr.Apply(context.Background(), bytes.NewReader(base)); err != nil {
			t.Fatal(err)
		}
		if err := tr.Apply(context.Background(), bytes.NewReader(data)); err != nil {
			return
		}
		if _, _, err := bundle.HashSource(tr); err != nil {
			t.Fatalf("hash after a valid layer: %v", err)
		}
	})
}
