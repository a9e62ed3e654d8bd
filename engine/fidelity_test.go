package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"text/tabwriter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/engine/diff"
	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/manifest"
)

// fidelityImage is one test image of the matrix.
type fidelityImage struct {
	name string
	img  testimage.Image
}

func fidelityImages() []fidelityImage {
	bb := func(cfg func(*ocispec.ImageConfig), extra ...testimage.Layer) testimage.Image {
		img := testimage.Busybox(extra...)
		if cfg != nil {
			cfg(&img.Config)
		}
		return img
	}
	users := testimage.Layer{
		testimage.File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
		testimage.File("etc/group", 0o644, "root:x:0:\naudio:x:29:app\napp:x:1001:app\nvideo:x:44:other,app\nnogroup:x:65534:\n"),
		testimage.Dir("home", 0o755),
		testimage.Dir("home/app", 0o750).Owned(1000, 1001),
	}
	return []fidelityImage{
		{"busybox", bb(nil)},
		{"user", bb(func(c *ocispec.ImageConfig) { c.User = "app" }, users)},
		{"entrypoint", bb(func(c *ocispec.ImageConfig) { c.Entrypoint = []string{"/bin/echo", "entry"}; c.Cmd = nil })},
		{"cmd", bb(func(c *ocispec.ImageConfig) { c.Cmd = []string{"/bin/true"}; c.Env = nil })},
		{"workdir", bb(func(c *ocispec.ImageConfig) { c.WorkingDir = "/srv/app"; c.Env = append(c.Env, "APP=1") },
			testimage.Layer{testimage.Dir("srv", 0o755), testimage.Dir("srv/app", 0o755)})},
		{"layers", bb(nil,
			testimage.Layer{testimage.Dir("opt", 0o755), testimage.File("opt/a", 0o644, "a\n"), testimage.File("opt/b", 0o644, "b\n"), testimage.Dir("opt/d", 0o755), testimage.File("opt/d/x", 0o600, "x\n")},
			testimage.Layer{testimage.Whiteout("opt/a"), testimage.Whiteout("opt/d"), testimage.File("opt/b", 0o640, "b2\n")})},
		{"filecaps", bb(nil, testimage.Layer{testimage.Dir("usr", 0o755), testimage.Dir("usr/bin", 0o755),
			testimage.File("usr/bin/ping", 0o755, "ping\n").WithXattr("security.capability", testimage.CapNetRaw)})},
		// USER forms that take the other branches of the user resolution.
		{"uid-no-entry", bb(func(c *ocispec.ImageConfig) { c.User = "1234" })},
		{"user-group", bb(func(c *ocispec.ImageConfig) { c.User = "app:video" }, users)},
	}
}

// extendedImages get the extended options too (the others only the core set).
var extendedImages = map[string]bool{"busybox": true, "user": true}

// fidelityOption is one column of run options.
type fidelityOption struct {
	name     string
	ctr      []string // ctr run flags
	args     []string // after IMAGE ID
	ro       engine.RunOptions
	extended bool // only for extendedImages
	// cannot returns why the case cannot run on this containerd version
	// ("" when it can); such cases are listed in the table, not skipped.
	cannot func(version string) string
}

func mustMount(v string) specs.Mount {
	m, err := engine.ParseMount(v)
	if err != nil {
		panic(err)
	}
	return m
}

func fidelityOptions(dir string) []fidelityOption {
	mount := "type=bind,src=" + dir + ",dst=/data,options=rbind:ro"
	m := mustMount(mount)
	envFile := filepath.Join(dir, "env-file")
	envFileContent := "A=1\n#comment\n\nPATH=/opt/bin\r\nB=two=2"
	seccompFile := filepath.Join(dir, "seccomp.json")
	seccomp := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["swapon","swapoff"],"action":"SCMP_ACT_ERRNO"}]}`
	for p, c := range map[string]string{envFile: envFileContent, seccompFile: seccomp} {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			panic(err)
		}
	}
	tmpfsRun := "type=tmpfs,src=tmpfs,dst=/run,options=nosuid:size=1m"
	no16 := func(flag string) func(string) string {
		return func(v string) string {
			if v == ctrtest.V1_6 {
				return "ctr run of containerd 1.6 has no " + flag
			}
			return ""
		}
	}
	return []fidelityOption{
		{name: "none"},
		{name: "env", ctr: []string{"--env", "FOO=bar", "--env", "PATH=/bin"}, ro: engine.RunOptions{Env: []string{"FOO=bar", "PATH=/bin"}}},
		{name: "args", args: []string{"/bin/echo", "override"}, ro: engine.RunOptions{Args: []string{"/bin/echo", "override"}}},
		{name: "cwd", ctr: []string{"--cwd", "/tmp"}, ro: engine.RunOptions{Cwd: "/tmp"}},
		{name: "mount", ctr: []string{"--mount", mount}, ro: engine.RunOptions{Mounts: []specs.Mount{m}}},
		{name: "read-only", ctr: []string{"--read-only"}, ro: engine.RunOptions{ReadOnly: true}},
		{name: "privileged", ctr: []string{"--privileged"}, ro: engine.RunOptions{Privileged: true}},
		// Extended set: every other option the profile models.
		{name: "mount-over-default", extended: true, ctr: []string{"--mount", tmpfsRun}, ro: engine.RunOptions{Mounts: []specs.Mount{mustMount(tmpfsRun)}}},
		{name: "caps", extended: true, ctr: []string{"--cap-add", "CAP_SYS_ADMIN", "--cap-drop", "CAP_NET_RAW", "--cap-drop", "CAP_KILL"},
			ro: engine.RunOptions{CapAdd: []string{"CAP_SYS_ADMIN"}, CapDrop: []string{"CAP_NET_RAW", "CAP_KILL"}}},
		{name: "net-host", extended: true, ctr: []string{"--net-host"}, ro: engine.RunOptions{NetHost: true}},
		{name: "env-file", extended: true, ctr: []string{"--env-file", envFile, "--env", "B=3"}, ro: engine.RunOptions{EnvFile: []byte(envFileContent), Env: []string{"B=3"}}},
		{name: "env-unset", extended: true, ctr: []string{"--env", "PATH"}, ro: engine.RunOptions{Env: []string{"PATH"}}},
		{name: "seccomp-profile", extended: true, ctr: []string{"--seccomp", "--seccomp-profile", seccompFile}, ro: engine.RunOptions{Seccomp: true, SeccompProfile: []byte(seccomp)}},
		{name: "allow-new-privs", extended: true, ctr: []string{"--allow-new-privs"}, ro: engine.RunOptions{AllowNewPrivs: true}},
		{name: "cpu-shares", extended: true, ctr: []string{"--cpu-shares", "512"}, ro: engine.RunOptions{CPUShares: 512}},
		{name: "user-uidgid", extended: true, ctr: []string{"--user", "1000:1001"}, ro: engine.RunOptions{User: "1000:1001"}, cannot: no16("--user")},
		{name: "user-name", extended: true, ctr: []string{"--user", "nobody"}, ro: engine.RunOptions{User: "nobody"}, cannot: no16("--user")},
		{name: "hostname", extended: true, ctr: []string{"--hostname", "box"}, ro: engine.RunOptions{Hostname: "box"}, cannot: no16("--hostname")},
		{name: "tty", extended: true, ctr: []string{"--tty"}, args: []string{"/bin/true"}, ro: engine.RunOptions{TTY: true, Args: []string{"/bin/true"}}},
		{name: "seccomp-default", extended: true, ctr: []string{"--seccomp"}, ro: engine.RunOptions{Seccomp: true}},
		{name: "seccomp-default-caps", extended: true, ctr: []string{"--seccomp", "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SYS_PTRACE"},
			ro: engine.RunOptions{Seccomp: true, CapAdd: []string{"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"}}},
	}
}

// fidelityRow is one line of the printed table.
type fidelityRow struct {
	image, option, version string
	offline, runtime       string // template hashes (hex, shortened in the table)
	configEqual            bool
	rootfsEqual            bool
	note                   string
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// TestFidelity starts every image × run option of the matrix under the
// shim on real containerd 1.6 and 2.4.2 and compares the template hash the
// shim records with the offline value: the engine prediction of the config
// and the rootfs measured from an independent unpack (Debian's umoci CLI).
func TestFidelity(t *testing.T) {
	if testing.Short() {
		t.Skip("fidelity: starts real containerd; skipped with -short")
	}
	shimBin := shimBinary(t)
	for _, v := range ctrtest.Versions {
		t.Run(v, func(t *testing.T) { runFidelity(t, v, shimBin) })
	}
}

func runFidelity(t *testing.T, version, shimBin string) {
	c := ctrtest.New(t, version, ctrtest.WithEnv(engineShimEnv(t)...))
	genDir := filepath.Join(shimStateDir(t), "gen")
	profile, err := engine.ParseProfile("containerd", version)
	if err != nil {
		t.Fatal(err)
	}
	host, err := engine.LocalHost()
	if err != nil {
		t.Fatal(err)
	}
	mountSrc := t.TempDir()
	var rows []fidelityRow
	var recorded []recordedRun
	refs := map[string]string{}
	for _, im := range fidelityImages() {
		archive := filepath.Join(t.TempDir(), im.name+".tar")
		if _, err := testimage.WriteOCIArchive(archive, im.name, im.img); err != nil {
			t.Fatal(err)
		}
		ref := c.Import(archive)[0]
		refs[im.name] = ref
		imgCfg, userFS := imageConfigAndFS(t, im.img)
		offlineRootfs := offlineRootfsDigest(t, im.img)
		for _, op := range fidelityOptions(mountSrc) {
			if only := os.Getenv("FIDELITY_ONLY"); only != "" && only != im.name+"/"+op.name {
				continue
			}
			if op.extended && !extendedImages[im.name] {
				continue
			}
			if op.cannot != nil {
				if why := op.cannot(version); why != "" {
					rows = append(rows, fidelityRow{image: im.name, option: op.name, version: version, offline: "-", runtime: "-", note: "not run: " + why})
					continue
				}
			}
			id := "fid-" + im.name + "-" + op.name
			var r ctrtest.Result
			if slices.Contains(op.ctr, "--tty") {
				// ctr run --tty needs a terminal: give it a pseudo-terminal.
				args := append([]string{"--rm", "--runtime", shimBin}, op.ctr...)
				r = c.RunTTY(t, append(append(args, ref, id), op.args...)...)
			} else {
				args := append([]string{"--rm", "--null-io", "--runtime", shimBin}, op.ctr...)
				r = c.Run(append(append(args, ref, id), op.args...)...)
			}
			if r.Err != nil || r.ExitCode != 0 {
				t.Errorf("%s/%s: %s", im.name, op.name, r)
				continue
			}
			t.Logf("%s/%s: ctr run took %v", im.name, op.name, r.Duration)
			rt := readGenerated(t, filepath.Join(genDir, id))
			ro := op.ro
			ro.Namespace = c.Namespace
			raw, err := engine.Predict(imgCfg, userFS, ro, engine.WithProfile(profile), engine.WithHost(host))
			if err != nil {
				t.Errorf("%s/%s: predict: %v", im.name, op.name, err)
				continue
			}
			cfgDigest, norm, err := bundle.HashConfig(raw, bundle.WithContainerID(engine.DefaultContainerID))
			if err != nil {
				t.Fatal(err)
			}
			if !ro.Privileged && !ro.NetHost {
				recorded = append(recorded, recordedRun{Case: im.name + "/" + op.name, Image: im.name, Run: ro, Config: string(rt.normalized)})
			}
			row := fidelityRow{image: im.name, option: op.name, version: version,
				offline: bundle.TemplateHash(cfgDigest, offlineRootfs).String(), runtime: rt.template,
				configEqual: cfgDigest.String() == rt.config, rootfsEqual: offlineRootfs.String() == rt.rootfs}
			if !row.configEqual {
				d, err := diff.Configs(norm, rt.normalized)
				if err != nil {
					t.Fatal(err)
				}
				var lines []string
				for _, c := range d {
					lines = append(lines, c.String())
				}
				row.note = strings.Join(lines, "\n")
				t.Errorf("%s/%s on containerd %s: predicted config differs from the runtime one:\n%s", im.name, op.name, version, row.note)
			}
			if !row.rootfsEqual {
				t.Errorf("%s/%s on containerd %s: rootfs %s offline, %s at runtime", im.name, op.name, version, offlineRootfs, rt.rootfs)
			}
			rows = append(rows, row)
		}
	}
	// Negative controls: a deliberately changed option or image must
	// change the value.
	for _, neg := range []struct {
		name, image string
		predict     engine.RunOptions
		run         []string
	}{
		{"env FOO=bar vs run FOO=baz", "busybox", engine.RunOptions{Env: []string{"FOO=bar"}}, []string{"--env", "FOO=baz"}},
		{"read-only vs run writable", "busybox", engine.RunOptions{ReadOnly: true}, nil},
		{"seccomp default vs run without", "busybox", engine.RunOptions{Seccomp: true}, nil},
		{"image user vs run of busybox", "user", engine.RunOptions{}, nil},
	} {
		im := fidelityImages()[0]
		for _, x := range fidelityImages() {
			if x.name == neg.image {
				im = x
			}
		}
		id := "fid-negative-" + strings.NewReplacer(" ", "-", "=", "-").Replace(neg.name)
		runRef := refs["busybox"]
		if r := c.Run(append(append([]string{"--rm", "--null-io", "--runtime", shimBin}, neg.run...), runRef, id)...); r.ExitCode != 0 || r.Err != nil {
			t.Fatalf("negative case %s: %s", neg.name, r)
		}
		rt := readGenerated(t, filepath.Join(genDir, id))
		imgCfg, userFS := imageConfigAndFS(t, im.img)
		ro := neg.predict
		ro.Namespace = c.Namespace
		raw, err := engine.Predict(imgCfg, userFS, ro, engine.WithProfile(profile))
		if err != nil {
			t.Fatal(err)
		}
		cfgDigest, _, err := bundle.HashConfig(raw, bundle.WithContainerID(engine.DefaultContainerID))
		if err != nil {
			t.Fatal(err)
		}
		off := bundle.TemplateHash(cfgDigest, offlineRootfsDigest(t, im.img)).String()
		rows = append(rows, fidelityRow{image: im.name, option: neg.name, version: version, offline: off, runtime: rt.template,
			note: "negative control: must differ"})
		if off == rt.template {
			t.Errorf("negative control %q: offline value equals the runtime one (%s)", neg.name, off)
		}
	}
	printFidelityTable(t, rows)
	if os.Getenv("FIDELITY_UPDATE") != "" && !t.Failed() {
		b, err := json.MarshalIndent(recorded, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(recordedFile(version), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// recordedRun is one runtime config recorded by the shim on real
// containerd, with what produced it; TestPredictMatchesRecordedRuntime
// replays them without containerd. Host-dependent cases (--privileged,
// --net-host) are not recorded.
type recordedRun struct {
	Case  string            `json:"case"`
	Image string            `json:"image"`
	Run   engine.RunOptions `json:"run"`
	// Config holds the exact normalized bytes (a string, so that the
	// file's indentation never touches them).
	Config string `json:"normalizedConfig"`
}

func recordedFile(version string) string {
	return filepath.Join("testdata", "runtime-configs-"+version+".json")
}

// TestPredictMatchesRecordedRuntime checks the prediction against the
// normalized configs the shim recorded on real containerd 1.6 and 2.4.2
// (written by `FIDELITY_UPDATE=1 go test -run TestFidelity`), so that the
// rules stay right in -short runs too.
func TestPredictMatchesRecordedRuntime(t *testing.T) {
	if _, err := os.Stat(testimage.BusyboxPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test images need %s: %v", testimage.BusyboxPath, err)
		}
		t.Skipf("test images need %s: %v", testimage.BusyboxPath, err)
	}
	images := map[string]testimage.Image{}
	for _, im := range fidelityImages() {
		images[im.name] = im.img
	}
	for _, v := range ctrtest.Versions {
		t.Run(v, func(t *testing.T) {
			b, err := os.ReadFile(recordedFile(v))
			if err != nil {
				t.Fatal(err)
			}
			var runs []recordedRun
			if err := json.Unmarshal(b, &runs); err != nil {
				t.Fatal(err)
			}
			if len(runs) < 50 {
				t.Fatalf("%d recorded runs, want the whole matrix", len(runs))
			}
			p, err := engine.ParseProfile("containerd", v)
			if err != nil {
				t.Fatal(err)
			}
			type built struct {
				cfg  ocispec.Image
				fsys fs.FS
			}
			cache := map[string]built{}
			for _, r := range runs {
				img, ok := images[r.Image]
				if !ok {
					t.Errorf("%s: unknown image %q", r.Case, r.Image)
					continue
				}
				b, ok := cache[r.Image]
				if !ok {
					b.cfg, b.fsys = imageConfigAndFS(t, img)
					cache[r.Image] = b
				}
				cfg, fsys := b.cfg, b.fsys
				raw, err := engine.Predict(cfg, fsys, r.Run, engine.WithProfile(p))
				if err != nil {
					t.Errorf("%s: %v", r.Case, err)
					continue
				}
				_, norm, err := bundle.HashConfig(raw, bundle.WithContainerID(engine.DefaultContainerID))
				if err != nil {
					t.Fatal(err)
				}
				if string(norm) != r.Config {
					d, _ := diff.Configs([]byte(r.Config), norm)
					t.Errorf("%s on %s: prediction differs from the recorded runtime config: %v", r.Case, v, d)
				}
			}
		})
	}
}

func printFidelityTable(t *testing.T, rows []fidelityRow) {
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "IMAGE\tOPTIONS\tCONTAINERD\tOFFLINE\tRUNTIME\tEQUAL\tNOTE")
	for _, r := range rows {
		eq := "yes"
		switch {
		case r.offline == "-":
			eq = "n/a"
		case r.offline != r.runtime:
			eq = "NO"
		}
		note := r.note
		if i := strings.IndexByte(note, '\n'); i >= 0 {
			note = note[:i] + " …"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.image, r.option, r.version, short(r.offline), short(r.runtime), eq, note)
	}
	w.Flush()
	if os.Getenv("FIDELITY") != "" || testing.Verbose() {
		t.Logf("fidelity table:\n%s", b.String())
	}
}

// generated is what the shim's generate mode wrote for one container.
type generated struct {
	template, config, rootfs string
	normalized               []byte
}

func readGenerated(t *testing.T, dir string) generated {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "container-refs"))
	if err != nil {
		t.Fatalf("shim generate output: %v", err)
	}
	var refs []manifest.ReferenceValue
	if err := json.Unmarshal(raw, &refs); err != nil || len(refs) != 1 || refs[0].CtrData == nil {
		t.Fatalf("shim generate output %s: %v: %s", dir, err, raw)
	}
	norm, err := os.ReadFile(filepath.Join(dir, "container-config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return generated{
		template:   fmt.Sprintf("%x", []byte(refs[0].Sha256)),
		config:     fmt.Sprintf("%x", []byte(refs[0].CtrData.ConfigSha256)),
		rootfs:     fmt.Sprintf("%x", []byte(refs[0].CtrData.RootfsSha256)),
		normalized: norm,
	}
}

var shimDirs = map[testing.TB]string{}

// shimStateDir holds the shim's configuration, list, log and generate
// directory for one containerd.
func shimStateDir(t *testing.T) string {
	t.Helper()
	if d, ok := shimDirs[t]; ok {
		return d
	}
	d := t.TempDir()
	shimDirs[t] = d
	return d
}

// engineShimEnv writes the shim configuration (generate mode for every
// container) and returns the environment that points the shim at it.
func engineShimEnv(t *testing.T) []string {
	d := shimStateDir(t)
	cfg := fmt.Sprintf("cmc_version = \"0.7\"\nlist = %q\nlog_file = %q\nlog_level = \"debug\"\ngenerate_all = true\ngenerate_dir = %q\n",
		filepath.Join(d, "list.json"), filepath.Join(d, "shim.log"), filepath.Join(d, "gen"))
	p := filepath.Join(d, "shim.toml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"REFVAL_SHIM_CONFIG=" + p}
}

// shimBinary returns $REFVAL_BIN/containerd-shim-cmc-v1 (make test) or
// builds it.
func shimBinary(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("REFVAL_BIN"); d != "" {
		p := filepath.Join(d, "containerd-shim-cmc-v1")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("REFVAL_BIN: %v", err)
		}
		return p
	}
	out := filepath.Join(t.TempDir(), "containerd-shim-cmc-v1")
	cmd := exec.Command("go", "build", "-o", out, "../cmd/containerd-shim-cmc-v1")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build shim: %v\n%s", err, b)
	}
	return out
}

// imageConfigAndFS returns the image config the way an image store holds
// it and the image's /etc/passwd and /etc/group as they are after all
// layers are applied.
func imageConfigAndFS(t *testing.T, img testimage.Image) (ocispec.Image, fs.FS) {
	t.Helper()
	b, err := testimage.Build(img)
	if err != nil {
		t.Fatal(err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(b.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	m := fstest.MapFS{}
	for _, l := range b.LayerTars {
		tr := tar.NewReader(bytes.NewReader(l))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := path.Clean(strings.TrimPrefix(h.Name, "./"))
			base := path.Base(name)
			if strings.HasPrefix(base, ".wh.") {
				gone := path.Join(path.Dir(name), strings.TrimPrefix(base, ".wh."))
				for k := range m {
					if k == gone || strings.HasPrefix(k, gone+"/") {
						delete(m, k)
					}
				}
				continue
			}
			switch h.Typeflag {
			case tar.TypeReg:
				data, _ := io.ReadAll(tr)
				m[name] = &fstest.MapFile{Data: data, Mode: 0o644}
			case tar.TypeSymlink:
				m[name] = &fstest.MapFile{Data: []byte(h.Linkname), Mode: fs.ModeSymlink | 0o777}
			case tar.TypeDir:
				m[name] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
			}
		}
	}
	return cfg, m
}

var rootfsCache = map[string]bundle.Digest{}

// offlineRootfsDigest unpacks the image with Debian's umoci CLI (an
// independent unpacker) and measures the rootfs.
func offlineRootfsDigest(t *testing.T, img testimage.Image) bundle.Digest {
	t.Helper()
	b, err := testimage.Build(img)
	if err != nil {
		t.Fatal(err)
	}
	key := b.ManifestDesc.Digest.String()
	if d, ok := rootfsCache[key]; ok {
		return d
	}
	umoci, err := exec.LookPath("umoci")
	if err != nil {
		t.Fatalf("umoci CLI (Debian package umoci) is needed for the offline rootfs: %v", err)
	}
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	if _, err := testimage.WriteLayout(layout, "latest", img); err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(dir, "bundle")
	if out, err := exec.Command(umoci, "unpack", "--image", layout+":latest", bdir).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	d, _, err := bundle.HashRootfs(context.Background(), filepath.Join(bdir, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	rootfsCache[key] = d
	return d
}
