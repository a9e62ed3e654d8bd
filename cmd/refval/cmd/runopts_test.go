package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
)

func TestRunFlagsUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"measure", "oci:" + dir + ":x", "--env", "A=1"},                                           // run option without --engine containerd
		{"measure", "oci:" + dir + ":x", "--engine", "podman"},                                     // unknown engine
		{"measure", "oci:" + dir + ":x", "--engine", "containerd", "--engine-version", "9.9"},      // unknown version
		{"measure", "oci:" + dir + ":x", "--engine", "containerd", "--user", "app"},                // 1.6 has no --user
		{"measure", "oci:" + dir + ":x", "--engine", "containerd", "--privileged"},                 // needs a host profile
		{"measure", "oci:" + dir + ":x", "--engine", "containerd", "--mount", "bogus"},             // bad --mount
		{"measure", "oci:" + dir + ":x", "--engine", "containerd", "--cap-add", "SYS_ADMIN"},       // no CAP_ prefix
		{"measure", "oci:" + dir + ":x", "--engine", "containerd", "--env-file", dir + "/missing"}, // unreadable file
		{"measure", "oci:" + dir + ":x", "--", "/bin/true"},                                        // args need containerd
		{"unpack", "oci:" + dir + ":x", dir + "/b", "--read-only"},
		// containerd 2.0's default seccomp profile is not generated
		{"measure", "oci:" + dir + ":x", "--engine", "containerd", "--engine-version", "2.0", "--seccomp"},
		{"measure", "oci:" + dir + ":x", "--engine", "containerd", "--base-spec", "runopts_test.go"}, // not a spec
	} {
		if _, errs, code := runCLI(t, args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, ExitUsage, errs)
		}
	}
	p, err := parseRunArgs([]string{"--engine", "containerd", "--engine-version", "2.x", "--env", "A=1,B=2", "--read-only", "--", "/app", "-x"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Profile.Version != "2.4.2" || len(p.Run.Env) != 1 || !p.Run.ReadOnly || strings.Join(p.Run.Args, " ") != "/app -x" {
		t.Errorf("parseRunArgs: %+v", p)
	}
	if p, err := parseRunArgs(nil); err != nil || p != nil {
		t.Errorf("no run options: %v %v, want runc (nil)", p, err)
	}
}

// TestMeasureEngineMatchesShim is the end-to-end check of the wiring:
// `refval measure IMAGE --engine containerd [options]` offline gives the
// template hash the shim records when `ctr run [options]` starts the
// image on real containerd. (engine.TestFidelity covers the full matrix.)
func TestMeasureEngineMatchesShim(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real containerd")
	}
	shim := shimBinaryForTest(t)
	img := testimage.Busybox(testimage.Layer{
		testimage.File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
		testimage.File("etc/group", 0o644, "root:x:0:\napp:x:1000:\nstaff:x:50:app\n"),
	})
	img.Config.User = "app"
	img.Config.Entrypoint = []string{"/bin/sh", "-c"}
	img.Config.Cmd = []string{"true"}
	layout := filepath.Join(t.TempDir(), "layout")
	if _, err := testimage.WriteLayout(layout, "app", img); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "app.tar")
	if _, err := testimage.WriteOCIArchive(archive, "app", img); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	cases := []struct {
		name string
		ctr  []string // ctr run flags, same names for refval
		args []string
	}{
		{"none", nil, nil},
		{"env-args", []string{"--env", "MODE=prod"}, []string{"/bin/echo", "hi"}},
		{"read-only-cwd", []string{"--read-only", "--cwd", "/tmp"}, nil},
	}
	for _, v := range ctrtest.Versions {
		t.Run(v, func(t *testing.T) {
			gen := t.TempDir()
			cfg := filepath.Join(t.TempDir(), "shim.toml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("cmc_version = \"0.7\"\nlist = %q\nlog_file = %q\ngenerate_all = true\ngenerate_dir = %q\n",
				filepath.Join(gen, "list.json"), filepath.Join(gen, "shim.log"), gen)), 0o644)
			c := ctrtest.New(t, v, ctrtest.WithEnv("REFVAL_SHIM_CONFIG="+cfg))
			ref := c.Import(archive)[0]
			for _, tc := range cases {
				id := "e2e-" + tc.name
				r := c.Run(append(append(append([]string{"--rm", "--null-io", "--runtime", shim}, tc.ctr...), ref, id), tc.args...)...)
				if r.ExitCode != 0 || r.Err != nil {
					t.Fatalf("%s: %s", tc.name, r)
				}
				rt := readRefs(t, filepath.Join(gen, id, "container-refs"))
				args := append([]string{"measure", "--cmc-version", "0.7", "-q", "--layout", store, "oci:" + layout + ":app",
					"--engine", "containerd", "--engine-version", v, "--namespace", c.Namespace}, tc.ctr...)
				if len(tc.args) > 0 {
					args = append(append(args, "--"), tc.args...)
				}
				out, errs, code := runCLI(t, args...)
				if code != 0 {
					t.Fatalf("%s: refval %q: exit %d: %s", tc.name, args, code, errs)
				}
				off := readRefsJSON(t, []byte(out))
				if fmt.Sprintf("%x", off.Sha256) != fmt.Sprintf("%x", rt.Sha256) {
					t.Errorf("%s on %s: offline %x, runtime %x\nconfig %x vs %x", tc.name, v, off.Sha256, rt.Sha256, off.CtrData.ConfigSha256, rt.CtrData.ConfigSha256)
				}
			}
		})
	}
}

func readRefs(t *testing.T, p string) manifest.ReferenceValue {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return readRefsJSON(t, b)
}

func readRefsJSON(t *testing.T, b []byte) manifest.ReferenceValue {
	t.Helper()
	var rvs []manifest.ReferenceValue
	if err := json.Unmarshal(b, &rvs); err != nil || len(rvs) != 1 || rvs[0].CtrData == nil {
		t.Fatalf("reference values %s: %v", b, err)
	}
	return rvs[0]
}

// shimBinaryForTest returns $REFVAL_BIN/containerd-shim-cmc-v1 or builds it.
func shimBinaryForTest(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("REFVAL_BIN"); d != "" {
		return filepath.Join(d, "containerd-shim-cmc-v1")
	}
	out := filepath.Join(t.TempDir(), "containerd-shim-cmc-v1")
	cmd := exec.Command("go", "build", "-o", out, "../../containerd-shim-cmc-v1")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build shim: %v\n%s", err, b)
	}
	return out
}
