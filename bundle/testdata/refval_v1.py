#!/usr/bin/env python3
"""Second implementation of refval-v1, written from docs/measurement.md.

The Go tests run it on their test trees and configs and compare digests, so
the spec, this script and the Go code must agree. Standard library only.

  refval_v1.py config FILE [ID]            -> normalised config, then its sha256
  refval_v1.py rootfs DIR [UIDMAP GIDMAP]  -> "<sha256> <count>"; maps as
                                              "c:h:s,c:h:s" ("-" for none)
  refval_v1.py records FILE                -> "<sha256> <count>" of a records
                                              file (JSON lines, docs/measurement.md)
"""
import decimal, hashlib, json, math, os, stat, struct, sys

# ---- config ----------------------------------------------------------------

class Num(str):
    """A JSON number kept as its literal text."""

def no_duplicates(pairs):
    """Objects naming a member twice are not I-JSON: refuse them."""
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate member %r" % k)
        d[k] = v
    return d

def loads(text):
    return json.loads(text, parse_float=Num, parse_int=Num, object_pairs_hook=no_duplicates,
                      parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))

def es6(f):
    """ECMAScript Number.prototype.toString (RFC 8785 section 3.2.2.3)."""
    if math.isnan(f) or math.isinf(f):
        raise ValueError("not finite")
    if f == 0:
        return "0"
    sign = "-" if f < 0 else ""
    # repr gives the shortest digits that round-trip; Decimal splits them.
    t = decimal.Decimal(repr(abs(f))).as_tuple()
    digits = "".join(map(str, t.digits)).rstrip("0")
    exp = t.exponent + (len(t.digits) - len(digits))  # value = digits * 10**exp
    k = len(digits)
    n = k + exp  # position of the decimal point
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if n > 0 else "-") + str(abs(n - 1))
    return sign + out

def num(s):
    t = s[1:] if s.startswith("-") else s
    if t.isdigit():
        return "0" if s == "-0" else s
    return es6(float(s))

def jstr(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"': out.append('\\"')
        elif ch == '\\': out.append('\\\\')
        elif ch == '\b': out.append('\\b')
        elif ch == '\f': out.append('\\f')
        elif ch == '\n': out.append('\\n')
        elif ch == '\r': out.append('\\r')
        elif ch == '\t': out.append('\\t')
        elif o < 0x20: out.append('\\u%04x' % o)
        else: out.append(ch)
    out.append('"')
    return "".join(out)

def canon(v):
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, Num): return num(v)
    if isinstance(v, str): return jstr(v)
    if isinstance(v, list): return "[" + ",".join(canon(e) for e in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jstr(k) + ":" + canon(v[k]) for k in keys) + "}"
    raise TypeError(type(v))

def sub_id(s, id_, short):
    if s in (id_, short):
        return "<container-id>"
    out, seg = [], []
    for ch in s:
        if ch in "/:":
            w = "".join(seg)
            out.append("<container-id>" if w in (id_, short) else w)
            out.append(ch)
            seg = []
        else:
            seg.append(ch)
    w = "".join(seg)
    out.append("<container-id>" if w in (id_, short) else w)
    return "".join(out)

def walk_strings(v, f):
    if isinstance(v, str) and not isinstance(v, Num):
        return f(v)
    if isinstance(v, list):
        return [walk_strings(e, f) for e in v]
    if isinstance(v, dict):
        return {k: walk_strings(e, f) for k, e in v.items()}
    return v

def normalize(text, id_=""):
    doc = loads(text)
    assert isinstance(doc, dict)
    if isinstance(doc.get("root"), dict):
        doc["root"].pop("path", None)
    doc.pop("annotations", None)
    if isinstance(doc.get("process"), dict):
        doc["process"].pop("terminal", None)
        doc["process"].pop("consoleSize", None)
    linux = doc.get("linux")
    if isinstance(linux, dict) and isinstance(linux.get("namespaces"), list):
        for ns in linux["namespaces"]:
            if "path" in ns:
                ns["path"] = "<namespace-path>"
    if id_:
        short = id_.encode()[:12].decode("utf-8", "ignore") if len(id_.encode()) > 12 else id_
        doc = walk_strings(doc, lambda s: sub_id(s, id_, short))
    p = doc.get("process")
    if isinstance(p, dict) and isinstance(p.get("env"), list):
        # Stable sort by the name including '=' (whole entry without '='):
        # bytewise for different names, original order for a repeated name.
        p["env"] = sorted(p["env"], key=lambda s: (s[:s.index("=") + 1] if "=" in s else s).encode())
    return canon(doc).encode()

# ---- rootfs ----------------------------------------------------------------

TYPES = {stat.S_IFDIR: 1, stat.S_IFREG: 2, stat.S_IFLNK: 3, stat.S_IFCHR: 4,
         stat.S_IFBLK: 5, stat.S_IFIFO: 6, stat.S_IFSOCK: 7}

def parse_map(s):
    if s in ("", "-"):
        return []
    return [tuple(int(x) for x in e.split(":")) for e in s.split(",")]

def map_id(i, m):
    if not m:
        return i
    for c, h, n in m:
        if h <= i < h + n:
            return c + (i - h)
    return 65534

def varint(b, i):
    v = shift = 0
    while True:
        v |= (b[i] & 0x7F) << shift
        shift += 7
        i += 1
        if b[i - 1] < 0x80:
            return v, i

def rootless(b):
    uid = gid = 0xFFFFFFFF
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = varint(b, i)
            if f == 1: uid = v & 0xFFFFFFFF
            if f == 2: gid = v & 0xFFFFFFFF
        elif w == 1: i += 8
        elif w == 2:
            n, i = varint(b, i); i += n
        elif w == 5: i += 4
        else: raise ValueError("bad wire type")
    return uid, gid

def xattr(path, name):
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None

def lp(b):
    return struct.pack(">I", len(b)) + b

def record(full, rel, umap, gmap):
    st = os.lstat(full)
    t = TYPES[stat.S_IFMT(st.st_mode)]
    mode = 0 if t == 3 else st.st_mode & 0o7777
    uid, gid = map_id(st.st_uid, umap), map_id(st.st_gid, gmap)
    rl = xattr(full, "user.rootlesscontainers")
    if rl is not None:
        u, g = rootless(rl)
        if u != 0xFFFFFFFF: uid = u
        if g != 0xFFFFFFFF: gid = g
    out = b"\x01" + lp(rel) + bytes([t]) + struct.pack(">III", mode, uid, gid)
    if t == 2:
        with open(full, "rb") as f:
            out += hashlib.sha256(f.read()).digest()
    elif t == 3:
        out += lp(os.readlink(full))
    elif t in (4, 5):
        out += struct.pack(">II", os.major(st.st_rdev), os.minor(st.st_rdev))
    cap = xattr(full, "security.capability") or b""
    return out + lp(cap), t

def rootfs(root, umap, gmap):
    h, n = hashlib.sha256(), 0
    def visit(full, rel):
        nonlocal n
        rec, t = record(full, rel or b"/", umap, gmap)
        h.update(rec)
        n += 1
        if t == 1:
            for name in sorted(os.listdir(full)):
                visit(os.path.join(full, name), rel + b"/" + name)
    visit(os.fsencode(root), b"")
    return h.hexdigest(), n

def from_json(line):
    import base64
    r = json.loads(line)
    path = base64.b64decode(r["pathBase64"]) if "pathBase64" in r else r["path"].encode()
    t = {"dir": 1, "file": 2, "symlink": 3, "char": 4, "block": 5, "fifo": 6, "socket": 7}[r["type"]]
    out = b"\x01" + lp(path) + bytes([t]) + struct.pack(">III", int(r["mode"], 8), r["uid"], r["gid"])
    if t == 2:
        out += bytes.fromhex(r["sha256"])
    elif t == 3:
        out += lp(base64.b64decode(r["targetBase64"]) if "targetBase64" in r else r.get("target", "").encode())
    elif t in (4, 5):
        out += struct.pack(">II", r.get("devMajor", 0), r.get("devMinor", 0))
    return out + lp(bytes.fromhex(r.get("capability", "")))

if __name__ == "__main__":
    if sys.argv[1] == "config":
        with open(sys.argv[2], "rb") as f:
            norm = normalize(f.read().decode("utf-8"), sys.argv[3] if len(sys.argv) > 3 else "")
        sys.stdout.buffer.write(norm + b"\n" + hashlib.sha256(norm).hexdigest().encode() + b"\n")
    elif sys.argv[1] == "rootfs":
        um = parse_map(sys.argv[3]) if len(sys.argv) > 3 else []
        gm = parse_map(sys.argv[4]) if len(sys.argv) > 4 else []
        d, n = rootfs(sys.argv[2], um, gm)
        print(d, n)
    elif sys.argv[1] == "records":
        h, n = hashlib.sha256(), 0
        with open(sys.argv[2]) as f:
            for line in f:
                if line.strip():
                    h.update(from_json(line)); n += 1
        print(h.hexdigest(), n)
    else:
        sys.exit("usage: see module docstring")
