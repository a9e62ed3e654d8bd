package oci

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/bundle"
	ti "github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/oci/layerfs"
)

// editLayout rewrites the manifest tagged v1 in the layout dir through
// edit (and the config through editConfig), storing the new blobs.
func editLayout(t *testing.T, dir string, edit func(*ocispec.Manifest), editConfig func(*ocispec.Image)) {
	t.Helper()
	blob := func(d digest.Digest) string { return filepath.Join(dir, "blobs", "sha256", d.Encoded()) }
	put := func(v any) (digest.Digest, int64) {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		d := digest.FromBytes(raw)
		if err := os.WriteFile(blob(d), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return d, int64(len(raw))
	}
	var idx ocispec.Index
	readJSON(t, filepath.Join(dir, "index.json"), &idx)
	var m ocispec.Manifest
	readJSON(t, blob(idx.Manifests[0].Digest), &m)
	if editConfig != nil {
		var c ocispec.Image
		readJSON(t, blob(m.Config.Digest), &c)
		editConfig(&c)
		m.Config.Digest, m.Config.Size = put(c)
	}
	if edit != nil {
		edit(&m)
	}
	idx.Manifests[0].Digest, idx.Manifests[0].Size = put(m)
	raw, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// flipByte corrupts a file in place (same size, different digest).
func flipByte(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func simpleImage() ti.Image {
	return ti.Image{Layers: []ti.Layer{{ti.Dir("etc", 0o755), ti.File("etc/hello", 0o644, strings.Repeat("hello\n", 100))}}, Compress: true}
}

// TestPullBadInput: every bad source fails with a clear error and leaves
// the store as it was (no name, no staging directory).
func TestPullBadInput(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		ref     func(t *testing.T) string
		wantErr error  // errors.Is, when set
		wantMsg string // substring of the message
	}{
		"unknown transport":     {ref: func(*testing.T) string { return "ftp://example.com/x" }, wantErr: ErrUnknownTransport},
		"no transport":          {ref: func(*testing.T) string { return "busybox" }, wantErr: ErrUnknownTransport},
		"unsupported transport": {ref: func(*testing.T) string { return "docker-daemon:busybox:latest" }, wantErr: ErrUnknownTransport},
		"missing tag": {ref: func(t *testing.T) string {
			return strings.TrimSuffix(layoutRef(t, simpleImage()), ":v1") + ":nope"
		}, wantMsg: "nope"},
		"missing layout": {ref: func(t *testing.T) string { return "oci:" + filepath.Join(t.TempDir(), "none") + ":v1" }, wantMsg: "none"},
		"corrupted layer blob": {ref: func(t *testing.T) string {
			ref := layoutRef(t, simpleImage())
			b, _ := ti.Build(simpleImage())
			flipByte(t, filepath.Join(strings.TrimSuffix(strings.TrimPrefix(ref, "oci:"), ":v1"), "blobs", "sha256", b.LayerDescs[0].Digest.Encoded()))
			return ref
		}, wantMsg: "Digest did not match"},
		"truncated oci-archive": {ref: func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "a.tar")
			if _, err := ti.WriteOCIArchive(p, "v1", simpleImage()); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
			return "oci-archive:" + p + ":v1"
		}},
		"unsupported layer media type": {ref: func(t *testing.T) string {
			ref := layoutRef(t, simpleImage())
			editLayout(t, strings.TrimSuffix(strings.TrimPrefix(ref, "oci:"), ":v1"), func(m *ocispec.Manifest) {
				m.Layers[0].MediaType = "application/vnd.example.layer.v1+squashfs"
			}, nil)
			return ref
		}, wantErr: ErrUnsupportedMediaType},
		"unsupported config media type": {ref: func(t *testing.T) string {
			ref := layoutRef(t, simpleImage())
			editLayout(t, strings.TrimSuffix(strings.TrimPrefix(ref, "oci:"), ":v1"), func(m *ocispec.Manifest) {
				m.Config.MediaType = "application/vnd.example.config+json"
			}, nil)
			return ref
		}, wantErr: ErrUnsupportedMediaType},
		"platform not in index": {ref: func(t *testing.T) string {
			return layoutRef(t, ti.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "s390x"}}, ti.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "riscv64"}})
		}, wantMsg: "no image"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			_, err := Pull(ctx, c.ref(t), WithLayout(store), WithInsecurePolicy(), WithPlatform("linux/amd64"))
			if err == nil {
				t.Fatal("pull succeeded")
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("err = %v, want %v", err, c.wantErr)
			}
			if c.wantMsg != "" && !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, c.wantMsg)
			}
			assertStoreEmpty(t, store)
		})
	}
}

// TestStoreBadInput: a store whose blobs were damaged after the pull, or an
// image inconsistent in itself, fails measure and unpack with
// ErrDigestMismatch, and unpack writes nothing.
func TestStoreBadInput(t *testing.T) {
	ctx := context.Background()
	cases := map[string]func(t *testing.T, store string, img *Image){
		"layer blob corrupted in the store": func(t *testing.T, store string, img *Image) {
			flipByte(t, filepath.Join(store, "blobs", "sha256", img.Manifests[0].Layers[0].Digest.Encoded()))
		},
		"layer blob truncated in the store": func(t *testing.T, store string, img *Image) {
			p := filepath.Join(store, "blobs", "sha256", img.Manifests[0].Layers[0].Digest.Encoded())
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-10], 0o644)
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			ref := layoutRef(t, simpleImage())
			opts := []Option{WithLayout(store), WithInsecurePolicy(), WithPullPolicy(PullNever), WithRootless(os.Geteuid() != 0)}
			img, err := Pull(ctx, ref, WithLayout(store), WithInsecurePolicy())
			if err != nil {
				t.Fatal(err)
			}
			damage(t, store, img)
			if _, err := MeasureImage(ctx, ref, opts...); !errors.Is(err, ErrDigestMismatch) {
				t.Errorf("measure: err = %v, want ErrDigestMismatch", err)
			}
			parent := t.TempDir()
			if _, err := Unpack(ctx, ref, filepath.Join(parent, "bundle"), opts...); !errors.Is(err, ErrDigestMismatch) {
				t.Errorf("unpack: err = %v, want ErrDigestMismatch", err)
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("unpack left %v", ents)
			}
		})
	}

	t.Run("diff ID mismatch", func(t *testing.T) {
		ref := layoutRef(t, simpleImage())
		editLayout(t, strings.TrimSuffix(strings.TrimPrefix(ref, "oci:"), ":v1"), nil, func(c *ocispec.Image) {
			c.RootFS.DiffIDs[0] = digest.FromString("something else")
		})
		opts := []Option{WithLayout(filepath.Join(t.TempDir(), "store")), WithInsecurePolicy(), WithRootless(os.Geteuid() != 0)}
		if _, err := MeasureImage(ctx, ref, opts...); !errors.Is(err, ErrDigestMismatch) {
			t.Errorf("measure: err = %v, want ErrDigestMismatch", err)
		}
		parent := t.TempDir()
		if _, err := Unpack(ctx, ref, filepath.Join(parent, "bundle"), append(opts, WithPullPolicy(PullNever))...); !errors.Is(err, ErrDigestMismatch) {
			t.Errorf("unpack: err = %v, want ErrDigestMismatch", err)
		}
		if ents, _ := os.ReadDir(parent); len(ents) != 0 {
			t.Errorf("unpack left %v", ents)
		}
	})

	t.Run("never pulled", func(t *testing.T) {
		_, err := MeasureImage(ctx, layoutRef(t, simpleImage()), WithLayout(filepath.Join(t.TempDir(), "store")), WithPullPolicy(PullNever))
		if !errors.Is(err, ErrNotInStore) {
			t.Errorf("err = %v, want ErrNotInStore", err)
		}
	})
}

// listTree returns every path under dir (relative), sorted.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// TestHostileLayers: layers that try to write outside the rootfs land
// inside it (or are refused), for unpack and measure alike, and unpack
// never touches anything beside its bundle.
func TestHostileLayers(t *testing.T) {
	ctx := context.Background()
	hostile := ti.Image{Layers: []ti.Layer{{
		ti.File("../../../escape-dotdot", 0o644, "x"),
		ti.File("/escape-abs", 0o644, "x"),
		ti.Symlink("rootlink", "/"),
		ti.Symlink("uplink", "../../../../.."),
		ti.Symlink("hostetc", "/etc"),
		ti.File("rootlink/via-abs-symlink", 0o644, "x"),
		ti.File("uplink/via-dotdot-symlink", 0o644, "x"),
		ti.Dir("hostetc", 0o755), // replaces the symlink, never writes /etc
		ti.File("hostetc/passwd", 0o644, "not the host's"),
		ti.Hardlink("hl", "../../../../etc/hostname"),
	}, {
		ti.Whiteout("../../../outside"),
		ti.Whiteout("uplink/outside"),
		ti.Whiteout("rootlink/outside"),
	}}}
	// A hardlink to a host file must fail: the target is looked up inside
	// the rootfs, where it does not exist.
	for _, img := range []ti.Image{hostile} {
		ref := layoutRef(t, img)
		opts := []Option{WithLayout(filepath.Join(t.TempDir(), "store")), WithInsecurePolicy(), WithRootless(os.Geteuid() != 0)}
		_, err := MeasureImage(ctx, ref, opts...)
		if !errors.Is(err, layerfs.ErrInvalidLayer) || !strings.Contains(err.Error(), "hardlink") {
			t.Errorf("measure: %v", err)
		}
	}
	hostile.Layers[0] = hostile.Layers[0][:len(hostile.Layers[0])-1]

	ref := layoutRef(t, hostile)
	outer := t.TempDir()
	sentinel := filepath.Join(outer, "outside")
	if err := os.WriteFile(sentinel, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(outer, "deep", "bundle")
	opts := []Option{WithLayout(filepath.Join(t.TempDir(), "store")), WithInsecurePolicy(), WithRootless(os.Geteuid() != 0)}
	if _, err := Unpack(ctx, ref, dest, opts...); err != nil {
		t.Fatal(err)
	}
	got := listTree(t, outer)
	want := []string{"deep", "deep/bundle", "deep/bundle/config.json", "deep/bundle/rootfs",
		"deep/bundle/rootfs/escape-abs", "deep/bundle/rootfs/escape-dotdot", "deep/bundle/rootfs/hostetc",
		"deep/bundle/rootfs/hostetc/passwd", "deep/bundle/rootfs/rootlink", "deep/bundle/rootfs/uplink",
		"deep/bundle/rootfs/via-abs-symlink", "deep/bundle/rootfs/via-dotdot-symlink", "outside"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tree around the bundle:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b, _ := os.ReadFile(sentinel); string(b) != "keep" {
		t.Error("sentinel outside the bundle changed")
	}
	if os.Geteuid() == 0 {
		m, err := MeasureImage(ctx, ref, append(opts, WithPullPolicy(PullNever))...)
		if err != nil {
			t.Fatal(err)
		}
		r, err := bundle.Measure(ctx, dest)
		if err != nil {
			t.Fatal(err)
		}
		if r.RootfsSha256 != m.Results[0].Result.RootfsSha256 {
			t.Errorf("hostile image: unpack %s, measure %s", r.RootfsSha256, m.Results[0].Result.RootfsSha256)
		}
	}

	// Whiteouts naming "." or ".." are refused before umoci sees them (it
	// would remove the directory, or for ".." the bundle's own parent).
	for _, wo := range []string{".wh..", "sub/.wh...", ".wh...", "sub/.wh.."} {
		bad := layoutRef(t, ti.Image{Layers: []ti.Layer{{ti.Dir("sub", 0o755), ti.File(wo, 0o644, "")}}})
		p := t.TempDir()
		if err := os.WriteFile(filepath.Join(p, "sibling"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Unpack(ctx, bad, filepath.Join(p, "b"), opts...)
		if !errors.Is(err, layerfs.ErrInvalidLayer) {
			t.Errorf("whiteout %q: %v", wo, err)
		}
		if got := listTree(t, p); len(got) != 1 || got[0] != "sibling" {
			t.Errorf("whiteout %q: left %v", wo, got)
		}
	}
}

// TestHugeUserFile: an /etc/passwd beyond maxUserFile is refused by
// measure and unpack alike instead of being read into memory whole.
func TestHugeUserFile(t *testing.T) {
	old := maxUserFile
	maxUserFile = 64
	t.Cleanup(func() { maxUserFile = old })
	ctx := context.Background()
	img := ti.Image{Layers: []ti.Layer{{ti.Dir("etc", 0o755), ti.File("etc/passwd", 0o644, strings.Repeat("u:x:1:1::/:/bin/sh\n", 10))}}}
	ref := layoutRef(t, img)
	store := WithLayout(filepath.Join(t.TempDir(), "store"))
	if _, err := MeasureImage(ctx, ref, store, WithInsecurePolicy()); !errors.Is(err, ErrInvalidImage) || !strings.Contains(err.Error(), "/etc/passwd") {
		t.Errorf("measure: err = %v, want ErrInvalidImage naming /etc/passwd", err)
	}
	parent := t.TempDir()
	if _, err := Unpack(ctx, ref, filepath.Join(parent, "bundle"), store, WithInsecurePolicy()); !errors.Is(err, ErrInvalidImage) || !strings.Contains(err.Error(), "/etc/passwd") {
		t.Errorf("unpack: err = %v, want ErrInvalidImage naming /etc/passwd", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("unpack left %v", ents)
	}
}
