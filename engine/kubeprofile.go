package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"strings"
)

// NodeProfile is what the kubernetes prediction needs to know about the
// nodes that run a pod: the versions and the configuration of containerd
// and the kubelet that shape a container's runtime config. All nodes of one
// profile record the same values for the same pod. JSON, field names as in
// the tags; LoadNodeProfile fills unset fields with DefaultNodeProfile's.
type NodeProfile struct {
	// ContainerdVersion is the containerd release (1.6, 2.4, … as for
	// --engine-version).
	ContainerdVersion string `json:"containerdVersion"`
	// KubeletVersion is the kubelet release; only 1.34 is modelled.
	KubeletVersion string `json:"kubeletVersion"`
	// KubeletRootDir is the kubelet's --root-dir.
	KubeletRootDir string `json:"kubeletRootDir"`
	// ContainerdRoot and ContainerdState are containerd's root and state
	// directories (CRI keeps pod files under <dir>/io.containerd.grpc.v1.cri).
	ContainerdRoot  string `json:"containerdRoot"`
	ContainerdState string `json:"containerdState"`
	// CgroupDriver is the kubelet's cgroupDriver: cgroupfs or systemd.
	CgroupDriver string `json:"cgroupDriver"`
	// CgroupRoot is the kubelet's cgroupRoot ("/").
	CgroupRoot string `json:"cgroupRoot"`
	// CgroupV2 is true on a unified (cgroup v2) host: containers get a
	// cgroup namespace.
	CgroupV2 bool `json:"cgroupV2"`
	// SwapAccounting is containerd's SwapControllerAvailable: the memory
	// controller has swap accounting (memory.memsw.* on cgroup v1), so a
	// memory limit also sets memory.swap.
	SwapAccounting bool `json:"swapAccounting"`
	// RestrictOOMScoreAdj is containerd CRI's restrict_oom_score_adj;
	// ContainerdOOMScoreAdj is then containerd's own oom_score_adj, the
	// floor it applies.
	RestrictOOMScoreAdj   bool `json:"restrictOOMScoreAdj"`
	ContainerdOOMScoreAdj int  `json:"containerdOOMScoreAdj"`
	// AppArmor is true when AppArmor is enabled on the node (containerd
	// then gives unprivileged containers the cri-containerd.apparmor.d
	// profile).
	AppArmor bool `json:"appArmor"`
	// ExtraMaskedPaths are the /sys/devices/system/cpu/cpuN/thermal_throttle
	// paths that exist on the node: the kubelet masks them too.
	ExtraMaskedPaths []string `json:"extraMaskedPaths,omitempty"`
	// MemoryCapacityBytes is the node's memory (cAdvisor's
	// MemoryCapacity); only Burstable containers' oomScoreAdj needs it.
	MemoryCapacityBytes int64 `json:"memoryCapacityBytes,omitempty"`
	// NodeHostname is the node's hostname, which hostNetwork pods get.
	NodeHostname string `json:"nodeHostname,omitempty"`
	// KubernetesService is the cluster's "kubernetes" Service (the
	// KUBERNETES_SERVICE_* variables every container gets); nil for a
	// standalone kubelet, which has no API server and sets none.
	KubernetesService *ServiceAddr `json:"kubernetesService"`
	// Notes are remarks of the capture (LocalNodeProfile) for the reader;
	// the prediction ignores them.
	Notes []string `json:"notes,omitempty"`
}

// ServiceAddr is a Service's cluster IP and its TCP port.
type ServiceAddr struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// DefaultNodeProfile is a node with the packages' default paths: containerd
// 2.4 and kubelet 1.34 as installed by their upstream defaults, cgroupfs,
// cgroup v1, no AppArmor, standalone (no API server).
func DefaultNodeProfile() NodeProfile {
	return NodeProfile{
		ContainerdVersion: "2.4.2",
		KubeletVersion:    "1.34.2",
		KubeletRootDir:    "/var/lib/kubelet",
		ContainerdRoot:    "/var/lib/containerd",
		ContainerdState:   "/run/containerd",
		CgroupDriver:      "cgroupfs",
		CgroupRoot:        "/",
	}
}

// LoadNodeProfile reads a node profile file (JSON); unknown fields are an
// error naming them.
func LoadNodeProfile(file string) (*NodeProfile, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("node profile: %w", err)
	}
	p := DefaultNodeProfile()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: node profile %s: %v", ErrInvalidOption, file, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("node profile %s: %w", file, err)
	}
	return &p, nil
}

// Validate checks the profile's fields.
func (p *NodeProfile) Validate() error {
	if _, err := lookupRules(p.ContainerdVersion); err != nil {
		return fmt.Errorf("containerdVersion: %w", err)
	}
	if v := strings.TrimPrefix(p.KubeletVersion, "v"); v != "1.34" && !strings.HasPrefix(v, "1.34.") {
		return fmt.Errorf("%w: kubeletVersion %q (only kubelet 1.34 is modelled)", ErrUnknownEngine, p.KubeletVersion)
	}
	for _, f := range []struct{ name, v string }{
		{"kubeletRootDir", p.KubeletRootDir}, {"containerdRoot", p.ContainerdRoot},
		{"containerdState", p.ContainerdState}, {"cgroupRoot", p.CgroupRoot},
	} {
		if !path.IsAbs(f.v) || path.Clean(f.v) != f.v {
			return fmt.Errorf("%w: %s %q is not a clean absolute path", ErrInvalidOption, f.name, f.v)
		}
	}
	if p.CgroupDriver != "cgroupfs" && p.CgroupDriver != "systemd" {
		return fmt.Errorf("%w: cgroupDriver %q (want cgroupfs or systemd)", ErrInvalidOption, p.CgroupDriver)
	}
	if p.CgroupDriver == "systemd" && p.CgroupRoot != "/" {
		return fmt.Errorf("%w: cgroupRoot %q with the systemd driver is not modelled", ErrUnsupported, p.CgroupRoot)
	}
	if s := p.KubernetesService; s != nil && (s.Host == "" || s.Port <= 0 || s.Port > 65535) {
		return fmt.Errorf("%w: kubernetesService needs a host and a port", ErrInvalidOption)
	}
	return nil
}
