/*
 * The gateway assembled: the one place that knows every layer and wires
 * the upward callbacks (server hooks, the HTTP codec's router).
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include "gw_types.h"

/* Sets up srv (gw_server_init) with the gateway's layers above the
 * connection: new connections speak HTTP/1.1 to the router; the cron
 * drives the registry link and the sessions. cfg must outlive srv. */
void gw_gateway_init(struct gw_server *srv, struct ev_loop *loop,
		     const struct gw_config *cfg);

#endif
