package cmctest_test

import (
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/cmctest"
)

// richBundle adds to the fixture what CMC v0.9's rules treat specially:
// a Docker volume, a kata pod mount, devices, seccomp, capabilities, a
// libnetwork prestart hook; and in the rootfs a fifo, a socket (skipped by
// CMC), a device node and a file capability when running as root.
func richBundle(t *testing.T, env []string) string {
	t.Helper()
	dir := cmctest.Bundle(t, t.TempDir(), ctrID, env)
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["mounts"] = append(cfg["mounts"].([]any),
		map[string]any{"destination": "/data", "type": "bind", "source": "/var/lib/docker/volumes/4f2a9c/_data"},
		map[string]any{"destination": "/etc/hosts", "type": "bind", "source": "/run/kata-containers/shared/containers/" + ctrID + "-0123456789abcdef-hosts"},
		map[string]any{"destination": "/a", "type": "bind", "source": "/same"},
		map[string]any{"destination": "/b", "type": "bind", "source": "/same"},
	)
	hook := filepath.Join(t.TempDir(), "hook")
	if err := os.Symlink("/bin/true", hook); err != nil {
		t.Fatal(err)
	}
	cfg["hooks"] = map[string]any{"prestart": []any{map[string]any{
		"path": hook, "args": []string{"libnetwork-setkey", "-exec-root=/var/run/docker", ctrID, "0123456789ab"}}}}
	linux := cfg["linux"].(map[string]any)
	linux["resources"] = map[string]any{"devices": []any{
		map[string]any{"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
		map[string]any{"allow": false, "access": "rwm"},
		map[string]any{"allow": true, "type": "b", "major": 8, "minor": 0, "access": "r"},
	}}
	linux["seccomp"] = map[string]any{"defaultAction": "SCMP_ACT_ERRNO", "architectures": []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"},
		"syscalls": []any{
			map[string]any{"names": []string{"write", "read"}, "action": "SCMP_ACT_ALLOW"},
			map[string]any{"names": []string{"open"}, "action": "SCMP_ACT_ALLOW"},
		}}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := syscall.Mkfifo(filepath.Join(rootfs, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(rootfs, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if os.Geteuid() == 0 {
		if err := syscall.Mknod(filepath.Join(rootfs, "null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("setcap", "cap_net_bind_service=+ep", filepath.Join(rootfs, "bin/app")).CombinedOutput(); err != nil {
			t.Logf("setcap unavailable, no capability xattr measured: %v %s", err, out)
		}
	}
	return dir
}

// TestCMC09MeasureEqualsCMC: refval's cmc-0.9 scheme equals CMC v0.9.15's
// own measure.GetSpecMeasurement and GetRootfsMeasurement, and the cmc
// scheme (CMC v0.7's) stays different where the rules differ.
func TestCMC09MeasureEqualsCMC(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V09)
	for name, dir := range map[string]string{
		"plain": cmctest.Bundle(t, t.TempDir(), ctrID, []string{"B=2", "A=1"}),
		"rich":  richBundle(t, []string{"Z=1", "A=2"}),
	} {
		t.Run(name, func(t *testing.T) {
			r := measure(t, dir, bundle.SchemeCMC09)
			want, err := tools.Measure(ctrID, filepath.Join(dir, "config.json"), filepath.Join(dir, "rootfs"))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(r.ConfigSha256[:]); got != want.ConfigSha256 {
				t.Errorf("config: refval %s, CMC %s\nrefval: %s\nCMC:    %s", got, want.ConfigSha256, r.NormalizedConfig, want.NormalizedConfig)
			}
			if got := hex.EncodeToString(r.RootfsSha256[:]); got != want.RootfsSha256 {
				t.Errorf("rootfs: refval %s, CMC %s", got, want.RootfsSha256)
			}
			if got := hex.EncodeToString(r.TemplateSha256[:]); got != want.TemplateSha256 {
				t.Errorf("template: refval %s, CMC %s", got, want.TemplateSha256)
			}
			if name != "plain" {
				return // sockets: CMC v0.7 (and the cmc scheme) cannot measure them
			}
			old := measure(t, dir, bundle.SchemeCMC)
			if old.RootfsSha256 == r.RootfsSha256 {
				t.Errorf("cmc (v0.7) and cmc-0.9 rootfs digests are equal; the v0.9 tar format differs")
			}
		})
	}
}
