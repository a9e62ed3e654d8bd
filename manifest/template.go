package manifest

import "fmt"

// templateType is the document type of CMC version v's manifests: a
// Manifest for CMC 0.9, an App Manifest for 0.7.
func templateType(v CMCVersion) string {
	if v.Resolved() == CMC09 {
		return TypeManifest
	}
	return TypeAppManifest
}

// CheckTemplate checks that tmpl is a manifest of dialect v, and for CMC
// 0.9 that its version is one CMC keeps (CheckVersion): a template CMC
// would ignore fails before anything is measured. A template of the other
// dialect fails naming the CMC version to select.
func CheckTemplate(tmpl *Document, v CMCVersion) error {
	v = v.Resolved()
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

// Clone returns an independent copy of d: edits of either do not reach
// the other.
func (d *Document) Clone() (*Document, error) {
	b, err := d.Bytes()
	if err != nil {
		return nil, err
	}
	return Parse(b, d.format)
}

// SetName replaces the document's name (member "name", CBOR key 1 of the
// manifest types), keeping every other member.
func (d *Document) SetName(name string) { d.set(d.root, "name", 1, name) }

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
