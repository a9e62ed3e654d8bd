package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/engine/diff"
	"github.com/refval/refval/internal/dockertest"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/oci"
)

// dockerImage is one image of the Docker matrix.
type dockerImage struct {
	name string
	img  testimage.Image
}

func dockerImages() []dockerImage {
	bb := func(cfg func(*ocispec.ImageConfig), extra ...testimage.Layer) testimage.Image {
		img := testimage.Busybox(extra...)
		if cfg != nil {
			cfg(&img.Config)
		}
		return img
	}
	users := testimage.Layer{
		testimage.File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
		testimage.File("etc/group", 0o644, "root:x:0:\naudio:x:29:app\napp:x:1001:app\nnogroup:x:65534:\n"),
		testimage.Dir("home", 0o755),
		testimage.Dir("home/app", 0o750).Owned(1000, 1001),
	}
	return []dockerImage{
		{"busybox", bb(nil)},
		// USER with supplementary groups; an image /etc/hosts that the
		// init layer replaces; a WORKDIR dockerd must create.
		{"app", bb(func(c *ocispec.ImageConfig) {
			c.User = "app"
			c.WorkingDir = "/srv/app"
			c.Env = append(c.Env, "APP=1")
		},
			users, testimage.Layer{testimage.File("etc/hosts", 0o600, "127.0.0.1 image\n")})},
	}
}

// dockerOption is one column of docker run options.
type dockerOption struct {
	name string
	args []string // docker run options, before the image
	cmd  []string // after the image
}

func dockerOptions(src string) []dockerOption {
	return []dockerOption{
		{"none", nil, nil},
		{"env", []string{"-e", "FOO=bar", "-e", "PATH=/bin"}, nil},
		{"user", []string{"-u", "65534:65534"}, nil},
		{"workdir", []string{"-w", "/tmp/x/../new"}, nil},
		{"bind", []string{"-v", src + ":/data:ro"}, nil},
		{"read-only", []string{"--read-only"}, nil},
		{"privileged", []string{"--privileged"}, nil},
		{"cap-add", []string{"--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"}, nil},
		{"net-none", []string{"--network", "none"}, nil},
		{"net-host", []string{"--network", "host"}, nil},
		{"tmpfs", []string{"--tmpfs", "/run:size=1m,mode=1777"}, nil},
		{"entrypoint", []string{"--entrypoint", "/bin/echo"}, []string{"a", "b"}},
		{"resources", []string{"--memory", "64m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "100"}, nil},
		{"no-new-privs", []string{"--security-opt", "no-new-privileges"}, nil},
	}
}

// TestDockerFidelity runs every image × option under a real dockerd
// 20.10.24 with the shim as its runtime, twice and once more after a
// daemon restart, and checks that each start records the value `refval
// measure --engine docker` predicts offline (oci.MeasureImage with the
// prediction's config and init layer, as the CLI does); negative controls
// must differ. The table goes to the test log.
func TestDockerFidelity(t *testing.T) {
	shim := dockertest.NewShim(t, dockertest.ShimBinary(t), "refval-v2")
	d := dockertest.New(t, dockertest.WithRuntime("cmc", shim.Bin), dockertest.WithEnv(shim.Env()))
	host, err := engine.LocalHost()
	if err != nil {
		t.Fatal(err)
	}
	kernel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	host.Docker = &engine.DockerDaemon{DataRoot: d.DataRoot, ExecRoot: d.ExecRoot, BridgeNone: true, KernelVersion: strings.TrimSpace(string(kernel))}
	src := t.TempDir() // outside the daemon's roots
	layout, store := t.TempDir(), t.TempDir()
	for _, im := range dockerImages() {
		archive := filepath.Join(t.TempDir(), im.name+".tar")
		if _, err := testimage.WriteDockerArchive(archive, "refval-test/"+im.name+":1", im.img); err != nil {
			t.Fatal(err)
		}
		d.Load(archive)
		if _, err := testimage.WriteLayout(layout, im.name, im.img); err != nil {
			t.Fatal(err)
		}
	}
	type row struct{ image, option, offline, run1, run2, restart, note string }
	var rows []row
	startFailed := map[string]string{}
	runOnce := func(im dockerImage, op dockerOption) (dockertest.Values, error) {
		args := append([]string{"run", "-d", "--runtime", "cmc"}, op.args...)
		args = append(append(args, "refval-test/"+im.name+":1"), op.cmd...)
		if len(op.cmd) == 0 {
			args = append(args, "true")
		}
		r := d.Docker(args...)
		id := strings.TrimSpace(r.Stdout)
		if r.ExitCode != 0 {
			// The shim measures at runc create: a start that runc refuses
			// afterwards (here: --privileged asks for capabilities this
			// test host does not have) is still measured.
			d.Docker("rm", "-f", id)
			if v, ok, err := shim.Values(id); err == nil && ok && len(id) == 64 {
				startFailed[im.name+"/"+op.name] = strings.TrimSpace(r.Stderr)
				return v, nil
			}
			return dockertest.Values{}, fmt.Errorf("%s", r)
		}
		w := d.Docker("wait", id)
		d.Docker("rm", id)
		if strings.TrimSpace(w.Stdout) != "0" {
			return dockertest.Values{}, fmt.Errorf("exit %s", w.Stdout)
		}
		v, ok, err := shim.Values(id)
		if err == nil && !ok {
			err = fmt.Errorf("container %s not measured", id)
		}
		return v, err
	}
	predict := func(im dockerImage, op dockerOption) (oci.Measurement, error) {
		cmd := op.cmd
		if len(cmd) == 0 {
			cmd = []string{"true"}
		}
		run, err := engine.ParseDockerRunArgs(append(append([]string{}, op.args...), cmd...), os.ReadFile)
		if err != nil {
			return oci.Measurement{}, err
		}
		pr := &engine.Predictor{Profile: mustProfile(t, "docker"), Run: engine.RunOptions{Docker: run}, Host: host}
		res, err := oci.MeasureImage(context.Background(), "oci:"+layout+":"+im.name, oci.WithLayout(store),
			oci.WithScheme(bundle.SchemeV2), oci.WithRuntimeConfig(pr.Config), oci.WithTopLayer(pr.TopLayer),
			oci.WithContainerID(pr.ContainerID()))
		if err != nil {
			return oci.Measurement{}, err
		}
		return res.Results[0], nil
	}
	type result struct {
		off oci.Measurement
		rt  [3]dockertest.Values
	}
	results := map[string]*result{}
	failed := map[string]bool{}
	for pass := 0; pass < 3; pass++ {
		if pass == 2 {
			d.Restart()
		}
		for _, im := range dockerImages() {
			for _, op := range dockerOptions(src) {
				key := im.name + "/" + op.name
				if failed[key] {
					continue
				}
				if results[key] == nil {
					off, err := predict(im, op)
					if err != nil {
						t.Errorf("%s: predict: %v", key, err)
						failed[key] = true
						continue
					}
					results[key] = &result{off: off}
				}
				v, err := runOnce(im, op)
				if err != nil {
					t.Errorf("%s: run %d: %v", key, pass+1, err)
					continue
				}
				results[key].rt[pass] = v
			}
		}
	}
	short := func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	}
	for _, im := range dockerImages() {
		for _, op := range dockerOptions(src) {
			key := im.name + "/" + op.name
			r := results[key]
			if r == nil {
				continue
			}
			off := r.off.Result.TemplateSha256.String()
			rw := row{image: im.name, option: op.name, offline: short(off), run1: short(r.rt[0].TemplateSha256), run2: short(r.rt[1].TemplateSha256), restart: short(r.rt[2].TemplateSha256)}
			if why := startFailed[key]; why != "" {
				rw.note = "measured at create; runc then refused to start it on this test host: " + why
			}
			for i, v := range r.rt {
				if v.TemplateSha256 == off {
					continue
				}
				if v.TemplateSha256 == "" {
					rw.note = "not run"
					continue
				}
				rw.note = "DIFFERS"
				if v.ConfigSha256 != r.off.Result.ConfigSha256.String() {
					ch, err := diff.Configs(r.off.Result.NormalizedConfig, v.NormalizedConfig)
					if err != nil {
						t.Fatal(err)
					}
					var lines []string
					for _, c := range ch {
						lines = append(lines, c.String())
					}
					t.Errorf("%s run %d: config differs from the prediction:\n%s", key, i+1, strings.Join(lines, "\n"))
				}
				if v.RootfsSha256 != r.off.Result.RootfsSha256.String() {
					t.Errorf("%s run %d: rootfs %s, predicted %s", key, i+1, v.RootfsSha256, r.off.Result.RootfsSha256)
				}
			}
			rows = append(rows, rw)
		}
	}
	// Negative controls: the prediction of one command against a run of
	// another must differ.
	base := results["busybox/none"]
	for _, neg := range []struct{ name, predicted string }{
		{"env FOO=bar predicted, none run", "busybox/env"},
		{"read-only predicted, none run", "busybox/read-only"},
		{"cap-add predicted, none run", "busybox/cap-add"},
		{"image app predicted, busybox run", "app/none"},
		{"bind predicted, none run", "busybox/bind"},
	} {
		p := results[neg.predicted]
		if base == nil || p == nil {
			continue
		}
		off := p.off.Result.TemplateSha256.String()
		rows = append(rows, row{image: "busybox", option: neg.name, offline: short(off), run1: short(base.rt[0].TemplateSha256), note: "negative control: must differ"})
		if off == base.rt[0].TemplateSha256 {
			t.Errorf("negative control %q: the prediction equals the runtime value", neg.name)
		}
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "image\toption\toffline\trun 1\trun 2\tafter restart\tnote")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.image, r.option, r.offline, r.run1, r.run2, r.restart, r.note)
	}
	tw.Flush()
	t.Logf("Docker %s fidelity (template hashes, refval-v2):\n%s", engine.DockerVersion, b.String())
}

func mustProfile(t *testing.T, kind string) engine.Profile {
	t.Helper()
	p, err := engine.ParseProfile(kind, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
