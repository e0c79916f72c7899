/*
 * The WebSocket upgrade of the v1 protocol (the routes /v1/ws and
 * /ws/presence/{user}).
 */
#ifndef GW_UPGRADE_H
#define GW_UPGRADE_H

#include "gw_http1.h"
#include "gw_path.h"
#include "gw_types.h"

/* GET /v1/ws: upgrades c to a v1 WebSocket (or answers the refusal). */
void gw_upgrade_v1(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp);
/* GET /ws/presence/{user}: the same, for that user only. */
void gw_upgrade_v1_user(struct gw_conn *c, const struct gw_http1_req *rq,
			const struct gw_path *pp);

#endif
