package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzParseMount: --mount values are user input; never panic, and a
// parsed mount re-parses from its own fields.
func FuzzParseMount(f *testing.F) {
	for _, s := range []string{"type=bind,src=/a,dst=/b,options=rbind:ro", `"src=/a,b",dst=/c`, "src", `"x`, "", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMount(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(m.Source+m.Destination+m.Type, "\",\n\r") || strings.Contains(strings.Join(m.Options, ""), ":") {
			return // would need quoting to round-trip
		}
		again, err := ParseMount("type=" + m.Type + ",src=" + m.Source + ",dst=" + m.Destination)
		if err != nil || again.Source != m.Source || again.Destination != m.Destination || again.Type != m.Type {
			t.Fatalf("%q -> %+v does not round-trip: %+v %v", s, m, again, err)
		}
	})
}

// FuzzEnv: env files and --env values are user input. The merge never
// leaves an empty entry and keeps every KEY=VALUE override.
func FuzzEnv(f *testing.F) {
	f.Add([]byte("A=1\n#c\n\nB\r\n"), "A", "C=3")
	f.Fuzz(func(t *testing.T, file []byte, o1, o2 string) {
		lines := envFileLines(file)
		got := replaceOrAppendEnv(lines, []string{o1, o2})
		for _, e := range got {
			if e == "" {
				t.Fatalf("empty entry in %q", got)
			}
		}
		for _, o := range []string{o2} {
			if strings.Contains(o, "=") {
				found := false
				for _, e := range got {
					found = found || e == o
				}
				if !found {
					t.Fatalf("override %q lost: %q", o, got)
				}
			}
		}
	})
}

// FuzzPredictUser: /etc/passwd, /etc/group and USER come from the image
// (untrusted); prediction must return a config or an error, never panic,
// on every pinned version.
func FuzzPredictUser(f *testing.F) {
	f.Add([]byte("root:x:0:0::/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), []byte("root:x:0:\nx:x:5:app,root\n"), "app", "/etc/passwd")
	f.Add([]byte(":::::::\n#\n\x00"), []byte("::\n"), "1:2", "")
	f.Add([]byte("a:b:-1:99999999999999999999"), []byte("g:x:-3:"), "-1", "/x/../../etc/passwd")
	f.Fuzz(func(t *testing.T, passwd, group []byte, user, link string) {
		fsys := fstest.MapFS{"etc/group": {Data: group}, "x/passwd": {Data: passwd}}
		if link != "" {
			fsys["etc/passwd"] = &fstest.MapFile{Data: []byte(link), Mode: 0o777 | 1<<27 /* fs.ModeSymlink */}
		} else {
			fsys["etc/passwd"] = &fstest.MapFile{Data: passwd}
		}
		img := ocispec.Image{Config: ocispec.ImageConfig{User: user, Cmd: []string{"/bin/sh"}}}
		for _, v := range Versions() {
			p, _ := ParseProfile("containerd", v)
			raw, err := Predict(img, fsys, RunOptions{}, WithProfile(p))
			if err != nil {
				continue
			}
			if !json.Valid(raw) {
				t.Fatalf("invalid JSON predicted: %s", raw)
			}
		}
	})
}

// FuzzBaseSpec: a --base-spec file is user input.
func FuzzBaseSpec(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.0.2","process":{"cwd":"/"},"linux":{}}`))
	f.Add([]byte(`{"process":null,"linux":{"resources":null}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, _ := ParseProfile("containerd", "2.x")
		host := &Host{Hostname: "h", Capabilities: []string{"CAP_CHOWN"}}
		ro := RunOptions{Env: []string{"A=1"}, Privileged: true, NetHost: true, ReadOnly: true, TTY: true, CapDrop: []string{"CAP_CHOWN"}}
		out, err := Predict(ocispec.Image{}, nil, ro, WithProfile(p), WithBaseSpec(raw), WithHost(host))
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
	})
}
