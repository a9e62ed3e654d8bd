package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// NerdctlFixedEnv is the environment docs/engines.md recommends running
// nerdctl with (`env -i
// PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
// HOME=/root nerdctl …`), and LocalNerdctl's default: nerdctl copies its whole
// environment into the hooks of every container, so only a fixed one
// measures alike from any shell.
var NerdctlFixedEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}

// DefaultNerdctlTOML is nerdctl's configuration file as root, which the
// prediction does not model.
const DefaultNerdctlTOML = "/etc/nerdctl/nerdctl.toml"

// LocalNerdctl captures the NerdctlHost facts of the machine it runs on
// for nerdctl at path ("" looks "nerdctl" up in $PATH) run with the global
// options globalArgs in the environment env (nil: NerdctlFixedEnv): the
// executable with symlinks resolved, containerd's address with symlinks
// resolved, the cgroup hierarchy, nerdctl's default cgroup manager and
// whether AppArmor applies. A nerdctl.toml is refused: its settings
// change nerdctl's defaults, which the prediction does not model.
func LocalNerdctl(path string, globalArgs, env []string) (*NerdctlHost, error) {
	if env == nil {
		env = NerdctlFixedEnv
	}
	if path == "" {
		p, err := exec.LookPath("nerdctl")
		if err != nil {
			return nil, fmt.Errorf("nerdctl profile: %w (give its path)", err)
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("nerdctl profile: %w", err)
	}
	if _, err := os.Stat(DefaultNerdctlTOML); err == nil {
		return nil, fmt.Errorf("nerdctl profile: %s: %w: a nerdctl.toml changes nerdctl's defaults; give its settings as global options instead", DefaultNerdctlTOML, ErrUnsupported)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("nerdctl profile: %w", err)
	}
	h := &NerdctlHost{Path: abs, GlobalArgs: globalArgs, Env: env}
	g, err := parseNerdctlGlobals(h)
	if err != nil {
		return nil, fmt.Errorf("nerdctl profile: %w", err)
	}
	addr := strings.TrimPrefix(g.address, "unix://")
	if r, err := filepath.EvalSymlinks(addr); err == nil && r != addr {
		h.ResolvedAddress = r
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		h.CgroupV2 = true
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil && h.CgroupV2 {
		h.SystemdCgroup = true
	}
	// apparmorutil: the profile applies when AppArmor is enabled and
	// nerdctl (as root) can load it or it is loaded.
	aa, _ := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if string(aa) == "Y\n" {
		if _, err := exec.LookPath("apparmor_parser"); err == nil {
			h.AppArmor = true
		} else if exec.Command("aa-exec", "-p", "nerdctl-default", "--", "true").Run() == nil {
			h.AppArmor = true
		}
	}
	return h, nil
}
