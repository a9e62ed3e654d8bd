package signing

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/refval/refval/manifest"
)

// TestOneKeyTwoCertificatesIsOneSigner: a key certified twice (a routine
// renewal) signs once under each certificate. Both signatures verify, but
// they are one signer: --min-signatures 2 must fail, naming the reason,
// and the second signature is marked duplicate-signer.
func TestOneKeyTwoCertificatesIsOneSigner(t *testing.T) {
	pki := newPKI(t, "renewed")
	k := newKey(t, "P-256")
	nb, na := testEpoch.AddDate(0, -6, 0), testEpoch.AddDate(0, 6, 0)
	var signers []Signer
	for _, cn := range []string{"holder 2025", "holder 2026"} {
		leaf := issue(t, cn, k.Public(), pki.inter, pki.interKy, false, nb, na)
		s, err := NewSigner(k, []*x509.Certificate{leaf, pki.inter})
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	if string(signers[0].Chain()[0].Raw) == string(signers[1].Chain()[0].Raw) {
		t.Fatal("the two leaf certificates are identical: the test shows nothing")
	}
	for _, f := range formats {
		env, err := Sign(testManifest(t, f), f, signers...)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Verify(env, pki.pool, WithTime(testEpoch), WithMinSignatures(2))
		if !errors.Is(err, ErrVerification) || r.Valid || r.ValidSignatures != 1 {
			t.Fatalf("%s: err %v, valid %v, %d valid signatures; want a failure with one signer", f, err, r.Valid, r.ValidSignatures)
		}
		if len(r.Errors) != 1 || r.Errors[0].Code != CodeTooFewSignatures || !strings.Contains(r.Errors[0].Reason, "distinct signers") {
			t.Errorf("%s: errors %+v; want one %s naming distinct signers", f, r.Errors, CodeTooFewSignatures)
		}
		s := r.Signatures[1]
		if s.Valid || s.Problem == nil || s.Code != CodeDuplicateSigner || !strings.Contains(s.Reason, "another certificate") {
			t.Errorf("%s: second signature %+v; want %s saying another certificate", f, s, CodeDuplicateSigner)
		}
		// One signer is enough for the default minimum.
		if _, err := Verify(env, pki.pool, WithTime(testEpoch)); err != nil {
			t.Errorf("%s: min 1: %v", f, err)
		}
	}
	// Two distinct keys, even with the same subject, are two signers.
	a, b := pki.signer(t, "P-256", "same subject"), pki.signer(t, "P-256", "same subject")
	env, err := Sign(testManifest(t, manifest.JSON), manifest.JSON, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := Verify(env, pki.pool, WithTime(testEpoch), WithMinSignatures(2)); err != nil || r.ValidSignatures != 2 {
		t.Errorf("two keys: %v, %+v; want two signers", err, r)
	}
}

// TestBOMEnvelopeReportedAsSuch: a JWS saved with a byte order mark is
// refused as malformed with a reason naming the mark, not as a CBOR error.
func TestBOMEnvelopeReportedAsSuch(t *testing.T) {
	pki := newPKI(t, "bom")
	env, err := Sign(testManifest(t, manifest.JSON), manifest.JSON, pki.signer(t, "P-256", "a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(env, pki.pool, WithTime(testEpoch)); err != nil {
		t.Fatalf("without BOM: %v", err)
	}
	r, err := Verify(append([]byte("\ufeff"), env...), pki.pool, WithTime(testEpoch))
	if !errors.Is(err, ErrVerification) || len(r.Errors) != 1 || r.Errors[0].Code != CodeMalformed ||
		!strings.Contains(r.Errors[0].Reason, "byte order mark") || strings.Contains(strings.ToLower(r.Errors[0].Reason), "cbor") {
		t.Errorf("BOM'd JWS: %v, %+v; want malformed naming the byte order mark", err, r.Errors)
	}
}

// TestBOMEnvelopeForcedJSON: verify --format json on a BOM'd JWS names
// the byte order mark as well.
func TestBOMEnvelopeForcedJSON(t *testing.T) {
	pki := newPKI(t, "bomjson")
	env, err := Sign(testManifest(t, manifest.JSON), manifest.JSON, pki.signer(t, "P-256", "a"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Verify(append([]byte("\ufeff"), env...), pki.pool, WithTime(testEpoch), WithFormat(manifest.JSON))
	if !errors.Is(err, ErrVerification) || len(r.Errors) != 1 || r.Errors[0].Code != CodeMalformed || !strings.Contains(r.Errors[0].Reason, "byte order mark") {
		t.Errorf("BOM'd JWS, format json: %v, %+v", err, r.Errors)
	}
}
