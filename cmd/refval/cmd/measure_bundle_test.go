package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/refval/refval/bundle"
	"golang.org/x/sys/unix"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func writeBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rootfs", "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "rootfs", "etc", "hello"), []byte("hi\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"hostname":"c1","process":{"env":["B=1","A=2"]}}`), 0o644)
	return dir
}

func TestMeasureBundleCLI(t *testing.T) {
	dir := writeBundle(t)
	want, err := bundle.Measure(t.Context(), dir, bundle.WithContainerID("c1"))
	if err != nil {
		t.Fatal(err)
	}
	type ctr struct{ ConfigSha256, RootfsSha256 string }
	type rv struct {
		Type    string
		Name    string
		Sha256  string
		Pcr     *int
		CtrData ctr
	}
	pcr := 11
	tests := []struct {
		name string
		args []string
		want rv
	}{
		{"bundle-dir", []string{"measure-bundle", "--cmc-version", "0.7", dir, "--id", "c1"},
			rv{"SW Reference Value", "c1", want.TemplateSha256.String(), nil, ctr{want.ConfigSha256.String(), want.RootfsSha256.String()}}},
		{"legacy-flags-tpm", []string{"measure-bundle", "-config", dir + "/config.json", "-rootfs=" + dir + "/rootfs", "--id", "c1", "--driver", "tpm", "--name", "app", "--cmc-version", "0.7"},
			rv{"TPM Reference Value", "app", want.TemplateSha256.String(), &pcr, ctr{want.ConfigSha256.String(), want.RootfsSha256.String()}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := runCLI(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var got []rv
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if diff := cmp.Diff([]rv{tc.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMeasureBundleCLIFiles(t *testing.T) {
	dir := writeBundle(t)
	out := t.TempDir()
	_, errs, code := runCLI(t, "measure-bundle", dir, "--records", out+"/r.jsonl", "--normalized-config", out+"/n.json", "-o", "text")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	norm, _ := os.ReadFile(out + "/n.json")
	if want := `{"hostname":"c1","ociVersion":"1.0.2","process":{"env":["A=2","B=1"]},"root":{}}`; string(norm) != want {
		t.Errorf("normalized config = %s; want %s", norm, want)
	}
	f, _ := os.Open(out + "/r.jsonl")
	defer f.Close()
	var paths []string
	if err := bundle.ReadRecords(f, func(r *bundle.Record) error { paths = append(paths, r.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/", "/etc", "/etc/hello"}, paths); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestMeasureBundleCLIErrors(t *testing.T) {
	dir := writeBundle(t)
	os.WriteFile(dir+"/bad.json", []byte(`{"process":{"env":[1]}}`), 0o644)
	out := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no-input", []string{"measure-bundle"}, 2, "give BUNDLE_DIR"},
		{"unknown-flag", []string{"measure-bundle", dir, "--bogus"}, 2, "unknown flag"},
		{"bad-scheme", []string{"measure-bundle", dir, "--scheme", "v9"}, 2, "--scheme"},
		{"bad-pcr", []string{"measure-bundle", dir, "--pcr", "24"}, 2, "--pcr"},
		{"bad-driver", []string{"measure-bundle", dir, "--driver", "x"}, 2, "--driver"},
		{"pcr-without-tpm", []string{"measure-bundle", dir, "--pcr", "5"}, 2, "--driver tpm"},
		{"records-with-cmc", []string{"measure-bundle", dir, "--scheme", "cmc", "--records", out + "/x"}, 2, "--records"},
		{"missing-bundle", []string{"measure-bundle", dir + "/nope"}, 1, "config.json"},
		{"bad-config-field", []string{"measure-bundle", "--config", dir + "/bad.json", "--rootfs", dir + "/rootfs"}, 1, "field process.env[0]"},
		{"records-not-left-behind", []string{"measure-bundle", dir + "/nope", "--records", out + "/r.jsonl"}, 1, "config.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, errs, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, tc.code, tc.msg)
			}
			if stdout != "" {
				t.Errorf("stdout on failure: %q", stdout)
			}
		})
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("files left behind after failures: %v", ents)
	}
}

// TestMeasureBundleRuntimeOwners: --runtime-owners measures the on-disk
// owner as the shim does, ignoring a user.rootlesscontainers attribute
// (which a privileged engine copies from image layers as plain data).
func TestMeasureBundleRuntimeOwners(t *testing.T) {
	dir := writeBundle(t)
	f := filepath.Join(dir, "rootfs", "etc", "hello")
	// protobuf Resource{uid: 1000, gid: 1000}
	if err := unix.Setxattr(f, bundle.RootlessXattr, []byte("\x08\xe8\x07\x10\xe8\x07"), 0); err != nil {
		t.Skipf("user xattrs not supported here: %v", err)
	}
	owner := func(args ...string) string {
		t.Helper()
		out := t.TempDir() + "/r.jsonl"
		if _, errs, code := runCLI(t, append([]string{"measure-bundle", dir, "--records", out}, args...)...); code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		r, _ := os.Open(out)
		defer r.Close()
		var got string
		bundle.ReadRecords(r, func(rec *bundle.Record) error {
			if rec.Path == "/etc/hello" {
				got = fmt.Sprintf("%d:%d", rec.UID, rec.GID)
			}
			return nil
		})
		return got
	}
	if got := owner(); got != "1000:1000" {
		t.Errorf("default: owner %s; want 1000:1000 from the rootless attribute", got)
	}
	if got, want := owner("--runtime-owners"), fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()); got != want {
		t.Errorf("--runtime-owners: owner %s; want the on-disk %s", got, want)
	}
}
