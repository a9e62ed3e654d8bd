package cmd

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/signing"
)

func init() {
	register(newSignCmd)
	// CMC's cmc-signing-tool: -in F -out F -keys k1,k2 -x5cs leaf1,int1:leaf2,ca2
	registerLegacyFlags("sign", "in", "out", "keys", "x5cs")
}

// signerFlags name the signing identities: repeated --key/--cert pairs, or
// the old tool's --keys/--x5cs lists.
type signerFlags struct {
	keys, certs []string
	legacyKeys  string
	legacyX5cs  string
}

func (s *signerFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&s.keys, "key", nil, "PEM private key of a signer (repeat with --cert per signer)")
	fl.StringArrayVar(&s.certs, "cert", nil, "certificate chain of the signer, leaf first: a PEM bundle or comma-separated PEM files")
	fl.StringVar(&s.legacyKeys, "keys", "", "cmc-signing-tool form: comma-separated keys")
	fl.StringVar(&s.legacyX5cs, "x5cs", "", "cmc-signing-tool form: one chain per key, files comma-separated, chains colon-separated")
	_ = fl.MarkHidden("keys")
	_ = fl.MarkHidden("x5cs")
}

// pairs returns (key file, chain files) per signer.
func (s *signerFlags) pairs() ([][]string, error) {
	var out [][]string
	if s.legacyKeys != "" || s.legacyX5cs != "" {
		if len(s.keys) > 0 || len(s.certs) > 0 {
			return nil, UsageErrorf("--keys/--x5cs and --key/--cert exclude each other")
		}
		keys := strings.Split(s.legacyKeys, ",")
		chains := strings.Split(s.legacyX5cs, ":")
		if s.legacyKeys == "" || s.legacyX5cs == "" || len(keys) != len(chains) {
			return nil, UsageErrorf("-keys names %d key(s) but -x5cs %d chain(s)", len(keys), len(chains))
		}
		for i, k := range keys {
			out = append(out, append([]string{strings.TrimSpace(k)}, splitFiles(chains[i])...))
		}
		return out, nil
	}
	if len(s.keys) == 0 || len(s.keys) != len(s.certs) {
		return nil, UsageErrorf("give one --cert per --key (got %d key(s), %d chain(s))", len(s.keys), len(s.certs))
	}
	for i, k := range s.keys {
		out = append(out, append([]string{k}, splitFiles(s.certs[i])...))
	}
	return out, nil
}

// splitFiles splits a comma-separated file list, ignoring blanks around names.
func splitFiles(list string) []string {
	var out []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (s *signerFlags) load() ([]signing.Signer, error) {
	pairs, err := s.pairs()
	if err != nil {
		return nil, err
	}
	signers := make([]signing.Signer, len(pairs))
	for i, p := range pairs {
		if signers[i], err = signing.LoadSigner(p[0], p[1:]...); err != nil {
			return nil, fmt.Errorf("signer %d: %w", i+1, err)
		}
	}
	return signers, nil
}

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
