package bundle

import (
	"errors"
	"testing"
)

// FuzzHashConfigCMC09: the cmc-0.9 rules never panic on any config (CMC's
// own code would crash on a config without process; refval must not).
func FuzzHashConfigCMC09(f *testing.F) {
	f.Add([]byte(`{"process":{"env":["B=1","A=2"]},"mounts":[{"source":"/var/lib/docker/volumes/x"}]}`), "abc")
	f.Add([]byte(`{}`), "")
	f.Add([]byte(`{"process":null,"hooks":{"prestart":[{"path":"/nonexistent","args":["libnetwork-setkey","a","b","0123456789ab"]}]}}`), "x")
	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		_, _, _ = HashConfig(raw, WithScheme(SchemeCMC09), WithContainerID(id))
	})
}

func TestCMC09RefusesWhatCMCCannotMeasure(t *testing.T) {
	for _, cfg := range []string{
		`{"ociVersion":"1.0.2"}`, // no process: CMC v0.9 dereferences it
		`{"process":{},"hooks":{"prestart":[{"path":"/nonexistent/hook"}]}}`, // CMC fails on EvalSymlinks
	} {
		if _, _, err := HashConfig([]byte(cfg), WithScheme(SchemeCMC09)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	if s, err := ParseScheme("cmc-0.9"); err != nil || s != SchemeCMC09 || !s.IsCMC() {
		t.Errorf("ParseScheme(cmc-0.9) = %q, %v", s, err)
	}
}
