package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind names a container engine whose runtime config refval can predict.
type Kind string

const (
	// Runc is the bundle exactly as unpacked (umoci's conversion of the
	// image config), the config `runc run` uses on that bundle.
	Runc Kind = "runc"
	// Containerd is what `ctr run` writes into the bundle.
	Containerd Kind = "containerd"
)

// Sentinel errors; errors from this package wrap one of them where one applies.
var (
	// ErrUnknownEngine: the engine name or version is not one this package knows.
	ErrUnknownEngine = errors.New("unknown engine")
	// ErrUnsupported: a run option whose effect on the spec this package
	// cannot predict (see the package documentation for the list).
	ErrUnsupported = errors.New("run option not supported by the prediction")
	// ErrHostDependent: the option's spec depends on the device that runs
	// the container (its /dev, capabilities or hostname); pass WithHost.
	ErrHostDependent = errors.New("run option depends on the device; a host profile is needed")
	// ErrInvalidOption: a run option is malformed (bad --mount, bad user, …).
	ErrInvalidOption = errors.New("invalid run option")
	// ErrUserNotFound: the image's /etc/passwd or /etc/group has no entry
	// for a user or group named in the image config or --user; containerd
	// refuses to create such a container.
	ErrUserNotFound = errors.New("user or group not found in the image")
)

// Profile selects an engine and the version whose behaviour to reproduce.
// Use ParseProfile; the zero value is not valid.
type Profile struct {
	Kind Kind
	// Version is the pinned engine version whose default spec and ctr
	// behaviour are reproduced ("1.6.20", …); empty for runc.
	Version string
	rules   *rules
}

// String returns "runc", "containerd VERSION", "docker VERSION" or "nerdctl VERSION".
func (p Profile) String() string {
	if p.Kind == Containerd || p.Kind == Docker || p.Kind == Nerdctl {
		return string(p.Kind) + " " + p.Version
	}
	return string(p.Kind)
}

// rules are the places where containerd versions differ in what `ctr run`
// writes. Every field was read from that release's source and, for 1.6.20
// and 2.4.2, checked against the real binaries (testdata/ctr-oci-spec-*).
type rules struct {
	version string
	// ociVersion is specs.Version of the runtime-spec module the release
	// vendors; populateDefaultUnixSpec writes it into ociVersion.
	ociVersion string
	// maskedPaths is the default linux.maskedPaths. 1.7.x added
	// /sys/devices/virtual/powercap; 2.0 added /proc/interrupts (and, on
	// hosts that have them, /sys/devices/system/cpu/cpuN/thermal_throttle,
	// which only a captured base spec can know).
	maskedPaths []string
	// userFlag: ctr run has --user (1.7 and later).
	userFlag bool
	// hostnameFlag: ctr run has --hostname (1.7 and later).
	hostnameFlag bool
	// mountReplaces: --mount first removes default mounts with the same
	// destination (2.0 and later); 1.x only appends.
	mountReplaces bool
	// idRangeCheck: numeric users and groups above MaxInt32 or negative
	// are refused (1.7 and later); 1.6 wraps them into uint32.
	idRangeCheck bool
	// inheritableCaps: WithCapabilities filters and WithDroppedCapabilities
	// also edits process.capabilities.inheritable (1.7 and later).
	inheritableCaps bool
	// boundedUserFiles: /etc/passwd and /etc/group must be regular files
	// of at most 10 MiB (2.4 and later).
	boundedUserFiles bool
}

var (
	masked16 = []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}
	masked17 = []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/scsi"}
	masked20 = []string{"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/scsi"}
)

// knownRules lists the pinned releases, oldest first.
var knownRules = []*rules{
	{version: "1.6.20", ociVersion: "1.0.2-dev", maskedPaths: masked16},
	{version: "1.7.35", ociVersion: "1.1.0", maskedPaths: masked17, userFlag: true, hostnameFlag: true, idRangeCheck: true, inheritableCaps: true},
	{version: "2.0.14", ociVersion: "1.2.0", maskedPaths: masked20, userFlag: true, hostnameFlag: true, mountReplaces: true, idRangeCheck: true, inheritableCaps: true},
	{version: "2.4.2", ociVersion: "1.3.0", maskedPaths: masked20, userFlag: true, hostnameFlag: true, mountReplaces: true, idRangeCheck: true, inheritableCaps: true, boundedUserFiles: true},
}

// Versions lists the containerd versions whose behaviour is reproduced.
// --engine-version accepts these, their MAJOR.MINOR, and "2.x" (= 2.4.2).
func Versions() []string {
	v := make([]string, len(knownRules))
	for i, r := range knownRules {
		v[i] = r.version
	}
	return v
}

// DefaultVersion is the containerd version used when none is given: the
// one Debian stable ships (and the one the CMC seed documents).
const DefaultVersion = "1.6"

// ParseProfile returns the profile for an engine name ("runc",
// "containerd") and, for containerd, a version: "1.6", "1.7", "2.0",
// "2.4", "2.x", a pinned version from Versions, or empty for
// DefaultVersion. Other patch releases of a known MAJOR.MINOR map to the
// pinned one; give their own `ctr oci spec` with WithBaseSpec, since
// patch releases have changed the default masked paths.
func ParseProfile(kind, version string) (Profile, error) {
	switch Kind(kind) {
	case Runc:
		if version != "" {
			return Profile{}, fmt.Errorf("%w: runc takes no --engine-version", ErrUnknownEngine)
		}
		return Profile{Kind: Runc}, nil
	case Docker:
		return dockerProfile(version)
	case Nerdctl:
		return nerdctlProfile(version)
	case Containerd:
	default:
		return Profile{}, fmt.Errorf("%w: %q (want runc, containerd, docker or nerdctl)", ErrUnknownEngine, kind)
	}
	if version == "" {
		version = DefaultVersion
	}
	r, err := lookupRules(version)
	if err != nil {
		return Profile{}, err
	}
	return Profile{Kind: Containerd, Version: r.version, rules: r}, nil
}

func lookupRules(version string) (*rules, error) {
	v := strings.TrimPrefix(version, "v")
	if v == "2.x" || v == "2" {
		return knownRules[len(knownRules)-1], nil
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("%w: containerd version %q (want MAJOR.MINOR[.PATCH] or 2.x)", ErrUnknownEngine, version)
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return nil, fmt.Errorf("%w: containerd version %q (want MAJOR.MINOR[.PATCH] or 2.x)", ErrUnknownEngine, version)
		}
	}
	mm := parts[0] + "." + parts[1]
	for _, r := range knownRules {
		if strings.HasPrefix(r.version, mm+".") {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: containerd %s (known: 1.6, 1.7, 2.0, 2.4, 2.x; for another release give the nearest one and its own `ctr oci spec` as the base spec)", ErrUnknownEngine, version)
}
