#!/usr/bin/env python3
"""Second implementation of refval-v2's config rules, written from
docs/measurement.md (section "Scheme refval-v2"). The rootfs, JCS and the
refval-v1 rules are those of refval_v1.py, which this script imports.
Matching here is by regular expressions over whole strings, not by the
segment loops of the Go code, so that the two are independent.

  refval_v2.py config FILE [ID]  -> normalised config, then its sha256;
                                    exit status 3 when the config is refused
Standard library only.
"""
import hashlib, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refval_v1 as v1  # noqa: E402

PLACEHOLDERS = ["<container-id>", "<namespace-path>", "<sandbox-id>", "<pod-uid>",
                "<termination-log>", "kube-api-access-<random>", "<pod-hostname>",
                "<dockerd-pid>", "<docker-network-controller-id>"]

HEX64 = re.compile(r"[0-9a-f]{64}")
UID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")    # container names
SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")
POD_ENTRY = r"(?:etc-hosts|containers|volumes|volume-subpaths|plugins)"
RAND5 = r"[bcdfghjklmnpqrstvwxz2456789]{5}"


class Refused(Exception):
    pass


def is_str(v):
    return isinstance(v, str) and not isinstance(v, v1.Num)


def subdomain(s):
    return len(s) <= 253 and SUBDOMAIN.fullmatch(s) is not None


def refuse_placeholders(v, top=True):
    if is_str(v):
        for p in PLACEHOLDERS:
            if p in v:
                raise Refused(p)
    elif isinstance(v, list):
        for e in v:
            refuse_placeholders(e, False)
    elif isinstance(v, dict):
        for k, e in v.items():
            if not (top and k == "annotations"):
                refuse_placeholders(e, False)


def cri(doc):
    """The CRI annotations, or None when the config is not a CRI container."""
    a = doc.get("annotations")
    if not isinstance(a, dict):
        return None
    def get(k):
        s = a.get(k)
        return s if is_str(s) else ""
    if get("io.kubernetes.cri.container-type") not in ("sandbox", "container"):
        return None
    sid, uid, pod, name = (get("io.kubernetes.cri." + k) for k in
                           ("sandbox-id", "sandbox-uid", "sandbox-name", "container-name"))
    return {
        "sid": sid if HEX64.fullmatch(sid) else "",
        "uid": uid if UID.fullmatch(uid) else "",
        "pod": pod if subdomain(pod) else "",
        "name": name if LABEL.fullmatch(name) else "",
    }


def map_sources(doc, f):
    for m in doc.get("mounts") or []:
        if isinstance(m, dict) and is_str(m.get("source")):
            m["source"] = f(m["source"])


def cri_rules(doc):
    c = cri(doc)
    if c is None:
        return
    sid, uid, pod, name = c["sid"], c["uid"], c["pod"], c["name"]
    if sid:
        rx = re.compile(r"(^|/)(io\.containerd\.grpc\.v1\.cri/sandboxes/)" + sid + r"(?=/|\Z)")
        map_sources(doc, lambda s: rx.sub(r"\1\2<sandbox-id>", s))
    if uid and name:
        rx = re.compile(r"((?:\A|/)pods/" + uid + "/containers/" + re.escape(name) + r"/)[0-9a-f]{8}\Z")
        map_sources(doc, lambda s: rx.sub(r"\1<termination-log>", s))
    if uid:
        rx = re.compile(r"((?:\A|/)pods/" + uid + r"/volumes/kubernetes\.io~projected/kube-api-access-)" + RAND5 + r"\Z")
        map_sources(doc, lambda s: rx.sub(r"\1<random>", s))
        rx = re.compile(r"(\A|/)pods/" + uid + "(?=/" + POD_ENTRY + r"(?:/|\Z))")
        map_sources(doc, lambda s: rx.sub(r"\1pods/<pod-uid>", s))
        linux = doc.get("linux")
        if isinstance(linux, dict) and is_str(linux.get("cgroupsPath")):
            p = linux["cgroupsPath"]
            m = re.fullmatch(r"(/(?:.*/)?)pod" + uid + r"(/[^/]*)", p, re.S)
            if m:
                p = m.group(1) + "pod<pod-uid>" + m.group(2)
            else:
                m = re.fullmatch(r"((?:[^:/][^:]*-)?)pod" + uid.replace("-", "_") + r"\.slice(:.*)", p, re.S)
                if m:
                    p = m.group(1) + "pod<pod-uid>.slice" + m.group(2)
            linux["cgroupsPath"] = p
    if pod:
        host = pod if len(pod) <= 63 else pod[:63].rstrip("-.")
        if doc.get("hostname") == host and is_str(doc["hostname"]):
            doc["hostname"] = "<pod-hostname>"
        proc = doc.get("process")
        if isinstance(proc, dict) and isinstance(proc.get("env"), list):
            proc["env"] = ["HOSTNAME=<pod-hostname>" if e == "HOSTNAME=" + host and is_str(e) else e
                           for e in proc["env"]]


PROC_EXE = re.compile(r"/proc/[1-9][0-9]*/exe")
HEX12 = re.compile(r"[0-9a-f]{12}")


def docker_rules(doc, id_):
    """Docker and nerdctl: HOSTNAME=<short id>, the libnetwork-setkey hook."""
    if not HEX64.fullmatch(id_):
        return
    proc = doc.get("process")
    if isinstance(proc, dict) and isinstance(proc.get("env"), list):
        proc["env"] = ["HOSTNAME=<container-id>" if is_str(e) and e == "HOSTNAME=" + id_[:12] else e
                       for e in proc["env"]]
    linux = doc.get("linux")
    nss = linux.get("namespaces") if isinstance(linux, dict) else None
    nets = [n for n in nss if isinstance(n, dict) and n.get("type") == "network"] if isinstance(nss, list) else []
    if not nets or "path" in nets[0]:
        return
    hooks = doc.get("hooks")
    pre = hooks.get("prestart") if isinstance(hooks, dict) else None
    if not isinstance(pre, list):
        return
    for h in pre:
        if not isinstance(h, dict) or sorted(h) != ["args", "path"]:
            continue
        path, args = h["path"], h["args"]
        if not (is_str(path) and PROC_EXE.fullmatch(path) and int(path[6:-4]) < 2**31):
            continue
        if not (isinstance(args, list) and len(args) == 4 and all(is_str(a) for a in args)):
            continue
        if (args[0] == "libnetwork-setkey" and re.fullmatch(r"-exec-root=/.*", args[1], re.S)
                and args[2] == id_ and HEX12.fullmatch(args[3])):
            h["path"] = "/proc/<dockerd-pid>/exe"
            args[3] = "<docker-network-controller-id>"


def normalize(text, id_=""):
    doc = v1.loads(text)
    assert isinstance(doc, dict)
    refuse_placeholders(doc)
    if isinstance(doc.get("root"), dict):
        doc["root"].pop("path", None)
    cri_rules(doc)
    docker_rules(doc, id_)
    # The rest is refval-v1 (its drop-root-path is a no-op by now).
    return v1.normalize(v1.canon(doc), id_)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "config":
        sys.exit("usage: see module docstring")
    with open(sys.argv[2], "rb") as f:
        try:
            norm = normalize(f.read().decode("utf-8"), sys.argv[3] if len(sys.argv) > 3 else "")
        except Refused as e:
            print("refused: placeholder %s" % e, file=sys.stderr)
            sys.exit(3)
    sys.stdout.buffer.write(norm + b"\n" + hashlib.sha256(norm).hexdigest().encode() + b"\n")
