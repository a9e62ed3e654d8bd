package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/refval/refval/internal/atomicfile"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/signing"
)

// cmcVersionUsage is the help of --cmc-version; %s is what an absent flag
// means.
const cmcVersionUsage = `CMC dialect: 0.9 (Manifest, CycloneDX components, scheme cmc = cmc-0.9) or 0.7 (App Manifest, referenceValues, scheme cmc = v0.7's) (default %s)`

// addCMCVersionFlag registers --cmc-version on fl, validated when parsed
// (a usage error); without it *p stays the zero version, which
// CMCVersion.Resolved makes manifest.DefaultCMCVersion, current CMC.
func addCMCVersionFlag(fl *pflag.FlagSet, p *manifest.CMCVersion) {
	fl.Var(p, "cmc-version", fmt.Sprintf(cmcVersionUsage, `"`+string(manifest.DefaultCMCVersion)+`"`))
}

// schemeFor resolves the scheme name "cmc" to the CMC version's own scheme.
func schemeFor(s bundle.Scheme, v manifest.CMCVersion) bundle.Scheme {
	if s == bundle.SchemeCMC {
		return v.Scheme()
	}
	return s
}

// create09 holds what `manifest create` needs for the CMC v0.9 dialect.
type create09 struct {
	comps      []manifest.Component // measured by --from-image
	cmcVersion manifest.CMCVersion  // --cmc-version ("": the default)
	imageDesc  string               // Image Description to create or update
	ociRules   string               // JSON object file: the ociRules of the manifest's description
}

func (c *create09) register(fl *pflag.FlagSet) {
	addCMCVersionFlag(fl, &c.cmcVersion)
	fl.StringVar(&c.imageDesc, "image-description", "", "CMC 0.9: add or update this manifest's Manifest Description in this Image Description (created if missing)")
	fl.StringVar(&c.ociRules, "oci-rules", "", ociRulesUsage)
}

// dialect returns the CMC version of `manifest create`: --cmc-version,
// else manifest.DefaultCMCVersion. Reference values of the other dialect
// are refused, naming the flag that selects theirs (an App Manifest must
// not silently become a Manifest, or the reverse). Reference values on
// stdin are read here and put back.
func (c *create09) dialect(cmd *cobra.Command, refvals string) (manifest.CMCVersion, []byte, error) {
	var raw []byte
	if refvals != "" {
		var err error
		if refvals == "-" {
			raw, err = io.ReadAll(cmd.InOrStdin())
			cmd.SetIn(bytes.NewReader(raw))
		} else {
			raw, err = os.ReadFile(refvals)
		}
		if err != nil {
			return "", nil, err
		}
	}
	v := c.cmcVersion.Resolved()
	if raw == nil {
		return v, raw, nil
	}
	comps := manifest.IsComponentList(raw)
	switch {
	case v == manifest.CMC07 && comps:
		return "", nil, UsageErrorf("%s: CMC 0.9 components, but --cmc-version 0.7 (measure with --cmc-version 0.7, or drop it here)", refvals)
	case v == manifest.CMC09 && !comps:
		if rvs, err := manifest.ReadReferenceValues(raw); err == nil && len(rvs) > 0 {
			return "", nil, UsageErrorf("%s: CMC 0.7 reference values, but the dialect is CMC %s: give --cmc-version 0.7 (or measure without it for CMC 0.9 components)", refvals, v)
		}
	}
	return v, raw, nil
}

// run writes a CMC v0.9 Manifest (and the Image Description) for
// `manifest create`.
func (c *create09) run(cmd *cobra.Command, o manifest.CreateOptions, raw []byte, refvalsName, out string, f manifest.Format) error {
	comps := c.comps
	if raw != nil {
		var err error
		if comps, err = manifest.ReadComponents(raw); err != nil {
			return fmt.Errorf("%s: %w", refvalsName, err)
		}
	}
	d, err := manifest.CreateManifest(manifest.ManifestOptions{
		Name: o.Name, Version: o.Version, Description: o.Description, DeveloperCommonName: o.DeveloperCommonName,
		BaseLayers: o.Oss, CertLevel: o.CertificationLevel, Validity: o.Validity, Components: comps,
	}, f)
	if err != nil {
		return UsageErrorf("%v", err)
	}
	b, err := d.Bytes()
	if err != nil {
		return err
	}
	var writeID func() error
	if c.imageDesc != "" {
		if writeID, err = c.prepareImageDescription(cmd, o, f); err != nil {
			return err
		}
	} else if c.ociRules != "" {
		return UsageErrorf("--oci-rules needs --image-description")
	}
	if err := writeDocOutput(cmd, out, b); err != nil {
		return err
	}
	if writeID != nil {
		return writeID()
	}
	return nil
}

func (c *create09) prepareImageDescription(cmd *cobra.Command, o manifest.CreateOptions, f manifest.Format) (func() error, error) {
	md := manifest.ManifestDescription{Name: o.Name, Manifest: o.Name}
	if c.ociRules != "" {
		var err error
		if md.OciRules, err = readOCIRules(c.ociRules); err != nil {
			return nil, err
		}
	}
	var d *manifest.Document
	in, err := os.ReadFile(c.imageDesc)
	switch {
	case errors.Is(err, os.ErrNotExist):
		d, err = manifest.CreateImageDescription(manifest.ImageDescriptionOptions{
			Name: o.Name, Version: o.Version, Validity: o.Validity}, f)
		if err != nil {
			return nil, UsageErrorf("%v", err)
		}
	case err != nil:
		return nil, err
	default:
		if d, err = manifest.Parse(in, ""); err != nil {
			return nil, fmt.Errorf("%s: %w", c.imageDesc, err)
		}
	}
	replaced, err := d.PutManifestDescription(md)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.imageDesc, err)
	}
	b, err := d.Bytes()
	if err != nil {
		return nil, err
	}
	verb := "added"
	if replaced {
		verb = "updated"
	}
	return func() error {
		if err := atomicfile.WriteFile(c.imageDesc, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s manifest description %q\n", c.imageDesc, verb, o.Name)
		return nil
	}, nil
}

// ociRulesUsage is the help of --oci-rules.
const ociRulesUsage = "CMC 0.9: JSON file with the ociRules of the Manifest Description (verifier/ocivalidation.go of CMC)"

// readOCIRules reads an --oci-rules file: a JSON object, the ociRules of a
// Manifest Description.
func readOCIRules(path string) (map[string]any, error) {
	rb, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := manifest.ValidateJSON(rb); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var rules map[string]any
	if err := json.Unmarshal(rb, &rules); err != nil || rules == nil {
		return nil, fmt.Errorf("%s: ociRules must be a JSON object", path)
	}
	return rules, nil
}

// signDialect holds sign's dialect flags.
type signDialect struct {
	cmcVersion manifest.CMCVersion // --cmc-version ("": the document's)
	warnOnly   bool
}

func (s *signDialect) register(fl *pflag.FlagSet) {
	fl.Var(&s.cmcVersion, "cmc-version", fmt.Sprintf(cmcVersionUsage, "the document's"))
	fl.BoolVar(&s.warnOnly, "allow-cmc-rejected", false, "sign even with an algorithm the CMC version's verifier rejects (warn instead of failing)")
}

// apply sets each signer up for the CMC dialect of document d: the one
// --cmc-version names, else the one of d's type (CMC 0.7 for a type of
// neither dialect). An algorithm that CMC
// rejects fails, unless --allow-cmc-rejected is given or the dialect is
// only inferred from a CMC 0.7 document (which refval signed before it
// knew dialects: a warning keeps those outputs as they were).
func (s *signDialect) apply(w io.Writer, d *manifest.Document, signers []signing.Signer) error {
	v, inferred := s.cmcVersion, false
	if v != "" {
		if dv, ok := manifest.DialectOf(d.Type()); ok && dv != v {
			return UsageErrorf("--cmc-version %s: the document is a CMC %s %q", v, dv, d.Type())
		}
	} else if v, inferred = manifest.DialectOf(d.Type()); !inferred {
		// A type of neither dialect: CMC 0.7's algorithms, strictly, as
		// refval signed such documents before it knew dialects.
		v = manifest.CMC07
	}
	for i, sg := range signers {
		ds, err := signing.ForDialect(sg, v, d.Format())
		if err == nil {
			signers[i] = ds
			continue
		}
		if !errors.Is(err, signing.ErrAlgorithmRejected) || (!s.warnOnly && !(inferred && v == manifest.CMC07)) {
			return fmt.Errorf("signer %d: %w", i+1, err)
		}
		fmt.Fprintf(w, "warning: signer %d: %v\n", i+1, err)
	}
	return nil
}
