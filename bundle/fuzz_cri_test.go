package bundle

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// FuzzNormalizeConfigV2: never panics; what it accepts becomes valid JSON;
// a config without CRI annotations, measured for a container ID that is not
// Docker's or nerdctl's form, normalises exactly as under refval-v1.
func FuzzNormalizeConfigV2(f *testing.F) {
	for _, p := range []string{"testdata/vectors-v2/cri-app.config.json", "testdata/vectors-v2/cri-sandbox-systemd.config.json"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, strings.Repeat("c1", 32))
		}
	}
	f.Add([]byte(criConfig(startStatic)), startStatic.cid)
	f.Add([]byte(`{"annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-uid":"`+start1.uid+`"},"mounts":[{"source":"pods/`+start1.uid+`/volumes"}]}`), "")
	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		norm, err := NormalizeConfigV2(raw, id)
		if err != nil {
			return
		}
		if !json.Valid(norm) {
			t.Fatalf("not valid JSON: %q", norm)
		}
		// The Docker/nerdctl rules act only for an engine's 64-hex container ID.
		if !bytes.Contains(raw, []byte("io.kubernetes.cri.container-type")) && !isEngineID(id) {
			v1, err := NormalizeConfigV1(raw, id)
			if err != nil || !bytes.Equal(v1, norm) {
				t.Fatalf("non-CRI config: v1 %q (%v), v2 %q", v1, err, norm)
			}
		}
	})
}
