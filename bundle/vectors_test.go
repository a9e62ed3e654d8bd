package bundle

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestVectors checks the test vectors in testdata/vectors, whose expected
// values were computed by testdata/refval_v1.py (the second implementation
// of docs/measurement.md), not by this package.
func TestVectors(t *testing.T) {
	matches, _ := filepath.Glob("testdata/vectors/*.expected.json")
	if len(matches) == 0 {
		t.Fatal("no vectors")
	}
	for _, exp := range matches {
		name := strings.TrimSuffix(filepath.Base(exp), ".expected.json")
		t.Run(name, func(t *testing.T) {
			base := filepath.Join("testdata", "vectors", name)
			var want struct {
				ContainerID    string `json:"containerID"`
				ConfigSha256   Digest `json:"configSha256"`
				RootfsSha256   Digest `json:"rootfsSha256"`
				TemplateSha256 Digest `json:"templateSha256"`
			}
			readJSON(t, exp, &want)
			cfg, err := os.ReadFile(base + ".config.json")
			if err != nil {
				t.Fatal(err)
			}
			wantNorm, err := os.ReadFile(base + ".normalized.json")
			if err != nil {
				t.Fatal(err)
			}
			c, norm, err := HashConfig(cfg, WithContainerID(want.ContainerID))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(wantNorm), string(norm)); diff != "" {
				t.Errorf("normalized config (-want +got):\n%s", diff)
			}
			if c != want.ConfigSha256 {
				t.Errorf("configSha256 = %s; want %s", c, want.ConfigSha256)
			}
			f, err := os.Open(base + ".records.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h := NewRootfsHasher()
			if err := ReadRecords(f, h.Add); err != nil {
				t.Fatal(err)
			}
			if got := h.Sum(); got != want.RootfsSha256 {
				t.Errorf("rootfsSha256 = %s; want %s", got, want.RootfsSha256)
			}
			if got := TemplateHash(c, h.Sum()); got != want.TemplateSha256 {
				t.Errorf("templateSha256 = %s; want %s", got, want.TemplateSha256)
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestRecordJSONRoundTrip: the records-file form loses nothing, including
// names that are not UTF-8.
func TestRecordJSONRoundTrip(t *testing.T) {
	recs := []Record{
		{Path: "/", Type: TypeDir, Mode: 0o755},
		{Path: "/\xff\xfe", Type: TypeFile, Mode: 0o4755, UID: 1, GID: 2, Sha256: Digest{1, 2, 3}, Capability: []byte{1, 0, 0, 2}},
		{Path: "/l", Type: TypeSymlink, Target: "\x80bad"},
		{Path: "/l2", Type: TypeSymlink, Target: ""},
		{Path: "/null", Type: TypeChar, Mode: 0o666, DevMajor: 1, DevMinor: 3},
		{Path: "/zero", Type: TypeBlock, DevMajor: 0, DevMinor: 0},
	}
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if diff := cmp.Diff(r, back); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", b, diff)
		}
	}
}
