package kubetest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/kubetest"
	"github.com/refval/refval/internal/testimage"
)

// images writes the sandbox ("pause": busybox sleeping) and app (busybox)
// archives.
func images(t *testing.T) []string {
	t.Helper()
	img, err := testimage.BusyboxImage()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	pause := img
	pause.Config.Entrypoint, pause.Config.Cmd = []string{"/bin/sleep"}, []string{"100000"}
	var out []string
	for name, im := range map[string]testimage.Image{"pause": pause, "app": img} {
		p := filepath.Join(dir, name+".tar")
		if _, err := testimage.WriteOCIArchive(p, name, im); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

const plainPod = `apiVersion: v1
kind: Pod
metadata:
  name: plain
  namespace: default
UIDLINE
spec:
  containers:
  - name: app
    image: ctrtest.local/import:app
    imagePullPolicy: Never
    command: ["/bin/sleep", "100000"]
  terminationGracePeriodSeconds: 1
`

// TestStaticPodStable: the same static pod started twice, and once more
// with another pod UID, records one refval-v2 value per container (the
// sandbox's and the app's) under the shim.
func TestStaticPodStable(t *testing.T) {
	for _, v := range []string{ctrtest.V2_4, ctrtest.V1_6} {
		t.Run(v, func(t *testing.T) { testStaticPodStable(t, v) })
	}
}

func testStaticPodStable(t *testing.T, version string) {
	s := kubetest.NewShim(t, string(bundle.SchemeV2))
	k := kubetest.Start(t, version, append(s.Options(version), kubetest.WithImages(images(t)...))...)
	manifests := []string{
		strings.Replace(plainPod, "UIDLINE\n", "", 1),
		strings.Replace(plainPod, "UIDLINE\n", "", 1),
		strings.Replace(plainPod, "UIDLINE", "  uid: 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", 1),
	}
	var pods []*kubetest.Pod
	for _, m := range manifests {
		p := k.RunStaticPod("plain", []byte(m), "app")
		pods = append(pods, p)
		k.RemoveStaticPod("plain")
	}
	got := s.Measurements(t)
	for i, p := range pods {
		t.Logf("start %d: uid %s sandbox %.12s app %.12s: sandbox config %.12s app config %.12s",
			i, p.UID, p.SandboxID, p.Containers["app"], got[p.SandboxID].ConfigSha256, got[p.Containers["app"]].ConfigSha256)
	}
	if pods[0].SandboxID == pods[1].SandboxID || pods[0].UID == pods[2].UID {
		t.Fatalf("test bug: starts not distinct: %+v", pods)
	}
	for i := 1; i < len(pods); i++ {
		for _, which := range []struct{ name, a, b string }{
			{"sandbox", pods[0].SandboxID, pods[i].SandboxID},
			{"app", pods[0].Containers["app"], pods[i].Containers["app"]},
		} {
			ma, okA := got[which.a]
			mb, okB := got[which.b]
			if !okA || !okB {
				t.Fatalf("%s of start %d not measured (%v %v)", which.name, i, okA, okB)
			}
			if ma.Scheme != string(bundle.SchemeV2) {
				t.Errorf("scheme %q", ma.Scheme)
			}
			if ma.TemplateSha256 != mb.TemplateSha256 {
				na, _ := s.NormalizedConfig(which.a)
				nb, _ := s.NormalizedConfig(which.b)
				t.Errorf("%s: start 0 and %d measure differently (config %.12s vs %.12s):\n%s", which.name, i,
					ma.ConfigSha256, mb.ConfigSha256, cmp.Diff(string(na), string(nb)))
			}
		}
	}
}
