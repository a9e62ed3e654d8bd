package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Document is a parsed metadata document (App Manifest, App Description,
// Device Description) in one encoding. It is kept generic — JSON objects
// as map[string]any with numbers as written, CBOR maps as map[any]any with
// their integer keys — so that members refval does not know survive any
// edit unchanged.
type Document struct {
	format Format
	root   any
}

// Parse decodes a document in format f ("" detects it). It rejects
// malformed input, duplicate keys, trailing data, a root that is not an
// object, and a "type" this package does not know.
func Parse(b []byte, f Format) (*Document, error) {
	if f == "" {
		var err error
		if f, err = DetectFormat(b); err != nil {
			return nil, err
		}
	}
	root, err := decodeGeneric(b, f)
	if err != nil {
		return nil, err
	}
	if _, err := schemaFor(root); err != nil {
		return nil, err
	}
	return &Document{format: f, root: root}, nil
}

// Format returns the document's encoding.
func (d *Document) Format() Format { return d.format }

// Type returns the document's "type" member.
func (d *Document) Type() string {
	t, _ := d.get(d.root, "type", 0)
	s, _ := t.(string)
	return s
}

// Bytes encodes the document deterministically: sorted keys and two-space
// indentation for JSON, RFC 8949 core deterministic encoding for CBOR.
func (d *Document) Bytes() ([]byte, error) { return encodeGeneric(d.root, d.format) }

// Convert returns the document in format f. The conversion is lossless:
// converting back gives a document equal to d (see docs/manifests.md for
// the mapping of members the key maps do not list); a value with no exact
// form in f fails with ErrNotConvertible.
func (d *Document) Convert(f Format) (*Document, error) {
	if f == d.format {
		return d, nil
	}
	s, err := schemaFor(d.root)
	if err != nil {
		return nil, err
	}
	var root any
	switch f {
	case JSON:
		root, err = cborToJSON(d.root, s, "")
	case CBOR:
		root, err = jsonToCBOR(d.root, s, "")
	default:
		return nil, fmt.Errorf("%w: %q", ErrFormat, f)
	}
	if err != nil {
		return nil, err
	}
	return &Document{format: f, root: root}, nil
}

// Decode converts the document into the typed value v (a pointer to
// AppManifest, AppDescription, ...). Wrong member types fail with the
// member's path. Unknown members are ignored here; they stay in d.
func (d *Document) Decode(v any) error {
	if d.format == JSON {
		// Check byte members (hex) with their paths first: encoding/json
		// reports UnmarshalText errors without the member name.
		if s, err := schemaFor(d.root); err == nil {
			if _, err := jsonToCBOR(d.root, s, ""); errors.Is(err, ErrField) {
				return err
			}
		}
	}
	j, err := d.Convert(JSON)
	if err != nil {
		return err
	}
	b, err := json.Marshal(j.root)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return FieldError(err)
	}
	return nil
}

// FieldError rewrites encoding/json's type errors to name the member path.
func FieldError(err error) error {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Errorf("%w: %s: %s, want %s", ErrField, te.Field, te.Value, te.Type)
	}
	return fmt.Errorf("%w: %v", ErrField, err)
}

// get returns member name (JSON) or key (CBOR) of object m.
func (d *Document) get(m any, name string, key uint64) (any, bool) {
	switch t := m.(type) {
	case map[string]any:
		v, ok := t[name]
		return v, ok
	case map[any]any:
		v, ok := t[key]
		return v, ok
	}
	return nil, false
}

func (d *Document) set(m any, name string, key uint64, v any) {
	switch t := m.(type) {
	case map[string]any:
		t[name] = v
	case map[any]any:
		t[key] = v
	}
}

func (d *Document) isObject(v any) bool {
	switch v.(type) {
	case map[string]any, map[any]any:
		return true
	}
	return false
}

// SetReferenceValues replaces the referenceValues of an App Manifest,
// keeping every other member as it is.
func (d *Document) SetReferenceValues(rvs []ReferenceValue) error {
	if t := d.Type(); t != TypeAppManifest {
		return fmt.Errorf("%w: set reference values: document is %q, want %q", ErrUnknownType, t, TypeAppManifest)
	}
	if rvs == nil {
		rvs = []ReferenceValue{}
	}
	g, err := toGeneric(rvs, d.format)
	if err != nil {
		return err
	}
	d.set(d.root, "referenceValues", 8, g)
	return nil
}

// SetValidity replaces the validity window of an App Manifest or of a
// CMC v0.9 Manifest.
func (d *Document) SetValidity(v Validity) error {
	key := uint64(7)
	switch t := d.Type(); t {
	case TypeAppManifest:
	case TypeManifest:
		key = 3
	default:
		return fmt.Errorf("%w: set validity: document is %q, want %q or %q", ErrUnknownType, t, TypeAppManifest, TypeManifest)
	}
	g, err := toGeneric(v, d.format)
	if err != nil {
		return err
	}
	d.set(d.root, "validity", key, g)
	return nil
}

// PutAppDescription adds ad to the appDescriptions of a Device
// Description, or updates the entry with the same name: the members
// refval knows (type, name, version, appManifest, externalConnections,
// environment) are set from ad, only when ad has them for version and
// externalConnections; every other member of that entry and of the
// device description is kept. It reports whether an entry was replaced.
func (d *Document) PutAppDescription(ad AppDescription) (replaced bool, err error) {
	if t := d.Type(); t != TypeDeviceDescription {
		return false, fmt.Errorf("%w: put app description: document is %q, want %q", ErrUnknownType, t, TypeDeviceDescription)
	}
	if ad.Type == "" {
		ad.Type = TypeAppDescription
	}
	if ad.Name == "" {
		return false, fmt.Errorf("%w: app description without a name", ErrField)
	}
	g, err := toGeneric(ad, d.format)
	if err != nil {
		return false, err
	}
	var list []any
	if v, ok := d.get(d.root, "appDescriptions", 7); ok && v != nil {
		if list, ok = v.([]any); !ok {
			return false, fmt.Errorf("%w: appDescriptions: %s, want an array", ErrField, kindOf(v))
		}
	}
	for i, e := range list {
		if !d.isObject(e) {
			return false, fmt.Errorf("%w: appDescriptions[%d]: %s, want an object", ErrField, i, kindOf(e))
		}
		if n, _ := d.get(e, "name", 1); n != ad.Name {
			continue
		}
		for _, f := range appDescriptionSchema.fields {
			v, ok := d.get(g, f.name, f.key)
			if ok {
				d.set(e, f.name, f.key, v)
			} else if f.name == "environment" {
				// An empty environment is a fact about the run, not an
				// absent value: drop a stale one.
				switch t := e.(type) {
				case map[string]any:
					delete(t, f.name)
				case map[any]any:
					delete(t, f.key)
				}
			}
		}
		return true, nil
	}
	d.set(d.root, "appDescriptions", 7, append(list, g))
	return false, nil
}

// ParseEnv turns KEY=VALUE strings (as in runtime-spec process.env) into
// environment entries, in the given order.
func ParseEnv(env []string) ([]EnvVar, error) {
	out := make([]EnvVar, 0, len(env))
	for _, e := range env {
		k, v, ok := bytes.Cut([]byte(e), []byte("="))
		if !ok || len(k) == 0 {
			return nil, fmt.Errorf("%w: environment entry %s is not KEY=VALUE", ErrField, strconv.Quote(e))
		}
		out = append(out, EnvVar{Key: string(k), Value: string(v)})
	}
	return out, nil
}

// ValidityWindow returns the document's validity window. A document
// without one, or with one that does not parse, is an error: metadata
// without an end date would be trusted forever.
func (d *Document) ValidityWindow() (notBefore, notAfter time.Time, err error) {
	s, err := schemaFor(d.root)
	if err != nil {
		return notBefore, notAfter, err
	}
	f := s.byName("validity")
	if f == nil && d.format == CBOR {
		return notBefore, notAfter, fmt.Errorf("%w: validity: no CBOR key known for %q", ErrField, d.Type())
	}
	if f == nil {
		f = &field{name: "validity", obj: validitySchema}
	}
	// Only the validity member is converted, so that a document with
	// members that have no JSON form still has a readable window.
	v, ok := d.get(d.root, f.name, f.key)
	if !ok {
		return notBefore, notAfter, fmt.Errorf("%w: validity: missing", ErrField)
	}
	if d.format == CBOR {
		if v, err = memberToJSON(v, f, "validity"); err != nil {
			return notBefore, notAfter, err
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return notBefore, notAfter, fmt.Errorf("%w: validity: %s, want an object", ErrField, kindOf(v))
	}
	var val Validity
	for _, p := range []struct {
		name string
		dst  *string
	}{{"notBefore", &val.NotBefore}, {"notAfter", &val.NotAfter}} {
		str, ok := m[p.name].(string)
		if !ok {
			return notBefore, notAfter, fmt.Errorf("%w: validity.%s: %s, want an RFC 3339 string", ErrField, p.name, kindOf(m[p.name]))
		}
		*p.dst = str
	}
	return val.Times()
}

// ValidateJSON checks that b is exactly one well-formed JSON value with no
// duplicate object keys, the rules Parse applies, for callers (such as the
// signing package) that then decode b into their own types.
func ValidateJSON(b []byte) error {
	_, err := decodeJSON(b)
	return err
}

// UpdateDeviceDescription adds or updates ad in the Device Description
// dd (JSON or CBOR, detected) and returns the re-encoded document in the
// same format; see PutAppDescription.
func UpdateDeviceDescription(dd []byte, ad AppDescription) (out []byte, replaced bool, err error) {
	d, err := Parse(dd, "")
	if err != nil {
		return nil, false, err
	}
	if replaced, err = d.PutAppDescription(ad); err != nil {
		return nil, false, err
	}
	out, err = d.Bytes()
	return out, replaced, err
}
