// The C front of containerd-shim-cmc-v1 (see doc.go): a constructor that
// runs before the Go runtime and execve's the real runc at once for a
// call that is certainly a pass-through, exactly as the Go wrapper would
// (shim/main.go runcMain); anything it is not sure of falls through to Go.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

// verify_token checks the token the shim mode left (shim/fast.go FastToken)
// against the configuration file as it is now, and writes the configured
// runc ("" for the PATH lookup) into runc.
static int verify_token(char *const envp[], const char *tok, char *runc, size_t n) {
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

// find_self: this binary, as Go's os.Executable sees it (shim/exec.go
// findSelf); -1 if it was replaced or deleted since it started, or if its
// path may have been truncated (readlink filled the buffer).
static int find_self(char *exe, size_t n, struct stat *self) {
	ssize_t el = readlink("/proc/self/exe", exe, n - 1);
	if (el <= 0 || (size_t)el >= n - 1) {
		return -1;
	}
	exe[el] = '\0';
	static const char deleted[] = " (deleted)";
	if ((size_t)el >= sizeof deleted - 1 && strcmp(exe + el - (sizeof deleted - 1), deleted) == 0) {
		return -1;
	}
	return exe[0] == '/' && stat(exe, self) == 0 ? 0 : -1;
}

// next_entry copies the PATH entry at *d into dir and advances *d past
// it (NULL after the last one), as filepath.SplitList splits; -1 if the
// entry is not absolute and clean (Go would read it otherwise).
static int next_entry(const char **d, char *dir, size_t n) {
	const char *end = strchr(*d, ':');
	size_t dl = end ? (size_t)(end - *d) : strlen(*d);
	if (dl >= n) {
		return -1;
	}
	memcpy(dir, *d, dl);
	dir[dl] = '\0';
	*d = end ? end + 1 : NULL;
	return clean_abs(dir) ? 0 : -1;
}

static int join(char *buf, size_t n, const char *dir, const char *name) {
	int w = snprintf(buf, n, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
	return w > 0 && (size_t)w < n ? 0 : -1;
}

// look_path is shim/exec.go lookPath: the first regular, executable name
// in pathv that is not this binary; -1 if none or if an entry is unclear.
static int look_path(const char *pathv, const char *name, const struct stat *self, char *out, size_t n) {
	if (pathv == NULL || *pathv == '\0') {
		return -1;
	}
	for (const char *d = pathv; d != NULL;) {
		char dir[4096], p[4200];
		if (next_entry(&d, dir, sizeof dir) != 0 || join(p, sizeof p, dir, name) != 0) {
			return -1;
		}
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0 && !same(&st, self)) {
			if (strlen(p) >= n) {
				return -1;
			}
			strcpy(out, p);
			return 0;
		}
	}
	return -1;
}

// MAX_ENV bounds the environment the front handles: the duplicate check
// below is quadratic, so a larger environment is left to Go (NULL).
#define MAX_ENV 4096

// build_env is os.Environ (no empty entries, the first of each key)
// without FAST_ENV, with PATH= replaced in place by path_entry (appended
// if there was none and add_path), and extra appended if not NULL; NULL
// (Go decides) if envp has more than MAX_ENV entries.
static char **build_env(char *const envp[], char *path_entry, int add_path, char *extra) {
	int ne = 0;
	while (envp[ne] != NULL) {
		if (++ne > MAX_ENV) {
			return NULL;
		}
	}
	char **out = calloc(ne + 3, sizeof *out);
	if (out == NULL) {
		return NULL;
	}
	int o = 0, had_path = 0;
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
			if (path_entry != NULL && kl == 4 && strncmp(e, "PATH", 4) == 0) {
				out[o++] = path_entry;
				had_path = 1;
				continue;
			}
		}
		out[o++] = (char *)e;
	}
	if (path_entry != NULL && !had_path && add_path) {
		out[o++] = path_entry;
	}
	if (extra != NULL) {
		out[o++] = extra;
	}
	out[o] = NULL;
	return out;
}

// The caches the Go code leaves under CACHE_DIR (shim/fast.go), per
// binary and configuration path: "fast-" what the shim mode decided,
// "runc-" the token of a runc call (for runc calls that come without
// one: the runc.v2 BinaryName form). They are used only while the token
// in them still matches the configuration file and every file they name
// is still what Go would find.
#define CACHE_DIR "/run/containerd-shim-cmc-v1"
#define CACHE_MAGIC "refval-shim-fast 1"
#define RUNC_CACHE_MAGIC "refval-runc-fast 1"
#define RUNC_SHIM "containerd-shim-runc-v2"
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// fnv64a of s and the explicit flag, as shim/fast.go fastCachePath.
static unsigned long long fnv64a(const char *s, int explicit) {
	unsigned long long h = 14695981039346656037ULL;
	for (; *s; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	}
	h = (h ^ 0) * 1099511628211ULL;
	return (h ^ (unsigned char)(explicit ? 'e' : 'd')) * 1099511628211ULL;
}

// read_cache reads the cache file (kind fast or runc) for this binary and configuration into
// buf: regular, owned by this user, writable by nobody else, in a
// directory that is the same.
static int read_cache(const struct stat *self, char *const envp[], const char *kind, char *buf, size_t n) {
	const char *cfg = env_first(envp, CONFIG_ENV);
	int explicit = cfg != NULL && *cfg != '\0';
	if (!explicit) {
		cfg = DEFAULT_CONFIG;
	}
	char p[256];
	snprintf(p, sizeof p, CACHE_DIR "/%s-%llx-%llx-%016llx", kind,
		(unsigned long long)self->st_dev, (unsigned long long)self->st_ino, fnv64a(cfg, explicit));
	struct stat ds;
	if (lstat(CACHE_DIR, &ds) != 0 || !S_ISDIR(ds.st_mode) || ds.st_uid != geteuid() || (ds.st_mode & 022) != 0) {
		return -1;
	}
	int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	struct stat st;
	ssize_t r = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 022) == 0 &&
		st.st_size > 0 && (size_t)st.st_size < n) {
		r = read(fd, buf, n - 1);
	}
	close(fd);
	if (r <= 0 || r != st.st_size) {
		return -1;
	}
	buf[r] = '\0';
	return 0;
}

// next_line cuts the line at *s (NUL-terminating it) and advances *s.
static char *next_line(char **s) {
	if (*s == NULL) {
		return NULL;
	}
	char *l = *s, *e = strchr(l, '\n');
	if (e == NULL) {
		return NULL; // every line ends in \n
	}
	*e = '\0';
	*s = e + 1;
	return l;
}

int refval_front_prepare(int argc, char *const argv[], char *const envp[], char *path, unsigned long n, char ***env) {
	if (argc < 2 || refval_front_classify(argc, argv) < 0) {
		return -1;
	}
	char exe[4096];
	struct stat self;
	if (find_self(exe, sizeof exe, &self) != 0) {
		return -1;
	}
	// The token: from the shim mode (the environment), else from the
	// cache an earlier Go runc call of this binary and configuration left.
	const char *tok = env_first(envp, FAST_ENV);
	char buf[16384];
	if (tok == NULL) {
		if (read_cache(&self, envp, "runc", buf, sizeof buf) != 0) {
			return -1;
		}
		char *s = buf, cached[4096];
		char *magic = next_line(&s), *selfhex = next_line(&s);
		tok = next_line(&s);
		if (tok == NULL || *s != '\0' || strcmp(magic, RUNC_CACHE_MAGIC) != 0 ||
			unhex(cached, sizeof cached, selfhex) != 0 || strcmp(cached, exe) != 0) {
			return -1;
		}
	}
	char runc[4096];
	if (verify_token(envp, tok, runc, sizeof runc) != 0) {
		return -1;
	}
	// runc's PATH: the first PATH= entry, without the directories whose
	// runc is this binary (shim/exec.go withoutSelf).
	const char *pathv = env_first(envp, "PATH");
	char *newpath = NULL;
	if (pathv != NULL) {
		newpath = malloc(strlen(pathv) + 6);
		if (newpath == NULL) {
			return -1;
		}
		strcpy(newpath, "PATH=");
		int first = 1;
		for (const char *d = *pathv != '\0' ? pathv : NULL; d != NULL;) {
			char dir[4096], p[4200];
			if (next_entry(&d, dir, sizeof dir) != 0 || join(p, sizeof p, dir, "runc") != 0) {
				goto fail;
			}
			if (!is_self(p, &self)) {
				if (!first) {
					strcat(newpath, ":");
				}
				strcat(newpath, dir);
				first = 0;
			}
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
	} else if (look_path(newpath != NULL ? newpath + 5 : NULL, "runc", &self, path, n) != 0) {
		goto fail;
	}
	*env = build_env(envp, newpath, 0, NULL);
	if (*env == NULL) {
		goto fail;
	}
	return 0;
fail:
	free(newpath);
	return -1;
}

// refval_front_shim_classify: argv is certainly a shim-mode call of the
// Go Main (not named runc, and shim/runcargs.go LooksLikeRunc is false
// because the first argument is a shim-only flag).
int refval_front_shim_classify(int argc, char *const argv[]) {
	size_t l0 = argc > 0 ? strlen(argv[0]) : 0;
	if (argc < 2 || l0 == 0 || argv[0][l0 - 1] == '/') {
		return 0; // filepath.Base would strip the slash: left to Go
	}
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strcmp(base, "runc") == 0) {
		return 0;
	}
	const char *a = argv[1];
	return strcmp(a, "-namespace") == 0 || strcmp(a, "--namespace") == 0 ||
		strcmp(a, "-info") == 0 || strcmp(a, "--info") == 0;
}

int refval_front_shim_prepare(int argc, char *const argv[], char *const envp[], char *path, unsigned long n, char ***env) {
	if (!refval_front_shim_classify(argc, argv)) {
		return -1;
	}
	char exe[4096];
	struct stat self;
	if (find_self(exe, sizeof exe, &self) != 0) {
		return -1;
	}
	char buf[32768];
	if (read_cache(&self, envp, "fast", buf, sizeof buf) != 0) {
		return -1;
	}
	char *s = buf;
	char *magic = next_line(&s), *selfhex = next_line(&s), *tok = next_line(&s), *shimhex = next_line(&s), *link = next_line(&s);
	if (link == NULL || *s != '\0' || strcmp(magic, CACHE_MAGIC) != 0) {
		return -1;
	}
	char cached[4096], runc[4096];
	if (unhex(cached, sizeof cached, selfhex) != 0 || strcmp(cached, exe) != 0) {
		return -1;
	}
	if (verify_token(envp, tok, runc, sizeof runc) != 0) {
		return -1;
	}
	// The runc shim: configured (absolute, existing, not this binary) or
	// the first in containerd's PATH (shim/exec.go resolve).
	char shim[4096];
	if (unhex(shim, sizeof shim, shimhex) != 0 && *shimhex != '\0') {
		return -1;
	}
	if (*shimhex != '\0') {
		struct stat st;
		if (shim[0] != '/' || stat(shim, &st) != 0 || same(&st, &self) || strlen(shim) >= n) {
			return -1;
		}
		strcpy(path, shim);
	} else if (look_path(env_first(envp, "PATH"), RUNC_SHIM, &self, path, n) != 0) {
		return -1;
	}
	// The runc link dir (shim/exec.go runcLinkDir): "c DIR" configured,
	// "a INSTALLED FALLBACK" found in that order; each must hold a runc
	// that is this binary, or Go decides (and creates the fallback).
	char dir[4096] = "";
	if (link[0] == '\0' || link[1] != ' ') {
		return -1; // f1 below would start past the line's end
	}
	char *f1 = link + 2, *f2 = strchr(f1, ' ');
	if (link[0] == 'c' && f2 == NULL) {
		char p[4200];
		if (unhex(dir, sizeof dir, f1) != 0 || join(p, sizeof p, dir, "runc") != 0 || !is_self(p, &self)) {
			return -1;
		}
	} else if (link[0] == 'a' && f2 != NULL) {
		*f2++ = '\0';
		char inst[4096], fb[4096], p[4200];
		if (unhex(inst, sizeof inst, f1) != 0 || unhex(fb, sizeof fb, f2) != 0) {
			return -1;
		}
		if (join(p, sizeof p, inst, "runc") == 0 && is_self(p, &self)) {
			strcpy(dir, inst);
		} else if (join(p, sizeof p, fb, "runc") == 0 && is_self(p, &self)) {
			strcpy(dir, fb);
		} else {
			return -1;
		}
	} else {
		return -1;
	}
	// The runc shim's environment (shim/main.go shimMain): FAST_ENV
	// removed, dir first in PATH (shim/exec.go prependPATH), the token.
	const char *pathv = env_first(envp, "PATH");
	if (pathv == NULL || *pathv == '\0') {
		pathv = DEFAULT_PATH;
	}
	char *newpath = malloc(strlen(dir) + strlen(pathv) + 7);
	char *newtok = malloc(strlen(FAST_ENV) + strlen(tok) + 2);
	if (newpath == NULL || newtok == NULL) {
		free(newpath);
		free(newtok);
		return -1;
	}
	sprintf(newpath, "PATH=%s:%s", dir, pathv);
	sprintf(newtok, FAST_ENV "=%s", tok);
	*env = build_env(envp, newpath, 1, newtok);
	if (*env == NULL) {
		free(newpath);
		free(newtok);
		return -1;
	}
	return 0;
}

// refval_front runs before the Go runtime (and before any Go code): for
// a runc pass-through with a valid token, or a shim-mode call with a
// valid cache, it execs what the Go code would exec; on any doubt, or if
// execve fails, it returns and the Go code handles the call exactly as
// without this front.
//
// It reads (argc, argv, envp) from its arguments, which glibc passes to
// .init_array functions (as an extension; the ELF ABI does not require
// it): with another C library (musl passes none) there is no front, and
// every call takes the Go path.
#ifdef __GLIBC__
__attribute__((constructor)) static void refval_front(int argc, char **argv, char **envp) {
	if (argc < 2 || argv == NULL || envp == NULL || argv[0] == NULL || argv[0][0] == '\0' ||
		argv[0][strlen(argv[0]) - 1] == '/') {
		return; // no name, or one filepath.Base would read otherwise: Go
	}
	char path[4096];
	char **env = NULL;
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strcmp(base, "runc") == 0) {
		if (refval_front_prepare(argc, argv, envp, path, sizeof path, &env) != 0) {
			return;
		}
	} else if (refval_front_shim_prepare(argc, argv, envp, path, sizeof path, &env) != 0) {
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
#endif
