package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The files testdata/ctr-oci-spec-VERSION.json are `ctr oci spec` output
// of the real binaries (Debian's 1.6.20, and 1.7.35, 2.0.14, 2.4.2 built
// from the Go module proxy with `go install .../cmd/ctr@VERSION`), on a
// host without cpuN/thermal_throttle directories. They are the
// independent source the built-in default specs are checked against.

func generic(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// capturedVersions maps each pinned version to its capture file.
var capturedVersions = map[string]string{
	"1.6.20": "testdata/ctr-oci-spec-1.6.20.json",
	"1.7.35": "testdata/ctr-oci-spec-1.7.35.json",
	"2.0.14": "testdata/ctr-oci-spec-2.0.14.json",
	"2.4.2":  "testdata/ctr-oci-spec-2.4.2.json",
}

func TestDefaultSpecMatchesCapture(t *testing.T) {
	for _, v := range Versions() {
		t.Run(v, func(t *testing.T) {
			want, err := os.ReadFile(capturedVersions[v])
			if err != nil {
				t.Fatalf("no capture for pinned version %s: %v", v, err)
			}
			p, err := ParseProfile("containerd", v)
			if err != nil {
				t.Fatal(err)
			}
			// ctr oci spec: namespace "default", empty container ID.
			c := &Container{Namespace: "default", rules: p.rules}
			var s specs.Spec
			if err := ApplyOpts(c, &s, WithDefaultSpec()); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(&s)
			if d := cmp.Diff(generic(t, want), generic(t, got)); d != "" {
				t.Errorf("default spec of %s differs from the capture (-capture +built-in):\n%s", v, d)
			}
		})
	}
}

// thermalThrottle matches the masked paths containerd 2.x adds per CPU on
// hosts that have them; they are host facts, not version facts.
var thermalThrottle = regexp.MustCompile(`^/sys/devices/system/cpu/cpu[0-9]+/thermal_throttle$`)

// TestCaptureIsCurrent re-runs `ctr oci spec` where the binaries are (CI
// installs both) and compares with the checked-in capture, so a changed
// Debian package or rebuilt containerd is noticed.
func TestCaptureIsCurrent(t *testing.T) {
	cache := os.Getenv("REFVAL_CACHE")
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "refval")
		}
	}
	bins := map[string]string{
		"1.6.20": "/usr/bin/ctr",
		"2.4.2":  filepath.Join(cache, "containerd-v2.4.2", "bin", "ctr"),
	}
	for v, bin := range bins {
		t.Run(v, func(t *testing.T) {
			if _, err := os.Stat(bin); err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("ctr %s missing: %v (scripts/deps.sh installs it)", v, err)
				}
				t.Skipf("ctr %s not installed: %v", v, err)
			}
			out, err := exec.Command(bin, "oci", "spec").Output()
			if err != nil {
				t.Fatalf("%s oci spec: %v", bin, err)
			}
			ver, _ := exec.Command(bin, "--version").Output()
			if !strings.Contains(string(ver), " "+v) && !strings.Contains(string(ver), " v"+v) {
				t.Fatalf("%s is %q, not %s", bin, strings.TrimSpace(string(ver)), v)
			}
			var s specs.Spec
			if err := json.Unmarshal(out, &s); err != nil {
				t.Fatal(err)
			}
			var kept []string
			for _, p := range s.Linux.MaskedPaths {
				if !thermalThrottle.MatchString(p) {
					kept = append(kept, p)
				}
			}
			s.Linux.MaskedPaths = kept
			got, _ := json.Marshal(&s)
			want, err := os.ReadFile(capturedVersions[v])
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(generic(t, want), generic(t, got)); d != "" {
				t.Errorf("`%s oci spec` changed (-checked in +now):\n%s", bin, d)
			}
		})
	}
}

func TestCapturedSpec(t *testing.T) {
	raw, err := os.ReadFile("testdata/ctr-oci-spec-2.4.2.json")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ParseProfile("containerd", "2.4")
	c := &Container{ID: "app", Namespace: "k8s.io", rules: p.rules}
	var fromCapture, builtIn specs.Spec
	if err := ApplyOpts(c, &fromCapture, WithCapturedSpec(raw)); err != nil {
		t.Fatal(err)
	}
	if err := ApplyOpts(c, &builtIn, WithDefaultSpec()); err != nil {
		t.Fatal(err)
	}
	// ctr run sets the namespaced cgroups path with the container ID.
	if fromCapture.Linux.CgroupsPath != "/k8s.io/app" {
		t.Errorf("cgroupsPath %q, want /k8s.io/app", fromCapture.Linux.CgroupsPath)
	}
	if d := cmp.Diff(builtIn, fromCapture); d != "" {
		t.Errorf("capture-based spec differs from the built-in one:\n%s", d)
	}
	for _, bad := range []string{`not json`, `{"ociVersion":"1.0.0"}`, `[]`} {
		var s specs.Spec
		if err := ApplyOpts(c, &s, WithCapturedSpec([]byte(bad))); err == nil {
			t.Errorf("%q accepted as a base spec", bad)
		}
	}
}

func TestParseProfile(t *testing.T) {
	tests := []struct {
		kind, version, want string
		ok                  bool
	}{
		{"containerd", "", "1.6.20", true},
		{"containerd", "1.6", "1.6.20", true},
		{"containerd", "v1.6.24", "1.6.20", true},
		{"containerd", "1.7", "1.7.35", true},
		{"containerd", "2.0.1", "2.0.14", true},
		{"containerd", "2.4", "2.4.2", true},
		{"containerd", "2.x", "2.4.2", true},
		{"containerd", "2", "2.4.2", true},
		{"containerd", "2.2", "", false},
		{"containerd", "1.5", "", false},
		{"containerd", "banana", "", false},
		{"containerd", "1.6.x", "", false},
		{"runc", "", "", true},
		{"runc", "1.1", "", false},
		{"docker", "", "20.10.24", true},
		{"docker", "20.10", "20.10.24", true},
		{"docker", "23.0", "", false},
		{"podman", "", "", false},
	}
	for _, tc := range tests {
		p, err := ParseProfile(tc.kind, tc.version)
		if (err == nil) != tc.ok {
			t.Errorf("ParseProfile(%q, %q): err %v, want ok=%v", tc.kind, tc.version, err, tc.ok)
			continue
		}
		if tc.ok && p.Version != tc.want {
			t.Errorf("ParseProfile(%q, %q) = %s, want %s", tc.kind, tc.version, p.Version, tc.want)
		}
	}
}
