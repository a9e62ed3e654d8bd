package shim

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/measurelist"
	"golang.org/x/sys/unix"
)

func testBundle(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "rootfs", "etc"), 0o755)
	os.WriteFile(filepath.Join(d, "rootfs", "etc", "hostname"), []byte("x\n"), 0o644)
	cfg := `{"ociVersion":"1.0.2","process":{"args":["sh"],"env":["B=2","A=1"],"cwd":"/"},"root":{"path":"rootfs"},"hostname":"c1"}`
	os.WriteFile(filepath.Join(d, "config.json"), []byte(cfg), 0o644)
	return d
}

func TestRecorderGenerate(t *testing.T) {
	b := testBundle(t)
	out := t.TempDir()
	c := DefaultConfig()
	c.CMCVersion = manifest.CMC07
	c.List = filepath.Join(out, "list.json")
	c.GenerateDir = filepath.Join(out, "measure")
	c.GenerateAll = true
	r, err := NewRecorder(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Measure(context.Background(), b, "c1")
	if err != nil {
		t.Fatal(err)
	}
	want, err := bundle.Measure(context.Background(), b, bundle.WithContainerID("c1"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Result.TemplateSha256 != want.TemplateSha256 || !m.Added {
		t.Errorf("measurement %+v, want %+v", m.Result, want)
	}
	dir := filepath.Join(c.GenerateDir, "c1")
	raw, err := os.ReadFile(filepath.Join(dir, RefsFile))
	if err != nil {
		t.Fatal(err)
	}
	var refs []manifest.ReferenceValue
	if err := json.Unmarshal(raw, &refs); err != nil {
		t.Fatal(err)
	}
	wantRefs := []manifest.ReferenceValue{{Type: manifest.TypeSW, Name: "c1", Sha256: want.TemplateSha256[:],
		CtrData: &manifest.CtrData{ConfigSha256: want.ConfigSha256[:], RootfsSha256: want.RootfsSha256[:]}}}
	if d := cmp.Diff(wantRefs, refs); d != "" {
		t.Error(d)
	}
	norm, _ := os.ReadFile(filepath.Join(dir, NormalizedConfigFile))
	if sha256.Sum256(norm) != want.ConfigSha256 {
		t.Error("normalized config does not hash to configSha256")
	}
	l, _ := measurelist.Read(c.List, measurelist.JSON)
	if len(l) != 1 || l[0].Name != "c1" {
		t.Errorf("list %+v", l)
	}
	// Same container again: measured, not added.
	if m, err := r.Measure(context.Background(), b, "c1"); err != nil || m.Added {
		t.Errorf("second start: added %v err %v", m.Added, err)
	}
	for _, bad := range []string{"..", "a/b", "."} {
		if _, err := r.Measure(context.Background(), b, bad); err == nil {
			t.Errorf("generate with ID %q: want an error", bad)
		}
	}
}

// A container that starts unmeasured (fail-open) leaves the failure
// marker in the list; with enforce it does not start and leaves nothing.
func TestMeasureCallFailureMarker(t *testing.T) {
	for _, enforce := range []bool{false, true} {
		c := DefaultConfig()
		c.CMCVersion = manifest.CMC07
		c.List = filepath.Join(t.TempDir(), "list.json")
		c.Enforce = enforce
		call := RuncCall{Command: "create", Bundle: filepath.Join(t.TempDir(), "missing"), ID: "x"}
		err := measureCall(c, nil, nil, call, nil)
		l, rerr := measurelist.Read(c.List, measurelist.JSON)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if enforce {
			if err == nil || len(l) != 0 {
				t.Errorf("enforce: err %v, list %+v; want a refusal and no entry", err, l)
			}
			continue
		}
		zero := make([]byte, 64)
		want := sha256.Sum256(zero)
		if err != nil || len(l) != 1 || l[0].TemplateSha256 != want || l[0].Name != "x" {
			t.Errorf("fail-open: err %v, list %+v; want the failure marker %x", err, l, want)
		}
	}
}

// TestRecorderIgnoresRootlessXattr: the runtime measurement takes owners
// from the file system, never from a user.rootlesscontainers xattr (which
// containerd copies verbatim from image layers and the kernel ignores):
// a bundle with a forged xattr measures like the same bundle without it.
func TestRecorderIgnoresRootlessXattr(t *testing.T) {
	plain, forged := testBundle(t), testBundle(t)
	p := filepath.Join(forged, "rootfs", "etc", "hostname")
	// protobuf Resource{uid: 1000, gid: 1000}
	if err := unix.Setxattr(p, bundle.RootlessXattr, []byte("\x08\xe8\x07\x10\xe8\x07"), 0); err != nil {
		t.Skipf("user xattrs not supported here: %v", err)
	}
	c := DefaultConfig()
	c.CMCVersion = manifest.CMC07
	c.List = filepath.Join(t.TempDir(), "list.json")
	r, err := NewRecorder(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Measure(context.Background(), forged, "c1")
	if err != nil {
		t.Fatal(err)
	}
	want, err := bundle.Measure(context.Background(), plain, bundle.WithContainerID("c1"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Result.RootfsSha256 != want.RootfsSha256 {
		t.Errorf("rootfs with a forged rootless xattr %s; want the on-disk owners' %s", m.Result.RootfsSha256, want.RootfsSha256)
	}
}
