/*
 * The SignalR drop-in (seed 000; docs/MIGRATING.md "SignalR hub"): an
 * ASP.NET Core hub as @microsoft/signalr sees it, over the session core.
 * The records themselves are gw_signalr.c's (pure, fuzzed); this file is
 * where they meet connections and sessions.
 *
 * A connection is not a session. A SignalR client negotiates, opens the
 * WebSocket and does the handshake; it becomes a presence session only
 * with RegisterUser(userId): the session is announced to the registry and
 * UserRegistered goes out once the registry acknowledged it (as v1's
 * welcome), so a caller holding it cannot miss a change of its audience.
 * Meanwhile reading pauses and records already received wait in the
 * reader, so answers come in the order of the calls. Tracking asked for
 * before RegisterUser is kept on the connection and rides in the
 * announce; it takes effect with the registration (a session needs a
 * user). RegisterUser with another id on a registered connection (auth
 * none) moves the connection to that user: the old session ends unclean,
 * the tracking moves along.
 *
 * Ends: everything but a kick is an unclean end, so grace applies: a
 * dropped socket, a client silent for signalr_client_timeout_ms, and a
 * client's Close record, which stop() sends (the seed has no "going
 * offline" call). The server sends a Ping record after
 * signalr_keepalive_ms without any record to the client (the client's
 * own timeout is 30 s), and {"type":7,"allowReconnect":true} when the
 * gateway stops or missed registry events, so clients built with
 * withAutomaticReconnect() come back through a fresh negotiate.
 *
 * Negotiate, its connection tokens and the WebSocket upgrade are
 * gw_sr_negotiate.c's; a hub connection begins here (gw_sr_conn_begin).
 *
 * Errors read as ASP.NET's, since client code shows them: an unknown
 * method "Failed to invoke 'X' due to an error on the server.
 * HubException: Method does not exist.", arguments that do not bind
 * "Failed to invoke 'X' due to an error on the server.", a refusal by a
 * method "An unexpected error occurred invoking 'X' on the server.
 * HubException: why". A record that is not the protocol closes that
 * connection with a Close record carrying the error (1002, 1009 for one
 * over max_message_bytes, 1008 for a rate limit that persists).
 */
#include "gw_fe_signalr.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_fe_v1ws.h"
#include "gw_json.h"
#include "gw_rate.h"
#include "gw_reg.h"
#include "gw_server.h"
#include "gw_session.h"
#include "gw_signalr.h"
#include "gw_sr.h"
#include "gw_ws.h"
#include "prs_util.h"

#define SR_MSG_MAX (GW_SR_TARGET_MAX + 512)

static const char sr_registered_msg[] =
	"User successfully registered and marked as active";

static char empty[] = "";

/* A hub connection (c->fe_data), from the upgrade to the free. */
struct gw_sr_conn {
	struct gw_sr_reader rd;
	bool handshaken;
	bool awaiting;    /* RegisterUser waits for the registry's ack */
	bool watch_all;   /* JoinAllUsersTracking before RegisterUser */
	char *reg_inv;    /* that RegisterUser's invocationId, or NULL */
	json_t *watch;    /* ids tracked before RegisterUser, or NULL */
	int64_t last_in;  /* monotonic ms of the last client message */
	int64_t last_out; /* monotonic ms of the last record sent */
};

static void sr_drain(struct gw_conn *c);

/* c's SignalR state, NULL if c is no hub connection. */
static struct gw_sr_conn *
sr_conn(const struct gw_conn *c)
{
	return c->fe == &gw_fe_signalr ? c->fe_data : NULL;
}

/* ---- sending --------------------------------------------------------- */

/* Sends the records in b as one text message. */
static void
sr_send_buf(struct gw_conn *c, const struct gw_buf *b)
{
	struct gw_sr_conn *st = sr_conn(c);

	if (b->len > 0 && gw_ws_send_text(c, b->data, b->len) && st != NULL)
		st->last_out = prs_mono_ms();
}

/* A server Invocation of target with the one argument arg (stolen). */
static void
sr_send_call(struct gw_conn *c, const char *target, json_t *arg)
{
	struct gw_buf *b = &c->srv->scratch;
	json_t *args = json_array();

	json_array_append_new(args, arg);
	gw_buf_reset(b);
	if (gw_sr_encode_invocation(b, target, args) == 0)
		sr_send_buf(c, b);
	json_decref(args);
}

/* The Completion of invocation inv (NULL: none asked): error, or result
 * (only read; NULL: "result":null, as ASP.NET answers a method that
 * returns nothing, so the client's invoke resolves with null). */
static void
sr_complete(struct gw_conn *c, const char *inv, json_t *result,
	    const char *error)
{
	struct gw_buf *b = &c->srv->scratch;

	if (inv == NULL)
		return;
	gw_buf_reset(b);
	if (gw_sr_encode_completion(b, inv, result ? result : json_null(),
				    error) == 0 ||
	    /* an error text cut inside a UTF-8 sequence (sr_fail_*) */
	    (error != NULL &&
	     gw_sr_encode_completion(b, inv, NULL,
				     "An error occurred on the server.") == 0))
		sr_send_buf(c, b);
}

/* Arguments that do not fit the method. */
static void
sr_fail_bind(struct gw_conn *c, const char *inv, const char *target)
{
	char msg[SR_MSG_MAX];

	snprintf(msg, sizeof(msg),
		 "Failed to invoke '%s' due to an error on the server.",
		 target);
	sr_complete(c, inv, NULL, msg);
}

/* The method refused (a HubException in ASP.NET). */
static void
sr_fail_hub(struct gw_conn *c, const char *inv, const char *target,
	    const char *why)
{
	char msg[SR_MSG_MAX];

	snprintf(msg, sizeof(msg),
		 "An unexpected error occurred invoking '%s' on the server. "
		 "HubException: %s",
		 target, why);
	sr_complete(c, inv, NULL, msg);
}

/* A Close record (error and allowReconnect as given), then the WebSocket
 * close; the session ends clean or not. */
static void
sr_close_conn(struct gw_conn *c, const char *error, bool reconnect,
	      uint16_t code, const char *reason, bool clean)
{
	struct gw_buf *b = &c->srv->scratch;

	gw_buf_reset(b);
	if (sr_conn(c) != NULL && sr_conn(c)->handshaken &&
	    gw_sr_encode_close(b, error, reconnect) == 0)
		sr_send_buf(c, b);
	gw_ws_close(c, code, reason, clean);
}

/* Outside input that is not the protocol (rv a GW_SR_E* error). */
static void
sr_protocol_error(struct gw_conn *c, int rv)
{
	struct gw_buf *b = &c->srv->scratch;
	uint16_t code = rv == GW_SR_ETOOBIG ? 1009 : 1002;
	char msg[SR_MSG_MAX];

	if (sr_conn(c)->handshaken) {
		snprintf(msg, sizeof(msg),
			 "Connection closed with an error. "
			 "InvalidDataException: %s",
			 gw_sr_strerror(rv));
		sr_close_conn(c, msg, false, code, gw_sr_strerror(rv), false);
		return;
	}
	gw_buf_reset(b);
	gw_sr_handshake_response(b, gw_sr_strerror(rv));
	sr_send_buf(c, b);
	gw_ws_close(c, code, "handshake failed", false);
}

/* ---- presence as the hub shows it ------------------------------------ */

/* UserStatusChanged's argument: {user_id, is_active, status, last_seen},
 * status as others see it (invisible is offline). New reference. */
static json_t *
sr_status_json(const Prs__Presence *p)
{
	int st = p->status == PRS__STATUS__ST_INVISIBLE
			 ? PRS__STATUS__ST_OFFLINE
			 : (int) p->status;

	return json_pack("{s:o,s:b,s:s,s:o}", "user_id",
			 gw_json_id(p->user_id), "is_active",
			 p->is_online && st != PRS__STATUS__ST_OFFLINE,
			 "status", prs_status_name(st), "last_seen",
			 gw_json_time(p->last_seen));
}

/* A user id argument as presence's string: ids may come as JSON strings
 * or integers (§0). NULL when v is neither (it does not bind). */
static char *
sr_arg_id(json_t *v)
{
	char buf[32];

	if (json_is_string(v)) /* with a NUL inside: an invalid id */
		return memchr(json_string_value(v), '\0',
			      json_string_length(v)) != NULL
			       ? xstrdup("")
			       : xstrdup(json_string_value(v));
	if (!json_is_integer(v))
		return NULL;
	snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		 json_integer_value(v));
	return xstrdup(buf);
}

/* ---- hub methods ------------------------------------------------------ */

static void
sr_registered(struct gw_conn *c, const char *inv)
{
	sr_send_call(c, "UserRegistered",
		     json_pack("{s:o,s:b,s:s}", "user_id",
			       gw_json_id(c->sess->user_id), "is_active", 1,
			       "message", sr_registered_msg));
	sr_complete(c, inv, NULL, NULL);
}

/* RegisterUser refused: the seed tells the caller so and returns. */
static void
sr_register_refuse(struct gw_conn *c, const struct gw_sr_msg *m,
		   const char *uid, const char *why)
{
	json_t *id = gw_json_id(uid);

	sr_send_call(c, "UserRegistrationFailed",
		     json_pack("{s:o,s:s}", "user_id",
			       id ? id : json_string(""), "error", why));
	sr_complete(c, m->invocation_id, NULL, NULL);
}

/* What the connection tracks, to carry into a new session: the watches
 * of its session, or those asked for before it. New array. */
static json_t *
sr_watch_take(struct gw_conn *c)
{
	json_t *a;
	uint32_t i;

	if (c->sess == NULL) {
		struct gw_sr_conn *st = sr_conn(c);
		a = st->watch ? st->watch : json_array();
		st->watch = NULL;
		return a;
	}
	a = json_array();
	for (i = 0; i < c->sess->nwatch; i++)
		json_array_append_new(a, json_string(c->sess->watch[i]));
	return a;
}

static void
sr_register(struct gw_conn *c, const struct gw_sr_msg *m)
{
	struct gw_server *srv = c->srv;
	const struct gw_config *cfg = srv->cfg;
	struct gw_sr_conn *st = sr_conn(c);
	char *uid = sr_arg_id(json_array_get(m->arguments, 0));
	struct gw_session *s;
	json_t *watch;
	bool all;

	if (uid == NULL) {
		sr_fail_bind(c, m->invocation_id, m->target);
		return;
	}
	if (!prs_id_valid(uid, strlen(uid)))
		sr_register_refuse(c, m, uid, "invalid user id");
	else if (!cfg->auth_none &&
		 (c->auth_user == NULL || strcmp(uid, c->auth_user) != 0))
		sr_register_refuse(c, m, uid, "the token is for another user");
	else if (c->sess != NULL && strcmp(c->sess->user_id, uid) == 0)
		sr_registered(c, m->invocation_id);
	else
		goto fresh;
	free(uid);
	return;

fresh:
	watch = sr_watch_take(c);
	all = c->sess != NULL ? c->sess->watch_all : st->watch_all;
	if (c->sess != NULL) { /* the connection moves to another user */
		s = c->sess;
		c->sess = NULL;
		s->conn = NULL;
		gw_session_end(srv, s, false);
	}
	s = gw_session_new(srv, uid, &gw_fe_signalr);
	free(uid);
	s->conn = c;
	s->device = xstrdup("signalr");
	s->token_exp = cfg->auth_none ? 0 : c->auth_exp;
	gw_session_token_watch(srv, s->token_exp);
	gw_session_watch_add(s, watch); /* bounded as it grew */
	json_decref(watch);
	s->watch_all = all;
	st->watch_all = false;
	c->sess = s;
	gw_session_announce(srv, s);
	prs_debug("conn %llu: signalr session %llu for %s",
		  (unsigned long long) c->serial, (unsigned long long) s->sid,
		  s->user_id);
	if (!gw_reg_ready(srv)) { /* re-announced when it is back */
		sr_registered(c, m->invocation_id);
		return;
	}
	st->reg_inv = m->invocation_id ? xstrdup(m->invocation_id) : NULL;
	st->awaiting = true;
	gw_session_await(srv, s);
	gw_conn_pause(c);
}

static void
sr_reply_cb(struct gw_conn *c, struct gw_pending *p, const Prs__Reply *r)
{
	const char *inv = json_string_value(json_array_get(p->id, 0));
	const char *target = json_string_value(json_array_get(p->id, 1));
	json_t *res = NULL;

	if (c->state != GW_CONN_WS || inv == NULL || target == NULL)
		return;
	/* An all-users change fails only for a session the registry does
	 * not know yet: the flag rides in its (re-)announce anyway. */
	if (r != NULL && r->error != NULL && r->error[0] != '\0' &&
	    (p->op == PRS__OP__OP_WATCH || p->op == PRS__OP__OP_UNWATCH)) {
		sr_fail_hub(c, inv, target,
			    r->message && r->message[0] ? r->message
							: r->error);
		return;
	}
	/* No answer in time: the watch is recorded on the session and
	 * rides in the next re-announce. */
	if (r != NULL && p->op == PRS__OP__OP_WATCH && r->n_users > 0)
		res = sr_status_json(r->users[0]);
	sr_complete(c, inv, res, NULL);
	json_decref(res);
}

/* Tells the registry about a watch change of c's session for uid (NULL:
 * all users); the Completion follows its answer, so the watch is in place
 * once a caller awaiting it goes on. */
static void
sr_watch_request(struct gw_conn *c, const struct gw_sr_msg *m, Prs__Op op,
		 const char *uid)
{
	Prs__Request rq = PRS__REQUEST__INIT;
	char *list[1] = {(char *) uid};
	struct gw_pending *p;

	rq.sid = c->sess->sid;
	rq.op = op;
	rq.user_id = c->sess->user_id;
	rq.thread_id = empty;
	rq.n_user_ids = uid != NULL ? 1 : 0;
	rq.user_ids = uid != NULL ? list : NULL;
	if (!gw_reg_ready(c->srv)) {
		/* as v1's request_quiet: the registry may only be slow */
		Prs__Envelope env = PRS__ENVELOPE__INIT;
		env.body_case = PRS__ENVELOPE__BODY_REQUEST;
		env.request = &rq;
		gw_reg_send(c->srv, &env);
		sr_complete(c, m->invocation_id, NULL, NULL);
		return;
	}
	p = gw_reg_request(c->srv, &rq, c, sr_reply_cb);
	if (m->invocation_id != NULL)
		p->id = json_pack("[s,s]", m->invocation_id, m->target);
}

/* The pending list (before RegisterUser): adds or removes uid. Returns
 * -1 when it would pass GW_WATCH_MAX. */
static int
sr_pending_watch(struct gw_sr_conn *st, const char *uid, bool on)
{
	size_t i;
	json_t *e;

	json_array_foreach(st->watch, i, e)
	{
		if (strcmp(json_string_value(e), uid) != 0)
			continue;
		if (!on)
			json_array_remove(st->watch, i);
		return 0;
	}
	if (!on)
		return 0;
	if (json_array_size(st->watch) >= GW_WATCH_MAX)
		return -1;
	if (st->watch == NULL)
		st->watch = json_array();
	json_array_append_new(st->watch, json_string(uid));
	return 0;
}

static void
sr_tracking(struct gw_conn *c, const struct gw_sr_msg *m, bool on)
{
	char *uid = sr_arg_id(json_array_get(m->arguments, 0));
	json_t *ids = NULL;

	if (uid == NULL) {
		sr_fail_bind(c, m->invocation_id, m->target);
		return;
	}
	if (!prs_id_valid(uid, strlen(uid)) ||
	    (ids = json_pack("[s]", uid)) == NULL) {
		sr_fail_hub(c, m->invocation_id, m->target, "invalid user id");
	} else if (c->sess == NULL) {
		if (sr_pending_watch(sr_conn(c), uid, on) != 0)
			sr_fail_hub(c, m->invocation_id, m->target,
				    "a connection may track at most 10000 "
				    "users");
		else
			sr_complete(c, m->invocation_id, NULL, NULL);
	} else if (on) {
		if (gw_session_watch_add(c->sess, ids) != 0)
			sr_fail_hub(c, m->invocation_id, m->target,
				    "a connection may track at most 10000 "
				    "users");
		else
			sr_watch_request(c, m, PRS__OP__OP_WATCH, uid);
	} else {
		gw_session_watch_del(c->sess, ids);
		sr_watch_request(c, m, PRS__OP__OP_UNWATCH, uid);
	}
	json_decref(ids);
	free(uid);
}

static void
sr_track(struct gw_conn *c, const struct gw_sr_msg *m)
{
	sr_tracking(c, m, true);
}

static void
sr_untrack(struct gw_conn *c, const struct gw_sr_msg *m)
{
	sr_tracking(c, m, false);
}

/* Every user's changes: under auth jwt, as Socket.IO's audience "all",
 * for admin tokens or with socketio_audience_all_users. */
static void
sr_all_tracking(struct gw_conn *c, const struct gw_sr_msg *m, bool on)
{
	struct gw_server *srv = c->srv;
	const struct gw_config *cfg = srv->cfg;
	struct gw_session *s = c->sess;

	if (on && !cfg->auth_none && !c->auth_admin &&
	    !cfg->socketio_all_users) {
		sr_fail_hub(c, m->invocation_id, m->target,
			    "tracking all users needs an admin token");
		return;
	}
	if (s == NULL) { /* rides in the announce of RegisterUser */
		sr_conn(c)->watch_all = on;
		sr_complete(c, m->invocation_id, NULL, NULL);
	} else if (s->watch_all == on || !gw_reg_ready(srv)) {
		gw_session_watch_all(srv, s, on);
		sr_complete(c, m->invocation_id, NULL, NULL);
	} else {
		s->watch_all = on; /* gw_session_watch_all, with an answer */
		sr_watch_request(c, m,
				 on ? PRS__OP__OP_WATCH_ALL
				    : PRS__OP__OP_UNWATCH_ALL,
				 NULL);
	}
}

static void
sr_track_all(struct gw_conn *c, const struct gw_sr_msg *m)
{
	sr_all_tracking(c, m, true);
}

static void
sr_untrack_all(struct gw_conn *c, const struct gw_sr_msg *m)
{
	sr_all_tracking(c, m, false);
}

static const struct sr_method {
	const char *name;
	size_t nargs;
	void (*fn)(struct gw_conn *c, const struct gw_sr_msg *m);
} sr_methods[] = {
	{"RegisterUser", 1, sr_register},
	{"JoinUserTracking", 1, sr_track},
	{"LeaveUserTracking", 1, sr_untrack},
	{"JoinAllUsersTracking", 0, sr_track_all},
	{"LeaveAllUsersTracking", 0, sr_untrack_all},
};

static void
sr_invoke(struct gw_conn *c, const struct gw_sr_msg *m)
{
	struct gw_buf *b = &c->srv->scratch;
	size_t i;

	for (i = 0; i < PRS_ARRAY_LEN(sr_methods); i++) {
		const struct sr_method *sm = &sr_methods[i];

		if (!gw_sr_target_is(m->target, sm->name))
			continue;
		/* none of them streams, and each has a fixed arity */
		if (m->type != GW_SR_INVOCATION || m->stream_ids != NULL ||
		    json_array_size(m->arguments) != sm->nargs)
			sr_fail_bind(c, m->invocation_id, m->target);
		else
			sm->fn(c, m);
		return;
	}
	if (m->invocation_id == NULL)
		return; /* send(): ASP.NET only logs it */
	gw_buf_reset(b);
	if (gw_sr_encode_no_method(b, m->invocation_id, m->target) == 0)
		sr_send_buf(c, b);
}

/* ---- records ------------------------------------------------------------ */

/* The rate limit (gw_rate.h), per record; a refused invocation gets an
 * error Completion. */
static bool
sr_rate_ok(struct gw_conn *c, const struct gw_sr_msg *m)
{
	int64_t now = prs_mono_ms();
	enum gw_rate_verdict v = gw_rate_take(&c->rl, c->srv, now);

	if (v == GW_RATE_OK)
		return true;
	if (m->target != NULL)
		sr_fail_hub(c, m->invocation_id, m->target,
			    "too many messages (rate limited)");
	if (v == GW_RATE_CLOSE) {
		prs_info("conn %llu: rate limited for %lld ms, closing",
			 (unsigned long long) c->serial,
			 (long long) gw_rate_streak(&c->rl, now));
		sr_close_conn(c,
			      "Connection closed with an error. "
			      "Rate limit exceeded.",
			      false, 1008, "rate limit exceeded", false);
	}
	return false;
}

static void
sr_handshake(struct gw_conn *c, const char *rec, size_t len)
{
	struct gw_buf *b = &c->srv->scratch;
	char why[GW_SR_WHY_MAX];
	int rv = gw_sr_handshake_parse(rec, len, why);

	gw_buf_reset(b);
	gw_sr_handshake_response(b, rv == 0 ? NULL : why);
	sr_send_buf(c, b);
	if (rv != 0) {
		gw_ws_close(c, 1002, "handshake failed", false);
		return;
	}
	sr_conn(c)->handshaken = true;
	gw_conn_hello_done(c);
}

static void
sr_record(struct gw_conn *c, const char *rec, size_t len)
{
	struct gw_sr_msg m;
	int rv = gw_sr_parse(rec, len, &m);

	if (rv != 0)
		sr_protocol_error(c, rv);
	else if (!sr_rate_ok(c, &m))
		;
	else if (m.type == GW_SR_INVOCATION ||
		 m.type == GW_SR_STREAM_INVOCATION)
		sr_invoke(c, &m);
	else if (m.type == GW_SR_CLOSE)
		/* stop() says goodbye this way: still an unclean end */
		gw_ws_close(c, 1000, NULL, false);
	/* Ping: counted as life (last_in); a Completion or StreamItem (no
	 * server-to-client invocation asks for one), CancelInvocation:
	 * nothing to do. */
	gw_sr_msg_clear(&m);
}

/* Handles the complete records received, unless RegisterUser waits. */
static void
sr_drain(struct gw_conn *c)
{
	struct gw_sr_conn *st = sr_conn(c);
	const char *rec;
	size_t len;
	int rv;

	while (c->state == GW_CONN_WS && !st->awaiting) {
		rv = gw_sr_reader_next(&st->rd, &rec, &len);
		if (rv == 0)
			return;
		if (rv < 0) {
			sr_protocol_error(c, rv);
			return;
		}
		if (!st->handshaken)
			sr_handshake(c, rec, len);
		else
			sr_record(c, rec, len);
	}
}

/* ---- the WebSocket handler ------------------------------------------------
 */

static void
sr_message(struct gw_conn *c, const uint8_t *msg, size_t len)
{
	struct gw_sr_conn *st = sr_conn(c);
	int rv;

	st->last_in = prs_mono_ms();
	rv = gw_sr_reader_feed(&st->rd, msg, len);
	if (rv != 0)
		sr_protocol_error(c, rv);
	else if (!st->awaiting)
		sr_drain(c);
}

static void
sr_leave(struct gw_conn *c, bool clean)
{
	struct gw_session *s = c->sess;

	if (s == NULL)
		return;
	c->sess = NULL;
	s->conn = NULL;
	gw_session_end(c->srv, s, clean);
}

/* Keep-alive both ways (see the top). */
static void
sr_tick(struct gw_conn *c, int64_t now)
{
	const struct gw_config *cfg = c->srv->cfg;
	struct gw_sr_conn *st = sr_conn(c);
	struct gw_buf *b = &c->srv->scratch;

	if (!st->handshaken || st->awaiting)
		return;
	if (now - st->last_in >= cfg->signalr_client_timeout_ms) {
		prs_debug("conn %llu: signalr client timeout",
			  (unsigned long long) c->serial);
		sr_close_conn(c,
			      "Server timeout elapsed without receiving a "
			      "message from the client.",
			      false, 1008, "client timeout", false);
		return;
	}
	if (now - st->last_out >= cfg->signalr_keepalive_ms) {
		gw_buf_reset(b);
		gw_sr_encode_ping(b);
		sr_send_buf(c, b);
	}
}

static void
sr_stop(struct gw_conn *c)
{
	sr_close_conn(c, NULL, true, 1001, "server shutting down", false);
}

/* The connection is freed (gw_fe.h conn_free). */
static void
sr_conn_free(struct gw_conn *c)
{
	struct gw_sr_conn *st = sr_conn(c);

	if (st == NULL)
		return;
	gw_sr_reader_free(&st->rd);
	free(st->reg_inv);
	json_decref(st->watch);
	free(st);
	c->fe_data = NULL;
}

const struct gw_ws_handler gw_sr_ws_handler = {
	.message = sr_message,
	.leave = sr_leave,
	.tick = sr_tick,
	.stop = sr_stop,
};

/* The WebSocket of c was accepted as a hub connection
 * (gw_signalr_connect): its state, c->fe_data, until the free. */
void
gw_sr_conn_begin(struct gw_conn *c)
{
	struct gw_sr_conn *st = xcalloc(1, sizeof(*st));

	gw_sr_reader_init(&st->rd, (size_t) c->srv->cfg->max_message_bytes);
	st->last_in = st->last_out = prs_mono_ms();
	c->fe_data = st;
}

/* ---- the frontend ops (gw_fe.h) ------------------------------------------
 */

/* One Invocation record of UserStatusChanged as a text frame. */
static int
sr_encode_event(const Prs__Event *ev, struct gw_buf *b, struct gw_frame *f)
{
	uint8_t hdr[GW_WS_HDR_MAX];
	json_t *args = json_array();
	size_t hl, plen;
	int rv;

	json_array_append_new(args, sr_status_json(ev->presence));
	gw_buf_reset(b);
	gw_buf_reserve(b, GW_WS_HDR_MAX);
	gw_buf_commit(b, GW_WS_HDR_MAX);
	rv = gw_sr_encode_invocation(b, "UserStatusChanged", args);
	json_decref(args);
	if (rv != 0)
		return -1;
	plen = b->len - GW_WS_HDR_MAX;
	hl = gw_ws_frame_header(hdr, WSLAY_TEXT_FRAME, plen);
	memcpy(b->data + GW_WS_HDR_MAX - hl, hdr, hl);
	f->len = hl + plen;
	f->data = b->data + GW_WS_HDR_MAX - hl;
	return 0;
}

static bool
sr_deliver(struct gw_session *s, const struct gw_frame *f)
{
	struct gw_conn *c = s->conn;

	struct gw_sr_conn *st = c ? sr_conn(c) : NULL;

	if (st == NULL || !gw_v1ws_deliver(s, f))
		return false;
	st->last_out = prs_mono_ms();
	return true;
}

/* The registry acknowledged a RegisterUser: answer it, then go on with
 * the records that waited. */
static void
sr_acked(struct gw_session *s)
{
	struct gw_conn *c = s->conn;
	struct gw_sr_conn *st;

	if (c == NULL || c->state != GW_CONN_WS || c->sess != s ||
	    (st = sr_conn(c)) == NULL || !st->awaiting)
		return;
	st->awaiting = false;
	sr_registered(c, st->reg_inv);
	free(st->reg_inv);
	st->reg_inv = NULL;
	st->last_in = prs_mono_ms(); /* we were not reading */
	gw_conn_resume(c);
	sr_drain(c);
}

static bool
sr_close(struct gw_session *s, enum gw_end why)
{
	struct gw_conn *c = s->conn;

	if (c == NULL)
		return false;
	switch (why) {
	case GW_END_MISSED:
		if (c->state != GW_CONN_WS)
			return false;
		sr_close_conn(c, NULL, true, 1001, "missed events: reconnect",
			      false);
		return true;
	case GW_END_TOKEN_EXPIRED:
		sr_close_conn(c,
			      "The access token expired; reconnect with a "
			      "new one.",
			      true, 1008, "token expired", false);
		break;
	case GW_END_KICKED:
		sr_close_conn(c, "The session was ended by an administrator.",
			      false, 4001, "kicked", true);
		break;
	}
	if (c->sess != NULL) /* not a live WebSocket after all */
		gw_conn_abort(c);
	return true;
}

const struct gw_fe gw_fe_signalr = {
	.name = "signalr",
	.kind = GW_FE_SIGNALR,
	.encode_event = sr_encode_event,
	.encode_typing = NULL,
	.deliver_event = sr_deliver,
	.deliver_typing = sr_deliver,
	.flush = gw_v1ws_flush,
	.acked = sr_acked,
	.close = sr_close,
	.conn_free = sr_conn_free,
};
