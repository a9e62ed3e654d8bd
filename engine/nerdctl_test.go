package engine_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/engine"
)

// capturedNerdctlHost is the profile of the run that wrote
// bundle/testdata/vectors-v2/nerdctl-none.config.json: the real nerdctl
// 2.2.1 on containerd 2.4.2 (cgroup v1, no AppArmor), started as
// internal/dockertest starts it.
func capturedNerdctlHost() *engine.Host {
	return &engine.Host{Hostname: "device", Capabilities: []string{"CAP_CHOWN"}, Nerdctl: &engine.NerdctlHost{
		Path: "/root/.cache/refval/nerdctl-v2.2.1/nerdctl",
		GlobalArgs: []string{"--address", "/tmp/docker/nx/c.sock", "--namespace", "t", "--data-root", "/tmp/docker/nx/nroot",
			"--cni-path", "/usr/lib/cni", "--cni-netconfpath", "/tmp/docker/nx/cni"},
		Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"},
	}}
}

func busyboxImage() ocispec.Image {
	return ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		Config: ocispec.ImageConfig{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, Cmd: []string{"sh"}}}
}

// TestNerdctlPredictsCapturedConfig: the oracle is the config the real
// nerdctl 2.2.1 wrote (`nerdctl run --network none IMAGE sleep 60`); the
// prediction for the same ID and profile equals it in every field but the
// annotations (nerdctl's labels, dropped by refval-v2's drop-annotations).
func TestNerdctlPredictsCapturedConfig(t *testing.T) {
	raw, err := os.ReadFile("../bundle/testdata/vectors-v2/nerdctl-none.config.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	delete(want, "annotations")
	const id = "80f5be238a0e233b2f068d14823e5f3a43506fdb40f6ff7c560e705758d83eec"
	run, err := engine.ParseNerdctlRunArgs([]string{"-d", "--network", "none", "sleep", "60"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.ParseProfile("nerdctl", "")
	if err != nil {
		t.Fatal(err)
	}
	pr := &engine.Predictor{Profile: p, Run: engine.RunOptions{Nerdctl: run}, Host: capturedNerdctlHost(), ID: id}
	b, err := pr.Config(busyboxImage(), engine.UserFiles([]byte("root:x:0:0:root:/root:/bin/sh\n"), []byte("root:x:0:\n")))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if !reflect.DeepEqual(got[k], want[k]) {
			g, _ := json.Marshal(got[k])
			w, _ := json.Marshal(want[k])
			t.Errorf("%s:\n got %s\nwant %s", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: predicted, not in the captured config", k)
		}
	}
}

// TestNerdctlHookArgs: helpers.GlobalFlags writes every root flag typed
// or differing from its default, aliases included, in name order.
func TestNerdctlHookArgs(t *testing.T) {
	for _, tc := range []struct {
		global, env []string
		want        []string
	}{
		{nil, nil, nil},
		{[]string{"--namespace", "default"}, nil, []string{"--namespace=default"}},
		{[]string{"-n", "k8s.io", "--debug"}, nil, []string{"--debug=true", "--n=k8s.io", "--namespace=k8s.io"}},
		{[]string{"-a", "/x.sock"}, nil, []string{"--H=/x.sock", "--a=/x.sock", "--address=/x.sock", "--host=/x.sock"}},
		// CONTAINERD_NAMESPACE is the default: not written, but used.
		{nil, []string{"CONTAINERD_NAMESPACE=t"}, nil},
		{[]string{"--experimental=false"}, nil, []string{"--experimental=false"}},
	} {
		h := capturedNerdctlHost()
		h.Nerdctl.GlobalArgs, h.Nerdctl.Env = tc.global, append(tc.env, "PATH=/bin")
		run := &engine.NerdctlRun{Network: "none"}
		s, err := engine.PredictSpec(busyboxImage(), nil, engine.RunOptions{Nerdctl: run}, engine.WithProfile(mustProfile(t, "nerdctl")),
			engine.WithHost(h), engine.WithContainerID(engine.DockerDefaultContainerID))
		if err != nil {
			t.Fatalf("%q: %v", tc.global, err)
		}
		got := s.Hooks.CreateRuntime[0].Args
		want := append(append([]string{h.Nerdctl.Path}, tc.want...), "internal", "oci-hook", "createRuntime")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q %q: hook args\n got %q\nwant %q", tc.global, tc.env, got, want)
		}
		if env := s.Hooks.Poststop[0].Env; env[len(env)-1] != "PATH=/bin:/usr/sbin:/sbin" {
			t.Errorf("hook env %q", env)
		}
		if tc.env != nil && !strings.Contains(s.Mounts[len(s.Mounts)-1].Source, "/containers/t/") {
			t.Errorf("CONTAINERD_NAMESPACE not used: %s", s.Mounts[len(s.Mounts)-1].Source)
		}
	}
}

// TestNerdctlRefuses: what cannot be predicted is an error naming it.
func TestNerdctlRefuses(t *testing.T) {
	p := mustProfile(t, "nerdctl")
	for _, tc := range []struct {
		args []string
		want string
		err  error
	}{
		{nil, "--network bridge", engine.ErrUnsupported},
		{[]string{"--network", "br0"}, "--network", engine.ErrUnsupported},
		{[]string{"--network", "none", "-v", "vol:/data"}, "named volumes", engine.ErrUnsupported},
		{[]string{"--network", "none", "-v", "/data"}, "anonymous volume", engine.ErrUnsupported},
		{[]string{"--network", "none", "-v", "./d:/data"}, "relative source", engine.ErrUnsupported},
		{[]string{"--network", "none", "-v", "/d:/data:rshared"}, "propagation", engine.ErrUnsupported},
		{[]string{"--network", "none", "--mount", "type=volume,src=v,dst=/b"}, "named volumes", engine.ErrUnsupported},
		{[]string{"--network", "none", "--mount", "type=bind,src=/a,dst=/b,bind-propagation=rshared"}, "propagation", engine.ErrUnsupported},
		{[]string{"--network", "none", "--mount", "type=bind,src=/a,dst=/b,bogus=1"}, "unexpected key", engine.ErrInvalidOption},
		{[]string{"--network", "none", "--security-opt", "seccomp=/p.json"}, "--security-opt", engine.ErrUnsupported},
		{[]string{"--network", "none", "-w", "rel"}, "-w", engine.ErrInvalidOption},
		// nerdctl loads "default" as a profile file; its default is "builtin".
		{[]string{"--network", "none", "--security-opt", "seccomp=default"}, "--security-opt", engine.ErrUnsupported},
	} {
		run, err := engine.ParseNerdctlRunArgs(tc.args, nil)
		if err == nil {
			_, err = engine.PredictSpec(busyboxImage(), nil, engine.RunOptions{Nerdctl: run}, engine.WithProfile(p),
				engine.WithHost(capturedNerdctlHost()), engine.WithContainerID(engine.DockerDefaultContainerID))
		}
		if err == nil || !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %v naming %q", tc.args, err, tc.err, tc.want)
		}
	}
	for _, args := range [][]string{{"--ulimit", "nofile=1"}, {"--uts", "host"}} {
		if _, err := engine.ParseNerdctlRunArgs(args, nil); err == nil {
			t.Errorf("%q: accepted", args)
		}
	}
	// --cap-add ALL is the device's capability set: without it in the
	// host profile there is nothing to predict.
	noCaps := capturedNerdctlHost()
	noCaps.Capabilities = nil
	_, err := engine.PredictSpec(busyboxImage(), nil, engine.RunOptions{Nerdctl: &engine.NerdctlRun{Network: "none", CapAdd: []string{"ALL"}}},
		engine.WithProfile(p), engine.WithHost(noCaps), engine.WithContainerID(engine.DockerDefaultContainerID))
	if !errors.Is(err, engine.ErrHostDependent) || !strings.Contains(err.Error(), "--cap-add ALL") {
		t.Errorf("--cap-add ALL without host capabilities: %v", err)
	}
	// Without the nerdctl section of a host profile the hooks are unknown.
	_, err = engine.PredictSpec(busyboxImage(), nil, engine.RunOptions{Nerdctl: &engine.NerdctlRun{Network: "none"}}, engine.WithProfile(p),
		engine.WithContainerID(engine.DockerDefaultContainerID))
	if !errors.Is(err, engine.ErrHostDependent) {
		t.Errorf("no host profile: %v", err)
	}
}

// FuzzNerdctlRunArgs: any nerdctl run command line and any global options
// and environment of a host profile (from a batch file or a profile file)
// are parsed, checked and predicted without a panic.
func FuzzNerdctlRunArgs(f *testing.F) {
	f.Add("--network\x00none\x00-e\x00A\x00-v\x00/a:/b:ro,rprivate\x00--tmpfs\x00/t:size=1m\x00sh", "--namespace\x00t\x00-a\x00/c.sock", "A=1")
	f.Add("--network\x00host\x00--cap-add\x00ALL\x00--cap-drop\x00chown\x00--privileged", "--debug\x00--cgroup-manager\x00systemd", "CONTAINERD_NAMESPACE=x")
	f.Add("--network\x00none\x00-w\x00/x\x00-u\x00app:1\x00--security-opt\x00no-new-privileges=1\x00--cpus\x001.25\x00--entrypoint\x00", "", "")
	img := busyboxImage()
	f.Fuzz(func(t *testing.T, line, global, env string) {
		r, err := engine.ParseNerdctlRunArgs(strings.Split(line, "\x00"), func(string) ([]byte, error) { return []byte("A=1\n#c\n B \n"), nil })
		if err != nil {
			return
		}
		h := capturedNerdctlHost()
		h.Nerdctl.GlobalArgs = strings.Split(global, "\x00")
		h.Nerdctl.Env = append(strings.Split(env, "\x00"), "PATH=/bin")
		ro := engine.RunOptions{Nerdctl: r}
		if err := engine.CheckNerdctlRun(&ro, h); err != nil {
			return
		}
		s, err := engine.PredictSpec(img, engine.UserFiles([]byte("root:x:0:0::/:/bin/sh\n"), nil), ro, engine.WithProfile(mustProfile(t, "nerdctl")),
			engine.WithHost(h), engine.WithContainerID(engine.DockerDefaultContainerID))
		if err != nil {
			return
		}
		if len(s.Hooks.CreateRuntime) != 1 || len(s.Hooks.Poststop) != 1 {
			t.Fatalf("hooks %+v", s.Hooks)
		}
	})
}

// TestNerdctlMountFlag: --mount becomes the -v or --tmpfs form nerdctl
// then processes (mountutil.ProcessFlagMount), so both spellings of one
// mount give one spec mount.
func TestNerdctlMountFlag(t *testing.T) {
	for _, tc := range []struct{ mount, legacyFlag, legacy string }{
		{"type=bind,src=/a,dst=/b,readonly", "-v", "/a:/b:ro,rbind"},
		{"type=bind,source=/a,target=/b,bind-nonrecursive", "-v", "/a:/b:bind"},
		{"type=bind,src=/a,dst=/b,ro=true,bind-propagation=rprivate", "-v", "/a:/b:ro,rprivate,rbind"},
		{"type=tmpfs,dst=/t,tmpfs-size=1m", "--tmpfs", "/t:mode=1777,size=1m"},
		{"type=tmpfs,dst=/t,tmpfs-mode=0700,tmpfs-size=1500", "--tmpfs", "/t:mode=700,size=1500"},
	} {
		spec := func(args ...string) []any {
			run, err := engine.ParseNerdctlRunArgs(append([]string{"--network", "none"}, args...), nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := engine.PredictSpec(busyboxImage(), nil, engine.RunOptions{Nerdctl: run}, engine.WithProfile(mustProfile(t, "nerdctl")),
				engine.WithHost(capturedNerdctlHost()), engine.WithContainerID(engine.DockerDefaultContainerID))
			if err != nil {
				t.Fatalf("%q: %v", args, err)
			}
			var out []any
			for _, m := range s.Mounts {
				out = append(out, m)
			}
			return out
		}
		if got, want := spec("--mount", tc.mount), spec(tc.legacyFlag, tc.legacy); !reflect.DeepEqual(got, want) {
			t.Errorf("--mount %s:\n got %v\nwant %v", tc.mount, got, want)
		}
	}
}
