/*
 * Request targets (gw_path.h). Segments are decoded one by one, so an
 * encoded '/' (%2F) stays inside its segment and never changes the route;
 * query values also take '+' for a space.
 */
#include "gw_path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "prs_util.h"

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) into out (room for n bytes); returns the length or -1
 * on a bad escape. plus: '+' means space (query strings). */
static long
pct_decode(const char *s, size_t n, char *out, bool plus)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[k++] = (char) (hi * 16 + lo);
			i += 2;
		} else if (plus && s[i] == '+') {
			out[k++] = ' ';
		} else {
			out[k++] = s[i];
		}
	}
	return (long) k;
}

int
gw_path_parse(const char *url, size_t ulen, struct gw_path *pp)
{
	const char *q = memchr(url, '?', ulen), *h;
	size_t plen = q ? (size_t) (q - url) : ulen, i, start, used = 0;

	pp->n = 0;
	pp->query = NULL;
	pp->query_len = 0;
	if (q != NULL) {
		pp->query = q + 1;
		pp->query_len = ulen - plen - 1;
		h = memchr(pp->query, '#', pp->query_len);
		if (h != NULL)
			pp->query_len = (size_t) (h - pp->query);
	} else if ((h = memchr(url, '#', ulen)) != NULL) {
		plen = (size_t) (h - url);
	}
	if (plen == 0 || url[0] != '/')
		return -1;
	start = 1;
	for (i = 1; i <= plen; i++) {
		if (i == plen || url[i] == '/') {
			long n;
			if (pp->n == GW_PATH_SEGS_MAX)
				return -1;
			n = pct_decode(url + start, i - start, pp->buf + used,
				       false);
			if (n < 0)
				return -1;
			pp->seg[pp->n] = pp->buf + used;
			pp->len[pp->n] = (size_t) n;
			pp->n++;
			used += (size_t) n;
			pp->buf[used++] = '\0';
			start = i + 1;
		}
	}
	return 0;
}

bool
gw_path_is(const struct gw_path *pp, const char *path)
{
	size_t n = pp->n, i;

	if (path[0] != '/')
		return false;
	path++;
	if (n > 0 && pp->len[n - 1] == 0)
		n--; /* "/a/" */
	for (i = 0; i < n; i++) {
		const char *e = strchr(path, '/');
		size_t len = e ? (size_t) (e - path) : strlen(path);

		if (len != pp->len[i] || memcmp(path, pp->seg[i], len) != 0)
			return false;
		if (e == NULL)
			return i + 1 == n;
		path = e + 1;
	}
	return *path == '\0'; /* "/" or what remains after "/a/" */
}

bool
gw_path_seg_is(const struct gw_path *pp, size_t i, const char *s)
{
	return i < pp->n && pp->len[i] == strlen(s) &&
	       memcmp(pp->seg[i], s, pp->len[i]) == 0;
}

int
gw_path_query(const struct gw_path *pp, const char *key, char **out)
{
	const char *s = pp->query, *end;
	size_t klen = strlen(key);

	*out = NULL;
	if (s == NULL)
		return 1;
	end = s + pp->query_len;
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t) (end - s));
		const char *e = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t) (e - s));
		const char *kend = eq ? eq : e;
		if ((size_t) (kend - s) == klen && memcmp(s, key, klen) == 0) {
			const char *v = eq ? eq + 1 : e;
			char *buf = xmalloc((size_t) (e - v) + 1);
			long n = pct_decode(v, (size_t) (e - v), buf, true);
			if (n < 0) {
				free(buf);
				return -1;
			}
			buf[n] = '\0';
			*out = buf;
			return 0;
		}
		s = e + 1;
	}
	return 1;
}

int
gw_path_query_int(const struct gw_path *pp, const char *key, int64_t min,
		  int64_t max, int64_t def, int64_t *out)
{
	char *v = NULL, *end;
	long long n;
	int rv = gw_path_query(pp, key, &v);

	*out = def;
	if (rv == 1)
		return 0;
	if (rv < 0 || v[0] < '0' || v[0] > '9') {
		free(v);
		return -1;
	}
	errno = 0;
	n = strtoll(v, &end, 10);
	rv = errno != 0 || *end != '\0' || n < min || n > max ? -1 : 0;
	if (rv == 0)
		*out = (int64_t) n;
	free(v);
	return rv;
}
