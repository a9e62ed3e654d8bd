package oci

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/umoci/oci/cas/dir"
	"github.com/opencontainers/umoci/oci/layer"
)

// TestConfigMatchesUmoci: runtimeConfig, given the user files, writes the
// config umoci's own layer.UnpackRuntimeJSON writes for the unpacked
// rootfs, root and rootless (images whose /etc/passwd is no symlink, where
// umoci's host-path reading and refval's in-image reading agree).
func TestConfigMatchesUmoci(t *testing.T) {
	ctx := context.Background()
	for name, imgs := range testImages(t) {
		if name == "passwd via symlink" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			ref := layoutRef(t, imgs...)
			store := filepath.Join(t.TempDir(), "store")
			img, err := Pull(ctx, ref, WithLayout(store), WithInsecurePolicy())
			if err != nil {
				t.Fatal(err)
			}
			m := &img.Manifests[0]
			dest := filepath.Join(t.TempDir(), "b")
			if _, err := Unpack(ctx, ref, dest, WithLayout(store), WithPullPolicy(PullNever), WithRootless(os.Geteuid() != 0)); err != nil {
				t.Fatal(err)
			}
			rootfs := filepath.Join(dest, "rootfs")
			engine, err := dir.Open(store)
			if err != nil {
				t.Fatal(err)
			}
			defer engine.Close()
			for _, rootless := range []bool{false, true} {
				mo := mapOptions(rootless)
				var want bytes.Buffer
				if err := layer.UnpackRuntimeJSON(ctx, engine, &want, rootfs, m.manifest, &mo); err != nil {
					t.Fatal(err)
				}
				passwd, err := readScoped(rootfs, "/etc/passwd")
				if err != nil {
					t.Fatal(err)
				}
				group, err := readScoped(rootfs, "/etc/group")
				if err != nil {
					t.Fatal(err)
				}
				got, err := runtimeConfig(m.config, passwd, group, mo)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want.String(), string(got)); diff != "" {
					t.Errorf("rootless=%v: config (-umoci +refval):\n%s", rootless, diff)
				}
			}
		})
	}
}

// TestConfigResolvesUser: the image's user name is resolved through its
// /etc/passwd and /etc/group (read from the layers, also through an
// absolute symlink that stays inside the image).
func TestConfigResolvesUser(t *testing.T) {
	ctx := context.Background()
	imgs := testImages(t)
	for name, want := range map[string][]string{
		"user by name":       {`"uid": 1000`, `"gid": 1001`, `"HOME=/home/app"`, "2000"},
		"passwd via symlink": {`"uid": 7`, `"gid": 7`, `"HOME=/srv"`},
	} {
		m, err := MeasureImage(ctx, layoutRef(t, imgs[name]...), WithLayout(filepath.Join(t.TempDir(), "s")), WithInsecurePolicy())
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !bytes.Contains(m.Results[0].Config, []byte(w)) {
				t.Errorf("%s: config lacks %s:\n%s", name, w, m.Results[0].Config)
			}
		}
	}
}
