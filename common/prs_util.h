/*
 * Small helpers every presence process uses: abort-on-OOM allocation (as
 * tmux and Redis do: a daemon that cannot allocate a few bytes has nothing
 * sensible left to do), clocks, logging to stderr, and identifier checks.
 */
#ifndef PRS_UTIL_H
#define PRS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define container_of(ptr, type, member)                                       \
	((type *) (void *) ((char *) (ptr) -offsetof(type, member)))
#define PRS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocate or abort. The caller owns the result and frees it with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Wall-clock milliseconds since the UNIX epoch (what clients see). */
int64_t prs_now_ms(void);
/* Monotonic milliseconds, for deadlines and intervals. */
int64_t prs_mono_ms(void);
/* The same two clocks in microseconds (latency metrics). */
int64_t prs_now_us(void);
int64_t prs_mono_us(void);
/* A fresh 64-bit epoch for this process start (time and randomness). */
uint64_t prs_epoch_new(void);

/* Call once the loop has ended: if the cleanup that follows (closing NNG
 * sockets) has not finished within `seconds`, the process exits 0 anyway.
 * NNG 1.5.2 can block in nng_close on a pipe stuck in its handshake (bug
 * #1518); a stopping daemon must not hang on it. */
void prs_exit_guard(unsigned seconds);

/* Logging: one level-prefixed line per call, to stderr. */
void prs_log_setname(const char *name);
void prs_log_set_debug(bool on);
void prs_logf(char level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define prs_debug(...) prs_logf('D', __VA_ARGS__)
#define prs_info(...)  prs_logf('I', __VA_ARGS__)
#define prs_warn(...)  prs_logf('W', __VA_ARGS__)
#define prs_err(...)   prs_logf('E', __VA_ARGS__)

/* Checks one of our own invariants, in every build (release included):
 * on failure logs "file:line: assertion failed: cond" and aborts, so that
 * fuzzers and chaos runs stop at the cause of a logic bug (NNG's
 * NNI_ASSERT, Varnish's assert). Never for outside input: hostile bytes
 * are checked and refused, not asserted. */
#define PRS_ASSERT(cond)                                                      \
	(__builtin_expect(!!(cond), 1)                                        \
		 ? (void) 0                                                   \
		 : prs_assert_fail(__FILE__, __LINE__, #cond))
void prs_assert_fail(const char *file, int line, const char *cond)
	__attribute__((noreturn));

/* True when s[0..len) is a valid user or thread id: 1-128 bytes of UTF-8
 * without control characters (PROTOCOL.md §2). */
bool prs_id_valid(const char *s, size_t len);
/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
bool prs_utf8_valid(const char *s, size_t len);

/* Status names as clients spell them; -1 when unknown. */
int prs_status_parse(const char *s);
const char *prs_status_name(int status);

#endif
