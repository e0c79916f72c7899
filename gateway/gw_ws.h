/*
 * WebSocket side of a connection: the handshake key, a wslay event context
 * per connection for reading (it validates framing, masking, UTF-8 and the
 * message size, and answers pings), and frames we write ourselves.
 */
#ifndef GW_WS_H
#define GW_WS_H

#include <stddef.h>
#include <stdint.h>

#include "gw_types.h"

/* Largest frame header we build (server frames are never masked). */
#define GW_WS_HDR_MAX 10

/* True when key is base64 of exactly 16 bytes (RFC 6455 4.2.1). */
bool gw_ws_key_valid(const char *key);
/* Writes the Sec-WebSocket-Accept value for key (NUL-terminated, 28
 * characters) into out. */
void gw_ws_accept_key(const char *key, char out[32]);
/* Builds the header of one unmasked final frame; returns its length. */
size_t gw_ws_frame_header(uint8_t hdr[GW_WS_HDR_MAX], uint8_t opcode,
			  size_t len);

/* What the frontend above a WebSocket does with it. */
struct gw_ws_handler {
	/* One complete text message from c. */
	void (*message)(struct gw_conn *c, const uint8_t *msg, size_t len);
	/* c leaves the open state (clean: the client said bye). */
	void (*leave)(struct gw_conn *c, bool clean);
	/* Optional (NULL: nothing / the codec's default). Once a second
	 * while open, after the codec's own heartbeat: */
	void (*tick)(struct gw_conn *c, int64_t now);
	/* the server stops (default: close 1001). */
	void (*stop)(struct gw_conn *c);
};

/* Switches c to WebSocket (its conn ops) with h, which must outlive c:
 * creates the wslay context and starts the hello deadline. Returns 0, or
 * -1 if wslay could not allocate. */
int gw_ws_start(struct gw_conn *c, const struct gw_ws_handler *h);
/* Feeds bytes received on c to wslay; complete text messages go to the
 * handler's message callback. */
void gw_ws_input(struct gw_conn *c, const uint8_t *data, size_t len);
/* Queues one text message (bounded by max_outbound_bytes). */
bool gw_ws_send_text(struct gw_conn *c, const char *data, size_t len);
/* Queues a ping. */
void gw_ws_ping(struct gw_conn *c);
/* Sends a close frame with code and reason (<= 123 bytes; code 0: a close
 * frame without payload, the answer to one that had none) and moves c to
 * closing; the session ends clean (bye) or unclean. No-op unless c is a
 * live WebSocket. */
void gw_ws_close(struct gw_conn *c, uint16_t code, const char *reason,
		 bool clean);
/* Releases c's WebSocket state (at free); idempotent. */
void gw_ws_free(struct gw_conn *c);
/* How to answer a client's close frame with this payload: 0 when it is
 * well-formed (echo its code), 1002 for a 1-byte payload or a code not
 * allowed on the wire (RFC 6455 §7.4), 1007 for a reason that is not
 * UTF-8. */
uint16_t gw_ws_close_check(const uint8_t *payload, size_t len);

#endif
