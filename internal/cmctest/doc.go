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
// Left out: running CMC's estserver or a full attestation report.
package cmctest
