/*
 * The v1 HTTP API (PROTOCOL.md §6): the handlers of its routes, and the
 * HTTP heartbeat sessions behind /v1/heartbeat and /v1/logout.
 */
#ifndef GW_FE_API_H
#define GW_FE_API_H

#include "gw_http1.h"
#include "gw_path.h"
#include "gw_reg.h"
#include "gw_types.h"

/* GET /v1/users/{id}/presence */
void gw_api_presence(struct gw_conn *c, const struct gw_http1_req *rq,
		     const struct gw_path *pp);
/* POST /v1/presence/query {"user_ids":[...]} */
void gw_api_query(struct gw_conn *c, const struct gw_http1_req *rq,
		  const struct gw_path *pp);
/* GET /v1/online[?thread_id=] (everyone: admin only) */
void gw_api_online(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp);
/* GET /v1/threads/{id}/members (admin) */
void gw_api_members_get(struct gw_conn *c, const struct gw_http1_req *rq,
			const struct gw_path *pp);
/* PUT /v1/threads/{id}/members {"user_ids":[...]} (admin): replace */
void gw_api_members_set(struct gw_conn *c, const struct gw_http1_req *rq,
			const struct gw_path *pp);
/* POST /v1/threads/{id}/members {"user_ids":[...]} (admin): add */
void gw_api_members_add(struct gw_conn *c, const struct gw_http1_req *rq,
			const struct gw_path *pp);
/* DELETE /v1/threads/{id}/members/{user} (admin) */
void gw_api_members_del(struct gw_conn *c, const struct gw_http1_req *rq,
			const struct gw_path *pp);
/* GET /v1/users/{id}/sessions (admin, v1.1) */
void gw_api_sessions(struct gw_conn *c, const struct gw_http1_req *rq,
		     const struct gw_path *pp);
/* DELETE /v1/users/{id}/sessions (admin, v1.1): end them all */
void gw_api_kick(struct gw_conn *c, const struct gw_http1_req *rq,
		 const struct gw_path *pp);
/* GET /v1/users/{id}/history[?since=&limit=] (admin or the user, v1.1) */
void gw_api_history(struct gw_conn *c, const struct gw_http1_req *rq,
		    const struct gw_path *pp);
/* POST /v1/heartbeat: creates or renews the caller's HTTP session. */
void gw_api_heartbeat(struct gw_conn *c, const struct gw_http1_req *rq,
		      const struct gw_path *pp);
/* POST /v1/logout: ends the caller's HTTP session at once. */
void gw_api_logout(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp);

struct gw_fe;

/* Who calls an HTTP endpoint: 0 with *user (caller frees; "" allowed with
 * auth none) and *admin, or -1 after answering 401/400. Sets
 * c->auth_exp from the token. */
int gw_api_identity(struct gw_conn *c, const struct gw_http1_req *rq,
		    const struct gw_path *pp, char **user, bool *admin);
/* The HTTP status of a registry error code (500 when unknown). */
int gw_api_code_status(const char *code);
/* Answers a failed registry reply to an HTTP caller: 503 when r is NULL
 * (no answer), the error's status and code when it has one. Returns true
 * after answering, false for a reply to use. */
bool gw_api_reply_failed(struct gw_conn *c, const Prs__Reply *r);
/* Sends rq for an HTTP caller and waits for cb without reading further
 * requests (route: the caller's tag, p->route in cb). */
void gw_api_request(struct gw_conn *c, int route, Prs__Request *rq,
		    gw_reply_cb cb);

/* The ops of HTTP heartbeat sessions. */
extern const struct gw_fe gw_fe_api;

/* HTTP heartbeat session of user (created or renewed for ttl; under auth
 * jwt it also ends at exp, wall ms, the exp of the token that renewed it
 * last); returns 0, or -1 when the registry link is not ready. */
int gw_api_session_heartbeat(struct gw_server *srv, const char *user,
			     int64_t exp);
/* Ends user's HTTP session at once (clean); no-op without one. */
void gw_api_session_logout(struct gw_server *srv, const char *user);
/* Cron: ends HTTP sessions whose ttl passed (unclean). */
void gw_api_sessions_expire(struct gw_server *srv, int64_t now);
/* Ends every HTTP session (unclean: shutdown, grace applies). */
void gw_api_sessions_end_all(struct gw_server *srv);

#endif
