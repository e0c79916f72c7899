/*
 * The Engine.IO side of the Socket.IO drop-in (docs/MIGRATING.md,
 * "Socket.IO"): Engine.IO 4 sessions at socketio_path (struct sio,
 * gw_sio.h), their output and their end, the Engine.IO packets, the two
 * transports (HTTP long-polling and WebSocket) and the upgrade from one to
 * the other, and the cron. What MESSAGE packets carry, Socket.IO packets,
 * goes to gw_fe_sio.c (gw_sio_message); packets are parsed and built by
 * the pure codec gw_eio.c.
 *
 * Transports. An Engine.IO session moves between connections: polling
 * requests arrive on any connection, a WebSocket may take over (the
 * upgrade), and a WebSocket-only client has one from the start. So the
 * session, not a connection, holds the output: while polling, packets wait
 * in e->out (joined by \x1e) for the next GET, which is held (the HTTP
 * codec stops reading that connection) until there is something to send;
 * the ping every pingInterval bounds the hold. Registry replies find the
 * session by its key (gw_reg_request_key), never through a connection.
 * Connections point back at their session through c->fe_data while they
 * carry it (a held GET, the WebSocket), and the session forgets them when
 * they leave (WebSocket) or are freed (gw_fe conn_free op).
 *
 * Upgrade (engine.io's order): the probe WebSocket sends 2probe, we answer
 * 3probe and answer the held GET (and any GET until the upgrade) at once,
 * with a noop when nothing waits, so the client can pause polling; then
 * 5 moves the session to the WebSocket and what waited goes out there.
 *
 * Lifetime: a session that ends leaves the tables at once (its id is
 * unknown from then on; a polling one that still has packets to deliver
 * first drains them, see gw_sio_close) and is freed from the next tick,
 * never inside a callback that may still hold it.
 *
 * Limits (PROTOCOL.md §7): max_body_bytes bounds a POST and
 * max_message_bytes a WebSocket message (maxPayload advertises the
 * smaller); at most SIO_POST_PACKETS packets per POST; the waiting output
 * of a polling session is bounded by max_outbound_bytes like a
 * connection's; Socket.IO messages pass the v1 token bucket; Engine.IO
 * sessions count against max_connections; the Socket.IO CONNECT must come
 * within hello_timeout_ms. A malformed packet ends that Engine.IO session
 * (400 to the POST that carried it, or the WebSocket closed).
 */
#include "gw_sio.h"

#include <errno.h>
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "gw_auth.h"
#include "gw_cors.h"
#include "gw_eio.h"
#include "gw_fe_sio.h"
#include "gw_server.h"
#include "gw_upgrade.h"
#include "gw_ws.h"
#include "prs_util.h"

#define SIO_POST_PACKETS 2000  /* Engine.IO packets in one POST body */
#define SIO_UPGRADE_MS   10000 /* a probe must upgrade by then (engine.io) */

/* Engine.IO error codes (engine.io's Server.errors). */
enum {
	EIO_E_TRANSPORT = 0, /* Transport unknown */
	EIO_E_SID = 1,       /* Session ID unknown */
	EIO_E_METHOD = 2,    /* Bad handshake method */
	EIO_E_REQUEST = 3,   /* Bad request */
	EIO_E_VERSION = 5,   /* Unsupported protocol version */
};

static const struct gw_ws_handler sio_ws_handler;

static struct gw_sio *
sio_state(struct gw_server *srv)
{
	if (srv->sio == NULL)
		srv->sio = xcalloc(1, sizeof(*srv->sio));
	return srv->sio;
}

/* ---- ids ----------------------------------------------------------- */

/* A random id of SIO_ID_LEN base64url characters (120 bits). */
void
gw_sio_random_id(char out[SIO_ID_LEN + 1])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
		"stuvwxyz0123456789-_";
	unsigned char raw[SIO_ID_LEN];
	size_t got = 0, i;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0) {
			PRS_ASSERT(errno == EINTR);
			continue;
		}
		got += (size_t) n;
	}
	for (i = 0; i < SIO_ID_LEN; i++)
		out[i] = b64[raw[i] & 63];
	out[SIO_ID_LEN] = '\0';
}

/* ---- sessions ------------------------------------------------------ */

static struct sio *
sio_new(struct gw_server *srv, bool websocket, const char *token)
{
	struct gw_sio *st = sio_state(srv);
	struct sio *e = xcalloc(1, sizeof(*e)), *dup;
	int64_t now = prs_mono_ms();

	do {
		gw_sio_random_id(e->id);
		HASH_FIND_STR(st->by_id, e->id, dup);
	} while (dup != NULL);
	e->srv = srv;
	e->key = ++st->next_key;
	e->websocket = websocket;
	e->online_ack = -1;
	e->token = token ? xstrdup(token) : NULL;
	e->next_ping = now + srv->cfg->socketio_ping_interval_ms;
	e->connect_by = now + srv->cfg->hello_timeout_ms;
	HASH_ADD_STR(st->by_id, id, e);
	HASH_ADD(hh_key, st->by_key, key, sizeof(e->key), e);
	st->n++;
	if (!websocket)
		st->npolling++;
	return e;
}

static struct sio *
sio_find(struct gw_server *srv, const char *id)
{
	struct sio *e = NULL;

	if (srv->sio != NULL && strlen(id) == SIO_ID_LEN)
		HASH_FIND_STR(srv->sio->by_id, id, e);
	return e;
}

struct sio *
gw_sio_find_key(struct gw_server *srv, uint64_t key)
{
	struct sio *e = NULL;

	if (srv->sio != NULL)
		HASH_FIND(hh_key, srv->sio->by_key, &key, sizeof(key), e);
	return e;
}

static void
sio_free(struct sio *e)
{
	gw_buf_free(&e->out);
	free(e->poll_cors);
	free(e->token);
	free(e->user);
	free(e);
}

static void
sio_ws_detach(struct sio *e, struct gw_conn *c)
{
	if (e->ws == c)
		e->ws = NULL;
	c->fe_data = NULL;
	c->fe = NULL;
}

/* ---- output -------------------------------------------------------- */

/* Answers the held GET with what waits (a noop when nothing does and
 * noop is set, else it stays held). */
static void
sio_poll_answer(struct sio *e, bool noop)
{
	struct gw_conn *c = e->poll;
	size_t n = gw_buf_pending(&e->out);

	if (c == NULL || (n == 0 && !noop))
		return;
	e->poll = NULL;
	c->fe_data = NULL;
	c->fe = NULL;
	if (!gw_http1_active(c))
		return; /* it died: the packets wait for the next GET */
	if (n == 0)
		gw_http1_respond(c, 200, "text/plain; charset=UTF-8",
				 e->poll_cors, "6", 1, false);
	else
		gw_http1_respond(c, 200, "text/plain; charset=UTF-8",
				 e->poll_cors, gw_buf_head(&e->out), n, false);
	gw_buf_consume(&e->out, n);
	gw_http1_resume(c);
}

/* Queues one Engine.IO packet to a polling e (no flush yet). False when
 * e cannot take it: its queue is full, and then it ends as a slow reader
 * (PROTOCOL.md §7), as a connection would. */
bool
gw_sio_queue(struct sio *e, const char *pkt, size_t len)
{
	const struct gw_config *cfg = e->srv->cfg;

	if (gw_buf_pending(&e->out) + len + 1 >
	    (size_t) cfg->max_outbound_bytes) {
		e->srv->n_slow_closed++;
		prs_info("socket.io %s: output queue over %lld bytes, closing",
			 e->id, (long long) cfg->max_outbound_bytes);
		gw_sio_close(e, false);
		return false;
	}
	/* our own packets never hold \x1e (JSON escapes it) */
	return gw_eio_payload_add(&e->out, pkt, len) == 0;
}

/* Queues one Engine.IO packet to e on its transport (no flush yet). */
static bool
sio_send(struct sio *e, const char *pkt, size_t len)
{
	if (e->closed)
		return false;
	if (e->websocket)
		return e->ws != NULL && gw_ws_send_text(e->ws, pkt, len);
	if (!gw_sio_queue(e, pkt, len))
		return false;
	e->srv->n_frames_out++;
	return true;
}

/* Sends what waits: the held GET is answered (at once during an
 * upgrade); a WebSocket's output is flushed before the loop sleeps. */
void
gw_sio_flush(struct sio *e)
{
	if (e->closed)
		return;
	if (e->websocket) {
		if (e->ws != NULL)
			gw_conn_flush_later(e->ws);
		return;
	}
	sio_poll_answer(e, e->probing);
}

/* Sends the packet that scratch holds. */
void
gw_sio_send_buf(struct sio *e, struct gw_buf *b)
{
	sio_send(e, gw_buf_head(b), gw_buf_pending(b));
	gw_buf_reset(b);
}

/* ---- ending -------------------------------------------------------- */

/* Takes e out of the tables (its id is unknown from now on) and queues
 * it to be freed; a held GET gets the close packet. */
static void
sio_finish(struct sio *e)
{
	struct gw_sio *st = e->srv->sio;

	e->finished = true;
	HASH_DEL(st->by_id, e);
	HASH_DELETE(hh_key, st->by_key, e);
	st->n--;
	if (!e->websocket)
		st->npolling--;
	if (e->poll != NULL) {
		gw_eio_payload_add(&e->out, "1", 1); /* the close packet */
		sio_poll_answer(e, false);
	}
	e->free_next = st->freeq;
	st->freeq = e;
}

/* Ends e: its presence session (clean: userOffline or a kick; else grace
 * applies) and its transports (a WebSocket gets its close frame). A
 * polling session with packets still waiting (a kick's DISCONNECT, an
 * error event) drains first, as engine.io does: a GET takes them, and
 * only the next GET gets the close packet; the client reads a close
 * packet before the Socket.IO packets of the same answer, so it would
 * see a transport close (and reconnect) instead of the DISCONNECT. The
 * drain lasts pingTimeout at most; nothing new is sent meanwhile. */
void
gw_sio_close(struct sio *e, bool clean)
{
	struct gw_conn *ws = e->ws;

	if (e->closed)
		return;
	e->closed = true;
	prs_debug("socket.io %s ends (%s)", e->id,
		  clean ? "clean" : "unclean");
	gw_sio_sess_end(e, clean);
	gw_sio_observe_update(e);
	if (ws != NULL) {
		sio_ws_detach(e, ws);
		if (e->failed)
			gw_ws_close(ws, 1002, "malformed packet", false);
		else
			gw_ws_close(ws, 1000, NULL, false);
	}
	if (!e->websocket && !e->failed && !e->srv->stopping &&
	    gw_buf_pending(&e->out) > 0) {
		e->drain_by =
			prs_mono_ms() + e->srv->cfg->socketio_ping_timeout_ms;
		sio_poll_answer(e, false);
		return;
	}
	sio_finish(e);
}

/* A malformed or unexpected packet: e ends (never others). */
void
gw_sio_fail(struct sio *e, const char *why)
{
	prs_debug("socket.io %s: %s", e->id, why);
	e->failed = true;
	gw_sio_close(e, false);
}

/* ---- Engine.IO packets --------------------------------------------- */

static void
sio_packet(struct sio *e, const struct gw_eio_packet *p)
{
	switch (p->type) {
	case GW_EIO_PONG:
		e->pong_by = 0;
		e->next_ping =
			prs_mono_ms() + e->srv->cfg->socketio_ping_interval_ms;
		break;
	case GW_EIO_MESSAGE:
		gw_sio_message(e, p->data, p->len);
		break;
	case GW_EIO_CLOSE:
		gw_sio_close(e, false);
		break;
	case GW_EIO_NOOP:
		break;
	default: /* open, ping (the server pings in v4), upgrade */
		gw_sio_fail(e, "unexpected Engine.IO packet");
		break;
	}
}

/* ---- the WebSocket transport --------------------------------------- */

/* The probe said 5: the session moves to its WebSocket. A held GET gets
 * a noop (the client no longer reads polling answers), and what waited
 * goes out on the WebSocket, one packet per frame. */
static void
sio_upgrade(struct sio *e)
{
	struct gw_buf q = e->out;
	const char *p, *end, *sep;

	memset(&e->out, 0, sizeof(e->out));
	sio_poll_answer(e, true);
	e->websocket = true;
	e->probing = false;
	e->upgrade_by = 0;
	e->srv->sio->npolling--;
	p = gw_buf_pending(&q) > 0 ? gw_buf_head(&q) : NULL;
	end = p != NULL ? p + gw_buf_pending(&q) : NULL;
	while (p < end && !e->closed) {
		sep = memchr(p, GW_EIO_SEP, (size_t) (end - p));
		if (sep == NULL)
			sep = end;
		sio_send(e, p, (size_t) (sep - p));
		p = sep + 1;
	}
	gw_buf_free(&q);
	prs_debug("socket.io %s: upgraded to WebSocket", e->id);
}

/* A packet on the probe WebSocket c, before the upgrade. */
static void
sio_probe_packet(struct sio *e, struct gw_conn *c,
		 const struct gw_eio_packet *p)
{
	if (gw_eio_is_probe(p) && !e->probing) {
		e->probing = true;
		gw_ws_send_text(c, "3probe", 6);
		sio_poll_answer(e, true); /* the client pauses polling */
		return;
	}
	if (p->type == GW_EIO_UPGRADE && e->probing) {
		sio_upgrade(e);
		return;
	}
	/* anything else: no upgrade; the session goes on polling */
	sio_ws_detach(e, c);
	e->probing = false;
	e->upgrade_by = 0;
	gw_ws_close(c, 1002, "unexpected packet during upgrade", false);
}

static void
sio_ws_message(struct gw_conn *c, const uint8_t *msg, size_t len)
{
	struct sio *e = c->fe_data;
	struct gw_eio_packet p;
	int rc;

	if (e == NULL || e->closed) {
		gw_ws_close(c, 1000, NULL, false);
		return;
	}
	rc = gw_eio_parse((const char *) msg, len, &p);
	if (!e->websocket) {
		if (rc != 0)
			p.type = GW_EIO_OPEN; /* refused like any other */
		sio_probe_packet(e, c, &p);
		return;
	}
	if (rc != 0)
		gw_sio_fail(e, gw_eio_strerror(rc));
	else
		sio_packet(e, &p);
}

/* The WebSocket c leaves: the session's transport is lost (unclean end,
 * grace applies), or a probe went away and polling goes on. */
static void
sio_ws_leave(struct gw_conn *c, bool clean)
{
	struct sio *e = c->fe_data;

	if (e == NULL)
		return;
	sio_ws_detach(e, c);
	if (e->websocket) {
		gw_sio_close(e, false);
	} else {
		e->probing = false;
		e->upgrade_by = 0;
	}
}

static const struct gw_ws_handler sio_ws_handler = {
	.message = sio_ws_message,
	.leave = sio_ws_leave,
};

/* ---- HTTP ---------------------------------------------------------- */

/* Answers an Engine.IO error: status with {"code","message"}. */
static void
sio_http_error(struct gw_conn *c, const char *cors, int status, int code,
	       const char *msg, bool close)
{
	struct gw_buf b = {0};

	gw_buf_printf(&b, "{\"code\":%d,\"message\":\"%s\"}", code, msg);
	gw_http1_respond(c, status, "application/json", cors, b.data, b.len,
			 close);
	gw_buf_free(&b);
}

/* The credentials of a handshake (auth jwt): Authorization: Bearer, else
 * ?token=. NULL when none (or auth none). Caller frees. */
static char *
sio_http_token(struct gw_conn *c, const struct gw_http1_req *rq,
	       const struct gw_path *pp)
{
	const char *tok = gw_auth_bearer(rq->hdr[GW_H_AUTHORIZATION]);
	char *q = NULL;

	if (c->srv->cfg->auth_none)
		return NULL;
	if (tok != NULL)
		return xstrdup(tok);
	if (gw_path_query(pp, "token", &q) != 0)
		return NULL;
	return q;
}

/* Whether another Engine.IO session fits under max_connections. */
static bool
sio_room(struct gw_server *srv)
{
	return !srv->stopping && srv->nws + gw_sio_polling(srv) <
					 (size_t) srv->cfg->max_connections;
}

static int64_t
sio_max_payload(const struct gw_config *cfg)
{
	return cfg->max_body_bytes < cfg->max_message_bytes
		       ? cfg->max_body_bytes
		       : cfg->max_message_bytes;
}

/* The open packet of e into b. */
static void
sio_open_packet(struct sio *e, struct gw_buf *b)
{
	const struct gw_config *cfg = e->srv->cfg;
	struct gw_eio_open o = {
		.sid = e->id,
		.upgrade_websocket = !e->websocket,
		.ping_interval_ms = cfg->socketio_ping_interval_ms,
		.ping_timeout_ms = cfg->socketio_ping_timeout_ms,
		.max_payload = sio_max_payload(cfg),
	};

	gw_buf_reset(b);
	gw_eio_open_encode(b, &o);
}

/* GET without sid: a new polling session, answered with its open packet. */
static void
sio_handshake(struct gw_conn *c, const struct gw_http1_req *rq,
	      const struct gw_path *pp, const char *cors)
{
	struct gw_server *srv = c->srv;
	struct gw_buf *b = &srv->scratch;
	struct sio *e;
	char *tok;

	if (rq->method != HTTP_GET) {
		sio_http_error(c, cors, 400, EIO_E_METHOD,
			       "Bad handshake method", false);
		return;
	}
	if (!sio_room(srv)) {
		sio_http_error(c, cors, 503, EIO_E_REQUEST,
			       "too many connections", false);
		return;
	}
	tok = sio_http_token(c, rq, pp);
	e = sio_new(srv, false, tok);
	free(tok);
	sio_open_packet(e, b);
	gw_http1_respond(c, 200, "text/plain; charset=UTF-8", cors, b->data,
			 b->len, false);
	gw_buf_reset(b);
	prs_debug("socket.io %s: polling session", e->id);
}

/* GET with sid: held until something is to be sent (at once during an
 * upgrade). A second GET while one is held ends the session. */
static void
sio_get(struct gw_conn *c, struct sio *e, const char *cors)
{
	if (e->closed && e->poll == NULL) {
		/* draining (gw_sio_close): what waits, then the close packet
		 */
		gw_http1_wait(c);
		e->poll = c;
		c->fe = &gw_fe_sio;
		c->fe_data = e;
		free(e->poll_cors);
		e->poll_cors = xstrdup(cors ? cors : "");
		if (gw_buf_pending(&e->out) > 0)
			sio_poll_answer(e, false);
		else
			sio_finish(e);
		return;
	}
	if (e->websocket || e->closed) {
		sio_http_error(c, cors, 400, EIO_E_REQUEST, "Bad request",
			       false);
		return;
	}
	if (e->poll != NULL) {
		gw_sio_fail(e, "overlapping GET");
		sio_http_error(c, cors, 400, EIO_E_REQUEST, "Bad request",
			       false);
		return;
	}
	gw_http1_wait(c);
	e->poll = c;
	c->fe = &gw_fe_sio;
	c->fe_data = e;
	free(e->poll_cors);
	e->poll_cors = xstrdup(cors ? cors : "");
	sio_poll_answer(e, e->probing);
}

/* POST with sid: the client's packets, \x1e-joined. A malformed payload
 * ends the session (400). */
static void
sio_post(struct gw_conn *c, const struct gw_http1_req *rq, struct sio *e,
	 const char *cors)
{
	struct gw_eio_iter it;
	struct gw_eio_packet pkt;
	size_t n = 0;
	int rc;

	if (e->websocket) {
		sio_http_error(c, cors, 400, EIO_E_REQUEST, "Bad request",
			       false);
		return;
	}
	if (e->closed) { /* draining: the client's last words */
		gw_http1_respond(c, 200, "text/plain; charset=UTF-8", cors,
				 "ok", 2, false);
		return;
	}
	/* the whole payload is checked before any packet acts */
	gw_eio_iter_init(&it, rq->body, rq->body_len);
	while ((rc = gw_eio_iter_next(&it, &pkt)) == 1)
		if (++n > SIO_POST_PACKETS) {
			rc = GW_EIO_ETOOMANY;
			break;
		}
	if (rc != 0)
		gw_sio_fail(e, gw_eio_strerror(rc));
	gw_eio_iter_init(&it, rq->body, rq->body_len);
	while (!e->closed && gw_eio_iter_next(&it, &pkt) == 1)
		sio_packet(e, &pkt);
	if (e->failed) {
		sio_http_error(c, cors, 400, EIO_E_REQUEST, "Bad request",
			       false);
		return;
	}
	gw_http1_respond(c, 200, "text/plain; charset=UTF-8", cors, "ok", 2,
			 false);
	gw_sio_flush(e);
}

/* An upgrade: a WebSocket-only session (no sid) or the probe of a
 * polling one. Refusals close the connection (what follows is not HTTP);
 * a second WebSocket for a session that has one is accepted and closed. */
static void
sio_ws_request(struct gw_conn *c, const struct gw_http1_req *rq,
	       const struct gw_path *pp, const char *sid, const char *cors)
{
	struct gw_server *srv = c->srv;
	struct sio *e = NULL;
	char *tok;

	if (sid != NULL && ((e = sio_find(srv, sid)) == NULL || e->closed)) {
		sio_http_error(c, cors, 400, EIO_E_SID, "Session ID unknown",
			       true);
		return;
	}
	if (gw_upgrade_check(c, rq) != 0)
		return;
	if (e == NULL && !sio_room(srv)) {
		sio_http_error(c, cors, 503, EIO_E_REQUEST,
			       "too many connections", true);
		return;
	}
	if (gw_upgrade_accept(c, rq, &sio_ws_handler, NULL) != 0)
		return;
	gw_conn_hello_done(c); /* the CONNECT deadline is ours */
	if (e == NULL) {
		tok = sio_http_token(c, rq, pp);
		e = sio_new(srv, true, tok);
		free(tok);
		e->ws = c;
		c->fe = &gw_fe_sio;
		c->fe_data = e;
		sio_open_packet(e, &srv->scratch);
		gw_sio_send_buf(e, &srv->scratch);
		prs_debug("socket.io %s: WebSocket session", e->id);
		return;
	}
	if (e->websocket || e->ws != NULL) {
		gw_ws_close(c, 1008, "session already has a WebSocket", false);
		return;
	}
	e->ws = c;
	c->fe = &gw_fe_sio;
	c->fe_data = e;
	e->upgrade_by = prs_mono_ms() + SIO_UPGRADE_MS;
}

void
gw_sio_request(struct gw_conn *c, const struct gw_http1_req *rq,
	       const struct gw_path *pp)
{
	struct gw_server *srv = c->srv;
	char *transport = NULL, *eio = NULL, *sid = NULL;
	struct gw_buf cors = {0};
	const char *extra;
	bool close = rq->upgrade;
	struct sio *e;

	gw_cors_headers(&cors, srv->cfg, rq);
	gw_buf_append(&cors, "", 1);
	extra = cors.data;
	if (rq->method == HTTP_OPTIONS && !rq->upgrade) {
		gw_cors_preflight(c, rq, "GET, POST, OPTIONS");
		goto out;
	}
	if (gw_path_query(pp, "transport", &transport) < 0 ||
	    gw_path_query(pp, "EIO", &eio) < 0 ||
	    gw_path_query(pp, "sid", &sid) < 0)
		sio_http_error(c, extra, 400, EIO_E_REQUEST, "Bad request",
			       close);
	else if (transport == NULL || (strcmp(transport, "polling") != 0 &&
				       strcmp(transport, "websocket") != 0))
		sio_http_error(c, extra, 400, EIO_E_TRANSPORT,
			       "Transport unknown", close);
	else if (eio == NULL || strcmp(eio, "4") != 0)
		sio_http_error(c, extra, 400, EIO_E_VERSION,
			       "Unsupported protocol version", close);
	else if (rq->upgrade && strcmp(transport, "websocket") == 0)
		sio_ws_request(c, rq, pp, sid, extra);
	else if (rq->upgrade || strcmp(transport, "websocket") == 0)
		sio_http_error(c, extra, 400, EIO_E_REQUEST, "Bad request",
			       close);
	else if (sid == NULL)
		sio_handshake(c, rq, pp, extra);
	else if ((e = sio_find(srv, sid)) == NULL)
		sio_http_error(c, extra, 400, EIO_E_SID, "Session ID unknown",
			       false);
	else if (rq->method == HTTP_GET)
		sio_get(c, e, extra);
	else
		sio_post(c, rq, e, extra);
out:
	gw_buf_free(&cors);
	free(transport);
	free(eio);
	free(sid);
}

/* ---- cron, stop ---------------------------------------------------- */

static void
sio_tick_one(struct sio *e, int64_t now, int64_t wall)
{
	const struct gw_config *cfg = e->srv->cfg;
	struct gw_conn *c = e->ws;

	if (e->closed) {
		if (now >= e->drain_by)
			sio_finish(e); /* nobody came for the rest */
		return;
	}
	/* auth jwt: a connection does not outlive its token (PROTOCOL.md
	 * §2), whether or not it has a presence session yet */
	if (e->exp != 0 && wall >= e->exp) {
		gw_sio_refuse(e, -1, "token_expired",
			      "the token expired; reconnect with a new one");
		gw_sio_close(e, false);
		return;
	}
	if (e->connect_by != 0 && now >= e->connect_by) {
		prs_debug("socket.io %s: no CONNECT in time", e->id);
		gw_sio_close(e, false);
		return;
	}
	if (e->pong_by != 0 && now >= e->pong_by) {
		prs_debug("socket.io %s: ping timeout", e->id);
		gw_sio_close(e, false);
		return;
	}
	if (e->upgrade_by != 0 && now >= e->upgrade_by && c != NULL &&
	    !e->websocket) {
		sio_ws_detach(e, c);
		e->probing = false;
		e->upgrade_by = 0;
		gw_ws_close(c, 1008, "upgrade timeout", false);
	}
	if (e->pong_by == 0 && now >= e->next_ping) {
		sio_send(e, "2", 1);
		e->pong_by = now + cfg->socketio_ping_timeout_ms;
		gw_sio_flush(e);
	}
}

void
gw_sio_tick(struct gw_server *srv, int64_t now)
{
	struct gw_sio *st = srv->sio;
	int64_t wall = prs_now_ms();
	struct sio *e, *tmp;

	if (st == NULL)
		return;
	while (st->freeq != NULL) {
		e = st->freeq;
		st->freeq = e->free_next;
		sio_free(e);
	}
	HASH_ITER (hh, st->by_id, e, tmp)
		sio_tick_one(e, now, wall);
	gw_sio_observer_end(srv, false);
}

void
gw_sio_stop(struct gw_server *srv)
{
	struct gw_sio *st = srv->sio;
	struct sio *e, *tmp;

	if (st == NULL)
		return;
	HASH_ITER (hh, st->by_id, e, tmp) {
		gw_sio_close(e, false);
		if (!e->finished)
			sio_finish(e); /* no drain at a stop */
	}
	gw_sio_observer_end(srv, true);
}

void
gw_sio_fini(struct gw_server *srv)
{
	struct gw_sio *st = srv->sio;

	if (st == NULL)
		return;
	gw_sio_stop(srv);
	gw_sio_tick(srv, 0); /* frees them */
	free(st);
	srv->sio = NULL;
}

size_t
gw_sio_count(const struct gw_server *srv)
{
	return srv->sio != NULL ? srv->sio->n : 0;
}

size_t
gw_sio_polling(const struct gw_server *srv)
{
	return srv->sio != NULL ? srv->sio->npolling : 0;
}
