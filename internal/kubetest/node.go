package kubetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// cniPluginDir is where Debian's containernetworking-plugins installs.
const cniPluginDir = "/usr/lib/cni"

// PodSubnet is the pod network of the CNI bridge.
const PodSubnet = "10.233.0.0/24"

// setupCNI gives containerd's CRI (whose CNI directories ctrtest creates
// empty under its Dir/cni) the bridge, host-local and loopback plugins and
// a bridge network without gateway, masquerading or iptables: pods reach
// each other on the bridge, the host is not changed beyond the bridge
// itself and the veths of running pods.
func (k *Kubelet) setupCNI() error {
	bin, conf := filepath.Join(k.C.Dir, "cni", "bin"), filepath.Join(k.C.Dir, "cni", "conf")
	for _, d := range []string{bin, conf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if err := os.Symlink(filepath.Join(cniPluginDir, p), filepath.Join(bin, p)); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	list := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"kubetest","plugins":[{"type":"bridge","bridge":%q,"isGateway":false,"ipMasq":false,"hairpinMode":false,"ipam":{"type":"host-local","ranges":[[{"subnet":%q}]],"dataDir":%q}}]}`,
		k.Bridge, PodSubnet, filepath.Join(k.C.Dir, "cni", "ipam"))
	tmp := filepath.Join(conf, ".10-kubetest.conflist")
	if err := os.WriteFile(tmp, []byte(list), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(conf, "10-kubetest.conflist"))
}

// deleteBridge removes the bridge the CNI plugin created (if it did).
func (k *Kubelet) deleteBridge() {
	if _, err := os.Stat(filepath.Join("/sys/class/net", k.Bridge)); err == nil {
		if out, err := exec.Command("ip", "link", "delete", k.Bridge).CombinedOutput(); err != nil {
			k.t.Logf("kubetest: delete bridge %s: %v %s", k.Bridge, err, out)
		}
	}
}

// cgroupHierarchies lists the mounted cgroup hierarchies: the v1 ones and,
// on a hybrid host, the unified v2 one (runc creates the container's
// cgroup there too).
func cgroupHierarchies() ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		i := slices.Index(f, "-")
		if i < 0 || i+1 >= len(f) || (f[i+1] != "cgroup" && f[i+1] != "cgroup2") {
			continue
		}
		dirs = append(dirs, f[4])
	}
	return dirs, nil
}

// makeCgroupRoot creates the kubelet's cgroup root in every hierarchy (the
// kubelet refuses a cgroupRoot that does not exist); a new cpuset cgroup
// gets its parent's cpus and mems, or no task could join it.
func (k *Kubelet) makeCgroupRoot() error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		d := filepath.Join(h, k.CgroupRoot)
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		k.cgroupDirs = append(k.cgroupDirs, d)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(h, f)); err == nil {
				if err := os.WriteFile(filepath.Join(d, f), v, 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// removeCgroupRoot removes the cgroup root and everything the kubelet
// created below it, deepest first, retrying while tasks still exit.
func (k *Kubelet) removeCgroupRoot() {
	for _, root := range k.cgroupDirs {
		var dirs []string
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			var err error
			for range 50 {
				if err = os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				k.t.Logf("kubetest: remove cgroup %s: %v", d, err)
			}
		}
	}
}
