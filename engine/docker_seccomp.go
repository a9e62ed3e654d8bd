package engine

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dockerSeccompJSON is moby v20.10.24's default seccomp profile
// (engine/data/README.md says where it comes from).
//
//go:embed data/docker-20.10.24-seccomp.json
var dockerSeccompJSON []byte

// dockerSeccompProfile is the profile's file format (moby's
// profiles/seccomp.Seccomp).
type dockerSeccompProfile struct {
	DefaultAction specs.LinuxSeccompAction `json:"defaultAction"`
	ArchMap       []struct {
		Arch      specs.Arch   `json:"architecture"`
		SubArches []specs.Arch `json:"subArchitectures"`
	} `json:"archMap"`
	Syscalls []struct {
		Names    []string                 `json:"names"`
		Action   specs.LinuxSeccompAction `json:"action"`
		Args     []specs.LinuxSeccompArg  `json:"args"`
		ErrnoRet *uint                    `json:"errnoRet"`
		Includes dockerSeccompFilter      `json:"includes"`
		Excludes dockerSeccompFilter      `json:"excludes"`
	} `json:"syscalls"`
}

type dockerSeccompFilter struct {
	Caps      []string `json:"caps"`
	Arches    []string `json:"arches"`
	MinKernel string   `json:"minKernel"`
}

// dockerSeccompArch is the profile's native name and the seccomp
// architecture of each GOARCH dockerd is built for (goToNative and
// nativeToSeccomp in profiles/seccomp/seccomp_linux.go).
var dockerSeccompArch = map[string][2]string{
	"amd64": {"amd64", "SCMP_ARCH_X86_64"}, "386": {"x86", "SCMP_ARCH_X86"}, "arm64": {"arm64", "SCMP_ARCH_AARCH64"},
	"arm": {"arm", "SCMP_ARCH_ARM"}, "ppc64le": {"ppc64le", "SCMP_ARCH_PPC64LE"}, "s390x": {"s390x", "SCMP_ARCH_S390X"},
}

// dockerDefaultSeccomp is setupSeccomp of the default profile for a
// container with the bounding capabilities caps on a device of arch:
// architectures from the archMap entry of the arch, then each rule kept
// unless an exclude matches (arch, a capability it has, a kernel at least
// minKernel) or an include does not (arch, all capabilities, kernel).
func dockerDefaultSeccomp(arch string, caps []string, kernelAtLeast func(v, what string) (bool, error)) (*specs.LinuxSeccomp, error) {
	var p dockerSeccompProfile
	if err := json.Unmarshal(dockerSeccompJSON, &p); err != nil {
		return nil, fmt.Errorf("docker seccomp profile: %w", err)
	}
	a, ok := dockerSeccompArch[arch]
	if !ok {
		return nil, fmt.Errorf("%w: the default seccomp profile on architecture %q", ErrUnsupported, arch)
	}
	native := a[0]
	out := &specs.LinuxSeccomp{DefaultAction: p.DefaultAction}
	for _, m := range p.ArchMap {
		if string(m.Arch) == a[1] {
			out.Architectures = append(append(out.Architectures, m.Arch), m.SubArches...)
			break
		}
	}
	kernel := func(v string) (bool, error) {
		return kernelAtLeast(v, "the default seccomp profile's rule for kernels from "+v)
	}
	for _, c := range p.Syscalls {
		keep := true
		switch {
		case slices.Contains(c.Excludes.Arches, native):
			keep = false
		case slices.ContainsFunc(c.Excludes.Caps, func(x string) bool { return slices.Contains(caps, x) }):
			keep = false
		case len(c.Includes.Arches) > 0 && !slices.Contains(c.Includes.Arches, native):
			keep = false
		case slices.ContainsFunc(c.Includes.Caps, func(x string) bool { return !slices.Contains(caps, x) }):
			keep = false
		}
		if keep && c.Excludes.MinKernel != "" {
			ge, err := kernel(c.Excludes.MinKernel)
			if err != nil {
				return nil, err
			}
			keep = !ge
		}
		if keep && c.Includes.MinKernel != "" {
			ge, err := kernel(c.Includes.MinKernel)
			if err != nil {
				return nil, err
			}
			keep = ge
		}
		if keep {
			out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: c.Names, Action: c.Action, ErrnoRet: c.ErrnoRet, Args: c.Args})
		}
	}
	return out, nil
}
