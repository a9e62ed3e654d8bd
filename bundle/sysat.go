package bundle

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// openatZ is openat(2) for a name that already ends in a NUL byte (as
// getdents returns it), so that the walk's hottest call allocates no C
// string. It retries on EINTR.
func openatZ(dirFD int, name []byte, flags int) (int, error) {
	for {
		fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirFD), uintptr(unsafe.Pointer(&name[0])), uintptr(flags), 0, 0, 0)
		switch e {
		case 0:
			return int(fd), nil
		case unix.EINTR:
			continue
		}
		return -1, e
	}
}

var dotdotZ = []byte("..\x00")
