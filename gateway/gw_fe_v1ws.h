/*
 * The v1 WebSocket frontend: the client messages of PROTOCOL.md §3-5 on a
 * WebSocket, and its ops for the session core (gw_fe.h).
 */
#ifndef GW_FE_V1WS_H
#define GW_FE_V1WS_H

#include <stddef.h>
#include <stdint.h>

#include "gw_fe.h"
#include "gw_types.h"
#include "gw_ws.h"

/* The ops of v1 WebSocket sessions. */
extern const struct gw_fe gw_fe_v1ws;

/* What the WebSocket codec calls: messages, and leaving (the session
 * ends, clean = bye). */
extern const struct gw_ws_handler gw_v1ws_handler;
/* Handles one complete text message from c (hello first, then the rest). */
void gw_v1ws_message(struct gw_conn *c, const uint8_t *msg, size_t len);

/* The v1 ops, for frontends that speak v1 but encode events their own way
 * (gw_fe_compat.c). gw_v1ws_frame leaves the text frame of payload j
 * (reference stolen) in b. */
void gw_v1ws_frame(struct gw_buf *b, json_t *j, struct gw_frame *f);
int gw_v1ws_encode_typing(const Prs__Typing *t, struct gw_buf *b,
			  struct gw_frame *f);
bool gw_v1ws_deliver(struct gw_session *s, const struct gw_frame *f);
void gw_v1ws_flush(struct gw_session *s);
void gw_v1ws_acked(struct gw_session *s);
bool gw_v1ws_close(struct gw_session *s, enum gw_end why);

#endif
