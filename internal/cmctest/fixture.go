package cmctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a test CA and one signing leaf, written as PEM files.
type PKI struct {
	CA, Key, Leaf string // file paths
}

// KeyTypes names the signing keys NewPKI can make.
var KeyTypes = []string{"p256", "p384", "p521", "rsa2048", "ed25519"}

func newKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("key type %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// NewPKI writes a P-256 root CA and a leaf of key type kind (one of
// KeyTypes) certified by it into dir.
func NewPKI(t testing.TB, dir, kind string) PKI {
	t.Helper()
	caKey := newKey(t, "p256")
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "refval interop CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey := newKey(t, kind)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "refval interop signer " + kind},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	p := PKI{CA: filepath.Join(dir, "ca.pem"), Key: filepath.Join(dir, kind+".key.pem"), Leaf: filepath.Join(dir, kind+".pem")}
	writePEM(t, p.CA, "CERTIFICATE", caDER)
	writePEM(t, p.Leaf, "CERTIFICATE", leafDER)
	writePEM(t, p.Key, "PRIVATE KEY", keyDER)
	return p
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Bundle writes a small runtime bundle (config.json naming the container
// ID id in a mount, and a rootfs with a file, a directory, a symlink and a
// hard link) into dir and returns dir. env is the process environment.
func Bundle(t testing.TB, dir, id string, env []string) string {
	t.Helper()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "usr/share"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"bin/app": "#!/bin/sh\necho hello\n", "etc/app.conf": "greeting=hello\n"}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(rootfs, p), []byte(c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../bin/app", filepath.Join(rootfs, "usr/app")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(rootfs, "bin/app"), filepath.Join(rootfs, "bin/app2")); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"ociVersion": "1.2.0",
		"process": map[string]any{
			"terminal": true,
			"user":     map[string]any{"uid": 0, "gid": 0},
			"args":     []string{"/bin/app"},
			"env":      env,
			"cwd":      "/",
			"capabilities": map[string]any{
				"bounding":  []string{"CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_KILL"},
				"effective": []string{"CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_KILL"},
				"permitted": []string{"CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_KILL"},
			},
		},
		"root":     map[string]any{"path": "rootfs", "readonly": true},
		"hostname": id[:12],
		"mounts": []any{
			map[string]any{"destination": "/proc", "type": "proc", "source": "proc"},
			map[string]any{"destination": "/etc/hostname", "type": "bind", "source": "/var/lib/ctr/" + id + "/hostname", "options": []string{"rbind", "ro"}},
			map[string]any{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "mode=755"}},
		},
		"annotations": map[string]string{"io.kubernetes.cri.sandbox-id": id},
		"linux": map[string]any{
			"namespaces":    []any{map[string]string{"type": "pid"}, map[string]string{"type": "mount"}, map[string]string{"type": "ipc"}},
			"maskedPaths":   []string{"/proc/kcore", "/proc/acpi"},
			"cgroupsPath":   "/default/" + id,
			"readonlyPaths": []string{"/proc/sys", "/proc/bus"},
		},
	}
	b, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
