package manifest

// Reference value types of the CMC metadata format.
const (
	TypeTPM = "TPM Reference Value"
	TypeSW  = "SW Reference Value"
)

// DefaultPCR is the PCR the CMC container measurements are extended into.
const DefaultPCR = 11

// ReferenceValue is one entry of an App Manifest's referenceValues, in
// the CMC format; CtrData carries refval's component hashes. CBOR keys
// 0-5 and 9 are CMC's; ctrData's key 20 is refval's choice, above the range
// CMC uses so that a key CMC adds there later cannot collide with it
// (docs/manifests.md).
type ReferenceValue struct {
	Type        string   `json:"type" cbor:"0,keyasint"`
	Sha256      HexBytes `json:"sha256,omitempty" cbor:"1,keyasint,omitempty"`
	Sha384      HexBytes `json:"sha384,omitempty" cbor:"2,keyasint,omitempty"`
	Name        string   `json:"name,omitempty" cbor:"3,keyasint,omitempty"`
	Optional    bool     `json:"optional,omitempty" cbor:"4,keyasint,omitempty"`
	Pcr         *int     `json:"pcr,omitempty" cbor:"5,keyasint,omitempty"`
	Description string   `json:"description,omitempty" cbor:"9,keyasint,omitempty"`
	CtrData     *CtrData `json:"ctrData,omitempty" cbor:"20,keyasint,omitempty"`
}

// CtrData holds the two component hashes of a container reference value,
// whose template hash is the value's sha256.
type CtrData struct {
	ConfigSha256 HexBytes `json:"configSha256" cbor:"0,keyasint"`
	RootfsSha256 HexBytes `json:"rootfsSha256" cbor:"1,keyasint"`
}
