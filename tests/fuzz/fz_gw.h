/*
 * Shared scaffolding of the gateway's fuzz harnesses: one gw_server for the
 * whole run, its registry link "unlinked" (no socket; what the gateway
 * sends goes nowhere) but made ready with a Resync, and connections that
 * are one end of a socketpair, so the real input path (gw_http1_input,
 * wslay, sessions) runs exactly as it does behind accept().
 */
#ifndef FZ_GW_H
#define FZ_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_types.h"

/* The server (created on first use; auth none unless jwt). */
struct gw_server *fz_gw_server(bool jwt);
/* Switches client authentication between HS256 JWT (secret
 * "fuzz-secret") and none. */
void fz_gw_set_jwt(bool jwt);
/* Keeps the registry link ready (a Hello from the registry). */
void fz_gw_keep_ready(struct gw_server *srv);
/* A new connection in state HTTP; returns its serial. */
uint64_t fz_gw_conn(struct gw_server *srv);
/* The connection with that serial, or NULL once it has been freed. */
struct gw_conn *fz_gw_find(struct gw_server *srv, uint64_t serial);
/* Reads what the server sent on the connection with that serial (after a
 * flush), at most cap bytes; the rest stays for fz_gw_pump to drain. */
size_t fz_gw_read(struct gw_server *srv, uint64_t serial, char *buf,
		  size_t cap);
/* Moves a new connection straight to WebSocket (as after an upgrade). */
void fz_gw_ws(struct gw_conn *c);
/* One "before sleep" pass: flushes output (drained from the peer ends)
 * and frees dead connections. */
void fz_gw_pump(struct gw_server *srv);
/* Ends the iteration: pending registry requests expire, every connection,
 * HTTP session and Socket.IO session is dropped and freed, peer ends
 * closed, and the link starts afresh (request and session numbers from
 * 1). */
void fz_gw_reset(struct gw_server *srv);

#endif
