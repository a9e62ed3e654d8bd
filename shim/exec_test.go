package shim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSelf pretends the binary at path is the running one.
func fakeSelf(t *testing.T, path string) *self {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return &self{path: path, fi: fi}
}

func writeExe(t *testing.T, path string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestLookPathSkipsSelf(t *testing.T) {
	d := t.TempDir()
	me := filepath.Join(d, "bin", ShimName)
	writeExe(t, me)
	link := filepath.Join(d, "link")
	os.MkdirAll(link, 0o755)
	os.Symlink(me, filepath.Join(link, "runc"))
	hard := filepath.Join(d, "hard")
	os.MkdirAll(hard, 0o755)
	os.Link(me, filepath.Join(hard, "runc"))
	real := filepath.Join(d, "sbin", "runc")
	writeExe(t, real)
	os.MkdirAll(filepath.Join(d, "noexec"), 0o755)
	os.WriteFile(filepath.Join(d, "noexec", "runc"), nil, 0o644)
	s := fakeSelf(t, me)
	env := []string{"PATH=" + strings.Join([]string{link, hard, filepath.Join(d, "noexec"), filepath.Join(d, "sbin")}, ":")}
	got, err := s.lookPath("runc", env)
	if err != nil || got != real {
		t.Errorf("lookPath = %q, %v; want %s (skipping the symlink, the hardlink and the non-executable)", got, err, real)
	}
	if _, err := s.lookPath("runc", []string{"PATH=" + link}); err == nil {
		t.Error("only self in PATH: want an error")
	}
	if _, err := s.resolve(filepath.Join(link, "runc"), "runc", env); err == nil {
		t.Error("configured runc that is this binary: want a loop error")
	}
	if got, err := s.resolve(real, "runc", nil); err != nil || got != real {
		t.Errorf("configured runc: %q %v", got, err)
	}
	stripped := s.withoutSelf(append([]string{"A=1"}, env...))
	if want := "PATH=" + filepath.Join(d, "noexec") + ":" + filepath.Join(d, "sbin"); stripped[1] != want || stripped[0] != "A=1" {
		t.Errorf("withoutSelf = %q, want A=1, %s", stripped, want)
	}
}

func TestRuncLinkDir(t *testing.T) {
	d := t.TempDir()
	me := filepath.Join(d, "prefix", "bin", ShimName)
	writeExe(t, me)
	s := fakeSelf(t, me)
	// Installed layout: <prefix>/libexec/refval/runc -> ../../bin/shim.
	lib := filepath.Join(d, "prefix", "libexec", "refval")
	os.MkdirAll(lib, 0o755)
	os.Symlink("../../bin/"+ShimName, filepath.Join(lib, "runc"))
	if got, err := s.runcLinkDir(""); err != nil || got != lib {
		t.Errorf("installed: %q %v, want %s", got, err, lib)
	}
	if _, err := s.runcLinkDir(d); err == nil {
		t.Error("configured dir without runc: want an error")
	}
	if got, err := s.runcLinkDir(lib); err != nil || got != lib {
		t.Errorf("configured: %q %v", got, err)
	}
}

func TestPrependPATH(t *testing.T) {
	got := prependPATH([]string{"PATH=/usr/bin", "X=1", "PATH=/bin"}, "/l")
	if strings.Join(got, " ") != "PATH=/l:/bin X=1" {
		t.Errorf("got %q", got)
	}
	if got := prependPATH([]string{"X=1"}, "/l"); !strings.HasPrefix(got[1], "PATH=/l:/usr/local/sbin") {
		t.Errorf("no PATH: %q", got)
	}
}
