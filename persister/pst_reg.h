/*
 * The persister's link to the registry: its own inbox (WriteBatch,
 * LoadRequest in), a peer dialing the registry's inbox (BatchAck,
 * LoadChunk and the Hello heartbeat out), and the work queue they feed.
 */
#ifndef PST_REG_H
#define PST_REG_H

#include <ev.h>
#include <stdint.h>

#include "presence.pb-c.h"

struct pst_reg;

struct pst_reg_config {
	const char *url;          /* our inbox */
	const char *registry_url; /* the registry's inbox */
	const char *name;
	const char *database_url;
	int64_t retention_days; /* 0 = keep history forever */
};

/* All stopping work has finished (see pst_reg_stop). */
typedef void (*pst_reg_stopped_cb)(void *arg);

/* Opens the database side, the peer and the inbox, and starts the
 * heartbeat. Returns 0 once the inbox listens, -1 otherwise (logged).
 * cfg's strings are copied where kept. */
int pst_reg_open(struct pst_reg **out, struct ev_loop *loop,
		 const struct pst_reg_config *cfg);
/* Graceful stop: closes the inbox, stops the heartbeat and starts no new
 * work; cb runs once the command in flight has finished (maybe at once).
 * Acknowledgements still go out through the peer. */
void pst_reg_stop(struct pst_reg *r, pst_reg_stopped_cb cb, void *arg);
/* The /metrics callback (prs_metrics_fill_cb; arg is the pst_reg):
 * the work queue's, the database's and the link's metrics. */
struct prs_mbuf;
void pst_reg_metrics(void *arg, struct prs_mbuf *b);
/* Messages to the registry not yet taken by NNG. */
size_t pst_reg_backlog(const struct pst_reg *r);
/* Handles one decoded envelope from the registry (the inbox callback; arg
 * is the struct pst_reg). Also the entry point of the fuzz harness. */
void pst_reg_recv(void *arg, Prs__Envelope *env, uint32_t pipe);
void pst_reg_close(struct pst_reg *r);

#endif
