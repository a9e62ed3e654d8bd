package engine

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate sh -c "cd internal/seccompgen/v2.4 && go run . -out ../../.."
//go:generate sh -c "cd internal/seccompgen/v2.2 && go run . -out ../../.."
//go:generate sh -c "cd internal/seccompgen/v1.6 && go run . -out ../../.."

// seccompData holds containerd's default seccomp profiles, generated from
// containerd's own contrib/seccomp at the pinned releases by
// engine/internal/seccompgen (Apache-2.0, the containerd authors; each
// file names its origin).
//
//go:embed seccomp_default_*.json
var seccompData embed.FS

// seccompDefault is one generated profile: containerd's DefaultProfile is
// Prefix, then ByCapability[c] for each bounding capability c in order,
// then WithoutSysAdmin unless CAP_SYS_ADMIN is bounding. The generator
// checks this composition against DefaultProfile itself.
type seccompDefault struct {
	Origin        string                          `json:"origin"`
	License       string                          `json:"license"`
	Arch          string                          `json:"arch"`
	MinKernel     string                          `json:"minKernel"`
	DefaultAction specs.LinuxSeccompAction        `json:"defaultAction"`
	Architectures []specs.Arch                    `json:"architectures"`
	Prefix        []specs.LinuxSyscall            `json:"prefix"`
	ByCapability  map[string][]specs.LinuxSyscall `json:"byCapability"`
	WithoutAdmin  []specs.LinuxSyscall            `json:"withoutSysAdmin"`
}

// seccompReleases maps a pinned containerd version to its generated
// profile's release name.
var seccompReleases = map[string]string{"2.4.2": "2.4", "2.2.1": "2.2", "1.6.20": "1.6"}

// DefaultSeccomp returns containerd's default seccomp profile
// (RuntimeDefault) of containerd version (a pinned one, as in Versions)
// on architecture arch (GOARCH spelling) for a process whose bounding
// capabilities are bounding. The profile depends on nothing else but the
// kernel being at least 4.8 (older kernels lose ptrace and
// process_vm_readv/writev; no kernel a kubelet 1.34 supports is older).
// A release or architecture without generated data is an error wrapping
// ErrUnsupported.
func DefaultSeccomp(version, arch string, bounding []string) (*specs.LinuxSeccomp, error) {
	rel, ok := seccompReleases[version]
	if !ok {
		return nil, fmt.Errorf("%w: containerd %s's default seccomp profile (RuntimeDefault) is not generated (engine/internal/seccompgen has containerd 1.6.20, 2.2.1 and 2.4.2)", ErrUnsupported, version)
	}
	b, err := seccompData.ReadFile("seccomp_default_" + rel + "_" + arch + ".json")
	if err != nil {
		return nil, fmt.Errorf("%w: containerd %s's default seccomp profile (RuntimeDefault) for architecture %q is not generated (only the generator's own architecture: run go generate ./engine/ on that architecture)", ErrUnsupported, version, arch)
	}
	// Strict: the generator (a module of its own, which cannot share
	// this type) writes seccompgen.Profile; a member one side renamed
	// fails here instead of leaving a part of the profile empty.
	var d seccompDefault
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("seccomp data %s/%s: %w", rel, arch, err)
	}
	out := &specs.LinuxSeccomp{DefaultAction: d.DefaultAction, Architectures: d.Architectures, Syscalls: d.Prefix}
	for _, c := range bounding {
		out.Syscalls = append(out.Syscalls, d.ByCapability[c]...)
	}
	if !slices.Contains(bounding, "CAP_SYS_ADMIN") {
		out.Syscalls = append(out.Syscalls, d.WithoutAdmin...)
	}
	return out, nil
}

// withDefaultSeccomp is containerd's seccomp.WithDefaultProfile, applied
// (as CRI does) after the rest of the spec, so that it sees the final
// bounding capabilities.
func withDefaultSeccomp(version, arch string) SpecOpts {
	return func(_ *Container, s *specs.Spec) error {
		var bounding []string
		if s.Process != nil && s.Process.Capabilities != nil {
			bounding = s.Process.Capabilities.Bounding
		}
		p, err := DefaultSeccomp(version, arch, bounding)
		if err != nil {
			return err
		}
		setLinux(s)
		s.Linux.Seccomp = p
		return nil
	}
}

// imageArch is the architecture of the image as GOARCH spells it: the
// node's, for the containers that run it.
func imageArch(arch string) (string, error) {
	if arch == "" || strings.ContainsAny(arch, "/\\.") {
		return "", fmt.Errorf("%w: the image has no architecture; the default seccomp profile depends on it", ErrInvalidOption)
	}
	return arch, nil
}
