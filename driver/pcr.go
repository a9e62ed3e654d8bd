package driver

import "fmt"

// PCR is a TPM platform configuration register index.
type PCR int

// MaxPCR is the highest PCR index accepted: PCRs 0-23 exist on every
// PC-client TPM (TCG PC Client Platform TPM Profile).
const MaxPCR PCR = 23

// RangeError is a PCR index outside 0..MaxPCR. Its message reads
// "N is not in 0..23"; callers prefix the field or flag name.
type RangeError struct{ PCR int }

func (e *RangeError) Error() string {
	return fmt.Sprintf("%d is not in 0..%d", e.PCR, int(MaxPCR))
}

// ParsePCR returns n as a PCR if it is in 0..MaxPCR.
func ParsePCR(n int) (PCR, error) {
	p := PCR(n)
	return p, p.Validate()
}

// Validate returns a *RangeError unless p is in 0..MaxPCR.
func (p PCR) Validate() error {
	if p < 0 || p > MaxPCR {
		return &RangeError{PCR: int(p)}
	}
	return nil
}
