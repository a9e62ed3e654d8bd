package manifest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CreateOptions are the members of a new App Manifest.
type CreateOptions struct {
	Name                string
	Version             string
	DeveloperCommonName string
	Oss                 []string
	Description         string
	CertificationLevel  int
	Validity            Validity
	ReferenceValues     []ReferenceValue
}

// Create returns a new App Manifest document in format f. Validity must be
// set (see NewValidity): a manifest's dates never come from the clock
// behind the caller's back, so that equal inputs give equal bytes.
func Create(o CreateOptions, f Format) (*Document, error) {
	if o.Name == "" {
		return nil, fmt.Errorf("%w: name is empty", ErrField)
	}
	if o.Version == "" {
		return nil, fmt.Errorf("%w: version is empty", ErrField)
	}
	if _, _, err := o.Validity.Times(); err != nil {
		return nil, err
	}
	rvs := o.ReferenceValues
	if rvs == nil {
		rvs = []ReferenceValue{}
	}
	m := AppManifest{
		Type:                TypeAppManifest,
		Name:                o.Name,
		Version:             o.Version,
		DeveloperCommonName: o.DeveloperCommonName,
		Oss:                 o.Oss,
		Description:         o.Description,
		CertificationLevel:  o.CertificationLevel,
		Validity:            o.Validity,
		ReferenceValues:     rvs,
	}
	root, err := toGeneric(m, f)
	if err != nil {
		return nil, err
	}
	return &Document{format: f, root: root}, nil
}

// Times parses the validity window and checks notBefore ≤ notAfter.
func (v Validity) Times() (notBefore, notAfter time.Time, err error) {
	notBefore, err = time.Parse(time.RFC3339, v.NotBefore)
	if err != nil {
		return notBefore, notAfter, fmt.Errorf("%w: validity.notBefore: %q is not an RFC 3339 time", ErrField, v.NotBefore)
	}
	notAfter, err = time.Parse(time.RFC3339, v.NotAfter)
	if err != nil {
		return notBefore, notAfter, fmt.Errorf("%w: validity.notAfter: %q is not an RFC 3339 time", ErrField, v.NotAfter)
	}
	if notAfter.Before(notBefore) {
		return notBefore, notAfter, fmt.Errorf("%w: validity: notAfter %s is before notBefore %s", ErrField, v.NotAfter, v.NotBefore)
	}
	return notBefore, notAfter, nil
}

// NewValidity builds a validity window from notBefore and either notAfter
// or a duration (exactly one of them). Times are written in UTC with
// second precision, the form CMC parses.
func NewValidity(notBefore, notAfter time.Time, validFor time.Duration) (Validity, error) {
	if notBefore.IsZero() {
		return Validity{}, fmt.Errorf("%w: validity start", ErrNoTime)
	}
	switch {
	case !notAfter.IsZero() && validFor != 0:
		return Validity{}, fmt.Errorf("%w: give either an end time or a duration, not both", ErrField)
	case notAfter.IsZero() && validFor <= 0:
		return Validity{}, fmt.Errorf("%w: validity end: give an end time or a positive duration", ErrNoTime)
	case notAfter.IsZero():
		notAfter = notBefore.Add(validFor)
	}
	v := Validity{
		NotBefore: notBefore.UTC().Truncate(time.Second).Format(time.RFC3339),
		NotAfter:  notAfter.UTC().Truncate(time.Second).Format(time.RFC3339),
	}
	_, _, err := v.Times()
	return v, err
}

// ParseTime reads a time given on a command line: RFC 3339, a date
// (YYYY-MM-DD, midnight UTC) or "@SECONDS" since the Unix epoch.
func ParseTime(s string) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: time %q: %v", ErrField, s, err)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: time %q: want RFC 3339 (2026-01-02T15:04:05Z), YYYY-MM-DD or @UNIXSECONDS", ErrField, s)
}

// SourceDateEpoch returns the time in $SOURCE_DATE_EPOCH
// (reproducible-builds.org), or the zero time when it is unset.
func SourceDateEpoch() (time.Time, error) {
	s, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("%w: SOURCE_DATE_EPOCH=%q is not a non-negative integer", ErrField, s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// ParseDuration accepts Go durations ("8760h") and whole days ("365d"),
// the unit validity periods are usually thought in.
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n <= 0 || n > 1<<20 {
			return 0, fmt.Errorf("%w: duration %q: want a positive number of days such as 365d", ErrField, s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%w: duration %q: want a positive duration such as 365d or 8760h", ErrField, s)
	}
	return d, nil
}

// ReadReferenceValues decodes reference values from JSON or CBOR: an array
// (the output of measure-bundle and measure) or a single object. Members
// are type-checked; unknown members are an error here, since a reference
// value refval cannot represent would be silently dropped.
func ReadReferenceValues(b []byte) ([]ReferenceValue, error) {
	f, err := DetectFormat(b)
	if err != nil {
		return nil, err
	}
	root, err := decodeGeneric(b, f)
	if err != nil {
		return nil, err
	}
	items, ok := root.([]any)
	if !ok {
		items = []any{root}
	}
	out := make([]ReferenceValue, 0, len(items))
	for i, it := range items {
		path := fmt.Sprintf("[%d]", i)
		j := it
		if f == CBOR {
			if j, err = cborToJSON(it, refValueSchema, path); err != nil {
				return nil, err
			}
		}
		m, ok := j.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s: %s, want a reference value object", ErrField, path, kindOf(j))
		}
		for k := range m {
			if refValueSchema.byName(k) == nil {
				return nil, fmt.Errorf("%w: %s.%s: unknown member of a reference value", ErrField, path, k)
			}
		}
		rv, err := decodeRefValue(j, path)
		if err != nil {
			return nil, err
		}
		out = append(out, rv)
	}
	return out, nil
}

func decodeRefValue(j any, path string) (ReferenceValue, error) {
	var rv ReferenceValue
	b, err := encodeJSON(j)
	if err != nil {
		return rv, err
	}
	if err := jsonUnmarshalStrict(b, &rv); err != nil {
		return rv, fmt.Errorf("%s: %w", path, err)
	}
	if rv.Type != TypeTPM && rv.Type != TypeSW {
		return rv, fmt.Errorf("%w: %s.type: %q, want %q or %q", ErrField, path, rv.Type, TypeTPM, TypeSW)
	}
	if len(rv.Sha256) == 0 && len(rv.Sha384) == 0 {
		return rv, fmt.Errorf("%w: %s: neither sha256 nor sha384", ErrField, path)
	}
	if rv.CtrData != nil {
		for _, h := range []struct {
			n string
			b HexBytes
		}{{"configSha256", rv.CtrData.ConfigSha256}, {"rootfsSha256", rv.CtrData.RootfsSha256}} {
			if len(h.b) != 32 {
				return rv, fmt.Errorf("%w: %s.ctrData.%s: %d bytes, want 32", ErrField, path, h.n, len(h.b))
			}
		}
	}
	if len(rv.Sha256) != 0 && len(rv.Sha256) != 32 {
		return rv, fmt.Errorf("%w: %s.sha256: %d bytes, want 32", ErrField, path, len(rv.Sha256))
	}
	if len(rv.Sha384) != 0 && len(rv.Sha384) != 48 {
		return rv, fmt.Errorf("%w: %s.sha384: %d bytes, want 48", ErrField, path, len(rv.Sha384))
	}
	return rv, nil
}
