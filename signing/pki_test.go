package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync/atomic"
	"testing"
	"time"
)

// testPKI is a throwaway CA made with crypto/x509 for one test.
type testPKI struct {
	root    *x509.Certificate
	rootKey crypto.Signer
	inter   *x509.Certificate
	interKy crypto.Signer
	pool    *x509.CertPool
}

var serial atomic.Int64

func newKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "P-256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "P-384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "P-521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "Ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "RSA":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testEpoch is the fixed "now" of the signing tests.
var testEpoch = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func issue(t testing.TB, cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, isCA bool, nb, na time.Time) *x509.Certificate {
	return issueUsage(t, cn, pub, parent, parentKey, isCA, nb, na, x509.KeyUsageDigitalSignature)
}

func issueUsage(t testing.TB, cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, isCA bool, nb, na time.Time, ku x509.KeyUsage) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"refval test"}},
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              ku,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	if isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newPKI makes root → intermediate CAs valid ten years around testEpoch.
func newPKI(t testing.TB, name string) *testPKI {
	t.Helper()
	p := &testPKI{rootKey: newKey(t, "P-256"), interKy: newKey(t, "P-384")}
	nb, na := testEpoch.AddDate(-5, 0, 0), testEpoch.AddDate(5, 0, 0)
	p.root = issue(t, name+" root", p.rootKey.Public(), nil, p.rootKey, true, nb, na)
	p.inter = issue(t, name+" intermediate", p.interKy.Public(), p.root, p.rootKey, true, nb, na)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.root)
	return p
}

// signer issues a leaf of key kind under the intermediate, valid one year
// around testEpoch, and returns it as a Signer with chain leaf, intermediate.
func (p *testPKI) signer(t testing.TB, kind, cn string) Signer {
	return p.signerValid(t, kind, cn, testEpoch.AddDate(0, -6, 0), testEpoch.AddDate(0, 6, 0))
}

func (p *testPKI) signerValid(t testing.TB, kind, cn string, nb, na time.Time) Signer {
	t.Helper()
	k := newKey(t, kind)
	leaf := issue(t, cn, k.Public(), p.inter, p.interKy, false, nb, na)
	s, err := NewSigner(k, []*x509.Certificate{leaf, p.inter})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
