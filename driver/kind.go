package driver

import (
	"errors"
	"fmt"
)

// Kind is where a new container measurement goes besides the measurement
// list.
type Kind string

// The drivers.
const (
	// SW keeps the measurement list only: a "SW Reference Value".
	SW Kind = "sw"
	// TPM extends a PCR with the template hash: a "TPM Reference Value".
	TPM Kind = "tpm"
	// CMCD hands the measurement to the CMC daemon, which extends the PCR
	// itself: also a "TPM Reference Value".
	CMCD Kind = "cmcd"
)

// ErrKind marks an unknown driver name.
var ErrKind = errors.New("unknown driver")

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, error) {
	k := Kind(s)
	return k, k.Validate()
}

// Validate reports whether k is one of the drivers.
func (k Kind) Validate() error {
	switch k {
	case SW, TPM, CMCD:
		return nil
	}
	return fmt.Errorf("%w %q (want sw, tpm or cmcd)", ErrKind, string(k))
}

// ExtendsPCR reports whether a measurement recorded by k ends up in a TPM
// PCR (so its list entry names the PCR).
func (k Kind) ExtendsPCR() bool { return k == TPM || k == CMCD }

// ReferenceKind is the kind of reference value that describes a
// measurement recorded by k: TPM for every driver that extends a PCR, SW
// otherwise. It is what `refval measure-bundle --driver` takes.
func (k Kind) ReferenceKind() Kind {
	if k.ExtendsPCR() {
		return TPM
	}
	return SW
}

// String implements fmt.Stringer.
func (k Kind) String() string { return string(k) }
