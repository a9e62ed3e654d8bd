package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/go-jose/go-jose/v4"
	"github.com/veraison/go-cose"

	"github.com/refval/refval/manifest"
)

// ErrNoSigners: Sign was called without a signer.
var ErrNoSigners = errors.New("no signers")

// Sign wraps payload in a signed envelope with one signature per signer,
// in order: a JWS JSON serialization for JSON (format "" detects it from
// the payload), a COSE_Sign (tag 98) for CBOR.
func Sign(payload []byte, f manifest.Format, signers ...Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, ErrNoSigners
	}
	if f == "" {
		var err error
		if f, err = manifest.DetectFormat(payload); err != nil {
			return nil, err
		}
	}
	switch f {
	case manifest.JSON:
		return SignJWS(payload, signers...)
	case manifest.CBOR:
		return SignCOSE(payload, signers...)
	}
	return nil, fmt.Errorf("%w: %q", manifest.ErrFormat, f)
}

// jwsSignature is one member of the "signatures" array of the general JWS
// JSON serialization (RFC 7515 §7.2.1).
type jwsSignature struct {
	Protected string          `json:"protected"`
	Header    json.RawMessage `json:"header,omitempty"`
	Signature string          `json:"signature"`
}

type jwsGeneral struct {
	Payload    string         `json:"payload"`
	Signatures []jwsSignature `json:"signatures"`
}

// SignJWS returns the JWS JSON serialization of payload: flattened
// (RFC 7515 §7.2.2) for one signer, general (§7.2.1, a "signatures"
// array) for several. Each signature's protected header holds "alg" and
// "x5c" (the signer's chain, leaf first, base64 DER).
//
// go-jose signs each signature on its own, since its multi-signer shares
// one set of extra headers between all signers while x5c differs per
// signer; the signatures are then joined into the general form, which is
// valid because each covers only its own protected header and the payload.
func SignJWS(payload []byte, signers ...Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, ErrNoSigners
	}
	var gen jwsGeneral
	for i, s := range signers {
		alg, err := algorithmOf(s)
		if err != nil {
			return nil, fmt.Errorf("signer %d: %w", i+1, err)
		}
		x5c := make([]string, len(s.Chain()))
		for j, c := range s.Chain() {
			x5c[j] = base64.StdEncoding.EncodeToString(c.Raw)
		}
		opts := (&jose.SignerOptions{}).WithHeader("x5c", x5c)
		js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: joseSigner{s, alg}}, opts)
		if err != nil {
			return nil, fmt.Errorf("signer %d: %w", i+1, err)
		}
		obj, err := js.Sign(payload)
		if err != nil {
			return nil, fmt.Errorf("signer %d: sign: %w", i+1, err)
		}
		var flat struct {
			Payload   string `json:"payload"`
			Protected string `json:"protected"`
			Signature string `json:"signature"`
		}
		if err := json.Unmarshal([]byte(obj.FullSerialize()), &flat); err != nil {
			return nil, err
		}
		gen.Payload = flat.Payload
		gen.Signatures = append(gen.Signatures, jwsSignature{Protected: flat.Protected, Signature: flat.Signature})
	}
	if len(gen.Signatures) == 1 {
		return json.Marshal(struct {
			Payload   string `json:"payload"`
			Protected string `json:"protected"`
			Signature string `json:"signature"`
		}{gen.Payload, gen.Signatures[0].Protected, gen.Signatures[0].Signature})
	}
	return json.Marshal(gen)
}

// joseSigner adapts a Signer to go-jose's OpaqueSigner, so that any
// crypto.Signer (not only the in-memory key types go-jose knows) can sign.
type joseSigner struct {
	s   Signer
	alg Algorithm
}

func (j joseSigner) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: j.s.Public(), Algorithm: string(j.alg)}
}

func (j joseSigner) Algs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(j.alg)}
}

// SignPayload produces the JWS signature bytes of RFC 7518: ECDSA as the
// fixed-size concatenation R‖S (not DER), RSASSA-PSS with a salt as long
// as the hash, Ed25519 over the message itself.
func (j joseSigner) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	return rawSign(j.s, Algorithm(alg), payload, rand.Reader)
}

func hashOf(alg Algorithm) crypto.Hash {
	switch alg {
	case ES384, PS384:
		return crypto.SHA384
	case ES512, PS512, RS512:
		return crypto.SHA512
	case EdDSA:
		return 0
	}
	return crypto.SHA256
}

func rawSign(s crypto.Signer, alg Algorithm, msg []byte, r io.Reader) ([]byte, error) {
	h := hashOf(alg)
	if h == 0 {
		return s.Sign(r, msg, crypto.Hash(0))
	}
	hh := h.New()
	hh.Write(msg)
	digest := hh.Sum(nil)
	switch pub := s.Public().(type) {
	case *rsa.PublicKey:
		if alg == RS256 || alg == RS512 {
			return s.Sign(r, digest, h) // RSASSA-PKCS1-v1_5
		}
		return s.Sign(r, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	case *ecdsa.PublicKey:
		der, err := s.Sign(r, digest, h)
		if err != nil {
			return nil, err
		}
		var sig struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("ecdsa signer returned a malformed signature")
		}
		n := (pub.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*n)
		sig.R.FillBytes(out[:n])
		sig.S.FillBytes(out[n:])
		return out, nil
	}
	return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, s.Public())
}

// coseAlg maps refval's algorithms to COSE identifiers (RFC 9053, RFC 8230).
var coseAlg = map[Algorithm]cose.Algorithm{
	ES256: cose.AlgorithmES256,
	ES384: cose.AlgorithmES384,
	ES512: cose.AlgorithmES512,
	EdDSA: cose.AlgorithmEdDSA,
	PS256: cose.AlgorithmPS256,
	PS384: cose.AlgorithmPS384,
	PS512: cose.AlgorithmPS512,
}

// SignCOSE returns a COSE_Sign_Tagged (tag 98, RFC 9052 §4.1) of payload
// with one COSE_Signature per signer: "alg" in its protected header, the
// chain as x5chain (label 33, RFC 9360), an array of DER certificates leaf
// first, in its unprotected header.
func SignCOSE(payload []byte, signers ...Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, ErrNoSigners
	}
	msg := cose.NewSignMessage()
	msg.Payload = payload
	cs := make([]cose.Signer, len(signers))
	for i, s := range signers {
		alg, err := algorithmOf(s)
		if err != nil {
			return nil, fmt.Errorf("signer %d: %w", i+1, err)
		}
		if cs[i], err = cose.NewSigner(coseAlg[alg], s); err != nil {
			return nil, fmt.Errorf("signer %d: %w", i+1, err)
		}
		sig := cose.NewSignature()
		sig.Headers.Protected.SetAlgorithm(coseAlg[alg])
		chain := make([]any, len(s.Chain()))
		for j, c := range s.Chain() {
			chain[j] = c.Raw
		}
		sig.Headers.Unprotected[cose.HeaderLabelX5Chain] = chain
		msg.Signatures = append(msg.Signatures, sig)
	}
	if err := msg.Sign(rand.Reader, nil, cs...); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return msg.MarshalCBOR()
}
