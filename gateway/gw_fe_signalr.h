/*
 * The SignalR drop-in (seed 000, docs/MIGRATING.md): ASP.NET Core SignalR
 * hubs speaking the JSON hub protocol over WebSockets at signalr_paths,
 * their negotiate endpoint, the hub methods, and the frontend ops of
 * SignalR sessions (gw_fe.h).
 */
#ifndef GW_FE_SIGNALR_H
#define GW_FE_SIGNALR_H

#include <stdbool.h>
#include <stdint.h>

#include "gw_fe.h"
#include "gw_http1.h"
#include "gw_path.h"
#include "gw_types.h"

/* The ops of SignalR sessions. */
extern const struct gw_fe gw_fe_signalr;

/* Checks a signalr_paths value: comma-separated absolute paths of plain
 * segments ([A-Za-z0-9._~-], at most 6, no trailing slash); empty serves
 * none. Returns NULL, or why it is invalid. */
const char *gw_signalr_paths_check(const char *paths);
/* Sets up srv's SignalR state (the negotiate tokens). */
void gw_signalr_init(struct gw_server *srv);
/* Frees it (and every pending negotiate token). */
void gw_signalr_fini(struct gw_server *srv);
/* Cron, once a second: forgets the negotiate tokens that expired. */
void gw_signalr_second(struct gw_server *srv, int64_t now);

/* Route matchers (gw_router.c): pp is {hub}/negotiate, or {hub} (a
 * trailing slash allowed), for one of cfg's signalr_paths. */
bool gw_signalr_is_negotiate(const struct gw_config *cfg,
			     const struct gw_path *pp);
bool gw_signalr_is_hub(const struct gw_config *cfg, const struct gw_path *pp);
/* POST {hub}/negotiate[?negotiateVersion=N]: a connection token; OPTIONS:
 * the CORS preflight. */
void gw_signalr_negotiate(struct gw_conn *c, const struct gw_http1_req *rq,
			  const struct gw_path *pp);
/* GET {hub}[?id=<token>]: the WebSocket of a hub connection (without id:
 * a client that skipped negotiation). */
void gw_signalr_connect(struct gw_conn *c, const struct gw_http1_req *rq,
			const struct gw_path *pp);

#endif
