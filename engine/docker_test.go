package engine

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestDockerSeccompData pins the embedded profile to the bytes of
// `git show v20.10.24:profiles/seccomp/default.json` in moby/moby
// (engine/data/README.md).
func TestDockerSeccompData(t *testing.T) {
	sum := sha256.Sum256(dockerSeccompJSON)
	if got, want := hex.EncodeToString(sum[:]), "ce3585b856aa4a193671fd8280d0d0612a998bd3f10bdb2f8530dfa958c6197f"; got != want {
		t.Errorf("docker-20.10.24-seccomp.json: sha256 %s, want %s", got, want)
	}
}

// TestDockerSeccompFilter: rules that need a capability appear only with
// it; ptrace (minKernel 4.8) only on newer kernels; the x86-64 archMap.
func TestDockerSeccompFilter(t *testing.T) {
	kernel := func(v string) func(string, string) (bool, error) {
		return func(want, _ string) (bool, error) {
			d := &dockerSpec{daemon: &DockerDaemon{KernelVersion: v}}
			return d.kernelAtLeast(want, "")
		}
	}
	names := func(sc *specs.LinuxSeccomp) []string {
		var n []string
		for _, s := range sc.Syscalls {
			n = append(n, s.Names...)
		}
		return n
	}
	def, err := dockerDefaultSeccomp("amd64", dockerDefaultCaps(), kernel("6.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]specs.Arch{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}, def.Architectures); diff != "" {
		t.Errorf("architectures: %s", diff)
	}
	admin, err := dockerDefaultSeccomp("amd64", append(dockerDefaultCaps(), "CAP_SYS_ADMIN"), kernel("6.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names(def), "mount") || !slices.Contains(names(admin), "mount") {
		t.Error("mount must be allowed exactly with CAP_SYS_ADMIN")
	}
	old, err := dockerDefaultSeccomp("amd64", dockerDefaultCaps(), kernel("4.4.0"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names(def), "ptrace") || slices.Contains(names(old), "ptrace") {
		t.Error("ptrace must be allowed from kernel 4.8 on")
	}
	if _, err := dockerDefaultSeccomp("amd64", nil, (&dockerSpec{}).kernelAtLeast); !errors.Is(err, ErrHostDependent) {
		t.Errorf("unknown kernel: %v, want ErrHostDependent", err)
	}
}

// TestMergeTmpfsOptions: from moby/sys/mount's MergeTmpfsOptions, the
// last of conflicting flags and data keys wins, order kept.
func TestMergeTmpfsOptions(t *testing.T) {
	base := []string{"noexec", "nosuid", "nodev", "rprivate"}
	for _, tc := range []struct {
		extra, want []string
	}{
		{nil, base},
		{[]string{"size=1m", "mode=1777"}, append(slices.Clone(base), "size=1m", "mode=1777")},
		{[]string{"exec"}, []string{"nosuid", "nodev", "rprivate", "exec"}},
		{[]string{"size=1m", "size=2m"}, append(slices.Clone(base), "size=2m")},
		{[]string{"shared"}, []string{"noexec", "nosuid", "nodev", "shared"}},
		{[]string{"defaults", "ro"}, append(slices.Clone(base), "ro")},
	} {
		got, err := mergeTmpfsOptions(append(slices.Clone(base), tc.extra...))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%v: %v (%v), want %v", tc.extra, got, err, tc.want)
		}
	}
	if _, err := mergeTmpfsOptions([]string{"bogus"}); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("bogus option: %v", err)
	}
}

// TestParseDockerRunArgs: docker's names, interspersed options stop at
// the command, units.
func TestParseDockerRunArgs(t *testing.T) {
	r, err := ParseDockerRunArgs([]string{"-e", "A=1", "--rm", "-u", "1:2", "-w", "/w", "-v", "/a:/b:ro", "--tmpfs", "/t",
		"--network", "none", "-m", "64m", "--cpus", "1.5", "--pids-limit", "0", "--entrypoint", "", "-t", "sh", "-e", "x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := DockerRun{Env: []string{"A=1"}, User: "1:2", Workdir: "/w", Volumes: []string{"/a:/b:ro"}, Tmpfs: []string{"/t"},
		Network: "none", Memory: 64 << 20, NanoCPUs: 1500000000, PidsLimit: new(int64), Entrypoint: new(string), TTY: true,
		Args: []string{"sh", "-e", "x"}}
	if diff := cmp.Diff(want, *r); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range [][]string{{"--bogus"}, {"--cpus", "0.0000000001"}, {"-m", "lots"}} {
		if _, err := ParseDockerRunArgs(bad, nil); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%q: %v, want ErrInvalidOption", bad, err)
		}
	}
	files := map[string]string{"e.env": "# c\nB=2\n\n  C=3"}
	r, err = ParseDockerRunArgs([]string{"--env-file", "e.env"}, func(p string) ([]byte, error) { return []byte(files[p]), nil })
	if err != nil {
		t.Fatal(err)
	}
	if env, err := parseDockerEnvFile(r.EnvFile); err != nil || !slices.Equal(env, []string{"B=2", "C=3"}) {
		t.Errorf("env file: %v %v", env, err)
	}
}

// TestDockerRunRefused: what cannot be predicted is an error naming the
// option.
func TestDockerRunRefused(t *testing.T) {
	host := &Host{Hostname: "h", Docker: &DockerDaemon{DataRoot: "/var/lib/docker", KernelVersion: "6.1"}}
	for _, tc := range []struct {
		run  DockerRun
		host *Host
		want error
		text string
	}{
		{DockerRun{Env: []string{"A"}}, host, ErrUnsupported, `-e "A"`},
		{DockerRun{Network: "mynet"}, host, ErrUnsupported, "--network"},
		{DockerRun{Volumes: []string{"data:/data"}}, host, ErrUnsupported, "named volumes"},
		{DockerRun{Volumes: []string{"/a:/x", "/b:/y"}}, host, ErrUnsupported, "same depth"},
		{DockerRun{Volumes: []string{"/var/lib/docker/volumes/v:/x"}}, host, ErrHostDependent, "data root"},
		{DockerRun{Volumes: []string{"/a:/x:rshared"}}, host, ErrHostDependent, "propagation"},
		{DockerRun{Network: "host"}, nil, ErrHostDependent, "--network host"},
		{DockerRun{Privileged: true}, nil, ErrHostDependent, "--privileged"},
		{DockerRun{SecurityOpt: []string{"apparmor=x"}}, host, ErrUnsupported, "--security-opt"},
		{DockerRun{Workdir: "rel"}, host, ErrInvalidOption, "absolute"},
		{DockerRun{Tmpfs: []string{"/etc/hosts"}}, host, ErrUnsupported, "dockerd's own"},
	} {
		err := CheckDockerRun(&RunOptions{Docker: &tc.run}, tc.host)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%+v: %v, want %v naming %q", tc.run, err, tc.want, tc.text)
		}
	}
	if err := CheckDockerRun(&RunOptions{Env: []string{"A=1"}}, host); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ctr options with the docker engine: %v", err)
	}
}

// initLayerEntries lists the entries of the top layer for rootfs.
func initLayerEntries(t *testing.T, rootfs fs.ReadLinkFS, workdir string) []string {
	t.Helper()
	b, err := dockerTopLayer(rootfs, workdir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		e := string(h.Typeflag) + " " + h.Name + " " + strings.TrimLeft(fs.FileMode(h.Mode).Perm().String(), "-")
		if h.Linkname != "" {
			e += " -> " + h.Linkname
		}
		out = append(out, e)
	}
}

// TestDockerInitLayer: setupInitLayer's rules — an image directory stays
// as it is, a non-directory (a symlink too) on the way is replaced, what
// is missing is created 0755 — and the working directory is created
// below the resolved symlinks.
func TestDockerInitLayer(t *testing.T) {
	dir := func(m fs.FileMode) *fstest.MapFile { return &fstest.MapFile{Mode: fs.ModeDir | m} }
	root := fstest.MapFS{
		"proc":         dir(0o555),
		"sys":          dir(0o555),
		"etc":          &fstest.MapFile{Mode: fs.ModeSymlink | 0o777, Data: []byte("private/etc")},
		"private/etc":  dir(0o755),
		".dockerenv":   dir(0o700),
		"srv":          &fstest.MapFile{Mode: fs.ModeSymlink | 0o777, Data: []byte("/data")},
		"data":         dir(0o700),
		"dev/console":  &fstest.MapFile{Mode: 0o600},
		"dev/shm/keep": &fstest.MapFile{Mode: 0o644},
	}
	got := initLayerEntries(t, root, "/srv/app/x")
	want := []string{
		"5 dev/pts rwxr-xr-x",
		"5 etc rwxr-xr-x", "0 etc/resolv.conf rwxr-xr-x", "0 etc/hosts rwxr-xr-x", "0 etc/hostname rwxr-xr-x",
		"0 dev/console rwxr-xr-x",
		"2 etc/mtab rwxrwxrwx -> /proc/mounts",
		"5 data/app rwxr-xr-x", "5 data/app/x rwxr-xr-x",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("init layer (-want +got):\n%s", diff)
	}
	if _, err := dockerTopLayer(fstest.MapFS{"w": &fstest.MapFile{}}, "/w/x"); err == nil {
		t.Error("a working directory below a file is accepted")
	}
	if _, err := dockerTopLayer(root, "/etc/app"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("a working directory below the image's /etc symlink, which the init layer replaces: %v, want ErrUnsupported", err)
	}
}

// TestDockerDefaultEnv: PATH and HOSTNAME first, the image's PATH replacing
// the default in place, -e before the image's variables, TERM with -t.
func TestDockerDefaultEnv(t *testing.T) {
	img := ocispec.Image{Config: ocispec.ImageConfig{Env: []string{"PATH=/x", "A=img", "B=img"}, Cmd: []string{"sh"}}}
	host := &Host{Docker: &DockerDaemon{KernelVersion: "6.1"}}
	s, err := PredictSpec(img, nil, RunOptions{Docker: &DockerRun{Env: []string{"B=run", "C=run"}, TTY: true}},
		WithProfile(Profile{Kind: Docker, Version: DockerVersion}), WithHost(host), WithContainerID(DockerDefaultContainerID))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/x", "HOSTNAME=" + DockerDefaultContainerID[:12], "TERM=xterm", "B=run", "C=run", "A=img"}
	if diff := cmp.Diff(want, s.Process.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
}

// TestDockerDaemonConfig: daemon.json keys and dockerd flags (the command
// line wins) become the profile.
func TestDockerDaemonConfig(t *testing.T) {
	var d DockerDaemon
	if err := d.parseDaemonJSON([]byte(`{"data-root":"/srv/docker","bridge":"none","exec-opts":["native.cgroupdriver=systemd"],"log-driver":"local"}`)); err != nil {
		t.Fatal(err)
	}
	d.applyDockerdArgs([]string{"-H", "fd://", "--exec-root=/run/d", "--data-root", "/data/docker"})
	want := DockerDaemon{DataRoot: "/data/docker", ExecRoot: "/run/d", BridgeNone: true, CgroupDriver: "systemd"}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := d.parseDaemonJSON([]byte(`{"data-root":1}`)); err == nil {
		t.Error("a number as data-root accepted")
	}
}

func FuzzDockerDaemonConfig(f *testing.F) {
	f.Add([]byte(`{"data-root":"/x","exec-opts":["native.cgroupdriver=systemd"]}`), "--data-root\x00/y")
	f.Fuzz(func(t *testing.T, raw []byte, args string) {
		var d DockerDaemon
		_ = d.parseDaemonJSON(raw)
		d.applyDockerdArgs(strings.Split(args, "\x00"))
	})
}

// TestDockerContainerIDForm: a prediction for an ID that is not Docker's
// form would not be normalised like a real container's; it is refused.
func TestDockerContainerIDForm(t *testing.T) {
	img := ocispec.Image{Config: ocispec.ImageConfig{Cmd: []string{"sh"}}}
	_, err := PredictSpec(img, nil, RunOptions{Docker: &DockerRun{}}, WithProfile(Profile{Kind: Docker, Version: DockerVersion}),
		WithHost(&Host{Docker: &DockerDaemon{KernelVersion: "6.1"}}), WithContainerID("web"))
	if !errors.Is(err, ErrInvalidOption) {
		t.Errorf("container ID web: %v, want ErrInvalidOption", err)
	}
}

// FuzzDockerRunArgs: any docker run command line (from a batch file) is
// parsed, checked and predicted without a panic.
func FuzzDockerRunArgs(f *testing.F) {
	f.Add("-e\x00A=1\x00-v\x00/a:/b:ro\x00--tmpfs\x00/t:size=1m\x00sh")
	f.Add("--mount\x00type=bind,src=/a,dst=/b,readonly\x00--cap-add\x00ALL\x00--cap-drop\x00chown")
	f.Add("-w\x00/x/../y\x00-u\x00app:1\x00--security-opt\x00no-new-privileges\x00--cpus\x001.25")
	host := &Host{Hostname: "h", Docker: &DockerDaemon{KernelVersion: "6.1"}}
	img := ocispec.Image{Config: ocispec.ImageConfig{Cmd: []string{"sh"}, WorkingDir: "/w"}}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseDockerRunArgs(strings.Split(line, "\x00"), func(string) ([]byte, error) { return []byte("A=1\n"), nil })
		if err != nil {
			return
		}
		if err := CheckDockerRun(&RunOptions{Docker: r}, host); err != nil {
			return
		}
		if _, err := PredictSpec(img, fstest.MapFS{}, RunOptions{Docker: r}, WithProfile(Profile{Kind: Docker, Version: DockerVersion}), WithHost(host), WithContainerID(DockerDefaultContainerID)); err != nil {
			return
		}
		if _, err := dockerTopLayer(fstest.MapFS{}, r.Workdir); err != nil && r.Workdir == "" {
			t.Fatalf("top layer without a workdir: %v", err)
		}
	})
}
