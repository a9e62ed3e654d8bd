#!/usr/bin/env python3
"""Writes the golden files of manifest/testdata from plain Python values.

This is the independent second implementation the golden tests rely on:
JSON through Python's json module (sorted keys, two-space indent, final
newline), CBOR through the small RFC 8949 encoder below (core deterministic
encoding, section 4.2.1: shortest heads, definite lengths, map keys sorted
by the bytewise order of their encodings). It shares no code with refval.
Run it from this directory: python3 golden.py
"""
import json
import struct


class Tag:
    def __init__(self, number, content):
        self.number, self.content = number, content


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
    raise ValueError(n)


def cbor(v):
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if v is None:
        return b"\xf6"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, float):
        # only values exact in half precision are used here
        h = struct.pack(">e", v)
        assert struct.unpack(">e", h)[0] == v
        return b"\xf9" + h
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode("utf-8")
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor(e) for e in v)
    if isinstance(v, dict):
        items = sorted((cbor(k), cbor(e)) for k, e in v.items())
        return head(5, len(items)) + b"".join(k + e for k, e in items)
    if isinstance(v, Tag):
        return head(6, v.number) + cbor(v.content)
    raise TypeError(type(v))


def write_json(name, v):
    with open(name, "w") as f:
        f.write(json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_cbor(name, v):
    with open(name, "wb") as f:
        f.write(cbor(v))


H = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
C = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
R = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
H384 = "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"

# The App Manifest of TestCreateGolden, JSON member names from the CMC format.
manifest_json = {
    "type": "App Manifest",
    "name": "web",
    "version": "1.2.0",
    "developerCommonName": "ACME CI <ci@example.com>",
    "oss": ["Ubuntu 24.04"],
    "description": "web front end",
    "certificationLevel": 1,
    "validity": {"notBefore": "2026-01-01T00:00:00Z", "notAfter": "2027-01-01T00:00:00Z"},
    "referenceValues": [
        {"type": "TPM Reference Value", "name": "web", "pcr": 11, "sha256": H,
         "ctrData": {"configSha256": C, "rootfsSha256": R}},
        {"type": "SW Reference Value", "name": "web-sw", "optional": True,
         "sha384": H384, "description": "list driver"},
    ],
}
# The same manifest with the CBOR integer keys of docs/manifests.md.
manifest_cbor = {
    0: "App Manifest",
    1: "web",
    2: "1.2.0",
    3: "ACME CI <ci@example.com>",
    4: ["Ubuntu 24.04"],
    5: "web front end",
    6: 1,
    7: {0: "2026-01-01T00:00:00Z", 1: "2027-01-01T00:00:00Z"},
    8: [
        {0: "TPM Reference Value", 3: "web", 5: 11, 1: bytes.fromhex(H),
         20: {0: bytes.fromhex(C), 1: bytes.fromhex(R)}},
        {0: "SW Reference Value", 3: "web-sw", 4: True,
         2: bytes.fromhex(H384), 9: "list driver"},
    ],
}

# A Device Description with members refval does not know, before and after
# PutAppDescription(web: new environment; web2: added).
device_json = {
    "type": "Device Description",
    "name": "edge-7",
    "version": "2025-11-01",
    "location": "rack 4",
    "rtmManifest": "rtm.manifest",
    "osManifest": "os.manifest",
    "x-vendor": {"weights": [1, -2, 2.5, None, True], "note": "<keep & unescaped>"},
    "appDescriptions": [
        {"type": "App Description", "name": "web", "version": "1", "appManifest": "web",
         "externalConnections": ["10.0.0.1:443"], "x-extra": {"keep": "me"},
         "environment": [{"key": "OLD", "value": "1"}]},
        {"type": "App Description", "name": "db", "appManifest": "db"},
    ],
}
device_put_json = json.loads(json.dumps(device_json))
device_put_json["appDescriptions"][0].update(
    {"environment": [{"key": "MODE", "value": "prod"}, {"key": "A", "value": "x=y"}]})
device_put_json["appDescriptions"].append(
    {"type": "App Description", "name": "web2", "appManifest": "web2"})

# The CBOR Device Description carries unknown integer keys and values that
# have no JSON form (a byte string, a tag): editing must keep them.
device_cbor = {
    0: "Device Description",
    1: "edge-7",
    2: "2025-11-01",
    3: "rack 4",
    99: b"\x00\xff",
    100: Tag(37, bytes(range(16))),  # UUID tag: no JSON form, kept by edits
    -1: [1, -2, 2.5, None],
    7: [
        {0: "App Description", 1: "web", 2: "1", 3: "web", 4: ["10.0.0.1:443"],
         5: [{0: "OLD", 1: "1"}], 42: b"keep"},
        {0: "App Description", 1: "db", 3: "db"},
    ],
}
device_put_cbor = dict(device_cbor)
device_put_cbor[7] = [dict(device_cbor[7][0]), device_cbor[7][1],
                      {0: "App Description", 1: "web2", 3: "web2"}]
device_put_cbor[7][0][5] = [{0: "MODE", 1: "prod"}, {0: "A", 1: "x=y"}]

# An App Description with every member, and its CBOR form.
app_description_json = {
    "type": "App Description", "name": "web", "version": "1.2.0", "appManifest": "web",
    "externalConnections": ["10.0.0.1:443", "db:5432"],
    "environment": [{"key": "MODE", "value": "prod"}, {"key": "EMPTY", "value": ""}],
}
app_description_cbor = {
    0: "App Description", 1: "web", 2: "1.2.0", 3: "web",
    4: ["10.0.0.1:443", "db:5432"],
    5: [{0: "MODE", 1: "prod"}, {0: "EMPTY", 1: ""}],
}

# device_json converted to CBOR: known members get their integer keys,
# unknown ones keep their JSON names as text keys, recursively.
def device_conv(v, top=True):
    known = {"type": 0, "name": 1, "version": 2, "appDescriptions": 7}
    ad = {"type": 0, "name": 1, "version": 2, "appManifest": 3, "externalConnections": 4, "environment": 5}
    out = {}
    for k, e in v.items():
        if k == "appDescriptions":
            out[7] = [{ad.get(ak, ak): ([{0: x["key"], 1: x["value"]} for x in av] if ak == "environment" else av)
                       for ak, av in a.items()} for a in e]
        else:
            out[known.get(k, k)] = e
    return out

if __name__ == "__main__":
    write_json("app.description.json", app_description_json)
    write_cbor("app.description.cbor", app_description_cbor)
    write_cbor("device.description.conv.cbor", device_conv(device_json))
    write_json("app.manifest.json", manifest_json)
    write_cbor("app.manifest.cbor", manifest_cbor)
    write_json("device.description.json", device_json)
    write_json("device.description.put.json", device_put_json)
    write_cbor("device.description.cbor", device_cbor)
    write_cbor("device.description.put.cbor", device_put_cbor)
