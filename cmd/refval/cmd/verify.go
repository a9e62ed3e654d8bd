package cmd

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/signing"
)

func newVerifyCmd() *cobra.Command {
	var (
		cas                []string
		at, payloadOut, fm string
		min                int
	)
	cmd := &cobra.Command{
		Use:   "verify --ca ROOTS FILE",
		Short: "Verify a signed manifest or description",
		Long: `Verify a JWS or COSE_Sign envelope: every signature must verify with an alg
that fits its leaf key, over an x5c/x5chain that chains to the --ca roots and
is valid at --at (default now); the payload's validity window must contain
--at; at least --min-signatures distinct signers must have signed. Prints a
JSON result with the reason per signature and exits 1 on any failure.
--payload-out writes the payload only when everything verified.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(cas) == 0 {
				return UsageErrorf("--ca is required")
			}
			opts := []signing.VerifyOption{signing.WithMinSignatures(min)}
			if min < 1 {
				return UsageErrorf("--min-signatures: %d is less than 1", min)
			}
			if at != "" {
				t, err := manifest.ParseTime(at)
				if err != nil {
					return UsageErrorf("--at: %v", err)
				}
				opts = append(opts, signing.WithTime(t))
			} else {
				opts = append(opts, signing.WithTime(time.Now()))
			}
			if fm != "" {
				f, err := manifest.ParseFormat(fm)
				if err != nil {
					return UsageErrorf("--format: %v", err)
				}
				opts = append(opts, signing.WithFormat(f))
			}
			roots := x509.NewCertPool()
			for _, c := range cas {
				certs, err := signing.LoadCertificates(c)
				if err != nil {
					return err
				}
				for _, crt := range certs {
					roots.AddCert(crt)
				}
			}
			env, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			res, verr := signing.Verify(env, roots, opts...)
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(res); err != nil {
				return err
			}
			if verr != nil {
				return fmt.Errorf("%s: %w", args[0], verr)
			}
			if payloadOut != "" {
				return atomicfile.WriteFile(payloadOut, res.Payload, 0o644)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&cas, "ca", nil, "PEM file of trusted root certificates (repeatable)")
	fl.StringVar(&at, "at", "", "verification time: RFC 3339, YYYY-MM-DD or @UNIXSECONDS (default now)")
	fl.IntVar(&min, "min-signatures", 1, "valid signatures from distinct signers required")
	fl.StringVar(&payloadOut, "payload-out", "", "write the verified payload to this file")
	fl.StringVar(&fm, "format", "", "envelope encoding json (JWS) or cbor (COSE) (default: detected)")
	return cmd
}
