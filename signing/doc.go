// Package signing signs CMC metadata documents and verifies them: JWS JSON
// serialization (go-jose v4) for JSON documents and COSE_Sign, tag 98
// (veraison/go-cose), for CBOR, one signature per Signer, each carrying its
// certificate chain (x5c / x5chain, leaf first).
//
// Guarantees:
//   - The algorithm follows the key (ES256/384/512, EdDSA, PS256) and a key
//     that does not match its leaf certificate is refused before signing.
//   - Verify checks every signature and reports each one with a stable
//     reason code: alg none or unfit for the key, missing/empty/unparsable
//     chains, bad signatures, chains not leading to the given roots or
//     outside their validity, trailing data, malformed envelopes; then the
//     payload's own validity window and the minimum number of distinct
//     signers. Its Result is never nil and its error is nil exactly when
//     everything verified. It never panics on input (fuzzed).
//
// Left out: detached payloads, JWS compact serialization, COSE_Sign1,
// encrypted key files, revocation (CRL/OCSP). Signer is small enough for
// TPM, PKCS #11 or KMS keys; only file keys are implemented.
package signing
