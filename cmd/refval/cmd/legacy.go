package cmd

import "strings"

// legacyFlags are the single-dash long flags of the tools refval replaces
// (CMC's measure-bundle and cmc-signing-tool use Go's flag package, which
// accepts -name). pflag would read "-config" as a cluster of shorthands, so
// these are rewritten to "--name" before cobra parses the command line.
// Commands add their names from their own files.
var legacyFlags = map[string]map[string]bool{}

func registerLegacyFlags(command string, names ...string) {
	m := legacyFlags[command]
	if m == nil {
		m = map[string]bool{}
		legacyFlags[command] = m
	}
	for _, n := range names {
		m[n] = true
	}
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
