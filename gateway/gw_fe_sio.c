/*
 * The Socket.IO v4 drop-in (docs/MIGRATING.md, "Socket.IO"): Engine.IO 4
 * sessions at socketio_path, the events of seed 001 on namespace "/", and
 * the frontend ops through which the session core reaches them. Packets
 * are parsed and built by the pure codec gw_eio.c.
 *
 * Two kinds of session, and when each begins. An Engine.IO session (a
 * struct sio) begins at the handshake and lives as long as its transport
 * answers pings; it is not a user. The presence session (struct
 * gw_session, the registry's) begins at userOnline, which names the user,
 * as in seed 001 where a socket is nobody until it says who it is; it ends
 * clean at userOffline and unclean with the Engine.IO session (close,
 * transport loss, ping timeout), so grace covers a reconnect. A
 * connection without a presence session is still a connected client, to
 * which seed 001 broadcasts too: with audience all it is an observer,
 * and one registry observer session (an all-users session of no user)
 * hears every change for all of them; with audience threads it has no
 * audience until it is a user. Either may ask for getOnlineUsers.
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
 * first drains them, see sio_close) and is freed from the next tick,
 * never inside a callback that may still hold it.
 *
 * Events are encoded once per event as a WebSocket frame; polling
 * sessions take the packet behind its header. A v1 change that is none
 * to a client seeing only online/offline is not sent (sio_told).
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
#include "gw_fe_sio.h"

#include <errno.h>
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <utlist.h>

#include "gw_auth.h"
#include "gw_cors.h"
#include "gw_eio.h"
#include "gw_json.h"
#include "gw_rate.h"
#include "gw_reg.h"
#include "gw_server.h"
#include "gw_session.h"
#include "gw_upgrade.h"
#include "gw_ws.h"
#include "prs_util.h"

#define SIO_ID_LEN       20    /* base64url characters of an id */
#define SIO_POST_PACKETS 2000  /* Engine.IO packets in one POST body */
#define SIO_UPGRADE_MS   10000 /* a probe must upgrade by then (engine.io) */
#define SIO_LIST_MAX     10000 /* users in one onlineUsersList */
#define SIO_META_MAX     1024  /* the meta object, as v1's hello */

/* Engine.IO error codes (engine.io's Server.errors). */
enum {
	EIO_E_TRANSPORT = 0, /* Transport unknown */
	EIO_E_SID = 1,       /* Session ID unknown */
	EIO_E_METHOD = 2,    /* Bad handshake method */
	EIO_E_REQUEST = 3,   /* Bad request */
	EIO_E_VERSION = 5,   /* Unsupported protocol version */
};

/* One Engine.IO session (see the top). */
struct sio {
	char id[SIO_ID_LEN + 1];  /* Engine.IO sid */
	char sid[SIO_ID_LEN + 1]; /* Socket.IO socket id, once connected */
	uint64_t key;             /* for registry replies */
	UT_hash_handle hh;        /* st->by_id */
	UT_hash_handle hh_key;    /* st->by_key */
	struct sio *free_next;
	struct sio *oprev, *onext; /* st->observers */
	struct gw_server *srv;
	bool websocket; /* the transport is a WebSocket (upgraded or only) */
	bool probing;   /* a probe WebSocket got 3probe */
	bool closed;
	bool failed;       /* closed for a malformed packet */
	bool connected;    /* Socket.IO CONNECT on "/" done */
	bool all;          /* audience: every user (socketio_audience) */
	bool observing;    /* on st->observers */
	bool connect_wait; /* its CONNECT reply waits for the observer's ack */
	bool admin;        /* its identity may act as an admin */
	struct gw_conn *poll;    /* the held GET */
	struct gw_conn *ws;      /* the WebSocket transport, or the probe */
	char *poll_cors;         /* CORS headers for the held GET's answer */
	struct gw_buf out;       /* polling: packets waiting for a GET */
	int64_t next_ping;       /* monotonic ms */
	int64_t pong_by;         /* 0, or when the pong to our ping is due */
	int64_t connect_by;      /* 0 once connected */
	int64_t upgrade_by;      /* 0, or when the probe must have upgraded */
	int64_t drain_by;        /* closed, draining (sio_close) until then */
	bool finished;           /* out of the tables (sio_finish) */
	char *token;             /* credentials of the handshake, if any */
	char *user;              /* auth jwt: the token's subject */
	int64_t exp;             /* its exp (wall ms) */
	struct gw_session *sess; /* the presence session, after userOnline */
	int64_t online_ack;      /* userOnline's ack id waiting, -1 none */
	struct gw_rate rl;       /* message rate limit (gw_rate.h) */
};

/* The frontend's state in srv->sio. */
struct gw_sio {
	struct sio *by_id;
	struct sio *by_key;
	struct sio *freeq;
	uint64_t next_key;
	size_t npolling; /* sessions without a WebSocket (not in nws) */
	size_t n;
	/* Connections with audience all and no presence session yet, and
	 * the one registry observer session that hears for them all. */
	struct sio *observers;
	size_t nobservers;
	struct gw_session *observer;
};

static const struct gw_ws_handler sio_ws_handler;
static void sio_close(struct sio *e, bool clean);
static void sio_observe_update(struct sio *e);
static void sio_connect_reply(struct sio *e);

static struct gw_sio *
sio_state(struct gw_server *srv)
{
	if (srv->sio == NULL)
		srv->sio = xcalloc(1, sizeof(*srv->sio));
	return srv->sio;
}

/* ---- ids ----------------------------------------------------------- */

/* A random id of SIO_ID_LEN base64url characters (120 bits). */
static void
sio_random_id(char out[SIO_ID_LEN + 1])
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
		sio_random_id(e->id);
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

static struct sio *
sio_find_key(struct gw_server *srv, uint64_t key)
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

/* Ends the presence session, if any (clean: userOffline). */
static void
sio_sess_end(struct sio *e, bool clean)
{
	struct gw_session *s = e->sess;

	if (s == NULL)
		return;
	e->sess = NULL;
	e->online_ack = -1;
	s->fe_data = NULL;
	gw_session_end(e->srv, s, clean);
	sio_observe_update(e);
}

/* Lets go of the WebSocket c (it stays open unless the caller closes it). */
static void
sio_ws_detach(struct sio *e, struct gw_conn *c)
{
	if (e->ws == c)
		e->ws = NULL;
	c->fe_data = NULL;
	c->fe = NULL;
}

/* ---- observers ----------------------------------------------------- */

/* Puts e on the observers or takes it off, as it now is: connected with
 * audience all but no presence session (seed 001 broadcasts to every
 * connected client, userOnline or not). The first observer brings the
 * registry observer session (an all-users session of no user); the tick
 * ends it once none is left, never a delivery in progress. */
static void
sio_observe_update(struct sio *e)
{
	struct gw_sio *st = e->srv->sio;
	bool should = e->connected && e->all && e->sess == NULL && !e->closed;
	struct gw_session *s;

	if (should == e->observing)
		return;
	e->observing = should;
	if (!should) {
		DL_DELETE2(st->observers, e, oprev, onext);
		st->nobservers--;
		if (e->connect_wait && !e->closed)
			sio_connect_reply(e); /* a user now: its own ack */
		return;
	}
	DL_APPEND2(st->observers, e, oprev, onext);
	st->nobservers++;
	if (st->observer != NULL)
		return;
	s = gw_session_new(e->srv, "", &gw_fe_sio);
	s->watch_all = true;
	s->device = xstrdup("socket.io");
	s->fe_data = st;
	st->observer = s;
	gw_session_announce(e->srv, s);
	if (gw_reg_ready(e->srv))
		gw_session_await(e->srv, s);
}

/* Ends the observer session when no observer is left (or all: at stop). */
static void
sio_observer_end(struct gw_server *srv, bool all)
{
	struct gw_sio *st = srv->sio;
	struct gw_session *s = st->observer;

	if (s == NULL || (st->nobservers > 0 && !all))
		return;
	st->observer = NULL;
	s->fe_data = NULL;
	gw_session_end(srv, s, false);
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
static bool
sio_queue(struct sio *e, const char *pkt, size_t len)
{
	const struct gw_config *cfg = e->srv->cfg;

	if (gw_buf_pending(&e->out) + len + 1 >
	    (size_t) cfg->max_outbound_bytes) {
		e->srv->n_slow_closed++;
		prs_info("socket.io %s: output queue over %lld bytes, closing",
			 e->id, (long long) cfg->max_outbound_bytes);
		sio_close(e, false);
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
	if (!sio_queue(e, pkt, len))
		return false;
	e->srv->n_frames_out++;
	return true;
}

/* Sends what waits: the held GET is answered (at once during an
 * upgrade); a WebSocket's output is flushed before the loop sleeps. */
static void
sio_flush(struct sio *e)
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
static void
sio_send_buf(struct sio *e, struct gw_buf *b)
{
	sio_send(e, gw_buf_head(b), gw_buf_pending(b));
	gw_buf_reset(b);
}

/* Emits event name with arg (only read) on "/". */
static void
sio_emit(struct sio *e, const char *name, json_t *arg)
{
	struct gw_buf *b = &e->srv->scratch;

	gw_buf_reset(b);
	if (gw_sio_encode_event(b, name, arg) == 0)
		sio_send_buf(e, b);
	gw_buf_reset(b);
}

/* Acknowledges ack id (when the client asked: id >= 0) with the one
 * argument arg (reference stolen; NULL: no argument). */
static void
sio_ack(struct sio *e, int64_t id, json_t *arg)
{
	struct gw_buf *b = &e->srv->scratch;
	json_t *args;

	if (id < 0) {
		json_decref(arg);
		return;
	}
	args = json_array();
	if (arg != NULL)
		json_array_append_new(args, arg);
	gw_buf_reset(b);
	if (gw_sio_encode_ack(b, "/", id, args) == 0)
		sio_send_buf(e, b);
	gw_buf_reset(b);
	json_decref(args);
}

static void
sio_ack_ok(struct sio *e, int64_t id)
{
	sio_ack(e, id, json_pack("{s:b}", "ok", 1));
}

/* A refused request: the ack says why when one was asked for, else an
 * "error" event does ({code, message}; the codes are v1's). */
static void
sio_refuse(struct sio *e, int64_t id, const char *code, const char *msg)
{
	if (id >= 0) {
		sio_ack(e, id,
			json_pack("{s:b,s:s,s:s}", "ok", 0, "error", code,
				  "message", msg));
	} else {
		json_t *o =
			json_pack("{s:s,s:s}", "code", code, "message", msg);
		sio_emit(e, "error", o);
		json_decref(o);
	}
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
static void
sio_close(struct sio *e, bool clean)
{
	struct gw_conn *ws = e->ws;

	if (e->closed)
		return;
	e->closed = true;
	prs_debug("socket.io %s ends (%s)", e->id,
		  clean ? "clean" : "unclean");
	sio_sess_end(e, clean);
	sio_observe_update(e);
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
static void
sio_fail(struct sio *e, const char *why)
{
	prs_debug("socket.io %s: %s", e->id, why);
	e->failed = true;
	sio_close(e, false);
}

/* ---- the registry -------------------------------------------------- */

/* userId as the drop-ins take it (docs/MIGRATING.md): a JSON string that is a
 * valid id, or an integer (its decimal form). arg is the event's
 * argument: an object with userId, or the id itself. NULL when absent
 * (*bad false) or invalid (*bad true). Caller frees. */
static char *
sio_user_id(json_t *arg, bool *bad)
{
	json_t *v = json_is_object(arg) ? json_object_get(arg, "userId") : arg;
	char num[32];

	*bad = false;
	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		return xstrdup(num);
	}
	if (json_is_string(v) &&
	    prs_id_valid(json_string_value(v), json_string_length(v)))
		return xstrndup(json_string_value(v), json_string_length(v));
	*bad = true;
	return NULL;
}

/* A meta value (userType, userName), or null. New reference. */
static json_t *
sio_meta_get(json_t *meta, const char *key, const char *v1key)
{
	json_t *v = json_object_get(meta, key);

	if (v == NULL)
		v = json_object_get(meta, v1key);
	return v != NULL ? json_incref(v) : json_null();
}

/* One onlineUsersList entry: {userId, status, lastSeen, userType,
 * userName}; meta written by v1 clients (user_type, user_name) serves
 * too. */
static json_t *
sio_user_entry(const Prs__Presence *p)
{
	json_t *meta = NULL, *o;

	if (p->meta != NULL && p->meta[0] != '\0')
		meta = json_loads(p->meta, 0, NULL);
	o = json_pack("{s:o,s:s,s:o,s:o,s:o}", "userId",
		      gw_json_id(p->user_id), "status",
		      p->is_online ? "online" : "offline", "lastSeen",
		      gw_json_time(p->last_seen), "userType",
		      sio_meta_get(meta, "userType", "user_type"), "userName",
		      sio_meta_get(meta, "userName", "user_name"));
	json_decref(meta);
	return o;
}

/* Sends onlineUsersList (users, reference stolen) to e, and the same
 * array as the ack's argument when one was asked for. */
static void
sio_list_send(struct sio *e, int64_t id, json_t *users)
{
	sio_emit(e, "onlineUsersList", users);
	sio_ack(e, id, users);
	sio_flush(e);
}

static void
sio_list_reply_cb(struct gw_conn *c, struct gw_pending *p, const Prs__Reply *r)
{
	struct sio *e = sio_find_key(p->srv, p->key);
	int64_t id = p->id != NULL ? (int64_t) json_integer_value(p->id) : -1;
	json_t *users;
	size_t i;

	if (e == NULL || e->closed)
		return;
	if (r == NULL) {
		sio_refuse(e, id, "unavailable",
			   "the registry did not answer");
	} else if (r->error != NULL && r->error[0] != '\0') {
		sio_refuse(e, id, r->error,
			   r->message && r->message[0] ? r->message
						       : r->error);
	} else {
		users = json_array();
		for (i = 0; i < r->n_users && i < SIO_LIST_MAX; i++)
			json_array_append_new(users,
					      sio_user_entry(r->users[i]));
		sio_list_send(e, id, users);
		return;
	}
	sio_flush(e);
}

/* Asks the registry for the online users e may see, for getOnlineUsers:
 * what its presence session lists (everyone online for an all-users
 * session, else its v1 audience); before userOnline, everyone online
 * (audience all: the admin form, which that audience allows) or what a
 * session of the token's user would list. */
static void
sio_list_ask(struct sio *e, int64_t id)
{
	Prs__Request rq = PRS__REQUEST__INIT;
	struct gw_pending *p;

	if (!gw_reg_ready(e->srv)) {
		sio_refuse(e, id, "unavailable", "registry unavailable");
		return;
	}
	rq.thread_id = "";
	rq.user_id = e->sess ? e->sess->user_id : e->user ? e->user : "";
	rq.admin = e->all;
	if (e->sess != NULL) {
		rq.op = PRS__OP__OP_LIST_ONLINE;
		rq.sid = e->sess->sid;
	} else if (e->all) {
		rq.op = PRS__OP__OP_LIST_ONLINE;
	} else if (e->user != NULL) {
		rq.op = PRS__OP__OP_LIST_AUDIENCE;
	} else {
		sio_list_send(e, id, json_array()); /* nobody yet */
		return;
	}
	p = gw_reg_request_key(e->srv, &rq, e->key, sio_list_reply_cb);
	if (id >= 0)
		p->id = json_integer((json_int_t) id);
}

/* ---- seed 001 events ----------------------------------------------- */

/* The user id an event names, checked against the identity (auth jwt: the
 * token's subject). NULL after refusing; *none when it named none. */
static char *
sio_event_user(struct sio *e, json_t *arg, int64_t id, bool *none)
{
	bool bad;
	char *user = sio_user_id(arg, &bad);

	*none = user == NULL && !bad;
	if (bad) {
		sio_refuse(e, id, "bad_request",
			   "userId must be a user id (string or integer)");
		return NULL;
	}
	if (user == NULL)
		return NULL;
	if (!e->srv->cfg->auth_none && strcmp(user, e->user) != 0) {
		free(user);
		sio_refuse(e, id, "unauthorized",
			   "userId is not the token's user");
		return NULL;
	}
	return user;
}

/* The meta of userOnline: {userType, userName} as sent (those present),
 * compact JSON, or NULL for none. -1 when it is too large. */
static int
sio_meta(json_t *arg, char **out)
{
	json_t *m = json_object();
	static const char *const keys[] = {"userType", "userName"};
	size_t i;

	*out = NULL;
	for (i = 0; i < PRS_ARRAY_LEN(keys); i++) {
		json_t *v = json_is_object(arg) ? json_object_get(arg, keys[i])
						: NULL;
		if (v != NULL && !json_is_null(v))
			json_object_set(m, keys[i], v);
	}
	if (json_object_size(m) > 0)
		*out = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (*out != NULL && strlen(*out) > SIO_META_MAX) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static bool
str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The presence session of user with meta (owned by it now) begins for e;
 * one e had ends (a new one first, so that the user never looks
 * offline in between). The ack id waits for the registry's SessionAck. */
static void
sio_sess_begin(struct sio *e, const char *user, char *meta, int64_t id)
{
	struct gw_server *srv = e->srv;
	struct gw_session *s, *old = e->sess;

	s = gw_session_new(srv, user, &gw_fe_sio);
	s->fe_data = e;
	s->watch_all = e->all; /* the registry registers it so */
	s->device = xstrdup("socket.io");
	s->meta = meta;
	s->token_exp = srv->cfg->auth_none ? 0 : e->exp;
	gw_session_token_watch(srv, s->token_exp);
	if (old != NULL && e->online_ack >= 0)
		sio_ack_ok(e, e->online_ack); /* its SessionAck is moot */
	e->sess = s;
	e->online_ack = -1;
	gw_session_announce(srv, s);
	sio_observe_update(e);
	if (old != NULL) {
		old->fe_data = NULL;
		gw_session_end(srv, old, true);
	}
	prs_debug("socket.io %s: session %llu for %s", e->id,
		  (unsigned long long) s->sid, s->user_id);
	if (id >= 0 && gw_reg_ready(srv)) {
		e->online_ack = id;
		gw_session_await(srv, s);
	} else {
		sio_ack_ok(e, id);
	}
}

/* userOnline {userId, userType, userName}: the user comes online on this
 * connection, with that meta. Again with the same: nothing changes; with
 * another user or meta, the session is replaced. */
static void
ev_user_online(struct sio *e, json_t *arg, int64_t id)
{
	bool none;
	char *user = sio_event_user(e, arg, id, &none), *meta;

	if (user == NULL) {
		if (none)
			sio_refuse(e, id, "bad_request", "userId is required");
		return;
	}
	if (sio_meta(arg, &meta) != 0) {
		sio_refuse(e, id, "too_large",
			   "userType and userName are larger than 1 KiB");
	} else if (e->sess != NULL && strcmp(e->sess->user_id, user) == 0 &&
		   str_eq(e->sess->meta, meta)) {
		free(meta);
		sio_ack_ok(e, id);
	} else {
		sio_sess_begin(e, user, meta, id);
	}
	free(user);
}

/* userHeartbeat {userId}: keeps the user online; nothing to tell anyone.
 * Without a session (after a reconnect that did not repeat userOnline)
 * it brings the user online, without meta. */
static void
ev_user_heartbeat(struct sio *e, json_t *arg, int64_t id)
{
	bool none;
	char *user = sio_event_user(e, arg, id, &none);

	if (user == NULL && !none)
		return;
	if (e->sess != NULL) {
		if (user != NULL && strcmp(user, e->sess->user_id) != 0)
			sio_refuse(e, id, "bad_request",
				   "userId is not this connection's user");
		else
			sio_ack_ok(e, id);
	} else if (user != NULL) {
		sio_sess_begin(e, user, NULL, id);
	} else {
		sio_refuse(e, id, "bad_request", "userId is required");
	}
	free(user);
}

/* userOffline {userId}: this connection's session ends clean (v1 bye):
 * offline at once if it was the user's last. */
static void
ev_user_offline(struct sio *e, json_t *arg, int64_t id)
{
	bool none;
	char *user = sio_event_user(e, arg, id, &none);

	if (user == NULL && !none)
		return;
	if (e->sess != NULL && user != NULL &&
	    strcmp(user, e->sess->user_id) != 0) {
		sio_refuse(e, id, "bad_request",
			   "userId is not this connection's user");
	} else {
		sio_sess_end(e, true);
		sio_ack_ok(e, id);
	}
	free(user);
}

static void
ev_get_online_users(struct sio *e, json_t *arg, int64_t id)
{
	sio_list_ask(e, id);
}

static const struct {
	const char *name;
	void (*fn)(struct sio *e, json_t *arg, int64_t id);
} sio_events[] = {
	{"userOnline", ev_user_online},
	{"userHeartbeat", ev_user_heartbeat},
	{"userOffline", ev_user_offline},
	{"getOnlineUsers", ev_get_online_users},
};

/* ---- Socket.IO packets --------------------------------------------- */

/* The rate limit (gw_rate.h) per Engine.IO session, over its Socket.IO
 * messages: a refused one is answered rate_limited; refusals that keep
 * coming for rate_limit_close_ms end the session. */
static bool
sio_rate_ok(struct sio *e, int64_t id)
{
	int64_t now = prs_mono_ms();
	enum gw_rate_verdict v = gw_rate_take(&e->rl, e->srv, now);

	if (v == GW_RATE_OK)
		return true;
	sio_refuse(e, id, "rate_limited", "too many messages");
	if (v == GW_RATE_CLOSE) {
		prs_info("socket.io %s: rate limited for %lld ms, closing",
			 e->id, (long long) gw_rate_streak(&e->rl, now));
		sio_close(e, false);
	}
	return false;
}

/* CONNECT: namespace "/" only; under auth jwt the token of the CONNECT's
 * auth object, else the handshake's, names the user. */
static void
sio_connect(struct sio *e, const struct gw_sio_packet *sp)
{
	const struct gw_config *cfg = e->srv->cfg;
	struct gw_buf *b = &e->srv->scratch;
	json_t *tv = json_object_get(sp->data, "token");
	const char *tok =
		json_is_string(tv) ? json_string_value(tv) : e->token;
	const char *why = NULL;
	char *user = NULL;
	bool admin = true;
	int64_t exp = 0;

	gw_buf_reset(b);
	if (strcmp(sp->nsp, "/") != 0) {
		gw_sio_encode_connect_error(b, sp->nsp, "Invalid namespace");
		sio_send_buf(e, b);
		return;
	}
	if (!e->connected && !cfg->auth_none) {
		if (tok == NULL)
			why = "token required";
		else if (gw_auth_verify_exp(cfg, tok, strlen(tok), &user,
					    &admin, &exp) != 0)
			why = "invalid token";
	}
	if (why != NULL) {
		gw_sio_encode_connect_error(b, "/", why);
		sio_send_buf(e, b);
		return;
	}
	if (!e->connected) {
		free(e->user);
		e->user = user;
		e->exp = exp;
		e->admin = admin;
		e->all = cfg->socketio_all &&
			 (cfg->auth_none || admin || cfg->socketio_all_users);
		e->connected = true;
		e->connect_by = 0;
		sio_random_id(e->sid);
	}
	sio_observe_update(e);
	/* An observer hears nothing until the registry has the observer
	 * session: the reply waits for its SessionAck, as v1's welcome. */
	if (e->observing && e->srv->sio->observer->await_ack)
		e->connect_wait = true;
	else
		sio_connect_reply(e);
}

/* 40{"sid"}: the CONNECT reply. */
static void
sio_connect_reply(struct sio *e)
{
	struct gw_buf *b = &e->srv->scratch;

	e->connect_wait = false;
	gw_buf_reset(b);
	gw_sio_encode_connect(b, "/", e->sid);
	sio_send_buf(e, b);
}

static void
sio_event(struct sio *e, const struct gw_sio_packet *sp)
{
	json_t *arg = json_array_get(sp->data, 1);
	size_t i;

	for (i = 0; i < PRS_ARRAY_LEN(sio_events); i++) {
		if (strcmp(sp->event, sio_events[i].name) == 0) {
			sio_events[i].fn(e, arg, sp->id);
			return;
		}
	}
	/* socket.io drops events nobody listens to; an ack is owed */
	if (sp->id >= 0)
		sio_refuse(e, sp->id, "bad_request", "unknown event");
}

/* One Socket.IO packet (the data of an Engine.IO message). */
static void
sio_message(struct sio *e, const char *data, size_t len)
{
	struct gw_sio_packet sp = {.data = NULL};
	int rc = gw_sio_parse(data, len, &sp);

	if (rc != 0) {
		sio_fail(e, gw_eio_strerror(rc));
		goto out;
	}
	if (!sio_rate_ok(e, sp.type == GW_SIO_EVENT ? sp.id : -1))
		goto out;
	switch (sp.type) {
	case GW_SIO_CONNECT:
		sio_connect(e, &sp);
		break;
	case GW_SIO_DISCONNECT:
		/* the client left "/": the Engine.IO close follows */
		if (strcmp(sp.nsp, "/") == 0 && e->connected) {
			e->connected = false;
			sio_sess_end(e, false);
			sio_observe_update(e);
		}
		break;
	case GW_SIO_EVENT:
		if (!e->connected || strcmp(sp.nsp, "/") != 0)
			sio_fail(e, "event on a namespace not connected");
		else
			sio_event(e, &sp);
		break;
	case GW_SIO_ACK:
		break; /* we never ask the client for one */
	default:
		sio_fail(e, "unexpected Socket.IO packet");
		break;
	}
out:
	gw_sio_clear(&sp);
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
		sio_message(e, p->data, p->len);
		break;
	case GW_EIO_CLOSE:
		sio_close(e, false);
		break;
	case GW_EIO_NOOP:
		break;
	default: /* open, ping (the server pings in v4), upgrade */
		sio_fail(e, "unexpected Engine.IO packet");
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
		sio_fail(e, gw_eio_strerror(rc));
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
		sio_close(e, false);
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
		/* draining (sio_close): what waits, then the close packet */
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
		sio_fail(e, "overlapping GET");
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
		sio_fail(e, gw_eio_strerror(rc));
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
	sio_flush(e);
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
		sio_send_buf(e, &srv->scratch);
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

/* ---- the frontend ops (gw_fe.h) ------------------------------------ */

/* What Socket.IO clients were last told of each user: online or not, in
 * the view of others and in the user's own. Why: a change that v1 shows
 * (away, dnd, a new text or meta) is no change to a client that sees only
 * online and offline, and the drop-ins promise one event per change it can
 * see; so such an event is dropped here, once for all the Socket.IO
 * sessions it targets. The registry sends a user's changes to every
 * audience session at once and in order (as gw_view.c relies on), so
 * what the last event told is what each of them saw. Kept per process
 * since encode_event is given no server (there is one per process);
 * bounded, like gw_view's records, by the users ever told about. */
struct sio_told {
	UT_hash_handle hh;
	uint8_t bits; /* TOLD_* */
	char id[];
};

#define TOLD_PUB_KNOWN  1
#define TOLD_PUB_ONLINE 2
#define TOLD_OWN_KNOWN  4
#define TOLD_OWN_ONLINE 8

static struct sio_told *sio_told;

/* Records what an event about p tells (own: the user's own view); false
 * when it tells Socket.IO clients nothing new. */
static bool
sio_told_update(const Prs__Presence *p, bool own)
{
	size_t len = strlen(p->user_id);
	uint8_t known = own ? TOLD_OWN_KNOWN : TOLD_PUB_KNOWN;
	uint8_t online = own ? TOLD_OWN_ONLINE : TOLD_PUB_ONLINE;
	uint8_t now = (uint8_t) (known | (p->is_online ? online : 0));
	struct sio_told *t;

	HASH_FIND(hh, sio_told, p->user_id, len, t);
	if (t == NULL) {
		t = xcalloc(1, sizeof(*t) + len + 1);
		memcpy(t->id, p->user_id, len + 1);
		HASH_ADD_KEYPTR(hh, sio_told, t->id, len, t);
	}
	if ((t->bits & (known | online)) == now)
		return false;
	t->bits = (uint8_t) ((t->bits & ~(known | online)) | now);
	return true;
}

static void
sio_told_free(void)
{
	struct sio_told *t, *tmp;

	HASH_ITER (hh, sio_told, t, tmp) {
		HASH_DEL(sio_told, t);
		free(t);
	}
}

/* userStatusChanged {userId, status, lastSeen}, as a WebSocket text frame
 * (the header in front; polling sessions take the packet behind it), or
 * -1 when it would tell nothing new (above). */
static int
sio_encode_event(const Prs__Event *ev, struct gw_buf *b, struct gw_frame *f)
{
	const Prs__Presence *p = ev->presence;
	uint8_t hdr[GW_WS_HDR_MAX];
	size_t hl, plen;
	json_t *o;
	int rc;

	if (!sio_told_update(p, ev->own))
		return -1;
	gw_buf_reset(b);
	gw_buf_reserve(b, GW_WS_HDR_MAX);
	gw_buf_commit(b, GW_WS_HDR_MAX);
	o = json_pack("{s:o,s:s,s:o}", "userId", gw_json_id(p->user_id),
		      "status", p->is_online ? "online" : "offline",
		      "lastSeen", gw_json_time(p->last_seen));
	rc = gw_sio_encode_event(b, "userStatusChanged", o);
	json_decref(o);
	if (rc != 0)
		return -1;
	plen = b->len - GW_WS_HDR_MAX;
	hl = gw_ws_frame_header(hdr, WSLAY_TEXT_FRAME, plen);
	memcpy(b->data + GW_WS_HDR_MAX - hl, hdr, hl);
	f->data = b->data + GW_WS_HDR_MAX - hl;
	f->len = hl + plen;
	return 0;
}

/* The length of the WebSocket header in front of frame f. */
static size_t
sio_frame_hlen(const struct gw_frame *f)
{
	uint8_t l = (uint8_t) f->data[1] & 0x7f;

	return l < 126 ? 2 : l == 126 ? 4 : 10;
}

static bool
sio_deliver_one(struct sio *e, const struct gw_frame *f)
{
	struct gw_conn *c;
	size_t hl;

	if (e->closed || !e->connected || e->connect_wait)
		return false;
	if (!e->websocket) {
		hl = sio_frame_hlen(f);
		return sio_queue(e, f->data + hl, f->len - hl);
	}
	c = e->ws;
	if (c == NULL || c->state != GW_CONN_WS || !gw_conn_fits(c, f->len))
		return false;
	gw_buf_append(&c->out, f->data, f->len);
	return true;
}

static bool
sio_is_observer(const struct gw_session *s)
{
	return s->srv->sio != NULL && s == s->srv->sio->observer;
}

/* To the presence session's connection, or for the observer session to
 * every observer (each counted as a frame out; the core counts one). */
static bool
sio_deliver(struct gw_session *s, const struct gw_frame *f)
{
	struct sio *e, *tmp;
	size_t n = 0;

	if (!sio_is_observer(s))
		return s->fe_data != NULL && sio_deliver_one(s->fe_data, f);
	DL_FOREACH_SAFE2 (s->srv->sio->observers, e, tmp, onext)
		n += sio_deliver_one(e, f);
	if (n > 1)
		s->srv->n_frames_out += n - 1;
	return n > 0;
}

static void
sio_fe_flush(struct gw_session *s)
{
	struct sio *e, *tmp;

	if (!sio_is_observer(s)) {
		if (s->fe_data != NULL)
			sio_flush(s->fe_data);
		return;
	}
	DL_FOREACH_SAFE2 (s->srv->sio->observers, e, tmp, onext)
		sio_flush(e);
}

static void
sio_acked(struct gw_session *s)
{
	struct sio *e = s->fe_data, *tmp;

	if (sio_is_observer(s)) {
		DL_FOREACH_SAFE2 (s->srv->sio->observers, e, tmp, onext) {
			if (e->connect_wait) {
				sio_connect_reply(e);
				sio_flush(e);
			}
		}
		return;
	}
	if (e == NULL || e->online_ack < 0)
		return;
	sio_ack_ok(e, e->online_ack);
	e->online_ack = -1;
	sio_flush(e);
}

/* Kicked: DISCONNECT (41: the client does not reconnect), then the end.
 * Token expired or events missed: the end, unclean; the client
 * reconnects (with a fresh token, to a fresh view). */
static bool
sio_fe_close(struct gw_session *s, enum gw_end why)
{
	struct sio *e = s->fe_data, *tmp;
	struct gw_buf *b = &s->srv->scratch;
	struct gw_sio_packet p = {.type = GW_SIO_DISCONNECT, .id = -1};

	if (sio_is_observer(s)) {
		/* events to observers were lost: they reconnect */
		DL_FOREACH_SAFE2 (s->srv->sio->observers, e, tmp, onext)
			sio_close(e, false);
		return why == GW_END_MISSED;
	}
	if (e == NULL) {
		gw_session_end(s->srv, s, why == GW_END_KICKED);
		return true;
	}
	switch (why) {
	case GW_END_KICKED:
		memcpy(p.nsp, "/", 2);
		gw_buf_reset(b);
		if (gw_sio_encode(b, &p) == 0)
			sio_send_buf(e, b);
		sio_close(e, true);
		break;
	case GW_END_TOKEN_EXPIRED:
		sio_refuse(e, -1, "token_expired",
			   "the token expired; reconnect with a new one");
		sio_close(e, false);
		break;
	case GW_END_MISSED:
		sio_close(e, false);
		break;
	}
	return true;
}

/* A held GET's connection is freed (it died): the session forgets it. */
static void
sio_conn_free(struct gw_conn *c)
{
	struct sio *e = c->fe_data;

	if (e == NULL)
		return;
	c->fe_data = NULL;
	if (e->poll == c)
		e->poll = NULL;
	if (e->ws == c) {
		e->ws = NULL;
		if (e->websocket)
			sio_close(e, false);
	}
}

const struct gw_fe gw_fe_sio = {
	.name = "socket.io",
	.kind = GW_FE_SIO,
	.encode_event = sio_encode_event,
	.deliver_event = sio_deliver,
	.flush = sio_fe_flush,
	.acked = sio_acked,
	.close = sio_fe_close,
	.conn_free = sio_conn_free,
};

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
		sio_refuse(e, -1, "token_expired",
			   "the token expired; reconnect with a new one");
		sio_close(e, false);
		return;
	}
	if (e->connect_by != 0 && now >= e->connect_by) {
		prs_debug("socket.io %s: no CONNECT in time", e->id);
		sio_close(e, false);
		return;
	}
	if (e->pong_by != 0 && now >= e->pong_by) {
		prs_debug("socket.io %s: ping timeout", e->id);
		sio_close(e, false);
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
		sio_flush(e);
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
	sio_observer_end(srv, false);
}

void
gw_sio_stop(struct gw_server *srv)
{
	struct gw_sio *st = srv->sio;
	struct sio *e, *tmp;

	if (st == NULL)
		return;
	HASH_ITER (hh, st->by_id, e, tmp) {
		sio_close(e, false);
		if (!e->finished)
			sio_finish(e); /* no drain at a stop */
	}
	sio_observer_end(srv, true);
}

void
gw_sio_fini(struct gw_server *srv)
{
	struct gw_sio *st = srv->sio;

	sio_told_free();
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
