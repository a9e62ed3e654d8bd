package oci

import (
	"errors"
	"testing"
)

// FuzzParseReference: any string gives a reference or an error, never a
// panic, and an unknown transport is always ErrUnknownTransport.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"docker://127.0.0.1:5000/a/b:c", "oci:/x:y", "oci-archive:a.tar", "docker-archive:a.tar:n:t", "dir:/d", "ftp://x", "x", ":", "docker://", "oci:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err == nil && ref == nil {
			t.Fatal("nil reference without error")
		}
		if err != nil && !errors.Is(err, ErrUnknownTransport) && !errors.Is(err, ErrInvalidReference) {
			t.Fatalf("%q: unclassified error %v", s, err)
		}
	})
}
