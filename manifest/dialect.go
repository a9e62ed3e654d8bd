package manifest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/refval/refval/bundle"
)

// CMCVersion selects the CMC dialect refval speaks: the document model,
// the reference-value shape, the measurement list, the cmcd protocol, the
// cmc measurement scheme and the signature algorithms CMC accepts. It is
// validated once, where it enters (ParseCMCVersion, UnmarshalText, Set),
// and is one of CMCVersions after that, or the zero value "": no version
// chosen, which means DefaultCMCVersion wherever a version is used
// (Resolved, the one place that says so).
type CMCVersion string

// The CMC dialects.
const (
	// CMC07 is CMC v0.7 (the seed document's, v0.7.2): App Manifests with
	// referenceValues, Device/App Descriptions, the bare-array list.
	CMC07 CMCVersion = "0.7"
	// CMC09 is current CMC (v0.9.15): Manifests with CycloneDX components,
	// Image/Manifest Descriptions with ociRules, the Artifact list.
	CMC09 CMCVersion = "0.9"
)

// DefaultCMCVersion is the dialect of the library functions that take no
// version: current CMC.
const DefaultCMCVersion = CMC09

// CMCVersions lists the dialects, oldest first.
var CMCVersions = []CMCVersion{CMC07, CMC09}

// ErrCMCVersion: a CMC version refval does not speak.
var ErrCMCVersion = errors.New("unsupported CMC version")

// ParseCMCVersion returns the dialect named s: "0.7" or "0.9", with an
// optional "v" and patch level ("v0.9.15"); "" is DefaultCMCVersion.
func ParseCMCVersion(s string) (CMCVersion, error) {
	if s == "" {
		return CMCVersion("").Resolved(), nil
	}
	t := strings.TrimPrefix(s, "v")
	for _, v := range CMCVersions {
		if t == string(v) || strings.HasPrefix(t, string(v)+".") && isDigits(t[len(v)+1:]) {
			return v, nil
		}
	}
	return "", fmt.Errorf("%w: %q (want 0.7 or 0.9)", ErrCMCVersion, s)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// UnmarshalText parses a version as ParseCMCVersion does, so that the shim
// config (cmc_version) and the batch file validate it on decoding.
func (v *CMCVersion) UnmarshalText(b []byte) error {
	p, err := ParseCMCVersion(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// Resolved returns v, or DefaultCMCVersion for the zero value: what a
// version that was never chosen means. Every function that takes a
// CMCVersion reads it through Resolved, so that "" means the same
// everywhere (the shim's cmc_version, the cmcd driver, the signature
// algorithms, Generate).
func (v CMCVersion) Resolved() CMCVersion {
	if v == "" {
		return DefaultCMCVersion
	}
	return v
}

// Set implements pflag.Value (--cmc-version): the version named s,
// validated as ParseCMCVersion does. An empty s leaves the zero value, no
// version chosen, as if the flag were absent (Resolved gives it its
// meaning; `refval sign` reads the document's instead).
func (v *CMCVersion) Set(s string) error {
	if s == "" {
		*v = ""
		return nil
	}
	return v.UnmarshalText([]byte(s))
}

// Type implements pflag.Value; "string" keeps the flag's help text as it
// was for a plain string flag.
func (v *CMCVersion) Type() string { return "string" }

// MarshalText returns the version's name.
func (v CMCVersion) MarshalText() ([]byte, error) { return []byte(v), nil }

// String returns the version's name.
func (v CMCVersion) String() string { return string(v) }

// Scheme returns the measurement scheme that reproduces this CMC version's
// own container measurement.
func (v CMCVersion) Scheme() bundle.Scheme {
	if v.Resolved() == CMC07 {
		return bundle.SchemeCMC
	}
	return bundle.SchemeCMC09
}

// DialectOf returns the CMC version whose document model has document type
// t, and false for a type refval knows in neither.
func DialectOf(t string) (CMCVersion, bool) {
	switch t {
	case TypeAppManifest, TypeAppDescription, TypeDeviceDescription, TypeTPM, TypeSW:
		return CMC07, true
	case TypeManifest, TypeImageDescription, TypeManifestDescription:
		return CMC09, true
	}
	return "", false
}
