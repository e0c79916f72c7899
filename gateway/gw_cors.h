/*
 * Cross-origin requests from browser pages (the drop-ins,
 * docs/PROTOCOL.md "CORS"): which Origin may call, the response headers
 * that let it read the answer with credentials, and preflight answers.
 * Shared by the drop-in frontends whose browser clients call from
 * another origin (Socket.IO polling, SignalR negotiate).
 */
#ifndef GW_CORS_H
#define GW_CORS_H

#include <stdbool.h>

#include "gw_buf.h"
#include "gw_http1.h"
#include "gw_types.h"

/* True unless origin (a request's Origin header, NULL when absent) is
 * one that a non-empty allowed_origins does not list. Requests without
 * Origin are not from a browser page and always pass. */
bool gw_cors_allowed(const struct gw_config *cfg, const char *origin);
/* Appends to b the headers that let rq's page read the response with
 * credentials: its Origin echoed (never "*"), Allow-Credentials, Vary.
 * Nothing when rq has no Origin or one that is not allowed. */
void gw_cors_headers(struct gw_buf *b, const struct gw_config *cfg,
		     const struct gw_http1_req *rq);
/* Answers the preflight OPTIONS rq on c: 204 with the CORS headers, the
 * endpoint's methods (e.g. "GET, POST") and the request headers the
 * browser asked to send; an Origin that is not allowed gets the 204
 * without CORS headers (the browser then refuses the call). */
void gw_cors_preflight(struct gw_conn *c, const struct gw_http1_req *rq,
		       const char *methods);

#endif
