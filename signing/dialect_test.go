package signing

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/refval/refval/manifest"
)

func TestForDialect(t *testing.T) {
	pki := newPKI(t, "dialect")
	payload := []byte(`{"type":"Manifest","name":"x","version":"2025-01-01T00:00:00Z","validity":{"notBefore":"2020-01-01T00:00:00Z","notAfter":"2099-01-01T00:00:00Z"}}`)
	rsa := pki.signerValid(t, "RSA", "rsa", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	s, err := ForDialect(rsa, manifest.CMC09, manifest.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := algorithmOf(s); a != RS256 {
		t.Errorf("RSA for CMC 0.9 JSON signs with %s, want RS256", a)
	}
	env, err := Sign(payload, manifest.JSON, s)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(env, pki.pool)
	if err != nil {
		t.Fatalf("refval verify of an RS256 envelope: %v", err)
	}
	if res.Signatures[0].Algorithm != "RS256" {
		t.Errorf("verified algorithm %q", res.Signatures[0].Algorithm)
	}
	// PSS stays the default where CMC accepts it.
	if s, _ := ForDialect(rsa, manifest.CMC09, manifest.CBOR); s != rsa {
		t.Error("RSA for CMC 0.9 CBOR was changed")
	}
	for _, c := range []struct {
		kind string
		v    manifest.CMCVersion
		f    manifest.Format
	}{{"Ed25519", manifest.CMC09, manifest.JSON}, {"P-384", manifest.CMC07, manifest.CBOR}, {"RSA", manifest.CMC07, manifest.CBOR}} {
		if _, err := ForDialect(pki.signer(t, c.kind, "x"), c.v, c.f); !errors.Is(err, ErrAlgorithmRejected) {
			t.Errorf("%s for CMC %s %s: %v, want ErrAlgorithmRejected", c.kind, c.v, c.f, err)
		}
	}
	if _, err := WithAlgorithm(pki.signer(t, "P-256", "p"), RS256); err == nil {
		t.Error("RS256 accepted for an ECDSA key")
	}
}

// TestZeroVersionAlgorithms: a zero CMC version is the default, 0.9: its
// algorithms are 0.9's in both encodings (0.7's differ in both).
func TestZeroVersionAlgorithms(t *testing.T) {
	for _, f := range []manifest.Format{manifest.JSON, manifest.CBOR} {
		zero, v09, v07 := AllowedAlgorithms("", f), AllowedAlgorithms(manifest.CMC09, f), AllowedAlgorithms(manifest.CMC07, f)
		if !slices.Equal(zero, v09) || slices.Equal(zero, v07) {
			t.Errorf("%s: zero version allows %v, want 0.9's %v (not 0.7's %v)", f, zero, v09, v07)
		}
	}
}
