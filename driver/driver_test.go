package driver

import (
	"errors"
	"testing"
)

func TestKind(t *testing.T) {
	tests := []struct {
		in      string
		ok, pcr bool
		ref     Kind
	}{
		{"sw", true, false, SW},
		{"tpm", true, true, TPM},
		{"cmcd", true, true, TPM},
		{"hsm", false, false, ""},
		{"", false, false, ""},
		{"TPM", false, false, ""},
	}
	for _, tt := range tests {
		k, err := ParseKind(tt.in)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrKind)) {
			t.Errorf("ParseKind(%q) = %v", tt.in, err)
			continue
		}
		if !tt.ok {
			continue
		}
		if k.ExtendsPCR() != tt.pcr || k.ReferenceKind() != tt.ref {
			t.Errorf("%s: ExtendsPCR %v ReferenceKind %s; want %v %s", k, k.ExtendsPCR(), k.ReferenceKind(), tt.pcr, tt.ref)
		}
	}
}

func TestPCR(t *testing.T) {
	for n, ok := range map[int]bool{-1: false, 0: true, 11: true, 23: true, 24: false, 1 << 40: false} {
		_, err := ParsePCR(n)
		var re *RangeError
		if (err == nil) != ok || (err != nil && (!errors.As(err, &re) || re.PCR != n)) {
			t.Errorf("ParsePCR(%d) = %v, want ok %v", n, err, ok)
		}
	}
}
