/*
 * The HTTP/1.1 codec of a connection: http-parser behind the strict head
 * check of gw_head.c, size caps, one request at a time, and the responses.
 * It knows no route: each complete request goes to the callback the layer
 * above gave gw_http1_attach().
 */
#ifndef GW_HTTP1_H
#define GW_HTTP1_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "gw_types.h"

/* The headers the gateway reads; others are counted and dropped. */
enum gw_hdr {
	GW_H_UPGRADE,
	GW_H_CONNECTION,
	GW_H_WS_KEY,
	GW_H_WS_VERSION,
	GW_H_WS_PROTOCOL,
	GW_H_AUTHORIZATION,
	GW_H_X_USER_ID,
	GW_H_EXPECT,
	GW_H_TRANSFER_ENCODING,
	GW_H_ORIGIN,
	GW_H_IF_NONE_MATCH,
	GW_H_AC_REQUEST_METHOD, /* CORS preflight (gw_cors.c) */
	GW_H_AC_REQUEST_HEADERS,
	GW_H_COUNT
};

/* One parsed request, valid during the request callback only. */
struct gw_http1_req {
	int method; /* enum http_method */
	unsigned short http_major, http_minor;
	bool upgrade;    /* it asks for a protocol upgrade */
	bool has_body;   /* a body or Transfer-Encoding was announced */
	bool dup_header; /* a single-valued header came twice */
	const char *url; /* request target, not NUL-terminated */
	size_t url_len;
	char *hdr[GW_H_COUNT]; /* trimmed values, NULL when absent */
	const char *body;      /* not NUL-terminated */
	size_t body_len;
};

/* Called once per complete request; it must answer (gw_http1_respond*),
 * wait (gw_http1_wait), or switch the connection to another codec. */
typedef void (*gw_http1_request_cb)(struct gw_conn *c,
				    const struct gw_http1_req *rq);

/* Process-wide parser settings (the head size cap, max_header_bytes);
 * call once at start. */
void gw_http1_global_init(const struct gw_config *cfg);
/* Makes c speak HTTP/1.1 (its conn ops and state); requests go to cb. */
void gw_http1_attach(struct gw_conn *c, gw_http1_request_cb cb);
/* Releases c's HTTP state (at upgrade or free); idempotent. */
void gw_http1_release(struct gw_conn *c);
/* True if c is still speaking HTTP and can take a response. */
bool gw_http1_active(const struct gw_conn *c);

/* Queues one response (body copied; none for HEAD; 204 goes without
 * Content-Type and Content-Length). close: close the connection after it. */
void gw_http1_respond(struct gw_conn *c, int status, const char *ctype,
		      const char *extra, const char *body, size_t blen,
		      bool close);
/* gw_http1_respond with a Cache-Control of the caller's instead of
 * no-store (static files); a 304 sends the head only. */
void gw_http1_respond_cached(struct gw_conn *c, int status, const char *ctype,
			     const char *cache, const char *extra,
			     const char *body, size_t blen, bool close);
/* Sends j (reference stolen) as a JSON response. */
void gw_http1_respond_json(struct gw_conn *c, int status, json_t *j,
			   const char *extra, bool close);
/* Sends {"error":{"code","message"}}; code NULL = the status's own. */
void gw_http1_respond_error(struct gw_conn *c, int status, const char *code,
			    const char *msg, const char *extra, bool close);
/* The connection closes after the current response. */
void gw_http1_close_after(struct gw_conn *c);
/* The current request waits (for the registry): stop reading, keep the
 * unparsed rest, no request deadline until gw_http1_resume. */
void gw_http1_wait(struct gw_conn *c);
/* The waiting request was answered: parse the rest, read again. */
void gw_http1_resume(struct gw_conn *c);
/* True if the comma-separated header value list contains token. */
bool gw_http1_token_list_has(const char *list, const char *token);

#endif
