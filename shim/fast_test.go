package shim

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFastToken(t *testing.T) {
	now := time.Unix(1000, 0)
	old := now.Add(-time.Second)
	info := &Config{LogLevel: "info", LogFile: "/l"}
	const fp = "1.2.3.4.5.6.7"
	cases := []struct {
		name          string
		cfg           *Config
		explicit      bool
		before, after string
		changed       time.Time
		want          string
	}{
		{"settled", info, true, fp, fp, old, "1:" + fp + ":e:" + hex.EncodeToString([]byte("/c.toml")) + ":"},
		{"absent default", info, false, "-", "-", time.Time{}, "1:-:d:" + hex.EncodeToString([]byte("/c.toml")) + ":"},
		{"configured runc", &Config{LogLevel: "info", Runc: "/usr/sbin/runc"}, false, fp, fp, old,
			"1:" + fp + ":d:" + hex.EncodeToString([]byte("/c.toml")) + ":" + hex.EncodeToString([]byte("/usr/sbin/runc"))},
		{"debug without a log file logs nothing", &Config{LogLevel: "debug"}, false, fp, fp, old, "1:" + fp + ":d:" + hex.EncodeToString([]byte("/c.toml")) + ":"},
		// No token:
		{"absent but asked for", info, true, "-", "-", time.Time{}, ""},
		{"changed during the read", info, true, fp, "1.2.3.4.5.6.8", old, ""},
		{"changed in the last tick", info, true, fp, fp, now.Add(-50 * time.Millisecond), ""},
		{"debug", &Config{LogLevel: "debug", LogFile: "/l"}, true, fp, fp, old, ""},
		{"bad level", &Config{LogLevel: "loud", LogFile: "/l"}, true, fp, fp, old, ""},
		{"relative runc", &Config{LogLevel: "info", Runc: "bin/runc"}, true, fp, fp, old, ""},
		{"no fingerprint", info, true, "", "", old, ""},
	}
	for _, c := range cases {
		if got := FastToken(c.cfg, "/c.toml", c.explicit, c.before, c.after, c.changed, now); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestConfigFingerprint: a rewrite with the same content changes it,
// a missing file is "-".
func TestConfigFingerprint(t *testing.T) {
	p := filepath.Join(t.TempDir(), "shim.toml")
	if fp, _, err := configFingerprint(p); err != nil || fp != "-" {
		t.Fatalf("missing: %q %v", fp, err)
	}
	os.WriteFile(p, []byte("a"), 0o644)
	a, changed, err := configFingerprint(p)
	if err != nil || strings.Count(a, ".") != 6 || time.Since(changed) > time.Minute {
		t.Fatalf("%q %v %v", a, changed, err)
	}
	time.Sleep(20 * time.Millisecond)
	os.WriteFile(p, []byte("a"), 0o644)
	if b, _, _ := configFingerprint(p); b == a {
		t.Fatalf("rewrite kept fingerprint %q", a)
	}
	if _, _, err := configFingerprint(filepath.Join(p, "x")); err == nil {
		t.Fatal("ENOTDIR gave a fingerprint")
	}
}
