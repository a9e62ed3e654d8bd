package signing

import "testing"

// FuzzVerify: no envelope panics Verify; the result is always there and
// says valid exactly when there is no error; mutated envelopes (the seeds
// are valid ones) never verify with a changed payload.
func FuzzVerify(f *testing.F) {
	pki := newPKI(f, "fuzz")
	a, b := pki.signer(f, "P-256", "a"), pki.signer(f, "Ed25519", "b")
	seeds := map[string][]byte{}
	for _, fm := range formats {
		p := testManifest(f, fm)
		for _, ss := range [][]Signer{{a}, {a, b}} {
			env, err := Sign(p, fm, ss...)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(env)
			seeds[string(env)] = p
		}
	}
	f.Fuzz(func(t *testing.T, env []byte) {
		r, err := Verify(env, pki.pool, WithTime(testEpoch))
		if r == nil {
			t.Fatal("nil result")
		}
		if (err == nil) != r.Valid {
			t.Fatalf("err = %v but valid = %v", err, r.Valid)
		}
		if r.Valid {
			if _, isSeed := seeds[string(env)]; isSeed {
				return
			}
			// A re-serialised valid envelope may verify, but only over a
			// payload one of the signers signed.
			for _, p := range seeds {
				if string(p) == string(r.Payload) {
					return
				}
			}
			t.Fatalf("verified a payload nobody signed: %q", r.Payload)
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParsePrivateKey(b)
		_, _ = ParseCertificates(b)
	})
}
