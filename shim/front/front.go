//go:build cgo

package front

/*
#include <stdlib.h>
#include "front.h"
*/
import "C"

import "unsafe"

// Enabled reports whether the C front is linked in (built with cgo).
const Enabled = true

// cArgv returns args as a C array; free releases it.
func cArgv(args []string) (argv **C.char, free func()) {
	p := C.malloc(C.size_t(len(args)+1) * C.size_t(unsafe.Sizeof(uintptr(0))))
	a := unsafe.Slice((**C.char)(p), len(args)+1)
	for i, s := range args {
		a[i] = C.CString(s)
	}
	a[len(args)] = nil
	return (**C.char)(p), func() {
		for _, s := range a[:len(args)] {
			C.free(unsafe.Pointer(s))
		}
		C.free(p)
	}
}

// Classify runs the C classifier on argv (argv[0] included): the index of
// the subcommand when the call is certainly a pass-through, else -1.
func Classify(argv []string) int {
	a, free := cArgv(argv)
	defer free()
	return int(C.refval_front_classify(C.int(len(argv)), a))
}

// Prepare runs the C front's decision on argv and env, without exec:
// the runc it would exec and the environment it would give it, ok false
// when it would leave the call to Go. It reads /proc/self/exe: this
// binary must be the one the PATH links point to for a fast path.
func Prepare(argv, env []string) (path string, runcEnv []string, ok bool) {
	a, freeA := cArgv(argv)
	defer freeA()
	e, freeE := cArgv(env)
	defer freeE()
	buf := (*C.char)(C.malloc(4096))
	defer C.free(unsafe.Pointer(buf))
	var out **C.char
	if C.refval_front_prepare(C.int(len(argv)), a, e, buf, 4096, &out) != 0 {
		return "", nil, false
	}
	defer C.free(unsafe.Pointer(out))
	for p := out; *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(uintptr(0)))) {
		runcEnv = append(runcEnv, C.GoString(*p))
	}
	return C.GoString(buf), runcEnv, true
}

// ShimClassify runs the C front's shim-mode check on argv (argv[0]
// included): true when the Go Main would certainly take it as a shim call.
func ShimClassify(argv []string) bool {
	a, free := cArgv(argv)
	defer free()
	return C.refval_front_shim_classify(C.int(len(argv)), a) != 0
}
