package engine_test

import (
	"errors"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/refval/refval/engine"
)

// criDefaultCaps is containerd's default capability set (pkg/oci
// defaultUnixCaps), the bounding set of a CRI container without changes.
var criDefaultCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

func ruleIndex(p *specs.LinuxSeccomp, name string) int {
	return slices.IndexFunc(p.Syscalls, func(s specs.LinuxSyscall) bool { return slices.Contains(s.Names, name) })
}

// TestDefaultSeccomp checks the composed profile against facts of
// containerd's contrib/seccomp source (seccomp_default.go of 1.6.20 and
// 2.4.2): default action ERRNO, the amd64 architectures, chroot allowed only
// with CAP_SYS_CHROOT, the clone flag filter and clone3 -> ENOSYS only
// without CAP_SYS_ADMIN, which instead allows mount, and the rules in the
// order of the bounding capabilities.
func TestDefaultSeccomp(t *testing.T) {
	for _, v := range []string{"1.6.20", "2.4.2"} {
		p, err := engine.DefaultSeccomp(v, "amd64", criDefaultCaps)
		if err != nil {
			t.Fatal(err)
		}
		if p.DefaultAction != specs.ActErrno || !slices.Equal(p.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
			t.Errorf("%s: default action %s, architectures %v", v, p.DefaultAction, p.Architectures)
		}
		last := p.Syscalls[len(p.Syscalls)-1]
		if !slices.Equal(last.Names, []string{"clone3"}) || last.Action != specs.ActErrno || last.ErrnoRet == nil || *last.ErrnoRet != 38 {
			t.Errorf("%s: last rule %+v, want clone3 -> ENOSYS", v, last)
		}
		if i := ruleIndex(p, "chroot"); i < 0 {
			t.Errorf("%s: CAP_SYS_CHROOT does not allow chroot", v)
		}
		if ruleIndex(p, "mount") >= 0 || ruleIndex(p, "reboot") >= 0 {
			t.Errorf("%s: mount or reboot allowed without CAP_SYS_ADMIN/CAP_SYS_BOOT", v)
		}
		noChroot, err := engine.DefaultSeccomp(v, "amd64", slices.DeleteFunc(slices.Clone(criDefaultCaps), func(c string) bool { return c == "CAP_SYS_CHROOT" }))
		if err != nil {
			t.Fatal(err)
		}
		if ruleIndex(noChroot, "chroot") >= 0 {
			t.Errorf("%s: chroot allowed without CAP_SYS_CHROOT", v)
		}
		admin, err := engine.DefaultSeccomp(v, "amd64", []string{"CAP_SYS_BOOT", "CAP_SYS_ADMIN"})
		if err != nil {
			t.Fatal(err)
		}
		reboot, mount := ruleIndex(admin, "reboot"), ruleIndex(admin, "mount")
		if reboot < 0 || mount < 0 || reboot > mount {
			t.Errorf("%s: with CAP_SYS_BOOT, CAP_SYS_ADMIN: reboot rule %d, mount rule %d (want both, in capability order)", v, reboot, mount)
		}
		if l := admin.Syscalls[len(admin.Syscalls)-1]; slices.Contains(l.Names, "clone3") && l.Action == specs.ActErrno {
			t.Errorf("%s: clone3 -> ENOSYS with CAP_SYS_ADMIN", v)
		}
	}
	// 2.4 added rules 1.6 lacks (socket domain filters, newer syscalls).
	p16, _ := engine.DefaultSeccomp("1.6.20", "amd64", criDefaultCaps)
	p24, _ := engine.DefaultSeccomp("2.4.2", "amd64", criDefaultCaps)
	if ruleIndex(p24, "socket") < 0 || ruleIndex(p16, "fchmodat2") >= 0 || ruleIndex(p24, "fchmodat2") < 0 {
		t.Errorf("release differences missing: 2.4 socket %d, 1.6 fchmodat2 %d, 2.4 fchmodat2 %d",
			ruleIndex(p24, "socket"), ruleIndex(p16, "fchmodat2"), ruleIndex(p24, "fchmodat2"))
	}
}

// TestDefaultSeccompUnsupported: a release or architecture without
// generated data is an error, never another profile.
func TestDefaultSeccompUnsupported(t *testing.T) {
	for _, tc := range []struct{ version, arch string }{{"1.7.35", "amd64"}, {"2.4.2", "s390x"}, {"2.4.2", "../x"}} {
		if _, err := engine.DefaultSeccomp(tc.version, tc.arch, nil); !errors.Is(err, engine.ErrUnsupported) {
			t.Errorf("%s/%s: err = %v, want ErrUnsupported", tc.version, tc.arch, err)
		}
	}
}
