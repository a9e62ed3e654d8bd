package cmd

import (
	"strings"
	"testing"
)

// TestMeasureBundleLimitFlags: measure-bundle takes the limits that apply
// to an on-disk walk (--max-entries, --max-depth) and no other: the
// limits of image layers (sizes, names, path lengths) are usage errors
// there, not silently ignored flags. (That the walk refuses a rootfs
// beyond them is the walk's test, bundle/rootfs.go.)
func TestMeasureBundleLimitFlags(t *testing.T) {
	dir := writeBundle(t)
	plain, errs, code := runCLI(t, "measure-bundle", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, args := range [][]string{
		{"--max-entries", "1000", "--max-depth", "64"},
		{"--max-entries", "-1", "--max-depth", "-1"},
	} {
		out, errs, code := runCLI(t, append([]string{"measure-bundle", dir}, args...)...)
		if code != 0 || out != plain {
			t.Errorf("%v: exit %d, stderr %q; output differs from the default limits': %v", args, code, errs, out != plain)
		}
	}
	for _, args := range [][]string{
		{"--max-entries", "many"},
		{"--max-depth", "1.5"},
		{"--max-layer-size", "1KiB"},
		{"--max-image-size", "1KiB"},
		{"--max-expansion", "2"},
		{"--expansion-floor", "1KiB"},
		{"--max-name-length", "10"},
		{"--max-path-length", "10"},
	} {
		_, errs, code := runCLI(t, append([]string{"measure-bundle", dir}, args...)...)
		if code != ExitUsage || !strings.Contains(errs, args[0]) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error naming %s", args, code, errs, args[0])
		}
	}
}
