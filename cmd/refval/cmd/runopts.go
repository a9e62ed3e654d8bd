package cmd

import (
	"encoding/json"
	"errors"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/pflag"

	"github.com/refval/refval/engine"
)

// runFlags are the flags that choose how the runtime config of an image
// is predicted: the engine (--engine, --engine-version, --base-spec,
// --host-profile) and the `ctr run` options that change the config, under
// ctr's own names. measure, unpack and generate (per image, in its batch
// file) share them through registerRunFlags and parseRunArgs, so all
// three use the same profile code.
type runFlags struct {
	fs *pflag.FlagSet

	engine, engineVersion, baseSpec, hostProfile string

	namespace, envFile, cwd, user, hostname, seccompProfile string
	env, mounts, capAdd, capDrop                            []string
	readOnly, privileged, tty, netHost, allowNewPrivs       bool
	seccomp                                                 bool
	cpuShares                                               uint64
}

// registerRunFlags adds the engine and run-option flags to fs. Call
// predictor once the flags are parsed.
//
// Wiring into a command is a few lines:
//
//	rf := registerRunFlags(cmd.Flags())
//	...
//	p, err := rf.predictor(id, args[1:]) // nil: keep umoci's (runc) config
//	if p != nil {
//		opts = append(opts, oci.WithConfigFunc(p.Config), oci.WithContainerID(p.ContainerID()))
//	}
func registerRunFlags(fs *pflag.FlagSet) *runFlags {
	f := &runFlags{fs: fs}
	fs.StringVar(&f.engine, "engine", string(engine.Runc), "runtime whose config.json to predict: runc (the bundle as unpacked), containerd (what ctr run writes) or kubernetes (what kubelet + containerd CRI write; --pod, --container)")
	fs.StringVar(&f.engineVersion, "engine-version", "", "containerd version to reproduce: 1.6, 1.7, 2.0, 2.4 or 2.x (default "+engine.DefaultVersion+")")
	fs.StringVar(&f.baseSpec, "base-spec", "", "start from this capture of \"ctr oci spec\" on the device instead of the version's default spec")
	fs.StringVar(&f.hostProfile, "host-profile", "", `device profile for --privileged and --net-host: a JSON file, or "local" for this machine`)
	fs.StringVar(&f.namespace, "namespace", engine.DefaultNamespace, "containerd namespace the container runs in (ctr --namespace)")
	fs.StringArrayVar(&f.env, "env", nil, "ctr run --env KEY=VALUE (repeatable; a bare KEY, as in ctr, removes only a variable set before it, never one of the image's)")
	fs.StringVar(&f.envFile, "env-file", "", "ctr run --env-file: file of KEY=VALUE lines")
	fs.StringVar(&f.cwd, "cwd", "", "ctr run --cwd: working directory")
	fs.StringArrayVar(&f.mounts, "mount", nil, "ctr run --mount: type=T,src=S,dst=D,options=O1:O2 (repeatable)")
	fs.BoolVar(&f.readOnly, "read-only", false, "ctr run --read-only")
	fs.BoolVar(&f.privileged, "privileged", false, "ctr run --privileged (needs --host-profile)")
	fs.BoolVar(&f.tty, "tty", false, "ctr run --tty")
	fs.BoolVar(&f.netHost, "net-host", false, "ctr run --net-host (needs --host-profile)")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "ctr run --cap-add CAP_NAME (repeatable)")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "ctr run --cap-drop CAP_NAME (repeatable)")
	fs.BoolVar(&f.allowNewPrivs, "allow-new-privs", false, "ctr run --allow-new-privs")
	fs.BoolVar(&f.seccomp, "seccomp", false, "ctr run --seccomp (only with --seccomp-profile)")
	fs.StringVar(&f.seccompProfile, "seccomp-profile", "", "ctr run --seccomp-profile FILE")
	fs.StringVar(&f.user, "user", "", "ctr run --user USER[:GROUP] (containerd 1.7 and later)")
	fs.StringVar(&f.hostname, "hostname", "", "ctr run --hostname (containerd 1.7 and later)")
	fs.Uint64Var(&f.cpuShares, "cpu-shares", 0, "ctr run --cpu-shares (default as ctr: 1024)")
	return f
}

// runOptionFlags are the flags that only the containerd profile takes.
var runOptionFlags = []string{"engine-version", "base-spec", "host-profile", "namespace", "env", "env-file", "cwd", "mount",
	"read-only", "privileged", "tty", "net-host", "cap-add", "cap-drop", "allow-new-privs", "seccomp", "seccomp-profile",
	"user", "hostname", "cpu-shares"}

// predictor returns the configured prediction, or nil for --engine runc
// (the config umoci writes stays: callers keep their unpacked config).
// id is the container ID to predict for ("" for engine.DefaultContainerID);
// args are the container's arguments (ctr run IMAGE ID ARGS…). Files named
// by flags are read here; errors are usage errors.
func (f *runFlags) predictor(id string, args []string) (*engine.Predictor, error) {
	if f.engine == string(engine.Runc) {
		for _, n := range runOptionFlags {
			if f.fs.Changed(n) {
				return nil, UsageErrorf("--%s: only the containerd engine takes run options (add --engine containerd)", n)
			}
		}
		if len(args) > 0 {
			return nil, UsageErrorf("container arguments need --engine containerd")
		}
		return nil, nil
	}
	p, err := engine.ParseProfile(f.engine, f.engineVersion)
	if err != nil {
		return nil, UsageErrorf("--engine/--engine-version: %v", err)
	}
	pr := &engine.Predictor{Profile: p, ID: id}
	ro := &pr.Run
	ro.Args, ro.Env, ro.Cwd, ro.User, ro.Hostname = args, f.env, f.cwd, f.user, f.hostname
	ro.ReadOnly, ro.Privileged, ro.TTY, ro.NetHost = f.readOnly, f.privileged, f.tty, f.netHost
	ro.CapAdd, ro.CapDrop, ro.AllowNewPrivs, ro.Seccomp = f.capAdd, f.capDrop, f.allowNewPrivs, f.seccomp
	ro.CPUShares, ro.Namespace = f.cpuShares, f.namespace
	if f.fs.Changed("cpu-shares") && f.cpuShares == 0 {
		return nil, UsageErrorf("--cpu-shares 0: ctr then sets no CPU shares at all, which refval does not model; omit the flag for ctr's default 1024")
	}
	for _, m := range f.mounts {
		mt, err := engine.ParseMount(m)
		if err != nil {
			return nil, UsageErrorf("%v", err)
		}
		ro.Mounts = append(ro.Mounts, mt)
	}
	read := func(flag, path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, UsageErrorf("--%s: %v", flag, err)
		}
		return b, nil
	}
	if ro.EnvFile, err = read("env-file", f.envFile); err != nil {
		return nil, err
	}
	if ro.SeccompProfile, err = read("seccomp-profile", f.seccompProfile); err != nil {
		return nil, err
	}
	if pr.BaseSpec, err = read("base-spec", f.baseSpec); err != nil {
		return nil, err
	}
	if pr.BaseSpec != nil {
		if err := engine.CheckBaseSpec(pr.BaseSpec); err != nil {
			return nil, UsageErrorf("--base-spec %s: %v", f.baseSpec, err)
		}
	}
	switch f.hostProfile {
	case "":
	case "local":
		if pr.Host, err = engine.LocalHost(); err != nil {
			return nil, err
		}
	default:
		b, err := read("host-profile", f.hostProfile)
		if err != nil {
			return nil, err
		}
		var h engine.Host
		if err := json.Unmarshal(b, &h); err != nil {
			return nil, UsageErrorf("--host-profile %s: %v", f.hostProfile, err)
		}
		pr.Host = &h
	}
	// Check the options against the profile now, so that a bad option is
	// a usage error before any image is pulled.
	if _, err := pr.Run.CtrOpts(p, ocispec.Image{}, pr.BaseSpec); err != nil {
		if errors.Is(err, engine.ErrInvalidOption) || errors.Is(err, engine.ErrUnsupported) {
			return nil, UsageErrorf("%v", err)
		}
		return nil, err
	}
	if (ro.Privileged || ro.NetHost) && pr.Host == nil {
		return nil, UsageErrorf("--privileged and --net-host depend on the device: give --host-profile FILE (or local)")
	}
	return pr, nil
}

// parseRunArgs parses run options written as a `ctr run` command line
// (flags, then "--" and the container's arguments), as generate's batch
// file holds them per image: ["--engine", "containerd", "--env", "A=1",
// "--", "/app", "serve"].
func parseRunArgs(args []string) (*engine.Predictor, error) {
	fs := pflag.NewFlagSet("run options", pflag.ContinueOnError)
	fs.SetOutput(discard{})
	f := registerRunFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, UsageErrorf("run options %q: %v", args, err)
	}
	return f.predictor("", fs.Args())
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
