/*
 * HTTP/1.1 with http-parser. Per-request state lives in a struct gw_http
 * allocated at accept and released at the upgrade, so a WebSocket keeps
 * none of it. Every size is capped before it is buffered: request line
 * (414), header count and sizes (431, the total through
 * http_parser_set_max_header_size), body (413), and a request must arrive
 * within http_request_timeout_ms (408). Each request head passes the
 * strict check of gw_head.c before the parser sees it (400 for what the
 * lenient parser would frame its own way).
 *
 * One request at a time: the parser is paused at the end of each message;
 * a synchronous answer lets it continue with pipelined bytes at once,
 * while a request that waits for the registry stops reading from the
 * socket and keeps the unparsed rest until the Reply (or its deadline).
 *
 * This file knows no path: a complete request goes to the callback given
 * at attach (the router). After an upgrade the rest of the bytes goes to
 * whatever codec the handler switched the connection to, through the
 * connection's ops, so this file names no other protocol either.
 */
#include "gw_http1.h"

#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_head.h"
#include "gw_json.h"
#include "gw_server.h"
#include "prs_util.h"

#define FIELD_MAX 48

static const char *const hdr_names[GW_H_COUNT] = {
	[GW_H_UPGRADE] = "upgrade",
	[GW_H_CONNECTION] = "connection",
	[GW_H_WS_KEY] = "sec-websocket-key",
	[GW_H_WS_VERSION] = "sec-websocket-version",
	[GW_H_WS_PROTOCOL] = "sec-websocket-protocol",
	[GW_H_AUTHORIZATION] = "authorization",
	[GW_H_X_USER_ID] = "x-user-id",
	[GW_H_EXPECT] = "expect",
	[GW_H_TRANSFER_ENCODING] = "transfer-encoding",
	[GW_H_ORIGIN] = "origin",
	[GW_H_IF_NONE_MATCH] = "if-none-match",
	[GW_H_AC_REQUEST_METHOD] = "access-control-request-method",
	[GW_H_AC_REQUEST_HEADERS] = "access-control-request-headers",
};

struct gw_http {
	http_parser p;
	gw_http1_request_cb cb;
	struct gw_head head; /* the strict check of the current head */
	struct gw_http1_req rq;
	struct gw_buf url;
	struct gw_buf val;
	char field[FIELD_MAX + 1];
	size_t field_len;
	bool field_long;
	uint8_t hstate; /* 0 none, 1 in a field, 2 in a value */
	bool begun;     /* a request is being received */
	bool waiting;   /* a registry request is outstanding */
	bool keep_alive;
	uint32_t nheaders;
	uint16_t err_status;
	const char *err_msg;
	struct gw_buf body;
	struct gw_buf leftover;
};

static void process(struct gw_conn *c, const char *data, size_t len);
static void http1_input(struct gw_conn *c, const char *data, size_t len);
static void http1_tick(struct gw_conn *c, int64_t now);

static const struct gw_conn_ops http1_ops = {
	.input = http1_input,
	.tick = http1_tick,
	.release = gw_http1_release,
};

bool
gw_http1_token_list_has(const char *list, const char *token)
{
	size_t tl = strlen(token);

	while (list != NULL && *list) {
		const char *e;
		size_t n;
		while (*list == ' ' || *list == '\t' || *list == ',')
			list++;
		e = list;
		while (*e && *e != ',')
			e++;
		n = (size_t) (e - list);
		while (n > 0 && (list[n - 1] == ' ' || list[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(list, token, tl) == 0)
			return true;
		list = e;
	}
	return false;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 426:
		return "Upgrade Required";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

static const char *
status_code_name(int status)
{
	switch (status) {
	case 401:
		return "unauthorized";
	case 403:
		return "forbidden";
	case 404:
		return "not_found";
	case 413:
	case 414:
	case 431:
		return "too_large";
	case 429:
		return "rate_limited";
	case 503:
		return "unavailable";
	case 500:
		return "internal";
	default:
		return "bad_request";
	}
}

/* ---- responses ----------------------------------------------------- */

void
gw_http1_respond(struct gw_conn *c, int status, const char *ctype,
		 const char *extra, const char *body, size_t blen, bool close)
{
	gw_http1_respond_cached(c, status, ctype, "no-store", extra, body,
				blen, close);
}

void
gw_http1_respond_cached(struct gw_conn *c, int status, const char *ctype,
			const char *cache, const char *extra, const char *body,
			size_t blen, bool close)
{
	struct gw_http *h = c->http;
	struct gw_buf head = {0};

	if (c->state != GW_CONN_HTTP)
		return;
	if (h != NULL && !h->keep_alive)
		close = true;
	if (status == 204) {
		blen = 0; /* RFC 9110 §15.3.5: no content, no length */
		gw_buf_printf(&head, "HTTP/1.1 204 No Content\r\n");
	} else {
		gw_buf_printf(&head,
			      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			      "Content-Length: %zu\r\n",
			      status, status_text(status), ctype, blen);
	}
	gw_buf_printf(&head, "Cache-Control: %s\r\n%s%s\r\n", cache,
		      extra ? extra : "",
		      close ? "Connection: close\r\n" : "");
	if (gw_conn_fits(c, head.len + blen)) {
		gw_conn_send_raw(c, head.data, head.len);
		if ((h == NULL || h->p.method != HTTP_HEAD) && status != 304)
			gw_conn_send_raw(c, body, blen);
	}
	gw_buf_free(&head);
	c->srv->n_http_requests++;
	if (c->state != GW_CONN_HTTP)
		return;
	if (close)
		gw_conn_closing(c, false);
	else
		c->deadline =
			prs_mono_ms() + c->srv->cfg->http_request_timeout_ms;
}

void
gw_http1_respond_json(struct gw_conn *c, int status, json_t *j,
		      const char *extra, bool close)
{
	struct gw_buf b = {0};

	gw_json_dump(j, &b);
	json_decref(j);
	gw_http1_respond(c, status, "application/json", extra, b.data, b.len,
			 close);
	gw_buf_free(&b);
}

void
gw_http1_respond_error(struct gw_conn *c, int status, const char *code,
		       const char *msg, const char *extra, bool close)
{
	json_t *e = json_object(), *o = json_object();

	json_object_set_new(
		e, "code",
		json_string(code ? code : status_code_name(status)));
	json_object_set_new(e, "message", json_string(msg));
	json_object_set_new(o, "error", e);
	gw_http1_respond_json(c, status, o, extra, close);
}

/* ---- http-parser callbacks ----------------------------------------- */

static void
request_reset(struct gw_http *h)
{
	size_t i;

	for (i = 0; i < GW_H_COUNT; i++) {
		free(h->rq.hdr[i]);
		h->rq.hdr[i] = NULL;
	}
	gw_buf_free(&h->url);
	gw_buf_free(&h->val);
	gw_buf_free(&h->body);
	h->field_len = 0;
	h->field_long = false;
	h->hstate = 0;
	h->rq.dup_header = false;
	h->rq.has_body = false;
	h->nheaders = 0;
	h->err_status = 0;
	h->err_msg = NULL;
}

static int
fail(struct gw_http *h, uint16_t status, const char *msg)
{
	h->err_status = status;
	h->err_msg = msg;
	return -1;
}

static void
header_done(struct gw_http *h)
{
	char *v;
	size_t n, i;
	int id = -1;

	h->hstate = 0;
	if (h->field_long)
		return;
	h->field[h->field_len] = '\0';
	for (i = 0; i < GW_H_COUNT; i++) {
		if (strcasecmp(h->field, hdr_names[i]) == 0) {
			id = (int) i;
			break;
		}
	}
	if (id < 0)
		return;
	v = h->val.data ? h->val.data : (char *) "";
	n = h->val.len;
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (h->rq.hdr[id] == NULL) {
		h->rq.hdr[id] = xstrndup(v, n);
	} else if (id == GW_H_UPGRADE || id == GW_H_CONNECTION ||
		   id == GW_H_WS_PROTOCOL || id == GW_H_IF_NONE_MATCH) {
		/* List-valued: repeated headers join with commas. */
		size_t old = strlen(h->rq.hdr[id]);
		h->rq.hdr[id] = xrealloc(h->rq.hdr[id], old + n + 3);
		memcpy(h->rq.hdr[id] + old, ", ", 2);
		memcpy(h->rq.hdr[id] + old + 2, v, n);
		h->rq.hdr[id][old + 2 + n] = '\0';
	} else {
		h->rq.dup_header = true;
	}
}

static int
on_message_begin(http_parser *p)
{
	struct gw_conn *c = p->data;

	request_reset(c->http);
	c->http->begun = true;
	/* The whole request from its first byte, whatever the idle time
	 * before it. */
	c->deadline = prs_mono_ms() + c->srv->cfg->http_request_timeout_ms;
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct gw_conn *c = p->data;
	struct gw_http *h = c->http;

	if (h->url.len + len > (size_t) c->srv->cfg->max_url_bytes)
		return fail(h, 414, "request target too long");
	gw_buf_append(&h->url, at, len);
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct gw_conn *c = p->data;
	struct gw_http *h = c->http;

	if (h->hstate != 1) {
		if (h->hstate == 2)
			header_done(h);
		if (++h->nheaders > (uint64_t) c->srv->cfg->max_headers)
			return fail(h, 431, "too many headers");
		h->field_len = 0;
		h->field_long = false;
		h->hstate = 1;
	}
	if (h->field_len + len > FIELD_MAX) {
		h->field_long = true; /* not one we care about */
		return 0;
	}
	memcpy(h->field + h->field_len, at, len);
	h->field_len += len;
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct gw_conn *c = p->data;
	struct gw_http *h = c->http;

	if (h->hstate != 2) {
		gw_buf_reset(&h->val);
		h->hstate = 2;
	}
	if (h->val.len + len > (size_t) c->srv->cfg->max_header_bytes)
		return fail(h, 431, "header too large");
	gw_buf_append(&h->val, at, len);
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct gw_conn *c = p->data;
	struct gw_http *h = c->http;
	const char *expect;

	if (h->hstate == 2)
		header_done(h);
	gw_buf_free(&h->val);
	/* The parser saw the head end where the check did not: refuse
	 * rather than trust either framing. */
	if (!gw_head_done(&h->head))
		return fail(h, 400, "malformed request head");
	h->rq.has_body =
		h->rq.hdr[GW_H_TRANSFER_ENCODING] != NULL ||
		(p->content_length > 0 && p->content_length != ULLONG_MAX);
	if (p->content_length != ULLONG_MAX &&
	    p->content_length > (uint64_t) c->srv->cfg->max_body_bytes)
		return fail(h, 413, "body too large");
	expect = h->rq.hdr[GW_H_EXPECT];
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
	    !p->upgrade) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		gw_conn_send_raw(c, cont, sizeof(cont) - 1);
	}
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct gw_conn *c = p->data;
	struct gw_http *h = c->http;

	if (h->body.len + len > (size_t) c->srv->cfg->max_body_bytes)
		return fail(h, 413, "body too large");
	gw_buf_append(&h->body, at, len);
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct gw_conn *c = p->data;
	struct gw_http *h = c->http;

	h->begun = false;
	h->keep_alive = http_should_keep_alive(p) != 0;
	gw_head_reset(&h->head);
	h->rq.method = p->method;
	h->rq.http_major = p->http_major;
	h->rq.http_minor = p->http_minor;
	h->rq.upgrade = p->upgrade != 0;
	h->rq.url = h->url.data ? h->url.data : "";
	h->rq.url_len = h->url.len;
	h->rq.body = h->body.data ? h->body.data : "";
	h->rq.body_len = h->body.len;
	h->cb(c, &h->rq);
	if (!p->upgrade)
		http_parser_pause(p, 1); /* one request at a time */
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static void
parse_error(struct gw_conn *c, enum http_errno e)
{
	struct gw_http *h = c->http;

	h->keep_alive = false;
	if (h->err_status != 0)
		gw_http1_respond_error(c, h->err_status, NULL, h->err_msg,
				       NULL, true);
	else if (e == HPE_HEADER_OVERFLOW)
		gw_http1_respond_error(c, 431, NULL, "request head too large",
				       NULL, true);
	else
		gw_http1_respond_error(c, 400, NULL, http_errno_description(e),
				       NULL, true);
}

/* Feeds data to the parser, through the head check: the parser only
 * ever gets bytes the check has passed (a head up to its end, or body),
 * and bytes up to an offending one first, so a cap the parser hits
 * earlier in the same head still answers with its own status. */
static void
process(struct gw_conn *c, const char *data, size_t len)
{
	while (len > 0 && c->state == GW_CONN_HTTP) {
		struct gw_http *h = c->http;
		size_t ok = gw_head_scan(&h->head, data, len), n = 0;
		enum http_errno e = HPE_OK;

		/* Never a zero length: that tells the parser the peer ended.
		 */
		if (ok > 0) {
			n = http_parser_execute(&h->p, &settings, data, ok);
			e = HTTP_PARSER_ERRNO(&h->p);
		}
		if (c->ops != &http1_ops) {
			/* Upgraded (and maybe closing already): the rest is
			 * the new codec's. */
			gw_http1_release(c);
			if (n < len)
				gw_conn_input(c, data + n, len - n);
			return;
		}
		if (c->state != GW_CONN_HTTP)
			return;
		if (e == HPE_PAUSED) {
			http_parser_pause(&h->p, 0);
			data += n;
			len -= n;
			if (h->waiting) {
				gw_buf_append(&h->leftover, data, len);
				return;
			}
			continue;
		}
		if (e != HPE_OK) {
			parse_error(c, e);
			return;
		}
		if (h->head.err != NULL) {
			fail(h, 400, h->head.err);
			parse_error(c, e);
			return;
		}
		if (n < ok || (h->p.upgrade && !h->begun))
			return; /* after an upgrade we do not follow */
		data += n;
		len -= n;
	}
}

/* ---- entry points -------------------------------------------------- */

void
gw_http1_global_init(const struct gw_config *cfg)
{
	http_parser_set_max_header_size((uint32_t) cfg->max_header_bytes);
}

void
gw_http1_attach(struct gw_conn *c, gw_http1_request_cb cb)
{
	struct gw_http *h = xcalloc(1, sizeof(*h));

	http_parser_init(&h->p, HTTP_REQUEST);
	gw_head_reset(&h->head);
	h->p.data = c;
	h->cb = cb;
	h->keep_alive = true;
	c->http = h;
	c->ops = &http1_ops;
	c->state = GW_CONN_HTTP;
}

void
gw_http1_release(struct gw_conn *c)
{
	struct gw_http *h = c->http;

	if (h == NULL)
		return;
	request_reset(h);
	gw_buf_free(&h->leftover);
	free(h);
	c->http = NULL;
}

static void
http1_input(struct gw_conn *c, const char *data, size_t len)
{
	struct gw_http *h = c->http;

	if (h == NULL)
		return;
	if (h->waiting) {
		gw_buf_append(&h->leftover, data, len);
		return;
	}
	process(c, data, len);
}

/* The request/idle deadline of c passed (408 mid-request, else close). */
static void
http1_expired(struct gw_conn *c)
{
	struct gw_http *h = c->http;

	if (h == NULL || h->waiting)
		return;
	if (h->begun) {
		h->keep_alive = false;
		gw_http1_respond_error(c, 408, NULL,
				       "request not received in time", NULL,
				       true);
	} else {
		gw_conn_abort(c); /* idle keep-alive connection */
	}
}

void
gw_http1_resume(struct gw_conn *c)
{
	struct gw_http *h = c->http;
	struct gw_buf lo;

	h->waiting = false;
	if (c->state != GW_CONN_HTTP)
		return;
	gw_conn_resume(c);
	if (gw_buf_pending(&h->leftover) == 0)
		return;
	lo = h->leftover;
	memset(&h->leftover, 0, sizeof(h->leftover));
	process(c, gw_buf_head(&lo), gw_buf_pending(&lo));
	gw_buf_free(&lo);
}

void
gw_http1_wait(struct gw_conn *c)
{
	c->http->waiting = true;
	c->deadline = 0;
	gw_conn_pause(c);
}

void
gw_http1_close_after(struct gw_conn *c)
{
	if (c->http != NULL)
		c->http->keep_alive = false;
}

bool
gw_http1_active(const struct gw_conn *c)
{
	return c->state == GW_CONN_HTTP && c->http != NULL;
}

static void
http1_tick(struct gw_conn *c, int64_t now)
{
	if (c->deadline != 0 && now >= c->deadline)
		http1_expired(c);
}
