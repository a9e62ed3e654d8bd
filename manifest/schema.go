package manifest

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// A schema maps the JSON member names of one object type of the CMC
// format to its CBOR integer keys, and says which members hold byte
// strings (hex in JSON) or nested objects. Members that a schema does not
// list are carried over unchanged (see convertUnknown).
type schema struct {
	fields []field
}

type field struct {
	name  string
	key   uint64
	bytes bool    // hex string in JSON, byte string in CBOR
	obj   *schema // nested object, or element of a list when list is set
	list  bool
}

func (s *schema) byName(n string) *field {
	for i := range s.fields {
		if s.fields[i].name == n {
			return &s.fields[i]
		}
	}
	return nil
}

func (s *schema) byKey(k uint64) *field {
	for i := range s.fields {
		if s.fields[i].key == k {
			return &s.fields[i]
		}
	}
	return nil
}

// The key maps. They follow the CMC format as issue 4 and docs/manifests.md
// state it; ctrData (20) is refval's addition, chosen above every key the
// CMC reference value uses (0-9) so that it cannot collide with one added
// there later in the same range.
var (
	ctrDataSchema = &schema{fields: []field{
		{name: "configSha256", key: 0, bytes: true},
		{name: "rootfsSha256", key: 1, bytes: true},
	}}
	refValueSchema = &schema{fields: []field{
		{name: "type", key: 0},
		{name: "sha256", key: 1, bytes: true},
		{name: "sha384", key: 2, bytes: true},
		{name: "name", key: 3},
		{name: "optional", key: 4},
		{name: "pcr", key: 5},
		{name: "description", key: 9},
		{name: "ctrData", key: 20, obj: ctrDataSchema},
	}}
	validitySchema = &schema{fields: []field{
		{name: "notBefore", key: 0},
		{name: "notAfter", key: 1},
	}}
	appManifestSchema = &schema{fields: []field{
		{name: "type", key: 0},
		{name: "name", key: 1},
		{name: "version", key: 2},
		{name: "developerCommonName", key: 3},
		{name: "oss", key: 4},
		{name: "description", key: 5},
		{name: "certificationLevel", key: 6},
		{name: "validity", key: 7, obj: validitySchema},
		{name: "referenceValues", key: 8, obj: refValueSchema, list: true},
	}}
	envSchema = &schema{fields: []field{
		{name: "key", key: 0},
		{name: "value", key: 1},
	}}
	appDescriptionSchema = &schema{fields: []field{
		{name: "type", key: 0},
		{name: "name", key: 1},
		{name: "version", key: 2},
		{name: "appManifest", key: 3},
		{name: "externalConnections", key: 4},
		{name: "environment", key: 5, obj: envSchema, list: true},
	}}
	// deviceDescriptionSchema lists only what refval edits; every other
	// member of a Device Description passes through unchanged.
	deviceDescriptionSchema = &schema{fields: []field{
		{name: "type", key: 0},
		{name: "name", key: 1},
		{name: "version", key: 2},
		{name: "appDescriptions", key: 7, obj: appDescriptionSchema, list: true},
	}}
	// refValueListSchema describes the output of measure-bundle: a bare
	// array of reference values (converted element by element).
	documentSchemas = map[string]*schema{
		TypeAppManifest:       appManifestSchema,
		TypeAppDescription:    appDescriptionSchema,
		TypeDeviceDescription: deviceDescriptionSchema,
		TypeTPM:               refValueSchema,
		TypeSW:                refValueSchema,
	}
)

// schemaFor returns the schema of a document root by its "type" member
// (JSON) or key 0 (CBOR).
func schemaFor(root any) (*schema, error) {
	var t any
	switch m := root.(type) {
	case map[string]any:
		t = m["type"]
	case map[any]any:
		t = m[uint64(0)]
	case cbor.Tag:
		if m.Number == 98 || m.Number == 18 {
			return nil, fmt.Errorf("%w: this is a signed COSE envelope, not a document; get its payload with refval verify --payload-out", ErrUnknownType)
		}
		return nil, fmt.Errorf("%w: document root is CBOR tag %d, want a map", ErrField, m.Number)
	default:
		return nil, fmt.Errorf("%w: document root is %s, want an object", ErrField, kindOf(root))
	}
	ts, ok := t.(string)
	if m, isJSON := root.(map[string]any); !ok && isJSON && m["payload"] != nil {
		return nil, fmt.Errorf("%w: this is a signed JWS envelope, not a document; get its payload with refval verify --payload-out", ErrUnknownType)
	}
	if !ok {
		return nil, fmt.Errorf("%w: type: missing or not a string", ErrUnknownType)
	}
	s := documentSchemas[ts]
	if s == nil {
		return nil, fmt.Errorf("%w: %q (want %q, %q or %q)", ErrUnknownType, ts, TypeAppManifest, TypeAppDescription, TypeDeviceDescription)
	}
	return s, nil
}

// jsonToCBOR converts a generic JSON value into its CBOR form under s (nil:
// no schema, every member unknown).
func jsonToCBOR(v any, s *schema, path string) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[any]any, len(t))
		for _, k := range sortedKeys(t) {
			var key any
			var f *field
			if s != nil {
				f = s.byName(k)
			}
			if f != nil {
				key = f.key
			} else {
				key = unknownJSONKey(k)
			}
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("%w: %s: key %q collides with another member's CBOR key", ErrNotConvertible, joinPath(path, k), k)
			}
			cv, err := memberToCBOR(t[k], f, joinPath(path, k))
			if err != nil {
				return nil, err
			}
			out[key] = cv
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			cv, err := jsonToCBOR(e, nil, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	case json.Number:
		return numberToCBOR(t, path)
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("%w: %s: unexpected %T", ErrNotConvertible, pathOrRoot(path), v)
}

func memberToCBOR(v any, f *field, path string) (any, error) {
	switch {
	case f == nil:
		return jsonToCBOR(v, nil, path)
	case f.bytes:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%w: %s: %s, want a hex string", ErrField, path, kindOf(v))
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrField, path, err)
		}
		// Only lowercase hex converts back to the same JSON text.
		if hex.EncodeToString(b) != s {
			return nil, fmt.Errorf("%w: %s: hex must be lowercase", ErrField, path)
		}
		return b, nil
	case f.list:
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s: %s, want an array", ErrField, path, kindOf(v))
		}
		out := make([]any, len(l))
		for i, e := range l {
			cv, err := jsonToCBOR(e, f.obj, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	case f.obj != nil:
		if _, ok := v.(map[string]any); !ok {
			return nil, fmt.Errorf("%w: %s: %s, want an object", ErrField, path, kindOf(v))
		}
		return jsonToCBOR(v, f.obj, path)
	}
	return jsonToCBOR(v, nil, path)
}

// unknownJSONKey maps a JSON member name that no schema knows to a CBOR
// key: a canonical decimal integer ("7", "-1", never "07" or "+7") becomes
// that integer, since it can only have come from an unknown integer key of
// a CBOR document (cborToJSON refuses text keys that look like integers);
// anything else stays a text key.
func unknownJSONKey(k string) any {
	if n, ok := canonicalInt(k); ok {
		return n
	}
	return k
}

func canonicalInt(k string) (any, bool) {
	if u, err := strconv.ParseUint(k, 10, 64); err == nil && strconv.FormatUint(u, 10) == k {
		return u, true
	}
	if i, err := strconv.ParseInt(k, 10, 64); err == nil && i < 0 && strconv.FormatInt(i, 10) == k {
		return i, true
	}
	return nil, false
}

// numberToCBOR keeps integers integers and everything else float64. A
// JSON number with a fraction or exponent is a float even when its value
// is whole ("1.0"), so that the CBOR→JSON direction can write it back as
// a float (see floatJSON).
func numberToCBOR(n json.Number, path string) (any, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if strings.HasPrefix(s, "-") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				if i == 0 {
					// "-0" has no distinct CBOR integer form.
					return nil, fmt.Errorf("%w: %s: -0", ErrNotConvertible, path)
				}
				return i, nil
			}
		} else if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil
		}
		return nil, fmt.Errorf("%w: %s: integer %s out of 64-bit range", ErrNotConvertible, path, s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%w: %s: number %s has no float64 value", ErrNotConvertible, path, s)
	}
	return f, nil
}

// cborToJSON converts a generic CBOR value into its JSON form under s.
func cborToJSON(v any, s *schema, path string) (any, error) {
	switch t := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			var name string
			var f *field
			switch kk := k.(type) {
			case uint64:
				if s != nil {
					f = s.byKey(kk)
				}
				if f != nil {
					name = f.name
				} else {
					name = strconv.FormatUint(kk, 10)
				}
			case int64:
				name = strconv.FormatInt(kk, 10)
			case string:
				if _, ok := canonicalInt(kk); ok {
					return nil, fmt.Errorf("%w: %s: text key %q looks like an integer key", ErrNotConvertible, pathOrRoot(path), kk)
				}
				if s != nil && s.byName(kk) != nil {
					// The member's known key is an integer; a text key with
					// its JSON name would collide with it on the way back.
					return nil, fmt.Errorf("%w: %s: text key %q where the format uses an integer key", ErrNotConvertible, pathOrRoot(path), kk)
				}
				name = kk
			default:
				return nil, fmt.Errorf("%w: %s: map key of type %s", ErrNotConvertible, pathOrRoot(path), kindOf(k))
			}
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("%w: %s: two keys map to %q", ErrNotConvertible, pathOrRoot(path), name)
			}
			jv, err := memberToJSON(e, f, joinPath(path, name))
			if err != nil {
				return nil, err
			}
			out[name] = jv
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			jv, err := cborToJSON(e, nil, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out[i] = jv
		}
		return out, nil
	case uint64:
		return json.Number(strconv.FormatUint(t, 10)), nil
	case int64:
		return json.Number(strconv.FormatInt(t, 10)), nil
	case float64:
		return floatJSON(t, path)
	case string, bool, nil:
		return t, nil
	case []byte:
		return nil, fmt.Errorf("%w: %s: byte string in a member whose JSON form is not known", ErrNotConvertible, pathOrRoot(path))
	}
	return nil, fmt.Errorf("%w: %s: CBOR %s has no JSON form", ErrNotConvertible, pathOrRoot(path), kindOf(v))
}

func memberToJSON(v any, f *field, path string) (any, error) {
	switch {
	case f == nil:
		return cborToJSON(v, nil, path)
	case f.bytes:
		b, ok := v.([]byte)
		if !ok {
			return nil, fmt.Errorf("%w: %s: %s, want a byte string", ErrField, path, kindOf(v))
		}
		return hex.EncodeToString(b), nil
	case f.list:
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s: %s, want an array", ErrField, path, kindOf(v))
		}
		out := make([]any, len(l))
		for i, e := range l {
			jv, err := cborToJSON(e, f.obj, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out[i] = jv
		}
		return out, nil
	case f.obj != nil:
		if _, ok := v.(map[any]any); !ok {
			return nil, fmt.Errorf("%w: %s: %s, want a map", ErrField, path, kindOf(v))
		}
		return cborToJSON(v, f.obj, path)
	}
	return cborToJSON(v, nil, path)
}

// floatJSON writes the shortest decimal that parses back to f, with ".0"
// added to whole values so that it is read back as a float, not an integer.
func floatJSON(f float64, path string) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%w: %s: %v has no JSON form", ErrNotConvertible, path, f)
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	// Go writes exponents with at least two digits ("1e-07"); drop the
	// padding and the "+" as JavaScript and RFC 8785 do ("1e-7", "1e21").
	if m, e, ok := strings.Cut(s, "e"); ok {
		sign := ""
		if e[0] == '-' {
			sign = "-"
		}
		s = m + "e" + sign + strings.TrimLeft(e[1:], "0")
	}
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return json.Number(s), nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any, map[any]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, uint64, int64, float64:
		return "number"
	case []byte:
		return "byte string"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
