package engine

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// ParseDockerRunArgs reads the options of a `docker run` command line as
// the docker CLI spells them — `[OPTIONS] [COMMAND [ARG…]]`, without the
// image, which refval takes separately — into DockerRun. As in docker, the
// first argument that is not an option (or what follows "--") starts the
// command. readFile reads --env-file files (the prediction itself reads
// none). Options that do not change the config (-d, -i, --rm, --name) are
// accepted and ignored; any other option docker has but refval does not
// predict is an error naming it.
func ParseDockerRunArgs(args []string, readFile func(string) ([]byte, error)) (*DockerRun, error) {
	fs := pflag.NewFlagSet("docker run", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.Usage = func() {}
	var (
		r                           DockerRun
		envFiles                    []string
		entrypoint, memory, memSwap string
		cpus                        string
		pids                        int64
		detach, interactive, rm     bool
		name                        string
	)
	fs.StringArrayVarP(&r.Env, "env", "e", nil, "")
	fs.StringArrayVar(&envFiles, "env-file", nil, "")
	fs.StringVarP(&r.User, "user", "u", "", "")
	fs.StringVarP(&r.Workdir, "workdir", "w", "", "")
	fs.StringArrayVarP(&r.Volumes, "volume", "v", nil, "")
	fs.StringArrayVar(&r.Mounts, "mount", nil, "")
	fs.StringArrayVar(&r.Tmpfs, "tmpfs", nil, "")
	fs.StringVar(&r.Network, "network", "", "")
	fs.StringVar(&r.Network, "net", "", "")
	fs.StringVarP(&r.Hostname, "hostname", "h", "", "")
	fs.BoolVar(&r.ReadOnly, "read-only", false, "")
	fs.BoolVar(&r.Privileged, "privileged", false, "")
	fs.StringArrayVar(&r.CapAdd, "cap-add", nil, "")
	fs.StringArrayVar(&r.CapDrop, "cap-drop", nil, "")
	fs.StringArrayVar(&r.SecurityOpt, "security-opt", nil, "")
	fs.StringVar(&entrypoint, "entrypoint", "", "")
	fs.BoolVarP(&r.TTY, "tty", "t", false, "")
	fs.StringVarP(&memory, "memory", "m", "", "")
	fs.StringVar(&memSwap, "memory-swap", "", "")
	fs.Int64VarP(&r.CPUShares, "cpu-shares", "c", 0, "")
	fs.StringVar(&cpus, "cpus", "", "")
	fs.Int64Var(&pids, "pids-limit", 0, "")
	fs.BoolVarP(&detach, "detach", "d", false, "")
	fs.BoolVarP(&interactive, "interactive", "i", false, "")
	fs.BoolVar(&rm, "rm", false, "")
	fs.StringVar(&name, "name", "", "")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: docker run options %q: %v", ErrInvalidOption, args, err)
	}
	r.Args = fs.Args()
	if fs.Changed("entrypoint") {
		r.Entrypoint = &entrypoint
	}
	if fs.Changed("pids-limit") {
		r.PidsLimit = &pids
	}
	for _, p := range envFiles {
		b, err := readFile(p)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %w", err)
		}
		r.EnvFile = append(r.EnvFile, b...)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			r.EnvFile = append(r.EnvFile, '\n')
		}
	}
	var err error
	if memory != "" {
		if r.Memory, err = dockerRAMInBytes(memory); err != nil {
			return nil, fmt.Errorf("%w: --memory %q: %v", ErrInvalidOption, memory, err)
		}
	}
	if memSwap == "-1" {
		r.MemorySwap = -1
	} else if memSwap != "" {
		if r.MemorySwap, err = dockerRAMInBytes(memSwap); err != nil {
			return nil, fmt.Errorf("%w: --memory-swap %q: %v", ErrInvalidOption, memSwap, err)
		}
	}
	if cpus != "" {
		rat, ok := new(big.Rat).SetString(cpus)
		if !ok {
			return nil, fmt.Errorf("%w: --cpus %q: not a number", ErrInvalidOption, cpus)
		}
		n := new(big.Rat).Mul(rat, big.NewRat(1e9, 1))
		if !n.IsInt() || n.Sign() < 0 {
			return nil, fmt.Errorf("%w: --cpus %q: value is too precise or negative", ErrInvalidOption, cpus)
		}
		r.NanoCPUs = n.Num().Int64()
	}
	return &r, nil
}

// dockerRAMInBytes is go-units' RAMInBytes, as the docker CLI parses
// --memory: a decimal number and an optional unit b, k, m, g, t or p
// (optionally followed by b), binary multiples.
func dockerRAMInBytes(s string) (int64, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	v = strings.TrimSuffix(v, "b")
	mult := int64(1)
	if n := len(v); n > 0 {
		if i := strings.IndexByte("kmgtp", v[n-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			v = v[:n-1]
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size")
	}
	return int64(f * float64(mult)), nil
}
