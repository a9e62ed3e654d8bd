package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// measureSide measures a bundle with measure-bundle into dir/
// normalized-config.json and dir/records.jsonl (the files diff reads).
func measureSide(t *testing.T, bundleDir, id string) string {
	t.Helper()
	out := t.TempDir()
	_, errs, code := runCLI(t, "measure-bundle", bundleDir, "--id", id,
		"--normalized-config", filepath.Join(out, "normalized-config.json"), "--records", filepath.Join(out, "records.jsonl"))
	if code != 0 {
		t.Fatalf("measure-bundle: exit %d: %s", code, errs)
	}
	return out
}

func TestDiffCLI(t *testing.T) {
	a := writeBundle(t)
	b := writeBundle(t)
	// Side B: one env value changed, one file added, one mode changed.
	os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"hostname":"c2","process":{"env":["B=1","A=3"]}}`), 0o644)
	os.WriteFile(filepath.Join(b, "rootfs", "etc", "new"), []byte("x"), 0o600)
	os.Chmod(filepath.Join(b, "rootfs", "etc", "hello"), 0o600)
	sideA, sideB := measureSide(t, a, "c1"), measureSide(t, b, "c2")
	sideA2 := measureSide(t, a, "c1")

	t.Run("equal", func(t *testing.T) {
		out, errs, code := runCLI(t, "diff", sideA, sideA2)
		if code != 0 || errs != "" {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
		if !strings.HasPrefix(out, "equal (config and rootfs compared)") {
			t.Errorf("output %q", out)
		}
	})
	t.Run("different-json", func(t *testing.T) {
		out, errs, code := runCLI(t, "diff", "--output", "json", sideA, sideB)
		if code != 1 || errs != "" {
			t.Fatalf("exit %d (want 1), stderr %q", code, errs)
		}
		var r struct {
			Equal  bool
			Config []struct{ Path, Kind, A, B string }
			Rootfs []struct {
				Path, Kind string
				Fields     []string
			}
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		type cc = struct{ Path, Kind, A, B string }
		// The env is sorted by the normalisation: ["A=2","B=1"] vs ["A=3","B=1"];
		// the hostname holds the container ID on each side, so it does not differ.
		if d := cmp.Diff([]cc{{"process.env[0]", "changed", "", ""}}, stripValues(r.Config)); d != "" {
			t.Errorf("config changes (-want +got):\n%s", d)
		}
		type ec = struct {
			Path, Kind string
			Fields     []string
		}
		want := []ec{{"/etc/hello", "changed", []string{"mode"}}, {"/etc/new", "added", nil}}
		if d := cmp.Diff(want, []ec(r.Rootfs)); d != "" {
			t.Errorf("rootfs changes (-want +got):\n%s", d)
		}
	})
	t.Run("text", func(t *testing.T) {
		out, _, code := runCLI(t, "diff", sideA, sideB)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		for _, want := range []string{`changed  process.env[0]: "A=2" -> "A=3"`, `changed  "/etc/hello": mode 0644 -> 0600`, `added    "/etc/new" (file)`} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("raw-config-with-id", func(t *testing.T) {
		// A raw config.json is normalized first; with --id its hostname
		// equals the normalized side's <container-id>.
		_, errs, code := runCLI(t, "diff", "--id", "c1", filepath.Join(a, "config.json"), filepath.Join(sideA, "normalized-config.json"))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		_, _, code = runCLI(t, "diff", filepath.Join(a, "config.json"), filepath.Join(sideA, "normalized-config.json"))
		if code != 1 {
			t.Fatalf("without --id: exit %d, want 1 (hostname c1 vs <container-id>)", code)
		}
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"diff", sideA},
			{"diff", sideA, sideB, "--output", "yaml"},
			{"diff", sideA, filepath.Join(sideA, "missing")},
			// Nothing in common: a config-only side against a records-only side.
			{"diff", filepath.Join(sideA, "normalized-config.json"), filepath.Join(sideB, "records.jsonl")},
		} {
			if _, errs, code := runCLI(t, args...); code != 2 {
				t.Errorf("%q: exit %d, want 2 (%s)", args, code, errs)
			}
		}
	})
	t.Run("bad-input", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.jsonl")
		os.WriteFile(bad, []byte("{\"path\":\"/\",\"type\":\"dir\",\"mode\":\"0755\",\"uid\":0,\"gid\":0}\nnot json\n"), 0o644)
		_, errs, code := runCLI(t, "diff", bad, filepath.Join(sideA, "records.jsonl"))
		if code != 2 || !strings.Contains(errs, "record 2") {
			t.Errorf("exit %d, stderr %q: want 2 (trouble, not \"different\") naming record 2", code, errs)
		}
	})
}

func stripValues[T any](in []T) []struct{ Path, Kind, A, B string } {
	var out []struct{ Path, Kind, A, B string }
	b, _ := json.Marshal(in)
	var tmp []struct{ Path, Kind string }
	json.Unmarshal(b, &tmp)
	for _, x := range tmp {
		out = append(out, struct{ Path, Kind, A, B string }{x.Path, x.Kind, "", ""})
	}
	return out
}
