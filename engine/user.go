package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// This file reproduces how containerd resolves the image's USER (and ctr
// run --user) against the image's own /etc/passwd and /etc/group:
// WithUser, WithUserID, WithUsername and WithAdditionalGIDs of pkg/oci.
// The files are parsed with github.com/moby/sys/user, the parser
// containerd 2.x uses (1.x uses its predecessor in runc, same grammar).

// ensureAdditionalGids puts the primary GID first in additionalGids
// unless it is already listed: every containerd user option ends with it,
// so even root gets "additionalGids": [0].
func ensureAdditionalGids(s *specs.Spec) {
	setProcess(s)
	if slices.Contains(s.Process.User.AdditionalGids, s.Process.User.GID) {
		return
	}
	s.Process.User.AdditionalGids = append([]uint32{s.Process.User.GID}, s.Process.User.AdditionalGids...)
}

// WithUser sets process.user from a USER string of the image spec:
// "user", "uid", "user:group", "uid:gid", "uid:group" or "user:gid". A
// name is looked up in the image; a lone uid that has no passwd entry
// gets gid 0; "uid:gid" is taken as is without any lookup.
func WithUser(userstr string) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		defer ensureAdditionalGids(s)
		setProcess(s)
		s.Process.User.AdditionalGids = nil
		parts := strings.Split(userstr, ":")
		switch len(parts) {
		case 1:
			v, err := c.atoiID(userstr, parts[0], "uid")
			if err != nil {
				return err
			}
			if v == nil {
				return WithUsername(userstr)(c, s)
			}
			return WithUserID(*v)(c, s)
		case 2:
			var username, groupname string
			var uid, gid uint32
			v, err := c.atoiID(userstr, parts[0], "uid")
			if err != nil {
				return err
			}
			if v == nil {
				username = parts[0]
			} else {
				uid = *v
			}
			if v, err = c.atoiID(userstr, parts[1], "gid"); err != nil {
				return err
			}
			if v == nil {
				groupname = parts[1]
			} else {
				gid = *v
			}
			if username != "" {
				u, err := c.lookupUser(func(u user.User) bool { return u.Name == username })
				if err != nil {
					return fmt.Errorf("user %q: %w", username, err)
				}
				uid = uint32(u.Uid)
			}
			if groupname != "" {
				g, err := c.lookupGroups(func(g user.Group) bool { return g.Name == groupname })
				if err == nil && len(g) == 0 {
					err = ErrUserNotFound
				}
				if err != nil {
					return fmt.Errorf("group %q: %w", groupname, err)
				}
				gid = uint32(g[0].Gid)
			}
			s.Process.User.UID, s.Process.User.GID = uid, gid
			return nil
		default:
			return fmt.Errorf("%w: invalid USER value %q", ErrInvalidOption, userstr)
		}
	}
}

// atoiID parses a numeric uid or gid the way containerd does (strconv.Atoi,
// so "+5" and "-1" are numbers). It returns nil for a name. From 1.7 on,
// values outside 0..MaxInt32 are refused; 1.6 wraps them into uint32.
func (c *Container) atoiID(userstr, s, what string) (*uint32, error) {
	v, err := strconv.Atoi(s)
	if err != nil {
		if c.rules.idRangeCheck && errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%w: invalid USER value %q: %s out of range", ErrInvalidOption, userstr, what)
		}
		return nil, nil
	}
	if c.rules.idRangeCheck && (v < 0 || v > math.MaxInt32) {
		return nil, fmt.Errorf("%w: invalid USER value %q: %s out of range", ErrInvalidOption, userstr, what)
	}
	u := uint32(v)
	return &u, nil
}

// WithUserID sets uid and the primary gid of the passwd entry with that
// uid; without /etc/passwd or such an entry, the gid is 0.
func WithUserID(uid uint32) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		defer ensureAdditionalGids(s)
		setProcess(s)
		s.Process.User.AdditionalGids = nil
		u, err := c.lookupUser(func(u user.User) bool { return u.Uid == int(uid) })
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrUserNotFound) {
			s.Process.User.UID, s.Process.User.GID = uid, 0
			return nil
		}
		if err != nil {
			return fmt.Errorf("uid %d: %w", uid, err)
		}
		s.Process.User.UID, s.Process.User.GID = uint32(u.Uid), uint32(u.Gid)
		return nil
	}
}

// WithUsername sets uid and gid from the passwd entry of that name; it is
// an error when the image has no such user (containerd refuses to create
// the container).
func WithUsername(name string) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		defer ensureAdditionalGids(s)
		setProcess(s)
		s.Process.User.AdditionalGids = nil
		u, err := c.lookupUser(func(u user.User) bool { return u.Name == name })
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		s.Process.User.UID, s.Process.User.GID = uint32(u.Uid), uint32(u.Gid)
		return nil
	}
}

// WithAdditionalGIDs sets additionalGids to the gids of the groups in
// /etc/group that list the user as a member (a uid is first turned into
// its name through /etc/passwd), the user's own same-named group excepted,
// in file order, with the primary gid put first. Missing files are not an
// error: the list is then just the primary gid.
func WithAdditionalGIDs(userstr string) SpecOpts {
	return func(c *Container, s *specs.Spec) error {
		setProcess(s)
		s.Process.User.AdditionalGids = nil
		defer ensureAdditionalGids(s)
		username := userstr
		if uid, err := strconv.Atoi(userstr); err == nil {
			u, err := c.lookupUser(func(u user.User) bool { return u.Uid == uid })
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrUserNotFound) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("uid %d: %w", uid, err)
			}
			username = u.Name
		}
		groups, err := c.lookupGroups(func(g user.Group) bool {
			return g.Name != username && slices.Contains(g.List, username)
		})
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("groups of %q: %w", username, err)
		}
		gids := make([]uint32, len(groups))
		for i, g := range groups {
			gids[i] = uint32(g.Gid)
		}
		s.Process.User.AdditionalGids = gids
		return nil
	}
}

// lookupUser returns the first passwd entry matching filter,
// ErrUserNotFound when none does, or an error wrapping fs.ErrNotExist when
// the image has no /etc/passwd.
func (c *Container) lookupUser(filter func(user.User) bool) (user.User, error) {
	r, err := c.openUserFile("etc/passwd")
	if err != nil {
		return user.User{}, err
	}
	users, err := user.ParsePasswdFilter(r, filter)
	if err != nil {
		return user.User{}, fmt.Errorf("/etc/passwd: %w", err)
	}
	if len(users) == 0 {
		return user.User{}, ErrUserNotFound
	}
	return users[0], nil
}

// lookupGroups returns the group entries matching filter in file order.
func (c *Container) lookupGroups(filter func(user.Group) bool) ([]user.Group, error) {
	r, err := c.openUserFile("etc/group")
	if err != nil {
		return nil, err
	}
	groups, err := user.ParseGroupFilter(r, filter)
	if err != nil {
		return nil, fmt.Errorf("/etc/group: %w", err)
	}
	return groups, nil
}

// maxUserFileBytes is containerd 2.4's cap on /etc/passwd and /etc/group.
const maxUserFileBytes = 10 << 20

// openUserFile reads name from the image's rootfs with symlinks resolved
// inside the rootfs, as containerd does (the rootfs is its own "/").
func (c *Container) openUserFile(name string) (io.Reader, error) {
	if c.Rootfs == nil {
		return nil, &fs.PathError{Op: "open", Path: "/" + name, Err: fs.ErrNotExist}
	}
	resolved, info, err := statInRoot(c.Rootfs, name)
	if err != nil {
		return nil, err
	}
	// Whatever the version, a fifo, socket or device is not opened: the
	// open of a fifo would block (containerd would hang as well).
	if !info.Mode().IsRegular() && (c.rules.boundedUserFiles || !info.IsDir()) {
		return nil, fmt.Errorf("/%s is not a regular file", name)
	}
	f, err := c.Rootfs.Open(resolved)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// 1.x reads any size; refusing more is safer than a silent mismatch.
	b, err := readUserFile(f, name)
	if err != nil {
		return nil, err
	}
	return strings.NewReader(string(b)), nil
}

// errUserFileSize: a user file holds more than maxUserFileBytes.
var errUserFileSize = fmt.Errorf("exceeds %d bytes", maxUserFileBytes)

// readUserFile reads the open user file name, at most maxUserFileBytes
// (errUserFileSize when it holds more).
func readUserFile(f fs.File, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, maxUserFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read /%s: %w", name, err)
	}
	if len(b) > maxUserFileBytes {
		return nil, fmt.Errorf("/%s %w", name, errUserFileSize)
	}
	return b, nil
}

// statInRoot resolves name inside rootfs as ResolveInRoot does when
// rootfs can read links (fs.ReadLinkFS, as os.DirFS, os.Root.FS and the
// layer tree's view can), and describes what it resolves to without
// opening it. A file system that cannot read links resolves them itself
// (fs.Stat follows them).
func statInRoot(rootfs fs.FS, name string) (string, fs.FileInfo, error) {
	rl, ok := rootfs.(fs.ReadLinkFS)
	if !ok {
		info, err := fs.Stat(rootfs, name)
		return name, info, err
	}
	resolved, err := ResolveInRoot(rl, name)
	if err != nil {
		return "", nil, err
	}
	info, err := rl.Lstat(resolved)
	if err != nil {
		return "", nil, err
	}
	return resolved, info, nil
}

// OpenUserFile opens the user database file name ("etc/passwd") of an
// image's root filesystem the way umoci reads it for its user lookup:
// symlinks resolved inside rootfs (statInRoot), and nil (no file, no
// error) when name does not resolve to a regular file, as umoci ignores a
// user file it cannot open. Neither fifos nor devices are ever opened.
func OpenUserFile(rootfs fs.FS, name string) (fs.File, error) {
	if rootfs == nil {
		return nil, nil
	}
	resolved, info, err := statInRoot(rootfs, name)
	if err != nil || !info.Mode().IsRegular() {
		return nil, nil
	}
	f, err := rootfs.Open(resolved)
	if err != nil {
		return nil, nil
	}
	return f, nil
}

// ResolveInRoot resolves name (slash-separated, relative to the root of
// fsys) following symlinks as if fsys were "/": absolute targets restart
// at the root and ".." never climbs above it. It allows at most 40
// symlinks (Linux's limit) and returns the resolved path for fsys.Open.
func ResolveInRoot(fsys fs.ReadLinkFS, name string) (string, error) {
	const maxLinks = 40
	var done []string
	pending := splitPath(name)
	links := 0
	for len(pending) > 0 {
		part := pending[0]
		pending = pending[1:]
		switch part {
		case ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		done = append(done, part)
		cur := path.Join(done...)
		info, err := fsys.Lstat(cur)
		if err != nil {
			return "", err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			if links++; links > maxLinks {
				return "", &fs.PathError{Op: "resolve", Path: "/" + cur, Err: syscall.ELOOP}
			}
			target, err := fsys.ReadLink(cur)
			if err != nil {
				return "", err
			}
			if len(target) > 4096 {
				return "", &fs.PathError{Op: "resolve", Path: "/" + cur, Err: syscall.ENAMETOOLONG}
			}
			if strings.HasPrefix(target, "/") {
				done = done[:0]
			} else {
				done = done[:len(done)-1]
			}
			pending = append(splitPath(target), pending...)
			continue
		}
		if !info.IsDir() && len(pending) > 0 {
			return "", &fs.PathError{Op: "resolve", Path: "/" + cur, Err: syscall.ENOTDIR}
		}
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
