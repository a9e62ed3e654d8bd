package engine

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	yaml "go.yaml.in/yaml/v3"
)

// NodeCapture says where LocalNodeProfile finds the daemons'
// configuration; empty fields mean: what the running kubelet and
// containerd were started with (their command lines), else the packages'
// default files (/var/lib/kubelet/config.yaml, /etc/containerd/config.toml).
type NodeCapture struct {
	KubeletConfig    string
	ContainerdConfig string
}

// LocalNodeProfile captures the node profile of this machine: the
// containerd version (of the running daemon's binary, else the one in
// PATH), the kubelet's root dir, cgroup driver and root (its command line
// and config file), containerd's root, state and restrict_oom_score_adj
// (its config file), cgroup v2, swap accounting, AppArmor, the
// thermal_throttle paths, the memory and the hostname. The cluster's
// kubernetes Service cannot be seen from a node: fill in
// kubernetesService by hand (null means a standalone kubelet).
func LocalNodeProfile(c NodeCapture) (*NodeProfile, error) {
	p := DefaultNodeProfile()
	for _, d := range []string{"kubelet", "containerd"} {
		if n := len(processPids(d)); n > 1 {
			p.Notes = append(p.Notes, fmt.Sprintf("%d %s processes run here; the first one's command line was used", n, d))
		}
	}
	kubeletArgs := processArgs("kubelet")
	if v := flagValue(kubeletArgs, "--root-dir"); v != "" {
		p.KubeletRootDir = v
	}
	kcfg := c.KubeletConfig
	if kcfg == "" {
		kcfg = flagValue(kubeletArgs, "--config")
	}
	if kcfg == "" {
		kcfg = "/var/lib/kubelet/config.yaml"
	}
	if err := readKubeletConfig(&p, kcfg, c.KubeletConfig != ""); err != nil {
		return nil, err
	}
	ctrArgs := processArgs("containerd")
	ccfg := c.ContainerdConfig
	if ccfg == "" {
		ccfg = flagValue(ctrArgs, "--config")
	}
	if ccfg == "" {
		ccfg = "/etc/containerd/config.toml"
	}
	if err := readContainerdConfig(&p, ccfg, c.ContainerdConfig != ""); err != nil {
		return nil, err
	}
	if v, err := containerdVersion(); err == nil {
		p.ContainerdVersion = v
	}
	if pid := processPid("containerd"); pid > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid)); err == nil {
			p.ContainerdOOMScoreAdj, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	p.CgroupV2 = err == nil
	if p.CgroupV2 {
		_, err = os.Stat("/sys/fs/cgroup/memory.swap.max")
	} else {
		_, err = os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	}
	p.SwapAccounting = err == nil
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil {
		p.AppArmor = strings.TrimSpace(string(b)) == "Y"
	}
	p.ExtraMaskedPaths = thermalThrottlePaths()
	p.MemoryCapacityBytes = memoryCapacity()
	p.NodeHostname, _ = os.Hostname()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("captured node profile: %w", err)
	}
	return &p, nil
}

// readKubeletConfig takes cgroupDriver and cgroupRoot from a
// KubeletConfiguration file; cgroupsPerQOS false is not modelled. A missing
// file is an error only when it was named explicitly.
func readKubeletConfig(p *NodeProfile, file string, explicit bool) error {
	b, err := os.ReadFile(file)
	if err != nil {
		if !explicit && os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("kubelet config: %w", err)
	}
	var kc struct {
		Kind          string `yaml:"kind"`
		CgroupDriver  string `yaml:"cgroupDriver"`
		CgroupRoot    string `yaml:"cgroupRoot"`
		CgroupsPerQOS *bool  `yaml:"cgroupsPerQOS"`
	}
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return fmt.Errorf("%w: kubelet config %s: %v", ErrInvalidOption, file, err)
	}
	if kc.Kind != "KubeletConfiguration" {
		return fmt.Errorf("%w: kubelet config %s: kind %q, want KubeletConfiguration", ErrInvalidOption, file, kc.Kind)
	}
	if kc.CgroupsPerQOS != nil && !*kc.CgroupsPerQOS {
		return fmt.Errorf("%w: kubelet config %s: cgroupsPerQOS: false is not modelled", ErrUnsupported, file)
	}
	if kc.CgroupDriver != "" {
		p.CgroupDriver = kc.CgroupDriver
	}
	if kc.CgroupRoot != "" {
		p.CgroupRoot = filepath.Clean(kc.CgroupRoot)
	}
	return nil
}

// readContainerdConfig takes root, state and the CRI plugin's
// restrict_oom_score_adj (1.x: io.containerd.grpc.v1.cri; 2.x:
// io.containerd.cri.v1.runtime) from containerd's config.toml.
func readContainerdConfig(p *NodeProfile, file string, explicit bool) error {
	b, err := os.ReadFile(file)
	if err != nil {
		if !explicit && os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("containerd config: %w", err)
	}
	var cc struct {
		Root    string                    `toml:"root"`
		State   string                    `toml:"state"`
		Imports []string                  `toml:"imports"`
		Plugins map[string]map[string]any `toml:"plugins"`
	}
	if err := toml.Unmarshal(b, &cc); err != nil {
		return fmt.Errorf("%w: containerd config %s: %v", ErrInvalidOption, file, err)
	}
	if cc.Root != "" {
		p.ContainerdRoot = filepath.Clean(cc.Root)
	}
	if cc.State != "" {
		p.ContainerdState = filepath.Clean(cc.State)
	}
	for _, plugin := range []string{"io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime"} {
		if v, ok := cc.Plugins[plugin]["restrict_oom_score_adj"].(bool); ok {
			p.RestrictOOMScoreAdj = v
		}
	}
	if len(cc.Imports) > 0 {
		// Imported files may override these keys; they are not merged here.
		p.Notes = append(p.Notes, "containerd config imports files; root, state and restrict_oom_score_adj are read from "+file+" only")
	}
	return nil
}

// processArgs returns the command line of the first running process whose
// executable's base name is name.
func processArgs(name string) []string {
	pid := processPid(name)
	if pid <= 0 {
		return nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

func processPid(name string) int {
	if pids := processPids(name); len(pids) > 0 {
		return pids[0]
	}
	return 0
}

// processPids lists the running processes whose argv[0] has base name name.
func processPids(name string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv0, _, _ := bytes.Cut(b, []byte{0})
		if filepath.Base(string(argv0)) == name {
			pids = append(pids, pid)
		}
	}
	return pids
}

// flagValue returns the value of --name=V or --name V in args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

var containerdVersionRE = regexp.MustCompile(`\sv?([0-9]+\.[0-9]+\.[0-9]+)\s`)

// containerdVersion runs the daemon's own binary (else containerd in PATH)
// with --version.
func containerdVersion() (string, error) {
	bin := "containerd"
	if pid := processPid("containerd"); pid > 0 {
		bin = fmt.Sprintf("/proc/%d/exe", pid)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", err
	}
	m := containerdVersionRE.FindSubmatch(append(out, ' '))
	if m == nil {
		return "", fmt.Errorf("containerd --version: %q", out)
	}
	if _, err := lookupRules(string(m[1])); err != nil {
		return "", err
	}
	return string(m[1]), nil
}

// thermalThrottlePaths are the kubelet's extra masked paths: the
// thermal_throttle directories of the possible CPUs that exist, by CPU
// number.
func thermalThrottlePaths() []string {
	matches, _ := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle")
	num := func(p string) int {
		n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(filepath.Dir(p)), "cpu"))
		return n
	}
	slices.SortFunc(matches, func(a, b string) int { return num(a) - num(b) })
	return matches
}

// memoryCapacity is cAdvisor's MemoryCapacity: MemTotal of /proc/meminfo.
func memoryCapacity() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n * 1024
		}
	}
	return 0
}
