package shim

import "os"

// The package's unit tests run runcMain and shimMain in process: their
// caches go to a directory of their own, not to RunLinkRoot.
func init() {
	if d, err := os.MkdirTemp("", "shim-fastcache-"); err == nil {
		fastCacheRoot = d
	}
}

// RemoveTestFastCacheRoot removes that directory (TestMain, at the end).
func RemoveTestFastCacheRoot() {
	if fastCacheRoot != RunLinkRoot {
		os.RemoveAll(fastCacheRoot)
	}
}
