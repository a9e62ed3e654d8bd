package signing

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/refval/refval/manifest"
)

// requireOpenSSL returns the openssl binary, skipping the test outside CI
// when it is missing and failing it in CI (CI=true).
func requireOpenSSL(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openssl not found: the independent-PKI tests need it in CI (apt install openssl)")
		}
		t.Skip("openssl not installed; independent-PKI tests skipped")
	}
	return p
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// opensslKeys are the key files openssl writes in each PEM flavour refval reads.
var opensslKeys = []struct {
	name    string
	gen     [][]string // commands run in the dir; the key ends in NAME.key
	alg     Algorithm
	pemType string
	dgst    []string // openssl dgst options to verify a JWS signature
}{
	{"p256-sec1", [][]string{{"ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "p256-sec1.key"}}, ES256, "EC PRIVATE KEY", []string{"-sha256"}},
	{"p384-pkcs8", [][]string{{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "p384-pkcs8.key"}}, ES384, "PRIVATE KEY", []string{"-sha384"}},
	{"p521-sec1-params", [][]string{{"ecparam", "-name", "secp521r1", "-genkey", "-out", "p521-sec1-params.key"}}, ES512, "EC PARAMETERS", []string{"-sha512"}},
	{"ed25519-pkcs8", [][]string{{"genpkey", "-algorithm", "ed25519", "-out", "ed25519-pkcs8.key"}}, EdDSA, "PRIVATE KEY", nil},
	{"rsa-pkcs1", [][]string{{"genrsa", "-traditional", "-out", "rsa-pkcs1.key", "2048"}}, PS256, "RSA PRIVATE KEY", []string{"-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"}},
	{"rsa-pkcs8", [][]string{{"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out", "rsa-pkcs8.key"}}, PS256, "PRIVATE KEY", []string{"-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"}},
}

// TestOpenSSLPKI: keys and certificates made by openssl sign and verify,
// and openssl itself verifies the JWS and COSE signatures refval makes
// (over signing inputs this test builds from RFC 7515 §5.1 and RFC 9052
// §4.4 by hand).
func TestOpenSSLPKI(t *testing.T) {
	ossl := requireOpenSSL(t)
	dir := t.TempDir()
	ext := filepath.Join(dir, "ext.cnf")
	os.WriteFile(ext, []byte("[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"), 0o644)
	run(t, dir, ossl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "root.key")
	run(t, dir, ossl, "req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=openssl root", "-days", "2",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", "-out", "root.pem")
	run(t, dir, ossl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "int.key")
	run(t, dir, ossl, "req", "-new", "-key", "int.key", "-subj", "/CN=openssl intermediate", "-out", "int.csr")
	run(t, dir, ossl, "x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial",
		"-days", "2", "-extfile", ext, "-extensions", "ca", "-out", "int.pem")
	roots, err := LoadCertificates(filepath.Join(dir, "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(roots[0])

	for _, k := range opensslKeys {
		t.Run(k.name, func(t *testing.T) {
			for _, g := range k.gen {
				run(t, dir, ossl, g...)
			}
			key := k.name + ".key"
			if b, _ := os.ReadFile(filepath.Join(dir, key)); !strings.Contains(string(b), "-----BEGIN "+k.pemType+"-----") {
				t.Fatalf("openssl wrote no %s block:\n%s", k.pemType, b)
			}
			run(t, dir, ossl, "req", "-new", "-key", key, "-subj", "/CN="+k.name, "-out", k.name+".csr")
			run(t, dir, ossl, "x509", "-req", "-in", k.name+".csr", "-CA", "int.pem", "-CAkey", "int.key", "-CAcreateserial",
				"-days", "1", "-extfile", ext, "-extensions", "leaf", "-out", k.name+".pem")
			run(t, dir, ossl, "x509", "-in", k.name+".pem", "-pubkey", "-noout", "-out", k.name+".pub")
			s, err := LoadSigner(filepath.Join(dir, key), filepath.Join(dir, k.name+".pem"), filepath.Join(dir, "int.pem"))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range formats {
				payload := testManifestNow(t, f)
				env, err := Sign(payload, f, s)
				if err != nil {
					t.Fatal(err)
				}
				r, err := Verify(env, pool)
				if err != nil || r.Signatures[0].Algorithm != string(k.alg) {
					t.Fatalf("%s: verify: %v %+v", f, err, r)
				}
				input, sig := signingInput(t, env, f)
				opensslVerify(t, ossl, dir, k.name, k.alg, k.dgst, input, sig)
			}
		})
	}

	t.Run("key does not match certificate", func(t *testing.T) {
		_, err := LoadSigner(filepath.Join(dir, "p384-pkcs8.key"), filepath.Join(dir, "p256-sec1.pem"))
		if !errors.Is(err, ErrKeyMismatch) {
			t.Errorf("err = %v, want ErrKeyMismatch", err)
		}
	})
}

// testManifestNow is a manifest valid around the real clock (openssl
// certificates are issued from now).
func testManifestNow(t *testing.T, f manifest.Format) []byte {
	v, err := manifest.NewValidity(time.Now().Add(-time.Hour), time.Time{}, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	d, err := manifest.Create(manifest.CreateOptions{Name: "x", Version: "1", Validity: v}, f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := d.Bytes()
	return b
}

// signingInput rebuilds, without this package, the bytes a signature of
// env covers and returns them with the signature.
func signingInput(t *testing.T, env []byte, f manifest.Format) (input, sig []byte) {
	t.Helper()
	if f == manifest.JSON {
		var j struct{ Payload, Protected, Signature string }
		if err := json.Unmarshal(env, &j); err != nil {
			t.Fatal(err)
		}
		sig, _ = base64.RawURLEncoding.DecodeString(j.Signature)
		return []byte(j.Protected + "." + j.Payload), sig
	}
	var tag cbor.RawTag
	cbor.Unmarshal(env, &tag)
	var msg struct {
		_           struct{} `cbor:",toarray"`
		Protected   []byte
		Unprotected cbor.RawMessage
		Payload     []byte
		Signatures  [][3]cbor.RawMessage
	}
	if err := cbor.Unmarshal(tag.Content, &msg); err != nil {
		t.Fatal(err)
	}
	var signProtected []byte
	cbor.Unmarshal(msg.Signatures[0][0], &signProtected)
	cbor.Unmarshal(msg.Signatures[0][2], &sig)
	// Sig_structure = ["Signature", body_protected, sign_protected, external_aad, payload]
	in := append([]byte{0x85, 0x69}, "Signature"...)
	for _, b := range [][]byte{msg.Protected, signProtected, nil, msg.Payload} {
		in = append(in, bstrHead(len(b))...)
		in = append(in, b...)
	}
	return in, sig
}

func bstrHead(n int) []byte {
	switch {
	case n < 24:
		return []byte{0x40 | byte(n)}
	case n < 256:
		return []byte{0x58, byte(n)}
	case n < 65536:
		return binary.BigEndian.AppendUint16([]byte{0x59}, uint16(n))
	}
	return binary.BigEndian.AppendUint32([]byte{0x5a}, uint32(n))
}

// opensslVerify checks sig over input with openssl and the leaf's public key.
func opensslVerify(t *testing.T, ossl, dir, name string, alg Algorithm, dgst []string, input, sig []byte) {
	t.Helper()
	in, sf := filepath.Join(dir, name+".in"), filepath.Join(dir, name+".sig")
	if alg == ES256 || alg == ES384 || alg == ES512 {
		// JOSE and COSE carry R‖S; openssl wants the DER ECDSA-Sig-Value.
		n := len(sig) / 2
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
		if err != nil {
			t.Fatal(err)
		}
		sig = der
	}
	os.WriteFile(in, input, 0o644)
	os.WriteFile(sf, sig, 0o644)
	if alg == EdDSA {
		run(t, dir, ossl, "pkeyutl", "-verify", "-pubin", "-inkey", name+".pub", "-rawin", "-in", in, "-sigfile", sf)
		return
	}
	args := append([]string{"dgst"}, dgst...)
	out := run(t, dir, ossl, append(args, "-verify", name+".pub", "-signature", sf, in)...)
	if !strings.Contains(out, "Verified OK") {
		t.Errorf("openssl: %s", out)
	}
}
