package shim

import (
	"errors"
	"fmt"
	"strings"
)

// RuncCall is what the wrapper needs to know about one runc invocation.
// Parsing never changes the arguments: the wrapper execs runc with the
// original argv whatever this finds.
type RuncCall struct {
	// Command is the subcommand ("create", "run", "delete", ...), "" when
	// there is none (runc --version, runc --help).
	Command string
	// Bundle is the --bundle/-b value, "" when absent (runc then uses its
	// working directory).
	Bundle string
	// ID is the container ID: the last positional argument of the
	// subcommand (go-runc and containerd-shim always put it last).
	ID string
	// Log and LogFormat are the global --log and --log-format values; the
	// wrapper writes its refusal there so the runc shim reports it.
	Log       string
	LogFormat string
}

// ErrRuncArgs marks runc arguments the wrapper cannot interpret.
var ErrRuncArgs = errors.New("unrecognised runc arguments")

// runc flags that take a value, by name without dashes. runc uses
// urfave/cli, which accepts "-flag" and "--flag", "flag value" and
// "flag=value". Boolean flags need no list: anything not listed here is
// taken as a boolean, so an unknown future boolean flag is harmless, and
// an unknown future value flag can at worst leave its value among the
// positionals -- which is why the ID is the last positional, not the
// first.
var (
	runcGlobalValueFlags = map[string]bool{
		"root": true, "log": true, "log-format": true, "criu": true, "rootless": true,
	}
	// Value flags of create, run and restore (runc 1.1: none of them is
	// a boolean flag of another of the three).
	runcCreateValueFlags = map[string]bool{
		"bundle": true, "b": true, "console-socket": true, "pidfd-socket": true,
		"pid-file": true, "preserve-fds": true,
		"image-path": true, "work-path": true, "manage-cgroups-mode": true,
		"empty-ns": true, "lsm-profile": true, "lsm-mount-context": true,
	}
)

// measuredCommands are the runc subcommands that start a new container
// from a bundle. restore is one (containerd uses it for checkpoint
// restores): it must not be a way to start a container unmeasured.
var measuredCommands = map[string]bool{"create": true, "run": true, "restore": true}

// Measured reports whether the runc subcommand command starts a container
// from a bundle, so that the wrapper measures it (create, run, restore).
func Measured(command string) bool { return measuredCommands[command] }

// ParseRuncArgs parses runc's arguments (without argv[0]).
func ParseRuncArgs(args []string) (RuncCall, error) {
	var c RuncCall
	i := 0
	// Global flags until the subcommand.
	for i < len(args) {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		name, val, hasVal, ok := splitFlag(a)
		if !ok {
			break
		}
		i++
		if runcGlobalValueFlags[name] && !hasVal {
			if i >= len(args) {
				return c, fmt.Errorf("%w: flag %s needs a value", ErrRuncArgs, a)
			}
			val, hasVal = args[i], true
			i++
		}
		switch name {
		case "log":
			c.Log = val
		case "log-format":
			c.LogFormat = val
		}
	}
	if i >= len(args) {
		return c, nil
	}
	c.Command = args[i]
	i++
	if !measuredCommands[c.Command] {
		return c, nil // passed through unparsed: nothing to measure
	}
	var pos []string
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		name, val, hasVal, ok := splitFlag(a)
		if !ok {
			pos = append(pos, a)
			continue
		}
		if runcCreateValueFlags[name] && !hasVal {
			if i+1 >= len(args) {
				return c, fmt.Errorf("%w: %s flag %s needs a value", ErrRuncArgs, c.Command, a)
			}
			i++
			val = args[i]
		}
		if name == "bundle" || name == "b" {
			c.Bundle = val
		}
	}
	if len(pos) == 0 {
		return c, fmt.Errorf("%w: %s without a container ID", ErrRuncArgs, c.Command)
	}
	c.ID = pos[len(pos)-1]
	if c.ID == "" {
		return c, fmt.Errorf("%w: %s with an empty container ID", ErrRuncArgs, c.Command)
	}
	return c, nil
}

// splitFlag splits "-name", "--name" or "--name=value". ok is false for a
// positional argument ("-" alone is positional, as for urfave/cli).
func splitFlag(a string) (name, val string, hasVal, ok bool) {
	if len(a) < 2 || a[0] != '-' {
		return "", "", false, false
	}
	name = strings.TrimPrefix(a[1:], "-")
	if name == "" {
		return "", "", false, false
	}
	if k, v, found := strings.Cut(name, "="); found {
		return k, v, true, true
	}
	return name, "", false, true
}

// shimOnlyFlags are flags of containerd's shim protocol that runc does not
// have; runcOnlyFlags are runc global flags no shim invocation carries.
var (
	shimOnlyFlags = map[string]bool{
		"namespace": true, "address": true, "publish-binary": true, "id": true,
		"socket": true, "bundle": true, "info": true,
	}
	runcOnlyFlags = map[string]bool{
		"root": true, "log": true, "log-format": true, "criu": true,
		"systemd-cgroup": true, "rootless": true,
	}
	// Subcommands only runc has ("start" and "delete" exist in both).
	runcOnlyCommands = map[string]bool{
		"create": true, "run": true, "exec": true, "kill": true, "state": true,
		"ps": true, "features": true, "pause": true, "resume": true, "update": true,
		"events": true, "checkpoint": true, "restore": true, "list": true,
		"spec": true, "init": true,
	}
)

// LooksLikeRunc reports whether args (without argv[0]) are a runc call
// rather than a containerd shim call. It decides for a binary not named
// "runc" that is used as a runc BinaryName (the seed's runtime v1
// configuration, a Docker runtime path): containerd and its shims always
// pass --root to runc, and the shim protocol always passes -namespace.
// Undecidable calls ("-v", "--help") count as shim calls.
func LooksLikeRunc(args []string) bool {
	for _, a := range args {
		name, _, _, ok := splitFlag(a)
		if !ok {
			return runcOnlyCommands[a]
		}
		if shimOnlyFlags[name] {
			return false
		}
		if runcOnlyFlags[name] {
			return true
		}
	}
	return false
}
