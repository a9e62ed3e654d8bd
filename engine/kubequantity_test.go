package engine

import "testing"

// TestQuantity: values as k8s.io/apimachinery documents them (binary and
// decimal suffixes, milli, exponents; Value and MilliValue round up).
func TestQuantity(t *testing.T) {
	for _, tc := range []struct {
		in          string
		value, mill int64
	}{
		{"1", 1, 1000}, {"100m", 1, 100}, {"0.5", 1, 500}, {"250m", 1, 250}, {"1.5", 2, 1500},
		{"1Ki", 1024, 1024000}, {"64Mi", 64 << 20, 64 << 20 * 1000}, {"1Gi", 1 << 30, 1 << 30 * 1000},
		{"1k", 1000, 1000000}, {"1M", 1000000, 1000000000}, {"1e3", 1000, 1000000}, {"1.5Mi", 1572864, 1572864000},
		{"1n", 1, 1}, {"0", 0, 0},
	} {
		v, err := quantityValue(tc.in)
		m, err2 := quantityMilli(tc.in)
		if err != nil || err2 != nil || v != tc.value || m != tc.mill {
			t.Errorf("%s: value %d milli %d (%v %v); want %d %d", tc.in, v, m, err, err2, tc.value, tc.mill)
		}
	}
	for _, bad := range []string{"", "Mi", "1 Mi", "-1", "1e3Mi", "abc", "1.2.3", "0x10", "1Gb"} {
		if _, err := quantityValue(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseKubeObject: never panics on any file; what it accepts has a
// named pod with containers.
func FuzzParseKubeObject(f *testing.F) {
	f.Add([]byte("kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i, resources: {limits: {cpu: 1}}}]}\n"))
	f.Add([]byte("kind: CronJob\nmetadata: {name: a}\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: c}]}}}}}\n"))
	f.Add([]byte("{\"kind\":\"Deployment\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseKubeObject("f", b)
		if err == nil && (len(p.Spec.Containers) == 0 || p.Namespace == "") {
			t.Fatalf("accepted %q as %+v", b, p)
		}
	})
}
