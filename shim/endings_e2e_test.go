package shim_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/oci"
)

// TestShimLayerEndings: images whose layers end however real writers end
// them (no end-of-archive blocks as umoci insert writes them, one zero
// block, extra zero blocks) start under the shim on real containerd and
// are recorded with the rootfs hash of the same image with standard
// endings measured offline from its layer blobs (oci.MeasureImage, the
// stream path: no containerd, no disk walk). An image with a truncated
// layer never starts, and nothing is recorded for it.
func TestShimLayerEndings(t *testing.T) {
	for _, v := range ctrtest.Versions {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v)
			// The umoci insert ending differs from the others only after a
			// regular file whose content does not fill its last block:
			// the top layer ends with one.
			extra := testimage.Layer{testimage.File("etc/motd", 0o644, "layer endings\n")}
			layout := filepath.Join(t.TempDir(), "layout")
			if _, err := testimage.WriteLayout(layout, "std", testimage.Busybox(extra)); err != nil {
				t.Fatal(err)
			}
			want, err := oci.MeasureImage(context.Background(), "oci:"+layout+":std",
				oci.WithLayout(filepath.Join(t.TempDir(), "store")), oci.WithInsecurePolicy())
			if err != nil {
				t.Fatal(err)
			}
			for name, end := range testimage.Endings {
				t.Run(strings.ReplaceAll(name, " ", "-"), func(t *testing.T) {
					img := testimage.Busybox(extra)
					img.Ending = end
					tag := "end-" + strings.ReplaceAll(name, " ", "-")
					archive := filepath.Join(t.TempDir(), "img.tar")
					if _, err := testimage.WriteOCIArchive(archive, tag, img); err != nil {
						t.Fatal(err)
					}
					image := r.c.Import(archive)[0]
					dir := r.setup(t, "enforce = true\n")
					id := "endings-" + tag
					if res := r.run("--rm", "--runtime", runtimeCMC, image, id, "true"); res.Err != nil || res.ExitCode != 0 {
						t.Fatalf("run: %s", res)
					}
					l := readList(t, dir)
					if len(l) != 1 || l[0].Name != id {
						t.Fatalf("list %+v; want one entry for %s", l, id)
					}
					if l[0].RootfsSha256 != want.Results[0].Result.RootfsSha256 {
						t.Errorf("rootfs %s at runtime, %s offline with standard endings", l[0].RootfsSha256, want.Results[0].Result.RootfsSha256)
					}
				})
			}
			t.Run("truncated", func(t *testing.T) {
				img := testimage.Busybox(testimage.Layer{testimage.File("extra", 0o644, strings.Repeat("x", 3000))})
				img.Ending = testimage.EndTruncated
				archive := filepath.Join(t.TempDir(), "img.tar")
				if _, err := testimage.WriteOCIArchive(archive, "end-truncated", img); err != nil {
					t.Fatal(err)
				}
				dir := r.setup(t, "")
				imp := r.c.Ctr("images", "import", "--base-name", "ctrtest.local/import", archive)
				t.Logf("import: %s", imp)
				if imp.ExitCode == 0 {
					// Imported without unpacking: the start must fail.
					res := r.run("--rm", "--runtime", runtimeCMC, "ctrtest.local/import:end-truncated", "endings-truncated", "true")
					if res.ExitCode == 0 {
						t.Fatalf("an image with a truncated layer started: %s", res)
					}
					t.Logf("run: %s", res)
				}
				if l := readList(t, dir); len(l) != 0 {
					t.Errorf("recorded for an image that cannot be unpacked: %+v", l)
				}
			})
		})
	}
}
