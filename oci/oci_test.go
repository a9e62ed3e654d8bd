package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apex/log"
	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/benchproc"
	ti "github.com/refval/refval/internal/testimage"
)

func TestMain(m *testing.M) {
	benchproc.Child(benchChild)  // benchmark paths in child processes (bench_test.go)
	log.SetLevel(log.ErrorLevel) // umoci's warnings
	os.Exit(m.Run())
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root in CI (root unpack with owners, devices, capabilities)")
		}
		t.Skip("needs root (root unpack with owners, devices, capabilities)")
	}
}

// testImages are the images every unpack/measure test runs on.
func testImages(t testing.TB) map[string][]ti.Image {
	imgs := map[string][]ti.Image{
		"crafted gzip":  {ti.Crafted(true)},
		"crafted plain": {ti.Crafted(false)},
		"user by name": {{
			Config: ocispec.ImageConfig{User: "app", Env: []string{"A=1", "B=2"}, Cmd: []string{"/app"}, Volumes: map[string]struct{}{"/data": {}}},
			Layers: []ti.Layer{{
				ti.Dir("etc", 0o755),
				ti.File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n"),
				ti.File("etc/group", 0o644, "root:x:0:\napp:x:1001:\nextra:x:2000:app\n"),
				ti.File("app", 0o755, "#!/bin/sh\n").Owned(1000, 1001),
			}},
			Compress: true,
		}},
		"passwd via symlink": {{
			Config: ocispec.ImageConfig{User: "svc"},
			Layers: []ti.Layer{{
				ti.Dir("etc", 0o755),
				ti.Dir("usr/lib", 0o755),
				ti.File("usr/lib/passwd", 0o644, "svc:x:7:7::/srv:/bin/false\n"),
				ti.Symlink("etc/passwd", "/usr/lib/passwd"),
			}},
		}},
		"multi-platform": {ti.Crafted(true), {
			Platform: ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"},
			Layers:   []ti.Layer{{ti.File("arm", 0o644, "arm64\n")}},
		}},
	}
	if _, err := os.Stat(ti.BusyboxPath); err == nil {
		imgs["busybox"] = []ti.Image{ti.Busybox(ti.Layer{ti.File("hello", 0o644, "hi\n")})}
	}
	// The longest names and paths the default limits accept (NAME_MAX
	// names, a path of exactly 3072 bytes, one through a symlink): measure
	// and unpack accept them alike (TestLimits: and refuse one byte more).
	n255 := strings.Repeat("n", 255)
	imgs["longest names and paths"] = []ti.Image{{Layers: []ti.Layer{{
		ti.File(strings.Repeat(n255+"/", 11)+strings.Repeat("f", 255), 0o644, "x"),
		ti.Symlink("l", strings.Repeat(n255+"/", 10)),
		ti.File("l/"+strings.Repeat("g", 255), 0o644, "y"),
	}}}}
	// Layers end in every way real writers end them (umoci insert writes
	// no end-of-archive blocks and leaves the last entry unpadded).
	for name, end := range ti.Endings {
		if end == ti.EndOfArchive {
			continue
		}
		for _, compress := range []bool{true, false} {
			img := ti.Crafted(compress)
			img.Ending = end
			imgs[fmt.Sprintf("crafted %s gzip=%v", name, compress)] = []ti.Image{img}
		}
	}
	return imgs
}

func layoutRef(t testing.TB, imgs ...ti.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "src")
	if _, err := ti.WriteLayout(dir, "v1", imgs...); err != nil {
		t.Fatal(err)
	}
	return "oci:" + dir + ":v1"
}

// TestMeasureEqualsUnpack is the core promise: measuring an image
// from its layer blobs equals unpacking it as root and measuring the
// bundle from disk, config included.
func TestMeasureEqualsUnpack(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	for name, imgs := range testImages(t) {
		t.Run(name, func(t *testing.T) {
			ref := layoutRef(t, imgs...)
			store := filepath.Join(t.TempDir(), "store")
			common := []Option{WithLayout(store), WithInsecurePolicy()}
			im, err := MeasureImage(ctx, ref, common...)
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Results) != 1 {
				t.Fatalf("%d results", len(im.Results))
			}
			got := im.Results[0].Result
			dest := filepath.Join(t.TempDir(), "bundle")
			u, err := Unpack(ctx, ref, dest, append(common, WithPullPolicy(PullNever), WithRootless(false))...)
			if err != nil {
				t.Fatal(err)
			}
			if !u.Exact || u.Rootless {
				t.Errorf("root unpack: exact %v rootless %v %v", u.Exact, u.Rootless, u.Inexact)
			}
			want, err := bundle.Measure(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			if got.ConfigSha256 != want.ConfigSha256 {
				t.Errorf("config: stream %s, unpacked %s\n%s", got.ConfigSha256, want.ConfigSha256, cmp.Diff(string(want.NormalizedConfig), string(got.NormalizedConfig)))
			}
			if got.RootfsSha256 != want.RootfsSha256 || got.Entries != want.Entries {
				t.Errorf("rootfs: stream %s (%d entries), unpacked %s (%d)", got.RootfsSha256, got.Entries, want.RootfsSha256, want.Entries)
			}
			if got.TemplateSha256 != want.TemplateSha256 {
				t.Errorf("template: stream %s, unpacked %s", got.TemplateSha256, want.TemplateSha256)
			}
		})
	}
}

// TestRootlessUnpack compares a rootless unpack (forced, so it runs as
// root too) with the stream measurement: equal rootfs where the image has
// nothing a rootless unpack loses, and an honest Inexact list otherwise.
func TestRootlessUnpack(t *testing.T) {
	ctx := context.Background()
	exact := ti.Image{Layers: []ti.Layer{{
		ti.Dir("etc", 0o755), ti.File("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
		ti.Dir("home", 0o755), ti.Dir("home/u", 0o700).Owned(1000, 1000),
		ti.File("home/u/f", 0o4750, "x").Owned(1000, 100), ti.Fifo("home/u/p", 0o600), ti.Symlink("home/u/l", "f"),
		ti.Symlink("lnk", "etc/passwd"), ti.Hardlink("hl", "home/u/f"),
	}, {ti.Whiteout("etc/passwd"), ti.File("etc/group", 0o644, "root:x:0:\n")}}, Compress: true}
	ref := layoutRef(t, exact, ti.Crafted(true))
	store := filepath.Join(t.TempDir(), "store")
	common := []Option{WithLayout(store), WithInsecurePolicy()}
	im, err := MeasureImage(ctx, ref, common...)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "bundle")
	u, err := Unpack(ctx, ref, dest, append(common, WithPullPolicy(PullNever), WithRootless(true))...)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Rootless || !u.Exact {
		t.Fatalf("rootless %v exact %v: %v", u.Rootless, u.Exact, u.Inexact)
	}
	// The config differs (user namespace, rootless mounts); the rootfs,
	// read through the config's ID mappings, must not.
	var diskRecs []bundle.Record
	got, err := bundle.Measure(ctx, dest, bundle.WithRecordFunc(collect(&diskRecs)))
	if err != nil {
		t.Fatal(err)
	}
	if got.RootfsSha256 != im.Results[0].Result.RootfsSha256 {
		var streamRecs []bundle.Record
		if _, err := MeasureImage(ctx, ref, append(common, WithPullPolicy(PullNever), WithRecordFunc(collect(&streamRecs)))...); err != nil {
			t.Fatal(err)
		}
		t.Errorf("rootless rootfs %s, stream %s; records (-stream +rootless):\n%s", got.RootfsSha256, im.Results[0].Result.RootfsSha256, cmp.Diff(streamRecs, diskRecs))
	}

	// A rootless unpack says which entries it cannot reproduce.
	lossy := ti.Image{Layers: []ti.Layer{{
		ti.CharDev("null", 0o666, 1, 3), ti.BlockDev("gone", 0o600, 8, 0),
		ti.Symlink("l", "null").Owned(1, 1), ti.Fifo("p", 0o600).Owned(2, 2), ti.Fifo("rootfifo", 0o600),
		ti.Hardlink("null2", "null"),
	}, {ti.Whiteout("gone")}}}
	u2, err := Unpack(ctx, layoutRef(t, lossy), filepath.Join(t.TempDir(), "b2"), append(common, WithRootless(true))...)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/l: owner not recorded (user.rootlesscontainers can only be set on files and directories)",
		"/null: device node written as an empty file",
		"/null2: device node written as an empty file",
		"/p: owner not recorded (user.rootlesscontainers can only be set on files and directories)",
	}
	if u2.Exact || !cmp.Equal(u2.Inexact, want) {
		t.Errorf("exact %v, inexact (-want +got):\n%s", u2.Exact, cmp.Diff(want, u2.Inexact))
	}
}

func TestUnpackRefusesNonEmpty(t *testing.T) {
	ctx := context.Background()
	ref := layoutRef(t, ti.Image{Layers: []ti.Layer{{ti.File("f", 0o644, "x")}}})
	dest := t.TempDir()
	if err := os.WriteFile(filepath.Join(dest, "keep"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := []Option{WithLayout(filepath.Join(t.TempDir(), "store")), WithInsecurePolicy(), WithRootless(os.Geteuid() != 0)}
	_, err := Unpack(ctx, ref, dest, opts...)
	if !errors.Is(err, ErrDestinationNotEmpty) {
		t.Fatalf("err = %v, want ErrDestinationNotEmpty", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "keep")); string(b) != "mine" {
		t.Fatal("destination touched")
	}
	if _, err := Unpack(ctx, ref, dest, append(opts, WithForce())...); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dest, "keep")); !os.IsNotExist(err) {
		t.Errorf("forced unpack kept the old content: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dest, "rootfs", "f")); err != nil {
		t.Error(err)
	}
	assertNoTemp(t, filepath.Dir(dest))
}

func collect(recs *[]bundle.Record) func(*bundle.Record) error {
	return func(r *bundle.Record) error {
		c := *r
		c.Capability = append([]byte(nil), r.Capability...)
		if len(c.Capability) == 0 {
			c.Capability = nil
		}
		*recs = append(*recs, c)
		return nil
	}
}

// assertNoTemp fails if a temporary directory of refval is left in dir.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n := e.Name(); len(n) > 7 && n[:7] == ".refval" || len(n) > 5 && n[:5] == ".pull" {
			t.Errorf("left behind: %s", filepath.Join(dir, n))
		}
	}
}

// TestConfigFunc: a config hook replaces umoci's conversion in both
// Unpack and MeasureImage, and gets the image's user files.
func TestConfigFunc(t *testing.T) {
	ctx := context.Background()
	var gotPasswd []byte
	fn := func(img ocispec.Image, passwd, group []byte) ([]byte, error) {
		gotPasswd = passwd
		return []byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["` + img.Config.Entrypoint[0] + `"]}}`), nil
	}
	ref := layoutRef(t, ti.Crafted(true))
	opts := []Option{WithLayout(filepath.Join(t.TempDir(), "store")), WithInsecurePolicy(), WithConfigFunc(fn), WithRootless(os.Geteuid() != 0)}
	m, err := MeasureImage(ctx, ref, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if string(gotPasswd) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("passwd given to the hook: %q", gotPasswd)
	}
	want, _, err := bundle.HashConfig([]byte(`{"ociVersion":"1.0.2","process":{"args":["/usr/bin/tool"]},"root":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Results[0].Result.ConfigSha256 != want {
		t.Errorf("config digest %s, want %s", m.Results[0].Result.ConfigSha256, want)
	}
	dest := filepath.Join(t.TempDir(), "b")
	if _, err := Unpack(ctx, ref, dest, append(opts, WithPullPolicy(PullNever))...); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dest, "config.json"))
	if d, _, _ := bundle.HashConfig(raw); d != want {
		t.Errorf("unpacked config %s", raw)
	}
}

// TestProgress: with a progress writer, layers get mpb bars and nothing
// blocks (also on errors).
func TestProgress(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	ref := layoutRef(t, ti.Crafted(true))
	opts := []Option{WithLayout(filepath.Join(t.TempDir(), "store")), WithInsecurePolicy(), WithProgress(&buf)}
	if _, err := MeasureImage(ctx, ref, opts...); err != nil {
		t.Fatal(err)
	}
	b, _ := ti.Build(ti.Crafted(true))
	if !strings.Contains(buf.String(), "layer "+b.LayerDescs[0].Digest.Encoded()[:12]) {
		t.Errorf("no layer bar in %q", buf.String())
	}
	if _, err := MeasureImage(ctx, layoutRef(t, ti.Image{Layers: []ti.Layer{ti.RejectedLayers()["link missing"][0]}}), opts...); err == nil {
		t.Error("bad layer measured")
	}
}

// TestMeasureCMCScheme: the cmc scheme (an on-disk tree) measures a
// temporary unpack, equal to unpack + bundle.Measure with that scheme.
func TestMeasureCMCScheme(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	ref := layoutRef(t, ti.Crafted(true))
	opts := []Option{WithLayout(filepath.Join(t.TempDir(), "store")), WithInsecurePolicy()}
	m, err := MeasureImage(ctx, ref, append(opts, WithScheme(bundle.SchemeCMC), WithTempDir(t.TempDir()))...)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "b")
	if _, err := Unpack(ctx, ref, dest, append(opts, WithPullPolicy(PullNever))...); err != nil {
		t.Fatal(err)
	}
	want, err := bundle.Measure(ctx, dest, bundle.WithScheme(bundle.SchemeCMC))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Results[0].Result; got.TemplateSha256 != want.TemplateSha256 || got.Scheme != bundle.SchemeCMC {
		t.Errorf("cmc: measure %s (%s), unpack %s", got.TemplateSha256, got.Scheme, want.TemplateSha256)
	}
}
