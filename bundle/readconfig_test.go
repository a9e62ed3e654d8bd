package bundle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestConfigNotRegular: a config.json that is a fifo (or a directory or a
// device) is refused at once, naming the file, instead of hanging the
// measurement on the open or the read (issue 10, item 5).
func TestConfigNotRegular(t *testing.T) {
	cases := map[string]func(p string) error{
		"fifo":      func(p string) error { return unix.Mkfifo(p, 0o644) },
		"directory": func(p string) error { return os.Mkdir(p, 0o755) },
		"device":    func(p string) error { return os.Symlink("/dev/zero", p) },
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "config.json")
			if err := mk(cfg); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := Measure(context.Background(), dir)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				// Unblock the open so that the goroutine ends.
				if f, oerr := os.OpenFile(cfg, os.O_WRONLY|unix.O_NONBLOCK, 0); oerr == nil {
					f.Close()
				}
				t.Fatal("Measure hangs on a config.json that is a " + name)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("err = %v, want ErrInvalidConfig", err)
			}
			if err == nil || !strings.Contains(err.Error(), cfg) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("err = %v, want it to name %s as not a regular file", err, cfg)
			}
		})
	}
	// WithConfigPath takes the same path through readConfig.
	dir := t.TempDir()
	fifo := filepath.Join(dir, "cfg")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Measure(context.Background(), "", WithConfigPath(fifo), WithRootfsPath(dir)); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("--config fifo: %v, want ErrInvalidConfig", err)
	}
}
