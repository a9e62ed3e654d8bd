package manifest

import (
	"fmt"
)

// PutManifestDescription adds md to the descriptions of a CMC v0.9 Image
// Description, or replaces the entry with the same name; every other member
// of the document, and of the other entries, is kept. It reports whether an
// entry was replaced.
func (d *Document) PutManifestDescription(md ManifestDescription) (replaced bool, err error) {
	if t := d.Type(); t != TypeImageDescription {
		return false, fmt.Errorf("%w: put manifest description: document is %q, want %q", ErrUnknownType, t, TypeImageDescription)
	}
	if md.Type == "" {
		md.Type = TypeManifestDescription
	}
	if md.Name == "" || md.Manifest == "" {
		return false, fmt.Errorf("%w: manifest description: name and manifest are required", ErrField)
	}
	g, err := toGeneric(md, d.format)
	if err != nil {
		return false, err
	}
	var list []any
	if v, ok := d.get(d.root, "descriptions", 21); ok && v != nil {
		if list, ok = v.([]any); !ok {
			return false, fmt.Errorf("%w: descriptions: %s, want an array", ErrField, kindOf(v))
		}
	}
	for i, e := range list {
		if !d.isObject(e) {
			return false, fmt.Errorf("%w: descriptions[%d]: %s, want an object", ErrField, i, kindOf(e))
		}
		if n, _ := d.get(e, "name", 1); n == md.Name {
			list[i] = g
			d.set(d.root, "descriptions", 21, list)
			return true, nil
		}
	}
	d.set(d.root, "descriptions", 21, append(list, g))
	return false, nil
}
