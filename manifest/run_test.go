package manifest

import (
	"errors"
	"strings"
	"testing"

	"github.com/refval/refval/bundle"
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
