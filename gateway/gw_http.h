/*
 * HTTP/1.1 side of a connection: parsing (http-parser), routing, the HTTP
 * API of PROTOCOL.md §6 and the WebSocket upgrade handshake.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>

#include "gw_types.h"

/* Process-wide parser settings (the head size cap, max_header_bytes);
 * call once at start. */
void gw_http_global_init(const struct gw_config *cfg);
/* Gives c its HTTP state (at accept). */
void gw_http_attach(struct gw_conn *c);
/* Releases c's HTTP state (at upgrade or free); idempotent. */
void gw_http_free(struct gw_conn *c);
/* Feeds bytes received on c. Bytes after an upgrade go to the WebSocket. */
void gw_http_input(struct gw_conn *c, const char *data, size_t len);
/* The request/idle deadline of c passed (408 mid-request, else close). */
void gw_http_expired(struct gw_conn *c);

#endif
