package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// The Kubernetes objects the kubernetes prediction reads: a Pod, or the pod
// template of a workload. Only the fields listed here are known; a file
// naming any other field is refused (ErrUnsupported naming it), because an
// unknown field may change what the kubelet writes and the prediction would
// then be wrong. Field names and meanings are those of k8s.io/api/core/v1
// v0.34 (not imported: refval reads these few fields itself).

// KubePod is the part of a pod the prediction uses.
type KubePod struct {
	Name      string
	Namespace string
	Spec      PodSpec
}

// PodSpec is core/v1 PodSpec (the fields the prediction models).
type PodSpec struct {
	Containers                    []KubeContainer     `json:"containers"`
	InitContainers                []KubeContainer     `json:"initContainers,omitempty"`
	Volumes                       []Volume            `json:"volumes,omitempty"`
	SecurityContext               *PodSecurityContext `json:"securityContext,omitempty"`
	HostNetwork                   bool                `json:"hostNetwork,omitempty"`
	HostPID                       bool                `json:"hostPID,omitempty"`
	HostIPC                       bool                `json:"hostIPC,omitempty"`
	Hostname                      string              `json:"hostname,omitempty"`
	Subdomain                     string              `json:"subdomain,omitempty"`
	EnableServiceLinks            *bool               `json:"enableServiceLinks,omitempty"`
	AutomountServiceAccountToken  *bool               `json:"automountServiceAccountToken,omitempty"`
	RestartPolicy                 string              `json:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64              `json:"terminationGracePeriodSeconds,omitempty"`
	DNSPolicy                     string              `json:"dnsPolicy,omitempty"`
	NodeSelector                  map[string]string   `json:"nodeSelector,omitempty"`
	Tolerations                   []json.RawMessage   `json:"tolerations,omitempty"`
	ServiceAccountName            string              `json:"serviceAccountName,omitempty"`
	PriorityClassName             string              `json:"priorityClassName,omitempty"`
	// RuntimeClassName selects the CRI runtime handler (the measuring
	// shim's, "cmc"); the handler's runtime_type must be
	// io.containerd.cmc.v1 or runc.v2 for the config to be the modelled one.
	RuntimeClassName string `json:"runtimeClassName,omitempty"`
}

// KubeContainer is core/v1 Container.
type KubeContainer struct {
	Name                     string               `json:"name"`
	Image                    string               `json:"image"`
	Command                  []string             `json:"command,omitempty"`
	Args                     []string             `json:"args,omitempty"`
	WorkingDir               string               `json:"workingDir,omitempty"`
	Env                      []EnvVar             `json:"env,omitempty"`
	Resources                ResourceRequirements `json:"resources,omitempty"`
	VolumeMounts             []VolumeMount        `json:"volumeMounts,omitempty"`
	SecurityContext          *KubeSecurityContext `json:"securityContext,omitempty"`
	ImagePullPolicy          string               `json:"imagePullPolicy,omitempty"`
	TerminationMessagePath   string               `json:"terminationMessagePath,omitempty"`
	TerminationMessagePolicy string               `json:"terminationMessagePolicy,omitempty"`
	RestartPolicy            string               `json:"restartPolicy,omitempty"`
	Ports                    []json.RawMessage    `json:"ports,omitempty"`
	LivenessProbe            json.RawMessage      `json:"livenessProbe,omitempty"`
	ReadinessProbe           json.RawMessage      `json:"readinessProbe,omitempty"`
	StartupProbe             json.RawMessage      `json:"startupProbe,omitempty"`
	Stdin                    bool                 `json:"stdin,omitempty"`
	TTY                      bool                 `json:"tty,omitempty"`
}

// EnvVar is core/v1 EnvVar with a literal value (valueFrom is refused:
// its value comes from the API server at start).
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ResourceRequirements is core/v1 ResourceRequirements.
type ResourceRequirements struct {
	Limits   map[string]Quantity `json:"limits,omitempty"`
	Requests map[string]Quantity `json:"requests,omitempty"`
}

// Quantity is a resource quantity as written (resource.Quantity's text;
// YAML may give it as a number: cpu: 1).
type Quantity string

// UnmarshalJSON accepts a JSON string or number.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*q = Quantity(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("quantity %s: want a string or a number", b)
	}
	*q = Quantity(n.String())
	return nil
}

// VolumeMount is core/v1 VolumeMount.
type VolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
	SubPath   string `json:"subPath,omitempty"`
}

// Volume is core/v1 Volume with the sources the prediction models.
type Volume struct {
	Name     string          `json:"name"`
	EmptyDir *EmptyDirSource `json:"emptyDir,omitempty"`
	HostPath *HostPathSource `json:"hostPath,omitempty"`
	// ConfigMap, Secret, Projected, DownwardAPI: modelled as the directory
	// the kubelet mounts; their content is not part of the config.
	ConfigMap   json.RawMessage `json:"configMap,omitempty"`
	Secret      json.RawMessage `json:"secret,omitempty"`
	Projected   json.RawMessage `json:"projected,omitempty"`
	DownwardAPI json.RawMessage `json:"downwardAPI,omitempty"`
}

// EmptyDirSource is core/v1 EmptyDirVolumeSource.
type EmptyDirSource struct {
	Medium    string `json:"medium,omitempty"`
	SizeLimit string `json:"sizeLimit,omitempty"`
}

// HostPathSource is core/v1 HostPathVolumeSource.
type HostPathSource struct {
	Path string `json:"path"`
	Type string `json:"type,omitempty"`
}

// PodSecurityContext is core/v1 PodSecurityContext.
type PodSecurityContext struct {
	RunAsUser          *int64          `json:"runAsUser,omitempty"`
	RunAsGroup         *int64          `json:"runAsGroup,omitempty"`
	RunAsNonRoot       *bool           `json:"runAsNonRoot,omitempty"`
	FSGroup            *int64          `json:"fsGroup,omitempty"`
	SupplementalGroups []int64         `json:"supplementalGroups,omitempty"`
	SeccompProfile     *SeccompProfile `json:"seccompProfile,omitempty"`
	Sysctls            []Sysctl        `json:"sysctls,omitempty"`
}

// KubeSecurityContext is core/v1 SecurityContext.
type KubeSecurityContext struct {
	RunAsUser                *int64          `json:"runAsUser,omitempty"`
	RunAsGroup               *int64          `json:"runAsGroup,omitempty"`
	RunAsNonRoot             *bool           `json:"runAsNonRoot,omitempty"`
	Privileged               *bool           `json:"privileged,omitempty"`
	ReadOnlyRootFilesystem   *bool           `json:"readOnlyRootFilesystem,omitempty"`
	AllowPrivilegeEscalation *bool           `json:"allowPrivilegeEscalation,omitempty"`
	Capabilities             *Capabilities   `json:"capabilities,omitempty"`
	SeccompProfile           *SeccompProfile `json:"seccompProfile,omitempty"`
	ProcMount                string          `json:"procMount,omitempty"`
}

// Capabilities is core/v1 Capabilities.
type Capabilities struct {
	Add  []string `json:"add,omitempty"`
	Drop []string `json:"drop,omitempty"`
}

// SeccompProfile is core/v1 SeccompProfile.
type SeccompProfile struct {
	Type             string `json:"type"`
	LocalhostProfile string `json:"localhostProfile,omitempty"`
}

// Sysctl is core/v1 Sysctl.
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type objectMeta struct {
	Name         string            `json:"name"`
	GenerateName string            `json:"generateName,omitempty"`
	Namespace    string            `json:"namespace,omitempty"`
	UID          string            `json:"uid,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type podTemplate struct {
	Metadata objectMeta `json:"metadata"`
	Spec     PodSpec    `json:"spec"`
}

// ErrInvalidPod: the Kubernetes object file is not a usable Pod or workload.
var ErrInvalidPod = errors.New("invalid Kubernetes object")

// ParseKubeObject reads a Pod, Deployment, StatefulSet, DaemonSet,
// ReplicaSet, Job or CronJob (YAML or JSON; the first document of a YAML
// stream) and returns its pod: the Pod itself, or the workload's pod
// template with the workload's name (the pods it creates get names derived
// from it, which the refval-v2 hostname rule normalises). file names the
// source in errors.
func ParseKubeObject(file string, data []byte) (*KubePod, error) {
	var generic any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidPod, file, err)
	}
	top, ok := generic.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not an object", ErrInvalidPod, file)
	}
	kind, _ := top["kind"].(string)
	var path []string // where the pod template is
	switch kind {
	case "Pod":
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		path = []string{"spec", "template"}
	case "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template"}
	default:
		return nil, fmt.Errorf("%w: %s: kind %q (want Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob)", ErrInvalidPod, file, kind)
	}
	meta, err := decodeStrict[objectMeta](file, "metadata", top["metadata"])
	if err != nil {
		return nil, err
	}
	tmpl := top
	field := ""
	for _, p := range path {
		field = strings.TrimPrefix(field+"."+p, ".")
		m, ok := tmpl[p].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s: %s is missing", ErrInvalidPod, file, field)
		}
		tmpl = m
	}
	var spec PodSpec
	if kind == "Pod" {
		spec, err = decodeStrict[PodSpec](file, "spec", top["spec"])
	} else {
		var t podTemplate
		t, err = decodeStrict[podTemplate](file, field, tmpl)
		spec = t.Spec
	}
	if err != nil {
		return nil, err
	}
	if meta.Name == "" && meta.GenerateName == "" {
		return nil, fmt.Errorf("%w: %s: metadata.name is missing", ErrInvalidPod, file)
	}
	ns := meta.Namespace
	if ns == "" {
		ns = "default"
	}
	if len(spec.Containers) == 0 {
		return nil, fmt.Errorf("%w: %s: %s has no containers", ErrInvalidPod, file, strings.TrimPrefix(field+".spec.containers", "."))
	}
	return &KubePod{Name: meta.Name, Namespace: ns, Spec: spec}, nil
}

// decodeStrict converts a decoded YAML value into T through JSON, refusing
// fields T does not have: an unknown field is one the prediction does not
// model, so it is an error naming it, never ignored.
func decodeStrict[T any](file, field string, v any) (T, error) {
	var out T
	if v == nil {
		return out, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return out, fmt.Errorf("%w: %s: %s: %v", ErrInvalidPod, file, field, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return out, fmt.Errorf("%w: %s: %s: field %s is not modelled by the prediction", ErrUnsupported, file, field, f)
		}
		return out, fmt.Errorf("%w: %s: %s: %v", ErrInvalidPod, file, field, err)
	}
	return out, nil
}
