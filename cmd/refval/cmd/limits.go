package cmd

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/refval/refval/bundle"
)

// limitFlags are the work bounds of measure and unpack (bundle.Limits;
// docs/images.md, "Limits"). Unset flags keep the library's defaults.
type limitFlags struct{ l bundle.Limits }

// sizeFlag is a byte count that takes units ("64GiB"; bundle.ParseSize).
type sizeFlag struct{ v *int64 }

func (s sizeFlag) String() string {
	if s.v == nil {
		return ""
	}
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if *s.v > 0 && *s.v%u.mult == 0 {
			return strconv.FormatInt(*s.v/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(*s.v, 10)
}

func (s sizeFlag) Set(v string) error {
	n, err := bundle.ParseSize(v)
	if err == nil && n == 0 {
		err = fmt.Errorf("size %q: 0 allows nothing; -1 is no limit", v)
	}
	*s.v = n
	return err
}

func (sizeFlag) Type() string { return "size" }

func registerLimitFlags(fs *pflag.FlagSet) *limitFlags {
	f := &limitFlags{l: bundle.DefaultLimits()}
	fs.Var(sizeFlag{&f.l.LayerBytes}, "max-layer-size", "refuse a layer that expands to more (sparse files at their full size); -1 for no limit")
	fs.Var(sizeFlag{&f.l.ImageBytes}, "max-image-size", "refuse an image whose layers expand to more in all; -1 for no limit")
	fs.Int64Var(&f.l.Expansion, "max-expansion", f.l.Expansion, "refuse a layer that expands beyond --expansion-floor by more than this ratio (decompression bombs, sparse files); -1 for no limit")
	fs.Var(sizeFlag{&f.l.ExpansionFloor}, "expansion-floor", "what any layer may expand to whatever its ratio")
	f.registerTree(fs, "refuse an image with more entries in all its layers; -1 for no limit")
	fs.IntVar(&f.l.NameBytes, "max-name-length", f.l.NameBytes, "refuse a file name longer than this many bytes (Linux's NAME_MAX is 255)")
	fs.IntVar(&f.l.PathBytes, "max-path-length", f.l.PathBytes, "refuse a path inside the image longer than this many bytes (PATH_MAX 4096 less room for the bundle directory)")
	return f
}

// registerDiskLimitFlags registers the limits of an on-disk walk
// (measure-bundle): the entry count and the depth only. Sizes are not
// bounded there (the files exist, and are read once each); names and
// paths on disk have already passed the kernel (NAME_MAX), and a path
// longer than PATH_MAX can exist on disk and is measured, bounded by the
// depth (bundle.Limits; docs/images.md, "Limits").
func registerDiskLimitFlags(fs *pflag.FlagSet) *limitFlags {
	f := &limitFlags{l: bundle.DefaultLimits()}
	f.registerTree(fs, "refuse a rootfs with more entries (files, directories, links, ...); -1 for no limit")
	return f
}

// registerTree registers the limits on the shape of a tree, which apply
// to layers and on disk alike.
func (f *limitFlags) registerTree(fs *pflag.FlagSet, entriesUsage string) {
	fs.Int64Var(&f.l.Entries, "max-entries", f.l.Entries, entriesUsage)
	fs.IntVar(&f.l.Depth, "max-depth", f.l.Depth, "refuse a path with more components; -1 for no limit")
}

// limits returns the limits the flags set.
func (f *limitFlags) limits() bundle.Limits { return f.l }
