/*
 * Cross-origin requests from browsers (CORS): which response headers let
 * a page of another origin read an answer, with credentials, and the
 * answer to a preflight. Shared by the drop-in endpoints that browsers
 * call from another origin (SignalR negotiate; docs/MIGRATING.md).
 */
#ifndef GW_CORS_H
#define GW_CORS_H

#include <stdbool.h>

#include "gw_buf.h"
#include "gw_http1.h"
#include "gw_types.h"

/* True when a browser page at origin may read our answers: allowed
 * (cfg->allowed_origins, comma-separated) is empty or lists origin, and
 * origin is a plain header value we can echo. NULL origin: false. */
bool gw_cors_allowed(const char *allowed, const char *origin);
/* Appends Access-Control-Allow-Origin (origin echoed, never "*"),
 * Access-Control-Allow-Credentials: true and Vary: Origin to b when
 * gw_cors_allowed; else nothing. Returns whether it appended. */
bool gw_cors_headers(struct gw_buf *b, const char *allowed,
		     const char *origin);
/* Answers the preflight OPTIONS rq: 204, and for an allowed Origin its
 * headers plus Access-Control-Allow-Methods (the method asked for when
 * methods, comma-separated, lists it, else methods),
 * Access-Control-Allow-Headers (the headers asked for) and a Max-Age. */
void gw_cors_preflight(struct gw_conn *c, const struct gw_http1_req *rq,
		       const char *methods);

#endif
