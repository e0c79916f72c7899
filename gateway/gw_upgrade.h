/*
 * The WebSocket upgrade: its RFC 6455 checks and 101 answer, shared by
 * every frontend that rides a WebSocket, and the upgrade of the v1
 * protocol (the routes /v1/ws and /ws/presence/{user}).
 */
#ifndef GW_UPGRADE_H
#define GW_UPGRADE_H

#include "gw_http1.h"
#include "gw_path.h"
#include "gw_types.h"

/* The handshake checks every WebSocket upgrade passes (GET, HTTP/1.1,
 * Upgrade and Connection, no body, version 13, a valid key, an allowed
 * Origin, room under max_connections): true, or false after answering
 * the refusal (the connection then closes). */
bool gw_upgrade_check(struct gw_conn *c, const struct gw_http1_req *rq);
/* Queues the 101 answer to rq, naming subprotocol when not NULL; the
 * caller has switched c to the WebSocket codec (gw_ws_start). */
void gw_upgrade_accept(struct gw_conn *c, const struct gw_http1_req *rq,
		       const char *subprotocol);

/* GET /v1/ws: upgrades c to a v1 WebSocket (or answers the refusal). */
void gw_upgrade_v1(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp);
/* GET /ws/presence/{user}: the same, for that user only. */
void gw_upgrade_v1_user(struct gw_conn *c, const struct gw_http1_req *rq,
			const struct gw_path *pp);

#endif
