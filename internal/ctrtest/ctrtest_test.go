package ctrtest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/testimage"
)

// busyboxArchive writes the busybox test image as an OCI archive.
func busyboxArchive(t *testing.T) string {
	t.Helper()
	img, err := testimage.BusyboxImage()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no busybox: %v", err)
		}
		t.Skipf("no busybox: %v", err)
	}
	p := filepath.Join(t.TempDir(), "busybox.tar")
	if _, err := testimage.WriteOCIArchive(p, "latest", img); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHarness(t *testing.T) {
	archive := busyboxArchive(t)
	for _, v := range ctrtest.Versions {
		t.Run(v, func(t *testing.T) {
			c := ctrtest.New(t, v)
			refs := c.Import(archive)
			if len(refs) != 1 {
				t.Fatalf("Import added %v, want one image", refs)
			}
			r := c.Run("--rm", refs[0], "hello", "sh", "-c", "echo out; echo err >&2; exit 7")
			if r.Err != nil || r.ExitCode != 7 || r.Stdout != "out\n" || !strings.Contains(r.Stderr, "err") {
				t.Fatalf("want stdout out, stderr err, exit 7; got %s", r)
			}
			if r := c.Ctr("containers", "ls", "-q"); strings.TrimSpace(r.Stdout) != "" {
				t.Errorf("--rm left containers: %q", r.Stdout)
			}
			// A container left running is cleaned up by the harness.
			if r := c.Run("-d", refs[0], "left", "sleep", "600"); r.ExitCode != 0 {
				t.Fatalf("detached run: %s", r)
			}
		})
	}
}
