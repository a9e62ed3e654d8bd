package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Signer is one signing identity: a private key that can sign (in a file
// today; a TPM, PKCS#11 token or KMS key can implement the same
// interface) and its certificate chain, leaf first. The leaf's public key
// must be the signer's.
type Signer interface {
	crypto.Signer
	// Chain returns the certificates to embed, leaf first. The root may be
	// left out: verifiers supply their own roots.
	Chain() []*x509.Certificate
}

// Algorithm is a JOSE/COSE signature algorithm name.
type Algorithm string

// The algorithms refval signs with; each key type has exactly one.
const (
	ES256 Algorithm = "ES256"
	ES384 Algorithm = "ES384"
	ES512 Algorithm = "ES512"
	EdDSA Algorithm = "EdDSA"
	PS256 Algorithm = "PS256"
	PS384 Algorithm = "PS384"
	PS512 Algorithm = "PS512"
	// RS256 and RS512 (RSASSA-PKCS1-v1_5) are only signed with when asked
	// for (WithAlgorithm): CMC v0.9's JWS verifier accepts no PSS.
	RS256 Algorithm = "RS256"
	RS512 Algorithm = "RS512"
)

// Sentinel errors for signing.
var (
	// ErrKey: the key file holds no usable private key.
	ErrKey = errors.New("invalid private key")
	// ErrCertificate: the chain is empty or a certificate does not parse.
	ErrCertificate = errors.New("invalid certificate")
	// ErrKeyMismatch: the leaf certificate is not the key's.
	ErrKeyMismatch = errors.New("key does not match leaf certificate")
	// ErrUnsupportedKey: no algorithm is defined for this key type or curve.
	ErrUnsupportedKey = errors.New("unsupported key type")
)

// AlgorithmFor returns the algorithm refval signs with for a public key:
// the curve fixes ECDSA's (RFC 7518 §3.4 pairs each curve with one hash),
// Ed25519 is EdDSA, and RSA uses PSS with SHA-256 (PKCS#1 v1.5 is not
// offered for new signatures).
func AlgorithmFor(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ES256, nil
		case elliptic.P384():
			return ES384, nil
		case elliptic.P521():
			return ES512, nil
		}
		return "", fmt.Errorf("%w: ECDSA curve %s", ErrUnsupportedKey, k.Curve.Params().Name)
	case ed25519.PublicKey:
		return EdDSA, nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("%w: RSA key of %d bits (want at least 2048)", ErrUnsupportedKey, k.N.BitLen())
		}
		return PS256, nil
	}
	return "", fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// fits reports whether a verifier may accept alg for pub: exactly the
// curve's algorithm for ECDSA, EdDSA for Ed25519, any PSS hash for RSA
// (the key size does not pin one).
func fits(alg Algorithm, pub crypto.PublicKey) bool {
	if _, ok := pub.(*rsa.PublicKey); ok {
		return alg == PS256 || alg == PS384 || alg == PS512 || alg == RS256 || alg == RS512
	}
	want, err := AlgorithmFor(pub)
	return err == nil && alg == want
}

type fileSigner struct {
	crypto.Signer
	chain []*x509.Certificate
}

func (s *fileSigner) Chain() []*x509.Certificate { return s.chain }

// NewSigner pairs key with chain (leaf first) after checking that the
// leaf certifies key and that refval has an algorithm for it.
func NewSigner(key crypto.Signer, chain []*x509.Certificate) (Signer, error) {
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: empty certificate chain", ErrCertificate)
	}
	if _, err := AlgorithmFor(key.Public()); err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, fmt.Errorf("%w: leaf %q", ErrKeyMismatch, chain[0].Subject.String())
	}
	return &fileSigner{Signer: key, chain: chain}, nil
}

// LoadSigner reads a PEM private key and a certificate chain. certs are
// files of PEM certificates (one or several each), read in order; the
// first certificate is the leaf.
func LoadSigner(keyFile string, certFiles ...string) (Signer, error) {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	var chain []*x509.Certificate
	for _, f := range certFiles {
		cs, err := LoadCertificates(f)
		if err != nil {
			return nil, err
		}
		chain = append(chain, cs...)
	}
	s, err := NewSigner(key, chain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	return s, nil
}

// ParsePrivateKey reads the first private key of a PEM file: SEC 1 "EC
// PRIVATE KEY", PKCS #1 "RSA PRIVATE KEY" or PKCS #8 "PRIVATE KEY" (EC,
// RSA, Ed25519). Encrypted keys are refused.
func ParsePrivateKey(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%w: no PEM private key", ErrKey)
		}
		var k any
		var err error
		switch blk.Type {
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			if _, enc := blk.Headers["DEK-Info"]; enc {
				return nil, fmt.Errorf("%w: encrypted PEM keys are not supported", ErrKey)
			}
			k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w: encrypted PEM keys are not supported", ErrKey)
		default:
			continue // e.g. "EC PARAMETERS" written by openssl ecparam
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrKey, blk.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: %T cannot sign", ErrKey, k)
		}
		return s, nil
	}
}

// LoadCertificates reads every PEM certificate of a file, in order.
func LoadCertificates(file string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	cs, err := ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return cs, nil
}

// ParseCertificates reads every PEM certificate of b, in order; b must hold at least one.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCertificate, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no PEM certificate", ErrCertificate)
	}
	if rest := strings.TrimSpace(string(b)); rest != "" {
		return nil, fmt.Errorf("%w: data after the last PEM block", ErrCertificate)
	}
	return out, nil
}
