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
 * Routing is by decoded path segments. API callers authenticate with
 * "Authorization: Bearer" or ?token=. With auth none (development only)
 * the caller is named by ?user_id= or X-User-Id and every caller is
 * treated as an admin.
 */
#include "gw_http.h"

#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_auth.h"
#include "gw_head.h"
#include "gw_json.h"
#include "gw_reg.h"
#include "gw_server.h"
#include "gw_session.h"
#include "gw_view.h"
#include "gw_ws.h"
#include "prs_util.h"

#define FIELD_MAX   48
#define SEGS_MAX    8
#define MEMBERS_MAX 10000
#define HISTORY_MAX 1000 /* events per history request (v1.1) */
#define HISTORY_DEF 100

enum {
	H_UPGRADE,
	H_CONNECTION,
	H_WS_KEY,
	H_WS_VERSION,
	H_WS_PROTOCOL,
	H_AUTHORIZATION,
	H_X_USER_ID,
	H_EXPECT,
	H_TRANSFER_ENCODING,
	H_ORIGIN,
	H_COUNT
};

static const char *const hdr_names[H_COUNT] = {
	[H_UPGRADE] = "upgrade",
	[H_CONNECTION] = "connection",
	[H_WS_KEY] = "sec-websocket-key",
	[H_WS_VERSION] = "sec-websocket-version",
	[H_WS_PROTOCOL] = "sec-websocket-protocol",
	[H_AUTHORIZATION] = "authorization",
	[H_X_USER_ID] = "x-user-id",
	[H_EXPECT] = "expect",
	[H_TRANSFER_ENCODING] = "transfer-encoding",
	[H_ORIGIN] = "origin",
};

enum route {
	R_PRESENCE,
	R_QUERY,
	R_ONLINE,
	R_MEMBERS_GET,
	R_MEMBERS_CHANGE,
	R_SESSIONS, /* v1.1 admin API */
	R_KICK,
	R_HISTORY,
};

struct gw_http {
	http_parser p;
	struct gw_head head; /* the strict check of the current head */
	struct gw_buf url;
	struct gw_buf val;
	char field[FIELD_MAX + 1];
	size_t field_len;
	bool field_long;
	uint8_t hstate; /* 0 none, 1 in a field, 2 in a value */
	bool dup_header;
	bool begun;   /* a request is being received */
	bool waiting; /* a registry request is outstanding */
	bool keep_alive;
	bool has_body;
	uint32_t nheaders;
	uint16_t err_status;
	const char *err_msg;
	char *hdr[H_COUNT];
	struct gw_buf body;
	struct gw_buf leftover;
};

/* A request path split into percent-decoded segments. */
struct path {
	char *buf; /* room for the URL plus a NUL per segment */
	const char *seg[SEGS_MAX];
	size_t len[SEGS_MAX];
	size_t n;
	const char *query; /* raw, after '?', NULL if none */
	size_t query_len;
};

static void process(struct gw_conn *c, const char *data, size_t len);

/* ---- small helpers ------------------------------------------------- */

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

/* Splits and decodes the URL. Returns 0, or -1 for a malformed one. */
static int
path_parse(const char *url, size_t ulen, struct path *pp)
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
			if (pp->n == SEGS_MAX)
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

static bool
seg_is(const struct path *pp, size_t i, const char *s)
{
	return i < pp->n && pp->len[i] == strlen(s) &&
	       memcmp(pp->seg[i], s, pp->len[i]) == 0;
}

/* Finds key in the query string: 0 and *out (caller frees) when found,
 * 1 when absent, -1 on a bad escape. */
static int
query_get(const struct path *pp, const char *key, char **out)
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

/* An optional integer query parameter: 0 with *out (def when absent), or
 * -1 when it is malformed or outside [min, max]. */
static int
query_int(const struct path *pp, const char *key, int64_t min, int64_t max,
	  int64_t def, int64_t *out)
{
	char *v = NULL, *end;
	long long n;
	int rv = query_get(pp, key, &v);

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

/* True if the comma-separated header value list contains token. */
static bool
token_list_has(const char *list, const char *token)
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

/* A browser names the page's origin; other clients send none and are not
 * concerned (the check protects users' browsers from pages of other
 * sites, not the server from programs, which can send any header). */
static bool
origin_allowed(const char *allowed, const char *origin)
{
	if (allowed == NULL || allowed[0] == '\0' || origin == NULL)
		return true;
	return token_list_has(allowed, origin);
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

static int
code_status(const char *code)
{
	static const struct {
		const char *code;
		int status;
	} map[] = {
		{"bad_request", 400}, {"unauthorized", 401},
		{"forbidden", 403},   {"not_found", 404},
		{"too_large", 413},   {"rate_limited", 429},
		{"unavailable", 503}, {"internal", 500},
	};
	size_t i;

	for (i = 0; i < PRS_ARRAY_LEN(map); i++)
		if (strcmp(code, map[i].code) == 0)
			return map[i].status;
	return 500;
}

/* ---- responses ----------------------------------------------------- */

/* Queues one response. close: close the connection after it. */
static void
respond(struct gw_conn *c, int status, const char *ctype, const char *extra,
	const char *body, size_t blen, bool close)
{
	struct gw_http *h = c->http;
	struct gw_buf head = {0};

	if (c->state != GW_CONN_HTTP)
		return;
	if (h != NULL && !h->keep_alive)
		close = true;
	gw_buf_printf(
		&head,
		"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		"Content-Length: %zu\r\nCache-Control: no-store\r\n%s%s\r\n",
		status, status_text(status), ctype, blen, extra ? extra : "",
		close ? "Connection: close\r\n" : "");
	if (gw_conn_fits(c, head.len + blen)) {
		gw_conn_send_raw(c, head.data, head.len);
		if (h == NULL || h->p.method != HTTP_HEAD)
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

/* Sends j (reference stolen) as JSON. */
static void
respond_json(struct gw_conn *c, int status, json_t *j, const char *extra,
	     bool close)
{
	struct gw_buf b = {0};

	gw_json_dump(j, &b);
	json_decref(j);
	respond(c, status, "application/json", extra, b.data, b.len, close);
	gw_buf_free(&b);
}

static void
respond_error(struct gw_conn *c, int status, const char *code, const char *msg,
	      const char *extra, bool close)
{
	json_t *e = json_object(), *o = json_object();

	json_object_set_new(
		e, "code",
		json_string(code ? code : status_code_name(status)));
	json_object_set_new(e, "message", json_string(msg));
	json_object_set_new(o, "error", e);
	respond_json(c, status, o, extra, close);
}

/* ---- the WebSocket upgrade ----------------------------------------- */

static void
ws_upgrade(struct gw_conn *c, const struct path *pp, const char *path_user,
	   size_t path_user_len)
{
	struct gw_server *srv = c->srv;
	const struct gw_config *cfg = srv->cfg;
	struct gw_http *h = c->http;
	char accept[32], *qtok = NULL, *quser = NULL, *user = NULL;
	const char *tok, *ver = h->hdr[H_WS_VERSION];
	struct gw_buf resp = {0};
	bool admin = false;
	int64_t exp = 0;

#define FAIL(st, msg, extra)                                                  \
	do {                                                                  \
		respond_error(c, st, NULL, msg, extra, true);                 \
		goto out;                                                     \
	} while (0)

	if (h->p.method != HTTP_GET)
		FAIL(400, "a WebSocket upgrade must be a GET", NULL);
	if (h->p.http_major != 1 || h->p.http_minor < 1)
		FAIL(400, "a WebSocket upgrade needs HTTP/1.1", NULL);
	if (!token_list_has(h->hdr[H_UPGRADE], "websocket"))
		FAIL(400, "Upgrade: websocket required", NULL);
	if (!token_list_has(h->hdr[H_CONNECTION], "upgrade"))
		FAIL(400, "Connection: Upgrade required", NULL);
	if (h->has_body || h->hdr[H_TRANSFER_ENCODING] != NULL)
		FAIL(400, "a WebSocket upgrade carries no body", NULL);
	if (h->dup_header)
		FAIL(400, "duplicate header", NULL);
	if (ver == NULL)
		FAIL(400, "Sec-WebSocket-Version required", NULL);
	if (strcmp(ver, "13") != 0)
		FAIL(426, "unsupported WebSocket version",
		     "Sec-WebSocket-Version: 13\r\n");
	if (!gw_ws_key_valid(h->hdr[H_WS_KEY]))
		FAIL(400, "invalid Sec-WebSocket-Key", NULL);
	if (!origin_allowed(cfg->allowed_origins, h->hdr[H_ORIGIN]))
		FAIL(403, "origin not allowed", NULL);
	if (srv->stopping || srv->nws >= (size_t) cfg->max_connections)
		FAIL(503, "too many connections", NULL);
	if (query_get(pp, "token", &qtok) < 0 ||
	    query_get(pp, "user_id", &quser) < 0)
		FAIL(400, "malformed query string", NULL);

	if (!cfg->auth_none) {
		tok = gw_auth_bearer(h->hdr[H_AUTHORIZATION]);
		if (tok == NULL)
			tok = qtok;
		if (tok != NULL) {
			if (gw_auth_verify_exp(cfg, tok, strlen(tok), &user,
					       &admin, &exp) != 0)
				FAIL(401, "invalid token",
				     "WWW-Authenticate: Bearer\r\n");
			if (path_user != NULL &&
			    (strlen(user) != path_user_len ||
			     memcmp(user, path_user, path_user_len) != 0))
				FAIL(403, "the token is for another user",
				     NULL);
		}
	} else {
		if (path_user != NULL) {
			if (!prs_id_valid(path_user, path_user_len))
				FAIL(400, "invalid user id", NULL);
			user = xstrndup(path_user, path_user_len);
		} else if (quser != NULL) {
			if (!prs_id_valid(quser, strlen(quser)))
				FAIL(400, "invalid user id", NULL);
			user = xstrdup(quser);
		}
		admin = true;
	}

	if (gw_ws_start(c) != 0)
		FAIL(503, "out of memory", NULL);
	c->auth_user = user;
	c->auth_admin = admin;
	c->auth_exp = exp;
	user = NULL;
	gw_ws_accept_key(h->hdr[H_WS_KEY], accept);
	gw_buf_printf(
		&resp,
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
		accept,
		token_list_has(h->hdr[H_WS_PROTOCOL], "presence.v1")
			? "Sec-WebSocket-Protocol: presence.v1\r\n"
			: "");
	gw_conn_send_raw(c, resp.data, resp.len);
	gw_buf_free(&resp);
	prs_debug("conn %llu: websocket open", (unsigned long long) c->serial);
out:
#undef FAIL
	free(qtok);
	free(quser);
	free(user);
}

/* ---- the HTTP API -------------------------------------------------- */

/* Who calls: 0 with *user (caller frees; "" allowed with auth none) and
 * *admin, or -1 after answering 401/400. */
static int
api_identity(struct gw_conn *c, const struct path *pp, char **user,
	     bool *admin)
{
	const struct gw_config *cfg = c->srv->cfg;
	struct gw_http *h = c->http;
	char *q = NULL;
	const char *tok;
	int rv = -1;

	*user = NULL;
	*admin = false;
	if (cfg->auth_none) {
		if (query_get(pp, "user_id", &q) < 0) {
			respond_error(c, 400, NULL, "malformed query string",
				      NULL, false);
			return -1;
		}
		if (q == NULL && h->hdr[H_X_USER_ID] != NULL)
			q = xstrdup(h->hdr[H_X_USER_ID]);
		if (q != NULL && !prs_id_valid(q, strlen(q))) {
			free(q);
			respond_error(c, 400, NULL, "invalid user id", NULL,
				      false);
			return -1;
		}
		*user = q ? q : xstrdup("");
		*admin = true;
		return 0;
	}
	tok = gw_auth_bearer(h->hdr[H_AUTHORIZATION]);
	if (tok == NULL && query_get(pp, "token", &q) < 0) {
		respond_error(c, 400, NULL, "malformed query string", NULL,
			      false);
		return -1;
	}
	if (tok == NULL)
		tok = q;
	if (tok == NULL)
		respond_error(c, 401, NULL, "credentials required",
			      "WWW-Authenticate: Bearer\r\n", false);
	else if (gw_auth_verify_exp(cfg, tok, strlen(tok), user, admin,
				    &c->auth_exp) != 0)
		respond_error(c, 401, NULL, "invalid token",
			      "WWW-Authenticate: Bearer\r\n", false);
	else
		rv = 0;
	free(q);
	return rv;
}

static void
resume(struct gw_conn *c)
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

static json_t *
id_array(char **ids, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(ids[i]));
	return a;
}

/* v1.1: {"sessions":[{"session_id","gateway","device","since","idle"}]};
 * session_id is what the session's welcome said. */
static json_t *
sessions_json(struct gw_server *srv, const Prs__Reply *r)
{
	json_t *a = json_array();
	char sid[160];
	size_t i;

	for (i = 0; i < r->n_sessions; i++) {
		const Prs__SessionEntry *e = r->sessions[i];
		const char *gw = e->gateway ? e->gateway : "";
		json_t *o = json_object(), *dev = NULL;

		gw_session_id_format(sid, sizeof(sid), gw, e->gateway_epoch,
				     e->sid);
		if (e->device != NULL && e->device[0] != '\0')
			dev = json_string(e->device);
		json_object_set_new(o, "session_id", json_string(sid));
		json_object_set_new(o, "gateway", json_string(gw));
		json_object_set_new(o, "device", dev ? dev : json_null());
		json_object_set_new(o, "since", json_integer(e->since));
		json_object_set_new(o, "idle", json_boolean(e->idle));
		json_array_append_new(a, o);
	}
	return json_pack("{s:o}", "sessions", a);
}

/* v1.1: {"events":[{"status","is_online","at"}]}, newest first. A stored
 * status is what the user's own sessions saw; is_online follows from it
 * as in a presence object (online, away, dnd). */
static json_t *
history_json(const Prs__Reply *r)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < r->n_history; i++) {
		const Prs__HistoryRow *h = r->history[i];
		int st = (int) h->status;

		json_array_append_new(
			a, json_pack("{s:s,s:b,s:I}", "status",
				     prs_status_name(st), "is_online",
				     st == PRS__STATUS__ST_ONLINE ||
					     st == PRS__STATUS__ST_AWAY ||
					     st == PRS__STATUS__ST_DND,
				     "at", (json_int_t) h->at));
	}
	return json_pack("{s:o}", "events", a);
}

static void
api_reply_cb(struct gw_conn *c, struct gw_pending *p, const Prs__Reply *r)
{
	json_t *o, *a;
	size_t i;

	if (c->state != GW_CONN_HTTP || c->http == NULL)
		return;
	if (r == NULL) {
		respond_error(c, 503, NULL, "the registry did not answer",
			      NULL, false);
	} else if (r->error != NULL && r->error[0] != '\0') {
		int st = code_status(r->error);
		respond_error(c, st, st == 500 ? "internal" : r->error,
			      r->message && r->message[0] ? r->message
							  : r->error,
			      NULL, false);
	} else {
		switch (p->route) {
		case R_PRESENCE:
			if (r->n_users == 0) {
				respond_error(c, 404, NULL, "unknown user",
					      NULL, false);
				break;
			}
			respond_json(c, 200, gw_json_presence(r->users[0]),
				     NULL, false);
			break;
		case R_QUERY:
			a = json_array();
			for (i = 0; i < r->n_users; i++)
				json_array_append_new(
					a, gw_json_presence(r->users[i]));
			o = json_object();
			json_object_set_new(o, "users", a);
			respond_json(c, 200, o, NULL, false);
			break;
		case R_ONLINE:
			if (r->n_user_ids > 0 || r->n_users == 0) {
				a = id_array(r->user_ids, r->n_user_ids);
			} else {
				a = json_array();
				for (i = 0; i < r->n_users; i++)
					json_array_append_new(
						a,
						json_string(
							r->users[i]->user_id));
			}
			o = json_object();
			json_object_set_new(o, "online_users", a);
			respond_json(c, 200, o, NULL, false);
			break;
		case R_MEMBERS_GET:
			o = json_object();
			json_object_set_new(
				o, "user_ids",
				id_array(r->user_ids, r->n_user_ids));
			respond_json(c, 200, o, NULL, false);
			break;
		case R_SESSIONS:
			respond_json(c, 200, sessions_json(c->srv, r), NULL,
				     false);
			break;
		case R_KICK:
			respond_json(c, 200,
				     json_pack("{s:I}", "ended",
					       (json_int_t) r->ended),
				     NULL, false);
			break;
		case R_HISTORY:
			respond_json(c, 200, history_json(r), NULL, false);
			break;
		default:
			/* Membership changes answer {"ok":true}. */
			o = json_object();
			json_object_set_new(o, "ok", json_true());
			respond_json(c, 200, o, NULL, false);
			break;
		}
	}
	resume(c);
}

/* Sends rq and waits for the answer without reading further requests. */
static void
api_request(struct gw_conn *c, int route, Prs__Request *rq)
{
	struct gw_pending *p = gw_reg_request(c->srv, rq, c, api_reply_cb);

	p->route = route;
	c->http->waiting = true;
	c->deadline = 0;
	gw_conn_pause(c);
}

/* The "user_ids" of a JSON body; NULL after answering 400/413. */
static json_t *
body_ids(struct gw_conn *c, size_t max, json_t **doc)
{
	struct gw_http *h = c->http;
	json_t *v;
	const char *why;
	int rv;

	*doc = json_loadb(h->body.data ? h->body.data : "", h->body.len, 0,
			  NULL);
	if (*doc == NULL || !json_is_object(*doc)) {
		respond_error(c, 400, NULL, "expected a JSON object body",
			      NULL, false);
		return NULL;
	}
	v = json_object_get(*doc, "user_ids");
	if (v == NULL) {
		respond_error(c, 400, NULL, "user_ids is required", NULL,
			      false);
		return NULL;
	}
	rv = gw_json_ids(v, max, &why);
	if (rv != 0) {
		respond_error(c, rv == -2 ? 413 : 400, NULL, why, NULL, false);
		return NULL;
	}
	return v;
}

static char **
ids_list(json_t *v, size_t *n)
{
	char **list;
	size_t i;
	json_t *e;

	*n = json_array_size(v);
	list = xmalloc((*n ? *n : 1) * sizeof(*list));
	json_array_foreach(v, i, e) list[i] = (char *) json_string_value(e);
	return list;
}

static void
metrics(struct gw_conn *c)
{
	struct gw_server *srv = c->srv;
	struct gw_buf b = {0};
	size_t out_bytes = 0, out_mem = 0;
	const struct gw_conn *k;

	for (k = srv->conns; k != NULL; k = k->next) {
		out_bytes += gw_buf_pending(&k->out);
		out_mem += k->out.cap;
	}

	gw_buf_printf(
		&b,
		"# TYPE presence_gateway_connections gauge\n"
		"presence_gateway_connections %zu\n"
		"# TYPE presence_gateway_websockets gauge\n"
		"presence_gateway_websockets %zu\n"
		"# TYPE presence_gateway_sessions gauge\n"
		"presence_gateway_sessions %zu\n"
		"# TYPE presence_gateway_registry_ready gauge\n"
		"presence_gateway_registry_ready %d\n"
		"# TYPE presence_gateway_registry_backlog gauge\n"
		"presence_gateway_registry_backlog %zu\n"
		"# TYPE presence_gateway_accepted_total counter\n"
		"presence_gateway_accepted_total %llu\n"
		"# TYPE presence_gateway_websockets_opened_total counter\n"
		"presence_gateway_websockets_opened_total %llu\n"
		"# TYPE presence_gateway_messages_in_total counter\n"
		"presence_gateway_messages_in_total %llu\n"
		"# TYPE presence_gateway_frames_out_total counter\n"
		"presence_gateway_frames_out_total %llu\n"
		"# TYPE presence_gateway_events_total counter\n"
		"presence_gateway_events_total %llu\n"
		"# TYPE presence_gateway_http_responses_total counter\n"
		"presence_gateway_http_responses_total %llu\n"
		"# TYPE presence_gateway_slow_closed_total counter\n"
		"presence_gateway_slow_closed_total %llu\n"
		"# TYPE presence_gateway_rate_limited_total counter\n"
		"presence_gateway_rate_limited_total %llu\n"
		"# TYPE presence_gateway_resync_closed_total counter\n"
		"presence_gateway_resync_closed_total %llu\n"
		"# TYPE presence_gateway_view_repairs_total counter\n"
		"presence_gateway_view_repairs_total %llu\n"
		"# TYPE presence_gateway_view_repairs_dropped_total counter\n"
		"presence_gateway_view_repairs_dropped_total %llu\n"
		"# TYPE presence_gateway_view_records gauge\n"
		"presence_gateway_view_records %zu\n"
		"# TYPE presence_gateway_outbound_bytes gauge\n"
		"presence_gateway_outbound_bytes %zu\n"
		"# TYPE presence_gateway_outbound_buffer_bytes gauge\n"
		"presence_gateway_outbound_buffer_bytes %zu\n"
		"# TYPE presence_gateway_ws_outbound_peak_bytes gauge\n"
		"presence_gateway_ws_outbound_peak_bytes %zu\n",
		srv->nconns, srv->nws, srv->nsessions,
		gw_reg_ready(srv) ? 1 : 0, gw_reg_backlog(srv),
		(unsigned long long) srv->n_accepted,
		(unsigned long long) srv->n_ws_opened,
		(unsigned long long) srv->n_msgs_in,
		(unsigned long long) srv->n_frames_out,
		(unsigned long long) srv->n_events,
		(unsigned long long) srv->n_http_requests,
		(unsigned long long) srv->n_slow_closed,
		(unsigned long long) srv->n_rate_limited,
		(unsigned long long) srv->n_resync_closed,
		(unsigned long long) srv->n_repairs,
		(unsigned long long) srv->n_repairs_dropped,
		gw_view_count(srv), out_bytes, out_mem, srv->ws_out_peak);
	respond(c, 200, "text/plain; version=0.0.4", NULL, b.data, b.len,
		false);
	gw_buf_free(&b);
}

static void
api(struct gw_conn *c, const struct path *pp)
{
	struct gw_http *h = c->http;
	Prs__Request rq = PRS__REQUEST__INIT;
	int method = h->p.method;
	char *user = NULL, *thread = NULL, **list = NULL;
	json_t *doc = NULL, *ids;
	bool admin = false;
	int route;

#define METHOD_IS(m)                                                          \
	do {                                                                  \
		if (method != (m)) {                                          \
			respond_error(c, 405, NULL, "method not allowed",     \
				      NULL, false);                           \
			goto out;                                             \
		}                                                             \
	} while (0)

	/* /v1/users/{id}/presence */
	if (pp->n == 4 && seg_is(pp, 1, "users") &&
	    seg_is(pp, 3, "presence")) {
		METHOD_IS(HTTP_GET);
		if (api_identity(c, pp, &user, &admin) != 0)
			goto out;
		if (!prs_id_valid(pp->seg[2], pp->len[2])) {
			respond_error(c, 400, NULL, "invalid user id", NULL,
				      false);
			goto out;
		}
		route = R_PRESENCE;
		rq.op = PRS__OP__OP_QUERY;
		list = xmalloc(sizeof(*list));
		list[0] = (char *) pp->seg[2];
		rq.n_user_ids = 1;
	} else if (pp->n == 3 && seg_is(pp, 1, "presence") &&
		   seg_is(pp, 2, "query")) {
		METHOD_IS(HTTP_POST);
		if (api_identity(c, pp, &user, &admin) != 0)
			goto out;
		if ((ids = body_ids(c, GW_IDS_MAX, &doc)) == NULL)
			goto out;
		route = R_QUERY;
		rq.op = PRS__OP__OP_QUERY;
		list = ids_list(ids, &rq.n_user_ids);
	} else if (pp->n == 2 && seg_is(pp, 1, "online")) {
		METHOD_IS(HTTP_GET);
		if (api_identity(c, pp, &user, &admin) != 0)
			goto out;
		if (query_get(pp, "thread_id", &thread) < 0 ||
		    (thread != NULL &&
		     !prs_id_valid(thread, strlen(thread)))) {
			respond_error(c, 400, NULL, "invalid thread id", NULL,
				      false);
			goto out;
		}
		if (thread == NULL && !admin) {
			respond_error(c, 403, NULL,
				      "only an admin may list everyone online",
				      NULL, false);
			goto out;
		}
		route = R_ONLINE;
		rq.op = PRS__OP__OP_LIST_ONLINE;
	} else if ((pp->n == 4 || pp->n == 5) && seg_is(pp, 1, "threads") &&
		   seg_is(pp, 3, "members")) {
		if (pp->n == 5)
			METHOD_IS(HTTP_DELETE);
		else if (method != HTTP_GET && method != HTTP_PUT &&
			 method != HTTP_POST)
			METHOD_IS(HTTP_GET);
		if (api_identity(c, pp, &user, &admin) != 0)
			goto out;
		if (!admin) {
			respond_error(c, 403, NULL, "admin only", NULL, false);
			goto out;
		}
		if (!prs_id_valid(pp->seg[2], pp->len[2])) {
			respond_error(c, 400, NULL, "invalid thread id", NULL,
				      false);
			goto out;
		}
		thread = xstrndup(pp->seg[2], pp->len[2]);
		route = R_MEMBERS_CHANGE;
		if (pp->n == 5) {
			if (!prs_id_valid(pp->seg[4], pp->len[4])) {
				respond_error(c, 400, NULL, "invalid user id",
					      NULL, false);
				goto out;
			}
			rq.op = PRS__OP__OP_MEMBERS_DEL;
			list = xmalloc(sizeof(*list));
			list[0] = (char *) pp->seg[4];
			rq.n_user_ids = 1;
		} else if (method == HTTP_GET) {
			route = R_MEMBERS_GET;
			rq.op = PRS__OP__OP_MEMBERS_GET;
		} else {
			if ((ids = body_ids(c, MEMBERS_MAX, &doc)) == NULL)
				goto out;
			rq.op = method == HTTP_PUT ? PRS__OP__OP_MEMBERS_SET
						   : PRS__OP__OP_MEMBERS_ADD;
			list = ids_list(ids, &rq.n_user_ids);
		}
	} else if (pp->n == 4 && seg_is(pp, 1, "users") &&
		   seg_is(pp, 3, "sessions")) {
		/* v1.1: list (GET) or end (DELETE) a user's sessions */
		if (method != HTTP_DELETE)
			METHOD_IS(HTTP_GET);
		if (api_identity(c, pp, &user, &admin) != 0)
			goto out;
		if (!admin) {
			respond_error(c, 403, NULL, "admin only", NULL, false);
			goto out;
		}
		if (!prs_id_valid(pp->seg[2], pp->len[2])) {
			respond_error(c, 400, NULL, "invalid user id", NULL,
				      false);
			goto out;
		}
		route = method == HTTP_GET ? R_SESSIONS : R_KICK;
		rq.op = method == HTTP_GET ? PRS__OP__OP_SESSIONS
					   : PRS__OP__OP_KICK;
		list = xmalloc(sizeof(*list));
		list[0] = (char *) pp->seg[2];
		rq.n_user_ids = 1;
	} else if (pp->n == 4 && seg_is(pp, 1, "users") &&
		   seg_is(pp, 3, "history")) {
		/* v1.1: stored presence changes, admin or the user */
		int64_t since, limit;
		METHOD_IS(HTTP_GET);
		if (api_identity(c, pp, &user, &admin) != 0)
			goto out;
		if (!prs_id_valid(pp->seg[2], pp->len[2])) {
			respond_error(c, 400, NULL, "invalid user id", NULL,
				      false);
			goto out;
		}
		if (!admin && (strlen(user) != pp->len[2] ||
			       memcmp(user, pp->seg[2], pp->len[2]) != 0)) {
			respond_error(c, 403, NULL,
				      "only an admin or the user may read "
				      "the history",
				      NULL, false);
			goto out;
		}
		if (query_int(pp, "since", 0, INT64_MAX, 0, &since) != 0) {
			respond_error(c, 400, NULL,
				      "since must be a time in ms since the "
				      "epoch",
				      NULL, false);
			goto out;
		}
		if (query_int(pp, "limit", 1, HISTORY_MAX, HISTORY_DEF,
			      &limit) != 0) {
			respond_error(c, 400, NULL,
				      "limit must be an integer from 1 to "
				      "1000",
				      NULL, false);
			goto out;
		}
		route = R_HISTORY;
		rq.op = PRS__OP__OP_HISTORY;
		rq.since = since;
		rq.limit = (uint32_t) limit;
		list = xmalloc(sizeof(*list));
		list[0] = (char *) pp->seg[2];
		rq.n_user_ids = 1;
	} else if (pp->n == 2 &&
		   (seg_is(pp, 1, "heartbeat") || seg_is(pp, 1, "logout"))) {
		json_t *o;
		METHOD_IS(HTTP_POST);
		if (api_identity(c, pp, &user, &admin) != 0)
			goto out;
		if (user[0] == '\0') {
			respond_error(c, 400, NULL, "user_id required", NULL,
				      false);
			goto out;
		}
		o = json_object();
		json_object_set_new(o, "success", json_true());
		if (seg_is(pp, 1, "logout")) {
			gw_session_http_logout(c->srv, user);
		} else if (gw_session_http_heartbeat(c->srv, user,
						     c->auth_exp) != 0) {
			json_decref(o);
			respond_error(c, 503, NULL, "registry unavailable",
				      NULL, false);
			goto out;
		} else {
			json_object_set_new(o, "last_seen",
					    json_integer(prs_now_ms()));
		}
		respond_json(c, 200, o, NULL, false);
		goto out;
	} else {
		respond_error(c, 404, NULL, "no such endpoint", NULL, false);
		goto out;
	}
#undef METHOD_IS

	if (!gw_reg_ready(c->srv)) {
		respond_error(c, 503, NULL, "registry unavailable", NULL,
			      false);
		goto out;
	}
	rq.sid = 0;
	rq.admin = admin;
	rq.user_id = user;
	rq.thread_id = thread ? thread : (char *) "";
	if (list != NULL)
		rq.user_ids = list;
	api_request(c, route, &rq);
out:
	free(list);
	free(thread);
	free(user);
	json_decref(doc);
}

static void
route(struct gw_conn *c)
{
	struct gw_http *h = c->http;
	struct path *pp = xcalloc(1, sizeof(*pp));
	int method = h->p.method;

	pp->buf = xmalloc(h->url.len + SEGS_MAX + 1);
	if (path_parse(h->url.data ? h->url.data : "", h->url.len, pp) != 0) {
		respond_error(c, 400, NULL, "malformed request target", NULL,
			      true);
		goto out;
	}
	if (pp->n == 2 && seg_is(pp, 0, "v1") && seg_is(pp, 1, "ws")) {
		ws_upgrade(c, pp, NULL, 0);
		goto out;
	}
	if (pp->n == 3 && seg_is(pp, 0, "ws") && seg_is(pp, 1, "presence") &&
	    pp->len[2] > 0) {
		ws_upgrade(c, pp, pp->seg[2], pp->len[2]);
		goto out;
	}
	if (h->p.upgrade) {
		/* An upgrade to something we do not speak: answer, and
		 * close, since what follows is not HTTP. */
		h->keep_alive = false;
	}
	if (pp->n == 1 &&
	    (seg_is(pp, 0, "healthz") || seg_is(pp, 0, "readyz") ||
	     seg_is(pp, 0, "metrics"))) {
		if (method != HTTP_GET && method != HTTP_HEAD) {
			respond_error(c, 405, NULL, "method not allowed", NULL,
				      false);
		} else if (seg_is(pp, 0, "metrics")) {
			metrics(c);
		} else if (seg_is(pp, 0, "healthz")) {
			respond_json(c, 200,
				     json_pack("{s:s}", "status", "ok"), NULL,
				     false);
		} else if (gw_reg_ready(c->srv)) {
			respond_json(c, 200,
				     json_pack("{s:s}", "status", "ready"),
				     NULL, false);
		} else {
			respond_error(c, 503, NULL,
				      "not connected to the registry", NULL,
				      false);
		}
		goto out;
	}
	if (pp->n >= 2 && seg_is(pp, 0, "v1")) {
		api(c, pp);
		goto out;
	}
	respond_error(c, 404, NULL, "no such endpoint", NULL, false);
out:
	free(pp->buf);
	free(pp);
}

/* ---- http-parser callbacks ----------------------------------------- */

static void
request_reset(struct gw_http *h)
{
	size_t i;

	for (i = 0; i < H_COUNT; i++) {
		free(h->hdr[i]);
		h->hdr[i] = NULL;
	}
	gw_buf_free(&h->url);
	gw_buf_free(&h->val);
	gw_buf_free(&h->body);
	h->field_len = 0;
	h->field_long = false;
	h->hstate = 0;
	h->dup_header = false;
	h->has_body = false;
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
	for (i = 0; i < H_COUNT; i++) {
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
	if (h->hdr[id] == NULL) {
		h->hdr[id] = xstrndup(v, n);
	} else if (id == H_UPGRADE || id == H_CONNECTION ||
		   id == H_WS_PROTOCOL) {
		/* List-valued: repeated headers join with commas. */
		size_t old = strlen(h->hdr[id]);
		h->hdr[id] = xrealloc(h->hdr[id], old + n + 3);
		memcpy(h->hdr[id] + old, ", ", 2);
		memcpy(h->hdr[id] + old + 2, v, n);
		h->hdr[id][old + 2 + n] = '\0';
	} else {
		h->dup_header = true;
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
	h->has_body =
		h->hdr[H_TRANSFER_ENCODING] != NULL ||
		(p->content_length > 0 && p->content_length != ULLONG_MAX);
	if (p->content_length != ULLONG_MAX &&
	    p->content_length > (uint64_t) c->srv->cfg->max_body_bytes)
		return fail(h, 413, "body too large");
	expect = h->hdr[H_EXPECT];
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
	route(c);
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
		respond_error(c, h->err_status, NULL, h->err_msg, NULL, true);
	else if (e == HPE_HEADER_OVERFLOW)
		respond_error(c, 431, NULL, "request head too large", NULL,
			      true);
	else
		respond_error(c, 400, NULL, http_errno_description(e), NULL,
			      true);
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
		if (c->state == GW_CONN_WS) {
			/* Upgraded: the rest is WebSocket bytes. */
			gw_http_free(c);
			if (n < len)
				gw_ws_input(c, (const uint8_t *) data + n,
					    len - n);
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
gw_http_global_init(const struct gw_config *cfg)
{
	http_parser_set_max_header_size((uint32_t) cfg->max_header_bytes);
}

void
gw_http_attach(struct gw_conn *c)
{
	struct gw_http *h = xcalloc(1, sizeof(*h));

	http_parser_init(&h->p, HTTP_REQUEST);
	gw_head_reset(&h->head);
	h->p.data = c;
	h->keep_alive = true;
	c->http = h;
}

void
gw_http_free(struct gw_conn *c)
{
	struct gw_http *h = c->http;

	if (h == NULL)
		return;
	request_reset(h);
	gw_buf_free(&h->leftover);
	free(h);
	c->http = NULL;
}

void
gw_http_input(struct gw_conn *c, const char *data, size_t len)
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

void
gw_http_expired(struct gw_conn *c)
{
	struct gw_http *h = c->http;

	if (h == NULL || h->waiting)
		return;
	if (h->begun) {
		h->keep_alive = false;
		respond_error(c, 408, NULL, "request not received in time",
			      NULL, true);
	} else {
		gw_conn_abort(c); /* idle keep-alive connection */
	}
}
