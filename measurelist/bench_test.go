package measurelist

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refval/refval/internal/atomicfile"
)

// criEntry is entry i with a spec of about 3.5 KB, the size of a
// normalised CRI container config.
func criEntry(i int) Entry {
	e := entry09(i)
	e.Spec = []byte(fmt.Sprintf(`{"ociVersion":"1.2.0","process":{"user":{"uid":0,"gid":0},"args":["/pause"],"env":[%s],"cwd":"/","capabilities":{"bounding":[%[2]s],"effective":[%[2]s],"permitted":[%[2]s]},"noNewPrivileges":true,"oomScoreAdj":-998},"root":{"path":"rootfs","readonly":true},"hostname":"pod-%[3]d","mounts":[%[4]s],"annotations":{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-name":"pod-%[3]d","io.kubernetes.cri.sandbox-namespace":"default"},"linux":{"resources":{"cpu":{"shares":2}},"cgroupsPath":"kubepods-besteffort-pod%[3]d.slice:cri-containerd:x","namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"network"}],"maskedPaths":["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],"readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}`,
		strings.Repeat(`"KUBERNETES_SERVICE_PORT_HTTPS=443",`, 20)+`"PATH=/usr/bin"`,
		`"CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"`,
		i,
		strings.Repeat(`{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]},`, 6)+`{"destination":"/proc","type":"proc","source":"proc"}`))
	return e
}

// BenchmarkAppend times one append of a new entry to a list of 0, 100 and
// 400 entries, with the index (splice) and without (the full
// decode/encode path, as before the index), interleaved; it reports both
// and the ratio full/indexed. The list is restored before every append.
func BenchmarkAppend(b *testing.B) {
	dir := b.TempDir()
	if d := "/dev/shm"; os.Getenv("REFVAL_BENCH_DISK") == "" {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dir, _ = os.MkdirTemp(d, "measurelist-bench-")
			b.Cleanup(func() { os.RemoveAll(dir) })
		}
	}
	for _, c := range []Codec{Artifact{Format: JSON, Index: 10}, Artifact{Format: CBOR, Index: 10}, JSON} {
		for _, n := range []int{0, 100, 400} {
			b.Run(fmt.Sprintf("%s/%d", codecName(c), n), func(b *testing.B) {
				l := make([]Entry, n+1)
				for i := range l {
					l[i] = criEntry(i)
				}
				path := filepath.Join(dir, "list")
				base, err := c.Encode(l[:n])
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					base = nil
				}
				idx := newIndex(codecName(c), base, l[:n]).marshal()
				restore := func() {
					if n == 0 {
						os.Remove(path)
						os.Remove(indexPath(path))
						return
					}
					if err := atomicfile.WriteFile(path, base, 0o644); err != nil {
						b.Fatal(err)
					}
					if err := atomicfile.WriteFile(indexPath(path), idx, 0o644); err != nil {
						b.Fatal(err)
					}
				}
				var spent [2]time.Duration // indexed, full
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for k := range 2 {
						which := (i + k) % 2 // alternate which goes first
						b.StopTimer()
						restore()
						b.StartTimer()
						t0 := time.Now()
						if added, err := appendCodec(path, c, l[n], nil, which == 0); err != nil || !added {
							b.Fatalf("added %v, %v", added, err)
						}
						spent[which] += time.Since(t0)
					}
				}
				b.ReportMetric(float64(spent[0].Microseconds())/1e3/float64(b.N), "indexed-ms/op")
				b.ReportMetric(float64(spent[1].Microseconds())/1e3/float64(b.N), "full-ms/op")
				if spent[0] > 0 {
					b.ReportMetric(float64(spent[1])/float64(spent[0]), "full/indexed")
				}
			})
		}
	}
}
