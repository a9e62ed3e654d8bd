package signing

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/refval/refval/manifest"
)

var keyKinds = []struct {
	kind string
	alg  Algorithm
}{
	{"P-256", ES256}, {"P-384", ES384}, {"P-521", ES512}, {"Ed25519", EdDSA}, {"RSA", PS256},
}

// testManifest returns an App Manifest valid for a year around testEpoch.
func testManifest(t testing.TB, f manifest.Format) []byte {
	t.Helper()
	v, err := manifest.NewValidity(testEpoch.AddDate(0, -1, 0), testEpoch.AddDate(0, 11, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	pcr := 11
	d, err := manifest.Create(manifest.CreateOptions{
		Name: "web", Version: "1.0.0", Validity: v,
		ReferenceValues: []manifest.ReferenceValue{{Type: manifest.TypeTPM, Name: "web", Pcr: &pcr, Sha256: bytes.Repeat([]byte{0xab}, 32)}},
	}, f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var formats = []manifest.Format{manifest.JSON, manifest.CBOR}

func TestRoundTripEveryAlgorithm(t *testing.T) {
	pki := newPKI(t, "rt")
	for _, k := range keyKinds {
		s := pki.signer(t, k.kind, "signer "+k.kind)
		for _, f := range formats {
			t.Run(k.kind+"/"+string(f), func(t *testing.T) {
				payload := testManifest(t, f)
				env, err := Sign(payload, "", s)
				if err != nil {
					t.Fatal(err)
				}
				r, err := Verify(env, pki.pool, WithTime(testEpoch))
				if err != nil {
					t.Fatalf("verify: %v\n%+v", err, r)
				}
				if !bytes.Equal(r.Payload, payload) {
					t.Error("payload differs from the signed one")
				}
				if len(r.Signatures) != 1 || r.Signatures[0].Algorithm != string(k.alg) {
					t.Errorf("signatures = %+v, want one %s", r.Signatures, k.alg)
				}
				checkEnvelopeShape(t, env, f, []Algorithm{k.alg})
			})
		}
	}
}

// checkEnvelopeShape decodes the envelope without this package's code and
// checks the headers the CMC format prescribes.
func checkEnvelopeShape(t *testing.T, env []byte, f manifest.Format, algs []Algorithm) {
	t.Helper()
	if f == manifest.JSON {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(env, &raw); err != nil {
			t.Fatal(err)
		}
		var sigs []struct{ Protected string }
		if len(algs) == 1 {
			var p string
			json.Unmarshal(raw["protected"], &p)
			sigs = append(sigs, struct{ Protected string }{p})
			if _, ok := raw["signatures"]; ok {
				t.Error("one signer: want the flattened serialization")
			}
		} else if err := json.Unmarshal(raw["signatures"], &sigs); err != nil {
			t.Fatal(err)
		}
		if len(sigs) != len(algs) {
			t.Fatalf("%d signatures, want %d", len(sigs), len(algs))
		}
		for i, s := range sigs {
			b, _ := base64.RawURLEncoding.DecodeString(s.Protected)
			var h struct {
				Alg string
				X5c []string
			}
			json.Unmarshal(b, &h)
			if h.Alg != string(algs[i]) || len(h.X5c) != 2 {
				t.Errorf("signature %d: protected header %s, want alg %s and a 2-certificate x5c", i, b, algs[i])
			}
		}
		return
	}
	var tag cbor.RawTag
	if err := cbor.Unmarshal(env, &tag); err != nil || tag.Number != 98 {
		t.Fatalf("not tag 98: %v %d", err, tag.Number)
	}
	var msg []cbor.RawMessage
	cbor.Unmarshal(tag.Content, &msg)
	var sigs [][]cbor.RawMessage
	if len(msg) != 4 || cbor.Unmarshal(msg[3], &sigs) != nil || len(sigs) != len(algs) {
		t.Fatalf("COSE_Sign with %d elements / %d signatures, want 4 / %d", len(msg), len(sigs), len(algs))
	}
	for i, s := range sigs {
		var pb []byte
		var prot map[int64]any
		var unprot map[int64]any
		cbor.Unmarshal(s[0], &pb)
		cbor.Unmarshal(pb, &prot)
		cbor.Unmarshal(s[1], &unprot)
		chain, _ := unprot[33].([]any)
		if len(prot) != 1 || prot[1] == nil || len(chain) != 2 {
			t.Errorf("signature %d: protected %v, x5chain of %d, want only alg and 2 certificates", i, prot, len(chain))
		}
	}
}

func TestSeveralSigners(t *testing.T) {
	pki := newPKI(t, "multi")
	all := []Signer{pki.signer(t, "P-256", "a"), pki.signer(t, "Ed25519", "b"), pki.signer(t, "RSA", "c")}
	for _, n := range []int{2, 3} {
		for _, f := range formats {
			t.Run(string(f)+"/"+string(rune('0'+n)), func(t *testing.T) {
				env, err := Sign(testManifest(t, f), f, all[:n]...)
				if err != nil {
					t.Fatal(err)
				}
				r, err := Verify(env, pki.pool, WithTime(testEpoch), WithMinSignatures(n))
				if err != nil {
					t.Fatalf("verify: %v %+v", err, r)
				}
				if r.ValidSignatures != n {
					t.Errorf("valid signatures %d, want %d", r.ValidSignatures, n)
				}
				checkEnvelopeShape(t, env, f, []Algorithm{ES256, EdDSA, PS256}[:n])
				if _, err := Verify(env, pki.pool, WithTime(testEpoch), WithMinSignatures(n+1)); !errors.Is(err, ErrVerification) {
					t.Errorf("min %d with %d signers: err %v, want failure", n+1, n, err)
				}
			})
		}
	}
}

func TestDuplicateSignerCountsOnce(t *testing.T) {
	pki := newPKI(t, "dup")
	s := pki.signer(t, "P-256", "a")
	for _, f := range formats {
		env, err := Sign(testManifest(t, f), f, s, s)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Verify(env, pki.pool, WithTime(testEpoch), WithMinSignatures(2))
		if err == nil || r.ValidSignatures != 1 || r.Signatures[1].Problem == nil || r.Signatures[1].Code != CodeDuplicateSigner {
			t.Errorf("%s: %v %+v, want one valid signature and a duplicate", f, err, r)
		}
	}
}

func TestKeyLeafMismatchRefused(t *testing.T) {
	pki := newPKI(t, "mm")
	a := pki.signer(t, "P-256", "a")
	other := newKey(t, "P-256")
	if _, err := NewSigner(other, a.Chain()); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("err = %v, want ErrKeyMismatch", err)
	}
	if _, err := NewSigner(other, nil); !errors.Is(err, ErrCertificate) {
		t.Errorf("empty chain: err = %v, want ErrCertificate", err)
	}
}

func TestVerifyResultJSON(t *testing.T) {
	pki := newPKI(t, "json")
	env, _ := Sign(testManifest(t, manifest.JSON), "", pki.signer(t, "P-256", "a"))
	r, _ := Verify(env, pki.pool, WithTime(testEpoch))
	b, _ := json.Marshal(r)
	var got map[string]any
	json.Unmarshal(b, &got)
	want := map[string]any{"valid": true, "envelope": "jws", "payloadType": "App Manifest", "validSignatures": 1.0, "minSignatures": 1.0}
	for k, v := range want {
		if !cmp.Equal(got[k], v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// TestJWSReadableByGoJose reads refval's general serialization the way
// CMC's verifier does: go-jose's ParseSigned, the chain from each
// signature's protected x5c, and a signature check per signer.
func TestJWSReadableByGoJose(t *testing.T) {
	pki := newPKI(t, "gojose")
	signers := []Signer{pki.signer(t, "P-384", "a"), pki.signer(t, "RSA", "b")}
	payload := testManifest(t, manifest.JSON)
	env, err := SignJWS(payload, signers...)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := jose.ParseSigned(string(env), []jose.SignatureAlgorithm{jose.ES384, jose.PS256})
	if err != nil {
		t.Fatal(err)
	}
	if len(obj.Signatures) != 2 {
		t.Fatalf("%d signatures", len(obj.Signatures))
	}
	for i, sig := range obj.Signatures {
		chains, err := sig.Protected.Certificates(x509.VerifyOptions{Roots: pki.pool, CurrentTime: testEpoch, Intermediates: interPool(pki)})
		if err != nil {
			t.Fatalf("signature %d: chain: %v", i, err)
		}
		idx, _, got, err := obj.VerifyMulti(chains[0][0].PublicKey)
		if err != nil || idx != i || !bytes.Equal(got, payload) {
			t.Errorf("signature %d: VerifyMulti = %d, %v", i, idx, err)
		}
	}
}

func interPool(p *testPKI) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.inter)
	return pool
}
