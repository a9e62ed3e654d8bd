package manifest

import (
	"testing"

	"github.com/refval/refval/bundle"
)

// TestZeroCMCVersion: the zero CMCVersion means the project default, CMC
// 0.9 (documented in doc.go), wherever it is read: Resolved,
// ParseCMCVersion("") and Scheme agree; a chosen version stays itself.
func TestZeroCMCVersion(t *testing.T) {
	if got := CMCVersion("").Resolved(); got != "0.9" {
		t.Errorf(`"".Resolved() = %q, want 0.9, the default`, got)
	}
	for _, v := range CMCVersions {
		if got := v.Resolved(); got != v {
			t.Errorf("%s.Resolved() = %s", v, got)
		}
	}
	if v, err := ParseCMCVersion(""); err != nil || v != CMC09 {
		t.Errorf(`ParseCMCVersion("") = %q, %v; want 0.9`, v, err)
	}
	if got := CMCVersion("").Scheme(); got != bundle.SchemeCMC09 {
		t.Errorf(`"".Scheme() = %s, want %s`, got, bundle.SchemeCMC09)
	}
	if got := CMC07.Scheme(); got != bundle.SchemeCMC {
		t.Errorf("0.7's scheme = %s, want %s", got, bundle.SchemeCMC)
	}
}
