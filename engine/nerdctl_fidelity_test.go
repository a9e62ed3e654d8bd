package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/engine/diff"
	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/dockertest"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/oci"
)

// nerdctlOptions is the nerdctl matrix: docker's columns under nerdctl's
// names (and --env-file, -e KEY from nerdctl's environment, --mount), each
// off the default (CNI) network; app marks the columns also
// run with the app image (USER with groups, WORKDIR, image env).
func nerdctlOptions(src, envFile string) []struct {
	dockerOption
	app bool
} {
	none := []string{"--network", "none"}
	o := func(name string, app bool, args []string, cmd ...string) struct {
		dockerOption
		app bool
	} {
		return struct {
			dockerOption
			app bool
		}{dockerOption{name, args, cmd}, app}
	}
	return []struct {
		dockerOption
		app bool
	}{
		o("none", true, none),
		o("env", true, append([]string{"-e", "FOO=bar", "-e", "PATH=/bin"}, none...)),
		o("user", true, append([]string{"-u", "65534:65534"}, none...)),
		o("workdir", true, append([]string{"-w", "/tmp"}, none...)),
		o("env-file", false, append([]string{"--env-file", envFile, "-e", "HOME", "-e", "NOT_SET"}, none...)),
		o("bind", false, append([]string{"-v", src + ":/data:ro"}, none...)),
		o("mount", false, append([]string{"--mount", "type=bind,src=" + src + ",dst=/data,readonly", "--mount", "type=tmpfs,dst=/scratch,tmpfs-size=1m"}, none...)),
		o("read-only", true, append([]string{"--read-only"}, none...)),
		o("privileged", false, append([]string{"--privileged"}, none...)),
		o("cap-add", false, append([]string{"--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"}, none...)),
		o("net-host", false, []string{"--network", "host"}),
		o("hostname", false, append([]string{"-h", "box"}, none...)),
		o("tmpfs", false, append([]string{"--tmpfs", "/run:size=1m,mode=1777"}, none...)),
		o("entrypoint", false, append([]string{"--entrypoint", "/bin/echo"}, none...), "a", "b"),
		o("resources", false, append([]string{"--memory", "64m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "100"}, none...)),
		o("no-new-privs", false, append([]string{"--security-opt", "no-new-privileges"}, none...)),
	}
}

// TestNerdctlFidelity runs every image × option with the real nerdctl
// 2.2.1 on a private containerd 2.4.2, the shim as --runtime, twice and
// once more after a containerd restart, nerdctl always run with
// dockertest.FixedEnv (as docs/engines.md recommends), and checks that
// each start records the value `refval measure --engine nerdctl` predicts
// offline from the host profile (oci.MeasureImage with the prediction's
// config, as the CLI does). Negative controls — another env, another
// capability, another image, one more variable (LD_PRELOAD) in nerdctl's
// own environment — must differ; the last one is predicted too, from a
// profile with that environment. The table goes to the test log.
func TestNerdctlFidelity(t *testing.T) {
	shim := dockertest.NewShim(t, dockertest.ShimBinary(t), "refval-v2")
	n := dockertest.NewNerdctl(t, ctrtest.V2_4, ctrtest.WithEnv(shim.Env()))
	if err := os.MkdirAll(n.CNIConf, 0o755); err != nil {
		t.Fatal(err)
	}
	host, err := engine.LocalHost()
	if err != nil {
		t.Fatal(err)
	}
	host.Nerdctl, err = engine.LocalNerdctl(n.Bin, n.GlobalArgs, n.Env)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("# comment\n  A=1\nB=two words\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	layout, store := t.TempDir(), t.TempDir()
	for _, im := range dockerImages() {
		archive := filepath.Join(t.TempDir(), im.name+".tar")
		if _, err := testimage.WriteDockerArchive(archive, "refval-test/"+im.name+":1", im.img); err != nil {
			t.Fatal(err)
		}
		n.Load(archive)
		if _, err := testimage.WriteLayout(layout, im.name, im.img); err != nil {
			t.Fatal(err)
		}
	}
	startFailed := map[string]string{}
	runOnce := func(key string, env []string, im dockerImage, op dockerOption) (dockertest.Values, error) {
		args := append([]string{"run", "-d", "--runtime", shim.Bin}, op.args...)
		args = append(append(args, "refval-test/"+im.name+":1"), op.cmd...)
		if len(op.cmd) == 0 {
			args = append(args, "true")
		}
		r := n.RunIn(env, n.Dir, args...)
		id := strings.TrimSpace(r.Stdout)
		if r.ExitCode != 0 {
			// Measured at create: a start that runc refuses afterwards
			// (--privileged asks for what this test host may not grant)
			// is still measured.
			ids := strings.Fields(n.RunIn(env, n.Dir, "ps", "-aq", "--no-trunc").Stdout)
			for _, c := range ids {
				n.RunIn(env, n.Dir, "rm", "-f", c)
				if v, ok, err := shim.Values(c); err == nil && ok {
					startFailed[key] = strings.TrimSpace(r.Stderr)
					return v, nil
				}
			}
			return dockertest.Values{}, fmt.Errorf("%s", r)
		}
		n.RunIn(env, n.Dir, "wait", id)
		n.RunIn(env, n.Dir, "rm", "-f", id)
		v, ok, err := shim.Values(id)
		if err == nil && !ok {
			err = fmt.Errorf("container %s not measured", id)
		}
		return v, err
	}
	predict := func(h *engine.Host, im dockerImage, op dockerOption) (oci.Measurement, error) {
		cmd := op.cmd
		if len(cmd) == 0 {
			cmd = []string{"true"}
		}
		run, err := engine.ParseNerdctlRunArgs(append(slices.Clone(op.args), cmd...), os.ReadFile)
		if err != nil {
			return oci.Measurement{}, err
		}
		pr := &engine.Predictor{Profile: mustProfile(t, "nerdctl"), Run: engine.RunOptions{Nerdctl: run}, Host: h}
		res, err := oci.MeasureImage(context.Background(), "oci:"+layout+":"+im.name, oci.WithLayout(store),
			oci.WithScheme(bundle.SchemeV2), oci.WithRuntimeConfig(pr.Config), oci.WithContainerID(pr.ContainerID()))
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
	var keys []string
	failed := map[string]bool{}
	images := dockerImages()
	for pass := 0; pass < 3; pass++ {
		if pass == 2 {
			n.C.Restart()
		}
		for _, im := range images {
			for _, op := range nerdctlOptions(src, envFile) {
				if im.name != "busybox" && !op.app {
					continue
				}
				key := im.name + "/" + op.name
				if failed[key] {
					continue
				}
				if results[key] == nil {
					off, err := predict(host, im, op.dockerOption)
					if err != nil {
						t.Errorf("%s: predict: %v", key, err)
						failed[key] = true
						continue
					}
					results[key] = &result{off: off}
					keys = append(keys, key)
				}
				v, err := runOnce(key, n.Env, im, op.dockerOption)
				if err != nil {
					t.Errorf("%s: run %d: %v", key, pass+1, err)
					continue
				}
				results[key].rt[pass] = v
			}
		}
	}
	type row struct{ image, option, offline, run1, run2, restart, note string }
	var rows []row
	short := func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	}
	check := func(key string, off oci.Measurement, v dockertest.Values, which string) {
		if v.ConfigSha256 != off.Result.ConfigSha256.String() {
			ch, err := diff.Configs(off.Result.NormalizedConfig, v.NormalizedConfig)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, c := range ch {
				lines = append(lines, c.String())
			}
			t.Errorf("%s %s: config differs from the prediction:\n%s", key, which, strings.Join(lines, "\n"))
		}
		if v.RootfsSha256 != off.Result.RootfsSha256.String() {
			t.Errorf("%s %s: rootfs %s, predicted %s", key, which, v.RootfsSha256, off.Result.RootfsSha256)
		}
	}
	for _, key := range keys {
		r := results[key]
		im, op, _ := strings.Cut(key, "/")
		off := r.off.Result.TemplateSha256.String()
		rw := row{image: im, option: op, offline: short(off), run1: short(r.rt[0].TemplateSha256), run2: short(r.rt[1].TemplateSha256), restart: short(r.rt[2].TemplateSha256), note: "equal"}
		if why := startFailed[key]; why != "" {
			rw.note = "equal; measured at create, runc then refused to start it on this test host: " + why
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
			check(key, r.off, v, fmt.Sprintf("run %d", i+1))
		}
		rows = append(rows, rw)
	}
	// The hook environment is measured: nerdctl run with one more
	// variable records another value, which a profile stating that
	// environment predicts.
	ld := append([]string{"LD_PRELOAD=/x.so"}, n.Env...)
	bb, noneOp := images[0], nerdctlOptions(src, envFile)[0].dockerOption
	ldRun, err := runOnce("busybox/ld-preload", ld, bb, noneOp)
	if err != nil {
		t.Fatalf("LD_PRELOAD run: %v", err)
	}
	ldHost := *host
	if ldHost.Nerdctl, err = engine.LocalNerdctl(n.Bin, n.GlobalArgs, ld); err != nil {
		t.Fatal(err)
	}
	ldOff, err := predict(&ldHost, bb, noneOp)
	if err != nil {
		t.Fatal(err)
	}
	note := "equal"
	if ldRun.TemplateSha256 != ldOff.Result.TemplateSha256.String() {
		note = "DIFFERS"
		check("busybox/none with LD_PRELOAD in nerdctl's env", ldOff, ldRun, "run")
	}
	rows = append(rows, row{image: "busybox", option: "none, LD_PRELOAD in nerdctl's env", offline: short(ldOff.Result.TemplateSha256.String()), run1: short(ldRun.TemplateSha256), note: note})
	base := results["busybox/none"]
	negatives := []struct{ name, predicted, run string }{
		{"env FOO=bar predicted, none run", "busybox/env", ""},
		{"cap-add predicted, none run", "busybox/cap-add", ""},
		{"image app predicted, busybox run", "app/none", ""},
		{"read-only predicted, none run", "busybox/read-only", ""},
		{"none predicted, LD_PRELOAD in nerdctl's env run", "busybox/none", ldRun.TemplateSha256},
	}
	for _, neg := range negatives {
		p := results[neg.predicted]
		if base == nil || p == nil {
			t.Errorf("negative control %q: no values", neg.name)
			continue
		}
		rt := neg.run
		if rt == "" {
			rt = base.rt[0].TemplateSha256
		}
		off := p.off.Result.TemplateSha256.String()
		rows = append(rows, row{image: "busybox", option: neg.name, offline: short(off), run1: short(rt), note: "negative control: differs"})
		if off == rt {
			rows[len(rows)-1].note = "negative control: EQUAL"
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
	t.Logf("nerdctl %s on containerd %s fidelity (template hashes, refval-v2):\n%s", engine.NerdctlVersion, ctrtest.V2_4, b.String())
}
