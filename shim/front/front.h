/* The C front of containerd-shim-cmc-v1: see doc.go. */
#ifndef REFVAL_FRONT_H
#define REFVAL_FRONT_H

/* refval_front_classify returns the index in argv of the runc subcommand
 * when argv (argv[0] included) is certainly a pass-through call, -1 when
 * it is not or may not be (the Go wrapper then decides). */
int refval_front_classify(int argc, char *const argv[]);

/* refval_front_prepare computes what the fast path would exec: the real
 * runc (into path, size n) and runc's environment (a malloc'd,
 * NULL-terminated array into *env). It returns 0 when the fast path
 * applies, -1 when the call must fall through to Go. */
int refval_front_prepare(int argc, char *const argv[], char *const envp[], char *path, unsigned long n, char ***env);

/* refval_front_shim_classify is 1 when argv is certainly a shim-mode call. */
int refval_front_shim_classify(int argc, char *const argv[]);

/* refval_front_shim_prepare is refval_front_prepare for a shim-mode call:
 * the runc shim and its environment, from the shim mode's cache. */
int refval_front_shim_prepare(int argc, char *const argv[], char *const envp[], char *path, unsigned long n, char ***env);

#endif
