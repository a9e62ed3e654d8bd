// The C front of containerd-shim-cmc-v1 (see doc.go): a constructor that
// runs before the Go runtime and execve's the real runc at once for a
// call that is certainly a pass-through, exactly as the Go wrapper would
// (shim/main.go runcMain); anything it is not sure of falls through to Go.

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "front.h"

#define FAST_ENV "REFVAL_SHIM_FAST"
#define CONFIG_ENV "REFVAL_SHIM_CONFIG"
#define DEFAULT_CONFIG "/etc/refval/shim.toml"
#define TOKEN_VERSION "1"

// Subcommands the Go wrapper passes through unmeasured (every one but
// create, run and restore; shim/runcargs.go measuredCommands). Only these:
// anything else (help, spec, a future subcommand) goes to Go.
static const char *const pass_commands[] = {
	"checkpoint", "delete", "events", "exec", "features", "kill", "list",
	"pause", "ps", "resume", "start", "state", "update", NULL,
};

// runc's global flags that take a value (shim/runcargs.go
// runcGlobalValueFlags) and the boolean ones containerd passes.
static const char *const value_flags[] = {"root", "log", "log-format", "criu", "rootless", NULL};
static const char *const bool_flags[] = {"debug", "systemd-cgroup", NULL};

static int in_list(const char *const list[], const char *s, size_t n) {
	for (int i = 0; list[i] != NULL; i++) {
		if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0) {
			return 1;
		}
	}
	return 0;
}

// The global flags are read as shim/runcargs.go ParseRuncArgs reads them
// (-flag or --flag, "flag value" or "flag=value" for value flags), but
// only in the shapes listed above: an unknown flag, a boolean with a
// value, "-", "--" or a missing subcommand is not certain, so -1.
int refval_front_classify(int argc, char *const argv[]) {
	int i = 1;
	while (i < argc) {
		const char *a = argv[i];
		if (a[0] != '-') {
			break;
		}
		const char *name = a + 1;
		if (*name == '-') {
			name++;
		}
		if (*name == '\0') {
			return -1;
		}
		const char *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);
		if (in_list(value_flags, name, n)) {
			i += eq ? 1 : 2;
		} else if (!eq && in_list(bool_flags, name, n)) {
			i++;
		} else {
			return -1;
		}
	}
	if (i >= argc) {
		return -1;
	}
	if (!in_list(pass_commands, argv[i], strlen(argv[i]))) {
		return -1;
	}
	return i;
}

// env_key_len is the length of the key of a KEY=VALUE entry, -1 without '='.
static long env_key_len(const char *e) {
	const char *eq = strchr(e, '=');
	return eq ? (long)(eq - e) : -1;
}

// env_first returns the value of the first key= entry, as Go's os.Getenv
// (and os.Environ, which drops later duplicates) sees it.
static const char *env_first(char *const envp[], const char *key) {
	size_t n = strlen(key);
	for (int i = 0; envp[i] != NULL; i++) {
		if (strncmp(envp[i], key, n) == 0 && envp[i][n] == '=') {
			return envp[i] + n + 1;
		}
	}
	return NULL;
}

static int same(const struct stat *a, const struct stat *b) {
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

// is_self: path (following links) is this binary (shim/exec.go self.is).
static int is_self(const char *path, const struct stat *self) {
	struct stat st;
	return stat(path, &st) == 0 && same(&st, self);
}

// clean_abs: dir is absolute and clean (filepath.Clean(dir) == dir), so
// that dir + "/runc" is exactly what filepath.Join(dir, "runc") gives.
static int clean_abs(const char *d) {
	size_t n = strlen(d);
	if (n == 0 || d[0] != '/') {
		return 0;
	}
	if (n == 1) {
		return 1;
	}
	if (d[n - 1] == '/') {
		return 0;
	}
	for (const char *p = d; *p; p++) {
		if (*p != '/') {
			continue;
		}
		// p starts a component: reject "//", "/./", "/../" and their ends.
		const char *c = p + 1;
		if (*c == '/') {
			return 0;
		}
		if (c[0] == '.' && (c[1] == '/' || c[1] == '\0')) {
			return 0;
		}
		if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0')) {
			return 0;
		}
	}
	return 1;
}

// runc_in: dir + "/runc" into buf (as filepath.Join: "/" + "runc" = "/runc").
static int runc_in(char *buf, size_t n, const char *dir, size_t dlen) {
	int w = snprintf(buf, n, "%.*s/runc", (int)(dlen == 1 ? 0 : dlen), dir);
	return w > 0 && (size_t)w < n;
}

// config_fingerprint writes what shim/fast.go configFingerprint writes
// for path: "-" when it does not exist, else its identity and times.
static int config_fingerprint(char *buf, size_t n, const char *path) {
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT) {
			return snprintf(buf, n, "-") < (int)n ? 0 : -1;
		}
		return -1;
	}
	int w = snprintf(buf, n, "%llu.%llu.%lld.%lld.%ld.%lld.%ld",
		(unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (long long)st.st_size,
		(long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
		(long long)st.st_ctim.tv_sec, (long)st.st_ctim.tv_nsec);
	return w > 0 && (size_t)w < n ? 0 : -1;
}

static void hex(char *out, const char *s) {
	static const char digits[] = "0123456789abcdef";
	for (; *s; s++) {
		*out++ = digits[(unsigned char)*s >> 4];
		*out++ = digits[(unsigned char)*s & 15];
	}
	*out = '\0';
}

static int unhex(char *out, size_t n, const char *s) {
	size_t l = strlen(s);
	if (l % 2 != 0 || l / 2 >= n) {
		return -1;
	}
	for (size_t i = 0; i < l; i += 2) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[i + k];
			v <<= 4;
			if (c >= '0' && c <= '9') {
				v |= c - '0';
			} else if (c >= 'a' && c <= 'f') {
				v |= c - 'a' + 10;
			} else {
				return -1;
			}
		}
		if (v == 0) {
			return -1;
		}
		*out++ = (char)v;
	}
	*out = '\0';
	return 0;
}

// token_runc checks the token the shim mode left (shim/fast.go FastToken)
// against the configuration file as it is now, and writes the configured
// runc ("" for the PATH lookup) into runc.
static int token_runc(char *const envp[], char *runc, size_t n) {
	const char *tok = env_first(envp, FAST_ENV);
	if (tok == NULL) {
		return -1;
	}
	const char *cfg = env_first(envp, CONFIG_ENV);
	int explicit = cfg != NULL && *cfg != '\0';
	if (!explicit) {
		cfg = DEFAULT_CONFIG;
	}
	size_t cl = strlen(cfg);
	if (cl > 4096) {
		return -1;
	}
	char fp[160];
	if (config_fingerprint(fp, sizeof fp, cfg) != 0) {
		return -1;
	}
	char *want = malloc(2 * cl + sizeof fp + 16);
	if (want == NULL) {
		return -1;
	}
	int w = sprintf(want, TOKEN_VERSION ":%s:%c:", fp, explicit ? 'e' : 'd');
	hex(want + w, cfg);
	strcat(want, ":");
	size_t wl = strlen(want);
	int ok = strncmp(tok, want, wl) == 0;
	free(want);
	if (!ok) {
		return -1;
	}
	return unhex(runc, n, tok + wl);
}

int refval_front_prepare(int argc, char *const argv[], char *const envp[], char *path, unsigned long n, char ***env) {
	if (argc < 2 || refval_front_classify(argc, argv) < 0) {
		return -1;
	}
	char runc[4096];
	if (token_runc(envp, runc, sizeof runc) != 0) {
		return -1;
	}
	// This binary, as Go's os.Executable sees it (shim/exec.go findSelf).
	char exe[4096];
	ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (el <= 0) {
		return -1;
	}
	exe[el] = '\0';
	static const char deleted[] = " (deleted)";
	if ((size_t)el >= sizeof deleted - 1 && strcmp(exe + el - (sizeof deleted - 1), deleted) == 0) {
		return -1;
	}
	struct stat self;
	if (exe[0] != '/' || stat(exe, &self) != 0) {
		return -1;
	}

	// runc's PATH: the first PATH= entry, without the directories whose
	// runc is this binary (shim/exec.go withoutSelf).
	const char *pathv = env_first(envp, "PATH");
	char *newpath = NULL;
	path[0] = '\0';
	if (pathv != NULL) {
		newpath = malloc(strlen(pathv) + 6);
		if (newpath == NULL) {
			return -1;
		}
		strcpy(newpath, "PATH=");
		const char *d = pathv;
		int first = 1;
		// filepath.SplitList: "" is no entry, "a:" is "a" and "".
		while (*pathv != '\0') {
			const char *end = strchr(d, ':');
			size_t dl = end ? (size_t)(end - d) : strlen(d);
			char dir[4096], p[4200];
			if (dl >= sizeof dir) {
				goto fail;
			}
			memcpy(dir, d, dl);
			dir[dl] = '\0';
			if (!clean_abs(dir) || !runc_in(p, sizeof p, dir, dl)) {
				goto fail;
			}
			struct stat st;
			int have = stat(p, &st) == 0;
			if (!(have && same(&st, &self))) {
				if (!first) {
					strcat(newpath, ":");
				}
				strcat(newpath, dir);
				first = 0;
				// shim/exec.go lookPath: the first regular, executable
				// runc that is not this binary.
				if (runc[0] == '\0' && path[0] == '\0' && have && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0) {
					if (strlen(p) >= n) {
						goto fail;
					}
					strcpy(path, p);
				}
			}
			if (end == NULL) {
				break;
			}
			d = end + 1;
		}
	}
	if (runc[0] != '\0') {
		// Configured (absolute, shim/fast.go): it must exist and must not
		// be this binary (shim/exec.go resolve).
		struct stat st;
		if (runc[0] != '/' || stat(runc, &st) != 0 || same(&st, &self) || strlen(runc) >= n) {
			goto fail;
		}
		strcpy(path, runc);
	}
	if (path[0] == '\0') {
		goto fail;
	}

	// runc's environment: os.Environ (no empty entries, the first of each
	// key), PATH replaced in place, FAST_ENV removed (runcMain).
	int ne = 0;
	while (envp[ne] != NULL) {
		ne++;
	}
	char **out = calloc(ne + 1, sizeof *out);
	if (out == NULL) {
		goto fail;
	}
	int o = 0;
	for (int i = 0; i < ne; i++) {
		const char *e = envp[i];
		if (*e == '\0') {
			continue;
		}
		long kl = env_key_len(e);
		if (kl >= 0) {
			int dup = 0;
			for (int j = 0; j < i && !dup; j++) {
				dup = env_key_len(envp[j]) == kl && strncmp(envp[j], e, kl) == 0;
			}
			if (dup) {
				continue;
			}
			if (kl == (long)strlen(FAST_ENV) && strncmp(e, FAST_ENV, kl) == 0) {
				continue;
			}
			if (newpath != NULL && kl == 4 && strncmp(e, "PATH", 4) == 0) {
				out[o++] = newpath;
				continue;
			}
		}
		out[o++] = (char *)e;
	}
	out[o] = NULL;
	*env = out;
	return 0;
fail:
	free(newpath);
	return -1;
}

// refval_front runs before the Go runtime (and before any Go code): for
// a runc pass-through with a valid token it execs the real runc; on any
// doubt, or if execve fails, it returns and the Go wrapper handles the
// call exactly as without this front.
__attribute__((constructor)) static void refval_front(int argc, char **argv, char **envp) {
	if (argc < 2 || argv == NULL || envp == NULL || argv[0] == NULL) {
		return;
	}
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strcmp(base, "runc") != 0 || env_first(envp, FAST_ENV) == NULL) {
		return;
	}
	char path[4096];
	char **env = NULL;
	if (refval_front_prepare(argc, argv, envp, path, sizeof path, &env) != 0) {
		return;
	}
	char **args = calloc(argc + 1, sizeof *args);
	if (args == NULL) {
		free(env);
		return;
	}
	args[0] = path;
	for (int i = 1; i < argc; i++) {
		args[i] = argv[i];
	}
	execve(path, args, env);
	free(args);
	free(env);
}
