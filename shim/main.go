package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/refval/refval/measurelist"
)

// execve replaces the process; a variable so tests can observe the call.
var execve = syscall.Exec

// Main runs the binary as its argv asks and returns the exit code when it
// does not exec another program.
func Main(argv []string) int {
	if len(argv) == 0 {
		argv = []string{ShimName}
	}
	env := os.Environ()
	if filepath.Base(argv[0]) == RuncName || LooksLikeRunc(argv[1:]) {
		return runcMain(argv, env, os.Stderr)
	}
	return shimMain(argv, env, os.Stderr)
}

// loadConfig reads the configuration; on error it returns the
// configuration as far as it could be read (the defaults if it could not
// be parsed) together with the error, so pass-through paths keep working
// and the error is logged where the file asked. checkFiles asks for the
// on-disk checks of a call that records (CheckFiles); a pass-through call
// only needs the file parsed.
func loadConfig(checkFiles bool) (*Config, error) {
	path, explicit := ConfigPath()
	c, err := loadConfigFile(path, explicit, checkFiles)
	if c == nil {
		c = DefaultConfig()
	}
	return c, err
}

// openLog returns a JSON slog logger appending to c.LogFile. Each record
// is one write(2) to an O_APPEND file, so concurrent shims interleave
// whole lines. The file is opened at the first record the level lets
// through, so a pass-through call that logs nothing touches no file. If
// it cannot be opened the log is dropped: the wrapper must never write to
// runc's stderr when nothing failed.
func openLog(c *Config) (*slog.Logger, func()) {
	level, _ := parseLevel(c.LogLevel)
	if c.LogFile == "" {
		return slog.New(slog.DiscardHandler), func() {}
	}
	f := &lazyFile{path: c.LogFile}
	h := &lazyHandler{file: f, level: level}
	return slog.New(h).With("pid", os.Getpid()), f.close
}

// lazyFile is the log file, opened on first use.
type lazyFile struct {
	path string
	once sync.Once
	f    *os.File
	h    slog.Handler
}

func (l *lazyFile) handler(level slog.Level) slog.Handler {
	l.once.Do(func() {
		os.MkdirAll(filepath.Dir(l.path), 0o755)
		// O_NONBLOCK: a FIFO without a reader fails at once instead of
		// hanging every runc call.
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o644)
		if err != nil {
			return
		}
		l.f, l.h = f, slog.NewJSONHandler(f, &slog.HandlerOptions{Level: level})
	})
	return l.h
}

func (l *lazyFile) close() {
	if l.f != nil {
		l.f.Close()
	}
}

// lazyHandler is a slog.Handler that opens its file at the first record
// it handles; attributes added before are applied then.
type lazyHandler struct {
	file  *lazyFile
	level slog.Level
	attrs []slog.Attr
}

func (h *lazyHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	inner := h.file.handler(h.level)
	if inner == nil {
		return nil
	}
	return inner.WithAttrs(h.attrs).Handle(ctx, r)
}

func (h *lazyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &lazyHandler{file: h.file, level: h.level, attrs: append(slices.Clip(h.attrs), as...)}
}

// WithGroup is not used by the shim; groups are flattened into attrs.
func (h *lazyHandler) WithGroup(string) slog.Handler { return h }

// runcMain is the runc wrapper.
//
// The argv check comes first: a pass-through call (every subcommand but
// create, run and restore) parses the configuration only for runc and
// the log level, runs no file checks, opens no file unless it logs, and
// builds runc's environment once.
func runcMain(argv, env []string, stderr io.Writer) int {
	call, parseErr := ParseRuncArgs(argv[1:])
	measured := measuredCommands[call.Command]
	path, explicit := ConfigPath()
	before, changed, beforeErr := configFingerprint(path)
	cfg, cfgErr := loadConfig(measured)
	after, _, afterErr := configFingerprint(path)
	log, closeLog := openLog(cfg)
	defer closeLog()
	if cfgErr != nil && measured {
		log.Error("configuration: container starts are refused", "err", cfgErr)
	}
	me, err := findSelf()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", ShimName, err)
		return 1
	}
	if cfgErr == nil && beforeErr == nil && afterErr == nil {
		// The later pass-through calls without a token take the C front.
		if err := me.writeRuncCache(path, explicit, FastToken(cfg, path, explicit, before, after, changed, time.Now())); err != nil {
			log.Debug("fast path cache", "err", err)
		}
	}
	runcEnv := withoutEnv(me.withoutSelf(env), FastEnv)
	real, err := me.resolve(cfg.Runc, RuncName, runcEnv)
	if err != nil {
		log.Error("find runc", "err", err)
		fmt.Fprintf(stderr, "%s: find the real runc: %v\n", ShimName, err)
		return 1
	}
	if measured {
		if err := measureCall(cfg, cfgErr, parseErr, call, log); err != nil {
			log.Error("refusing container start", "id", call.ID, "err", err)
			refuse(call, err, stderr)
			return 1
		}
	} else {
		log.Debug("pass through", "command", call.Command, "args", argv[1:])
	}
	args := append([]string{real}, argv[1:]...)
	err = execve(real, args, runcEnv)
	log.Error("exec runc", "path", real, "err", err)
	fmt.Fprintf(stderr, "%s: exec %s: %v\n", ShimName, real, err)
	return 1
}

// measureCall measures a create, run or restore call. It returns an error only
// when the start must be refused: always for a broken configuration
// (it may be the file that set enforce), otherwise only with enforce.
// A container that starts unmeasured gets the FailureMarker in the list.
func measureCall(cfg *Config, cfgErr, parseErr error, call RuncCall, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfgErr != nil {
		return fmt.Errorf("configuration: %w", cfgErr)
	}
	rec, err := NewRecorder(cfg, log)
	if err != nil {
		return err // unreachable: the configuration was validated
	}
	ctx := context.Background()
	err = parseErr
	if err == nil {
		dir := call.Bundle
		if dir == "" {
			dir = "." // runc's default: the working directory
		}
		if dir, err = filepath.Abs(dir); err == nil {
			_, err = rec.Measure(ctx, dir, call.ID)
		}
	}
	if err == nil {
		return nil
	}
	if cfg.Enforce {
		return err
	}
	log.Warn("measurement failed, starting the container anyway (fail-open)", "id", call.ID, "err", err)
	recorded := false
	if !errors.Is(err, ErrRecord) {
		// Measuring failed but recording may work: make the unmeasured
		// start visible to a verifier.
		added, merr := rec.RecordFailure(ctx, call.ID)
		log.Warn("recorded the failure marker", "id", call.ID, "new", added, "err", merr)
		recorded = merr == nil
	}
	if !recorded && cfg.Driver.ExtendsPCR() {
		// Not even the marker reached the list: extend the PCR with the
		// marker directly, so the quote matches no reference value.
		merr := rec.Driver.Record(ctx, measurelist.FailureMarker(call.ID, rec.pcr()))
		log.Warn("recording failed; extended the failure marker without a list entry",
			"id", call.ID, "driver", string(cfg.Driver), "templateSha256", measurelist.FailureTemplate.String(), "err", merr)
	}
	return nil
}

// refuse reports a refused start the way runc reports its own errors: on
// stderr and, because containerd's runc shim reads the last error from
// runc's --log file, as a JSON log line there.
func refuse(call RuncCall, err error, stderr io.Writer) {
	msg := fmt.Sprintf("%s: container %s not started: %v", ShimName, call.ID, err)
	fmt.Fprintln(stderr, msg)
	if call.Log == "" {
		return
	}
	f, ferr := os.OpenFile(call.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o644)
	if ferr != nil {
		return
	}
	defer f.Close()
	if call.LogFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": "error", "msg": msg, "time": time.Now().Format(time.RFC3339Nano)})
		f.Write(append(b, '\n'))
	} else {
		fmt.Fprintf(f, "time=%q level=error msg=%q\n", time.Now().Format(time.RFC3339Nano), msg)
	}
}

// shimMain is the containerd shim: exec the real runc shim with a PATH
// that routes its runc calls through this binary.
func shimMain(argv, env []string, stderr io.Writer) int {
	path, explicit := ConfigPath()
	before, changed, beforeErr := configFingerprint(path)
	cfg, cfgErr := loadConfig(false)
	after, _, afterErr := configFingerprint(path)
	log, closeLog := openLog(cfg)
	defer closeLog()
	if cfgErr != nil {
		// Keep going: the runc wrapper refuses create/run on the same
		// error, while delete and friends must still work.
		log.Error("configuration", "err", cfgErr)
	}
	me, err := findSelf()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", ShimName, err)
		return 1
	}
	real, err := me.resolve(cfg.RuncShim, RuncShimName, env)
	if err != nil {
		log.Error("find runc shim", "err", err)
		fmt.Fprintf(stderr, "%s: %v\n", ShimName, err)
		return 1
	}
	// The runc calls of this shim take the C front's fast path while the
	// configuration stays as read here (package shim/front).
	newEnv := withoutEnv(env, FastEnv)
	dir, err := me.runcLinkDir(cfg.RuncLinkDir)
	switch {
	case err == nil:
		newEnv = prependPATH(newEnv, dir)
		if cfgErr == nil && beforeErr == nil && afterErr == nil {
			if tok := FastToken(cfg, path, explicit, before, after, changed, time.Now()); tok != "" {
				newEnv = setenv(newEnv, FastEnv, tok)
				if err := me.writeFastCache(cfg, path, explicit, tok); err != nil {
					log.Debug("fast path cache", "err", err)
				}
			}
		}
	case cfg.Enforce:
		log.Error("runc link", "err", err)
		fmt.Fprintf(stderr, "%s: containers would not be measured: %v\n", ShimName, err)
		return 1
	default:
		log.Warn("runc link missing, containers of this shim are not measured (fail-open)", "err", err)
	}
	log.Debug("exec runc shim", "path", real, "args", argv[1:], "runcLinkDir", dir)
	err = execve(real, append([]string{real}, argv[1:]...), newEnv)
	log.Error("exec runc shim", "path", real, "err", err)
	fmt.Fprintf(stderr, "%s: exec %s: %v\n", ShimName, real, err)
	return 1
}
