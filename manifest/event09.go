package manifest

import (
	"encoding/json"
	"fmt"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/refval/refval/bundle"
)

// TypeSWEventlog is the type of CMC v0.9's container measurement list.
const TypeSWEventlog = "SW Eventlog"

// Artifact is CMC v0.9's measurement list (measure/measure.go): one object
// with the list's index and its events, each a Component whose SHA-256
// hash is the template hash.
type Artifact struct {
	Type   string      `json:"type" cbor:"0,keyasint"`
	Index  int         `json:"index" cbor:"1,keyasint"`
	Events []Component `json:"events,omitempty" cbor:"2,keyasint,omitempty"`
}

// ContainerEvent returns the CMC v0.9 measurement event of a started
// container, as cmcd records it from a Measure request: the template hash
// as the SHA-256 hash, ctrData with both component hashes and the measured
// (normalised) OCI spec, which CMC's verifier compares under ociRules when
// the config hash differs from the reference's, and the index.
func ContainerEvent(name string, index int, r *bundle.Result) (Component, error) {
	spec := new(specs.Spec)
	if err := json.Unmarshal(r.NormalizedConfig, spec); err != nil {
		return Component{}, fmt.Errorf("%w: ctrData.ociSpec: normalised config is not a runtime spec: %v", ErrField, err)
	}
	return NewEvent(name, index, r.TemplateSha256[:], r.ConfigSha256[:], r.RootfsSha256[:], spec), nil
}

// NewEvent returns a CMC v0.9 container measurement event from its parts
// (see ContainerEvent); spec may be nil.
func NewEvent(name string, index int, template, config, rootfs []byte, spec *specs.Spec) Component {
	return Component{
		Type:       ComponentApplication,
		Name:       name,
		Hashes:     []Hash{{Alg: HashSHA256, Content: HexBytes(template)}},
		Properties: []Property{{Name: PropertyIndex, Value: strconv.Itoa(index)}},
		CtrData:    &ContainerData{ConfigSha256: HexBytes(config), RootfsSha256: HexBytes(rootfs), OciSpec: spec},
	}
}
