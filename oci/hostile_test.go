package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
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
