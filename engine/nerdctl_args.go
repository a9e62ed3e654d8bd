package engine

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// ParseNerdctlRunArgs reads the options of a `nerdctl run` command line as
// nerdctl spells them — `[OPTIONS] [COMMAND [ARG…]]`, without the image,
// which refval takes separately — into NerdctlRun. As in nerdctl, the
// first argument that is not an option (or what follows "--") starts the
// command. readFile reads --env-file files (the prediction itself reads
// none). Options that do not change the config (-d, -i, --rm, --name,
// --pull, --runtime) are accepted and ignored; any other option is an
// error naming it.
func ParseNerdctlRunArgs(args []string, readFile func(string) ([]byte, error)) (*NerdctlRun, error) {
	fs := pflag.NewFlagSet("nerdctl run", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.Usage = func() {}
	var (
		r                   NerdctlRun
		envFiles, networks  []string
		memory, name, pull  string
		runtime             string
		detach, interactive bool
		rm                  bool
	)
	fs.StringArrayVarP(&r.Env, "env", "e", nil, "")
	fs.StringSliceVar(&envFiles, "env-file", nil, "")
	fs.StringVarP(&r.User, "user", "u", "", "")
	fs.StringVarP(&r.Workdir, "workdir", "w", "", "")
	fs.StringArrayVarP(&r.Volumes, "volume", "v", nil, "")
	fs.StringArrayVar(&r.Tmpfs, "tmpfs", nil, "")
	fs.StringArrayVar(&r.Mounts, "mount", nil, "")
	fs.StringSliceVar(&networks, "network", nil, "")
	fs.StringSliceVar(&networks, "net", nil, "")
	fs.StringVarP(&r.Hostname, "hostname", "h", "", "")
	fs.BoolVar(&r.ReadOnly, "read-only", false, "")
	fs.BoolVar(&r.Privileged, "privileged", false, "")
	fs.StringSliceVar(&r.CapAdd, "cap-add", nil, "")
	fs.StringSliceVar(&r.CapDrop, "cap-drop", nil, "")
	fs.StringArrayVar(&r.SecurityOpt, "security-opt", nil, "")
	fs.StringArrayVar(&r.Entrypoint, "entrypoint", nil, "")
	fs.BoolVarP(&r.TTY, "tty", "t", false, "")
	fs.StringVar(&r.Cgroupns, "cgroupns", "", "")
	fs.Float64Var(&r.CPUs, "cpus", 0, "")
	fs.Uint64Var(&r.CPUShares, "cpu-shares", 0, "")
	fs.StringVarP(&memory, "memory", "m", "", "")
	fs.Int64Var(&r.PidsLimit, "pids-limit", -1, "")
	fs.BoolVarP(&detach, "detach", "d", false, "")
	fs.BoolVarP(&interactive, "interactive", "i", false, "")
	fs.BoolVar(&rm, "rm", false, "")
	fs.StringVar(&name, "name", "", "")
	fs.StringVar(&pull, "pull", "missing", "")
	fs.StringVar(&runtime, "runtime", "", "")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: nerdctl run options %q: %v", ErrInvalidOption, args, err)
	}
	r.Args = fs.Args()
	r.EntrypointSet = fs.Changed("entrypoint")
	if interactive && detach {
		return nil, fmt.Errorf("%w: -i and -d cannot be specified together (nerdctl refuses it)", ErrInvalidOption)
	}
	switch len(networks) {
	case 0:
	case 1:
		r.Network = networks[0]
	default:
		return nil, fmt.Errorf("%w: --network %q: several networks (predicted: one of none, host)", ErrUnsupported, networks)
	}
	if r.PidsLimit < 0 {
		r.PidsLimit = 0
	}
	for _, p := range dedupe(envFiles) {
		b, err := readFile(p)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %w", err)
		}
		r.EnvFile = append(r.EnvFile, b...)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			r.EnvFile = append(r.EnvFile, '\n')
		}
	}
	if memory != "" {
		v, err := dockerRAMInBytes(memory)
		if err != nil {
			return nil, fmt.Errorf("%w: --memory %q: %v", ErrInvalidOption, memory, err)
		}
		r.Memory = v
	}
	return &r, nil
}

// nerdctlGlobals is what nerdctl's global options give the config.
type nerdctlGlobals struct {
	address, namespace, dataRoot string
	systemd                      bool
	hookArgs                     []string // as GlobalFlags writes them
}

// nerdctlGlobalFlag is one of nerdctl 2.2.1's root flags
// (cmd/nerdctl/main.go initRootCmdFlags) that the prediction models.
type nerdctlGlobalFlag struct {
	name    string
	aliases []string // persistent and non-persistent aliases sharing the value
	isBool  bool
	def     string // the built-in default ("" when it depends on the device and only matters when typed)
	env     string // the variable that replaces the default
}

var nerdctlGlobalFlags = []nerdctlGlobalFlag{
	{name: "debug", isBool: true, def: "false"},
	{name: "debug-full", isBool: true, def: "false"},
	{name: "address", aliases: []string{"a", "H", "host"}, def: "/run/containerd/containerd.sock", env: "CONTAINERD_ADDRESS"},
	{name: "namespace", aliases: []string{"n"}, def: "default", env: "CONTAINERD_NAMESPACE"},
	{name: "snapshotter", aliases: []string{"storage-driver"}, def: "overlayfs", env: "CONTAINERD_SNAPSHOTTER"},
	{name: "cni-path", env: "CNI_PATH"},
	{name: "cni-netconfpath", env: "NETCONFPATH"},
	{name: "data-root", def: "/var/lib/nerdctl"},
	{name: "cgroup-manager"},
	{name: "insecure-registry", isBool: true, def: "false"},
	{name: "experimental", isBool: true, def: "true", env: "NERDCTL_EXPERIMENTAL"},
	{name: "host-gateway-ip", env: "NERDCTL_HOST_GATEWAY_IP"},
	{name: "bridge-ip", env: "NERDCTL_BRIDGE_IP"},
	{name: "kube-hide-dupe", isBool: true, def: "false"},
	{name: "userns-remap"},
}

// parseNerdctlGlobals reads the profile's global options as nerdctl's
// root command does, and computes the hooks' arguments as
// helpers.GlobalFlags does: every root flag, aliases included, in name
// order, as --NAME=VALUE, when it was typed or its value differs from its
// default (an alias shares the value of the flag typed).
func parseNerdctlGlobals(h *NerdctlHost) (nerdctlGlobals, error) {
	var g nerdctlGlobals
	if h.Path == "" || !path.IsAbs(h.Path) {
		return g, fmt.Errorf("%w: host profile nerdctl.path %q: want nerdctl's absolute path", ErrInvalidOption, h.Path)
	}
	if _, ok := lookupEnv(h.Env, "NERDCTL_TOML"); ok {
		return g, fmt.Errorf("%w: host profile nerdctl.env: NERDCTL_TOML (a nerdctl.toml is not modelled; give its settings as global options)", ErrUnsupported)
	}
	fs := pflag.NewFlagSet("nerdctl", pflag.ContinueOnError)
	fs.Usage = func() {}
	type entry struct {
		f      nerdctlGlobalFlag
		defVal string
		val    *string
	}
	byName := map[string]*entry{}
	for _, f := range nerdctlGlobalFlags {
		def := f.def
		if v, ok := lookupEnv(h.Env, f.env); ok && f.env != "" {
			if f.isBool {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return g, fmt.Errorf("%w: host profile nerdctl.env: %s=%q is not a boolean", ErrInvalidOption, f.env, v)
				}
				v = strconv.FormatBool(b)
			}
			def = v
		}
		e := &entry{f: f, defVal: def, val: new(string)}
		for _, n := range append([]string{f.name}, f.aliases...) {
			byName[n] = e
			if f.isBool {
				fs.Var(newNerdctlBool(e.val, def), n, "")
				fs.Lookup(n).NoOptDefVal = "true"
			} else if len(n) == 1 {
				// nerdctl registers a one-letter alias as a long flag
				// with the same shorthand (helpers.AddPersistentStringFlag).
				fs.StringVarP(e.val, n, n, def, "")
			} else {
				fs.StringVar(e.val, n, def, "")
			}
		}
	}
	if err := fs.Parse(h.GlobalArgs); err != nil {
		return g, fmt.Errorf("%w: host profile nerdctl.globalArgs %q: %v (modelled: %s)", ErrUnsupported, h.GlobalArgs, err, nerdctlGlobalNames())
	}
	if fs.NArg() > 0 {
		return g, fmt.Errorf("%w: host profile nerdctl.globalArgs: %q is not a global option", ErrInvalidOption, fs.Arg(0))
	}
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, name := range names {
		f, e := fs.Lookup(name), byName[name]
		if f.Changed || (*e.val != e.defVal && *e.val != "") {
			g.hookArgs = append(g.hookArgs, "--"+name+"="+*e.val)
		}
	}
	g.address, g.namespace, g.dataRoot = *byName["address"].val, *byName["namespace"].val, *byName["data-root"].val
	if !path.IsAbs(strings.TrimPrefix(g.address, "unix://")) {
		return g, fmt.Errorf("%w: nerdctl --address %q: want an absolute socket path", ErrUnsupported, g.address)
	}
	if !path.IsAbs(g.dataRoot) {
		return g, fmt.Errorf("%w: nerdctl --data-root %q: want an absolute path", ErrInvalidOption, g.dataRoot)
	}
	g.dataRoot = path.Clean(g.dataRoot)
	if g.namespace == "" || strings.ContainsAny(g.namespace, "/") {
		return g, fmt.Errorf("%w: nerdctl --namespace %q", ErrInvalidOption, g.namespace)
	}
	switch m := *byName["cgroup-manager"].val; m {
	case "":
		g.systemd = h.SystemdCgroup
	case "cgroupfs", "systemd":
		g.systemd = m == "systemd"
	default:
		return g, fmt.Errorf("%w: nerdctl --cgroup-manager %q (predicted: cgroupfs, systemd)", ErrUnsupported, m)
	}
	return g, nil
}

func nerdctlGlobalNames() string {
	var n []string
	for _, f := range nerdctlGlobalFlags {
		n = append(n, "--"+f.name)
	}
	return strings.Join(n, " ")
}

// nerdctlBool is a pflag bool value over a string, so that the value is
// "true" or "false" as pflag's own bool prints it.
type nerdctlBool struct{ p *string }

func newNerdctlBool(p *string, def string) *nerdctlBool {
	*p = def
	return &nerdctlBool{p}
}

func (b *nerdctlBool) String() string { return *b.p }
func (b *nerdctlBool) Type() string   { return "bool" }
func (b *nerdctlBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b.p = strconv.FormatBool(v)
	return nil
}

// IsBoolFlag lets "--debug" stand alone.
func (b *nerdctlBool) IsBoolFlag() bool { return true }
