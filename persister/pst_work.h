/*
 * The persister's work queue: write batches, state loads, history
 * queries and history retention, executed one at a time, in arrival order, on
 * the database connection. Work waits while PostgreSQL is unreachable.
 */
#ifndef PST_WORK_H
#define PST_WORK_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "presence.pb-c.h"

struct pst_work;

/* Sends one envelope to the registry (BatchAck, LoadChunk). env and
 * everything it points to stay the caller's. */
typedef void (*pst_work_send_fn)(void *arg, Prs__Envelope *env);
/* The work in flight at pst_work_stop has finished (or there was none). */
typedef void (*pst_work_stopped_cb)(void *arg);

/* Opens the database connection (see pst_db.h) and the queue. Returns 0,
 * or -1 when conninfo is unusable (logged). retention_days 0 keeps the
 * history forever. */
int pst_work_open(struct pst_work **out, struct ev_loop *loop,
		  const char *conninfo, int64_t retention_days,
		  pst_work_send_fn send, void *send_arg);
/* Frees the queue (unacknowledged work is dropped: the registry resends
 * it) and closes the connection. */
void pst_work_close(struct pst_work *w);

/* Queues a WriteBatch from the registry incarnation epoch, acknowledged
 * after COMMIT. b stays the caller's: its contents are copied into
 * statement parameters here. A batch with the same (epoch, id) waiting
 * in the queue is replaced in place; one committed recently is only
 * acknowledged again. */
void pst_work_batch(struct pst_work *w, uint64_t epoch,
		    const Prs__WriteBatch *b);
/* Queues a state load answered with LoadChunks. A load still waiting
 * (not started) is superseded: only the newest request is answered. */
void pst_work_load(struct pst_work *w, uint64_t load_id);

/* v1.1: queues a history query, answered with a HistoryReply (rows
 * newest first, or an error: invalid query, queue full, SQL error, or
 * still waiting for PostgreSQL PST_HISTORY_WAIT_MS after it came, when
 * the registry has given up on it anyway). */
void pst_work_history(struct pst_work *w, const Prs__HistoryQuery *q);

/* Starts no further work; calls cb (on the loop or from here) once the
 * command in flight, if any, has finished. */
void pst_work_stop(struct pst_work *w, pst_work_stopped_cb cb, void *arg);

/* Jobs queued, the one in flight included. */
size_t pst_work_queued(const struct pst_work *w);

/* Appends the queue's and the database's metrics (Prometheus text). */
struct prs_mbuf;
void pst_work_metrics(const struct pst_work *w, struct prs_mbuf *b);

#endif
