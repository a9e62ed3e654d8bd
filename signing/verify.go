package signing

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-jose/go-jose/v4"
	"github.com/veraison/go-cose"

	"github.com/refval/refval/manifest"
)

// Reason codes of a failed check, in Result and SignatureResult. They are
// stable: scripts may match on them.
const (
	CodeMalformed        = "malformed"              // envelope or header does not parse
	CodeTrailingData     = "trailing-data"          // bytes after the envelope
	CodeAlgNone          = "alg-none"               // "alg": "none"
	CodeAlgUnsupported   = "alg-unsupported"        // alg missing or not one refval accepts
	CodeAlgMismatch      = "alg-mismatch"           // alg does not fit the leaf's key
	CodeNoChain          = "no-chain"               // x5c / x5chain missing or empty
	CodeBadCertificate   = "bad-certificate"        // a certificate does not parse
	CodeBadSignature     = "bad-signature"          // the signature does not verify
	CodeUntrusted        = "untrusted-chain"        // no chain to the given roots
	CodeCertExpired      = "cert-expired"           // a chain certificate expired at the time
	CodeCertNotYetValid  = "cert-not-yet-valid"     // a chain certificate not yet valid
	CodeDuplicateSigner  = "duplicate-signer"       // same public key signed twice, counted once
	CodeBadPayload       = "bad-payload"            // payload is not a metadata document
	CodeManifestExpired  = "manifest-expired"       // validity.notAfter before the time
	CodeManifestNotYet   = "manifest-not-yet-valid" // validity.notBefore after the time
	CodeTooFewSignatures = "too-few-signatures"     // fewer valid signers than required
	CodeNoRoots          = "no-roots"               // no trust anchors given
)

// ErrVerification is returned (wrapped) by Verify when the envelope does
// not verify; the Result says why.
var ErrVerification = errors.New("verification failed")

// Problem is one failed check.
type Problem struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// SignatureResult is the outcome for one signature.
type SignatureResult struct {
	Index     int    `json:"index"`
	Valid     bool   `json:"valid"`
	Algorithm string `json:"alg,omitempty"`
	Subject   string `json:"subject,omitempty"`
	Issuer    string `json:"issuer,omitempty"`
	NotBefore string `json:"notBefore,omitempty"`
	NotAfter  string `json:"notAfter,omitempty"`
	// LeafSha256 is the SHA-256 of the leaf certificate's DER (hex).
	LeafSha256 string `json:"leafSha256,omitempty"`
	*Problem   `json:"error,omitempty"`

	// keySha256 is the SHA-256 of the leaf's SubjectPublicKeyInfo: the
	// signer's identity when counting distinct signers.
	keySha256 string
}

// Result is the outcome of Verify.
type Result struct {
	Valid           bool              `json:"valid"`
	Envelope        string            `json:"envelope,omitempty"` // "jws" or "cose"
	PayloadType     string            `json:"payloadType,omitempty"`
	At              string            `json:"at"`
	NotBefore       string            `json:"notBefore,omitempty"`
	NotAfter        string            `json:"notAfter,omitempty"`
	Signatures      []SignatureResult `json:"signatures"`
	ValidSignatures int               `json:"validSignatures"`
	MinSignatures   int               `json:"minSignatures"`
	Errors          []Problem         `json:"errors,omitempty"`
	// Payload holds the signed document when Valid, nil otherwise.
	Payload []byte `json:"-"`
}

type verifyOptions struct {
	at     time.Time
	min    int
	format manifest.Format
}

// VerifyOption configures Verify.
type VerifyOption func(*verifyOptions) error

// WithTime checks certificates and the manifest validity at t (default: now).
func WithTime(t time.Time) VerifyOption {
	return func(o *verifyOptions) error { o.at = t; return nil }
}

// WithMinSignatures requires n valid signatures from distinct signers
// (default 1). A signer is a public key (the leaf's SubjectPublicKeyInfo),
// not a certificate: one key under two certificates, as after a routine
// renewal, is one signer.
func WithMinSignatures(n int) VerifyOption {
	return func(o *verifyOptions) error {
		if n < 1 {
			return fmt.Errorf("minimum signatures %d: want at least 1", n)
		}
		o.min = n
		return nil
	}
}

// WithFormat forces the envelope format (JSON: JWS, CBOR: COSE_Sign)
// instead of detecting it.
func WithFormat(f manifest.Format) VerifyOption {
	return func(o *verifyOptions) error { o.format = f; return nil }
}

// Verify checks a signed envelope against roots. Every signature must
// verify, with an alg that fits its leaf key, over a chain (x5c/x5chain)
// that leads to one of roots and is valid at the verification time; the
// payload must be a metadata document whose validity window contains that
// time; at least the minimum number of distinct signers must have signed.
//
// The returned Result is never nil. The error is nil exactly when
// Result.Valid; otherwise it wraps ErrVerification (or is an option error).
func Verify(envelope []byte, roots *x509.CertPool, opts ...VerifyOption) (*Result, error) {
	o := verifyOptions{min: 1}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return &Result{Signatures: []SignatureResult{}}, err
		}
	}
	if o.at.IsZero() {
		o.at = time.Now()
	}
	r := &Result{At: o.at.UTC().Format(time.RFC3339), MinSignatures: o.min, Signatures: []SignatureResult{}}
	fail := func(code, format string, a ...any) (*Result, error) {
		r.Errors = append(r.Errors, Problem{code, fmt.Sprintf(format, a...)})
		return r, fmt.Errorf("%w: %s", ErrVerification, r.Errors[0].Reason)
	}
	if roots == nil {
		return fail(CodeNoRoots, "no root certificates given")
	}
	f := o.format
	if f == "" {
		var err error
		if f, err = manifest.DetectFormat(envelope); err != nil {
			return fail(CodeMalformed, "%v", err)
		}
	}
	var payload []byte
	var problem *Problem
	switch f {
	case manifest.JSON:
		r.Envelope = "jws"
		payload, problem = verifyJWS(envelope, roots, o.at, r)
	case manifest.CBOR:
		r.Envelope = "cose"
		payload, problem = verifyCOSE(envelope, roots, o.at, r)
	default:
		return fail(CodeMalformed, "unsupported format %q", f)
	}
	if problem != nil {
		return fail(problem.Code, "%s", problem.Reason)
	}
	countSigners(r)
	for _, s := range r.Signatures {
		if !s.Valid && s.Problem.Code != CodeDuplicateSigner {
			r.Errors = append(r.Errors, Problem{s.Code, fmt.Sprintf("signature %d: %s", s.Index, s.Reason)})
		}
	}
	pf := manifest.JSON
	if f == manifest.CBOR {
		pf = manifest.CBOR
	}
	doc, err := manifest.Parse(payload, pf)
	if err != nil {
		r.Errors = append(r.Errors, Problem{CodeBadPayload, fmt.Sprintf("payload: %v", err)})
	} else {
		r.PayloadType = doc.Type()
		nb, na, err := doc.ValidityWindow()
		switch {
		case err != nil:
			r.Errors = append(r.Errors, Problem{CodeBadPayload, fmt.Sprintf("payload: %v", err)})
		case o.at.Before(nb):
			r.Errors = append(r.Errors, Problem{CodeManifestNotYet, fmt.Sprintf("manifest is valid from %s, after %s", nb.Format(time.RFC3339), r.At)})
		case o.at.After(na):
			r.Errors = append(r.Errors, Problem{CodeManifestExpired, fmt.Sprintf("manifest expired at %s, before %s", na.Format(time.RFC3339), r.At)})
		}
		if err == nil {
			r.NotBefore, r.NotAfter = nb.UTC().Format(time.RFC3339), na.UTC().Format(time.RFC3339)
		}
	}
	if r.ValidSignatures < o.min {
		r.Errors = append(r.Errors, Problem{CodeTooFewSignatures, fmt.Sprintf("%d valid signature(s) from distinct signers, want at least %d", r.ValidSignatures, o.min)})
	}
	if len(r.Errors) > 0 {
		return r, fmt.Errorf("%w: %s", ErrVerification, r.Errors[0].Reason)
	}
	r.Valid = true
	r.Payload = payload
	return r, nil
}

// countSigners counts the valid signatures of distinct signers into
// r.ValidSignatures. A signer is its public key (SubjectPublicKeyInfo): a
// second signature by a key that already signed, under the same or another
// certificate, is marked invalid with CodeDuplicateSigner, so that one key
// holder can never satisfy an m-of-n policy alone.
func countSigners(r *Result) {
	first := map[string]int{} // key digest -> index of its first valid signature
	for i := range r.Signatures {
		s := &r.Signatures[i]
		if !s.Valid {
			continue
		}
		if j, dup := first[s.keySha256]; dup {
			s.Valid = false
			reason := fmt.Sprintf("the public key of signature %d signed again, counted once", r.Signatures[j].Index)
			if s.LeafSha256 != r.Signatures[j].LeafSha256 {
				reason = fmt.Sprintf("the public key of signature %d signed again under another certificate (%q), counted once", r.Signatures[j].Index, s.Subject)
			}
			s.Problem = &Problem{CodeDuplicateSigner, reason}
			continue
		}
		first[s.keySha256] = i
		r.ValidSignatures++
	}
}

// checkChain verifies the chain to roots at time at and classifies failures.
func checkChain(chain []*x509.Certificate, roots *x509.CertPool, at time.Time) *Problem {
	// RFC 5280 §4.2.1.3: a key whose certificate restricts its usage may
	// only sign data when digitalSignature is among the allowed ones.
	if leaf := chain[0]; leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return &Problem{CodeBadCertificate, fmt.Sprintf("leaf %q: key usage does not include digitalSignature", leaf.Subject.String())}
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   at,
		// CMC signing certificates carry no fixed extended key usage.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err == nil {
		return nil
	}
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) && ci.Reason == x509.Expired {
		if at.Before(ci.Cert.NotBefore) {
			return &Problem{CodeCertNotYetValid, fmt.Sprintf("certificate %q is valid from %s", ci.Cert.Subject.String(), ci.Cert.NotBefore.UTC().Format(time.RFC3339))}
		}
		return &Problem{CodeCertExpired, fmt.Sprintf("certificate %q expired at %s", ci.Cert.Subject.String(), ci.Cert.NotAfter.UTC().Format(time.RFC3339))}
	}
	return &Problem{CodeUntrusted, err.Error()}
}

func describeLeaf(s *SignatureResult, leaf *x509.Certificate) {
	s.Subject = leaf.Subject.String()
	s.Issuer = leaf.Issuer.String()
	s.NotBefore = leaf.NotBefore.UTC().Format(time.RFC3339)
	s.NotAfter = leaf.NotAfter.UTC().Format(time.RFC3339)
	sum := sha256.Sum256(leaf.Raw)
	s.LeafSha256 = hex.EncodeToString(sum[:])
	sum = sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	s.keySha256 = hex.EncodeToString(sum[:])
}

// knownAlg returns the Algorithm named s, or a problem.
func knownAlg(s string) (Algorithm, *Problem) {
	if strings.EqualFold(s, "none") {
		return "", &Problem{CodeAlgNone, `alg "none" is never accepted`}
	}
	switch a := Algorithm(s); a {
	case ES256, ES384, ES512, EdDSA, PS256, PS384, PS512:
		return a, nil
	}
	if s == "" {
		return "", &Problem{CodeAlgUnsupported, "no alg in the protected header"}
	}
	return "", &Problem{CodeAlgUnsupported, fmt.Sprintf("alg %q is not accepted", s)}
}

// ---- JWS ----

type jwsEnvelope struct {
	Payload    *string         `json:"payload"`
	Protected  *string         `json:"protected"`
	Header     json.RawMessage `json:"header"`
	Signature  *string         `json:"signature"`
	Signatures []jwsSignature  `json:"signatures"`
}

func verifyJWS(env []byte, roots *x509.CertPool, at time.Time, r *Result) ([]byte, *Problem) {
	if err := manifest.ValidateJSON(env); err != nil {
		if errors.Is(err, manifest.ErrTrailingData) {
			return nil, &Problem{CodeTrailingData, err.Error()}
		}
		return nil, &Problem{CodeMalformed, fmt.Sprintf("JWS: %v", err)}
	}
	var e jwsEnvelope
	dec := json.NewDecoder(bytes.NewReader(env))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, &Problem{CodeMalformed, fmt.Sprintf("JWS JSON serialization: %v", err)}
	}
	if e.Payload == nil {
		return nil, &Problem{CodeMalformed, "JWS without payload (detached payloads are not supported)"}
	}
	payload, err := base64.RawURLEncoding.DecodeString(*e.Payload)
	if err != nil {
		return nil, &Problem{CodeMalformed, fmt.Sprintf("JWS payload: %v", err)}
	}
	sigs := e.Signatures
	switch {
	case e.Signatures != nil && (e.Protected != nil || e.Signature != nil || e.Header != nil):
		return nil, &Problem{CodeMalformed, "JWS mixes the flattened and general serializations"}
	case e.Signatures == nil && e.Signature != nil:
		p := ""
		if e.Protected != nil {
			p = *e.Protected
		}
		sigs = []jwsSignature{{Protected: p, Header: e.Header, Signature: *e.Signature}}
	}
	if len(sigs) == 0 {
		return nil, &Problem{CodeMalformed, "JWS without signatures"}
	}
	for i, s := range sigs {
		res := SignatureResult{Index: i}
		if p := verifyJWSSignature(*e.Payload, s, roots, at, &res); p != nil {
			res.Problem = p
		} else {
			res.Valid = true
		}
		r.Signatures = append(r.Signatures, res)
	}
	return payload, nil
}

func verifyJWSSignature(payload string, s jwsSignature, roots *x509.CertPool, at time.Time, res *SignatureResult) *Problem {
	ph, err := base64.RawURLEncoding.DecodeString(s.Protected)
	if err != nil || len(ph) == 0 {
		return &Problem{CodeMalformed, "protected header missing or not base64url"}
	}
	if err := manifest.ValidateJSON(ph); err != nil {
		return &Problem{CodeMalformed, fmt.Sprintf("protected header: %v", err)}
	}
	var hdr struct {
		Alg  *string  `json:"alg"`
		X5c  []string `json:"x5c"`
		Crit []string `json:"crit"`
		B64  *bool    `json:"b64"`
	}
	if err := json.Unmarshal(ph, &hdr); err != nil {
		return &Problem{CodeMalformed, fmt.Sprintf("protected header: %v", err)}
	}
	if len(s.Header) > 0 {
		var uh map[string]json.RawMessage
		if err := json.Unmarshal(s.Header, &uh); err != nil {
			return &Problem{CodeMalformed, fmt.Sprintf("unprotected header: %v", err)}
		}
		for _, k := range []string{"alg", "x5c", "crit", "b64", "jwk", "x5u", "jku"} {
			if _, ok := uh[k]; ok {
				return &Problem{CodeMalformed, fmt.Sprintf("%q must not be in the unprotected header", k)}
			}
		}
	}
	if hdr.Alg == nil {
		return &Problem{CodeAlgUnsupported, "no alg in the protected header"}
	}
	alg, p := knownAlg(*hdr.Alg)
	res.Algorithm = *hdr.Alg
	if p != nil {
		return p
	}
	if len(hdr.Crit) > 0 || hdr.B64 != nil {
		return &Problem{CodeMalformed, "crit and b64 header parameters are not supported"}
	}
	if len(hdr.X5c) == 0 {
		return &Problem{CodeNoChain, "x5c missing or empty in the protected header"}
	}
	chain := make([]*x509.Certificate, len(hdr.X5c))
	for i, c := range hdr.X5c {
		der, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			return &Problem{CodeBadCertificate, fmt.Sprintf("x5c[%d]: %v", i, err)}
		}
		if chain[i], err = x509.ParseCertificate(der); err != nil {
			return &Problem{CodeBadCertificate, fmt.Sprintf("x5c[%d]: %v", i, err)}
		}
	}
	describeLeaf(res, chain[0])
	if !fits(alg, chain[0].PublicKey) {
		return &Problem{CodeAlgMismatch, fmt.Sprintf("alg %s does not fit the leaf's %s key", alg, keyName(chain[0]))}
	}
	flat, _ := json.Marshal(map[string]string{"payload": payload, "protected": s.Protected, "signature": s.Signature})
	obj, err := jose.ParseSignedJSON(string(flat), []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		return &Problem{CodeMalformed, fmt.Sprintf("JWS: %v", err)}
	}
	if _, err := obj.Verify(chain[0].PublicKey); err != nil {
		return &Problem{CodeBadSignature, "signature does not verify with the leaf certificate's key"}
	}
	return checkChain(chain, roots, at)
}

func keyName(c *x509.Certificate) string {
	n := c.PublicKeyAlgorithm.String()
	if a, err := AlgorithmFor(c.PublicKey); err == nil && n == "ECDSA" {
		n += " (" + string(a) + ")"
	}
	return n
}

// ---- COSE ----

var (
	// coseSignPrefix is tag 98 (COSE_Sign_Tagged) followed by an array of 4.
	coseSignPrefix = []byte{0xd8, 0x62, 0x84}
	cborStrict     cbor.DecMode
)

func init() {
	var err error
	if cborStrict, err = (cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF}).DecMode(); err != nil {
		panic(err)
	}
}

func verifyCOSE(env []byte, roots *x509.CertPool, at time.Time, r *Result) ([]byte, *Problem) {
	if err := cborStrict.Wellformed(env); err != nil {
		var extra *cbor.ExtraneousDataError
		if errors.As(err, &extra) {
			return nil, &Problem{CodeTrailingData, fmt.Sprintf("COSE: %v", err)}
		}
		return nil, &Problem{CodeMalformed, fmt.Sprintf("COSE: %v", err)}
	}
	if !bytes.HasPrefix(env, coseSignPrefix) {
		return nil, &Problem{CodeMalformed, "not a COSE_Sign_Tagged object (tag 98 with 4 elements)"}
	}
	var msg cose.SignMessage
	if err := msg.UnmarshalCBOR(env); err != nil {
		return nil, &Problem{CodeMalformed, fmt.Sprintf("COSE_Sign: %v", err)}
	}
	if msg.Payload == nil {
		return nil, &Problem{CodeMalformed, "COSE_Sign without payload (detached payloads are not supported)"}
	}
	if len(msg.Headers.Protected) > 0 || len(msg.Headers.Unprotected) > 0 {
		return nil, &Problem{CodeMalformed, "COSE_Sign body headers are not supported (refval puts headers in each signature)"}
	}
	for i, s := range msg.Signatures {
		res := SignatureResult{Index: i}
		if p := verifyCOSESignature(&msg, s, roots, at, &res); p != nil {
			res.Problem = p
		} else {
			res.Valid = true
		}
		r.Signatures = append(r.Signatures, res)
	}
	return msg.Payload, nil
}

func verifyCOSESignature(msg *cose.SignMessage, s *cose.Signature, roots *x509.CertPool, at time.Time, res *SignatureResult) *Problem {
	if _, ok := s.Headers.Unprotected[cose.HeaderLabelAlgorithm]; ok {
		return &Problem{CodeMalformed, "alg must not be in the unprotected header"}
	}
	calg, err := s.Headers.Protected.Algorithm()
	if err != nil {
		return &Problem{CodeAlgUnsupported, fmt.Sprintf("protected header: %v", err)}
	}
	var alg Algorithm
	for a, c := range coseAlg {
		if c == calg {
			alg = a
		}
	}
	res.Algorithm = calg.String()
	if alg == "" {
		return &Problem{CodeAlgUnsupported, fmt.Sprintf("COSE alg %d is not accepted", int64(calg))}
	}
	res.Algorithm = string(alg)
	raw, inU := s.Headers.Unprotected[cose.HeaderLabelX5Chain]
	if rp, inP := s.Headers.Protected[cose.HeaderLabelX5Chain]; inP {
		if inU {
			return &Problem{CodeMalformed, "x5chain in both protected and unprotected headers"}
		}
		raw = rp
	}
	ders, p := x5chain(raw)
	if p != nil {
		return p
	}
	chain := make([]*x509.Certificate, len(ders))
	for i, d := range ders {
		if chain[i], err = x509.ParseCertificate(d); err != nil {
			return &Problem{CodeBadCertificate, fmt.Sprintf("x5chain[%d]: %v", i, err)}
		}
	}
	describeLeaf(res, chain[0])
	if !fits(alg, chain[0].PublicKey) {
		return &Problem{CodeAlgMismatch, fmt.Sprintf("alg %s does not fit the leaf's %s key", alg, keyName(chain[0]))}
	}
	v, err := cose.NewVerifier(calg, chain[0].PublicKey)
	if err != nil {
		return &Problem{CodeAlgMismatch, err.Error()}
	}
	if err := s.Verify(v, msg.Headers.RawProtected, msg.Payload, nil); err != nil {
		return &Problem{CodeBadSignature, "signature does not verify with the leaf certificate's key"}
	}
	return checkChain(chain, roots, at)
}

// x5chain reads an x5chain header value (RFC 9360 §2): one byte string
// for a single certificate, or an array of them.
func x5chain(v any) ([][]byte, *Problem) {
	switch t := v.(type) {
	case nil:
		return nil, &Problem{CodeNoChain, "x5chain (label 33) missing"}
	case []byte:
		if len(t) == 0 {
			return nil, &Problem{CodeNoChain, "x5chain is empty"}
		}
		return [][]byte{t}, nil
	case []any:
		if len(t) == 0 {
			return nil, &Problem{CodeNoChain, "x5chain is an empty array"}
		}
		out := make([][]byte, len(t))
		for i, e := range t {
			b, ok := e.([]byte)
			if !ok {
				return nil, &Problem{CodeBadCertificate, fmt.Sprintf("x5chain[%d] is %s, want a byte string", i, reflect.TypeOf(e))}
			}
			out[i] = b
		}
		return out, nil
	}
	return nil, &Problem{CodeBadCertificate, fmt.Sprintf("x5chain is %s, want a byte string or an array", reflect.TypeOf(v))}
}
