package bundle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// applyRule runs one rule on a JSON document and returns the canonical result.
func applyRule(t *testing.T, rule func(map[string]any, string) error, in, id string) (string, error) {
	t.Helper()
	v, err := decodeJSON([]byte(in))
	if err != nil {
		t.Fatalf("test input %s: %v", in, err)
	}
	doc := v.(map[string]any)
	if err := rule(doc, id); err != nil {
		return "", err
	}
	out, err := canonicalJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), nil
}

func TestRules(t *testing.T) {
	tests := []struct {
		name    string
		rule    func(map[string]any, string) error
		id      string
		in      string
		want    string
		wantErr string // field named in the error
	}{
		{"root-path/dropped-readonly-kept", dropRootPath, "", `{"root":{"path":"rootfs","readonly":true}}`, `{"root":{"readonly":true}}`, ""},
		{"root-path/absent", dropRootPath, "", `{"x":1}`, `{"x":1}`, ""},
		{"root-path/null", dropRootPath, "", `{"root":null}`, `{"root":null}`, ""},
		{"root-path/wrong-type", dropRootPath, "", `{"root":"rootfs"}`, "", "root"},
		{"annotations/dropped", dropAnnotations, "", `{"annotations":{"a":"b"},"x":1}`, `{"x":1}`, ""},
		{"terminal/dropped", dropTerminal, "", `{"process":{"terminal":true,"consoleSize":{"height":1,"width":2},"cwd":"/"}}`, `{"process":{"cwd":"/"}}`, ""},
		{"terminal/wrong-type", dropTerminal, "", `{"process":[]}`, "", "process"},
		{"namespaces/path-replaced", namespacePaths, "", `{"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/proc/7/ns/net"}]}}`, `{"linux":{"namespaces":[{"type":"pid"},{"path":"<namespace-path>","type":"network"}]}}`, ""},
		{"namespaces/empty-path-kept-present", namespacePaths, "", `{"linux":{"namespaces":[{"type":"ipc","path":""}]}}`, `{"linux":{"namespaces":[{"path":"<namespace-path>","type":"ipc"}]}}`, ""},
		{"namespaces/not-array", namespacePaths, "", `{"linux":{"namespaces":{}}}`, "", "linux.namespaces"},
		{"namespaces/element-not-object", namespacePaths, "", `{"linux":{"namespaces":[{"type":"pid"},"net"]}}`, "", "linux.namespaces[1]"},
		{"env/sorted-bytewise-dups-kept", sortEnv, "", `{"process":{"env":["b=1","B=2","a=3","b=1","é=4"]}}`, `{"process":{"env":["B=2","a=3","b=1","b=1","é=4"]}}`, ""},
		// A repeated name keeps its order (which value the process gets
		// depends on it); different names stay in bytewise order.
		{"env/repeated-name-order-kept", sortEnv, "", `{"process":{"env":["A=good","B=1","A=evil"]}}`, `{"process":{"env":["A=good","A=evil","B=1"]}}`, ""},
		{"env/repeated-name-order-kept-reversed", sortEnv, "", `{"process":{"env":["A=evil","B=1","A=good"]}}`, `{"process":{"env":["A=evil","A=good","B=1"]}}`, ""},
		{"env/names-bytewise", sortEnv, "", `{"process":{"env":["A=1","A.C=3","NOEQ","A-B=2","A"]}}`, `{"process":{"env":["A","A-B=2","A.C=3","A=1","NOEQ"]}}`, ""},
		{"env/not-strings", sortEnv, "", `{"process":{"env":["A=1",2]}}`, "", "process.env[1]"},
		{"env/not-array", sortEnv, "", `{"process":{"env":"A=1"}}`, "", "process.env"},
		{
			"id/whole-values-and-segments", substituteContainerID, "c0ffee1234567890",
			`{"hostname":"c0ffee123456","linux":{"cgroupsPath":"system.slice:cri-containerd:c0ffee1234567890"},"mounts":[{"source":"/run/containerd/c0ffee1234567890/hosts","destination":"/etc/hosts"}],"hooks":{"prestart":[{"path":"/bin/h","args":["h","c0ffee1234567890"]}]}}`,
			`{"hooks":{"prestart":[{"args":["h","<container-id>"],"path":"/bin/h"}]},"hostname":"<container-id>","linux":{"cgroupsPath":"system.slice:cri-containerd:<container-id>"},"mounts":[{"destination":"/etc/hosts","source":"/run/containerd/<container-id>/hosts"}]}`,
			"",
		},
		{
			"id/never-inside-words", substituteContainerID, "a",
			`{"a":"a","p":"/var/a/bar","q":"banana","r":"a:b:a","s":["xa","ax","a"]}`,
			`{"a":"<container-id>","p":"/var/<container-id>/bar","q":"banana","r":"<container-id>:b:<container-id>","s":["xa","ax","<container-id>"]}`,
			"",
		},
		{"id/empty-id-no-op", substituteContainerID, "", `{"hostname":""}`, `{"hostname":""}`, ""},
		{"id/member-names-untouched", substituteContainerID, "k", `{"k":{"k":"k"}}`, `{"k":{"k":"<container-id>"}}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyRule(t, tc.rule, tc.in, tc.id)
			if tc.wantErr != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Field != tc.wantErr || !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v; want a ConfigError for field %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestRulesV1List pins the rule order of refval-v1: changing it changes
// measurements and needs a new scheme (docs/measurement.md lists the same).
func TestRulesV1List(t *testing.T) {
	var names []string
	for _, r := range RulesV1 {
		names = append(names, r.Name)
	}
	want := []string{"drop-root-path", "drop-annotations", "drop-terminal", "namespace-paths", "container-id", "sort-env"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("RulesV1 (-want +got):\n%s", diff)
	}
}

func TestNormalizeConfigV1Errors(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, "empty document"},
		{`[]`, "top level is an array"},
		{`"x"`, "top level is a string"},
		{`{"a":1} x`, "trailing data"},
		{`{"a":}`, "line 1"},
		{"{\n\"a\":\n}", "line 3"},
		{`{"process":{"env":[true]}}`, "field process.env[0]"},
		{`{"x":1e999}`, "not representable"},
	}
	for _, tc := range tests {
		_, err := NormalizeConfigV1([]byte(tc.in), "")
		if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NormalizeConfigV1(%q) error = %v; want ErrInvalidConfig mentioning %q", tc.in, err, tc.want)
		}
	}
}

// TestRepeatedEnvNameOrderMeasured: two configs that differ only in the
// order of two values of one variable give the process different values,
// so they must measure differently; the second implementation
// (testdata/refval_v1.py) agrees on both normalised forms.
func TestRepeatedEnvNameOrderMeasured(t *testing.T) {
	cfgs := []string{
		`{"process":{"env":["LD_PRELOAD=","PATH=/bin","LD_PRELOAD=/tmp/x.so"]}}`,
		`{"process":{"env":["LD_PRELOAD=/tmp/x.so","PATH=/bin","LD_PRELOAD="]}}`,
	}
	var sums []Digest
	for _, c := range cfgs {
		d, norm, err := HashConfig([]byte(c))
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, d)
		p := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		py := pythonRefImpl(t, "config", p)
		if want := string(norm) + "\n" + d.String() + "\n"; py != want {
			t.Errorf("%s: Go %q; refval_v1.py %q", c, want, py)
		}
	}
	if sums[0] == sums[1] {
		t.Error("reordering the values of a repeated variable does not change the measurement")
	}
}
