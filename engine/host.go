package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Host is what a ctr run spec takes from the device that runs it, needed
// only for --privileged and --net-host. Capture it on the device
// (LocalHost, `--host-profile local`) and store it as JSON.
type Host struct {
	// Hostname is the device's hostname (os.Hostname), the value of
	// HOSTNAME under --net-host.
	Hostname string `json:"hostname"`
	// Capabilities are the effective capabilities of the process running
	// ctr, in capability-number order; --privileged grants exactly these.
	Capabilities []string `json:"capabilities"`
	// Devices are the device nodes under the device's /dev as containerd's
	// HostDevices lists them; --privileged adds them to linux.devices.
	Devices []specs.LinuxDevice `json:"devices"`
	// Docker is the Docker daemon's configuration on the device, for the
	// docker engine (nil: dockerd's defaults, kernel unknown).
	Docker *DockerDaemon `json:"docker,omitempty"`
	// Nerdctl is how nerdctl is run on the device, for the nerdctl engine
	// (nil: the nerdctl engine cannot predict its hooks).
	Nerdctl *NerdctlHost `json:"nerdctl,omitempty"`
}

// capNames is the capability list of containerd's pkg/cap (kernel 5.9:
// 41 entries, index = capability number), identical in 1.6 and 2.4. A
// set bit beyond it has no name and is left out, as containerd does.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// CapabilitiesFromBitmap names the set bits of a capability mask (the
// CapEff field of /proc/PID/status) in bit order.
func CapabilitiesFromBitmap(mask uint64) []string {
	var out []string
	for i := range 64 {
		if mask&(1<<i) != 0 && i < len(capNames) {
			out = append(out, capNames[i])
		}
	}
	return out
}

// effectiveCaps parses the CapEff line of a /proc/PID/status file.
func effectiveCaps(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "CapEff" {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("CapEff %q: %w", strings.TrimSpace(v), err)
		}
		return CapabilitiesFromBitmap(mask), nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("no CapEff line")
}

// LocalHost captures the Host profile of the machine it runs on, with the
// capabilities of the calling process: run it where and as ctr runs.
func LocalHost() (*Host, error) {
	name, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("host profile: %w", err)
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, fmt.Errorf("host profile: %w", err)
	}
	defer f.Close()
	caps, err := effectiveCaps(f)
	if err != nil {
		return nil, fmt.Errorf("host profile: /proc/self/status: %w", err)
	}
	devs, err := hostDevices("/dev")
	if err != nil {
		return nil, fmt.Errorf("host profile: %w", err)
	}
	return &Host{Hostname: name, Capabilities: caps, Devices: devs}, nil
}

// hostDevices lists device nodes under dir the way containerd's
// getDevices does: entries in name order, recursing into directories
// except pts, shm, fd, mqueue, .lxc, .lxd-mounts and .udev, skipping
// /dev/console, symlinks, fifos and anything else that is not a block or
// character device.
func hostDevices(dir string) ([]specs.LinuxDevice, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []specs.LinuxDevice
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			switch e.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				continue
			}
			sub, err := hostDevices(p)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		case e.Name() == "console":
		default:
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				return nil, fmt.Errorf("lstat %s: %w", p, err)
			}
			var typ string
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFBLK:
				typ = "b"
			case unix.S_IFCHR:
				typ = "c"
			default:
				continue
			}
			mode := os.FileMode(st.Mode &^ unix.S_IFMT)
			uid, gid := st.Uid, st.Gid
			out = append(out, specs.LinuxDevice{
				Type: typ, Path: p,
				Major: int64(unix.Major(uint64(st.Rdev))), Minor: int64(unix.Minor(uint64(st.Rdev))),
				FileMode: &mode, UID: &uid, GID: &gid,
			})
		}
	}
	return out, nil
}
