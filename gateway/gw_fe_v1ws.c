/*
 * The v1 WebSocket frontend: where v1 messages are handled (PROTOCOL.md
 * §3-5). The codec (gw_ws.c) hands each complete text message to
 * gw_v1ws_message; the session core (gw_session.c) reaches the client
 * through the ops table gw_fe_v1ws at the bottom.
 *
 * A session is born from hello: it is announced to the registry
 * (SessionBatch) and welcomed when the registry acknowledges it
 * (SessionAck), so that a client holding its welcome cannot miss a change
 * of its audience made through another gateway. Without a ready registry
 * (or after request_timeout_ms) it is welcomed anyway, so a client
 * connected while the registry restarts still gets in; the session is
 * re-announced on the next Resync. The session keeps what a
 * re-announce needs (user, device, chosen status, text, meta, watches) and
 * nothing else: per idle session that is a few hundred bytes beside
 * wslay's context.
 *
 * Limits: a list over its bound (more than 1000 ids in one message, a
 * watch set over 10000) and a field over its size (device 64 B, text
 * 256 B, meta 1 KiB) get error "too_large"; a missing or wrongly typed
 * field, or an invalid id, gets "bad_request". Either way the message has
 * no effect and the connection stays open.
 *
 * set_status replaces status and text together: a set_status without
 * "text" clears the text.
 *
 * v1.1. Token lifetime: under auth jwt a session remembers the exp of its
 * token (the upgrade's, the hello's, or the latest refresh's) and ends at
 * it: the cron (gw_session_token_expire) looks at the sessions only once
 * the earliest exp has come (srv->token_next), so there is no timer per
 * session and no scan while nothing is due. A WebSocket gets error
 * token_expired and close 1008, an HTTP heartbeat session is dropped;
 * both end uncleanly, so grace covers a reconnect with a fresh token.
 * Activity: the idle flag is kept per session (it rides in the
 * re-announce) and forwarded to the registry, which derives auto-away.
 * Kick: the registry ended the sessions already; we close their
 * WebSockets 4001 "kicked" and drop their HTTP sessions.
 */
#include "gw_fe_v1ws.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_fe.h"
#include "gw_json.h"
#include "gw_rate.h"
#include "gw_reg.h"
#include "gw_server.h"
#include "gw_session.h"
#include "gw_ws.h"
#include "prs_util.h"

#define DEVICE_MAX 64
#define TEXT_MAX   256
#define META_MAX   1024

static char empty[] = "";

/* ---- sending ------------------------------------------------------- */

static json_t *
msg_new(const char *type, json_t *id)
{
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string(type));
	if (id != NULL)
		json_object_set(o, "id", id);
	return o;
}

/* Encodes j (reference stolen) and queues it to c. */
static void
send_json(struct gw_conn *c, json_t *j)
{
	struct gw_buf *b = &c->srv->scratch;

	gw_buf_reset(b);
	gw_json_dump(j, b);
	json_decref(j);
	gw_ws_send_text(c, b->data, b->len);
}

static void
send_error(struct gw_conn *c, json_t *id, const char *code, const char *msg)
{
	json_t *o = msg_new("error", id);
	json_object_set_new(o, "code", json_string(code));
	json_object_set_new(o, "message", json_string(msg));
	send_json(c, o);
}

static void
send_ok(struct gw_conn *c, json_t *id)
{
	send_json(c, msg_new("ok", id));
}

/* Before hello, or on failed authentication: error unauthorized, 1008. */
static void
refuse(struct gw_conn *c, json_t *id, const char *msg)
{
	send_error(c, id, "unauthorized", msg);
	gw_ws_close(c, 1008, msg, false);
}

static bool
known_code(const char *code)
{
	static const char *const codes[] = {
		"bad_request", "unauthorized", "forbidden",   "not_found",
		"too_large",   "rate_limited", "unavailable", "internal"};
	size_t i;

	for (i = 0; i < PRS_ARRAY_LEN(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

/* ---- requests to the registry -------------------------------------- */

static void
ws_reply_cb(struct gw_conn *c, struct gw_pending *p, const Prs__Reply *r)
{
	json_t *o, *users;
	size_t i;

	if (c->state != GW_CONN_WS)
		return;
	if (r == NULL) {
		send_error(c, p->id, "unavailable",
			   "the registry did not answer");
		return;
	}
	if (r->error != NULL && r->error[0] != '\0') {
		send_error(
			c, p->id, known_code(r->error) ? r->error : "internal",
			r->message && r->message[0] ? r->message : r->error);
		return;
	}
	if (p->op == PRS__OP__OP_UNWATCH) {
		send_ok(c, p->id);
		return;
	}
	o = msg_new("presence_list", p->id);
	users = json_array();
	for (i = 0; i < r->n_users; i++)
		json_array_append_new(users, gw_json_presence(r->users[i]));
	json_object_set_new(o, "users", users);
	send_json(c, o);
}

/* Fills rq for the session of c; the caller frees the returned list. */
static char **
request_fill(Prs__Request *rq, struct gw_conn *c, Prs__Op op,
	     const char *thread, json_t *ids)
{
	char **list = NULL;
	size_t i;
	json_t *e;

	rq->sid = c->sess->sid;
	rq->op = op;
	rq->user_id = c->sess->user_id;
	rq->thread_id = thread ? (char *) thread : empty;
	if (ids != NULL && json_array_size(ids) > 0) {
		list = xmalloc(json_array_size(ids) * sizeof(*list));
		json_array_foreach(ids, i, e) list[i] =
			(char *) json_string_value(e);
		rq->n_user_ids = json_array_size(ids);
		rq->user_ids = list;
	}
	return list;
}

static void
request(struct gw_conn *c, json_t *id, Prs__Op op, const char *thread,
	json_t *ids)
{
	Prs__Request rq = PRS__REQUEST__INIT;
	char **list = request_fill(&rq, c, op, thread, ids);
	struct gw_pending *p = gw_reg_request(c->srv, &rq, c, ws_reply_cb);

	if (id != NULL)
		p->id = json_incref(id);
	free(list);
}

/* Sends a watch change to the registry without waiting for an answer
 * (req 0: its reply is dropped). Used while the link is not ready: the
 * registry may only have been slow, not restarted, and then no re-announce
 * would follow to carry the change; if it did restart, the stale request
 * is ignored and the re-announce carries the watch set instead. */
static void
request_quiet(struct gw_conn *c, Prs__Op op, json_t *ids)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Request rq = PRS__REQUEST__INIT;
	char **list;

	if (json_array_size(ids) == 0)
		return;
	list = request_fill(&rq, c, op, NULL, ids);
	env.body_case = PRS__ENVELOPE__BODY_REQUEST;
	env.request = &rq;
	gw_reg_send(c->srv, &env);
	free(list);
}

/* ---- client messages ----------------------------------------------- */

/* Reads an optional string member: 0 absent or null, 1 present, -1 wrong
 * type. */
static int
opt_string(json_t *m, const char *key, const char **out, size_t *len)
{
	json_t *v = json_object_get(m, key);

	*out = NULL;
	if (len)
		*len = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return 1;
}

static void
send_welcome(struct gw_conn *c, struct gw_session *s, json_t *id)
{
	struct gw_server *srv = c->srv;
	const struct gw_config *cfg = srv->cfg;
	char sid_str[160];
	json_t *o = msg_new("welcome", id);

	gw_session_id_format(sid_str, sizeof(sid_str), cfg->name, srv->epoch,
			     s->sid);
	json_object_set_new(o, "session_id", json_string(sid_str));
	json_object_set_new(o, "user_id", json_string(s->user_id));
	json_object_set_new(o, "heartbeat_ms",
			    json_integer(cfg->heartbeat_ms));
	json_object_set_new(o, "server_time", json_integer(prs_now_ms()));
	send_json(c, o);
}

static void
do_hello(struct gw_conn *c, json_t *m, json_t *id)
{
	struct gw_server *srv = c->srv;
	const struct gw_config *cfg = srv->cfg;
	const char *device, *status_s, *text, *token, *uid;
	size_t device_len, text_len, token_len, uid_len;
	int status = PRS__STATUS__ST_ONLINE;
	bool status_set = false;
	char *meta = NULL, *user = NULL;
	int64_t exp = 0;
	json_t *v;
	struct gw_session *s;

	if (opt_string(m, "device", &device, &device_len) < 0) {
		send_error(c, id, "bad_request", "device must be a string");
		return;
	}
	if (device_len > DEVICE_MAX) {
		send_error(c, id, "too_large",
			   "device is longer than 64 bytes");
		return;
	}
	switch (opt_string(m, "status", &status_s, NULL)) {
	case -1: {
		send_error(c, id, "bad_request", "status must be a string");
		return;
	}
	case 1:
		status = prs_status_parse(status_s);
		if (status <= PRS__STATUS__ST_OFFLINE) {
			send_error(c, id, "bad_request",
				   "status must be online, away, dnd or "
				   "invisible");
			return;
		}
		status_set = true;
		break;
	default:
		break;
	}
	if (opt_string(m, "text", &text, &text_len) < 0) {
		send_error(c, id, "bad_request", "text must be a string");
		return;
	}
	if (text_len > TEXT_MAX) {
		send_error(c, id, "too_large",
			   "text is longer than 256 bytes");
		return;
	}
	if (json_object_get(m, "text") != NULL)
		status_set = true;
	if (opt_string(m, "token", &token, &token_len) < 0) {
		send_error(c, id, "bad_request", "token must be a string");
		return;
	}
	if (opt_string(m, "user_id", &uid, &uid_len) < 0) {
		send_error(c, id, "bad_request", "user_id must be a string");
		return;
	}
	v = json_object_get(m, "meta");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_object(v)) {
			send_error(c, id, "bad_request",
				   "meta must be an object");
			return;
		}
		meta = json_dumps(v, JSON_COMPACT);
		if (meta == NULL || strlen(meta) > META_MAX) {
			free(meta);
			send_error(c, id, "too_large",
				   "meta is larger than 1 KiB");
			return;
		}
	}

	/* Who is it: credentials of the upgrade first, then the hello. */
	if (c->auth_user != NULL) {
		user = xstrdup(c->auth_user);
		exp = c->auth_exp;
	} else if (!cfg->auth_none) {
		bool admin;
		if (token == NULL ||
		    gw_auth_verify_exp(cfg, token, token_len, &user, &admin,
				       &exp) != 0) {
			free(meta);
			refuse(c, id,
			       token ? "invalid token" : "token required");
			return;
		}
	} else {
		if (uid == NULL || !prs_id_valid(uid, uid_len)) {
			free(meta);
			refuse(c, id,
			       uid ? "invalid user_id" : "user_id required");
			return;
		}
		user = xstrndup(uid, uid_len);
	}

	/* the frontend the upgrade chose (seed 004 events on a gateway
	 * with compat_events = seed004) */
	s = gw_session_new(srv, user, c->fe != NULL ? c->fe : &gw_fe_v1ws);
	free(user);
	s->conn = c;
	s->device = device ? xstrndup(device, device_len) : NULL;
	s->status = (uint8_t) status;
	s->has_text = text != NULL;
	s->text = text ? xstrndup(text, text_len) : NULL;
	s->meta = meta;
	s->status_set = status_set;
	s->status_at = status_set ? prs_now_ms() : 0;
	s->token_exp = cfg->auth_none ? 0 : exp;
	gw_session_token_watch(srv, s->token_exp);
	c->sess = s;
	gw_conn_hello_done(c);
	gw_session_announce(srv, s);
	prs_debug("conn %llu: session %llu for %s",
		  (unsigned long long) c->serial, (unsigned long long) s->sid,
		  s->user_id);

	/* Welcome once the registry has the session (SessionAck): from
	 * then on no change of its audience can miss it. Reading pauses
	 * meanwhile so that replies never overtake the welcome. With no
	 * ready registry the session waits for the re-announce: welcome now.
	 */
	if (gw_reg_ready(srv)) {
		s->welcome_id = id ? json_incref(id) : NULL;
		gw_session_await(srv, s);
		gw_conn_pause(c);
		return;
	}
	send_welcome(c, s, id);
}

static void
do_set_status(struct gw_conn *c, json_t *m, json_t *id)
{
	struct gw_session *s = c->sess;
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__SetStatus ss = PRS__SET_STATUS__INIT;
	const char *status_s, *text;
	size_t text_len;
	int status;

	if (opt_string(m, "status", &status_s, NULL) != 1) {
		send_error(c, id, "bad_request",
			   "status (a string) is required");
		return;
	}
	status = prs_status_parse(status_s);
	if (status <= PRS__STATUS__ST_OFFLINE) {
		send_error(c, id, "bad_request",
			   "status must be online, away, dnd or invisible");
		return;
	}
	if (opt_string(m, "text", &text, &text_len) < 0) {
		send_error(c, id, "bad_request", "text must be a string");
		return;
	}
	if (text_len > TEXT_MAX) {
		send_error(c, id, "too_large",
			   "text is longer than 256 bytes");
		return;
	}
	s->status = (uint8_t) status;
	s->status_set = true;
	s->status_at = prs_now_ms();
	free(s->text);
	s->has_text = text != NULL;
	s->text = text ? xstrndup(text, text_len) : NULL;
	ss.sid = s->sid;
	ss.status_at = s->status_at;
	ss.status = (Prs__Status) status;
	ss.has_text = s->has_text;
	ss.text = s->text ? s->text : empty;
	env.body_case = PRS__ENVELOPE__BODY_SET_STATUS;
	env.set_status = &ss;
	gw_reg_send(c->srv, &env);
	send_ok(c, id);
}

/* The "user_ids" member checked: returns it, or NULL after replying. */
static json_t *
get_ids(struct gw_conn *c, json_t *m, json_t *id)
{
	json_t *v = json_object_get(m, "user_ids");
	const char *why;
	int rv;

	if (v == NULL) {
		send_error(c, id, "bad_request", "user_ids is required");
		return NULL;
	}
	rv = gw_json_ids(v, GW_IDS_MAX, &why);
	if (rv != 0) {
		send_error(c, id, rv == -2 ? "too_large" : "bad_request", why);
		return NULL;
	}
	return v;
}

static void
do_watch(struct gw_conn *c, json_t *m, json_t *id)
{
	json_t *ids = get_ids(c, m, id);

	if (ids == NULL)
		return;
	if (gw_session_watch_add(c->sess, ids) != 0) {
		send_error(c, id, "too_large",
			   "a session may watch at most 10000 users");
		return;
	}
	if (json_array_size(ids) == 0) {
		json_t *o = msg_new("presence_list", id);
		json_object_set_new(o, "users", json_array());
		send_json(c, o);
		return;
	}
	/* Recorded either way: the watches go out with the re-announce (and
	 * to a registry that was only slow, through request_quiet). */
	if (!gw_reg_ready(c->srv)) {
		request_quiet(c, PRS__OP__OP_WATCH, ids);
		send_error(c, id, "unavailable",
			   "registry unavailable; the watch is recorded");
		return;
	}
	request(c, id, PRS__OP__OP_WATCH, NULL, ids);
}

static void
do_unwatch(struct gw_conn *c, json_t *m, json_t *id)
{
	json_t *ids = get_ids(c, m, id);

	if (ids == NULL)
		return;
	gw_session_watch_del(c->sess, ids);
	if (json_array_size(ids) == 0 || !gw_reg_ready(c->srv)) {
		request_quiet(c, PRS__OP__OP_UNWATCH, ids);
		send_ok(c, id);
		return;
	}
	request(c, id, PRS__OP__OP_UNWATCH, NULL, ids);
}

static void
do_query(struct gw_conn *c, json_t *m, json_t *id)
{
	json_t *ids = get_ids(c, m, id);

	if (ids == NULL)
		return;
	if (!gw_reg_ready(c->srv)) {
		send_error(c, id, "unavailable", "registry unavailable");
		return;
	}
	request(c, id, PRS__OP__OP_QUERY, NULL, ids);
}

static void
do_list_online(struct gw_conn *c, json_t *m, json_t *id)
{
	const char *thread;
	size_t len;

	if (opt_string(m, "thread_id", &thread, &len) < 0 ||
	    (thread != NULL && !prs_id_valid(thread, len))) {
		send_error(c, id, "bad_request",
			   "thread_id must be a valid thread id");
		return;
	}
	if (!gw_reg_ready(c->srv)) {
		send_error(c, id, "unavailable", "registry unavailable");
		return;
	}
	request(c, id, PRS__OP__OP_LIST_ONLINE, thread, NULL);
}

static void
do_typing(struct gw_conn *c, json_t *m, json_t *id)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Typing t = PRS__TYPING__INIT;
	const char *thread;
	size_t len;
	json_t *active = json_object_get(m, "active");

	if (opt_string(m, "thread_id", &thread, &len) != 1 ||
	    !prs_id_valid(thread, len)) {
		send_error(c, id, "bad_request",
			   "thread_id must be a valid thread id");
		return;
	}
	if (!json_is_boolean(active)) {
		send_error(c, id, "bad_request",
			   "active must be true or false");
		return;
	}
	t.sid = c->sess->sid;
	t.thread_id = (char *) thread;
	t.user_id = c->sess->user_id;
	t.active = json_is_true(active);
	env.body_case = PRS__ENVELOPE__BODY_TYPING;
	env.typing = &t;
	gw_reg_send(c->srv, &env);
}

static void
do_ping(struct gw_conn *c, json_t *m, json_t *id)
{
	json_t *o = msg_new("pong", id);
	json_object_set_new(o, "server_time", json_integer(prs_now_ms()));
	send_json(c, o);
}

static void
do_bye(struct gw_conn *c, json_t *m, json_t *id)
{
	gw_ws_close(c, 1000, "bye", true);
}

/* v1.1: a new token for the same user moves the end of the session to
 * its exp. Under auth none sessions have no lifetime: ok, unchecked. */
static void
do_refresh(struct gw_conn *c, json_t *m, json_t *id)
{
	const struct gw_config *cfg = c->srv->cfg;
	struct gw_session *s = c->sess;
	const char *token;
	size_t len;
	char *user = NULL;
	bool admin;
	int64_t exp;

	if (opt_string(m, "token", &token, &len) != 1) {
		send_error(c, id, "bad_request",
			   "token (a string) is required");
		return;
	}
	if (cfg->auth_none) {
		send_ok(c, id);
		return;
	}
	if (gw_auth_verify_exp(cfg, token, len, &user, &admin, &exp) != 0) {
		send_error(c, id, "unauthorized", "invalid token");
		return;
	}
	if (strcmp(user, s->user_id) != 0) {
		free(user);
		send_error(c, id, "unauthorized",
			   "the token is for another user");
		return;
	}
	free(user);
	s->token_exp = exp;
	gw_session_token_watch(c->srv, exp);
	send_ok(c, id);
}

/* v1.1: this device is idle (or active again); the registry derives the
 * user's auto-away from every session's flag. */
static void
do_activity(struct gw_conn *c, json_t *m, json_t *id)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Activity a = PRS__ACTIVITY__INIT;
	json_t *idle = json_object_get(m, "idle");

	if (!json_is_boolean(idle)) {
		send_error(c, id, "bad_request", "idle must be true or false");
		return;
	}
	c->sess->idle = json_is_true(idle);
	a.sid = c->sess->sid;
	a.idle = c->sess->idle;
	env.body_case = PRS__ENVELOPE__BODY_ACTIVITY;
	env.activity = &a;
	gw_reg_send(c->srv, &env);
	send_ok(c, id);
}

static void
do_hello_again(struct gw_conn *c, json_t *m, json_t *id)
{
	send_error(c, id, "bad_request", "hello was already received");
}

static const struct {
	const char *type;
	void (*fn)(struct gw_conn *, json_t *, json_t *);
} handlers[] = {
	{"set_status", do_set_status},
	{"watch", do_watch},
	{"unwatch", do_unwatch},
	{"query", do_query},
	{"list_online", do_list_online},
	{"typing", do_typing},
	{"ping", do_ping},
	{"bye", do_bye},
	{"hello", do_hello_again},
	{"refresh", do_refresh},
	{"activity", do_activity},
};

/* The rate limit (gw_rate.h); a refused message answers rate_limited. */
static bool
rate_ok(struct gw_conn *c, json_t *id)
{
	int64_t now = prs_mono_ms();

	switch (gw_rate_take(&c->rl, c->srv, now)) {
	case GW_RATE_OK:
		return true;
	case GW_RATE_REFUSED:
		send_error(c, id, "rate_limited", "too many messages");
		return false;
	case GW_RATE_CLOSE:
	default:
		send_error(c, id, "rate_limited", "too many messages");
		prs_info("conn %llu: rate limited for %lld ms, closing",
			 (unsigned long long) c->serial,
			 (long long) gw_rate_streak(&c->rl, now));
		gw_ws_close(c, 1008, "rate limit exceeded", false);
		return false;
	}
}

void
gw_v1ws_message(struct gw_conn *c, const uint8_t *msg, size_t len)
{
	json_t *m, *id;
	const char *type;
	size_t i;

	m = json_loadb((const char *) msg, len, 0, NULL);
	if (m == NULL || !json_is_object(m)) {
		if (c->sess == NULL)
			refuse(c, NULL, "expected a hello message");
		else if (rate_ok(c, NULL))
			send_error(c, NULL, "bad_request",
				   m ? "a message must be a JSON object"
				     : "invalid JSON");
		json_decref(m);
		return;
	}
	id = json_object_get(m, "id");
	if (id != NULL && !json_is_string(id) && !json_is_number(id))
		id = NULL; /* answered below as a wrongly typed field */
	type = json_string_value(json_object_get(m, "type"));
	if (!rate_ok(c, id))
		goto out;
	if (c->sess == NULL) {
		if (type == NULL || strcmp(type, "hello") != 0)
			refuse(c, id, "expected a hello message");
		else if (json_object_get(m, "id") != NULL && id == NULL)
			send_error(c, NULL, "bad_request",
				   "id must be a string or a number");
		else
			do_hello(c, m, id);
		goto out;
	}
	if (json_object_get(m, "id") != NULL && id == NULL) {
		send_error(c, NULL, "bad_request",
			   "id must be a string or a number");
		goto out;
	}
	if (type == NULL) {
		send_error(c, id, "bad_request",
			   "type (a string) is required");
		goto out;
	}
	for (i = 0; i < PRS_ARRAY_LEN(handlers); i++) {
		if (strcmp(type, handlers[i].type) == 0) {
			handlers[i].fn(c, m, id);
			goto out;
		}
	}
	send_error(c, id, "bad_request", "unknown message type");
out:
	json_decref(m);
}

/* Leaves the text frame of payload j (reference stolen) in b. */
void
gw_v1ws_frame(struct gw_buf *b, json_t *j, struct gw_frame *f)
{
	uint8_t hdr[GW_WS_HDR_MAX];
	size_t hl, plen;

	gw_buf_reset(b);
	gw_buf_reserve(b, GW_WS_HDR_MAX);
	gw_buf_commit(b, GW_WS_HDR_MAX);
	gw_json_dump(j, b);
	plen = b->len - GW_WS_HDR_MAX;
	hl = gw_ws_frame_header(hdr, WSLAY_TEXT_FRAME, plen);
	memcpy(b->data + GW_WS_HDR_MAX - hl, hdr, hl);
	json_decref(j);
	f->len = hl + plen;
	f->data = b->data + GW_WS_HDR_MAX - hl;
}

/* ---- the frontend ops (gw_fe.h) ------------------------------------ */

static int
v1ws_encode_event(const Prs__Event *ev, struct gw_buf *b, struct gw_frame *f)
{
	json_t *o = json_object(), *p = gw_json_presence(ev->presence);

	json_object_set_new(o, "type", json_string("presence"));
	json_object_update(o, p);
	json_decref(p);
	gw_v1ws_frame(b, o, f);
	return 0;
}

int
gw_v1ws_encode_typing(const Prs__Typing *t, struct gw_buf *b,
		      struct gw_frame *f)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_string("typing"));
	json_object_set_new(o, "thread_id", json_string(t->thread_id));
	json_object_set_new(o, "user_id", json_string(t->user_id));
	json_object_set_new(o, "active", json_boolean(t->active));
	gw_v1ws_frame(b, o, f);
	return 0;
}

/* Appends the frame; the flush op schedules the write. */
bool
gw_v1ws_deliver(struct gw_session *s, const struct gw_frame *f)
{
	struct gw_conn *c = s->conn;

	if (c == NULL || c->state != GW_CONN_WS || !gw_conn_fits(c, f->len))
		return false;
	gw_buf_append(&c->out, f->data, f->len);
	return true;
}

void
gw_v1ws_flush(struct gw_session *s)
{
	if (s->conn != NULL)
		gw_conn_flush_later(s->conn);
}

void
gw_v1ws_acked(struct gw_session *s)
{
	if (s->conn != NULL) {
		send_welcome(s->conn, s, s->welcome_id);
		gw_conn_resume(s->conn);
	}
	json_decref(s->welcome_id);
	s->welcome_id = NULL;
}

bool
gw_v1ws_close(struct gw_session *s, enum gw_end why)
{
	struct gw_conn *c = s->conn;

	switch (why) {
	case GW_END_MISSED:
		if (c->state != GW_CONN_WS)
			return false;
		gw_ws_close(c, 1001, "missed events: reconnect", false);
		return true;
	case GW_END_TOKEN_EXPIRED:
		send_error(c, NULL, "token_expired",
			   "the token expired; reconnect with a new one");
		gw_ws_close(c, 1008, "token expired", false);
		break;
	case GW_END_KICKED:
		gw_ws_close(c, 4001, "kicked", true);
		break;
	}
	if (c->sess != NULL) /* not a live WebSocket after all */
		gw_conn_abort(c);
	return true;
}

const struct gw_fe gw_fe_v1ws = {
	.name = "v1ws",
	.kind = GW_FE_V1WS,
	.encode_event = v1ws_encode_event,
	.encode_typing = gw_v1ws_encode_typing,
	.deliver_event = gw_v1ws_deliver,
	.deliver_typing = gw_v1ws_deliver,
	.flush = gw_v1ws_flush,
	.acked = gw_v1ws_acked,
	.close = gw_v1ws_close,
};

static void
v1ws_leave(struct gw_conn *c, bool clean)
{
	struct gw_session *s = c->sess;

	if (s == NULL)
		return;
	c->sess = NULL;
	s->conn = NULL;
	gw_session_end(c->srv, s, clean);
}

const struct gw_ws_handler gw_v1ws_handler = {
	.message = gw_v1ws_message,
	.leave = v1ws_leave,
};
