/*
 * The Socket.IO v4 drop-in (docs/MIGRATING.md, "Socket.IO"), its
 * Socket.IO side: the registry side of a connection (presence session,
 * getOnlineUsers), the events of seed 001 on namespace "/", the Socket.IO
 * packets, and the frontend ops through which the session core reaches
 * them. The Engine.IO sessions and their transports are gw_sio_eio.c's,
 * the observers gw_sio_obs.c's, what they share is in gw_sio.h; packets
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
 * Events are encoded once per event as a WebSocket frame; polling
 * sessions take the packet behind its header. A v1 change that is none
 * to a client seeing only online/offline is not sent (Event.online_changed).
 */
#include "gw_fe_sio.h"

#include <stdlib.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_eio.h"
#include "gw_json.h"
#include "gw_rate.h"
#include "gw_reg.h"
#include "gw_server.h"
#include "gw_session.h"
#include "gw_sio.h"
#include "gw_ws.h"
#include "prs_util.h"

#define SIO_LIST_MAX 10000 /* users in one onlineUsersList */
#define SIO_META_MAX 1024  /* the meta object, as v1's hello */

/* ---- output -------------------------------------------------------- */

/* Emits event name with arg (only read) on "/". */
static void
sio_emit(struct sio *e, const char *name, json_t *arg)
{
	struct gw_buf *b = &e->srv->scratch;

	gw_buf_reset(b);
	if (gw_sio_encode_event(b, name, arg) == 0)
		gw_sio_send_buf(e, b);
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
		gw_sio_send_buf(e, b);
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
void
gw_sio_refuse(struct sio *e, int64_t id, const char *code, const char *msg)
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
	gw_sio_flush(e);
}

static void
sio_list_reply_cb(struct gw_conn *c, struct gw_pending *p, const Prs__Reply *r)
{
	struct sio *e = gw_sio_find_key(p->srv, p->key);
	int64_t id = p->id != NULL ? (int64_t) json_integer_value(p->id) : -1;
	json_t *users;
	size_t i;

	if (e == NULL || e->closed)
		return;
	if (r == NULL) {
		gw_sio_refuse(e, id, "unavailable",
			      "the registry did not answer");
	} else if (r->error != NULL && r->error[0] != '\0') {
		gw_sio_refuse(e, id, r->error,
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
	gw_sio_flush(e);
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
		gw_sio_refuse(e, id, "unavailable", "registry unavailable");
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
		gw_sio_refuse(e, id, "bad_request",
			      "userId must be a user id (string or integer)");
		return NULL;
	}
	if (user == NULL)
		return NULL;
	if (!e->srv->cfg->auth_none && strcmp(user, e->user) != 0) {
		free(user);
		gw_sio_refuse(e, id, "unauthorized",
			      "userId is not the token's user");
		return NULL;
	}
	return user;
}

/* The user id of userHeartbeat and userOffline, which may name none: as
 * sio_event_user, and with a presence session it must be that session's
 * user. False after refusing (*user NULL); else *user is the id or NULL
 * for none (caller frees). */
static bool
sio_event_own_user(struct sio *e, json_t *arg, int64_t id, char **user)
{
	bool none;

	*user = sio_event_user(e, arg, id, &none);
	if (*user == NULL && !none)
		return false;
	if (e->sess != NULL && *user != NULL &&
	    strcmp(*user, e->sess->user_id) != 0) {
		gw_sio_refuse(e, id, "bad_request",
			      "userId is not this connection's user");
		free(*user);
		*user = NULL;
		return false;
	}
	return true;
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

/* Ends the presence session, if any (clean: userOffline). */
void
gw_sio_sess_end(struct sio *e, bool clean)
{
	struct gw_session *s = e->sess;

	if (s == NULL)
		return;
	e->sess = NULL;
	e->online_ack = -1;
	s->fe_data = NULL;
	gw_session_end(e->srv, s, clean);
	gw_sio_observe_update(e);
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
	gw_sio_observe_update(e);
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
			gw_sio_refuse(e, id, "bad_request",
				      "userId is required");
		return;
	}
	if (sio_meta(arg, &meta) != 0) {
		gw_sio_refuse(e, id, "too_large",
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
	char *user;

	if (!sio_event_own_user(e, arg, id, &user))
		return;
	if (e->sess != NULL)
		sio_ack_ok(e, id);
	else if (user != NULL)
		sio_sess_begin(e, user, NULL, id);
	else
		gw_sio_refuse(e, id, "bad_request", "userId is required");
	free(user);
}

/* userOffline {userId}: this connection's session ends clean (v1 bye):
 * offline at once if it was the user's last. */
static void
ev_user_offline(struct sio *e, json_t *arg, int64_t id)
{
	char *user;

	if (!sio_event_own_user(e, arg, id, &user))
		return;
	gw_sio_sess_end(e, true);
	sio_ack_ok(e, id);
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
	gw_sio_refuse(e, id, "rate_limited", "too many messages");
	if (v == GW_RATE_CLOSE) {
		prs_info("socket.io %s: rate limited for %lld ms, closing",
			 e->id, (long long) gw_rate_streak(&e->rl, now));
		gw_sio_close(e, false);
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
		gw_sio_send_buf(e, b);
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
		gw_sio_send_buf(e, b);
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
		gw_sio_random_id(e->sid);
	}
	gw_sio_observe_update(e);
	/* An observer hears nothing until the registry has the observer
	 * session: the reply waits for its SessionAck, as v1's welcome. */
	if (e->observing && e->srv->sio->observer->await_ack)
		e->connect_wait = true;
	else
		gw_sio_connect_reply(e);
}

/* 40{"sid"}: the CONNECT reply. */
void
gw_sio_connect_reply(struct sio *e)
{
	struct gw_buf *b = &e->srv->scratch;

	e->connect_wait = false;
	gw_buf_reset(b);
	gw_sio_encode_connect(b, "/", e->sid);
	gw_sio_send_buf(e, b);
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
		gw_sio_refuse(e, sp->id, "bad_request", "unknown event");
}

/* One Socket.IO packet (the data of an Engine.IO message). */
void
gw_sio_message(struct sio *e, const char *data, size_t len)
{
	struct gw_sio_packet sp = {.data = NULL};
	int rc = gw_sio_parse(data, len, &sp);

	if (rc != 0) {
		gw_sio_fail(e, gw_eio_strerror(rc));
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
			gw_sio_sess_end(e, false);
			gw_sio_observe_update(e);
		}
		break;
	case GW_SIO_EVENT:
		if (!e->connected || strcmp(sp.nsp, "/") != 0)
			gw_sio_fail(e, "event on a namespace not connected");
		else
			sio_event(e, &sp);
		break;
	case GW_SIO_ACK:
		break; /* we never ask the client for one */
	default:
		gw_sio_fail(e, "unexpected Socket.IO packet");
		break;
	}
out:
	gw_sio_clear(&sp);
}

/* ---- the frontend ops (gw_fe.h) ------------------------------------ */

/* userStatusChanged {userId, status, lastSeen}, as a WebSocket text frame
 * (the header in front; polling sessions take the packet behind it), or
 * -1 when it would tell nothing new: a change v1 shows (away, dnd, a new
 * text or meta) is none to a client that sees only online and offline,
 * and the drop-ins promise one event per change it can see. The registry
 * says whether is_online changed (Event.online_changed) for every target
 * of the event alike; a repair (after a registry restart) reaches the
 * frontends only when it differs from what this gateway's clients were
 * shown (gw_view.h), so it goes. */
static int
sio_encode_event(const Prs__Event *ev, struct gw_buf *b, struct gw_frame *f)
{
	const Prs__Presence *p = ev->presence;
	uint8_t hdr[GW_WS_HDR_MAX];
	size_t hl, plen;
	json_t *o;
	int rc;

	if (!ev->online_changed && !ev->repair)
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

bool
gw_sio_deliver_one(struct sio *e, const struct gw_frame *f)
{
	struct gw_conn *c;
	size_t hl;

	if (e->closed || !e->connected || e->connect_wait)
		return false;
	if (!e->websocket) {
		hl = sio_frame_hlen(f);
		return gw_sio_queue(e, f->data + hl, f->len - hl);
	}
	c = e->ws;
	if (c == NULL || c->state != GW_CONN_WS || !gw_conn_fits(c, f->len))
		return false;
	gw_buf_append(&c->out, f->data, f->len);
	return true;
}

/* To the presence session's connection, or for the observer session to
 * every observer (gw_sio_obs_deliver). */
static bool
sio_deliver(struct gw_session *s, const struct gw_frame *f)
{
	if (gw_sio_is_observer(s))
		return gw_sio_obs_deliver(s->srv, f);
	return s->fe_data != NULL && gw_sio_deliver_one(s->fe_data, f);
}

static void
sio_fe_flush(struct gw_session *s)
{
	if (gw_sio_is_observer(s))
		gw_sio_obs_flush(s->srv);
	else if (s->fe_data != NULL)
		gw_sio_flush(s->fe_data);
}

static void
sio_acked(struct gw_session *s)
{
	struct sio *e = s->fe_data;

	if (gw_sio_is_observer(s)) {
		gw_sio_obs_acked(s->srv);
		return;
	}
	if (e == NULL || e->online_ack < 0)
		return;
	sio_ack_ok(e, e->online_ack);
	e->online_ack = -1;
	gw_sio_flush(e);
}

/* Kicked: DISCONNECT (41: the client does not reconnect), then the end.
 * Token expired or events missed: the end, unclean; the client
 * reconnects (with a fresh token, to a fresh view). */
static bool
sio_fe_close(struct gw_session *s, enum gw_end why)
{
	struct sio *e = s->fe_data;
	struct gw_buf *b = &s->srv->scratch;
	struct gw_sio_packet p = {.type = GW_SIO_DISCONNECT, .id = -1};

	if (gw_sio_is_observer(s))
		return gw_sio_obs_close(s->srv, why);
	if (e == NULL) {
		gw_session_end(s->srv, s, why == GW_END_KICKED);
		return true;
	}
	switch (why) {
	case GW_END_KICKED:
		memcpy(p.nsp, "/", 2);
		gw_buf_reset(b);
		if (gw_sio_encode(b, &p) == 0)
			gw_sio_send_buf(e, b);
		gw_sio_close(e, true);
		break;
	case GW_END_TOKEN_EXPIRED:
		gw_sio_refuse(e, -1, "token_expired",
			      "the token expired; reconnect with a new one");
		gw_sio_close(e, false);
		break;
	case GW_END_MISSED:
		gw_sio_close(e, false);
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
			gw_sio_close(e, false);
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
