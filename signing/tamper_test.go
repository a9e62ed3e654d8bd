package signing

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/veraison/go-cose"

	"github.com/refval/refval/manifest"
)

// editJWS applies fn to the generic form of a JWS JSON serialization.
func editJWS(t *testing.T, env []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(env, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editProtected rewrites the protected header of a flattened JWS.
func editProtected(fn func(h map[string]any)) func(m map[string]any) {
	return func(m map[string]any) {
		b, _ := base64.RawURLEncoding.DecodeString(m["protected"].(string))
		var h map[string]any
		json.Unmarshal(b, &h)
		fn(h)
		b, _ = json.Marshal(h)
		m["protected"] = base64.RawURLEncoding.EncodeToString(b)
	}
}

func editCOSE(t *testing.T, env []byte, fn func(m *cose.SignMessage)) []byte {
	t.Helper()
	var m cose.SignMessage
	if err := m.UnmarshalCBOR(env); err != nil {
		t.Fatal(err)
	}
	fn(&m)
	for _, s := range m.Signatures {
		s.Headers.RawProtected, s.Headers.RawUnprotected = nil, nil
	}
	b, err := m.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// flipInPayload changes one byte of the manifest name inside the envelope.
func flipInPayload(t *testing.T, env []byte) []byte {
	t.Helper()
	out := bytes.Clone(env)
	i := bytes.Index(out, []byte("1.0.0"))
	if i < 0 {
		t.Fatal("version string not found in the COSE payload")
	}
	out[i] = '2'
	return out
}

func TestTamperedEnvelopesFail(t *testing.T) {
	pki := newPKI(t, "tamper")
	foreign := newPKI(t, "foreign")
	a, b := pki.signer(t, "P-256", "a"), pki.signer(t, "Ed25519", "b")
	expired := pki.signerValid(t, "P-256", "old", testEpoch.AddDate(-2, 0, 0), testEpoch.AddDate(-1, 0, 0))
	future := pki.signerValid(t, "P-256", "new", testEpoch.AddDate(0, 1, 0), testEpoch.AddDate(1, 0, 0))
	encKey := newKey(t, "P-256")
	encLeaf := issueUsage(t, "encipher only", encKey.Public(), pki.inter, pki.interKy, false, testEpoch.AddDate(0, -1, 0), testEpoch.AddDate(0, 1, 0), x509.KeyUsageKeyEncipherment)
	encOnly, err := NewSigner(encKey, []*x509.Certificate{encLeaf, pki.inter})
	if err != nil {
		t.Fatal(err)
	}
	leafOnly, err := NewSigner(encKey, []*x509.Certificate{issue(t, "no intermediate", encKey.Public(), pki.inter, pki.interKy, false, testEpoch.AddDate(0, -1, 0), testEpoch.AddDate(0, 1, 0))})
	if err != nil {
		t.Fatal(err)
	}

	sign := func(f manifest.Format, s ...Signer) []byte {
		env, err := Sign(testManifest(t, f), f, s...)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	jws1, jws2 := sign(manifest.JSON, a), sign(manifest.JSON, a, b)
	cose1, cose2 := sign(manifest.CBOR, a), sign(manifest.CBOR, a, b)

	tests := []struct {
		name  string
		env   []byte
		pool  *x509Pool
		at    time.Time
		codes []string // per-signature codes, or the document-level code first
	}{
		{name: "jws/payload byte", env: editJWS(t, jws1, func(m map[string]any) {
			p, _ := base64.RawURLEncoding.DecodeString(m["payload"].(string))
			p = bytes.Replace(p, []byte("1.0.0"), []byte("2.0.0"), 1)
			m["payload"] = base64.RawURLEncoding.EncodeToString(p)
		}), codes: []string{CodeBadSignature}},
		{name: "jws/swapped signatures", env: editJWS(t, jws2, func(m map[string]any) {
			s := m["signatures"].([]any)
			s0, s1 := s[0].(map[string]any), s[1].(map[string]any)
			s0["signature"], s1["signature"] = s1["signature"], s0["signature"]
		}), codes: []string{CodeBadSignature, CodeBadSignature}},
		{name: "jws/foreign root", env: jws1, pool: &x509Pool{foreign}, codes: []string{CodeUntrusted}},
		{name: "jws/expired leaf", env: sign(manifest.JSON, expired), codes: []string{CodeCertExpired}},
		{name: "jws/leaf not yet valid", env: sign(manifest.JSON, future), codes: []string{CodeCertNotYetValid}},
		{name: "jws/leaf without digitalSignature", env: sign(manifest.JSON, encOnly), codes: []string{CodeBadCertificate}},
		{name: "jws/intermediate missing", env: sign(manifest.JSON, leafOnly), codes: []string{CodeUntrusted}},
		{name: "jws/manifest not yet valid", env: jws1, at: testEpoch.AddDate(0, -2, 0), codes: []string{CodeManifestNotYet}},
		{name: "jws/wrong alg", env: editJWS(t, jws1, editProtected(func(h map[string]any) { h["alg"] = "ES384" })), codes: []string{CodeAlgMismatch}},
		{name: "jws/alg none", env: editJWS(t, jws1, editProtected(func(h map[string]any) { h["alg"] = "none" })), codes: []string{CodeAlgNone}},
		{name: "jws/alg HS256", env: editJWS(t, jws1, editProtected(func(h map[string]any) { h["alg"] = "HS256" })), codes: []string{CodeAlgUnsupported}},
		{name: "jws/no x5c", env: editJWS(t, jws1, editProtected(func(h map[string]any) { delete(h, "x5c") })), codes: []string{CodeNoChain}},
		{name: "jws/empty x5c", env: editJWS(t, jws1, editProtected(func(h map[string]any) { h["x5c"] = []string{} })), codes: []string{CodeNoChain}},
		{name: "jws/x5c in unprotected header", env: editJWS(t, jws1, func(m map[string]any) { m["header"] = map[string]any{"x5c": []string{}} }), codes: []string{CodeMalformed}},
		{name: "jws/trailing garbage", env: append(bytes.Clone(jws1), []byte(`{}`)...), codes: []string{CodeTrailingData}},
		{name: "jws/truncated", env: jws1[:len(jws1)-5], codes: []string{CodeMalformed}},
		{name: "jws/duplicate key", env: append([]byte(`{"payload":"e30",`), jws1[1:]...), codes: []string{CodeMalformed}},

		{name: "cose/payload byte", env: flipInPayload(t, cose1), codes: []string{CodeBadSignature}},
		{name: "cose/swapped signatures", env: editCOSE(t, cose2, func(m *cose.SignMessage) {
			m.Signatures[0].Signature, m.Signatures[1].Signature = m.Signatures[1].Signature, m.Signatures[0].Signature
		}), codes: []string{CodeBadSignature, CodeBadSignature}},
		{name: "cose/foreign root", env: cose1, pool: &x509Pool{foreign}, codes: []string{CodeUntrusted}},
		{name: "cose/expired leaf", env: sign(manifest.CBOR, expired), codes: []string{CodeCertExpired}},
		{name: "cose/manifest not yet valid", env: cose1, at: testEpoch.AddDate(0, -2, 0), codes: []string{CodeManifestNotYet}},
		{name: "cose/wrong alg", env: editCOSE(t, cose1, func(m *cose.SignMessage) {
			m.Signatures[0].Headers.Protected.SetAlgorithm(cose.AlgorithmES384)
		}), codes: []string{CodeAlgMismatch}},
		{name: "cose/no x5chain", env: editCOSE(t, cose1, func(m *cose.SignMessage) {
			delete(m.Signatures[0].Headers.Unprotected, cose.HeaderLabelX5Chain)
		}), codes: []string{CodeNoChain}},
		{name: "cose/empty x5chain", env: editCOSE(t, cose1, func(m *cose.SignMessage) {
			m.Signatures[0].Headers.Unprotected[cose.HeaderLabelX5Chain] = []any{}
		}), codes: []string{CodeNoChain}},
		{name: "cose/trailing garbage", env: append(bytes.Clone(cose1), 0x00), codes: []string{CodeTrailingData}},
		{name: "cose/truncated", env: cose1[:len(cose1)-10], codes: []string{CodeMalformed}},
		{name: "cose/Sign1 tag", env: append([]byte{0xd2}, cose1[2:]...), codes: []string{CodeMalformed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := pki.pool
			if tc.pool != nil {
				pool = tc.pool.p.pool
			}
			at := testEpoch
			if !tc.at.IsZero() {
				at = tc.at
			}
			r, err := Verify(tc.env, pool, WithTime(at))
			if !errors.Is(err, ErrVerification) || r.Valid {
				t.Fatalf("err = %v, valid = %v; want a verification failure", err, r.Valid)
			}
			if len(r.Errors) == 0 || r.Errors[0].Code != tc.codes[0] {
				t.Errorf("first error %+v, want code %s", r.Errors, tc.codes[0])
			}
			if len(tc.codes) > 1 || len(r.Signatures) > 0 && tc.codes[0] != CodeManifestNotYet {
				if len(r.Signatures) != len(tc.codes) {
					t.Fatalf("%d signature results, want %d: %+v", len(r.Signatures), len(tc.codes), r.Signatures)
				}
				for i, s := range r.Signatures {
					if s.Valid || s.Problem == nil || s.Code != tc.codes[i] {
						t.Errorf("signature %d: %+v, want code %s", i, s, tc.codes[i])
					}
				}
			}
			if r.Payload != nil {
				t.Error("payload returned for an envelope that does not verify")
			}
		})
	}
}

type x509Pool struct{ p *testPKI }
