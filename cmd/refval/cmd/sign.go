package cmd

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/signing"
)

func newSignCmd() *cobra.Command {
	var (
		sf          signerFlags
		in, out, fm string
	)
	cmd := &cobra.Command{
		Use:   "sign --in FILE --out FILE --key KEY --cert CHAIN [--key KEY --cert CHAIN]...",
		Short: "Sign a manifest or description (JWS for JSON, COSE_Sign for CBOR)",
		Long: `Sign a metadata document with one signature per signer. JSON input becomes
a JWS JSON serialization (alg and x5c in each protected header; the general
serialization with several signers), CBOR input a COSE_Sign (tag 98; alg
protected, x5chain unprotected). The algorithm follows the key: ES256/384/512
for ECDSA P-256/384/521, EdDSA for Ed25519, PS256 for RSA. A key that does not
match its leaf certificate is refused before anything is signed, and so is
input that is not a metadata document (App Manifest, App Description or
Device Description; "refval verify" would reject it).

The cmc-signing-tool form keeps working:
  refval sign -in F -out F -keys k1,k2 -x5cs leaf1,int1,ca1:leaf2,ca2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" || out == "" {
				return UsageErrorf("--in and --out are required")
			}
			var f manifest.Format
			if fm != "" {
				var err error
				if f, err = manifest.ParseFormat(fm); err != nil {
					return UsageErrorf("--format: %v", err)
				}
			}
			signers, err := sf.load()
			if err != nil {
				return err
			}
			payload, err := os.ReadFile(in)
			if err != nil {
				return err
			}
			// Only a metadata document can verify later (verify parses the
			// payload): refuse malformed input, an unknown type or an
			// already signed envelope instead of signing it.
			if _, err := manifest.Parse(payload, f); err != nil {
				return fmt.Errorf("%s: %w", in, err)
			}
			env, err := signing.Sign(payload, f, signers...)
			if err != nil {
				return fmt.Errorf("%s: %w", in, err)
			}
			return atomicfile.WriteFile(out, env, 0o644)
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "document to sign")
	cmd.Flags().StringVar(&out, "out", "", "signed envelope to write")
	cmd.Flags().StringVar(&fm, "format", "", "input encoding json or cbor (default: detected)")
	sf.register(cmd)
	return cmd
}
