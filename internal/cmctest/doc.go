// Package cmctest builds CMC's own code from the release tarballs in
// /work/shared/cmc (../shared/cmc in CI) for the interop tests: per CMC
// version a harness program (harness/vXX, built inside the extracted tree
// with the build tag cmcharness, so that it can call CMC's verifier and
// measure functions, unexported ones through a one-line exporter file) and
// CMC's cmcd (and v0.9's metatool, v0.7's measure-bundle), unmodified.
//
// Guarantees: the binaries are cached under REFVAL_CACHE/cmc keyed by the
// SHA-256 of the tarball and of the harness sources, and built at most once
// at a time (a lock file); without the sources Require skips the test,
// and fails it in CI (CI=true). No CMC code is copied into refval: the
// tarball is extracted into a temporary build directory that is removed
// after the build.
//
// The interop tests of this package (part of make test) judge refval's
// outputs with CMC's code only: metadata verification per CMC version,
// encoding and algorithm; the SW verifier on lists; CMC's measure
// functions against the cmc schemes; metatool's and measure-bundle's output
// against refval's; the real cmcd fed by the shim; a full v0.9 attestation
// (cmcd's report, CMC's verifier); the shim under real containerd 2.4;
// CMC's rule comparison (ociRules) of recorded kubelet and Docker configs
// against refval's predictions under refval's rules.
//
// Left out: CMC's estserver (so no cmcd v0.7, whose sw driver needs one),
// TPM-backed attestation.
package cmctest
