package manifest

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Document types of CMC v0.9 (attestationreport.go of CMC v0.9.15).
const (
	TypeManifest            = "Manifest"
	TypeImageDescription    = "Image Description"
	TypeManifestDescription = "Manifest Description"
)

// CMC v0.9 component vocabulary.
const (
	// ComponentApplication is the CycloneDX type CMC gives SW and TPM
	// components outside the firmware and OS PCRs (CycloneDxType).
	ComponentApplication = "application"
	// PropertyTrustAnchor and PropertyIndex are CMC's component properties:
	// where the value is measured, and the PCR (or list) index.
	PropertyTrustAnchor = "cmc.ta"
	PropertyIndex       = "cmc.index"
	TrustAnchorSW       = "SW"
	TrustAnchorTPM      = "TPM"
	// HashSHA256 is the hash name CMC compares against (crypto.SHA256.String()).
	HashSHA256 = "SHA-256"
	// BomFormatCycloneDX and SbomSpecVersion are metatool's defaults.
	BomFormatCycloneDX = "CycloneDX"
	SbomSpecVersion    = "1.7"
)

// MetaInfo is the common head of CMC v0.9 metadata (keys 0-4).
type MetaInfo struct {
	Type        string    `json:"type" cbor:"0,keyasint"`
	Name        string    `json:"name,omitempty" cbor:"1,keyasint,omitempty"`
	Version     string    `json:"version,omitempty" cbor:"2,keyasint,omitempty"`
	Validity    *Validity `json:"validity,omitempty" cbor:"3,keyasint,omitempty"`
	Description string    `json:"description,omitempty" cbor:"4,keyasint,omitempty"`
}

// Manifest is a CMC v0.9 Manifest: reference values as the components of
// a CycloneDX-style SBOM. Members refval does not write (SNP/TDX/SGX
// policies) are kept by the generic Document, not modelled here.
type Manifest struct {
	MetaInfo
	Sbom                *Sbom          `json:"sbom,omitempty" cbor:"10,keyasint,omitempty"`
	DeveloperCommonName string         `json:"developerCommonName,omitempty" cbor:"11,keyasint,omitempty"`
	BaseLayers          []string       `json:"baseLayers,omitempty" cbor:"12,keyasint,omitempty"`
	CertLevel           int            `json:"certLevel,omitempty" cbor:"13,keyasint,omitempty"`
	CaFingerprints      []string       `json:"caFingerprints,omitempty" cbor:"14,keyasint,omitempty"`
	Details             map[string]any `json:"details,omitempty" cbor:"18,keyasint,omitempty"`
	OmspServer          string         `json:"omspServer,omitempty" cbor:"20,keyasint,omitempty"`
}

// ImageDescription ties the manifests of a device image together.
type ImageDescription struct {
	MetaInfo
	Location     string                `json:"location,omitempty" cbor:"20,keyasint,omitempty"`
	Descriptions []ManifestDescription `json:"descriptions,omitempty" cbor:"21,keyasint,omitempty"`
}

// ManifestDescription names a manifest in an Image Description, with the
// ociRules CMC's SW verifier applies to its containers' configs.
type ManifestDescription struct {
	Type        string         `json:"type" cbor:"0,keyasint"`
	Name        string         `json:"name" cbor:"1,keyasint"`
	Description string         `json:"description,omitempty" cbor:"2,keyasint,omitempty"`
	Manifest    string         `json:"manifest,omitempty" cbor:"3,keyasint,omitempty"`
	OciRules    map[string]any `json:"ociRules,omitempty" cbor:"4,keyasint,omitempty"`
}

// Sbom is CMC's partial CycloneDX SBOM.
type Sbom struct {
	BomFormat   string      `json:"bomFormat" cbor:"0,keyasint"`
	SpecVersion string      `json:"specVersion" cbor:"1,keyasint"`
	Version     int         `json:"version,omitempty" cbor:"2,keyasint,omitempty"`
	Components  []Component `json:"components,omitempty" cbor:"3,keyasint,omitempty"`
}

// Component is one CMC v0.9 reference value or measurement event. For a
// container reference value the SHA-256 hash is the rootfs hash and
// CtrData.OciSpec the reference config; for a measured event the hash is
// the template hash.
type Component struct {
	Type        string         `json:"type" cbor:"0,keyasint"`
	Name        string         `json:"name" cbor:"1,keyasint"`
	Hashes      []Hash         `json:"hashes,omitempty" cbor:"2,keyasint,omitempty"`
	Version     string         `json:"version,omitempty" cbor:"3,keyasint,omitempty"`
	Optional    bool           `json:"optional,omitempty" cbor:"4,keyasint,omitempty"`
	Description string         `json:"description,omitempty" cbor:"5,keyasint,omitempty"`
	Properties  []Property     `json:"properties,omitempty" cbor:"6,keyasint,omitempty"`
	CtrData     *ContainerData `json:"ctrData,omitempty" cbor:"8,keyasint,omitempty"`
	PackageURL  string         `json:"purl,omitempty" cbor:"10,keyasint,omitempty"`
}

// Hash is one digest of a component.
type Hash struct {
	Alg     string   `json:"alg" cbor:"0,keyasint"`
	Content HexBytes `json:"content" cbor:"1,keyasint"`
}

// Property is a CycloneDX name-value pair.
type Property struct {
	Name  string `json:"name" cbor:"0,keyasint"`
	Value string `json:"value" cbor:"1,keyasint"`
}

// ContainerData is CMC v0.9's ctrData: the two component hashes and the
// OCI spec. CMC encodes ociSpec under the text key "ociSpec" in CBOR too.
type ContainerData struct {
	ConfigSha256 HexBytes    `json:"configSha256" cbor:"0,keyasint"`
	RootfsSha256 HexBytes    `json:"rootfsSha256" cbor:"1,keyasint"`
	OciSpec      *specs.Spec `json:"ociSpec,omitempty" cbor:"ociSpec,omitempty"`
}

// Hash returns the component's digest named alg ("" if none), compared
// without regard to case as CMC does.
func (c *Component) Hash(alg string) HexBytes {
	for _, h := range c.Hashes {
		if strings.EqualFold(h.Alg, alg) {
			return h.Content
		}
	}
	return nil
}

// Property returns the value of property name.
func (c *Component) Property(name string) (string, bool) {
	for _, p := range c.Properties {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// The CBOR key maps of CMC v0.9's documents, for the generic Document
// (conversion and editing); ociSpec and ociRules have text keys in CBOR
// and pass through unchanged.
var (
	hash09Schema = &schema{fields: []field{
		{name: "alg", key: 0},
		{name: "content", key: 1, bytes: true},
	}}
	property09Schema = &schema{fields: []field{
		{name: "name", key: 0},
		{name: "value", key: 1},
	}}
	ctrData09Schema = &schema{fields: []field{
		{name: "configSha256", key: 0, bytes: true},
		{name: "rootfsSha256", key: 1, bytes: true},
	}}
	component09Schema = &schema{fields: []field{
		{name: "type", key: 0},
		{name: "name", key: 1},
		{name: "hashes", key: 2, obj: hash09Schema, list: true},
		{name: "version", key: 3},
		{name: "optional", key: 4},
		{name: "description", key: 5},
		{name: "properties", key: 6, obj: property09Schema, list: true},
		{name: "eventdata", key: 7},
		{name: "ctrData", key: 8, obj: ctrData09Schema},
		{name: "intelCollateral", key: 9},
		{name: "purl", key: 10},
	}}
	sbom09Schema = &schema{fields: []field{
		{name: "bomFormat", key: 0},
		{name: "specVersion", key: 1},
		{name: "version", key: 2},
		{name: "components", key: 3, obj: component09Schema, list: true},
	}}
	metaInfo09Fields = []field{
		{name: "type", key: 0},
		{name: "name", key: 1},
		{name: "version", key: 2},
		{name: "validity", key: 3, obj: validitySchema},
		{name: "description", key: 4},
	}
	manifest09Schema = &schema{fields: append(append([]field{}, metaInfo09Fields...),
		field{name: "sbom", key: 10, obj: sbom09Schema},
		field{name: "developerCommonName", key: 11},
		field{name: "baseLayers", key: 12},
		field{name: "certLevel", key: 13},
		field{name: "caFingerprints", key: 14},
		field{name: "snpPolicy", key: 15},
		field{name: "tdxPolicy", key: 16},
		field{name: "sgxPolicy", key: 17},
		field{name: "details", key: 18},
		field{name: "omspServer", key: 20},
	)}
	manifestDescription09Schema = &schema{fields: []field{
		{name: "type", key: 0},
		{name: "name", key: 1},
		{name: "description", key: 2},
		{name: "manifest", key: 3},
		{name: "ociRules", key: 4},
	}}
	imageDescription09Schema = &schema{fields: append(append([]field{}, metaInfo09Fields...),
		field{name: "location", key: 20},
		field{name: "descriptions", key: 21, obj: manifestDescription09Schema, list: true},
	)}
)

func init() {
	documentSchemas[TypeManifest] = manifest09Schema
	documentSchemas[TypeImageDescription] = imageDescription09Schema
	documentSchemas[TypeManifestDescription] = manifestDescription09Schema
}
