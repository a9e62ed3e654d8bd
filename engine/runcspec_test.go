package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/umoci/oci/config/convert"
	"golang.org/x/sys/unix"
)

// TestRuncSpecMatchesUmoci: RuncSpec over a rootfs on disk (os.DirFS)
// equals umoci's own convert.ToRuntimeSpec on the same directory, for
// users that resolve through /etc/passwd and /etc/group, numeric ones,
// none, and ones umoci refuses (both refuse).
func TestRuncSpecMatchesUmoci(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"passwd": testPasswd, "group": testGroup} {
		if err := os.WriteFile(filepath.Join(dir, "etc", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"", "app", "root", "1000", "1000:44", "app:video", "0:0", "65534", "4242", "missing", "app:missing", "-1"} {
		img := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
			Config: ocispec.ImageConfig{User: u, Env: []string{"HOME=/old", "A=1"}, Cmd: []string{"c"}, Volumes: map[string]struct{}{"/v": {}}}}
		want, werr := convert.ToRuntimeSpec(dir, img)
		got, gerr := RuncSpec(img, os.DirFS(dir))
		if (werr == nil) != (gerr == nil) {
			t.Errorf("user %q: umoci %v, RuncSpec %v", u, werr, gerr)
			continue
		}
		if werr != nil {
			continue
		}
		if d := cmp.Diff(&want, got); d != "" {
			t.Errorf("user %q (-umoci +RuncSpec):\n%s", u, d)
		}
	}
}

// TestUserFileFifo: an /etc/passwd that is a fifo in a rootfs on disk
// neither hangs the runc profile (umoci ignores a user file it cannot
// open) nor a containerd profile (refused: not a regular file).
func TestUserFileFifo(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, "etc", "passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, Config: ocispec.ImageConfig{User: "1000"}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s, err := PredictSpec(img, os.DirFS(dir), RunOptions{}, WithProfile(Profile{Kind: Runc}))
		if err != nil || s.Process.User.UID != 1000 {
			t.Errorf("runc profile: %v, %+v", err, s)
		}
		for _, v := range []string{"1.6", "2.4"} {
			p, err := ParseProfile("containerd", v)
			if err != nil {
				t.Error(err)
				return
			}
			_, err = Predict(img, os.DirFS(dir), RunOptions{User: "app"}, WithProfile(p))
			if v == "1.6" {
				_, err = Predict(ocispec.Image{Config: ocispec.ImageConfig{User: "app"}}, os.DirFS(dir), RunOptions{}, WithProfile(p))
			}
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("containerd %s: %v, want /etc/passwd refused as not a regular file", v, err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		// Open the fifo for writing so that a blocked reader returns.
		if f, err := os.OpenFile(filepath.Join(dir, "etc", "passwd"), os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		t.Fatal(errors.New("the prediction hangs on a fifo /etc/passwd"))
	}
}
