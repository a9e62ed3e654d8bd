// Package driver names the places a container measurement is recorded at
// runtime (Kind) and the TPM PCR it is extended into (PCR): the two
// enumerations the shim configuration, the measurement list and the
// reference values share. Both are validated once, where they enter (a
// configuration file, a flag); code that holds a Kind or PCR may rely on it.
//
// The drivers themselves live in the sub-packages sw, tpm and cmcd, each
// constructed explicitly by the caller (there is no registry). This
// package depends on nothing but the standard library, so a verifier or
// the manifest model can import it without pulling in a TPM stack.
package driver
