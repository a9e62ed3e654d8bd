package shim

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// FastEnv is the environment variable the shim mode sets for the runc
// shim: a token that lets the C front (package shim/front) pass a runc
// call through before the Go runtime starts. It says which configuration
// file the shim mode read and in which state, and the runc it names; the
// front takes the fast path only while the file is unchanged. Both the
// front and the Go wrapper remove it from runc's environment.
const FastEnv = "REFVAL_SHIM_FAST"

// fastTokenVersion is the token format front.c checks.
const fastTokenVersion = "1"

// fastSettle is how long ago the configuration file must have changed
// last for a token: file times come from a clock that advances in ticks,
// so a file written again within the same tick could keep its times; one
// older than a tick cannot change without new ones.
const fastSettle = 100 * time.Millisecond

// configFingerprint is the state of the configuration file at path the
// token records (front.c config_fingerprint writes the same): "-" when it
// does not exist, else device, inode, size, modification and change time.
func configFingerprint(path string) (string, time.Time, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return "-", time.Time{}, nil
		}
		return "", time.Time{}, err
	}
	return fmt.Sprintf("%d.%d.%d.%d.%d.%d.%d", st.Dev, st.Ino, st.Size,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec), time.Unix(st.Ctim.Sec, st.Ctim.Nsec), nil
}

// FastToken returns the FastEnv value for a configuration cfg read from
// path (explicit: named by ConfigEnv) without error, whose fingerprint
// was before and after the read; "" when the fast path must stay off:
// the file changed during the read or too recently, the log level is
// debug (the Go wrapper logs every pass-through then), or runc is
// configured as a relative path.
func FastToken(cfg *Config, path string, explicit bool, before, after string, changed, now time.Time) string {
	if before == "" || before != after || (before == "-" && explicit) {
		return ""
	}
	if before != "-" && now.Sub(changed) < fastSettle {
		return ""
	}
	if level, err := parseLevel(cfg.LogLevel); err != nil || (level <= slog.LevelDebug && cfg.LogFile != "") {
		return ""
	}
	if cfg.Runc != "" && !filepath.IsAbs(cfg.Runc) {
		return ""
	}
	mode := "d"
	if explicit {
		mode = "e"
	}
	return fastTokenVersion + ":" + before + ":" + mode + ":" + hex.EncodeToString([]byte(path)) + ":" + hex.EncodeToString([]byte(cfg.Runc))
}

// withoutEnv returns env without any key= entry.
func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && k == key {
			continue
		}
		out = append(out, kv)
	}
	return out
}
