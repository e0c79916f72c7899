/*
 * The WebSocket upgrade of the v1 protocol (the routes /v1/ws and
 * /ws/presence/{user}).
 */
#ifndef GW_UPGRADE_H
#define GW_UPGRADE_H

#include "gw_http1.h"
#include "gw_path.h"
#include "gw_types.h"
#include "gw_ws.h"

/* Checks rq on c as an RFC 6455 upgrade (GET, HTTP/1.1, the headers, the
 * Origin allow-list, the connection cap): 0, or -1 after answering the
 * refusal (the connection closes after it). Any frontend's upgrade. */
int gw_upgrade_check(struct gw_conn *c, const struct gw_http1_req *rq);
/* Switches c (checked) to WebSocket with h, which must outlive c, and
 * queues the 101 (extra: more response header lines, or NULL). Returns
 * 0, or -1 after answering 503. */
int gw_upgrade_accept(struct gw_conn *c, const struct gw_http1_req *rq,
		      const struct gw_ws_handler *h, const char *extra);
/* After gw_upgrade_accept: c's sessions will be fe's, and c is user's
 * (taken: *user becomes NULL; NULL for nobody yet), with admin and the
 * token's exp (wall ms, 0 none). */
void gw_upgrade_bind(struct gw_conn *c, const struct gw_fe *fe, char **user,
		     bool admin, int64_t exp);

/* GET /v1/ws: upgrades c to a v1 WebSocket (or answers the refusal). */
void gw_upgrade_v1(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp);
/* GET /ws/presence/{user}: the same, for that user only. */
void gw_upgrade_v1_user(struct gw_conn *c, const struct gw_http1_req *rq,
			const struct gw_path *pp);

#endif
