/*
 * The gateway's link to the registry (docs/DESIGN.md, "Links"): our inbox,
 * a PUSH peer to the registry's inbox, Hello every 500 ms, the registry's
 * epoch and sequence, readiness, and the table of requests waiting for a
 * Reply.
 */
#ifndef GW_REG_H
#define GW_REG_H

#include <jansson.h>

#include "gw_types.h"
#include "prs_link.h"

struct gw_pending;

/* Called once per request: r is the registry's Reply, or NULL when none
 * came in time or the registry restarted meanwhile (→ unavailable). c is
 * the connection that asked (the request is dropped if it went away). */
typedef void (*gw_reply_cb)(struct gw_conn *c, struct gw_pending *p,
			    const Prs__Reply *r);

struct gw_pending {
	uint64_t req;
	UT_hash_handle hh;
	struct gw_pending *prev, *next; /* FIFO = deadline order */
	struct gw_conn *conn;
	int64_t deadline;
	gw_reply_cb cb;
	int op;     /* Prs__Op */
	int route;  /* the caller's own tag */
	json_t *id; /* WebSocket: the client's "id" (a reference), or NULL */
	/* gw_reg_request_key: the caller's own key, and the server */
	uint64_t key;
	struct gw_server *srv;
	bool keyed;
};

/* Opens the inbox and the peer and starts the Hello timer. Returns 0 or
 * -1 (logged). */
int gw_reg_open(struct gw_server *srv);
void gw_reg_close(struct gw_server *srv);
/* The link state without any socket: nothing is sent, and what
 * gw_reg_recv is given is handled as usual (fuzz harnesses, tests). Close
 * with gw_reg_close. */
void gw_reg_open_unlinked(struct gw_server *srv);
/* Handles one decoded envelope from the registry (the inbox callback; arg
 * is the struct gw_server). Also the entry point of the fuzz harness. */
void gw_reg_recv(void *arg, Prs__Envelope *env, uint32_t pipe);
/* Ready: a Resync came from the current registry epoch and the registry
 * spoke within the last 3 s. Requests need it. */
bool gw_reg_ready(struct gw_server *srv);
/* Sends env (body set by the caller, which keeps ownership). */
void gw_reg_send(struct gw_server *srv, Prs__Envelope *env);
/* Sends rq (its req is assigned here) and records a pending entry for c
 * with cb; returns it so the caller can set route and id. */
struct gw_pending *gw_reg_request(struct gw_server *srv, Prs__Request *rq,
				  struct gw_conn *c, gw_reply_cb cb);
/* As gw_reg_request for a caller that is no connection (a Socket.IO
 * session, whose requests arrive on whatever connection): cb gets c NULL
 * and finds its caller by p->key (it may be gone). */
struct gw_pending *gw_reg_request_key(struct gw_server *srv, Prs__Request *rq,
				      uint64_t key, gw_reply_cb cb);
/* Forgets c in every pending entry (c is being freed). */
void gw_reg_detach(struct gw_server *srv, struct gw_conn *c);
/* Cron: expires requests, reports readiness changes. */
void gw_reg_tick(struct gw_server *srv, int64_t now);
/* Messages waiting in our queue to the registry. */
size_t gw_reg_backlog(struct gw_server *srv);

#endif
