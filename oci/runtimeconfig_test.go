package oci

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/engine"
	ti "github.com/refval/refval/internal/testimage"
)

// userFileImages are images whose /etc/passwd is not simply a regular
// file: the conversion reads it through the layer tree's view when
// measuring and through the unpacked rootfs when unpacking.
func userFileImages() map[string]ti.Image {
	passwd := "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n"
	user := ocispec.ImageConfig{User: "app", Cmd: []string{"/app"}}
	root := ocispec.ImageConfig{Cmd: []string{"/app"}}
	return map[string]ti.Image{
		"plain": {Config: user, Layers: []ti.Layer{{ti.Dir("etc", 0o755), ti.File("etc/passwd", 0o644, passwd)}}},
		"escaping symlink": {Config: user, Layers: []ti.Layer{{
			ti.Dir("etc", 0o755), ti.Dir("lib", 0o755), ti.File("lib/pw", 0o644, passwd),
			ti.Symlink("etc/passwd", "../../../../lib/pw"),
		}}},
		"symlinked etc": {Config: user, Layers: []ti.Layer{{
			ti.Dir("real", 0o755), ti.File("real/passwd", 0o644, passwd), ti.Symlink("etc", "/real"),
		}}},
		"fifo":              {Config: root, Layers: []ti.Layer{{ti.Dir("etc", 0o755), ti.Fifo("etc/passwd", 0o644)}}},
		"directory":         {Config: root, Layers: []ti.Layer{{ti.Dir("etc", 0o755), ti.Dir("etc/passwd", 0o755)}}},
		"dangling symlink":  {Config: root, Layers: []ti.Layer{{ti.Dir("etc", 0o755), ti.Symlink("etc/passwd", "/nowhere")}}},
		"second layer":      {Config: user, Layers: []ti.Layer{{ti.Dir("etc", 0o755), ti.File("etc/passwd", 0o644, "root:x:0:0::/:/bin/sh\n")}, {ti.File("etc/passwd", 0o644, passwd)}}},
		"no user database":  {Config: ocispec.ImageConfig{User: "1000:1000"}, Layers: []ti.Layer{{ti.File("app", 0o755, "")}}},
		"user without file": {Config: user, Layers: []ti.Layer{{ti.File("app", 0o755, "")}}},
	}
}

// TestRuntimeConfigViewsAgree: for each image above and each conversion
// (umoci's, and the containerd 1.6 and 2.4 profiles), the config measured
// from the layer tree's view equals the config.json the root unpack
// writes from its rootfs, or both refuse the image; none hangs on a fifo.
func TestRuntimeConfigViewsAgree(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	convs := map[string][]Option{"umoci": nil}
	for _, v := range []string{"1.6", "2.4"} {
		p, err := engine.ParseProfile("containerd", v)
		if err != nil {
			t.Fatal(err)
		}
		pred := &engine.Predictor{Profile: p}
		convs["containerd "+v] = []Option{WithRuntimeConfig(pred.Config), WithContainerID(pred.ContainerID())}
	}
	for name, img := range userFileImages() {
		ref := layoutRef(t, img)
		store := filepath.Join(t.TempDir(), "store")
		for conv, extra := range convs {
			t.Run(name+"/"+conv, func(t *testing.T) {
				opts := append([]Option{WithLayout(store), WithInsecurePolicy()}, extra...)
				m, merr := MeasureImage(ctx, ref, opts...)
				dest := filepath.Join(t.TempDir(), "b")
				_, uerr := Unpack(ctx, ref, dest, append(opts, WithPullPolicy(PullNever))...)
				if (merr == nil) != (uerr == nil) {
					t.Fatalf("measure: %v; unpack: %v", merr, uerr)
				}
				if merr != nil {
					t.Logf("both refuse: %v", merr)
					return
				}
				cfg, err := os.ReadFile(filepath.Join(dest, "config.json"))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(m.Results[0].Config, cfg) {
					t.Errorf("measured config:\n%s\nunpacked config:\n%s", m.Results[0].Config, cfg)
				}
			})
		}
	}
}

// TestRuntimeConfigResolvesUser: the views resolve the user through
// symlinks inside the image (and never outside it).
func TestRuntimeConfigResolvesUser(t *testing.T) {
	ctx := context.Background()
	imgs := userFileImages()
	for _, name := range []string{"plain", "escaping symlink", "symlinked etc", "second layer"} {
		m, err := MeasureImage(ctx, layoutRef(t, imgs[name]), WithLayout(filepath.Join(t.TempDir(), "s")), WithInsecurePolicy())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, w := range []string{`"uid": 1000`, `"gid": 1001`, `"HOME=/home/app"`} {
			if !bytes.Contains(m.Results[0].Config, []byte(w)) {
				t.Errorf("%s: config lacks %s:\n%s", name, w, m.Results[0].Config)
			}
		}
	}
	// umoci refuses a user name it cannot find; so does refval.
	if _, err := MeasureImage(ctx, layoutRef(t, imgs["user without file"]), WithLayout(filepath.Join(t.TempDir(), "s")), WithInsecurePolicy()); err == nil {
		t.Error("a user name without /etc/passwd was accepted")
	}
}
