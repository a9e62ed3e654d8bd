package manifest

import (
	"context"
	"fmt"
)

// MeasureComponentFunc measures one image (the stream path of package oci)
// into the CMC v0.9 component its Manifest carries.
type MeasureComponentFunc func(ctx context.Context, imageRef string, opts RunOptions) (Component, ImageInfo, error)

// dialect validates cfg's CMC version ("" is DefaultCMCVersion) and that
// the functions of that dialect are set.
func (cfg *GenerateConfig) dialect() (CMCVersion, error) {
	v, err := ParseCMCVersion(string(cfg.CMCVersion))
	if err != nil {
		return "", fmt.Errorf("generate: %w", err)
	}
	if cfg.Sign == nil || v == CMC07 && cfg.Measure == nil || v == CMC09 && cfg.MeasureComponent == nil {
		return "", fmt.Errorf("generate: no measure or sign function for CMC %s", v)
	}
	if v == CMC09 && cfg.DeviceDescription != "" {
		return "", fmt.Errorf("%w: device description: an App Description is CMC 0.7's; CMC %s takes an Image Description", ErrField, v)
	}
	if v == CMC07 && cfg.ImageDescription != "" {
		return "", fmt.Errorf("%w: image description: CMC 0.9's; CMC 0.7 takes a Device Description", ErrField)
	}
	return v, nil
}

// templateType is the document type of CMC version v's manifests.
func templateType(v CMCVersion) string {
	if v == CMC09 {
		return TypeManifest
	}
	return TypeAppManifest
}

// checkTemplate checks that tmpl is a manifest of dialect v, and for CMC
// 0.9 that its version is one CMC keeps (CheckVersion): a template CMC
// would ignore fails before anything is measured.
func checkTemplate(tmpl *Document, v CMCVersion) error {
	want := templateType(v)
	if t := tmpl.Type(); t != want {
		if dv, ok := DialectOf(t); ok && dv != v {
			return fmt.Errorf("%w: %q is a CMC %s document, but the CMC version is %s (select CMC version %s: cmc_version \"%s\" in a batch file, --cmc-version %s; or give a %q template)", ErrUnknownType, t, dv, v, dv, dv, dv, want)
		}
		return fmt.Errorf("%w: %q, want %q", ErrUnknownType, t, want)
	}
	if v != CMC09 {
		return nil
	}
	ver, _ := tmpl.get(tmpl.root, "version", 2)
	s, ok := ver.(string)
	if !ok {
		return fmt.Errorf("%w: version: %s, want an RFC 3339 string", ErrField, kindOf(ver))
	}
	if err := CheckVersion(s); err != nil {
		return fmt.Errorf("version: %w", err)
	}
	return nil
}

// measureInto measures j's image for dialect v and puts its reference
// value (0.7) or component (0.9) into d, and into res.
func measureInto(ctx context.Context, d *Document, j Job, v CMCVersion, cfg GenerateConfig, res *GenerateResult) error {
	if v == CMC09 {
		c, info, err := cfg.MeasureComponent(ctx, j.Image, j.RunOptions)
		if err != nil {
			return fmt.Errorf("measure: %w", err)
		}
		res.ImageDigest, res.Platform, res.Component = info.Digest, info.Platform, &c
		return d.SetComponents([]Component{c})
	}
	rv, info, err := cfg.Measure(ctx, j.Image, j.RunOptions)
	if err != nil {
		return fmt.Errorf("measure: %w", err)
	}
	res.ImageDigest, res.Platform, res.ReferenceValue = info.Digest, info.Platform, &rv
	return d.SetReferenceValues([]ReferenceValue{rv})
}

// putDescription adds j's entry to a Device Description (an App
// Description with the run's environment) or an Image Description (a
// Manifest Description naming the manifest, with j's ociRules).
func putDescription(dd *Document, j Job) error {
	var err error
	if dd.Type() == TypeImageDescription {
		_, err = dd.PutManifestDescription(ManifestDescription{Name: j.Name, Manifest: j.Name, OciRules: j.OciRules})
	} else {
		env, _ := ParseEnv(j.Env)
		_, err = dd.PutAppDescription(AppDescription{Name: j.Name, AppManifest: j.Name, Environment: env})
	}
	return err
}

// SetComponents replaces the components of a CMC v0.9 Manifest's SBOM,
// keeping every other member (of the SBOM too); a Manifest without an SBOM
// gets the head CreateManifest writes.
func (d *Document) SetComponents(cs []Component) error {
	if t := d.Type(); t != TypeManifest {
		return fmt.Errorf("%w: set components: document is %q, want %q", ErrUnknownType, t, TypeManifest)
	}
	if cs == nil {
		cs = []Component{}
	}
	sb, ok := d.get(d.root, "sbom", 10)
	if !ok || sb == nil {
		g, err := toGeneric(Sbom{BomFormat: BomFormatCycloneDX, SpecVersion: SbomSpecVersion, Version: 1, Components: cs}, d.format)
		if err != nil {
			return err
		}
		d.set(d.root, "sbom", 10, g)
		return nil
	}
	if !d.isObject(sb) {
		return fmt.Errorf("%w: sbom: %s, want an object", ErrField, kindOf(sb))
	}
	g, err := toGeneric(cs, d.format)
	if err != nil {
		return err
	}
	d.set(sb, "components", 3, g)
	return nil
}
