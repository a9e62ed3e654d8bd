package bundle

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxConfigSize bounds the config.json read into memory. runc configs are
// a few KiB; anything near this is hostile or broken.
const maxConfigSize = 16 << 20

// ConfigError reports a config that the normalisation rules cannot accept,
// naming the JSON field (for example "process.env[3]").
type ConfigError struct {
	Field string
	Err   error
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return "field " + e.Field + ": " + e.Err.Error()
}

func (e *ConfigError) Unwrap() []error { return []error{e.Err, ErrInvalidConfig} }

func fieldErr(field, format string, a ...any) error {
	return &ConfigError{Field: field, Err: fmt.Errorf(format, a...)}
}

// ConfigRule is one normalisation rule: it edits the generic JSON document
// of a runtime config in place. Each rule is small, documented with why it
// exists, and tested on its own.
type ConfigRule struct {
	// Name identifies the rule in docs/measurement.md and in errors.
	Name string
	// Apply edits doc. id is the container ID ("" when unknown).
	Apply func(doc map[string]any, id string) error
}

// rulesV1 is the ordered rule list of scheme refval-v1. Changing it, or
// any rule in it, changes measurements and therefore needs a new scheme.
var rulesV1 = []ConfigRule{
	{"drop-root-path", dropRootPath},
	{"drop-annotations", dropAnnotations},
	{"drop-terminal", dropTerminal},
	{"namespace-paths", namespacePaths},
	{"container-id", substituteContainerID},
	{"sort-env", sortEnv},
}

// rulesV2 is the ordered rule list of scheme refval-v2: refval-v1's rules
// with the engine rules inserted before drop-annotations, because they take
// the per-start values they replace from the annotations the engine wrote.
// Each engine rule is a no-op unless the engine's annotations are present
// and well-formed (the Docker and nerdctl rules: unless the container ID
// has those engines' 64-hex form and the value the engine's exact form), so
// a config no engine rule recognises normalises exactly as under refval-v1. The first rule refuses configs that already contain
// one of the placeholders, so no config can pose as a normalised one.
var rulesV2 = []ConfigRule{
	{"refuse-placeholders", refusePlaceholders},
	{"drop-root-path", dropRootPath},
	// containerd CRI + kubelet (docs/measurement.md, refval-v2).
	{"cri-sandbox-id", criSandboxID},
	{"kubelet-termination-log", kubeletTerminationLog},
	{"kubelet-api-access", kubeletAPIAccess},
	{"cri-pod-uid", criPodUID},
	{"cri-pod-hostname", criPodHostname},
	// Docker and nerdctl (docs/measurement.md, refval-v2; rules_v2_docker.go).
	{"engine-hostname-env", engineHostnameEnv},
	{"docker-setkey-hook", dockerSetkeyHook},
	{"drop-annotations", dropAnnotations},
	{"drop-terminal", dropTerminal},
	{"namespace-paths", namespacePaths},
	{"container-id", substituteContainerID},
	{"sort-env", sortEnv},
}

// RulesV1 yields the rules of scheme refval-v1 in the order they apply. It
// is an iterator, not a slice, so that no caller can change the list (and
// with it every refval-v1 digest); a yielded ConfigRule is a copy.
func RulesV1(yield func(int, ConfigRule) bool) { yieldRules(rulesV1, yield) }

// RulesV2 yields the rules of scheme refval-v2 in the order they apply,
// like RulesV1.
func RulesV2(yield func(int, ConfigRule) bool) { yieldRules(rulesV2, yield) }

func yieldRules(rules []ConfigRule, yield func(int, ConfigRule) bool) {
	for i, r := range rules {
		if !yield(i, r) {
			return
		}
	}
}

// NormalizeConfigV1 applies the refval-v1 rules to the raw bytes of a
// runtime config and returns the RFC 8785 canonical form whose SHA-256 is
// the refval-v1 config measurement.
func NormalizeConfigV1(raw []byte, containerID string) ([]byte, error) {
	return normalizeConfig(rulesV1, raw, containerID)
}

// NormalizeConfigV2 is NormalizeConfigV1 for scheme refval-v2.
func NormalizeConfigV2(raw []byte, containerID string) ([]byte, error) {
	return normalizeConfig(rulesV2, raw, containerID)
}

func normalizeConfig(rules []ConfigRule, raw []byte, containerID string) ([]byte, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, &ConfigError{Err: fmt.Errorf("top level is %s, want an object", jsonKind(v))}
	}
	for _, r := range rules {
		if err := r.Apply(doc, containerID); err != nil {
			return nil, err
		}
	}
	out, err := canonicalJSON(doc)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	return out, nil
}

// HashConfig normalises the raw bytes of a runtime config with the rules of
// the selected scheme and returns the SHA-256 of the canonical form together
// with that form. Only WithScheme and WithContainerID apply.
func HashConfig(raw []byte, opts ...Option) (Digest, []byte, error) {
	o, err := newOptions(opts)
	if err != nil {
		return Digest{}, nil, err
	}
	if len(raw) > maxConfigSize {
		return Digest{}, nil, &ConfigError{Err: fmt.Errorf("larger than %d bytes", maxConfigSize)}
	}
	var norm []byte
	switch o.scheme {
	case SchemeCMC:
		norm, err = normalizeConfigCMC(raw, o.containerID)
	case SchemeCMC09:
		norm, err = normalizeConfigCMC09(raw, o.containerID)
	case SchemeV2:
		norm, err = NormalizeConfigV2(raw, o.containerID)
	default:
		norm, err = NormalizeConfigV1(raw, o.containerID)
	}
	if err != nil {
		return Digest{}, nil, err
	}
	return sha256.Sum256(norm), norm, nil
}

// objectAt returns doc[key] as an object, nil when absent or null, and an
// error naming field when it has another type.
func objectAt(doc map[string]any, key, field string) (map[string]any, error) {
	v, ok := doc[key]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fieldErr(field, "is %s, want an object", jsonKind(v))
	}
	return m, nil
}

// dropRootPath removes root.path: it is where this host keeps the rootfs
// (containerd: the bundle's "rootfs", CRI-O and Docker: overlay mount
// points with random names). The rootfs content is measured separately.
// root.readonly stays: a writable rootfs is a security-relevant difference.
func dropRootPath(doc map[string]any, _ string) error {
	root, err := objectAt(doc, "root", "root")
	if root != nil {
		delete(root, "path")
	}
	return err
}

// dropAnnotations removes annotations: engines put per-start data there
// (sandbox IDs, image names as the user typed them, timestamps), and runc
// does not act on them.
func dropAnnotations(doc map[string]any, _ string) error {
	delete(doc, "annotations")
	return nil
}

// dropTerminal removes process.terminal and process.consoleSize: whether a
// container gets a TTY and its window size depend on how it was started
// (ctr -t, kubectl attach), not on what runs.
func dropTerminal(doc map[string]any, _ string) error {
	p, err := objectAt(doc, "process", "process")
	if p != nil {
		delete(p, "terminal")
		delete(p, "consoleSize")
	}
	return err
}

// NamespacePathPlaceholder replaces linux.namespaces[].path values.
const NamespacePathPlaceholder = "<namespace-path>"

// namespacePaths replaces the path of every linux.namespaces entry by a
// placeholder: joining an existing namespace (a pod's network namespace,
// /proc/<pid>/ns/net) is security-relevant and stays visible, but the
// path names a per-start object. The type and the presence of a path are
// kept.
func namespacePaths(doc map[string]any, _ string) error {
	linux, err := objectAt(doc, "linux", "linux")
	if linux == nil {
		return err
	}
	v, ok := linux["namespaces"]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return fieldErr("linux.namespaces", "is %s, want an array", jsonKind(v))
	}
	for i, e := range list {
		field := "linux.namespaces[" + strconv.Itoa(i) + "]"
		ns, ok := e.(map[string]any)
		if !ok {
			return fieldErr(field, "is %s, want an object", jsonKind(e))
		}
		if _, has := ns["path"]; has {
			ns["path"] = NamespacePathPlaceholder
		}
	}
	return nil
}

// ContainerIDPlaceholder replaces the container ID in the config.
const ContainerIDPlaceholder = "<container-id>"

// substituteContainerID replaces the container ID, or its 12-character
// prefix (Docker's short ID), wherever it stands as a whole string value or
// as a whole segment of a string split at '/' and ':' — the hostname, the
// cgroups path ("/default/ID", "system.slice:cri-containerd:ID"), mount
// sources under the engine's state directory, hook arguments. The ID
// differs on every start, but nothing else about those values does. It
// never replaces part of a word: with ID "a", "/var/a" becomes
// "/var/<container-id>" while "/bar" stays.
func substituteContainerID(doc map[string]any, id string) error {
	if id == "" {
		return nil
	}
	short := id
	if len(id) > 12 {
		short = id[:12]
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case string:
			return replaceIDSegments(v, id, short)
		case []any:
			for i, e := range v {
				v[i] = walk(e)
			}
		case map[string]any:
			for k, e := range v {
				v[k] = walk(e)
			}
		}
		return v
	}
	walk(doc)
	return nil
}

func replaceIDSegments(s, id, short string) string {
	if s == id || s == short {
		return ContainerIDPlaceholder
	}
	if !strings.Contains(s, short) {
		return s // fast path: the ID and its prefix both contain short
	}
	var b strings.Builder
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '/' && s[i] != ':' {
			continue
		}
		seg := s[start:i]
		if seg == id || seg == short {
			seg = ContainerIDPlaceholder
		}
		b.WriteString(seg)
		if i < len(s) {
			b.WriteByte(s[i])
		}
		start = i + 1
	}
	return b.String()
}

// sortEnv sorts process.env bytewise. The kernel hands the environment to
// the process in the given order, but engines build it from maps (image
// env, then run options) in orders that differ between versions, and a
// program sees the same variables either way. Duplicates are kept in
// their original relative order: when a name is set twice, the order
// decides which value the process gets (runc applies them in order, so the
// last one wins; getenv on a raw environment takes the first), so a full
// bytewise sort would give ["A=evil", "A=good"] and ["A=good", "A=evil"]
// the same measurement. The sort is therefore a stable sort by the name
// including its '=' (the whole string when there is none): for entries of
// different names this is exactly the bytewise order of the whole strings
// (a "NAME=" is never a proper prefix of another), so only entries that
// share a name keep the order the config gives them.
func sortEnv(doc map[string]any, _ string) error {
	p, err := objectAt(doc, "process", "process")
	if p == nil {
		return err
	}
	v, ok := p["env"]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return fieldErr("process.env", "is %s, want an array", jsonKind(v))
	}
	env := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return fieldErr("process.env["+strconv.Itoa(i)+"]", "is %s, want a string", jsonKind(e))
		}
		env[i] = s
	}
	slices.SortStableFunc(env, func(a, b string) int { return strings.Compare(envSortKey(a), envSortKey(b)) })
	for i, s := range env {
		list[i] = s
	}
	return nil
}

// envSortKey is the part of an environment entry that sortEnv orders by:
// the name and its '=', or the whole entry when it has no '='.
func envSortKey(e string) string {
	if i := strings.IndexByte(e, '='); i >= 0 {
		return e[:i+1]
	}
	return e
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return "a number"
	}
}
