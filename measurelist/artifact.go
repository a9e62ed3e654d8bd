package measurelist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/fxamacker/cbor/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/driver"
	"github.com/refval/refval/manifest"
)

// Codec is one wire format of the list: Format (CMC v0.7's bare array of
// entries) or Artifact (CMC v0.9's "SW Eventlog").
type Codec interface {
	Decode(raw []byte) ([]Entry, error)
	Encode(l []Entry) ([]byte, error)
}

// cborDec09 reads CMC v0.9 lists: an event's OCI spec nests deeper than
// the v0.7 entries (the CBOR default bound of 32 levels).
var cborDec09, _ = cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF, MaxNestedLevels: 32}.DecMode()

// Decode parses a list in format f (see the package function Decode).
func (f Format) Decode(raw []byte) ([]Entry, error) { return Decode(raw, f) }

// Encode serialises a list in format f (see the package function Encode).
func (f Format) Encode(l []Entry) ([]byte, error) { return Encode(l, f) }

// Artifact is CMC v0.9's list format (measure/measure.go of CMC v0.9.15):
// one manifest.Artifact of type "SW Eventlog" with the list's index and one
// event per entry (manifest.Component: the template hash as SHA-256, the
// two component hashes and the OCI spec in ctrData, the index as
// property), in Format's encoding. CMC's sw driver and cmcd read and write
// exactly this; refval's entries must carry Spec (NewEntry09).
type Artifact struct {
	Format Format
	// Index is the artifact's index (the PCR; CMC requires every event's
	// index to equal it).
	Index int
}

// CodecFor returns the list format of CMC version v: Format f (the bare
// array) for CMC 0.7, the Artifact in encoding f with index for CMC 0.9.
// The zero version is manifest.DefaultCMCVersion (0.9).
func CodecFor(v manifest.CMCVersion, f Format, index int) Codec {
	if v.Resolved() == manifest.CMC09 {
		return Artifact{Format: f, Index: index}
	}
	return f
}

// NewEntry09 returns the entry of container name measured as r for the
// CMC v0.9 list: NewEntry with the measured (normalised) config as Spec.
func NewEntry09(name string, pcr *driver.PCR, r *bundle.Result) Entry {
	e := NewEntry(name, pcr, r)
	e.Spec = r.NormalizedConfig
	return e
}

// Decode parses a CMC v0.9 list. An empty file is an empty list.
func (a Artifact) Decode(raw []byte) ([]Entry, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var art manifest.Artifact
	var err error
	switch a.Format {
	case JSON:
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err = dec.Decode(&art); err == nil && dec.More() {
			err = errors.New("data after the JSON object")
		}
	case CBOR:
		var rest []byte
		rest, err = cborDec09.UnmarshalFirst(raw, &art)
		if err == nil && len(rest) != 0 {
			err = errors.New("data after the CBOR map")
		}
	default:
		return nil, a.Format.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrList, err)
	}
	if art.Type != manifest.TypeSWEventlog {
		return nil, fmt.Errorf("%w: type %q, want %q", ErrList, art.Type, manifest.TypeSWEventlog)
	}
	if art.Index != a.Index {
		return nil, fmt.Errorf("%w: index %d, want %d", ErrList, art.Index, a.Index)
	}
	out := make([]Entry, len(art.Events))
	for i, ev := range art.Events {
		if out[i], err = fromEvent(i, ev, a.Index); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func digestOf(i int, field string, b []byte) (bundle.Digest, error) {
	var d bundle.Digest
	if len(b) != len(d) {
		return d, fmt.Errorf("%w: events[%d].%s: %d bytes, want %d", ErrList, i, field, len(b), len(d))
	}
	copy(d[:], b)
	return d, nil
}

func fromEvent(i int, ev manifest.Component, index int) (Entry, error) {
	e := Entry{Name: ev.Name}
	var err error
	if e.TemplateSha256, err = digestOf(i, "hashes[SHA-256]", ev.Hash(manifest.HashSHA256)); err != nil {
		return e, err
	}
	if ev.CtrData == nil {
		return e, fmt.Errorf("%w: events[%d]: no ctrData", ErrList, i)
	}
	if e.ConfigSha256, err = digestOf(i, "ctrData.configSha256", ev.CtrData.ConfigSha256); err != nil {
		return e, err
	}
	if e.RootfsSha256, err = digestOf(i, "ctrData.rootfsSha256", ev.CtrData.RootfsSha256); err != nil {
		return e, err
	}
	if ev.CtrData.OciSpec != nil {
		if e.Spec, err = json.Marshal(ev.CtrData.OciSpec); err != nil {
			return e, fmt.Errorf("%w: events[%d].ctrData.ociSpec: %w", ErrList, i, err)
		}
	}
	if v, ok := ev.Property(manifest.PropertyIndex); ok && v != strconv.Itoa(index) {
		return e, fmt.Errorf("%w: events[%d]: index %s, want %d", ErrList, i, v, index)
	}
	return e, nil
}

// Event is entry e as a CMC v0.9 measurement event (the list's events and
// the cmcd driver's type-7 Measure request): the template hash as SHA-256,
// the component hashes and e.Spec as ociSpec in ctrData, the index as
// property.
func Event(e Entry, index int) (manifest.Component, error) {
	var spec *specs.Spec
	if len(e.Spec) > 0 {
		spec = new(specs.Spec)
		if err := json.Unmarshal(e.Spec, spec); err != nil {
			return manifest.Component{}, fmt.Errorf("%w: %s: spec: %w", ErrList, e.Name, err)
		}
	}
	return manifest.NewEvent(e.Name, index, e.TemplateSha256[:], e.ConfigSha256[:], e.RootfsSha256[:], spec), nil
}

// Encode serialises a CMC v0.9 list: JSON (indented, trailing newline) or
// deterministic CBOR.
func (a Artifact) Encode(l []Entry) ([]byte, error) {
	art := manifest.Artifact{Type: manifest.TypeSWEventlog, Index: a.Index, Events: []manifest.Component{}}
	for i, e := range l {
		ev, err := Event(e, a.Index)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		art.Events = append(art.Events, ev)
	}
	switch a.Format {
	case JSON:
		b, err := json.MarshalIndent(art, "", "  ")
		return append(b, '\n'), err
	case CBOR:
		return cborEnc.Marshal(art)
	}
	return nil, a.Format.Validate()
}
