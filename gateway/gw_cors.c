/*
 * CORS for the browser clients of the drop-ins (gw_cors.h). Why the exact
 * Origin is echoed and never "*": those clients send credentials
 * (withCredentials, cookies or Authorization), and browsers refuse a
 * credentialed response whose Allow-Origin is "*". With allowed_origins
 * empty (development) every Origin is echoed; with a list, only the
 * listed ones, and others get no CORS header at all, so the browser keeps
 * the response from the page.
 *
 * Whatever is echoed comes from request headers: it is checked to be
 * plain visible ASCII (an Origin) or a list of header-name tokens (a
 * preflight's Access-Control-Request-Headers) before it is written into
 * our response, and echoed only when it is.
 */
#include "gw_cors.h"

#include <string.h>

#include "prs_util.h"

#define PREFLIGHT_MAX_AGE 600  /* seconds a browser may cache a preflight */
#define ECHO_MAX          1024 /* longest value we echo */

/* Visible ASCII without spaces (an Origin: scheme://host[:port], "null"). */
static bool
cors_visible(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ECHO_MAX)
		return false;
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	return true;
}

/* A comma-separated list of RFC 9110 tokens (header names). */
static bool
cors_token_list(const char *s)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	size_t n = strlen(s);

	if (n == 0 || n > ECHO_MAX)
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char) *s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == ',' || ch == ' ' ||
		    ch == '\t' || strchr(tchar, ch) != NULL)
			continue;
		return false;
	}
	return true;
}

bool
gw_cors_allowed(const struct gw_config *cfg, const char *origin)
{
	const char *allowed = cfg->allowed_origins;

	if (allowed == NULL || allowed[0] == '\0' || origin == NULL)
		return true;
	return gw_http1_token_list_has(allowed, origin);
}

/* The Origin of rq to echo, or NULL. */
static const char *
cors_origin(const struct gw_config *cfg, const struct gw_http1_req *rq)
{
	const char *origin = rq->hdr[GW_H_ORIGIN];

	if (origin == NULL || !cors_visible(origin) ||
	    !gw_cors_allowed(cfg, origin))
		return NULL;
	return origin;
}

void
gw_cors_headers(struct gw_buf *b, const struct gw_config *cfg,
		const struct gw_http1_req *rq)
{
	const char *origin = cors_origin(cfg, rq);

	if (origin == NULL)
		return;
	gw_buf_printf(b,
		      "Access-Control-Allow-Origin: %s\r\n"
		      "Access-Control-Allow-Credentials: true\r\n"
		      "Vary: Origin\r\n",
		      origin);
}

void
gw_cors_preflight(struct gw_conn *c, const struct gw_http1_req *rq,
		  const char *methods)
{
	const struct gw_config *cfg = c->srv->cfg;
	const char *origin = cors_origin(cfg, rq);
	const char *asked = rq->hdr[GW_H_AC_REQUEST_HEADERS];
	struct gw_buf h = {0};

	if (origin != NULL) {
		gw_buf_printf(&h,
			      "Access-Control-Allow-Origin: %s\r\n"
			      "Access-Control-Allow-Credentials: true\r\n"
			      "Access-Control-Allow-Methods: %s\r\n"
			      "Access-Control-Max-Age: %d\r\n",
			      origin, methods, PREFLIGHT_MAX_AGE);
		if (asked != NULL && cors_token_list(asked))
			gw_buf_printf(&h,
				      "Access-Control-Allow-Headers: %s\r\n",
				      asked);
	}
	gw_buf_printf(&h, "Vary: Origin, Access-Control-Request-Headers\r\n");
	gw_buf_append(&h, "", 1);
	gw_http1_respond(c, 204, "text/plain", h.data, "", 0, false);
	gw_buf_free(&h);
}
