package signing

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"testing"
	"time"
)

// BenchmarkVerify reports the cost of a full verification (parse, chain,
// validity, signature) against the bare ECDSA P-256 check of the same
// payload measured in the same run: "x-bare-ecdsa" is the ratio.
func BenchmarkVerify(b *testing.B) {
	pki := newPKI(b, "bench")
	s := pki.signer(b, "P-256", "a")
	key := s.(*fileSigner).Signer.(*ecdsa.PrivateKey)
	for _, f := range formats {
		b.Run(string(f), func(b *testing.B) {
			payload := testManifest(b, f)
			env, err := Sign(payload, f, s)
			if err != nil {
				b.Fatal(err)
			}
			digest := sha256.Sum256(payload)
			sig, _ := ecdsa.SignASN1(nil, key, digest[:])
			const n = 200
			start := time.Now()
			for i := 0; i < n; i++ {
				d := sha256.Sum256(payload)
				if !ecdsa.VerifyASN1(&key.PublicKey, d[:], sig) {
					b.Fatal("baseline")
				}
			}
			bare := time.Since(start) / n
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := Verify(env, pki.pool, WithTime(testEpoch)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(per)/float64(bare), "x-bare-ecdsa")
		})
	}
}
