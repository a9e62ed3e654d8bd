package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultDockerConfig is dockerd's default --config-file.
const DefaultDockerConfig = "/etc/docker/daemon.json"

// LocalDockerDaemon captures the DockerDaemon facts of the machine it runs
// on: dockerd's configuration from configFile (DefaultDockerConfig when
// empty; a missing default file means dockerd's defaults) overridden by
// the command line of a running dockerd, the kernel release and whether
// AppArmor is enabled.
func LocalDockerDaemon(configFile string) (*DockerDaemon, error) {
	d := &DockerDaemon{}
	explicit := configFile != ""
	if !explicit {
		configFile = DefaultDockerConfig
	}
	args := runningDockerdArgs()
	if f := dockerdFlag(args, "--config-file"); f != "" && !explicit {
		configFile = f
	}
	raw, err := os.ReadFile(configFile)
	switch {
	case err == nil:
		if err := d.parseDaemonJSON(raw); err != nil {
			return nil, fmt.Errorf("docker daemon profile: %s: %w", configFile, err)
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
	default:
		return nil, fmt.Errorf("docker daemon profile: %w", err)
	}
	d.applyDockerdArgs(args)
	rel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return nil, fmt.Errorf("docker daemon profile: %w", err)
	}
	d.KernelVersion = strings.TrimSpace(string(rel))
	aa, _ := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	d.AppArmor = bytes.HasPrefix(aa, []byte("Y"))
	return d, nil
}

// parseDaemonJSON reads the daemon.json keys the prediction depends on;
// dockerd's many others do not change a container's config here.
func (d *DockerDaemon) parseDaemonJSON(raw []byte) error {
	var c struct {
		DataRoot string   `json:"data-root"`
		ExecRoot string   `json:"exec-root"`
		Bridge   string   `json:"bridge"`
		ExecOpts []string `json:"exec-opts"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	d.DataRoot, d.ExecRoot, d.BridgeNone = c.DataRoot, c.ExecRoot, c.Bridge == "none"
	for _, o := range c.ExecOpts {
		d.applyExecOpt(o)
	}
	return nil
}

func (d *DockerDaemon) applyExecOpt(o string) {
	if v, ok := strings.CutPrefix(o, "native.cgroupdriver="); ok {
		d.CgroupDriver = v
	}
}

// applyDockerdArgs takes the options given on dockerd's command line.
func (d *DockerDaemon) applyDockerdArgs(args []string) {
	if v := dockerdFlag(args, "--data-root"); v != "" {
		d.DataRoot = v
	}
	if v := dockerdFlag(args, "--exec-root"); v != "" {
		d.ExecRoot = v
	}
	if v := dockerdFlag(args, "--bridge", "-b"); v != "" {
		d.BridgeNone = v == "none"
	}
	if v := dockerdFlag(args, "--exec-opt"); v != "" {
		d.applyExecOpt(v)
	}
}

// dockerdFlag returns the last value of a flag in "--name value" or
// "--name=value" form ("" when absent).
func dockerdFlag(args []string, names ...string) string {
	v := ""
	for i, a := range args {
		for _, n := range names {
			if a == n && i+1 < len(args) {
				v = args[i+1]
			} else if rest, ok := strings.CutPrefix(a, n+"="); ok {
				v = rest
			}
		}
	}
	return v
}

// runningDockerdArgs returns the arguments of a running dockerd (nil when
// none runs, or more than one does: then which one is meant is unclear).
func runningDockerdArgs() []string {
	ents, _ := os.ReadDir("/proc")
	var found [][]string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if filepath.Base(args[0]) == "dockerd" {
			found = append(found, args[1:])
		}
	}
	if len(found) != 1 {
		return nil
	}
	return found[0]
}
