package dockertest_test

import (
	_ "crypto/sha256"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/refval/refval/engine/diff"
	"github.com/refval/refval/internal/dockertest"
	"github.com/refval/refval/internal/testimage"
)

// busyboxArchive writes the busybox test image as a docker-archive.
func busyboxArchive(t *testing.T, tag string) string {
	t.Helper()
	img, err := testimage.BusyboxImage()
	if err != nil {
		t.Fatalf("no busybox: %v", err)
	}
	p := filepath.Join(t.TempDir(), "busybox.tar")
	if _, err := testimage.WriteDockerArchive(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

// runMeasured runs one container under the shim and returns its values.
func runMeasured(t *testing.T, d *dockertest.Dockerd, s *dockertest.Shim, args ...string) dockertest.Values {
	t.Helper()
	r := d.Docker(append([]string{"run", "-d", "--runtime", "cmc"}, args...)...)
	if r.ExitCode != 0 {
		t.Fatalf("%s", r)
	}
	id := strings.TrimSpace(r.Stdout)
	if w := d.Docker("wait", id); strings.TrimSpace(w.Stdout) != "0" {
		t.Fatalf("container exit: %s\nlogs: %s", w, d.Docker("logs", id))
	}
	d.Docker("rm", id)
	v, ok, err := s.Values(id)
	if err != nil || !ok {
		t.Fatalf("container %s not measured (%v); shim log: %s", id, err, s.Log)
	}
	return v
}

// TestHarnessFindsPerStartValues starts the same `docker run` twice and
// once more after a daemon restart, measured by the shim under refval-v1
// (which knows nothing about Docker), and checks the finding this harness
// was built to make: the normalized configs differ in exactly the
// HOSTNAME variable (the short container ID) and, off the host network,
// in the libnetwork-setkey prestart hook's path (/proc/<dockerd pid>/exe)
// and network-controller ID. Everything else is stable.
func TestHarnessFindsPerStartValues(t *testing.T) {
	shim := dockertest.NewShim(t, dockertest.ShimBinary(t), "refval-v1")
	d := dockertest.New(t, dockertest.WithRuntime("cmc", shim.Bin), dockertest.WithEnv(shim.Env()))
	d.Load(busyboxArchive(t, "refval-test/busybox:1"))
	cmd := []string{"--network", "none", "refval-test/busybox:1", "sh", "-c", "echo hi"}
	first := runMeasured(t, d, shim, cmd...)
	second := runMeasured(t, d, shim, cmd...)
	d.Restart()
	third := runMeasured(t, d, shim, cmd...)
	if first.RootfsSha256 != second.RootfsSha256 || first.RootfsSha256 != third.RootfsSha256 {
		t.Errorf("rootfs differs between starts: %s %s %s", first.RootfsSha256, second.RootfsSha256, third.RootfsSha256)
	}
	paths := func(a, b dockertest.Values) []string {
		ch, err := diff.Configs(a.NormalizedConfig, b.NormalizedConfig)
		if err != nil {
			t.Fatal(err)
		}
		var p []string
		for _, c := range ch {
			p = append(p, c.Path)
		}
		return p
	}
	// process.env is sorted: HOSTNAME= is its first entry here.
	same := []string{"process.env[0]"}
	restart := []string{"hooks.prestart[0].args[3]", "hooks.prestart[0].path", "process.env[0]"}
	if got := paths(first, second); !slices.Equal(got, same) {
		t.Errorf("two starts differ in %v, want %v", got, same)
	}
	if got := paths(first, third); !slices.Equal(got, restart) {
		t.Errorf("starts across a daemon restart differ in %v, want %v", got, restart)
	}
}

// TestV2StableAcrossStartsAndRestart: under refval-v2 the same docker run
// records one value, twice and across a daemon restart, on the network
// modes that run here (the default one, disabled by --bridge=none; none,
// with the setkey hook; host); and a changed option records another.
func TestV2StableAcrossStartsAndRestart(t *testing.T) {
	shim := dockertest.NewShim(t, dockertest.ShimBinary(t), "refval-v2")
	d := dockertest.New(t, dockertest.WithRuntime("cmc", shim.Bin), dockertest.WithEnv(shim.Env()))
	d.Load(busyboxArchive(t, "refval-test/busybox:1"))
	cases := map[string][]string{
		"default": {"refval-test/busybox:1", "true"},
		"none":    {"--network", "none", "refval-test/busybox:1", "true"},
		"host":    {"--network", "host", "refval-test/busybox:1", "true"},
	}
	first := map[string]string{}
	for name, args := range cases {
		a, b := runMeasured(t, d, shim, args...), runMeasured(t, d, shim, args...)
		if a.TemplateSha256 != b.TemplateSha256 {
			t.Errorf("%s: two starts differ: %s / %s", name, a.NormalizedConfig, b.NormalizedConfig)
		}
		first[name] = a.TemplateSha256
	}
	d.Restart()
	for name, args := range cases {
		if c := runMeasured(t, d, shim, args...); c.TemplateSha256 != first[name] {
			t.Errorf("%s: differs after a daemon restart: %s", name, c.NormalizedConfig)
		}
	}
	if neg := runMeasured(t, d, shim, "--network", "none", "-e", "A=1", "refval-test/busybox:1", "true"); neg.TemplateSha256 == first["none"] {
		t.Error("an added -e A=1 measures like the plain run")
	}
}
