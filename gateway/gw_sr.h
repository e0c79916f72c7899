/*
 * What the two pieces of the SignalR drop-in share, private to them:
 * gw_sr_negotiate.c (hub paths, negotiate, the WebSocket upgrade) hands
 * each accepted WebSocket to gw_fe_signalr.c (the hub connection, its
 * records and methods, the frontend ops); gw_fe_signalr.h is what the rest
 * of the gateway sees.
 */
#ifndef GW_SR_H
#define GW_SR_H

#include "gw_types.h"
#include "gw_ws.h"

/* The WebSocket handler of hub connections. */
extern const struct gw_ws_handler gw_sr_ws_handler;
/* The WebSocket of c was accepted as a hub connection: its SignalR state
 * (c->fe_data) begins, until the connection is freed. */
void gw_sr_conn_begin(struct gw_conn *c);

#endif
