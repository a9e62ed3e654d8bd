package boundedfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Sentinels of Error.Err.
var (
	// ErrSymlink: the file is a symbolic link and RefuseLinks was given.
	ErrSymlink = errors.New("is a symbolic link")
	// ErrNotRegular: the file is a directory, FIFO, device or socket.
	ErrNotRegular = errors.New("is not a regular file")
	// ErrTooLarge: the file is larger than the limit of Read.
	ErrTooLarge = errors.New("is too large")
)

// Links says what Open does when the file itself is a symbolic link.
type Links bool

const (
	// FollowLinks opens the file a symbolic link names, as open(2) does
	// (runc, for instance, follows a config.json that is a link).
	FollowLinks Links = false
	// RefuseLinks refuses a symbolic link with ErrSymlink (O_NOFOLLOW):
	// for files whose link would let whoever placed it redirect the
	// caller elsewhere.
	RefuseLinks Links = true
)

// Error is an error about the file Path itself.
type Error struct {
	Path string
	// Err is ErrSymlink, ErrNotRegular or ErrTooLarge.
	Err error
	// Mode is the file's type (ErrNotRegular).
	Mode fs.FileMode
	// Size is the size fstat reported, or -1 when the file grew past Limit
	// while it was read (ErrTooLarge).
	Size int64
	// Limit is Read's limit in bytes (ErrTooLarge).
	Limit int64
}

func (e *Error) Error() string {
	switch {
	case e.Err == ErrNotRegular:
		return fmt.Sprintf("%s is a %s, not a regular file", e.Path, Kind(e.Mode))
	case e.Err == ErrTooLarge && e.Size < 0:
		return fmt.Sprintf("%s grew past the limit of %d bytes while read", e.Path, e.Limit)
	case e.Err == ErrTooLarge:
		return fmt.Sprintf("%s is %d bytes, larger than the limit of %d bytes", e.Path, e.Size, e.Limit)
	}
	return e.Path + " " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// NotRegular returns the error for path, of type m, that must be a
// regular file (for callers that check a file by stat, not by Open).
func NotRegular(path string, m fs.FileMode) *Error {
	return &Error{Path: path, Err: ErrNotRegular, Mode: m}
}

// Kind names the type of a non-regular file mode in errors.
func Kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "directory"
	}
	return "non-regular file"
}

// Open opens path for reading without blocking and returns it only when it
// is a regular file. links says whether path may be a symbolic link.
func Open(path string, links Links) (*os.File, error) {
	f, _, err := open(path, links)
	return f, err
}

// open is Open, returning the file's fstat too.
func open(path string, links Links) (*os.File, fs.FileInfo, error) {
	flags := os.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY
	if links == RefuseLinks {
		flags |= unix.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		if links == RefuseLinks && errors.Is(err, unix.ELOOP) {
			return nil, nil, &Error{Path: path, Err: ErrSymlink}
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, NotRegular(path, fi.Mode())
	}
	return f, fi, nil
}

// Read reads the regular file path (see Open), at most limit bytes: a
// file that fstat says is larger is refused without being read, one that
// grows past limit while read is refused after limit+1 bytes.
func Read(path string, limit int64, links Links) ([]byte, error) {
	b, _, err := ReadInfo(path, limit, links)
	return b, err
}

// ReadInfo is Read, also returning the fstat of the file it read (its
// owner and mode, for callers that trust a file only by those).
func ReadInfo(path string, limit int64, links Links) ([]byte, fs.FileInfo, error) {
	f, fi, err := open(path, links)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, nil, &Error{Path: path, Err: ErrTooLarge, Size: fi.Size(), Limit: limit}
	}
	b, err := readAll(io.LimitReader(f, limit+1), fi.Size())
	if err != nil {
		return nil, nil, err
	}
	if int64(len(b)) > limit {
		return nil, nil, &Error{Path: path, Err: ErrTooLarge, Size: -1, Limit: limit}
	}
	return b, fi, nil
}

// readAll is io.ReadAll with a first buffer of size+1 bytes (the size
// the file had when opened), as os.ReadFile: a large file is read
// without growing the buffer step by step.
func readAll(r io.Reader, size int64) ([]byte, error) {
	b := make([]byte, 0, size+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
