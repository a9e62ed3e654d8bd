package layerfs

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/apex/log"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/umoci/oci/layer"
	"golang.org/x/sys/unix"

	"github.com/refval/refval/bundle"
	ti "github.com/refval/refval/internal/testimage"
)

func TestMain(m *testing.M) {
	// umoci's implicit directories are 0777 less the umask; the package
	// contract assumes 022 (refval's unpack sets it).
	unix.Umask(0o022)
	log.SetLevel(log.ErrorLevel)
	os.Exit(m.Run())
}

// v3cap returns a version-3 capability value with the given root ID.
func v3cap(rootID uint32, caps ...uint) string {
	v2 := []byte(ti.Capability(caps...))
	v2[3] = 0x03 // revision 3 (little-endian magic, high byte)
	return string(append(v2, byte(rootID), byte(rootID>>8), byte(rootID>>16), byte(rootID>>24)))
}

// edgeCases are layer sequences for the rules of doc.go, each to be
// compared with umoci's extraction.
var edgeCases = map[string][]ti.Layer{
	"crafted": ti.CraftedLayers(),
	"root entry": {{
		ti.Dir("./", 0o700).Owned(5, 6).WithXattr("security.capability", ti.CapNetRaw),
		ti.File("x", 0o644, "x"),
	}, {
		ti.Dir("/", 0o750).Owned(7, 8),
	}},
	"parents through symlinks": {{
		ti.Dir("usr", 0o755),
		ti.Symlink("lnk", "usr"),
		ti.Symlink("abs", "/usr"),
		ti.Symlink("up", "../../../usr"),
		ti.Symlink("chain", "lnk"),
		ti.File("lnk/a", 0o644, "a"),
		ti.File("abs/b", 0o644, "b"),
		ti.File("up/c", 0o644, "c"),
		ti.File("chain/d", 0o644, "d"),
		ti.Symlink("dangling", "nowhere/deeper"),
		ti.File("dangling/e", 0o644, "e"),
	}},
	"implicit parents": {{
		ti.File("a/b/c", 0o600, "c").Owned(3, 3),
		ti.Dir("sg", 0o2770).Owned(0, 44),
		ti.File("sg/sub/deeper/f", 0o644, "f"),
	}},
	"type changes": {{
		ti.File("f2d", 0o644, "file"),
		ti.Dir("d2f", 0o755),
		ti.File("d2f/child", 0o644, "child"),
		ti.Symlink("s2d", "f2d"),
		ti.Dir("keep", 0o755),
		ti.File("keep/old", 0o644, "old"),
		ti.File("filepar", 0o4640, "x").Owned(7, 9).WithXattr("security.capability", ti.CapNetRaw),
		ti.File("deep", 0o644, "x"),
	}, {
		ti.Dir("f2d", 0o711),
		ti.File("d2f", 0o600, "now file"),
		ti.Dir("s2d", 0o755),
		ti.Dir("keep", 0o700).Owned(1, 1),
		ti.File("filepar/x", 0o644, "under a former file"),
		ti.File("deep/a/b", 0o644, "two levels"),
	}},
	"whiteouts in the same layer": {{
		ti.Dir("d", 0o755),
		ti.File("d/old", 0o644, "old"),
		ti.Dir("d/sub", 0o755),
		ti.File("d/sub/old", 0o644, "old"),
		ti.Dir("o", 0o755),
		ti.File("o/old", 0o644, "old"),
		ti.File("o/replaced", 0o644, "old"),
	}, {
		ti.File("d/sub/new", 0o644, "new"),
		ti.Whiteout("d"),
		ti.File("o/before", 0o644, "before"),
		ti.Opaque("o"),
		ti.File("o/after", 0o644, "after"),
		ti.Whiteout("missing"),
		ti.Whiteout("missing/deeper/x"),
		ti.Opaque("missing2"),
	}, {
		ti.Opaque("/"),
		ti.File("o/after", 0o600, "only me"),
	}},
	"hardlinks": {{
		ti.Dir("d", 0o755),
		ti.File("d/t", 0o4711, "target").Owned(5, 5).WithXattr("security.capability", ti.CapNetRaw),
		ti.Symlink("s", "d/t"),
		ti.Fifo("p", 0o640),
		ti.CharDev("c", 0o600, 4, 64),
		ti.Symlink("dl", "d"),
		ti.Hardlink("h1", "d/t"),
		ti.Hardlink("h2", "s"),
		ti.Hardlink("h3", "p"),
		ti.Hardlink("h4", "dl/t"),
		ti.Hardlink("h5", "/../d/t"),
		ti.Hardlink("h6", "c"),
	}, {
		ti.File("d/t", 0o644, "replaced"),
		ti.Hardlink("h7", "h1"),
		ti.Hardlink("d/t2", "d/t"),
	}},
	"devices": {{
		ti.CharDev("big", 0o600, 5000, 2000000),
		ti.BlockDev("huge", 0o600, 1<<31, 1<<31),
		ti.CharDev("zero", 0o666, 0, 0),
		ti.Fifo("fifo", 0o4777),
	}},
	"owners and modes": {{
		ti.File("wide", 0o644, "x").Owned(1<<32+5, 70000),
		ti.File("sticky", 0o1755, "x").Owned(65534, 65534),
		ti.Dir("sgid", 0o2755).Owned(0, 12),
		ti.File("sgid/f", 0o644, "no inherit when gid given"),
		ti.Symlink("sgid/l", "f").Owned(4, 4),
	}},
	"capabilities": {{
		ti.File("v2", 0o755, "x").WithXattr("security.capability", ti.Capability(13)),
		ti.File("v3root", 0o755, "x").WithXattr("security.capability", v3cap(0, 13, 40)),
		ti.File("v3user", 0o755, "x").WithXattr("security.capability", v3cap(1000, 13)),
		ti.File("empty", 0o755, "x").WithXattr("security.capability", ""),
		ti.Dir("capdir", 0o755).WithXattr("security.capability", ti.Capability(1)),
		ti.File("other-xattrs", 0o644, "x").WithXattr("user.comment", "ignored"),
		ti.File("cleared", 0o755, "x").WithXattr("security.capability", ti.Capability(2)),
		ti.Dir("capdir2", 0o755).WithXattr("security.capability", ti.Capability(3)),
	}, {
		ti.File("cleared", 0o755, "y"),
		ti.Dir("capdir2", 0o755),
	}},
	"names": {{
		ti.File("../../escape", 0o644, "clamped"),
		ti.File("/abs", 0o644, "absolute"),
		ti.File("./dot", 0o644, "dot"),
		ti.File("a//b/./c/../d", 0o644, "lexical"),
		ti.File("\xff\xfe", 0o644, "not utf-8"),
		ti.File("Z", 0o644, "upper"), ti.File("a-", 0o644, "sorting"), ti.File("a.b", 0o644, "sorting"),
	}},
}

func layerTars(t testing.TB, layers []ti.Layer) [][]byte {
	t.Helper()
	var out [][]byte
	for _, l := range layers {
		b, err := ti.LayerTar(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

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

// umociRecords extracts the layers with umoci's library as root and reads
// the result back with bundle.HashRootfs (the directory measurement).
func umociRecords(t *testing.T, tars [][]byte) ([]bundle.Record, error) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range tars {
		if err := layer.UnpackLayer(root, bytes.NewReader(b), &layer.UnpackOptions{}); err != nil {
			return nil, err
		}
	}
	var recs []bundle.Record
	_, _, err := bundle.HashRootfs(context.Background(), root, bundle.WithRecordFunc(func(r *bundle.Record) error {
		c := *r
		c.Capability = bytes.Clone(r.Capability)
		recs = append(recs, c)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return recs, nil
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test compares with a root unpack and needs root in CI")
		}
		t.Skip("needs root (to unpack device nodes, owners and capabilities)")
	}
}

// TestMatchesUmoci is the package guarantee: the records equal those of
// umoci's extraction (as root) measured from disk.
func TestMatchesUmoci(t *testing.T) {
	needRoot(t)
	for name, layers := range edgeCases {
		t.Run(name, func(t *testing.T) {
			tars := layerTars(t, layers)
			want, err := umociRecords(t, tars)
			if err != nil {
				t.Fatalf("umoci: %v", err)
			}
			got, err := treeRecords(t, tars)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("records (-umoci +layerfs):\n%s", diff)
			}
		})
	}
}

// TestCraftedExpected checks the crafted image against the tree its doc
// comment states, written by hand from the OCI layer rules.
func TestCraftedExpected(t *testing.T) {
	recs, err := treeRecords(t, layerTars(t, ti.CraftedLayers()))
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
// are errors (and umoci, where it runs, fails on them too).
func TestRejected(t *testing.T) {
	cases := map[string][]ti.Layer{
		"root as file":     {{ti.File(".", 0o644, "x")}},
		"whiteout dot":     {{ti.Dir("d", 0o755), ti.File("d/.wh..", 0o644, "")}},
		"whiteout dotdot":  {{ti.File(".wh...", 0o644, "")}},
		"link missing":     {{ti.Hardlink("h", "nothing")}},
		"link to dir":      {{ti.Dir("d", 0o755), ti.Hardlink("h", "d")}},
		"link to itself":   {{ti.File("f", 0o644, "x")}, {ti.Hardlink("f", "f")}},
		"symlink loop":     {{ti.Symlink("a", "b"), ti.Symlink("b", "a"), ti.File("a/x", 0o644, "x")}},
		"bad capability":   {{ti.File("f", 0o755, "x").WithXattr("security.capability", "\x00\x00\x00\x01garbage")}},
		"v1 capability":    {{ti.File("f", 0o755, "x").WithXattr("security.capability", "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")}},
		"unsupported type": {{{Path: "x", Type: 'Z'}}},
	}
	for name, layers := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := treeRecords(t, layerTars(t, layers))
			if !errors.Is(err, ErrInvalidLayer) {
				t.Fatalf("err = %v, want ErrInvalidLayer", err)
			}
			if name == "whiteout dot" || name == "whiteout dotdot" || os.Geteuid() != 0 {
				return // umoci would delete outside the layer's tree
			}
			if _, err := umociRecords(t, layerTars(t, layers)); err == nil {
				t.Errorf("umoci extracted what layerfs rejects")
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	b := layerTars(t, []ti.Layer{{ti.File("f", 0o644, string(make([]byte, 4096)))}})[0]
	_, err := treeRecords(t, [][]byte{b[:1024]})
	if err == nil {
		t.Fatal("truncated layer accepted")
	}
}

func TestLookupFile(t *testing.T) {
	tr := New(WithRetain(func(p string, size int64) bool { return p == "/real/passwd" }))
	b := layerTars(t, []ti.Layer{{
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
	for _, layers := range edgeCases {
		for _, b := range layerTars(f, layers) {
			f.Add(b)
		}
	}
	base := layerTars(f, []ti.Layer{ti.CraftedLayers()[0]})[0]
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := New()
		if err := tr.Apply(context.Background(), bytes.NewReader(base)); err != nil {
			t.Fatal(err)
		}
		if err := tr.Apply(context.Background(), bytes.NewReader(data)); err != nil {
			return
		}
		if _, _, err := tr.Hash(); err != nil {
			t.Fatalf("hash after a valid layer: %v", err)
		}
	})
}

var _ = tar.TypeReg
