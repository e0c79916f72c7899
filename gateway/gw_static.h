/*
 * Static files served from web_root: the JavaScript SDK (/v1/client.js,
 * /v1/client.d.ts), the demo page (/demo/) and the admin console
 * (/admin/), with their assets (/ui/). GET and HEAD only.
 */
#ifndef GW_STATIC_H
#define GW_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "gw_http1.h"
#include "gw_path.h"
#include "gw_types.h"

#define GW_STATIC_NAME_MAX  64           /* one file or directory name */
#define GW_STATIC_MAX_BYTES (512 * 1024) /* largest file served */

/* Where a request path leads below a web root. */
struct gw_static_file {
	char dir[GW_STATIC_NAME_MAX + 1];  /* "" (the root) or one name */
	char name[GW_STATIC_NAME_MAX + 1]; /* the file's name in dir */
	const char *ctype;                 /* Content-Type (static string) */
	const char *cache;                 /* Cache-Control (static string) */
	bool cors; /* any origin may read it (the SDK: module imports) */
};

/* Maps the decoded path pp to a file below a web root: 0 and *f, or -1
 * when pp names no static file (then: 404). Only fixed prefixes and one
 * file name of [A-Za-z0-9._-] (first byte a letter or digit, a known
 * extension) pass, so nothing in *f can leave the root by itself. */
int gw_static_map(const struct gw_path *pp, struct gw_static_file *f);
/* Opens f below the first of the colon-separated roots that has it,
 * without following any symlink below the root: 0 with *fd (the caller
 * closes it) and *st, -ENOENT (absent, a symlink, not a regular file),
 * or -EFBIG (over max bytes). */
int gw_static_open(const char *roots, const struct gw_static_file *f,
		   size_t max, int *fd, struct stat *st);
/* Writes the ETag of a file with st into out (room for len bytes). */
void gw_static_etag(const struct stat *st, char *out, size_t len);
/* True if the If-None-Match value inm (a list, or "*") matches etag, by
 * the weak comparison of RFC 9110 §13.1.2. */
bool gw_static_etag_match(const char *inm, const char *etag);
/* Logs where static files come from, or a warning when no root is a
 * directory (the routes then answer 404). */
void gw_static_log_roots(const char *roots);
/* The route handler of every static path. */
void gw_static_serve(struct gw_conn *c, const struct gw_http1_req *rq,
		     const struct gw_path *pp);

#endif
