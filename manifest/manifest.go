package manifest

import "errors"

// Document types of the CMC metadata format that refval reads and writes.
const (
	TypeAppManifest       = "App Manifest"
	TypeAppDescription    = "App Description"
	TypeDeviceDescription = "Device Description"
)

// Sentinel errors; errors of this package wrap one of them where one
// applies, so callers can test with errors.Is.
var (
	// ErrFormat: the encoding is neither JSON nor CBOR, or not the one asked for.
	ErrFormat = errors.New("unsupported format")
	// ErrSyntax: the input is not well-formed JSON or CBOR, or has duplicate keys.
	ErrSyntax = errors.New("malformed document")
	// ErrTrailingData: bytes follow the document.
	ErrTrailingData = errors.New("trailing data")
	// ErrField: a field has the wrong type or an invalid value.
	ErrField = errors.New("invalid field")
	// ErrUnknownType: the document's "type" is not one this package knows.
	ErrUnknownType = errors.New("unknown document type")
	// ErrNotConvertible: a value has no lossless form in the other encoding
	// (for example an unknown CBOR byte string or tag, or a JSON key that
	// would collide with an integer key).
	ErrNotConvertible = errors.New("not convertible losslessly")
	// ErrNoTime: a time was needed but neither given nor in SOURCE_DATE_EPOCH.
	ErrNoTime = errors.New("no time given")
)

// AppManifest is the CMC App Manifest: the reference values of one
// application (container), signed by its developer.
type AppManifest struct {
	Type                string           `json:"type" cbor:"0,keyasint"`
	Name                string           `json:"name" cbor:"1,keyasint"`
	Version             string           `json:"version" cbor:"2,keyasint"`
	DeveloperCommonName string           `json:"developerCommonName,omitempty" cbor:"3,keyasint,omitempty"`
	Oss                 []string         `json:"oss,omitempty" cbor:"4,keyasint,omitempty"`
	Description         string           `json:"description,omitempty" cbor:"5,keyasint,omitempty"`
	CertificationLevel  int              `json:"certificationLevel,omitempty" cbor:"6,keyasint,omitempty"`
	Validity            Validity         `json:"validity" cbor:"7,keyasint"`
	ReferenceValues     []ReferenceValue `json:"referenceValues" cbor:"8,keyasint"`
}

// Validity is the validity window of a manifest, as RFC 3339 strings.
type Validity struct {
	NotBefore string `json:"notBefore" cbor:"0,keyasint"`
	NotAfter  string `json:"notAfter" cbor:"1,keyasint"`
}

// AppDescription is the entry of a Device Description that says which App
// Manifest an application on the device is measured against, and how it runs.
type AppDescription struct {
	Type                string               `json:"type" cbor:"0,keyasint"`
	Name                string               `json:"name" cbor:"1,keyasint"`
	Version             string               `json:"version,omitempty" cbor:"2,keyasint,omitempty"`
	AppManifest         string               `json:"appManifest" cbor:"3,keyasint"`
	ExternalConnections []ExternalConnection `json:"externalConnections,omitempty" cbor:"4,keyasint,omitempty"`
	Environment         []EnvVar             `json:"environment,omitempty" cbor:"5,keyasint,omitempty"`
}

// EnvVar is one environment variable of an App Description.
type EnvVar struct {
	Key   string `json:"key" cbor:"0,keyasint"`
	Value string `json:"value" cbor:"1,keyasint"`
}
