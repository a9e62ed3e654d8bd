package cmctest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/refval/refval/internal/cmctest"
	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/shim"
)

// TestCMC09ShimUnderContainerd: containers started under the shim
// (cmc_version 0.9, scheme cmc, sw driver) on real containerd 2.4 are
// recorded in CMC v0.9's list format; refval's offline prediction of the
// same `ctr run` (refval measure --engine containerd --cmc-version 0.9)
// gives the Manifest that CMC v0.9.15's SW verifier matches the list
// against; a container started with another environment is refused.
func TestCMC09ShimUnderContainerd(t *testing.T) {
	bin := refvalBin(t)
	tools := cmctest.Require(t, cmctest.V09)
	ctrtest.Require(t, ctrtest.V2_4)
	img, err := testimage.BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	shimBin := filepath.Join(filepath.Dir(bin), shim.ShimName)
	linkDir := filepath.Join(dir, "link")
	os.Mkdir(linkDir, 0o755)
	if err := os.Symlink(shimBin, filepath.Join(linkDir, "runc")); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "list.json")
	cfg := filepath.Join(dir, "shim.toml")
	toml := fmt.Sprintf("cmc_version = \"0.9\"\nscheme = \"cmc\"\ndriver = \"sw\"\nlist = %q\nlog_file = %q\nrunc_link_dir = %q\nlog_level = \"debug\"\n",
		list, filepath.Join(dir, "shim.log"), linkDir)
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "shim.log"))
			t.Logf("shim log:\n%s", b)
		}
	})
	archive := filepath.Join(dir, "busybox.tar")
	if _, err := testimage.WriteOCIArchive(archive, "latest", img); err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "layout")
	if _, err := testimage.WriteLayout(layout, "latest", img); err != nil {
		t.Fatal(err)
	}
	c := ctrtest.New(t, ctrtest.V2_4, ctrtest.WithPath(filepath.Dir(shimBin)), ctrtest.WithEnv(shim.ConfigEnv+"="+cfg))
	image := c.Import(archive)[0]
	const id = "cmc09-interop"
	if r := c.Run("--rm", "--runtime", "io.containerd.cmc.v1", "--env", "VAL=a", image, id, "true"); r.Err != nil || r.ExitCode != 0 {
		t.Fatalf("ctr run under the shim: %s", r)
	}
	if _, err := os.Stat(list); err != nil {
		t.Fatalf("no list: %v", err)
	}
	comps := filepath.Join(dir, "c.json")
	out := run(t, true, bin, "measure", "--cmc-version", "0.9", "--scheme", "cmc", "--engine", "containerd", "--engine-version", "2.4",
		"--id", id, "--name", id, "--namespace", c.Namespace, "--env", "VAL=a", "--layout", filepath.Join(dir, "store"), "--insecure-policy", "oci:"+layout+":latest", "--", "true")
	os.WriteFile(comps, out, 0o644)
	m := filepath.Join(dir, "m.json")
	run(t, true, bin, "manifest", "create", "--refvals", comps, "--out", m, "--name", "de.refval.busybox",
		"--version", "2025-01-01T00:00:00Z", "--not-before", "2025-01-01T00:00:00Z", "--not-after", "2099-01-01T00:00:00Z")
	res, err := tools.Match(list, m)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		b, _ := os.ReadFile(list)
		t.Fatalf("CMC 0.9 refused the shim's list against refval's offline manifest: %s\nlist: %s\ncomponents: %s", res.Result, b, out)
	}
	if r := c.Run("--rm", "--runtime", "io.containerd.cmc.v1", "--env", "VAL=b", image, id+"-b", "true"); r.Err != nil || r.ExitCode != 0 {
		t.Fatalf("ctr run under the shim: %s", r)
	}
	if res, err := tools.Match(list, m); err != nil || res.OK {
		t.Errorf("CMC 0.9 accepted a container started with another environment: ok=%v err=%v", res.OK, err)
	}
}
