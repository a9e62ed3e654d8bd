package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMeasureBundleLimitsEnforced: measure-bundle's --max-depth and
// --max-entries reach the disk walk: a rootfs beyond them fails (exit 1)
// naming the limit, the entry and the flag that raises it, and prints no
// reference value; raised limits measure it.
func TestMeasureBundleLimitsEnforced(t *testing.T) {
	dir := writeBundle(t) // rootfs: /, /etc, /etc/hello
	deep := filepath.Join(dir, "rootfs", "a", "b", "c", "d")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args       []string
		want, flag string
	}{
		{[]string{"--max-depth", "3"}, "/a/b/c/d", "--max-depth"},
		{[]string{"--max-entries", "3"}, "entry count", "--max-entries"},
	} {
		out, errs, code := runCLI(t, append([]string{"measure-bundle", dir}, tc.args...)...)
		if code != 1 || out != "" || !strings.Contains(errs, tc.want) || !strings.Contains(errs, tc.flag) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 naming %q and %s", tc.args, code, out, errs, tc.want, tc.flag)
		}
	}
	if _, errs, code := runCLI(t, "measure-bundle", dir, "--max-depth", "4", "--max-entries", "7"); code != 0 {
		t.Errorf("limits just large enough: exit %d: %s", code, errs)
	}
}
