package cmd

import "strings"

// legacyFlags are the single-dash long flags of the tools refval replaces
// (CMC's measure-bundle and cmc-signing-tool use Go's flag package, which
// accepts -name), per command. pflag would read "-config" as a cluster of
// shorthands, so these are rewritten to "--name" before cobra parses the
// command line.
var legacyFlags = map[string]map[string]bool{
	// CMC's measure-bundle: -config C -rootfs R.
	"measure-bundle": {"config": true, "rootfs": true},
	// CMC's cmc-signing-tool: -in F -out F -keys k1,k2 -x5cs leaf1,int1:leaf2,ca2.
	"sign": {"in": true, "out": true, "keys": true, "x5cs": true},
}

// normalizeLegacyFlags rewrites "-name" and "-name=value" into their
// double-dash form when name is a legacy flag of the subcommand in args.
func normalizeLegacyFlags(args []string) []string {
	var names map[string]bool
	out := make([]string, 0, len(args))
	for i, a := range args {
		if names == nil && !strings.HasPrefix(a, "-") {
			names = legacyFlags[a]
			out = append(out, a)
			continue
		}
		if a == "--" {
			return append(out, args[i:]...)
		}
		if names != nil && len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if names[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}
