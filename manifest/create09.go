package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/refval/refval/bundle"
)

// ErrVersion: a metadata version CMC ignores. CMC (v0.7 and v0.9) drops
// every metadata object whose version is not an RFC 3339 time, silently
// (a log line on the verifier's side), so such a manifest never matches.
var ErrVersion = errors.New("version is not an RFC 3339 time")

// CheckVersion returns ErrVersion unless v is an RFC 3339 time, the form
// CMC's metadata filter keeps (time.Parse with time.RFC3339).
func CheckVersion(v string) error {
	if _, err := time.Parse(time.RFC3339, v); err != nil {
		return fmt.Errorf("%w: %q (CMC ignores such metadata; use e.g. 2026-01-02T15:04:05Z)", ErrVersion, v)
	}
	return nil
}

// ContainerComponent returns the CMC v0.9 reference value of a measured
// container, as CMC's SW and TPM verifiers match it: the SHA-256 hash is the
// rootfs hash (CMC finds the event by it), ctrData holds both component
// hashes and the reference OCI spec (CMC recomputes the config hash from
// it, else compares it rule by rule with the measured spec), and the
// properties give the trust anchor (SW for DriverSW, TPM for DriverTPM) and
// the index (the PCR, also for the list of the sw driver). The spec is r's
// normalised config, so that its CMC config hash is r.ConfigSha256 when r
// was measured with bundle.SchemeCMC09.
func ContainerComponent(name, driver string, pcr int, optional bool, r *bundle.Result) (Component, error) {
	c := Component{
		Type:     ComponentApplication,
		Name:     name,
		Hashes:   []Hash{{Alg: HashSHA256, Content: HexBytes(r.RootfsSha256[:])}},
		Optional: optional,
	}
	if pcr < 0 || pcr > 23 {
		return c, fmt.Errorf("pcr %d: not in 0..23", pcr)
	}
	ta := TrustAnchorSW
	switch driver {
	case DriverTPM:
		ta = TrustAnchorTPM
	case DriverSW:
	default:
		return c, fmt.Errorf("driver %q: want %s or %s", driver, DriverTPM, DriverSW)
	}
	c.Properties = []Property{{Name: PropertyTrustAnchor, Value: ta}, {Name: PropertyIndex, Value: strconv.Itoa(pcr)}}
	spec := new(specs.Spec)
	if err := json.Unmarshal(r.NormalizedConfig, spec); err != nil {
		return c, fmt.Errorf("%w: ctrData.ociSpec: normalised config is not a runtime spec: %v", ErrField, err)
	}
	c.CtrData = &ContainerData{
		ConfigSha256: HexBytes(r.ConfigSha256[:]),
		RootfsSha256: HexBytes(r.RootfsSha256[:]),
		OciSpec:      spec,
	}
	return c, nil
}

// ManifestOptions are the members of a new CMC v0.9 Manifest.
type ManifestOptions struct {
	Name                string
	Version             string // RFC 3339 (CheckVersion)
	Description         string
	DeveloperCommonName string
	BaseLayers          []string
	CertLevel           int
	Validity            Validity
	Components          []Component
}

// CreateManifest returns a new CMC v0.9 Manifest in format f, the document
// `metatool create manifest --components FILE` writes, with the SBOM head
// metatool writes by default (CycloneDX, spec version 1.7, version 1).
func CreateManifest(o ManifestOptions, f Format) (*Document, error) {
	if o.Name == "" {
		return nil, fmt.Errorf("%w: name is empty", ErrField)
	}
	if err := CheckVersion(o.Version); err != nil {
		return nil, err
	}
	if _, _, err := o.Validity.Times(); err != nil {
		return nil, err
	}
	val := o.Validity
	m := Manifest{
		MetaInfo:            MetaInfo{Type: TypeManifest, Name: o.Name, Version: o.Version, Validity: &val, Description: o.Description},
		Sbom:                &Sbom{BomFormat: BomFormatCycloneDX, SpecVersion: SbomSpecVersion, Version: 1, Components: o.Components},
		DeveloperCommonName: o.DeveloperCommonName,
		BaseLayers:          o.BaseLayers,
		CertLevel:           o.CertLevel,
	}
	root, err := toGeneric(m, f)
	if err != nil {
		return nil, err
	}
	return &Document{format: f, root: root}, nil
}

// ImageDescriptionOptions are the members of a new Image Description.
type ImageDescriptionOptions struct {
	Name, Version, Description, Location string
	Validity                             Validity
	Descriptions                         []ManifestDescription
}

// CreateImageDescription returns a new CMC v0.9 Image Description in
// format f; each description gets type "Manifest Description" if unset.
func CreateImageDescription(o ImageDescriptionOptions, f Format) (*Document, error) {
	if o.Name == "" {
		return nil, fmt.Errorf("%w: name is empty", ErrField)
	}
	if err := CheckVersion(o.Version); err != nil {
		return nil, err
	}
	if _, _, err := o.Validity.Times(); err != nil {
		return nil, err
	}
	val := o.Validity
	descs := append([]ManifestDescription(nil), o.Descriptions...)
	for i := range descs {
		if descs[i].Type == "" {
			descs[i].Type = TypeManifestDescription
		}
		if descs[i].Name == "" || descs[i].Manifest == "" {
			return nil, fmt.Errorf("%w: descriptions[%d]: name and manifest are required", ErrField, i)
		}
	}
	d := ImageDescription{
		MetaInfo:     MetaInfo{Type: TypeImageDescription, Name: o.Name, Version: o.Version, Validity: &val, Description: o.Description},
		Location:     o.Location,
		Descriptions: descs,
	}
	root, err := toGeneric(d, f)
	if err != nil {
		return nil, err
	}
	return &Document{format: f, root: root}, nil
}

// ReadComponents decodes CMC v0.9 components from JSON or CBOR: an array
// (the output of measure/measure-bundle with CMC version 0.9, metatool's
// --components file) or a single object. Unknown members are an error in
// JSON, since a member refval cannot represent would be dropped silently.
func ReadComponents(b []byte) ([]Component, error) {
	f, err := DetectFormat(b)
	if err != nil {
		return nil, err
	}
	if _, err := decodeGeneric(b, f); err != nil { // syntax, duplicates, trailing data
		return nil, err
	}
	var out []Component
	switch f {
	case JSON:
		t := bytes.TrimSpace(b)
		if len(t) > 0 && t[0] == '{' {
			t = append(append([]byte{'['}, t...), ']')
		}
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out); err != nil {
			return nil, FieldError(err)
		}
	case CBOR:
		if err := cborDec.Unmarshal(b, &out); err != nil {
			var one Component
			if err2 := cborDec.Unmarshal(b, &one); err2 != nil {
				return nil, fmt.Errorf("%w: %v", ErrField, err)
			}
			out = []Component{one}
		}
	}
	for i, c := range out {
		if c.Name == "" || len(c.Hash(HashSHA256)) == 0 {
			return nil, fmt.Errorf("%w: components[%d]: name and a %s hash are required", ErrField, i, HashSHA256)
		}
	}
	return out, nil
}

// IsComponentList reports whether b (JSON or CBOR reference values) holds
// CMC v0.9 components rather than v0.7 reference values: its first object
// has "hashes" (key 2 holding an array in CBOR is ambiguous, so CBOR is
// judged by a "type" that is not a v0.7 reference-value type).
func IsComponentList(b []byte) bool {
	f, err := DetectFormat(b)
	if err != nil {
		return false
	}
	root, err := decodeGeneric(b, f)
	if err != nil {
		return false
	}
	if l, ok := root.([]any); ok {
		if len(l) == 0 {
			return false
		}
		root = l[0]
	}
	var t any
	switch m := root.(type) {
	case map[string]any:
		if _, ok := m["hashes"]; ok {
			return true
		}
		t = m["type"]
	case map[any]any:
		t = m[uint64(0)]
	default:
		return false
	}
	s, _ := t.(string)
	return s != "" && s != TypeSW && s != TypeTPM
}

// WriteComponents writes components as `refval measure-bundle
// --cmc-version 0.9` prints them (and metatool's --components reads them):
// a JSON array, two-space indented, with a trailing newline.
func WriteComponents(w io.Writer, cs []Component) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(cs)
}
