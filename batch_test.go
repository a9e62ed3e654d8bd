package refval

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/manifest"
)

// TestBatchRunForms: a batch entry's "run" is read as an object of typed
// run options (unknown members refused, as everywhere in a batch) or, in
// its older form, as a command line kept for the CLI to resolve; a bad
// scheme is refused while the batch is decoded.
func TestBatchRunForms(t *testing.T) {
	jobs, err := ParseBatch([]byte(`{"images":[
	 {"image":"oci:/l:a","scheme":"cmc","run":{"engine":"containerd","engineVersion":"2.4","cwd":"/srv","env":["B=2"],"args":["/app","serve"],"host":{"hostname":"dev1"}}},
	 {"image":"oci:/l:b","run":["--engine","containerd","--cwd","/srv"]},
	 {"image":"oci:/l:c","run":[]},
	 {"image":"oci:/l:d"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a := jobs[0].Run
	if jobs[0].Scheme != bundle.SchemeCMC || a == nil || a.Engine != "containerd" || a.EngineVersion != "2.4" || a.Cwd != "/srv" ||
		strings.Join(a.Args, " ") != "/app serve" || strings.Join(a.Env, ",") != "B=2" || a.Host == nil || a.Host.Hostname != "dev1" || a.CommandLine != nil {
		t.Errorf("object form: %+v (scheme %q)", a, jobs[0].Scheme)
	}
	if b := jobs[1].Run; b == nil || strings.Join(b.CommandLine, " ") != "--engine containerd --cwd /srv" || b.Engine != "" {
		t.Errorf("command-line form: %+v", b)
	}
	if c := jobs[2].Run; c == nil || c.CommandLine == nil || len(c.CommandLine) != 0 {
		t.Errorf("empty command line: %+v; want an empty, non-nil CommandLine", c)
	}
	if jobs[3].Run != nil {
		t.Errorf("no run: %+v", jobs[3].Run)
	}
	for name, in := range map[string]string{
		"misspelt run member": `[{"image":"x","run":{"engine":"containerd","cwdd":"/"}}]`,
		"unknown scheme":      `[{"image":"x","scheme":"v0"}]`,
		"run not a list":      `[{"image":"x","run":"--engine containerd"}]`,
	} {
		if _, err := ParseBatch([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name == "unknown scheme" && !errors.Is(err, bundle.ErrUnsupportedScheme) && !strings.Contains(err.Error(), "v0") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The files in examples/ci must stay valid input for generate.
func TestCIExamplesParse(t *testing.T) {
	b, err := os.ReadFile("examples/ci/images.json")
	if err != nil {
		t.Fatal(err)
	}
	if jobs, err := ParseBatch(b); err != nil || len(jobs) == 0 {
		t.Errorf("images.json: %v", err)
	}
	b, err = os.ReadFile("examples/ci/app.manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := manifest.Parse(b, ""); err != nil || d.Type() != manifest.TypeAppManifest {
		t.Errorf("app.manifest.json: %v", err)
	}
}

func TestNameFromImage(t *testing.T) {
	for in, want := range map[string]string{
		"docker://reg:5000/ns/web:1.0":     "web",
		"docker://reg/ns/web@sha256:ab":    "web",
		"oci:/layouts/store:web":           "web",
		"oci:/layouts/store":               "store",
		"oci-archive:/tmp/web.tar":         "web",
		"oci-archive:/tmp/img.tar:api":     "api",
		"docker-archive:/tmp/db.tar":       "db",
		"dir:/images/cache":                "cache",
		"registry.example.com/team/app:v2": "app",
	} {
		if got := NameFromImage(in); got != want {
			t.Errorf("NameFromImage(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseBatch(f *testing.F) {
	f.Add([]byte(`{"images":[{"image":"oci:/l:web","name":"web","driver":"tpm","pcr":11,"env":["A=1"]}]}`))
	f.Add([]byte(`[{"image":"docker://r/x:1"}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = ParseBatch(in)
	})
}
