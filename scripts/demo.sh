#!/usr/bin/env bash
# make demo: the main job of refval, offline, on an image the project builds
# itself: image → reference value (from the layers, no rootfs on disk) →
# the same value through unpack + measure-bundle → the value a containerd
# device will record for given run options → signed CMC v0.9 Manifest (the
# default dialect) → verification; then, briefly, the CMC v0.7 path
# (--cmc-version 0.7). Usage: scripts/demo.sh OUTDIR (holding refval).
set -euo pipefail
out=${1:-_output}
R=$(cd "$out" && pwd)/refval
work=$(cd "$out" && pwd)/demo
rm -rf "$work"
mkdir -p "$work"
# Fixed times keep the unsigned manifest reproducible run to run.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date -u +%s)}
field() { sed -n "s/.*\"$1\": *\"\([0-9a-f]*\)\".*/\1/p" "$2" | head -1; }
# show FILE: the digests of a CMC v0.9 component (measure's JSON holds the
# whole predicted config as ctrData.ociSpec; see the file for it).
show() {
	echo "component $(sed -n 's/^    "name": "\(.*\)",$/\1/p' "$1" | head -1) ($1)"
	echo "  hash (SHA-256, the rootfs): $(field content "$1")"
	echo "  ctrData.configSha256:       $(field configSha256 "$1")"
	echo "  ctrData.rootfsSha256:       $(field rootfsSha256 "$1")"
	echo "  properties:                 $(tr -d ' \n' <"$1" | grep -o '"properties":\[[^]]*\]' | head -1)"
}

echo "== 1. build the demo image (static program, two layers: whiteout, hardlink, setuid, file capability)"
CGO_ENABLED=0 go build -trimpath -o "$work/hello" ./examples/demo-image/hello
go run ./examples/demo-image --program "$work/hello" --out "$work/image" --tag demo:1.0
img="oci:$work/image:demo:1.0"
store=(--layout "$work/store" --insecure-policy -q)

echo "== 2. measure the image straight from its layers (a CMC v0.9 component: the default dialect)"
"$R" measure "$img" "${store[@]}" --name demo-app --records "$work/image.records.jsonl" \
	--normalized-config "$work/image.config.json" >"$work/refvals.json"
show "$work/refvals.json"

echo "== 3. unpack it into a runtime bundle and measure the bundle"
"$R" unpack "$img" "$work/bundle" "${store[@]}" >"$work/unpack.json"
"$R" measure-bundle "$work/bundle" --name demo-app --records "$work/bundle.records.jsonl" >"$work/bundle-refvals.json"
a=$(field rootfsSha256 "$work/refvals.json")
b=$(field rootfsSha256 "$work/bundle-refvals.json")
if [ "$(id -u)" = 0 ]; then
	[ "$a" = "$b" ] || { echo "demo: rootfs digests differ: image $a, bundle $b" >&2; "$R" diff "$work/image.records.jsonl" "$work/bundle.records.jsonl" || true; exit 1; }
	echo "rootfsSha256 from the layers = rootfsSha256 of the unpacked bundle = $a"
else
	echo "not root: the unpack was rootless and cannot create the file capability;"
	echo "rootfs from the layers $a, rootless bundle $b (see docs/images.md)"
fi

echo "== 4. the value a containerd 2.x device will record for: ctr run --env VAL=HELLO IMAGE ID"
device=(--pull never --name demo-app --driver tpm --pcr 11 --engine containerd --engine-version 2.x --env VAL=HELLO)
"$R" measure "$img" "${store[@]}" "${device[@]}" \
	--normalized-config "$work/device.config.json" >"$work/device-refvals.json"
show "$work/device-refvals.json"
c=$(field configSha256 "$work/device-refvals.json")
[ "$(field rootfsSha256 "$work/device-refvals.json")" = "$a" ] || { echo "demo: the engine changed the rootfs digest" >&2; exit 1; }
[ "$c" != "$(field configSha256 "$work/refvals.json")" ] || { echo "demo: the predicted config equals umoci's" >&2; exit 1; }
echo "same rootfs, the config containerd will write (ctrData.ociSpec, CMC matches the measured config against it)"

echo "== 5. CMC v0.9 Manifest with that component, signed (JWS and COSE) with a throwaway PKI, verified"
REFVAL="$R" sh scripts/demo-sign.sh "$work/device-refvals.json" "$work" "$R"

echo "== 6. the CMC v0.7 path: the same flags with --cmc-version 0.7 (shim: cmc_version = \"0.7\")"
"$R" measure "$img" "${store[@]}" "${device[@]}" --cmc-version 0.7 >"$work/device-refvals-0.7.json"
echo "TPM Reference Value: sha256 (the template hash the shim extends) $(field sha256 "$work/device-refvals-0.7.json")"
[ "$(field rootfsSha256 "$work/device-refvals-0.7.json")" = "$a" ] && [ "$(field configSha256 "$work/device-refvals-0.7.json")" = "$c" ] ||
	{ echo "demo: the 0.7 value has other component digests" >&2; exit 1; }
"$R" manifest create --cmc-version 0.7 --name demo-app --version 1.0.0 --developer "refval demo signer" \
	--refvals "$work/device-refvals-0.7.json" --valid-for 365d --out "$work/app.manifest.json" 2>/dev/null
"$R" sign --in "$work/app.manifest.json" --out "$work/app.manifest.signed.json" \
	--key "$work/pki/signer.key" --cert "$work/pki/signer.pem,$work/pki/int.pem"
"$R" verify --ca "$work/pki/root.pem" --at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$work/app.manifest.signed.json" >"$work/verify-0.7.json"
echo "verified: App Manifest $work/app.manifest.signed.json (same rootfs and config digests)"

echo
echo "demo done: everything is in $work"
