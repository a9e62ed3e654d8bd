#!/usr/bin/env bash
# Runs every native fuzz target of the module for FUZZTIME each (make fuzz).
# Targets are discovered with `go test -list '^Fuzz'`, so a new target is
# fuzzed without being named here; `go test -fuzz` takes one target at a
# time, so each gets its own run. A failing target fails the whole run
# after the others have had their turn; Go leaves its crasher in the
# package's testdata/fuzz/<Target>/, to be committed with the fix (it then
# runs as a regression input in every `go test`).
#   scripts/fuzz.sh [FUZZTIME]   (default 3s; FUZZTIME=10m for a long run)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
TAGS=${TAGS:-}
fuzztime=${1:-${FUZZTIME:-3s}}

# The packages with a test file declaring a Fuzz function (so that -list
# need not build every test binary of the module), then their targets:
# `go test -list` prints the matching names of a package, then its
# "ok <package>" line: pair each name with the package that follows it.
# Either failing (a package that does not build) fails the run.
listing=$($GO list -tags "$TAGS" -f '{{.ImportPath}} {{.Dir}}{{range .TestGoFiles}} {{.}}{{end}}{{range .XTestGoFiles}} {{.}}{{end}}' ./...)
pkgs=()
while read -r pkg dir files; do
	for f in $files; do
		if grep -q '^func Fuzz' "$dir/$f"; then
			pkgs+=("$pkg")
			break
		fi
	done
done <<<"$listing"
if [ ${#pkgs[@]} -eq 0 ]; then
	echo "fuzz: no package declares a fuzz target" >&2
	exit 1
fi
listing=$($GO test -tags "$TAGS" -list '^Fuzz' "${pkgs[@]}")
mapfile -t targets < <(awk '
	/^Fuzz/ { names[n++] = $1; next }
	/^ok / { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }' <<<"$listing")
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# fuzz runs one target, its output on stdout and in $log.
fuzz() {
	set -o pipefail
	$GO test -tags "$TAGS" -run '^$' -fuzz "^${2}\$" -fuzztime "$fuzztime" "$1" 2>&1 | tee "$log"
}

echo "fuzz: ${#targets[@]} targets, $fuzztime each"
failed=()
for t in "${targets[@]}"; do
	pkg=${t% *} name=${t#* }
	echo "fuzz: $pkg $name"
	if fuzz "$pkg" "$name"; then
		continue
	fi
	# Go 1.26's fuzz coordinator can fail a target with a bare "context
	# deadline exceeded" at the end of -fuzztime when the machine is busy,
	# with no input to blame (golang.org/issue/75804, fixed in Go 1.27).
	# Such a failure wrote no crasher: run the target once more. An input
	# that really hangs the target fails the second run too.
	if ! grep -q 'Failing input written to' "$log" && grep -q 'context deadline exceeded' "$log"; then
		echo "fuzz: $name stopped at the deadline without a failing input (golang.org/issue/75804); once more"
		if fuzz "$pkg" "$name"; then
			continue
		fi
	fi
	failed+=("$pkg $name")
done
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
	echo "fuzz: a crashing input is in testdata/fuzz/<Target>/ of its package (git status): commit it with the fix" >&2
	exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed"
