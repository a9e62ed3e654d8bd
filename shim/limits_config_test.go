package shim

import (
	"errors"
	"strings"
	"testing"

	"github.com/refval/refval/bundle"
)

// TestConfigLimits: the [limits] table sets the on-disk subset of
// bundle.Limits (entries, depth) that the recorder passes to
// bundle.Measure; absent or 0 is bundle's default, -1 no limit, and the
// limits that apply to image layers only are unknown keys.
func TestConfigLimits(t *testing.T) {
	c, err := ParseConfig([]byte("enforce = true\n[limits]\nentries = 10\ndepth = -1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits != (DiskLimits{Entries: 10, Depth: -1}) {
		t.Errorf("parsed %+v", c.Limits)
	}
	got := c.Limits.bundleLimits()
	want := bundle.DefaultLimits()
	want.Entries, want.Depth = 10, -1
	if got != want {
		t.Errorf("bundle limits %+v, want %+v", got, want)
	}
	def, err := ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := def.Limits.bundleLimits(); got != bundle.DefaultLimits() {
		t.Errorf("no [limits]: %+v, want the defaults %+v", got, bundle.DefaultLimits())
	}
	for _, tt := range []struct{ in, mention string }{
		{"[limits]\nentries = -2\n", "limits.entries"},
		{"[limits]\ndepth = -5\n", "limits.depth"},
		{"[limits]\ndepth = \"deep\"\n", "depth"},
		{"[limits]\nname_bytes = 10\n", "name_bytes"},
		{"[limits]\nlayer_bytes = 10\n", "layer_bytes"},
		{"[limits]\nentrys = 10\n", "entrys"},
	} {
		_, err := ParseConfig([]byte(tt.in))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("ParseConfig(%q) = %v; want ErrConfig naming %q", tt.in, err, tt.mention)
		}
	}
}
