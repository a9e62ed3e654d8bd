package cmd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIOneKeyTwoCertificates: `sign --key a.key --cert a1.pem --key
// a.key --cert a2.pem` gives two signatures by one key; `verify
// --min-signatures 2` exits 1 with too-few-signatures, and the second
// signature says it is the same key under another certificate.
func TestCLIOneKeyTwoCertificates(t *testing.T) {
	dir := t.TempDir()
	root, signers := sigPKI(t, dir, "renew")
	// A second certificate for signer 0's key (sigPKI keeps no root key:
	// the renewal comes from a second root, trusted too).
	rootPEM := mustRead(t, root)
	cb, _ := pem.Decode(mustRead(t, signers[0][1]))
	leaf, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	renewedRoot, renewed := renewCertificate(t, dir, leaf)
	m := filepath.Join(dir, "app.manifest.json")
	t.Setenv("SOURCE_DATE_EPOCH", fmtUnix(time.Now().Add(-time.Minute)))
	code, out, stderr := sigCLI(t, sigRefvals, "manifest", "create", "--cmc-version", "0.7", "--name", "web", "--version", "1", "--refvals", "-", "--valid-for", "1d")
	if code != 0 {
		t.Fatalf("create: %d %s", code, stderr)
	}
	os.WriteFile(m, []byte(out), 0o644)
	signed := filepath.Join(dir, "signed.json")
	if code, _, stderr := sigCLI(t, "", "sign", "--in", m, "--out", signed,
		"--key", signers[0][0], "--cert", signers[0][1], "--key", signers[0][0], "--cert", renewed); code != 0 {
		t.Fatalf("sign: %d %s", code, stderr)
	}
	cas := filepath.Join(dir, "cas.pem")
	both := append(append([]byte{}, rootPEM...), mustRead(t, renewedRoot)...)
	os.WriteFile(cas, both, 0o644)
	code, out, stderr = sigCLI(t, "", "verify", "--ca", cas, "--min-signatures", "2", signed)
	var res struct {
		Valid           bool
		ValidSignatures int
		Signatures      []struct {
			Valid bool
			Error struct{ Code, Reason string }
		}
		Errors []struct{ Code, Reason string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("verify output %q: %v (%s)", out, err, stderr)
	}
	if code != ExitFailure || res.Valid || res.ValidSignatures != 1 || len(res.Errors) != 1 || res.Errors[0].Code != "too-few-signatures" ||
		!strings.Contains(stderr, "distinct signers") {
		t.Errorf("verify --min-signatures 2: exit %d, %s, stderr %q; want exit 1, one signer, too-few-signatures", code, out, stderr)
	}
	if len(res.Signatures) != 2 || !res.Signatures[0].Valid || res.Signatures[1].Error.Code != "duplicate-signer" ||
		!strings.Contains(res.Signatures[1].Error.Reason, "another certificate") {
		t.Errorf("signatures %+v; want the second one marked duplicate-signer (another certificate)", res.Signatures)
	}
	if code, out, _ := sigCLI(t, "", "verify", "--ca", cas, signed); code != 0 {
		t.Errorf("verify (min 1): exit %d %s", code, out)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// renewCertificate issues a second certificate for leaf's public key under
// a new root (as a CA renewal would), and returns the new root's file and
// the new leaf's file.
func renewCertificate(t *testing.T, dir string, leaf *x509.Certificate) (rootFile, certFile string) {
	t.Helper()
	now := time.Now()
	rk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rt := &x509.Certificate{SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: "renewal root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rder, err := x509.CreateCertificate(rand.Reader, rt, rt, rk.Public(), rk)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := x509.ParseCertificate(rder)
	lt := &x509.Certificate{SerialNumber: big.NewInt(11), Subject: pkix.Name{CommonName: "renew signer (renewed)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, lt, rc, leaf.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	rootFile, certFile = filepath.Join(dir, "renewal-root.pem"), filepath.Join(dir, "renewed.pem")
	os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rder}), 0o644)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	return rootFile, certFile
}

// TestCLIVerifyBOM: a signed manifest saved with a byte order mark (as some
// Windows editors do) is refused naming the mark, not as broken CBOR; sign
// refuses such a payload the same way.
func TestCLIVerifyBOM(t *testing.T) {
	dir := t.TempDir()
	root, signers := sigPKI(t, dir, "bom")
	t.Setenv("SOURCE_DATE_EPOCH", fmtUnix(time.Now().Add(-time.Minute)))
	code, out, stderr := sigCLI(t, sigRefvals, "manifest", "create", "--cmc-version", "0.7", "--name", "web", "--version", "1", "--refvals", "-", "--valid-for", "1d")
	if code != 0 {
		t.Fatalf("create: %d %s", code, stderr)
	}
	doc := []byte(out)
	m := filepath.Join(dir, "app.manifest.json")
	os.WriteFile(m, doc, 0o644)
	signed := filepath.Join(dir, "signed.json")
	if code, _, stderr := sigCLI(t, "", "sign", "--in", m, "--out", signed, "--key", signers[0][0], "--cert", signers[0][1]); code != 0 {
		t.Fatalf("sign: %d %s", code, stderr)
	}
	bom := filepath.Join(dir, "bom.json")
	os.WriteFile(bom, append([]byte("\ufeff"), mustRead(t, signed)...), 0o644)
	code, out, stderr = sigCLI(t, "", "verify", "--ca", root, bom)
	if code != ExitFailure || !strings.Contains(stderr, "byte order mark") || strings.Contains(strings.ToLower(stderr+out), "cbor") || strings.Contains(out, "cose") {
		t.Errorf("verify BOM'd JWS: exit %d, stdout %s, stderr %q; want exit 1 naming the byte order mark", code, out, stderr)
	}
	os.WriteFile(m, append([]byte("\ufeff"), doc...), 0o644)
	code, _, stderr = sigCLI(t, "", "sign", "--in", m, "--out", filepath.Join(dir, "x.json"), "--key", signers[0][0], "--cert", signers[0][1])
	if code != ExitFailure || !strings.Contains(stderr, "byte order mark") {
		t.Errorf("sign BOM'd payload: exit %d %q; want exit 1 naming the byte order mark", code, stderr)
	}
}
