#!/bin/sh
# demo-sign.sh REFVALS.json WORKDIR [REFVAL]
#
# From CMC v0.9 components (the output of `refval measure-bundle` or
# `refval measure`) to a verified signed Manifest and its Image Description,
# with a throwaway test PKI made by openssl: root CA → intermediate CA →
# signing leaf. Nothing here is fit for production keys.
set -eu

refvals=${1:?usage: demo-sign.sh REFVALS.json WORKDIR [REFVAL_BINARY]}
work=${2:?usage: demo-sign.sh REFVALS.json WORKDIR [REFVAL_BINARY]}
refval=${3:-${REFVAL:-refval}}
pki=$work/pki
mkdir -p "$pki"

# A fixed validity start keeps the unsigned manifest reproducible.
: "${SOURCE_DATE_EPOCH:=$(date -u +%s)}"
export SOURCE_DATE_EPOCH

echo "== test PKI (openssl, throwaway) in $pki"
ext=$pki/ext.cnf
cat >"$ext" <<CNF
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$pki/root.key" 2>/dev/null
openssl req -x509 -new -key "$pki/root.key" -subj "/CN=refval demo root" -days 30 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out "$pki/root.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/int.key" 2>/dev/null
openssl req -new -key "$pki/int.key" -subj "/CN=refval demo intermediate" -out "$pki/int.csr"
openssl x509 -req -in "$pki/int.csr" -CA "$pki/root.pem" -CAkey "$pki/root.key" -CAcreateserial \
	-days 30 -extfile "$ext" -extensions ca -out "$pki/int.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/signer.key" 2>/dev/null
openssl req -new -key "$pki/signer.key" -subj "/CN=refval demo signer" -out "$pki/signer.csr"
openssl x509 -req -in "$pki/signer.csr" -CA "$pki/int.pem" -CAkey "$pki/int.key" -CAcreateserial \
	-days 30 -extfile "$ext" -extensions leaf -out "$pki/signer.pem" 2>/dev/null

# CMC keeps only metadata whose version is an RFC 3339 time: the build time.
version=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
echo "== Manifest (version $version) and its Image Description"
"$refval" manifest create --name demo-app --version "$version" --developer "refval demo signer" \
	--refvals "$refvals" --valid-for 365d --out "$work/manifest.json" --image-description "$work/image-description.json"

echo "== sign (JWS) and convert + sign (COSE)"
"$refval" sign --in "$work/manifest.json" --out "$work/manifest.signed.json" \
	--key "$pki/signer.key" --cert "$pki/signer.pem,$pki/int.pem"
"$refval" sign --in "$work/image-description.json" --out "$work/image-description.signed.json" \
	--key "$pki/signer.key" --cert "$pki/signer.pem,$pki/int.pem"
"$refval" convert --to cbor "$work/manifest.json" --out "$work/manifest.cbor"
"$refval" sign --in "$work/manifest.cbor" --out "$work/manifest.signed.cbor" \
	--key "$pki/signer.key" --cert "$pki/signer.pem,$pki/int.pem"

echo "== verify"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$refval" verify --ca "$pki/root.pem" --at "$now" "$work/manifest.signed.json" \
	--payload-out "$work/manifest.verified.json" >"$work/verify.json"
"$refval" verify --ca "$pki/root.pem" --at "$now" "$work/manifest.signed.cbor" >"$work/verify-cose.json"
"$refval" verify --ca "$pki/root.pem" --at "$now" "$work/image-description.signed.json" >"$work/verify-image-description.json"
cmp "$work/manifest.json" "$work/manifest.verified.json"
echo "verified: $work/manifest.signed.json, $work/manifest.signed.cbor and $work/image-description.signed.json (results in $work/verify*.json)"

echo "== a tampered copy must fail"
sed 's/"payload":"e/"payload":"f/' "$work/manifest.signed.json" >"$work/tampered.json"
if "$refval" verify --ca "$pki/root.pem" "$work/tampered.json" >"$work/verify-tampered.json" 2>/dev/null; then
	echo "demo-sign: a tampered manifest verified" >&2
	exit 1
fi
grep -o '"code": "[a-z-]*"' "$work/verify-tampered.json" | head -1
