/*
 * CORS for the drop-in endpoints that browsers call from another origin
 * with credentials (seed 000's SignalR negotiate): the exact Origin is
 * echoed, never "*", which browsers refuse with credentials. The rule is
 * the WebSocket upgrade's (gw_upgrade.c): with allowed_origins set, only
 * a listed Origin gets the headers; empty, any Origin does (development).
 * An Origin outside the list gets no CORS headers at all, so the browser
 * keeps the answer from the page; the request itself is served as any
 * other, since only browsers honour CORS.
 *
 * Echoed values come from the request, so they are echoed only when they
 * are short printable ASCII (no way to end the header line early).
 */
#include "gw_cors.h"

#include <string.h>

#define CORS_VALUE_MAX 512
#define CORS_MAX_AGE   600 /* seconds a browser may cache a preflight */

/* Printable ASCII without separators that could end a header. */
static bool
cors_echoable(const char *v)
{
	size_t i;

	if (v == NULL || v[0] == '\0')
		return false;
	for (i = 0; v[i] != '\0'; i++)
		if (i >= CORS_VALUE_MAX || v[i] < 0x20 || v[i] > 0x7e)
			return false;
	return true;
}

bool
gw_cors_allowed(const char *allowed, const char *origin)
{
	if (!cors_echoable(origin))
		return false;
	return allowed == NULL || allowed[0] == '\0' ||
	       gw_http1_token_list_has(allowed, origin);
}

bool
gw_cors_headers(struct gw_buf *b, const char *allowed, const char *origin)
{
	if (!gw_cors_allowed(allowed, origin))
		return false;
	gw_buf_printf(b,
		      "Access-Control-Allow-Origin: %s\r\n"
		      "Access-Control-Allow-Credentials: true\r\n"
		      "Vary: Origin\r\n",
		      origin);
	return true;
}

void
gw_cors_preflight(struct gw_conn *c, const struct gw_http1_req *rq,
		  const char *methods)
{
	const char *asked = rq->hdr[GW_H_AC_REQUEST_METHOD];
	const char *hdrs = rq->hdr[GW_H_AC_REQUEST_HEADERS];
	struct gw_buf extra = {0};

	if (gw_cors_headers(&extra, c->srv->cfg->allowed_origins,
			    rq->hdr[GW_H_ORIGIN])) {
		gw_buf_printf(&extra, "Access-Control-Allow-Methods: %s\r\n",
			      cors_echoable(asked) && gw_http1_token_list_has(
							      methods, asked)
				      ? asked
				      : methods);
		if (cors_echoable(hdrs))
			gw_buf_printf(&extra,
				      "Access-Control-Allow-Headers: %s\r\n",
				      hdrs);
		gw_buf_printf(&extra, "Access-Control-Max-Age: %d\r\n",
			      CORS_MAX_AGE);
	}
	gw_buf_append(&extra, "", 1); /* NUL-terminated */
	gw_http1_respond(c, 204, NULL, extra.data, "", 0, false);
	gw_buf_free(&extra);
}
