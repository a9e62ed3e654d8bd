//go:build !cgo

package front

// Enabled reports whether the C front is linked in (built with cgo).
const Enabled = false

// Classify is -1 without the C front: every call goes to Go.
func Classify([]string) int { return -1 }

// Prepare is never ok without the C front.
func Prepare(_, _ []string) (string, []string, bool) { return "", nil, false }

// ShimClassify is false without the C front.
func ShimClassify([]string) bool { return false }
