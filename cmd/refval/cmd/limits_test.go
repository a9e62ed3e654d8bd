package cmd

import (
	"path/filepath"
	"strings"
	"testing"

	ti "github.com/refval/refval/internal/testimage"
)

// TestLimitFlags: measure and unpack refuse an image beyond a limit set
// by flag, naming the flag, and accept it once the flag raises it.
func TestLimitFlags(t *testing.T) {
	ref := imageRef(t, ti.Image{Layers: []ti.Layer{{ti.File("a", 0o644, "x"), ti.File("b", 0o644, strings.Repeat("y", 2048))}}})
	store := filepath.Join(t.TempDir(), "store")
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--max-entries", "1"}, "--max-entries"},
		{[]string{"--max-layer-size", "1KiB"}, "--max-layer-size"},
		{[]string{"--max-name-length", "0x"}, "--max-name-length"},
	} {
		for _, sub := range []string{"measure", "unpack"} {
			args := append([]string{sub, "--layout", store, "--insecure-policy", ref}, c.args...)
			if sub == "unpack" {
				args = append(args, filepath.Join(t.TempDir(), "b"))
			}
			_, errs, code := runCLI(t, args...)
			if code == 0 || !strings.Contains(errs, c.flag) {
				t.Errorf("%s %v: exit %d, stderr %q; want an error naming %s", sub, c.args, code, errs, c.flag)
			}
		}
	}
	if _, errs, code := runCLI(t, "measure", "--layout", store, "--insecure-policy", ref, "--max-entries", "2", "--max-layer-size", "-1"); code != 0 {
		t.Errorf("raised limits: exit %d: %s", code, errs)
	}
	if _, errs, code := runCLI(t, "measure", "--layout", store, "--insecure-policy", ref, "--max-layer-size", "0"); code == 0 {
		t.Errorf("--max-layer-size 0 accepted: %s", errs)
	}
}
