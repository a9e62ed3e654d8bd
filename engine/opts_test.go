package engine

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The expectations in this file come from reading containerd's pkg/oci
// and cmd/ctr source of the pinned releases (the comment of each case
// says which behaviour), not from running this package; the fidelity test
// checks the same rules against the real binaries.

func container(t *testing.T, version string, rootfs fs.FS) *Container {
	t.Helper()
	p, err := ParseProfile("containerd", version)
	if err != nil {
		t.Fatal(err)
	}
	return &Container{ID: "c1", Namespace: "default", Rootfs: rootfs, rules: p.rules}
}

func TestReplaceOrAppendEnv(t *testing.T) {
	tests := []struct {
		name                      string
		defaults, overrides, want []string
	}{
		{"append", []string{"A=1"}, []string{"B=2"}, []string{"A=1", "B=2"}},
		{"replace in place", []string{"A=1", "B=2"}, []string{"A=3"}, []string{"A=3", "B=2"}},
		{"unset existing", []string{"A=1", "B=2"}, []string{"A"}, []string{"B=2"}},
		{"unset missing is dropped", []string{"A=1"}, []string{"B"}, []string{"A=1"}},
		{"unset on empty env", nil, []string{"B"}, []string{}},
		// cache[key] = index of the last occurrence: only that one changes.
		{"duplicate key, last replaced", []string{"A=1", "A=2"}, []string{"A=3"}, []string{"A=1", "A=3"}},
		// containerd drops every "" after the merge, also one from defaults.
		{"empty entries vanish", []string{"", "A=1"}, nil, []string{"A=1"}},
		{"value with =", nil, []string{"A=b=c"}, []string{"A=b=c"}},
		{"empty key", []string{"=x"}, []string{"=y"}, []string{"=y"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := replaceOrAppendEnv(tc.defaults, tc.overrides)
			if d := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestEnvFileLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"A=1", []string{"A=1"}},
		{"A=1\n", []string{"A=1"}},
		{"A=1\r\nB=2\n\n#c\n", []string{"A=1", "B=2", "", "#c"}},
		{"\n\n", []string{"", ""}},
		{"A=1\r", []string{"A=1"}},
	}
	for _, tc := range tests {
		if d := cmp.Diff(tc.want, envFileLines([]byte(tc.in))); d != "" {
			t.Errorf("%q (-want +got):\n%s", tc.in, d)
		}
	}
}

// apply builds the default spec and applies opts.
func apply(t *testing.T, c *Container, opts ...SpecOpts) (*specs.Spec, error) {
	t.Helper()
	var s specs.Spec
	err := ApplyOpts(c, &s, append([]SpecOpts{WithDefaultSpec()}, opts...)...)
	return &s, err
}

func mustApply(t *testing.T, c *Container, opts ...SpecOpts) *specs.Spec {
	t.Helper()
	s, err := apply(t, c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWithImageConfig(t *testing.T) {
	c := container(t, "1.6", nil)
	tests := []struct {
		name     string
		pre      []SpecOpts
		cfg      ocispec.ImageConfig
		wantArgs []string
		wantEnv  []string
		wantCwd  string
	}{
		{"entrypoint+cmd", nil, ocispec.ImageConfig{Entrypoint: []string{"/e"}, Cmd: []string{"a"}, Env: []string{"X=1"}},
			[]string{"/e", "a"}, []string{"X=1"}, "/"},
		{"no env gets default PATH", nil, ocispec.ImageConfig{Cmd: []string{"/c"}},
			[]string{"/c"}, defaultPathEnv, "/"},
		{"working dir", nil, ocispec.ImageConfig{Cmd: []string{"/c"}, WorkingDir: "/srv"},
			[]string{"/c"}, defaultPathEnv, "/srv"},
		// ctr applies --env before the image config: the image env is the
		// base and --env overrides it by key.
		{"--env over image env", []SpecOpts{WithEnv([]string{"X=2", "Y=3"})}, ocispec.ImageConfig{Env: []string{"X=1", "Z=0"}},
			nil, []string{"X=2", "Z=0", "Y=3"}, "/"},
		// A bare --env KEY meets an empty env first and is lost, so it
		// never unsets an image variable.
		{"--env KEY does not unset", []SpecOpts{WithEnv([]string{"X"})}, ocispec.ImageConfig{Env: []string{"X=1"}},
			nil, []string{"X=1"}, "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustApply(t, c, append(tc.pre, WithImageConfig(tc.cfg))...)
			if d := cmp.Diff(tc.wantArgs, s.Process.Args); d != "" {
				t.Errorf("args (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantEnv, s.Process.Env); d != "" {
				t.Errorf("env (-want +got):\n%s", d)
			}
			if s.Process.Cwd != tc.wantCwd {
				t.Errorf("cwd %q, want %q", s.Process.Cwd, tc.wantCwd)
			}
		})
	}
}

func TestWithProcessArgsDropsEntrypoint(t *testing.T) {
	c := container(t, "2.4", nil)
	s := mustApply(t, c, WithImageConfig(ocispec.ImageConfig{Entrypoint: []string{"/e"}, Cmd: []string{"c"}}), WithProcessArgs("/x", "y"))
	if d := cmp.Diff([]string{"/x", "y"}, s.Process.Args); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestWithTTYAppends(t *testing.T) {
	c := container(t, "1.6", nil)
	s := mustApply(t, c, WithImageConfig(ocispec.ImageConfig{Env: []string{"TERM=vt100"}}), WithTTY())
	if d := cmp.Diff([]string{"TERM=vt100", "TERM=xterm"}, s.Process.Env); d != "" || !s.Process.Terminal {
		t.Errorf("terminal %v, env (-want +got):\n%s", s.Process.Terminal, d)
	}
}

func TestWithMounts(t *testing.T) {
	shm := specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}
	data := specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "ro"}}
	count := func(s *specs.Spec, dest string) int {
		n := 0
		for _, m := range s.Mounts {
			if m.Destination == dest {
				n++
			}
		}
		return n
	}
	// 1.x appends: the default /dev/shm stays and the new one follows.
	s := mustApply(t, container(t, "1.7", nil), WithMounts([]specs.Mount{shm, data}))
	if n := count(s, "/dev/shm"); n != 2 || len(s.Mounts) != 9 {
		t.Errorf("1.7: %d /dev/shm mounts, %d mounts; want 2 and 9", n, len(s.Mounts))
	}
	// 2.x removes the defaults with the same destination first.
	s = mustApply(t, container(t, "2.0", nil), WithMounts([]specs.Mount{shm, data}))
	if n := count(s, "/dev/shm"); n != 1 || len(s.Mounts) != 8 {
		t.Errorf("2.0: %d /dev/shm mounts, %d mounts; want 1 and 8", n, len(s.Mounts))
	}
	if d := cmp.Diff([]specs.Mount{shm, data}, s.Mounts[6:]); d != "" {
		t.Errorf("2.0: new mounts not last (-want +got):\n%s", d)
	}
}

func TestCapabilities(t *testing.T) {
	caps := func(s *specs.Spec) []string { return s.Process.Capabilities.Effective }
	c := container(t, "1.6", nil)
	s := mustApply(t, c, WithAddedCapabilities([]string{"CAP_SYS_ADMIN", "CAP_KILL"}), WithDroppedCapabilities([]string{"CAP_CHOWN"}))
	want := append(defaultCaps()[1:], "CAP_SYS_ADMIN")
	for _, set := range [][]string{caps(s), s.Process.Capabilities.Bounding, s.Process.Capabilities.Permitted} {
		if d := cmp.Diff(want, set); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	}
	// Dropping everything leaves the sets absent (nil), not empty.
	s = mustApply(t, c, WithDroppedCapabilities(defaultCaps()))
	if s.Process.Capabilities.Effective != nil {
		t.Errorf("effective %v, want nil", s.Process.Capabilities.Effective)
	}
	// From 1.7, dropping also edits the inheritable set; 1.6 leaves it.
	for _, tc := range []struct {
		version string
		want    []string
	}{{"1.6", []string{"CAP_KILL", "CAP_CHOWN"}}, {"1.7", []string{"CAP_KILL"}}} {
		c := container(t, tc.version, nil)
		s := mustApply(t, c, func(_ *Container, s *specs.Spec) error {
			s.Process.Capabilities.Inheritable = []string{"CAP_KILL", "CAP_CHOWN"}
			return nil
		}, WithDroppedCapabilities([]string{"CAP_CHOWN"}))
		if d := cmp.Diff(tc.want, s.Process.Capabilities.Inheritable); d != "" {
			t.Errorf("%s inheritable (-want +got):\n%s", tc.version, d)
		}
	}
}

func TestCapNamesAreKernelNumbers(t *testing.T) {
	// Independent source: the kernel's capability numbers in x/sys/unix.
	nums := map[string]int{
		"CAP_CHOWN": unix.CAP_CHOWN, "CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH, "CAP_NET_RAW": unix.CAP_NET_RAW,
		"CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN, "CAP_SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "CAP_MKNOD": unix.CAP_MKNOD,
		"CAP_AUDIT_WRITE": unix.CAP_AUDIT_WRITE, "CAP_SETFCAP": unix.CAP_SETFCAP, "CAP_BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND,
		"CAP_AUDIT_READ": unix.CAP_AUDIT_READ, "CAP_PERFMON": unix.CAP_PERFMON, "CAP_BPF": unix.CAP_BPF,
		"CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
	}
	for name, n := range nums {
		if capNames[n] != name {
			t.Errorf("capNames[%d] = %s, want %s", n, capNames[n], name)
		}
	}
	if len(capNames) != unix.CAP_LAST_CAP+1 && len(capNames) != 41 {
		t.Errorf("%d names", len(capNames))
	}
	// All but CAP_SYS_RESOURCE, plus bits beyond the known list (dropped).
	mask := ((uint64(1)<<41 - 1) &^ (1 << unix.CAP_SYS_RESOURCE)) | 1<<50
	got := CapabilitiesFromBitmap(mask)
	if len(got) != 40 || got[0] != "CAP_CHOWN" || got[len(got)-1] != "CAP_CHECKPOINT_RESTORE" {
		t.Errorf("CapabilitiesFromBitmap(%x) = %v", mask, got)
	}
	for _, n := range got {
		if n == "CAP_SYS_RESOURCE" {
			t.Errorf("unset bit named")
		}
	}
}

func TestPrivilegedAndHostNetwork(t *testing.T) {
	c := container(t, "2.4", nil)
	for _, o := range []SpecOpts{WithPrivileged(), WithHostDevices(), WithHostNetwork()} {
		if _, err := apply(t, c, o); !errors.Is(err, ErrHostDependent) {
			t.Errorf("without a host: %v, want ErrHostDependent", err)
		}
	}
	mode := fs.FileMode(0o666)
	var zero uint32
	null := specs.LinuxDevice{Type: "c", Path: "/dev/null", Major: 1, Minor: 3, FileMode: &mode, UID: &zero, GID: &zero}
	c.Host = &Host{Hostname: "dev1", Capabilities: []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}, Devices: []specs.LinuxDevice{null}}
	s := mustApply(t, c, WithPrivileged(), WithAllDevicesAllowed(), WithHostDevices(), WithHostNetwork())
	if d := cmp.Diff(c.Host.Capabilities, s.Process.Capabilities.Bounding); d != "" {
		t.Errorf("caps (-want +got):\n%s", d)
	}
	if s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
		t.Errorf("masked %v readonly %v, want none", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	for _, m := range s.Mounts {
		if m.Type == "sysfs" && m.Options[len(m.Options)-1] != "rw" {
			t.Errorf("sysfs options %v, want rw", m.Options)
		}
	}
	if d := cmp.Diff([]specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}, s.Linux.Resources.Devices); d != "" {
		t.Errorf("device rules (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]specs.LinuxDevice{null}, s.Linux.Devices); d != "" {
		t.Errorf("devices (-want +got):\n%s", d)
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			t.Errorf("network namespace kept")
		}
	}
	if d := cmp.Diff([]string{"HOSTNAME=dev1"}, s.Process.Env); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
	if last := s.Mounts[len(s.Mounts)-1]; last.Destination != "/etc/resolv.conf" || last.Source != "/etc/resolv.conf" {
		t.Errorf("last mount %+v", last)
	}
}

func TestDefaultUnixDevicesAndCPUShares(t *testing.T) {
	s := mustApply(t, container(t, "1.6", nil), WithDefaultUnixDevices(), WithCPUShares(1024))
	d := s.Linux.Resources.Devices
	if len(d) != 10 || d[0].Allow || !d[1].Allow || *d[1].Major != 1 || *d[1].Minor != 3 || d[8].Minor != nil || *d[8].Major != 136 {
		t.Errorf("device rules %+v", d)
	}
	if *s.Linux.Resources.CPU.Shares != 1024 {
		t.Errorf("shares %d", *s.Linux.Resources.CPU.Shares)
	}
	if s.Linux.CgroupsPath != "/default/c1" {
		t.Errorf("cgroupsPath %q", s.Linux.CgroupsPath)
	}
}

const (
	testPasswd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\ndup:x:1000:5::/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"
	testGroup  = "root:x:0:\nwheel:x:10:root\naudio:x:29:app\napp:x:1001:app\nvideo:x:44:other,app\n"
)

func TestUserResolution(t *testing.T) {
	files := fstest.MapFS{
		"etc/passwd": {Data: []byte(testPasswd)},
		"etc/group":  {Data: []byte(testGroup)},
	}
	linked := fstest.MapFS{
		"etc/passwd":      {Data: []byte("/data/passwd"), Mode: fs.ModeSymlink},
		"etc/group":       {Data: []byte("../../../data/group"), Mode: fs.ModeSymlink},
		"data/passwd":     {Data: []byte(testPasswd)},
		"data/group":      {Data: []byte(testGroup)},
		"loop/a":          {Data: []byte("b"), Mode: fs.ModeSymlink},
		"loop/b":          {Data: []byte("a"), Mode: fs.ModeSymlink},
		"etc/passwd-loop": {Data: []byte("/loop/a"), Mode: fs.ModeSymlink},
	}
	type want struct {
		uid, gid uint32
		gids     []uint32
		err      error
	}
	tests := []struct {
		name, version, user string
		rootfs              fs.FS
		want                want
	}{
		// No USER: WithAdditionalGIDs("root") lists root's groups, gid 0 first.
		{"no user", "1.6", "", files, want{0, 0, []uint32{0, 10}, nil}},
		// A name: uid/gid from passwd; groups listing it, except its own
		// same-named group, in file order; primary gid prepended.
		{"name", "1.6", "app", files, want{1000, 1001, []uint32{1001, 29, 44}, nil}},
		// A uid: the first passwd entry with that uid.
		{"uid", "2.4", "1000", files, want{1000, 1001, []uint32{1001, 29, 44}, nil}},
		// A uid without an entry: gid 0, no groups.
		{"uid without entry", "2.4", "1234", files, want{1234, 0, []uint32{0}, nil}},
		// name:group looks up both; the primary gid is already in the list.
		{"name:group", "1.6", "app:video", files, want{1000, 44, []uint32{29, 44}, nil}},
		// uid:gid is taken as is; groups still come from uid → name.
		{"uid:gid", "1.6", "1000:7", files, want{1000, 7, []uint32{7, 29, 44}, nil}},
		{"name:gid", "2.4", "nobody:5", files, want{65534, 5, []uint32{5}, nil}},
		{"uid: empty group", "1.6", "1000:", files, want{1000, 0, []uint32{0, 29, 44}, nil}},
		{"unknown name", "1.6", "ghost", files, want{err: ErrUserNotFound}},
		{"unknown group", "2.4", "app:ghosts", files, want{err: ErrUserNotFound}},
		{"three parts", "1.6", "a:b:c", files, want{err: ErrInvalidOption}},
		// 1.6 wraps a negative uid; 1.7+ refuses it.
		{"negative uid 1.6", "1.6", "-1", files, want{4294967295, 0, []uint32{0}, nil}},
		{"negative uid 2.4", "2.4", "-1", files, want{err: ErrInvalidOption}},
		{"huge uid 1.6 is a name", "1.6", "99999999999999999999", files, want{err: ErrUserNotFound}},
		{"huge uid 2.4", "2.4", "99999999999999999999", files, want{err: ErrInvalidOption}},
		// Without /etc/passwd and /etc/group.
		{"no files, no user", "1.6", "", nil, want{0, 0, []uint32{0}, nil}},
		{"no files, uid", "1.6", "1000", nil, want{1000, 0, []uint32{0}, nil}},
		{"no files, name", "1.6", "app", nil, want{err: fs.ErrNotExist}},
		// Symlinks resolve inside the rootfs (absolute, and .. clamped at /).
		{"symlinked files", "2.4", "app", linked, want{1000, 1001, []uint32{1001, 29, 44}, nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := container(t, tc.version, tc.rootfs)
			s, err := apply(t, c, WithImageConfig(ocispec.ImageConfig{User: tc.user}))
			if tc.want.err != nil {
				if !errors.Is(err, tc.want.err) {
					t.Fatalf("err %v, want %v", err, tc.want.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u := s.Process.User
			if u.UID != tc.want.uid || u.GID != tc.want.gid {
				t.Errorf("uid:gid %d:%d, want %d:%d", u.UID, u.GID, tc.want.uid, tc.want.gid)
			}
			if d := cmp.Diff(tc.want.gids, u.AdditionalGids); d != "" {
				t.Errorf("additionalGids (-want +got):\n%s", d)
			}
		})
	}
	// ctr run --user (1.7+): WithUser then WithAdditionalGIDs of the
	// same string, so "uid:gid" finds no member groups.
	c := container(t, "2.4", files)
	s := mustApply(t, c, WithImageConfig(ocispec.ImageConfig{User: "app"}), WithUser("1000:1001"), WithAdditionalGIDs("1000:1001"))
	if d := cmp.Diff([]uint32{1001}, s.Process.User.AdditionalGids); d != "" {
		t.Errorf("--user uid:gid additionalGids (-want +got):\n%s", d)
	}
	if _, err := ResolveInRoot(linked, "etc/passwd-loop"); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("symlink loop: %v, want ELOOP", err)
	}
}

func TestParseMount(t *testing.T) {
	tests := []struct {
		in   string
		want specs.Mount
		ok   bool
	}{
		{"type=bind,src=/a,dst=/b,options=rbind:ro", specs.Mount{Type: "bind", Source: "/a", Destination: "/b", Options: []string{"rbind", "ro"}}, true},
		{"destination=/b,source=/a", specs.Mount{Source: "/a", Destination: "/b"}, true},
		{`"src=/a,b",dst=/c`, specs.Mount{Source: "/a,b", Destination: "/c"}, true},
		{"dst=/a,dst=/b", specs.Mount{Destination: "/b"}, true},
		{"options=", specs.Mount{Options: []string{""}}, true},
		{"src", specs.Mount{}, false},
		{"foo=bar", specs.Mount{}, false},
		{`"unterminated`, specs.Mount{}, false},
		{"", specs.Mount{}, false},
	}
	for _, tc := range tests {
		got, err := ParseMount(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseMount(%q): err %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok {
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ParseMount(%q) (-want +got):\n%s", tc.in, d)
			}
		} else if !errors.Is(err, ErrInvalidOption) {
			t.Errorf("ParseMount(%q): %v does not wrap ErrInvalidOption", tc.in, err)
		}
	}
}

func TestRunOptionsValidate(t *testing.T) {
	p16, _ := ParseProfile("containerd", "1.6")
	p24, _ := ParseProfile("containerd", "2.4")
	p17, _ := ParseProfile("containerd", "1.7")
	tests := []struct {
		name string
		p    Profile
		ro   RunOptions
		want error
	}{
		{"cap without prefix", p24, RunOptions{CapAdd: []string{"SYS_ADMIN"}}, ErrInvalidOption},
		{"profile without --seccomp", p24, RunOptions{SeccompProfile: []byte("{}")}, ErrInvalidOption},
		{"default seccomp of 1.7 (not generated)", p17, RunOptions{Seccomp: true}, ErrUnsupported},
		{"default seccomp of 2.4", p24, RunOptions{Seccomp: true}, nil},
		{"--user on 1.6", p16, RunOptions{User: "app"}, ErrUnsupported},
		{"--hostname on 1.6", p16, RunOptions{Hostname: "x"}, ErrUnsupported},
		{"--user on 2.4", p24, RunOptions{User: "app"}, nil},
	}
	for _, tc := range tests {
		_, err := tc.ro.CtrOpts(tc.p, ocispec.Image{}, nil)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestPredictRunc(t *testing.T) {
	img := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		Config: ocispec.ImageConfig{User: "app", Entrypoint: []string{"/e"}, Cmd: []string{"c"}, Env: []string{"A=1"}}}
	s, err := PredictSpec(img, UserFiles([]byte(testPasswd), []byte(testGroup)), RunOptions{}, WithProfile(Profile{Kind: Runc}))
	if err != nil {
		t.Fatal(err)
	}
	// umoci: its example spec's env (PATH, TERM) with the image env and
	// HOME from passwd appended, entrypoint+cmd, uid/gid resolved.
	if d := cmp.Diff([]string{"/e", "c"}, s.Process.Args); d != "" {
		t.Errorf("args (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "A=1", "HOME=/home/app"}, s.Process.Env); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
	if s.Process.User.UID != 1000 || s.Process.User.GID != 1001 || s.Root.Path != "rootfs" {
		t.Errorf("user %+v root %+v", s.Process.User, s.Root)
	}
	if _, err := PredictSpec(img, nil, RunOptions{ReadOnly: true}, WithProfile(Profile{Kind: Runc})); !errors.Is(err, ErrUnsupported) {
		t.Errorf("runc with run options: %v, want ErrUnsupported", err)
	}
}
