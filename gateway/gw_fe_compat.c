/*
 * The drop-in endpoints of seeds 002, 003 and 004 (docs/MIGRATING.md,
 * PROTOCOL.md "Drop-in endpoints"). They ride the session core like v1:
 *
 * - seed 002's heartbeat is the caller's HTTP heartbeat session of
 *   gw_fe_api.c (the same one as POST /v1/heartbeat keeps); its online
 *   list is the registry's OP_LIST_AUDIENCE for the caller (what a
 *   session of the caller would list), or everyone online for an
 *   unnamed caller under auth none (an admin there, as in v1);
 * - seed 003's admin list is OP_ONLINE_SESSIONS, with each user's live
 *   session count;
 * - seed 004 is a frontend kind: v1 WebSocket sessions whose events are
 *   encoded once per event in the seed's form.
 *
 * On the way out user ids follow §0 (gw_json_id) and times are ISO 8601
 * UTC with milliseconds (gw_json_time).
 */
#include "gw_fe_compat.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gw_fe.h"
#include "gw_fe_api.h"
#include "gw_fe_v1ws.h"
#include "gw_json.h"
#include "gw_reg.h"
#include "prs_util.h"

enum compat_route {
	R_ONLINE_USERS,
	R_ADMIN_ONLINE,
};

static void
compat_reply_cb(struct gw_conn *c, struct gw_pending *p, const Prs__Reply *r)
{
	json_t *a = json_array();
	size_t i;

	if (!gw_http1_active(c)) {
		json_decref(a);
		return;
	}
	if (gw_api_reply_failed(c, r)) {
		/* answered */
	} else if (p->route == R_ONLINE_USERS) {
		for (i = 0; i < r->n_users; i++)
			json_array_append_new(
				a, gw_json_id(r->users[i]->user_id));
		gw_http1_respond_json(c, 200,
				      json_pack("{s:O}", "online_users", a),
				      NULL, false);
	} else {
		for (i = 0; i < r->n_users; i++) {
			const Prs__Presence *u = r->users[i];
			uint32_t n =
				i < r->n_connections ? r->connections[i] : 0;
			json_array_append_new(
				a,
				json_pack("{s:o,s:o,s:I}", "user_id",
					  gw_json_id(u->user_id), "last_seen",
					  gw_json_time(u->last_seen),
					  "connections", (json_int_t) n));
		}
		gw_http1_respond_json(c, 200,
				      json_pack("{s:O}", "online_users", a),
				      NULL, false);
	}
	json_decref(a);
	gw_http1_resume(c);
}

/* Sends preq for the caller once the registry is ready (else 503), and
 * waits for the answer without reading further requests. */
static void
compat_ask(struct gw_conn *c, int route, Prs__Request *preq, char *user,
	   bool admin)
{
	if (!gw_reg_ready(c->srv)) {
		gw_http1_respond_error(c, 503, NULL, "registry unavailable",
				       NULL, false);
		return;
	}
	preq->sid = 0;
	preq->admin = admin;
	preq->user_id = user;
	preq->thread_id = "";
	gw_api_request(c, route, preq, compat_reply_cb);
}

/* ---- seed 002 ------------------------------------------------------ */

void
gw_compat_heartbeat(struct gw_conn *c, const struct gw_http1_req *rq,
		    const struct gw_path *pp)
{
	char *user = NULL, when[GW_JSON_TIME_LEN];
	json_t *doc = NULL;
	bool admin;

	if (gw_api_identity(c, rq, pp, &user, &admin) != 0)
		return;
	/* the seed's body, {"timestamp": ...}, is optional and unused:
	 * activity is when the request arrives */
	if (rq->body_len > 0 &&
	    ((doc = json_loadb(rq->body, rq->body_len, 0, NULL)) == NULL ||
	     !json_is_object(doc)))
		gw_http1_respond_error(c, 400, NULL,
				       "expected a JSON object body", NULL,
				       false);
	else if (user[0] == '\0')
		gw_http1_respond_error(c, 400, NULL, "user_id required", NULL,
				       false);
	else if (gw_api_session_heartbeat(c->srv, user, c->auth_exp) != 0)
		gw_http1_respond_error(c, 503, NULL, "registry unavailable",
				       NULL, false);
	else {
		gw_json_time_fmt(when, prs_now_ms());
		gw_http1_respond_json(c, 200,
				      json_pack("{s:b,s:s}", "success", 1,
						"last_activity", when),
				      NULL, false);
	}
	json_decref(doc);
	free(user);
}

void
gw_compat_online_users(struct gw_conn *c, const struct gw_http1_req *rq,
		       const struct gw_path *pp)
{
	Prs__Request preq = PRS__REQUEST__INIT;
	char *user = NULL;
	bool admin;

	if (gw_api_identity(c, rq, pp, &user, &admin) != 0)
		return;
	/* an unnamed caller (auth none only) is an admin: everyone */
	preq.op = user[0] != '\0' ? PRS__OP__OP_LIST_AUDIENCE
				  : PRS__OP__OP_LIST_ONLINE;
	compat_ask(c, R_ONLINE_USERS, &preq, user, admin);
	free(user);
}

/* ---- seed 003 ------------------------------------------------------ */

void
gw_compat_admin_online(struct gw_conn *c, const struct gw_http1_req *rq,
		       const struct gw_path *pp)
{
	Prs__Request preq = PRS__REQUEST__INIT;
	char *user = NULL;
	bool admin;

	if (gw_api_identity(c, rq, pp, &user, &admin) != 0)
		return;
	if (!admin)
		gw_http1_respond_error(c, 403, NULL, "admin only", NULL,
				       false);
	else {
		preq.op = PRS__OP__OP_ONLINE_SESSIONS;
		compat_ask(c, R_ADMIN_ONLINE, &preq, user, true);
	}
	free(user);
}

/* ---- seed 004 ------------------------------------------------------ */

/* {"type":"user_status_changed","user_id","is_online","timestamp"}: the
 * time of the change others (or, for own events, the user) see, in
 * integer Unix seconds, as the seed sends it. */
static int
seed004_encode_event(const Prs__Event *ev, struct gw_buf *b,
		     struct gw_frame *f)
{
	const Prs__Presence *p = ev->presence;
	int64_t at = p->since > 0 ? p->since : prs_now_ms();

	gw_v1ws_frame(
		b,
		json_pack("{s:s,s:o,s:b,s:I}", "type", "user_status_changed",
			  "user_id", gw_json_id(p->user_id), "is_online",
			  p->is_online, "timestamp", (json_int_t) (at / 1000)),
		f);
	return 0;
}

const struct gw_fe gw_fe_seed004 = {
	.name = "seed004",
	.kind = GW_FE_SEED004,
	.encode_event = seed004_encode_event,
	.encode_typing = gw_v1ws_encode_typing,
	.deliver_event = gw_v1ws_deliver,
	.deliver_typing = gw_v1ws_deliver,
	.flush = gw_v1ws_flush,
	.acked = gw_v1ws_acked,
	.close = gw_v1ws_close,
};
