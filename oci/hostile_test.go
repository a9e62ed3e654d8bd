package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ti "github.com/refval/refval/internal/testimage"

	"github.com/refval/refval/bundle"
)

// TestTeeHasherAfterEOF: reading again after EOF returns EOF (withLayer
// drains a layer once more after a tar reader that met EOF itself, as it
// does on layers without end-of-archive blocks); it used to panic.
func TestTeeHasherAfterEOF(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), teeBuf/5+7) // two buffers and a bit
	th := newTeeHasher(bytes.NewReader(data), sha256.New())
	got, err := io.ReadAll(th)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, err %v", len(got), err)
	}
	for i := 0; i < 3; i++ {
		if n, err := th.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("read after EOF: %d, %v", n, err)
		}
	}
	if n, err := io.Copy(io.Discard, th); n != 0 || err != nil {
		t.Fatalf("drain after EOF: %d, %v", n, err)
	}
	want := sha256.Sum256(data)
	if got := th.sum().Sum(nil); !bytes.Equal(got, want[:]) {
		t.Errorf("hash %x, want %x", got, want)
	}
}

// TestTruncatedLayers: a layer cut inside its last entry is refused by
// measure and unpack alike, naming the layer; nothing is left behind.
func TestTruncatedLayers(t *testing.T) {
	ctx := context.Background()
	for _, compress := range []bool{true, false} {
		img := ti.Crafted(compress)
		img.Ending = ti.EndTruncated
		ref := layoutRef(t, img)
		opts := []Option{WithLayout(filepath.Join(t.TempDir(), "store")), WithInsecurePolicy(), WithRootless(os.Geteuid() != 0)}
		if _, err := MeasureImage(ctx, ref, opts...); err == nil || !strings.Contains(err.Error(), "layer 0 (sha256:") {
			t.Errorf("gzip=%v: measure: err = %v, want an error naming layer 0", compress, err)
		}
		parent := t.TempDir()
		if _, err := Unpack(ctx, ref, filepath.Join(parent, "b"), append(opts, WithPullPolicy(PullNever))...); err == nil || !strings.Contains(err.Error(), "layer 0 (sha256:") {
			t.Errorf("gzip=%v: unpack: err = %v, want an error naming layer 0", compress, err)
		}
		if ents, _ := os.ReadDir(parent); len(ents) != 0 {
			t.Errorf("gzip=%v: unpack left %v", compress, ents)
		}
	}
}

// TestUmociInsertImage: an image built by the umoci binary itself (umoci
// insert writes layers without end-of-archive blocks) is measured equal to
// what umoci's own `umoci unpack` writes, read back by bundle.Measure: an
// oracle independent of refval's unpack.
func TestUmociInsertImage(t *testing.T) {
	needRoot(t)
	umoci, err := exec.LookPath("umoci")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("umoci not installed (scripts/deps.sh)")
		}
		t.Skip("umoci not installed")
	}
	tmp := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(umoci, args...).CombinedOutput(); err != nil {
			t.Fatalf("umoci %v: %v\n%s", args, err, out)
		}
	}
	src := filepath.Join(tmp, "src")
	for p, c := range map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\n", "bin/tool": "#!/bin/sh\n", "data/odd": "123"} {
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	layout := filepath.Join(tmp, "layout")
	run("init", "--layout", layout)
	run("new", "--image", layout+":v1")
	run("insert", "--image", layout+":v1", filepath.Join(src, "etc"), "/etc")
	run("insert", "--image", layout+":v1", filepath.Join(src, "bin"), "/bin")
	run("insert", "--image", layout+":v1", filepath.Join(src, "data"), "/data")
	ub := filepath.Join(tmp, "umoci-bundle")
	run("unpack", "--image", layout+":v1", ub)
	want, err := bundle.Measure(context.Background(), ub)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := []Option{WithLayout(filepath.Join(tmp, "store")), WithInsecurePolicy()}
	m, err := MeasureImage(ctx, "oci:"+layout+":v1", opts...)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Results[0].Result; got.RootfsSha256 != want.RootfsSha256 || got.Entries != want.Entries {
		t.Errorf("measure %s (%d entries), umoci unpack %s (%d)", got.RootfsSha256, got.Entries, want.RootfsSha256, want.Entries)
	}
	dest := filepath.Join(tmp, "refval-bundle")
	if _, err := Unpack(ctx, "oci:"+layout+":v1", dest, append(opts, WithPullPolicy(PullNever))...); err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Measure(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	if r.RootfsSha256 != want.RootfsSha256 {
		t.Errorf("refval unpack %s, umoci unpack %s", r.RootfsSha256, want.RootfsSha256)
	}
}

// limitCase is an image beyond one limit: measure and unpack must both
// refuse it with a *bundle.LimitError for that limit, naming the entry,
// and the layer; and accept it once the limit is raised (when raise is
// set).
type limitCase struct {
	img   ti.Image
	lim   bundle.Limits // on top of the defaults
	want  bundle.Limit
	path  string // in the error
	raise *bundle.Limits
}

func limitCases() map[string]limitCase {
	long := strings.Repeat("n", 250)
	return map[string]limitCase{
		"sparse 2^60": {img: ti.Image{Layers: []ti.Layer{{ti.Sparse("hole", 1<<60)}}}, want: bundle.LimitLayerBytes, path: "hole"},
		"sparse beyond the expansion floor": {
			img: ti.Image{Layers: []ti.Layer{{ti.Sparse("hole", 64<<20)}}}, lim: bundle.Limits{ExpansionFloor: 1 << 20},
			want: bundle.LimitExpansion, path: "hole", raise: &bundle.Limits{Expansion: -1}},
		"gzip bomb": {
			img: ti.Image{Layers: []ti.Layer{{ti.ZeroFile("bomb", 64<<20)}}, Compress: true}, lim: bundle.Limits{ExpansionFloor: 1 << 20},
			want: bundle.LimitExpansion, path: "bomb", raise: &bundle.Limits{ExpansionFloor: 1 << 30}},
		"layer size": {
			img: ti.Image{Layers: []ti.Layer{{ti.ZeroFile("a", 1<<20), ti.ZeroFile("b", 1<<20)}}}, lim: bundle.Limits{LayerBytes: 3 << 19},
			want: bundle.LimitLayerBytes, path: "b", raise: &bundle.Limits{LayerBytes: 4 << 20}},
		"image size": {
			img: ti.Image{Layers: []ti.Layer{{ti.ZeroFile("a", 1<<20)}, {ti.ZeroFile("b", 1<<20)}}}, lim: bundle.Limits{ImageBytes: 3 << 19},
			want: bundle.LimitImageBytes, path: "b", raise: &bundle.Limits{ImageBytes: -1}},
		"entries": {
			img: ti.Image{Layers: []ti.Layer{{ti.File("1", 0o644, ""), ti.File("2", 0o644, "")}, {ti.File("3", 0o644, "")}}}, lim: bundle.Limits{Entries: 2},
			want: bundle.LimitEntries, path: "3", raise: &bundle.Limits{Entries: 3}},
		"depth 50000":   {img: ti.Image{Layers: []ti.Layer{{ti.File(ti.DeepPath(50000, "f"), 0o644, "x")}}}, want: bundle.LimitDepth, path: "d/d/d"},
		"300-byte name": {img: ti.Image{Layers: []ti.Layer{{ti.File(strings.Repeat("x", 300), 0o644, "x")}}}, want: bundle.LimitNameBytes, path: "xxx"},
		"path beyond PATH_MAX": {
			img:  ti.Image{Layers: []ti.Layer{{ti.File(strings.Repeat(long+"/", 20)+"f", 0o644, "x")}}},
			want: bundle.LimitPathBytes, path: long},
		"path of 3074 bytes": {
			img:  ti.Image{Layers: []ti.Layer{{ti.File(strings.Repeat(strings.Repeat("n", 255)+"/", 12)+"f", 0o644, "x")}}},
			want: bundle.LimitPathBytes, path: long, raise: &bundle.Limits{PathBytes: 3074}},
		"path long through a symlink": {
			img:  ti.Image{Layers: []ti.Layer{{ti.Symlink("l", strings.Repeat(long+"/", 13)), ti.File("l/f", 0o644, "x")}}},
			want: bundle.LimitPathBytes, path: "/" + long + "/"},
		"hardlink target too deep": {
			img:  ti.Image{Layers: []ti.Layer{{ti.Hardlink("h", ti.DeepPath(2000, "f"))}}},
			want: bundle.LimitDepth, path: "h"},
	}
}

// TestLimits: hostile images are refused by measure and unpack alike, in
// bounded time, with an error that names the limit, its flag, the entry
// and the layer; unpack leaves nothing behind. Raising the limit lets the
// image through both.
func TestLimits(t *testing.T) {
	ctx := context.Background()
	for name, c := range limitCases() {
		t.Run(name, func(t *testing.T) {
			b, err := ti.Build(c.img)
			if err != nil {
				t.Fatal(err)
			}
			ref := layoutRef(t, c.img)
			opts := []Option{WithLayout(filepath.Join(t.TempDir(), "store")), WithInsecurePolicy(), WithRootless(os.Geteuid() != 0)}
			check := func(what string, err error) {
				t.Helper()
				var le *bundle.LimitError
				if !errors.Is(err, bundle.ErrLimitExceeded) || !errors.As(err, &le) {
					t.Fatalf("%s: err = %v, want a LimitError", what, err)
				}
				if le.Limit != c.want || !strings.Contains(le.Path, c.path) || le.Value <= le.Max {
					t.Errorf("%s: %s %d > %d at %q, want %s at %q", what, le.Limit, le.Value, le.Max, le.Path, c.want, c.path)
				}
				if !strings.HasPrefix(le.Layer, "sha256:") || !strings.Contains(err.Error(), le.Layer) && !strings.Contains(err.Error(), b.LayerDescs[len(b.LayerDescs)-1].Digest.String()) {
					t.Errorf("%s: layer %q not named in %v", what, le.Layer, err)
				}
				t.Logf("%s: %v", what, err)
				if !strings.Contains(err.Error(), c.want.Flag()) {
					t.Errorf("%s: %v does not name %s", what, err, c.want.Flag())
				}
			}
			_, err = MeasureImage(ctx, ref, append(opts, WithLimits(c.lim))...)
			check("measure", err)
			parent := t.TempDir()
			_, err = Unpack(ctx, ref, filepath.Join(parent, "b"), append(opts, WithPullPolicy(PullNever), WithLimits(c.lim))...)
			check("unpack", err)
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("unpack left %v", ents)
			}
			if c.raise == nil {
				return
			}
			raised := c.lim
			if c.raise.Expansion != 0 {
				raised.Expansion = c.raise.Expansion
			}
			if c.raise.ExpansionFloor != 0 {
				raised.ExpansionFloor = c.raise.ExpansionFloor
			}
			if c.raise.LayerBytes != 0 {
				raised.LayerBytes = c.raise.LayerBytes
			}
			if c.raise.ImageBytes != 0 {
				raised.ImageBytes = c.raise.ImageBytes
			}
			if c.raise.Entries != 0 {
				raised.Entries = c.raise.Entries
			}
			if c.raise.PathBytes != 0 {
				raised.PathBytes = c.raise.PathBytes
			}
			if _, err := MeasureImage(ctx, ref, append(opts, WithPullPolicy(PullNever), WithLimits(raised))...); err != nil {
				t.Errorf("measure with the limit raised: %v", err)
			}
			if _, err := Unpack(ctx, ref, filepath.Join(parent, "b"), append(opts, WithPullPolicy(PullNever), WithLimits(raised))...); err != nil {
				t.Errorf("unpack with the limit raised: %v", err)
			}
		})
	}
}
