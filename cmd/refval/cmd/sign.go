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
		sd          signDialect
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
Device Description; Manifest, Image or Manifest Description of CMC 0.9;
"refval verify" would reject it).

The CMC dialect (--cmc-version, else the document's) decides which algorithms
CMC's verifier accepts: 0.9 JWS takes RS256/RS512/ES256/ES384/ES512 (an RSA
key then signs with RS256), 0.7 COSE ES256 only. sign refuses an algorithm
CMC would reject, or warns with --allow-cmc-rejected (and for a CMC 0.7
document without --cmc-version, as before).

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
			doc, err := manifest.Parse(payload, f)
			if err != nil {
				return fmt.Errorf("%s: %w", in, err)
			}
			if err := sd.apply(cmd.ErrOrStderr(), doc, signers); err != nil {
				return err
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
	sd.register(cmd.Flags())
	return cmd
}
