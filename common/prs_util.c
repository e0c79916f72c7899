/*
 * Helpers shared by the three daemons. Logging goes to stderr with a level
 * letter and the process name; journald (or scripts/run) adds timestamps.
 */
#include "prs_util.h"
#include "presence.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_name = "presence";
static bool log_debug;

static void
oom(size_t n)
{
	fprintf(stderr, "E %s: out of memory (%zu bytes)\n", log_name, n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		oom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		oom(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int64_t
prs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
prs_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
prs_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
prs_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t
prs_epoch_new(void)
{
	struct timespec ts;
	uint64_t e;
	clock_gettime(CLOCK_REALTIME, &ts);
	e = ((uint64_t) ts.tv_sec << 20) ^ (uint64_t) (ts.tv_nsec / 1000);
	e ^= (uint64_t) getpid() << 44;
	return e ? e : 1;
}

void
prs_log_setname(const char *name)
{
	log_name = name;
}

void
prs_log_set_debug(bool on)
{
	log_debug = on;
}

void
prs_logf(char level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (level == 'D' && !log_debug)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	fprintf(stderr, "%c %s: %s\n", level, log_name, line);
}

void
prs_assert_fail(const char *file, int line, const char *cond)
{
	prs_err("%s:%d: assertion failed: %s", file, line, cond);
	abort();
}

bool
prs_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n, k;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

bool
prs_id_valid(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > 128)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char) s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
		/* C1 controls U+0080..U+009F are encoded C2 80..C2 9F. */
		if (c == 0xc2 && i + 1 < len &&
		    (unsigned char) s[i + 1] < 0xa0)
			return false;
	}
	return prs_utf8_valid(s, len);
}

static const char *const status_names[] = {
	[PRS__STATUS__ST_OFFLINE] = "offline",
	[PRS__STATUS__ST_ONLINE] = "online",
	[PRS__STATUS__ST_AWAY] = "away",
	[PRS__STATUS__ST_DND] = "dnd",
	[PRS__STATUS__ST_INVISIBLE] = "invisible",
};

int
prs_status_parse(const char *s)
{
	size_t i;
	for (i = 0; i < PRS_ARRAY_LEN(status_names); i++)
		if (strcmp(s, status_names[i]) == 0)
			return (int) i;
	return -1;
}

const char *
prs_status_name(int status)
{
	if (status < 0 || (size_t) status >= PRS_ARRAY_LEN(status_names))
		return "offline";
	return status_names[status];
}

static void *
exit_guard_main(void *arg)
{
	unsigned seconds = (unsigned) (uintptr_t) arg;

	sleep(seconds);
	fprintf(stderr,
		"W %s: cleanup still blocked after %u s (NNG): "
		"exiting\n",
		log_name, seconds);
	_exit(0);
	return NULL;
}

void
prs_exit_guard(unsigned seconds)
{
	pthread_t th;

	if (pthread_create(&th, NULL, exit_guard_main,
			   (void *) (uintptr_t) seconds) == 0)
		pthread_detach(th);
}
