/*
 * The v1 WebSocket frontend: the client messages of PROTOCOL.md §3-5 on a
 * WebSocket, and its ops for the session core (gw_fe.h).
 */
#ifndef GW_FE_V1WS_H
#define GW_FE_V1WS_H

#include <stddef.h>
#include <stdint.h>

#include "gw_types.h"
#include "gw_ws.h"

struct gw_fe;

/* The ops of v1 WebSocket sessions. */
extern const struct gw_fe gw_fe_v1ws;

/* What the WebSocket codec calls: messages, and leaving (the session
 * ends, clean = bye). */
extern const struct gw_ws_handler gw_v1ws_handler;
/* Handles one complete text message from c (hello first, then the rest). */
void gw_v1ws_message(struct gw_conn *c, const uint8_t *msg, size_t len);

#endif
