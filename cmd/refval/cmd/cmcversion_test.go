package cmd

import (
	"strings"
	"testing"
)

// TestCMCVersionFlag: --cmc-version is validated where it is parsed, for
// every command that takes it: an unknown version is a usage error naming
// the flag and the versions refval speaks, before anything is read or
// written; an empty value is the absent flag (the default, 0.9), and a
// patch level names its minor version.
func TestCMCVersionFlag(t *testing.T) {
	for _, args := range [][]string{
		{"measure-bundle", "/nonexistent"},
		{"measure", "oci:/nonexistent:x"},
		{"generate", "--template", "/nonexistent"},
		{"manifest", "create", "--name", "x"},
		{"sign", "/nonexistent"},
	} {
		stdout, stderr, code := runCLI(t, append(args, "--cmc-version", "0.8")...)
		if code != ExitUsage || stdout != "" || !strings.Contains(stderr, "--cmc-version") || !strings.Contains(stderr, `"0.8"`) || !strings.Contains(stderr, "0.7 or 0.9") {
			t.Errorf("%s --cmc-version 0.8: exit %d, stdout %q, stderr %q; want a usage error naming the flag and 0.7 or 0.9", args[0], code, stdout, stderr)
		}
	}
	dir := writeBundle(t)
	def, _, _ := runCLI(t, "measure-bundle", dir, "--id", "c1")
	for _, v := range []string{"", "0.9", "v0.9.15"} {
		out, stderr, code := runCLI(t, "measure-bundle", dir, "--id", "c1", "--cmc-version", v)
		if code != 0 || out != def {
			t.Errorf("--cmc-version %q: exit %d %s\n%s\nwant the default's\n%s", v, code, stderr, out, def)
		}
	}
	if v07, _, _ := runCLI(t, "measure-bundle", dir, "--id", "c1", "--cmc-version", "0.7"); v07 == def {
		t.Error("--cmc-version 0.7 prints the default's output")
	}
}
