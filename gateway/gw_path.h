/*
 * Request targets: a path split into percent-decoded segments, and query
 * parameters. Shared by the router (matching) and the handlers (ids in
 * the path, parameters in the query).
 */
#ifndef GW_PATH_H
#define GW_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_PATH_SEGS_MAX 8

/* A request path split into percent-decoded, NUL-terminated segments. */
struct gw_path {
	char *buf; /* room for the URL plus a NUL per segment */
	const char *seg[GW_PATH_SEGS_MAX];
	size_t len[GW_PATH_SEGS_MAX];
	size_t n;
	const char *query; /* raw, after '?', NULL if none */
	size_t query_len;
};

/* Splits and decodes url[0..ulen) into pp (pp->buf needs ulen +
 * GW_PATH_SEGS_MAX + 1 bytes, the caller's). Returns 0, or -1 for a
 * malformed target. */
int gw_path_parse(const char *url, size_t ulen, struct gw_path *pp);
/* True if pp's path is path (a configured "/a/b/", not encoded): the
 * same segments, a trailing slash optional on either side. */
bool gw_path_is(const struct gw_path *pp, const char *path);
/* True if segment i exists and equals s. */
bool gw_path_seg_is(const struct gw_path *pp, size_t i, const char *s);
/* Finds key in the query string: 0 and *out (caller frees) when found,
 * 1 when absent, -1 on a bad escape. */
int gw_path_query(const struct gw_path *pp, const char *key, char **out);
/* An optional integer query parameter: 0 with *out (def when absent), or
 * -1 when it is malformed or outside [min, max]. */
int gw_path_query_int(const struct gw_path *pp, const char *key, int64_t min,
		      int64_t max, int64_t def, int64_t *out);

#endif
