/*
 * The v1 HTTP API (PROTOCOL.md §6): one handler per endpoint, each
 * declared in the route table of gw_router.c. A handler checks who calls
 * and what it asks, then sends one registry request and waits for the
 * Reply without reading further requests (the HTTP codec keeps the rest);
 * the Reply is rendered by api_reply_cb according to the route tag.
 *
 * API callers authenticate with "Authorization: Bearer" or ?token=. With
 * auth none (development only) the caller is named by ?user_id= or
 * X-User-Id and every caller is treated as an admin.
 *
 * HTTP heartbeat sessions (/v1/heartbeat, /v1/logout) are sessions of
 * the session core without a connection, kept by user here.
 */
#include "gw_fe_api.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_fe.h"
#include "gw_json.h"
#include "gw_reg.h"
#include "gw_session.h"
#include "prs_util.h"

#define MEMBERS_MAX 10000
#define HISTORY_MAX 1000 /* events per history request (v1.1) */
#define HISTORY_DEF 100

enum api_route {
	R_PRESENCE,
	R_QUERY,
	R_ONLINE,
	R_MEMBERS_GET,
	R_MEMBERS_CHANGE,
	R_SESSIONS, /* v1.1 admin API */
	R_KICK,
	R_HISTORY,
};

int
gw_api_code_status(const char *code)
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

int
gw_api_identity(struct gw_conn *c, const struct gw_http1_req *rq,
		const struct gw_path *pp, char **user, bool *admin)
{
	const struct gw_config *cfg = c->srv->cfg;
	char *q = NULL;
	const char *tok;
	int rv = -1;

	*user = NULL;
	*admin = false;
	if (cfg->auth_none) {
		if (gw_path_query(pp, "user_id", &q) < 0) {
			gw_http1_respond_error(c, 400, NULL,
					       "malformed query string", NULL,
					       false);
			return -1;
		}
		if (q == NULL && rq->hdr[GW_H_X_USER_ID] != NULL)
			q = xstrdup(rq->hdr[GW_H_X_USER_ID]);
		if (q != NULL && !prs_id_valid(q, strlen(q))) {
			free(q);
			gw_http1_respond_error(c, 400, NULL, "invalid user id",
					       NULL, false);
			return -1;
		}
		*user = q ? q : xstrdup("");
		*admin = true;
		return 0;
	}
	tok = gw_auth_bearer(rq->hdr[GW_H_AUTHORIZATION]);
	if (tok == NULL && gw_path_query(pp, "token", &q) < 0) {
		gw_http1_respond_error(c, 400, NULL, "malformed query string",
				       NULL, false);
		return -1;
	}
	if (tok == NULL)
		tok = q;
	if (tok == NULL)
		gw_http1_respond_error(c, 401, NULL, "credentials required",
				       "WWW-Authenticate: Bearer\r\n", false);
	else if (gw_auth_verify_exp(cfg, tok, strlen(tok), user, admin,
				    &c->auth_exp) != 0)
		gw_http1_respond_error(c, 401, NULL, "invalid token",
				       "WWW-Authenticate: Bearer\r\n", false);
	else
		rv = 0;
	free(q);
	return rv;
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

bool
gw_api_reply_failed(struct gw_conn *c, const Prs__Reply *r)
{
	if (r == NULL) {
		gw_http1_respond_error(c, 503, NULL,
				       "the registry did not answer", NULL,
				       false);
		return true;
	}
	if (r->error != NULL && r->error[0] != '\0') {
		int st = gw_api_code_status(r->error);
		gw_http1_respond_error(
			c, st, st == 500 ? "internal" : r->error,
			r->message && r->message[0] ? r->message : r->error,
			NULL, false);
		return true;
	}
	return false;
}

static void
api_reply_cb(struct gw_conn *c, struct gw_pending *p, const Prs__Reply *r)
{
	json_t *o, *a;
	size_t i;

	if (!gw_http1_active(c))
		return;
	if (!gw_api_reply_failed(c, r)) {
		switch (p->route) {
		case R_PRESENCE:
			if (r->n_users == 0) {
				gw_http1_respond_error(c, 404, NULL,
						       "unknown user", NULL,
						       false);
				break;
			}
			gw_http1_respond_json(c, 200,
					      gw_json_presence(r->users[0]),
					      NULL, false);
			break;
		case R_QUERY:
			a = json_array();
			for (i = 0; i < r->n_users; i++)
				json_array_append_new(
					a, gw_json_presence(r->users[i]));
			o = json_object();
			json_object_set_new(o, "users", a);
			gw_http1_respond_json(c, 200, o, NULL, false);
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
			gw_http1_respond_json(c, 200, o, NULL, false);
			break;
		case R_MEMBERS_GET:
			o = json_object();
			json_object_set_new(
				o, "user_ids",
				id_array(r->user_ids, r->n_user_ids));
			gw_http1_respond_json(c, 200, o, NULL, false);
			break;
		case R_SESSIONS:
			gw_http1_respond_json(c, 200, sessions_json(c->srv, r),
					      NULL, false);
			break;
		case R_KICK:
			gw_http1_respond_json(c, 200,
					      json_pack("{s:I}", "ended",
							(json_int_t) r->ended),
					      NULL, false);
			break;
		case R_HISTORY:
			gw_http1_respond_json(c, 200, history_json(r), NULL,
					      false);
			break;
		default:
			/* Membership changes answer {"ok":true}. */
			o = json_object();
			json_object_set_new(o, "ok", json_true());
			gw_http1_respond_json(c, 200, o, NULL, false);
			break;
		}
	}
	gw_http1_resume(c);
}

void
gw_api_request(struct gw_conn *c, int route, Prs__Request *rq, gw_reply_cb cb)
{
	struct gw_pending *p = gw_reg_request(c->srv, rq, c, cb);

	p->route = route;
	gw_http1_wait(c);
}

/* Sends rq and waits for the answer without reading further requests. */
static void
api_request(struct gw_conn *c, int route, Prs__Request *rq)
{
	gw_api_request(c, route, rq, api_reply_cb);
}

/* The "user_ids" of a JSON body; NULL after answering 400/413. */
static json_t *
body_ids(struct gw_conn *c, const struct gw_http1_req *rq, size_t max,
	 json_t **doc)
{
	json_t *v;
	const char *why;
	int rv;

	*doc = json_loadb(rq->body, rq->body_len, 0, NULL);
	if (*doc == NULL || !json_is_object(*doc)) {
		gw_http1_respond_error(c, 400, NULL,
				       "expected a JSON object body", NULL,
				       false);
		return NULL;
	}
	v = json_object_get(*doc, "user_ids");
	if (v == NULL) {
		gw_http1_respond_error(c, 400, NULL, "user_ids is required",
				       NULL, false);
		return NULL;
	}
	rv = gw_json_ids(v, max, &why);
	if (rv != 0) {
		gw_http1_respond_error(c, rv == -2 ? 413 : 400, NULL, why,
				       NULL, false);
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

/* ---- HTTP heartbeat sessions --------------------------------------- */

int
gw_api_session_heartbeat(struct gw_server *srv, const char *user, int64_t exp)
{
	struct gw_session *s;

	if (!gw_reg_ready(srv))
		return -1;
	HASH_FIND(hh_user, srv->http_sessions, user, strlen(user), s);
	if (s == NULL) {
		s = gw_session_new(srv, user, &gw_fe_api);
		HASH_ADD_KEYPTR(hh_user, srv->http_sessions, s->user_id,
				strlen(s->user_id), s);
		s->device = xstrdup("http");
		gw_session_announce(srv, s);
	}
	s->expires = prs_mono_ms() + srv->cfg->http_session_ttl_ms;
	s->token_exp = srv->cfg->auth_none ? 0 : exp;
	gw_session_token_watch(srv, s->token_exp);
	return 0;
}

static void
http_session_end(struct gw_server *srv, struct gw_session *s, bool clean)
{
	HASH_DELETE(hh_user, srv->http_sessions, s);
	gw_session_end(srv, s, clean);
}

void
gw_api_session_logout(struct gw_server *srv, const char *user)
{
	struct gw_session *s;

	HASH_FIND(hh_user, srv->http_sessions, user, strlen(user), s);
	if (s != NULL)
		http_session_end(srv, s, true);
}

void
gw_api_sessions_expire(struct gw_server *srv, int64_t now)
{
	struct gw_session *s, *tmp;

	HASH_ITER (hh_user, srv->http_sessions, s, tmp) {
		if (now >= s->expires)
			http_session_end(srv, s, false);
	}
}

void
gw_api_sessions_end_all(struct gw_server *srv)
{
	struct gw_session *s, *tmp;

	HASH_ITER (hh_user, srv->http_sessions, s, tmp) {
		http_session_end(srv, s, false);
	}
}

static bool
api_close(struct gw_session *s, enum gw_end why)
{
	if (why == GW_END_MISSED)
		return false; /* the re-announce carries it */
	http_session_end(s->srv, s, why == GW_END_KICKED);
	return true;
}

static void
api_acked(struct gw_session *s)
{
}

/* Heartbeat sessions receive no events: no encoder, nothing to deliver. */
const struct gw_fe gw_fe_api = {
	.name = "api",
	.kind = GW_FE_API,
	.acked = api_acked,
	.close = api_close,
};

/* Sends preq for the caller once the registry is ready (else 503). */
static void
api_ask(struct gw_conn *c, int route, Prs__Request *preq, char *user,
	bool admin, char *thread)
{
	if (!gw_reg_ready(c->srv)) {
		gw_http1_respond_error(c, 503, NULL, "registry unavailable",
				       NULL, false);
		return;
	}
	preq->sid = 0;
	preq->admin = admin;
	preq->user_id = user;
	preq->thread_id = thread ? thread : (char *) "";
	api_request(c, route, preq);
}

/* Answers 400 unless segment i of the path is a valid id. */
static bool
api_seg_id(struct gw_conn *c, const struct gw_path *pp, size_t i,
	   const char *what)
{
	if (prs_id_valid(pp->seg[i], pp->len[i]))
		return true;
	gw_http1_respond_error(c, 400, NULL, what, NULL, false);
	return false;
}

/* The caller, who must be an admin: 0, or -1 after answering. */
static int
api_admin(struct gw_conn *c, const struct gw_http1_req *rq,
	  const struct gw_path *pp, char **user)
{
	bool admin;

	if (gw_api_identity(c, rq, pp, user, &admin) != 0)
		return -1;
	if (!admin) {
		gw_http1_respond_error(c, 403, NULL, "admin only", NULL,
				       false);
		return -1;
	}
	return 0;
}

/* A request about the one user named by segment 2 of the path. */
static void
api_ask_one(struct gw_conn *c, int route, Prs__Request *preq,
	    const struct gw_path *pp, char *user, bool admin, char *thread)
{
	char *one[1] = {(char *) pp->seg[2]};

	preq->user_ids = one;
	preq->n_user_ids = 1;
	api_ask(c, route, preq, user, admin, thread);
}

void
gw_api_presence(struct gw_conn *c, const struct gw_http1_req *rq,
		const struct gw_path *pp)
{
	Prs__Request preq = PRS__REQUEST__INIT;
	char *user = NULL;
	bool admin;

	if (gw_api_identity(c, rq, pp, &user, &admin) != 0)
		return;
	if (api_seg_id(c, pp, 2, "invalid user id")) {
		preq.op = PRS__OP__OP_QUERY;
		api_ask_one(c, R_PRESENCE, &preq, pp, user, admin, NULL);
	}
	free(user);
}

void
gw_api_query(struct gw_conn *c, const struct gw_http1_req *rq,
	     const struct gw_path *pp)
{
	Prs__Request preq = PRS__REQUEST__INIT;
	char *user = NULL, **list;
	json_t *doc = NULL, *ids;
	bool admin;

	if (gw_api_identity(c, rq, pp, &user, &admin) != 0)
		return;
	if ((ids = body_ids(c, rq, GW_IDS_MAX, &doc)) != NULL) {
		preq.op = PRS__OP__OP_QUERY;
		list = ids_list(ids, &preq.n_user_ids);
		preq.user_ids = list;
		api_ask(c, R_QUERY, &preq, user, admin, NULL);
		free(list);
	}
	json_decref(doc);
	free(user);
}

void
gw_api_online(struct gw_conn *c, const struct gw_http1_req *rq,
	      const struct gw_path *pp)
{
	Prs__Request preq = PRS__REQUEST__INIT;
	char *user = NULL, *thread = NULL;
	bool admin;

	if (gw_api_identity(c, rq, pp, &user, &admin) != 0)
		return;
	if (gw_path_query(pp, "thread_id", &thread) < 0 ||
	    (thread != NULL && !prs_id_valid(thread, strlen(thread))))
		gw_http1_respond_error(c, 400, NULL, "invalid thread id", NULL,
				       false);
	else if (thread == NULL && !admin)
		gw_http1_respond_error(
			c, 403, NULL, "only an admin may list everyone online",
			NULL, false);
	else {
		preq.op = PRS__OP__OP_LIST_ONLINE;
		api_ask(c, R_ONLINE, &preq, user, admin, thread);
	}
	free(thread);
	free(user);
}

/* The members endpoints: admin, thread id in segment 2; the thread
 * (caller frees) or NULL after answering. */
static char *
members_thread(struct gw_conn *c, const struct gw_http1_req *rq,
	       const struct gw_path *pp, char **user)
{
	if (api_admin(c, rq, pp, user) != 0 ||
	    !api_seg_id(c, pp, 2, "invalid thread id"))
		return NULL;
	return xstrndup(pp->seg[2], pp->len[2]);
}

void
gw_api_members_get(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp)
{
	Prs__Request preq = PRS__REQUEST__INIT;
	char *user = NULL, *thread = members_thread(c, rq, pp, &user);

	if (thread != NULL) {
		preq.op = PRS__OP__OP_MEMBERS_GET;
		api_ask(c, R_MEMBERS_GET, &preq, user, true, thread);
	}
	free(thread);
	free(user);
}

/* PUT (set) or POST (add) a JSON body's user_ids as members. */
static void
members_change(struct gw_conn *c, const struct gw_http1_req *rq,
	       const struct gw_path *pp, Prs__Op op)
{
	Prs__Request preq = PRS__REQUEST__INIT;
	char *user = NULL, *thread = members_thread(c, rq, pp, &user), **list;
	json_t *doc = NULL, *ids;

	if (thread != NULL && (ids = body_ids(c, rq, MEMBERS_MAX, &doc))) {
		preq.op = op;
		list = ids_list(ids, &preq.n_user_ids);
		preq.user_ids = list;
		api_ask(c, R_MEMBERS_CHANGE, &preq, user, true, thread);
		free(list);
	}
	json_decref(doc);
	free(thread);
	free(user);
}

void
gw_api_members_set(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp)
{
	members_change(c, rq, pp, PRS__OP__OP_MEMBERS_SET);
}

void
gw_api_members_add(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp)
{
	members_change(c, rq, pp, PRS__OP__OP_MEMBERS_ADD);
}

void
gw_api_members_del(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp)
{
	Prs__Request preq = PRS__REQUEST__INIT;
	char *user = NULL, *thread = members_thread(c, rq, pp, &user);
	char *one[1];

	if (thread != NULL && api_seg_id(c, pp, 4, "invalid user id")) {
		one[0] = (char *) pp->seg[4];
		preq.op = PRS__OP__OP_MEMBERS_DEL;
		preq.user_ids = one;
		preq.n_user_ids = 1;
		api_ask(c, R_MEMBERS_CHANGE, &preq, user, true, thread);
	}
	free(thread);
	free(user);
}

/* v1.1: list (GET) or end (DELETE) a user's sessions, admin only. */
static void
user_sessions(struct gw_conn *c, const struct gw_http1_req *rq,
	      const struct gw_path *pp, int route, Prs__Op op)
{
	Prs__Request preq = PRS__REQUEST__INIT;
	char *user = NULL;

	if (api_admin(c, rq, pp, &user) == 0 &&
	    api_seg_id(c, pp, 2, "invalid user id")) {
		preq.op = op;
		api_ask_one(c, route, &preq, pp, user, true, NULL);
	}
	free(user);
}

void
gw_api_sessions(struct gw_conn *c, const struct gw_http1_req *rq,
		const struct gw_path *pp)
{
	user_sessions(c, rq, pp, R_SESSIONS, PRS__OP__OP_SESSIONS);
}

void
gw_api_kick(struct gw_conn *c, const struct gw_http1_req *rq,
	    const struct gw_path *pp)
{
	user_sessions(c, rq, pp, R_KICK, PRS__OP__OP_KICK);
}

/* v1.1: stored presence changes, for an admin or the user. */
void
gw_api_history(struct gw_conn *c, const struct gw_http1_req *rq,
	       const struct gw_path *pp)
{
	Prs__Request preq = PRS__REQUEST__INIT;
	char *user = NULL;
	bool admin;
	int64_t since, limit;

	if (gw_api_identity(c, rq, pp, &user, &admin) != 0)
		return;
	if (!api_seg_id(c, pp, 2, "invalid user id"))
		goto out;
	if (!admin && (strlen(user) != pp->len[2] ||
		       memcmp(user, pp->seg[2], pp->len[2]) != 0)) {
		gw_http1_respond_error(c, 403, NULL,
				       "only an admin or the user may read "
				       "the history",
				       NULL, false);
		goto out;
	}
	if (gw_path_query_int(pp, "since", 0, INT64_MAX, 0, &since) != 0) {
		gw_http1_respond_error(c, 400, NULL,
				       "since must be a time in ms since the "
				       "epoch",
				       NULL, false);
		goto out;
	}
	if (gw_path_query_int(pp, "limit", 1, HISTORY_MAX, HISTORY_DEF,
			      &limit) != 0) {
		gw_http1_respond_error(c, 400, NULL,
				       "limit must be an integer from 1 to "
				       "1000",
				       NULL, false);
		goto out;
	}
	preq.op = PRS__OP__OP_HISTORY;
	preq.since = since;
	preq.limit = (uint32_t) limit;
	api_ask_one(c, R_HISTORY, &preq, pp, user, admin, NULL);
out:
	free(user);
}

/* The caller of /v1/heartbeat or /v1/logout (caller frees), or NULL
 * after answering. */
static char *
session_caller(struct gw_conn *c, const struct gw_http1_req *rq,
	       const struct gw_path *pp)
{
	char *user = NULL;
	bool admin;

	if (gw_api_identity(c, rq, pp, &user, &admin) != 0)
		return NULL;
	if (user[0] == '\0') {
		gw_http1_respond_error(c, 400, NULL, "user_id required", NULL,
				       false);
		free(user);
		return NULL;
	}
	return user;
}

void
gw_api_heartbeat(struct gw_conn *c, const struct gw_http1_req *rq,
		 const struct gw_path *pp)
{
	char *user = session_caller(c, rq, pp);

	if (user == NULL)
		return;
	if (gw_api_session_heartbeat(c->srv, user, c->auth_exp) != 0)
		gw_http1_respond_error(c, 503, NULL, "registry unavailable",
				       NULL, false);
	else
		gw_http1_respond_json(c, 200,
				      json_pack("{s:b,s:I}", "success", 1,
						"last_seen",
						(json_int_t) prs_now_ms()),
				      NULL, false);
	free(user);
}

void
gw_api_logout(struct gw_conn *c, const struct gw_http1_req *rq,
	      const struct gw_path *pp)
{
	char *user = session_caller(c, rq, pp);

	if (user == NULL)
		return;
	gw_api_session_logout(c->srv, user);
	gw_http1_respond_json(c, 200, json_pack("{s:b}", "success", 1), NULL,
			      false);
	free(user);
}
