package cmctest_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/cmctest"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/signing"
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

// component09 is refval's v0.9 reference value of a cmc-0.9 measurement.
func component09(t *testing.T, r *bundle.Result) manifest.Component {
	t.Helper()
	c, err := manifest.ContainerComponent("app", manifest.DriverSW, manifest.DefaultPCR, false, r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func manifest09(t *testing.T, f manifest.Format, cs ...manifest.Component) []byte {
	t.Helper()
	d, err := manifest.CreateManifest(manifest.ManifestOptions{Name: "de.refval.app", Version: "2025-01-01T00:00:00Z",
		Validity: validity(t), Components: cs}, f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeList09(t *testing.T, path string, rs ...*bundle.Result) string {
	t.Helper()
	a := manifest.Artifact{Type: manifest.TypeSWEventlog, Index: manifest.DefaultPCR}
	for _, r := range rs {
		e, err := manifest.ContainerEvent(ctrID, manifest.DefaultPCR, r)
		if err != nil {
			t.Fatal(err)
		}
		a.Events = append(a.Events, e)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// signCase is one algorithm refval can sign with.
type signCase struct {
	key string
	alg signing.Algorithm
}

var signCases = []signCase{
	{"p256", signing.ES256}, {"p384", signing.ES384}, {"p521", signing.ES512}, {"ed25519", signing.EdDSA},
	{"rsa2048", signing.PS256}, {"rsa2048", signing.RS256}, {"rsa2048", signing.RS512},
}

// TestCMCAcceptsExactlyAllowedAlgorithms: for each CMC version, encoding
// and algorithm refval signs with, CMC's own metadata verification accepts
// a refval-signed manifest exactly when signing.AllowedAlgorithms says so.
func TestCMCAcceptsExactlyAllowedAlgorithms(t *testing.T) {
	for _, v := range []manifest.CMCVersion{manifest.CMC07, manifest.CMC09} {
		tools := cmctest.Require(t, cmctest.Version(v))
		for _, f := range []manifest.Format{manifest.JSON, manifest.CBOR} {
			var payload []byte
			if v == manifest.CMC07 {
				r := measure(t, cmctest.Bundle(t, t.TempDir(), ctrID, []string{"A=1"}), bundle.SchemeCMC)
				payload = appManifest07(t, r, "2025-01-01T00:00:00Z", f)
			} else {
				r := measure(t, cmctest.Bundle(t, t.TempDir(), ctrID, []string{"A=1"}), bundle.SchemeCMC09)
				payload = manifest09(t, f, component09(t, r))
			}
			for _, c := range signCases {
				name := fmt.Sprintf("%s/%s/%s", v, f, c.alg)
				p := cmctest.NewPKI(t, t.TempDir(), c.key)
				s, err := signing.LoadSigner(p.Key, p.Leaf)
				if err != nil {
					t.Fatal(err)
				}
				if s, err = signing.WithAlgorithm(s, c.alg); err != nil {
					t.Fatal(err)
				}
				env, err := signing.Sign(payload, f, s)
				if err != nil && f == manifest.CBOR && (c.alg == signing.RS256 || c.alg == signing.RS512) {
					if slices.Contains(signing.AllowedAlgorithms(v, f), c.alg) {
						t.Errorf("%s: allowed, but COSE cannot sign it: %v", name, err)
					}
					continue // go-cose has no PKCS#1 v1.5 signer
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				out := filepath.Join(t.TempDir(), "m")
				os.WriteFile(out, env, 0o644)
				res, err := tools.VerifyMetadata(p.CA, out)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				accepted := res.Kept && res.Signature && res.Status == "success"
				allowed := slices.Contains(signing.AllowedAlgorithms(v, f), c.alg)
				t.Logf("%s: CMC accepts=%v refval allows=%v", name, accepted, allowed)
				if accepted != allowed {
					t.Errorf("%s: CMC accepts=%v but refval allows=%v (%+v)", name, accepted, allowed, res)
				}
				if accepted {
					wantType := manifest.TypeAppManifest
					if v == manifest.CMC09 {
						wantType = manifest.TypeManifest
					}
					if res.Type != wantType {
						t.Errorf("%s: CMC parsed type %q, want %q", name, res.Type, wantType)
					}
				}
			}
		}
	}
}

// TestCMC09IgnoresNonRFC3339Version: CMC v0.9's metadata filter drops a
// Manifest whose version is not RFC 3339 (why CreateManifest refuses one).
func TestCMC09IgnoresNonRFC3339Version(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V09)
	tmp := t.TempDir()
	p := cmctest.NewPKI(t, tmp, "p256")
	val := validity(t)
	b, _ := json.Marshal(manifest.Manifest{MetaInfo: manifest.MetaInfo{Type: manifest.TypeManifest, Name: "x", Version: "1.0.0", Validity: &val}})
	res, err := tools.VerifyMetadata(p.CA, sign(t, b, manifest.JSON, p, filepath.Join(tmp, "m.json")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept {
		t.Errorf("CMC 0.9 kept a manifest with version 1.0.0")
	}
	if _, err := manifest.CreateManifest(manifest.ManifestOptions{Name: "x", Version: "1.0.0", Validity: val}, manifest.JSON); !errors.Is(err, manifest.ErrVersion) {
		t.Errorf("CreateManifest accepted version 1.0.0: %v", err)
	}
	ok := sign(t, manifest09(t, manifest.JSON), manifest.JSON, p, filepath.Join(tmp, "ok.json"))
	if res, err := tools.VerifyMetadata(p.CA, ok); err != nil || !res.Kept || res.Status != "success" {
		t.Errorf("CMC 0.9 refused refval's manifest: %+v %v", res, err)
	}
}

// TestCMC09SWVerifierMatchesList: CMC v0.9.15's SW verifier matches
// refval's v0.9 list (an Artifact) against refval's v0.9 Manifest, JSON and
// CBOR, and refuses it after a change to the environment or a rootfs file.
func TestCMC09SWVerifierMatchesList(t *testing.T) {
	tools := cmctest.Require(t, cmctest.V09)
	tmp := t.TempDir()
	dir := richBundle(t, []string{"A=1"})
	r := measure(t, dir, bundle.SchemeCMC09)
	list := writeList09(t, filepath.Join(tmp, "list.json"), r)
	for _, f := range []manifest.Format{manifest.JSON, manifest.CBOR} {
		m := filepath.Join(tmp, "m."+string(f))
		os.WriteFile(m, manifest09(t, f, component09(t, r)), 0o644)
		res, err := tools.Match(list, m)
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK || res.References != 1 {
			t.Errorf("%s: CMC 0.9 refused the list: %s", f, res.Result)
		}
	}
	m := filepath.Join(tmp, "m.json")
	r2 := measure(t, richBundle(t, []string{"A=2"}), bundle.SchemeCMC09)
	os.WriteFile(filepath.Join(dir, "rootfs/etc/app.conf"), []byte("greeting=bye\n"), 0o644)
	r3 := measure(t, dir, bundle.SchemeCMC09)
	for name, rr := range map[string]*bundle.Result{"env": r2, "rootfs": r3} {
		res, err := tools.Match(writeList09(t, filepath.Join(tmp, name+".json"), rr), m)
		if err != nil {
			t.Fatal(err)
		}
		if res.OK {
			t.Errorf("CMC 0.9 accepted a list after a change of %s", name)
		}
	}
}
