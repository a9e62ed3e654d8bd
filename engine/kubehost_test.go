package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalNodeProfileFiles: the fields that come from the daemons'
// config files are taken from the files named.
func TestLocalNodeProfileFiles(t *testing.T) {
	dir := t.TempDir()
	kc, cc := filepath.Join(dir, "kubelet.yaml"), filepath.Join(dir, "config.toml")
	os.WriteFile(kc, []byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\ncgroupRoot: /custom/\n"), 0o644)
	os.WriteFile(cc, []byte("version = 3\nroot = \"/srv/containerd\"\nstate = \"/run/ctrd\"\n[plugins.'io.containerd.cri.v1.runtime']\n  restrict_oom_score_adj = true\n"), 0o644)
	p, err := LocalNodeProfile(NodeCapture{KubeletConfig: kc, ContainerdConfig: cc})
	if err != nil {
		t.Fatal(err)
	}
	if p.CgroupRoot != "/custom" || p.CgroupDriver != "cgroupfs" || p.ContainerdRoot != "/srv/containerd" ||
		p.ContainerdState != "/run/ctrd" || !p.RestrictOOMScoreAdj || p.MemoryCapacityBytes <= 0 {
		t.Errorf("%+v", p)
	}
	for _, tc := range []struct {
		kubelet, containerd string
		want                error
	}{
		{"kind: Pod\n", "", ErrInvalidOption},
		{"kind: KubeletConfiguration\ncgroupsPerQOS: false\n", "", ErrUnsupported},
		{"kind: KubeletConfiguration\n", "root = [", ErrInvalidOption},
	} {
		os.WriteFile(kc, []byte(tc.kubelet), 0o644)
		os.WriteFile(cc, []byte(tc.containerd), 0o644)
		if _, err := LocalNodeProfile(NodeCapture{KubeletConfig: kc, ContainerdConfig: cc}); !errors.Is(err, tc.want) {
			t.Errorf("%q %q: err = %v; want %v", tc.kubelet, tc.containerd, err, tc.want)
		}
	}
	if _, err := LocalNodeProfile(NodeCapture{KubeletConfig: filepath.Join(dir, "none")}); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("missing named kubelet config: %v", err)
	}
}
