package signing

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/refval/refval/manifest"
)

// ErrAlgorithmRejected: the chosen CMC version's verifier rejects the
// signature algorithm for this encoding.
var ErrAlgorithmRejected = errors.New("signature algorithm rejected by CMC")

// AllowedAlgorithms returns the algorithms (of those refval signs with)
// that CMC version v's metadata verifier accepts in encoding f, as its
// code decides (and the interop tests in internal/cmctest check):
//   - 0.9 JSON: go-jose ParseSigned with RS256, RS512, ES256, ES384, ES512;
//   - 0.9 CBOR: go-cose NewVerifier: every ES and PS algorithm, EdDSA (and
//     RS*, which go-cose, and so refval, cannot sign with);
//   - 0.7 JSON: go-jose v2 ParseSigned, no list: all of refval's;
//   - 0.7 CBOR: ES256 only.
//
// The zero version is manifest.DefaultCMCVersion (0.9).
func AllowedAlgorithms(v manifest.CMCVersion, f manifest.Format) []Algorithm {
	switch v = v.Resolved(); {
	case v == manifest.CMC09 && f == manifest.JSON:
		return []Algorithm{RS256, RS512, ES256, ES384, ES512}
	case v == manifest.CMC09:
		return []Algorithm{ES256, ES384, ES512, EdDSA, PS256, PS384, PS512}
	case f == manifest.JSON:
		return []Algorithm{ES256, ES384, ES512, EdDSA, PS256, PS384, PS512, RS256, RS512}
	default:
		return []Algorithm{ES256}
	}
}

type algSigner struct {
	Signer
	alg Algorithm
}

func (s algSigner) Algorithm() Algorithm { return s.alg }

// algorithmOf is the algorithm s signs with: its own (WithAlgorithm), else
// the key's (AlgorithmFor).
func algorithmOf(s Signer) (Algorithm, error) {
	if a, ok := s.(interface{ Algorithm() Algorithm }); ok {
		return a.Algorithm(), nil
	}
	return AlgorithmFor(s.Public())
}

// WithAlgorithm returns s signing with alg instead of the key's default;
// alg must fit the key (RS256/RS512/PS* for RSA, the curve's for ECDSA).
func WithAlgorithm(s Signer, alg Algorithm) (Signer, error) {
	if !fits(alg, s.Public()) {
		return nil, fmt.Errorf("%w: %s does not fit a %T key", ErrUnsupportedKey, alg, s.Public())
	}
	return algSigner{Signer: s, alg: alg}, nil
}

// ForDialect returns s set up for CMC version v and encoding f: an RSA
// key signs with RS256 where CMC accepts no PSS (0.9 JSON); any other key
// whose algorithm CMC rejects fails with ErrAlgorithmRejected, naming the
// algorithms that would be accepted.
func ForDialect(s Signer, v manifest.CMCVersion, f manifest.Format) (Signer, error) {
	alg, err := algorithmOf(s)
	if err != nil {
		return nil, err
	}
	allowed := AllowedAlgorithms(v, f)
	if slices.Contains(allowed, alg) {
		return s, nil
	}
	if _, isRSA := s.Public().(*rsa.PublicKey); isRSA && slices.Contains(allowed, RS256) {
		return WithAlgorithm(s, RS256)
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return nil, fmt.Errorf("%w: CMC %s accepts %s in %s, not %s (use a key for one of them; RSA keys sign with RS256)",
		ErrAlgorithmRejected, v.Resolved(), strings.Join(names, ", "), strings.ToUpper(string(f)), alg)
}
