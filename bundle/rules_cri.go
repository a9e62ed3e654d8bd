package bundle

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// The refval-v2 rules for Kubernetes pods run by containerd's CRI plugin.
//
// Each takes the per-start value it replaces from the io.kubernetes.cri.*
// annotations that containerd writes into every CRI container's config
// (internal/cri/annotations of containerd 1.6 to 2.4), checks its format,
// and replaces it only at one fixed position of one field. Anyone who can
// reach the containerd API can write annotations, so a rule must never make
// two configs measure alike that differ in anything but the per-start value
// itself: a value of the wrong format is left alone (and then measured, so
// that config simply does not match its reference), and a value that merely
// occurs elsewhere in a string is never touched.

// The CRI annotation keys the rules read (containerd's
// internal/cri/annotations).
const (
	annoContainerType = "io.kubernetes.cri.container-type"
	annoSandboxID     = "io.kubernetes.cri.sandbox-id"
	annoSandboxUID    = "io.kubernetes.cri.sandbox-uid"
	annoSandboxName   = "io.kubernetes.cri.sandbox-name"
	annoContainerName = "io.kubernetes.cri.container-name"
)

// Placeholders written by the refval-v2 rules.
const (
	SandboxIDPlaceholder      = "<sandbox-id>"
	PodUIDPlaceholder         = "<pod-uid>"
	TerminationLogPlaceholder = "<termination-log>"
	// APIAccessPlaceholder replaces the random suffix of the projected
	// service-account volume's name, so the name becomes
	// "kube-api-access-<random>".
	APIAccessPlaceholder   = "<random>"
	PodHostnamePlaceholder = "<pod-hostname>"
)

// placeholders are every string a rule of refval-v1 or refval-v2 writes.
var placeholders = []string{
	ContainerIDPlaceholder, NamespacePathPlaceholder, SandboxIDPlaceholder,
	PodUIDPlaceholder, TerminationLogPlaceholder, apiAccessPrefix + APIAccessPlaceholder, PodHostnamePlaceholder,
	DockerdPIDPlaceholder, NetworkControllerPlaceholder,
}

// refusePlaceholders rejects a config in which any string value outside
// annotations already contains a placeholder. Why: otherwise a config could
// be written to equal the normalised form of another — a hostPath mount of
// a directory literally named "<pod-uid>" would measure like the kubelet's
// own pod directory. Annotations are dropped unmeasured, so they may hold
// anything.
func refusePlaceholders(doc map[string]any, _ string) error {
	var walk func(v any, field string) error
	walk = func(v any, field string) error {
		switch v := v.(type) {
		case string:
			for _, p := range placeholders {
				if strings.Contains(v, p) {
					return fieldErr(field, "contains the normalisation placeholder %q", p)
				}
			}
		case []any:
			for i, e := range v {
				if err := walk(e, field+"["+strconv.Itoa(i)+"]"); err != nil {
					return err
				}
			}
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				if field == "" && k == "annotations" {
					continue
				}
				f := k
				if field != "" {
					f = field + "." + k
				}
				if err := walk(v[k], f); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(doc, "")
}

// criInfo is what the CRI rules know about a container, from its
// annotations. A field is "" when its annotation is absent or not of the
// format containerd and the kubelet give it.
type criInfo struct {
	sandboxID     string // 64 lowercase hex
	podUID        string // a UUID, or 32 hex for static pods
	podName       string // a DNS subdomain
	containerName string // a DNS label; "" for the sandbox
}

// criAnnotations reads the CRI annotations of doc. ok is false when doc is
// not a CRI container (no valid io.kubernetes.cri.container-type), in which
// case every CRI rule leaves the config alone.
func criAnnotations(doc map[string]any) (info criInfo, ok bool) {
	a, _ := doc["annotations"].(map[string]any)
	str := func(k string) string { s, _ := a[k].(string); return s }
	switch str(annoContainerType) {
	case "sandbox", "container":
	default:
		return criInfo{}, false
	}
	if s := str(annoSandboxID); isHex(s, 64) {
		info.sandboxID = s
	}
	if s := str(annoSandboxUID); isPodUID(s) {
		info.podUID = s
	}
	if s := str(annoSandboxName); isDNSSubdomain(s) {
		info.podName = s
	}
	if s := str(annoContainerName); isDNSLabel(s) {
		info.containerName = s
	}
	return info, true
}

// criSandboxID replaces the sandbox ID in mounts[].source where it is the
// path segment after ".../io.containerd.grpc.v1.cri/sandboxes/". Why:
// containerd CRI keeps each pod's /etc/hostname, /etc/hosts, /etc/resolv.conf
// and /dev/shm under <root or state>/io.containerd.grpc.v1.cri/sandboxes/<id>/,
// and the sandbox ID is new on every pod start. The directory prefix
// (containerd's root or state dir) and the leaf stay measured.
func criSandboxID(doc map[string]any, _ string) error {
	info, ok := criAnnotations(doc)
	if !ok || info.sandboxID == "" {
		return nil
	}
	return eachMountSource(doc, func(segs []string) bool {
		changed := false
		for j := 2; j < len(segs); j++ {
			if segs[j] == info.sandboxID && segs[j-1] == "sandboxes" && segs[j-2] == "io.containerd.grpc.v1.cri" {
				segs[j] = SandboxIDPlaceholder
				changed = true
			}
		}
		return changed
	})
}

// isKubeletPodDir reports whether segs[j:] starts with the kubelet's pod
// directory of this pod, "pods/<uid>/<entry>", entry one of the kubelet's
// pod directory entries (pkg/kubelet/config/defaults.go). The kubelet's
// root dir is whatever precedes it and stays measured.
func isKubeletPodDir(segs []string, j int, uid string) bool {
	if j+2 >= len(segs) || segs[j] != "pods" || segs[j+1] != uid {
		return false
	}
	switch segs[j+2] {
	case "etc-hosts", "containers", "volumes", "volume-subpaths", "plugins":
		return true
	}
	return false
}

// kubeletTerminationLog replaces the leaf of the termination-log mount's
// source, whose last five segments are
// pods/<uid>/containers/<container-name>/<8 hex>. Why: the kubelet creates
// a new file with a random 8-hex-digit name on every start (makeUID in
// pkg/kubelet/kuberuntime). Only that leaf is replaced; the destination
// (terminationMessagePath) stays measured.
func kubeletTerminationLog(doc map[string]any, _ string) error {
	info, ok := criAnnotations(doc)
	if !ok || info.podUID == "" || info.containerName == "" {
		return nil
	}
	return eachMountSource(doc, func(segs []string) bool {
		n := len(segs)
		if n < 5 || !isKubeletPodDir(segs, n-5, info.podUID) || segs[n-3] != "containers" ||
			segs[n-2] != info.containerName || !isHex(segs[n-1], 8) {
			return false
		}
		segs[n-1] = TerminationLogPlaceholder
		return true
	})
}

// apiAccessPrefix is the name prefix of the projected service-account
// volume the ServiceAccount admission plugin adds to every pod.
const apiAccessPrefix = "kube-api-access-"

// kubeletAPIAccess replaces the 5 random characters of the projected
// service-account volume's directory,
// <root>/pods/<uid>/volumes/kubernetes.io~projected/kube-api-access-XXXXX.
// Why: the admission plugin names the volume with
// names.SimpleNameGenerator, a new suffix of 5 characters of
// k8s.io/apimachinery's rand alphabet for every pod. Only the last segment,
// when the last five are exactly that path, is touched.
func kubeletAPIAccess(doc map[string]any, _ string) error {
	info, ok := criAnnotations(doc)
	if !ok || info.podUID == "" {
		return nil
	}
	return eachMountSource(doc, func(segs []string) bool {
		n := len(segs)
		if n < 5 || !isKubeletPodDir(segs, n-5, info.podUID) || segs[n-3] != "volumes" || segs[n-2] != "kubernetes.io~projected" {
			return false
		}
		leaf, ok := strings.CutPrefix(segs[n-1], apiAccessPrefix)
		if !ok || len(leaf) != 5 || strings.Trim(leaf, k8sRandAlphabet) != "" {
			return false
		}
		segs[n-1] = apiAccessPrefix + APIAccessPlaceholder
		return true
	})
}

// k8sRandAlphabet is k8s.io/apimachinery/pkg/util/rand's alphabet.
const k8sRandAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// criPodUID replaces the pod UID where the kubelet puts it: the segment
// after "pods" in the kubelet's pod directory in mounts[].source
// (<root>/pods/<uid>/etc-hosts, .../volumes/..., .../containers/...), and
// the pod's cgroup in linux.cgroupsPath — "pod<uid>" as the second-to-last
// segment of the cgroupfs form (/kubepods/<qos>/pod<uid>/<id>), and the
// slice "...-pod<uid with _ for ->.slice" of the systemd form
// (kubepods-<qos>-pod<uid>.slice:cri-containerd:<id>). Why: the UID is new
// for every pod of a Deployment (and for a static pod a hash of its
// manifest and node), while the QoS class, the cgroup root and the
// kubelet's root dir around it stay measured.
func criPodUID(doc map[string]any, _ string) error {
	info, ok := criAnnotations(doc)
	if !ok || info.podUID == "" {
		return nil
	}
	uid := info.podUID
	if err := eachMountSource(doc, func(segs []string) bool {
		changed := false
		for j := range segs {
			if isKubeletPodDir(segs, j, uid) {
				segs[j+1] = PodUIDPlaceholder
				changed = true
			}
		}
		return changed
	}); err != nil {
		return err
	}
	linux, err := objectAt(doc, "linux", "linux")
	if linux == nil {
		return err
	}
	v, ok := linux["cgroupsPath"]
	if !ok {
		return nil
	}
	p, ok := v.(string)
	if !ok {
		return fieldErr("linux.cgroupsPath", "is %s, want a string", jsonKind(v))
	}
	linux["cgroupsPath"] = replacePodCgroup(p, uid)
	return nil
}

// replacePodCgroup replaces the pod UID in one cgroups path of either form
// and returns the path unchanged when it is not at the fixed position.
func replacePodCgroup(p, uid string) string {
	if strings.HasPrefix(p, "/") {
		segs := strings.Split(p, "/")
		if n := len(segs); n >= 3 && segs[n-2] == "pod"+uid {
			segs[n-2] = "pod" + PodUIDPlaceholder
			return strings.Join(segs, "/")
		}
		return p
	}
	// systemd: slice:prefix:name, the slice named by the kubelet's
	// ConvertCgroupNameToSystemd, which escapes '-' to '_'.
	slice, rest, ok := strings.Cut(p, ":")
	suffix := "pod" + strings.ReplaceAll(uid, "-", "_") + ".slice"
	if !ok || !strings.HasSuffix(slice, suffix) {
		return p
	}
	head := slice[:len(slice)-len(suffix)]
	if head != "" && !strings.HasSuffix(head, "-") {
		return p
	}
	return head + "pod" + PodUIDPlaceholder + ".slice:" + rest
}

// criPodHostname replaces the pod's hostname where it equals the pod name
// (the kubelet's default when spec.hostname is unset, cut to 63 characters
// as truncatePodHostnameIfNeeded does): the value of process.env
// "HOSTNAME=..." (containerd CRI sets it for app containers) and the
// top-level hostname (the sandbox's UTS hostname). Why: the names of
// Deployment, ReplicaSet and Job pods end in random characters, and a static
// pod's name ends in the node name. A hostname the pod spec sets, and a
// hostNetwork pod's node hostname, do not equal the pod name and stay
// measured; so do the variable's name and position.
func criPodHostname(doc map[string]any, _ string) error {
	info, ok := criAnnotations(doc)
	if !ok || info.podName == "" {
		return nil
	}
	host := podHostname(info.podName)
	if h, ok := doc["hostname"].(string); ok && h == host {
		doc["hostname"] = PodHostnamePlaceholder
	}
	return replaceEnvEntry(doc, "HOSTNAME="+host, "HOSTNAME="+PodHostnamePlaceholder)
}

// replaceEnvEntry replaces every process.env entry that is exactly from by
// to, leaving every other entry, and the entries' order, as they are. The
// hostname rules of refval-v2 use it: only a whole entry of the one form
// they expect is ever rewritten.
func replaceEnvEntry(doc map[string]any, from, to string) error {
	p, err := objectAt(doc, "process", "process")
	if p == nil {
		return err
	}
	list, ok := p["env"].([]any)
	if !ok {
		return nil // sort-env reports a wrong type
	}
	for i, e := range list {
		if s, ok := e.(string); ok && s == from {
			list[i] = to
		}
	}
	return nil
}

// podHostname is the kubelet's hostname for a pod of this name without
// spec.hostname (pkg/kubelet/kubelet_pods.go, truncatePodHostnameIfNeeded).
func podHostname(podName string) string {
	const maxLen = 63
	if len(podName) <= maxLen {
		return podName
	}
	return strings.TrimRight(podName[:maxLen], "-.")
}

// eachMountSource calls edit with the '/'-separated segments of every
// mounts[].source string and stores them back when edit reports a change.
func eachMountSource(doc map[string]any, edit func(segs []string) bool) error {
	v, ok := doc["mounts"]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return fieldErr("mounts", "is %s, want an array", jsonKind(v))
	}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return fieldErr("mounts["+strconv.Itoa(i)+"]", "is %s, want an object", jsonKind(e))
		}
		src, ok := m["source"].(string)
		if !ok {
			continue
		}
		segs := strings.Split(src, "/")
		if edit(segs) {
			m["source"] = strings.Join(segs, "/")
		}
	}
	return nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isPodUID: a UUID in its lowercase 8-4-4-4-12 form (the API server's
// UIDs), or 32 lowercase hex digits (a static pod's UID, the kubelet's md5
// of its manifest, node and source).
func isPodUID(s string) bool {
	if isHex(s, 32) {
		return true
	}
	parts := strings.Split(s, "-")
	if len(parts) != 5 {
		return false
	}
	for i, n := range [...]int{8, 4, 4, 4, 12} {
		if !isHex(parts[i], n) {
			return false
		}
	}
	return true
}

// isDNSLabel: an RFC 1123 label as Kubernetes checks container names
// (IsDNS1123Label: at most 63 characters).
func isDNSLabel(s string) bool {
	return len(s) <= 63 && isLabelChars(s)
}

// isLabelChars: [a-z0-9]([-a-z0-9]*[a-z0-9])?
func isLabelChars(s string) bool {
	if len(s) == 0 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// isDNSSubdomain: an RFC 1123 subdomain as Kubernetes checks pod names
// (IsDNS1123Subdomain: at most 253 characters; the labels themselves are
// not limited to 63).
func isDNSSubdomain(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !isLabelChars(l) {
			return false
		}
	}
	return true
}
