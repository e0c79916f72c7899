/*
 * The Socket.IO v4 drop-in (docs/MIGRATING.md, "Socket.IO"): Engine.IO 4
 * sessions at socketio_path over HTTP long-polling and WebSocket, the
 * seed 001 events on namespace "/", and its ops for the session core.
 */
#ifndef GW_FE_SIO_H
#define GW_FE_SIO_H

#include <stddef.h>
#include <stdint.h>

#include "gw_fe.h"
#include "gw_http1.h"
#include "gw_path.h"
#include "gw_types.h"

/* The ops of Socket.IO presence sessions. */
extern const struct gw_fe gw_fe_sio;

/* Every request to socketio_path (the route's handler): polling GET and
 * POST, the preflight OPTIONS, and WebSocket upgrades. */
void gw_sio_request(struct gw_conn *c, const struct gw_http1_req *rq,
		    const struct gw_path *pp);
/* Cron (every 250 ms): pings, pong and handshake deadlines, and frees the
 * sessions that ended. */
void gw_sio_tick(struct gw_server *srv, int64_t now);
/* Ends every Engine.IO session (unclean: shutdown, grace applies). */
void gw_sio_stop(struct gw_server *srv);
/* Frees what is left (after the loop). */
void gw_sio_fini(struct gw_server *srv);
/* Live Engine.IO sessions (for /metrics). */
size_t gw_sio_count(const struct gw_server *srv);
/* Those of them on polling: they hold no WebSocket, yet count against
 * max_connections (gw_upgrade_check). */
size_t gw_sio_polling(const struct gw_server *srv);

#endif
