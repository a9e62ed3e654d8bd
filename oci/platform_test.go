package oci

import (
	"errors"
	"path/filepath"
	"runtime"
	"testing"

	ti "github.com/refval/refval/internal/testimage"
)

// TestPlatformOfSingleImage: an explicitly asked platform must match a
// single-platform image's own config, or nothing is stored under that
// platform's name; without --platform the image is taken as it is.
func TestPlatformOfSingleImage(t *testing.T) {
	ctx := t.Context()
	ref := layoutRef(t, ti.Image{Layers: []ti.Layer{{ti.File("x", 0o644, "x\n")}}}) // host platform
	store := filepath.Join(t.TempDir(), "store")
	other := "linux/s390x"
	if runtime.GOARCH == "s390x" {
		other = "linux/amd64"
	}
	_, err := Pull(ctx, ref, WithLayout(store), WithInsecurePolicy(), WithPlatform(other))
	if !errors.Is(err, ErrNoPlatform) {
		t.Fatalf("pull --platform %s of a %s image: %v; want ErrNoPlatform", other, runtime.GOARCH, err)
	}
	if _, err := MeasureImage(ctx, ref, WithLayout(store), WithInsecurePolicy(), WithPlatform(other), WithPullPolicy(PullNever)); err == nil {
		t.Error("the refused pull left the image findable under the other platform")
	}
	img, err := Pull(ctx, ref, WithLayout(store), WithInsecurePolicy(), WithPlatform("linux/"+runtime.GOARCH))
	if err != nil || len(img.Manifests) != 1 {
		t.Fatalf("pull --platform linux/%s: %v", runtime.GOARCH, err)
	}
	if _, err := Pull(ctx, ref, WithLayout(store), WithInsecurePolicy()); err != nil {
		t.Errorf("pull without --platform: %v", err)
	}
}
