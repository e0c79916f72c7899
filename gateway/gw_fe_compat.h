/*
 * The drop-in endpoints of seeds 002, 003 and 004 (docs/MIGRATING.md):
 * the handlers of their HTTP routes (declared in gw_router.c) and the
 * frontend of /ws/presence/{id} sessions on a gateway with
 * compat_events = seed004 (v1 in everything but its events).
 */
#ifndef GW_FE_COMPAT_H
#define GW_FE_COMPAT_H

#include "gw_http1.h"
#include "gw_path.h"
#include "gw_types.h"

/* Seed 002: POST /api/chat/heartbeat[/] (optional {"timestamp":...}):
 * the caller's HTTP heartbeat session, as POST /v1/heartbeat. */
void gw_compat_heartbeat(struct gw_conn *c, const struct gw_http1_req *rq,
			 const struct gw_path *pp);
/* Seed 002: GET /api/chat/online-users[/] and
 * /api/chat/rooms/online_users[/]: {"online_users":[ids]}, the online
 * users the caller may see. */
void gw_compat_online_users(struct gw_conn *c, const struct gw_http1_req *rq,
			    const struct gw_path *pp);
/* Seed 003: GET /admin/online-users[/] (admin): {"online_users":
 * [{"user_id","last_seen","connections"}]}. */
void gw_compat_admin_online(struct gw_conn *c, const struct gw_http1_req *rq,
			    const struct gw_path *pp);

struct gw_fe;

/* Seed 004: v1 WebSocket sessions whose presence events go out as
 * {"type":"user_status_changed","user_id","is_online","timestamp"}. */
extern const struct gw_fe gw_fe_seed004;

#endif
