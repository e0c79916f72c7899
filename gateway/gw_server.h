/*
 * The gateway server: the listening socket, connection lifetime, outbound
 * buffers flushed once per loop iteration, and the housekeeping cron.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include "gw_types.h"

/* Sets up srv (no socket yet). cfg and hooks (the layers above) must
 * outlive srv. */
void gw_server_init(struct gw_server *srv, struct ev_loop *loop,
		    const struct gw_config *cfg,
		    const struct gw_server_hooks *hooks);
/* Binds and listens on cfg->http_host:http_port, starts the watchers.
 * Returns 0 or -1 (logged). */
int gw_server_listen(struct gw_server *srv);
/* Graceful stop: stop accepting, close every WebSocket with 1001 (their
 * sessions end unclean so that grace applies), flush, then break the loop
 * once everything is written or after a short deadline. */
void gw_server_stop(struct gw_server *srv);
/* Frees every connection and the server's memory (after the loop ends). */
void gw_server_fini(struct gw_server *srv);
/* Makes a connection of the connected, non-blocking socket fd (which it
 * then owns) in state HTTP, reading. accept does this; so do the fuzz
 * harnesses, with one end of a socketpair. */
struct gw_conn *gw_server_adopt(struct gw_server *srv, int fd);
/* What the loop does before it sleeps: one send() per connection with
 * queued output, then frees the connections that died. */
void gw_server_before_sleep(struct gw_server *srv);

/* Appends n bytes to c's outbound buffer and schedules a flush. Returns
 * false if that would pass max_outbound_bytes: then the connection is
 * closed (1008 for a WebSocket) and nothing was appended. */
bool gw_conn_send(struct gw_conn *c, const void *data, size_t n);
/* True if n more bytes fit in c's outbound buffer; otherwise closes c
 * (1008 for a WebSocket) and returns false. */
bool gw_conn_fits(struct gw_conn *c, size_t n);
/* Schedules a flush after the caller wrote into c->out directly. */
void gw_conn_flush_later(struct gw_conn *c);
/* As gw_conn_send without the bound (small control output). */
void gw_conn_send_raw(struct gw_conn *c, const void *data, size_t n);
/* Queues whatever is left of the output and then half-closes: the
 * connection lingers (reading and discarding) until the peer closes or
 * a short deadline passes. Ends the session first (clean as given). */
void gw_conn_closing(struct gw_conn *c, bool clean);
/* Drops the connection now (fd closed, freed later). A session on it
 * ends unclean. Safe to call from any callback of c. */
void gw_conn_abort(struct gw_conn *c);
/* Hands bytes to c's codec (c->ops->input; nothing while closing). */
void gw_conn_input(struct gw_conn *c, const char *data, size_t len);
/* Stops / restarts reading from c (HTTP: one request at a time). */
/* Fills cfg with the documented defaults (every key of --help). */
void gw_config_defaults(struct gw_config *cfg);
void gw_conn_pause(struct gw_conn *c);
void gw_conn_resume(struct gw_conn *c);
/* Puts c at the tail of the queue of connections waiting for their hello
 * (deadline now + hello_timeout_ms; the cron closes them 1008). */
void gw_conn_hello_wait(struct gw_conn *c);
/* Removes c from that queue (hello received, or closing). */
void gw_conn_hello_done(struct gw_conn *c);

#endif
