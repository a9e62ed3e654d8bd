package engine

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/refval/refval/bundle"
)

// CMC v0.9 matches a measured container config whose hash differs from the
// reference by comparing the two ociSpecs field by field under the
// Manifest Description's ociRules (CMC's verifier/ocivalidation.go): a
// field without a rule must be equal, "modifiable" accepts any value, an
// array of objects takes one rule object per element by position, and
// process.env takes "replace:NAME=*" (any value of NAME). The functions
// here emit exactly the rules that let every start of a predicted
// container pass — one rule per field a prediction knows to vary per start
// — and nothing else. Both ociSpecs are in CMC's own normalisation
// (bundle.SchemeCMC09: the container ID replaced, hostname, annotations,
// terminal and root dropped, arrays sorted by CMC's SortSpec), so a
// position here is the position CMC's comparison sees.
//
// Under refval's own scheme refval-v2 on both sides no rule is needed: the
// per-start values are placeholders in both ociSpecs, which then compare
// equal. The rules are for nodes whose shim measures with CMC's scheme.

// CMC's rule words (verifier/ocivalidation.go).
const (
	ruleModifiable = "modifiable"
	// ruleHostnameEnv accepts any value of process.env's HOSTNAME
	// (CMC's "replace:" swaps the measured entry for the reference's).
	ruleHostnameEnv = "replace:HOSTNAME=*"
)

// OCIRuler is a prediction that knows which fields of its config vary per
// start. OCIRules returns the ociRules object (as CMC's
// ManifestDescription.ociRules takes it) for ociSpec, the prediction's
// config normalised with bundle.SchemeCMC09; an empty object when nothing
// of that config varies.
type OCIRuler interface {
	OCIRules(ociSpec []byte) (map[string]any, error)
}

var (
	_ OCIRuler = (*Predictor)(nil)
	_ OCIRuler = (*KubePredictor)(nil)
)

// ociSpecView is the part of a normalised config the rules look at.
type ociSpecView struct {
	Process *struct {
		Env []string `json:"env"`
	} `json:"process"`
	Mounts []struct {
		Source string `json:"source"`
	} `json:"mounts"`
	Linux *struct {
		CgroupsPath string `json:"cgroupsPath"`
		Namespaces  []struct {
			Path string `json:"path"`
		} `json:"namespaces"`
	} `json:"linux"`
	Hooks *struct {
		Prestart []struct {
			Path string   `json:"path"`
			Args []string `json:"args"`
			Env  []string `json:"env"`
		} `json:"prestart"`
	} `json:"hooks"`
}

func parseOCISpec(b []byte) (*ociSpecView, error) {
	var v ociSpecView
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("ociSpec: %w", err)
	}
	return &v, nil
}

// ociRules collects rules while a prediction marks its per-start fields.
type ociRules map[string]any

// object returns the rule object at key, creating it.
func (r ociRules) object(key string) ociRules {
	if m, ok := r[key].(ociRules); ok {
		return m
	}
	m := ociRules{}
	r[key] = m
	return m
}

// element marks field of element i of the array at key (in object r) with
// rule; the elements before it get empty rule objects, which CMC reads as
// "every field equal".
func (r ociRules) element(key string, i int, field, rule string) {
	list, _ := r[key].([]any)
	for len(list) <= i {
		list = append(list, map[string]any{})
	}
	list[i].(map[string]any)[field] = rule
	r[key] = list
}

// plain returns the rules as plain JSON values.
func (r ociRules) plain() map[string]any {
	out := make(map[string]any, len(r))
	for k, v := range r {
		if m, ok := v.(ociRules); ok {
			out[k] = m.plain()
		} else {
			out[k] = v
		}
	}
	return out
}

// perStartNamespaces marks linux.namespaces[i].path where it is
// /proc/<pid>/ns/<name>: a namespace joined through the process that holds
// it (the pod sandbox's pause process, a --network container:X
// container), whose PID is new on every start. A path of another form
// (Docker's --network host, /var/run/docker/netns/default; a named netns)
// is fixed and stays mandatory.
func perStartNamespaces(r ociRules, v *ociSpecView) {
	if v.Linux == nil {
		return
	}
	for i, ns := range v.Linux.Namespaces {
		if isProcNamespacePath(ns.Path) {
			r.object("linux").element("namespaces", i, "path", ruleModifiable)
		}
	}
}

// isProcNamespacePath: exactly /proc/<decimal PID>/ns/<name>.
func isProcNamespacePath(p string) bool {
	segs := strings.Split(p, "/")
	if len(segs) != 5 || segs[0] != "" || segs[1] != "proc" || segs[3] != "ns" || segs[4] == "" {
		return false
	}
	n, err := strconv.ParseUint(segs[2], 10, 31)
	return err == nil && strconv.FormatUint(n, 10) == segs[2]
}

// OCIRules returns the ociRules of a Kubernetes pod's container: each
// mount whose source lies in the pod's sandbox directory of containerd CRI
// (<root or state>/io.containerd.grpc.v1.cri/sandboxes/<sandbox ID>/…:
// hostname, resolv.conf, shm) or in the kubelet's pod directory
// (<kubelet root>/pods/<pod UID>/…: etc-hosts, the termination-log file,
// the pod's volumes, kube-api-access-<random> among them) gets its source
// modifiable; linux.cgroupsPath (which holds the pod UID) is modifiable;
// the namespaces joined through the sandbox's PID (perStartNamespaces) get
// their path modifiable; and process.env's HOSTNAME takes any value when
// it is the pod's default hostname (the pod name). Everything else stays
// mandatory.
func (p *KubePredictor) OCIRules(ociSpec []byte) (map[string]any, error) {
	v, err := parseOCISpec(ociSpec)
	if err != nil {
		return nil, err
	}
	r := ociRules{}
	cri := path.Join("io.containerd.grpc.v1.cri", "sandboxes", KubeSandboxID)
	dirs := []string{
		path.Join(p.Node.ContainerdRoot, cri) + "/",
		path.Join(p.Node.ContainerdState, cri) + "/",
		path.Join(p.Node.KubeletRootDir, "pods", KubePodUID) + "/",
	}
	for i, m := range v.Mounts {
		for _, d := range dirs {
			if strings.HasPrefix(m.Source, d) {
				r.element("mounts", i, "source", ruleModifiable)
				break
			}
		}
	}
	if v.Linux != nil && (strings.Contains(v.Linux.CgroupsPath, "pod"+KubePodUID) ||
		strings.Contains(v.Linux.CgroupsPath, "pod"+strings.ReplaceAll(KubePodUID, "-", "_")+".slice")) {
		r.object("linux")["cgroupsPath"] = ruleModifiable
	}
	perStartNamespaces(r, v)
	if !p.Pod.Spec.HostNetwork && v.Process != nil {
		want := "HOSTNAME=" + podHostnameOf(p.Pod.Name)
		for _, e := range v.Process.Env {
			if e == want {
				r.object("process")["env"] = ruleHostnameEnv
				break
			}
		}
	}
	return r.plain(), nil
}

// OCIRules returns the ociRules of a Docker container: the
// libnetwork-setkey prestart hook's path and the namespaces joined through
// another container's PID (perStartNamespaces). CMC's normalisation already
// removes Docker's other per-start values (the container ID, and so
// HOSTNAME; the hook's controller ID), but it resolves the hook's
// /proc/<dockerd PID>/exe on the measuring machine, so a reference
// computed elsewhere holds another binary's path: the hook, recognised by
// its exact form (bundle's docker-setkey-hook rule, as CMC has normalised
// it), gets its path modifiable. A containerd (ctr run) prediction varies
// in nothing CMC does not normalise: no rules.
func (p *Predictor) OCIRules(ociSpec []byte) (map[string]any, error) {
	v, err := parseOCISpec(ociSpec)
	if err != nil {
		return nil, err
	}
	r := ociRules{}
	if p.Profile.Kind != Docker {
		return r.plain(), nil
	}
	if v.Hooks != nil {
		for i, h := range v.Hooks.Prestart {
			if isNormalisedSetkeyHook(h.Args) && h.Env == nil {
				r.object("hooks").element("prestart", i, "path", ruleModifiable)
			}
		}
	}
	perStartNamespaces(r, v)
	return r.plain(), nil
}

// isNormalisedSetkeyHook: the arguments dockerd gives the
// libnetwork-setkey hook, as CMC normalises them: the verb, an absolute
// -exec-root, the container-ID placeholder and the controller-ID
// placeholder.
func isNormalisedSetkeyHook(args []string) bool {
	if len(args) != 4 || args[0] != "libnetwork-setkey" || args[2] != bundle.ContainerIDPlaceholder ||
		args[3] != bundle.NetworkControllerPlaceholder {
		return false
	}
	root, ok := strings.CutPrefix(args[1], "-exec-root=")
	return ok && strings.HasPrefix(root, "/")
}
