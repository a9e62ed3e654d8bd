package shim

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRuncArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want RuncCall
		err  error
	}{
		{"go-runc create (containerd-shim-runc-v2)",
			[]string{"--root", "/run/containerd/runc/default", "--log", "/b/log.json", "--log-format", "json", "--systemd-cgroup",
				"create", "--bundle", "/b", "--pid-file", "/b/init.pid", "--console-socket", "/tmp/c.sock", "--no-pivot", "--no-new-keyring", "ctr1"},
			RuncCall{Command: "create", Bundle: "/b", ID: "ctr1", Log: "/b/log.json", LogFormat: "json"}, nil},
		{"equals forms and single dashes",
			[]string{"-root=/r", "--log=/l", "-log-format=text", "create", "-bundle=/b", "--pid-file=/p", "x"},
			RuncCall{Command: "create", Bundle: "/b", ID: "x", Log: "/l", LogFormat: "text"}, nil},
		{"short -b, run with detach",
			[]string{"run", "-d", "-b", "/bundle", "--keep", "id2"},
			RuncCall{Command: "run", Bundle: "/bundle", ID: "id2"}, nil},
		{"no bundle: working directory",
			[]string{"create", "c"}, RuncCall{Command: "create", ID: "c"}, nil},
		{"ID before flags (urfave/cli reorders)",
			[]string{"create", "c", "--bundle", "/b"}, RuncCall{Command: "create", Bundle: "/b", ID: "c"}, nil},
		{"unknown boolean flag is skipped",
			[]string{"create", "--future-flag", "--bundle", "/b", "c"}, RuncCall{Command: "create", Bundle: "/b", ID: "c"}, nil},
		{"unknown value flag: ID is still the last positional",
			[]string{"create", "--future-value", "v", "--bundle", "/b", "c"}, RuncCall{Command: "create", Bundle: "/b", ID: "c"}, nil},
		{"double dash", []string{"create", "--bundle", "/b", "--", "-odd-id"}, RuncCall{Command: "create", Bundle: "/b", ID: "-odd-id"}, nil},
		{"go-runc restore is measured like create",
			[]string{"--root", "/r", "--log", "/b/log.json", "--log-format", "json", "restore", "--image-path", "/ckpt", "--work-path", "/work",
				"--manage-cgroups-mode", "soft", "--empty-ns", "network", "--lsm-profile", "apparmor:p", "--lsm-mount-context", "ctx",
				"--tcp-established", "--bundle", "/b", "--pid-file", "/b/init.pid", "--detach", "--no-subreaper", "ctr1"},
			RuncCall{Command: "restore", Bundle: "/b", ID: "ctr1", Log: "/b/log.json", LogFormat: "json"}, nil},
		{"restore without ID", []string{"restore", "--bundle", "/b"}, RuncCall{Command: "restore", Bundle: "/b"}, ErrRuncArgs},
		{"passthrough is not parsed", []string{"--root", "/r", "exec", "--process", "/p.json", "--detach", "c"}, RuncCall{Command: "exec"}, nil},
		{"delete", []string{"delete", "--force", "c"}, RuncCall{Command: "delete"}, nil},
		{"version", []string{"--version"}, RuncCall{}, nil},
		{"nothing", nil, RuncCall{}, nil},
		{"create without ID", []string{"create", "--bundle", "/b"}, RuncCall{Command: "create", Bundle: "/b"}, ErrRuncArgs},
		{"bundle without value", []string{"create", "--bundle"}, RuncCall{Command: "create"}, ErrRuncArgs},
		{"global flag without value", []string{"--root"}, RuncCall{}, ErrRuncArgs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRuncArgs(tt.args)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestLooksLikeRunc(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"-namespace", "default", "-address", "/run/containerd/containerd.sock", "-publish-binary", "/usr/bin/containerd", "-id", "x", "start"}, false},
		{[]string{"-namespace", "k8s.io", "-address", "/a", "-id", "x", "-bundle", "/b", "delete"}, false},
		{[]string{"-info"}, false},
		{[]string{"-v"}, false},
		{nil, false},
		{[]string{"--root", "/run/containerd/runc/default", "--log", "/l", "--log-format", "json", "create", "--bundle", "/b", "x"}, true},
		{[]string{"--root", "/r", "delete", "x"}, true},
		{[]string{"create", "--bundle", "/b", "x"}, true},
		{[]string{"features"}, true},
		{[]string{"start"}, false}, // shim and runc both have it: the name decides
	}
	for _, tt := range tests {
		if got := LooksLikeRunc(tt.args); got != tt.want {
			t.Errorf("LooksLikeRunc(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

func FuzzParseRuncArgs(f *testing.F) {
	f.Add("--root\x00/r\x00create\x00--bundle\x00/b\x00id")
	f.Add("run\x00-b\x00x\x00--\x00y")
	f.Add("-log=\x00create\x00-b=")
	f.Fuzz(func(t *testing.T, s string) {
		args := splitNul(s)
		c, err := ParseRuncArgs(args)
		if err == nil && measuredCommands[c.Command] && c.ID == "" {
			t.Fatalf("create/run parsed without an ID: %q", args)
		}
		LooksLikeRunc(args)
	})
}

func splitNul(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
