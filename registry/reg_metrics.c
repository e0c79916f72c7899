/*
 * The registry's /metrics (docs/OPERATIONS.md, "Metrics"). Every value is
 * a counter or size the registry keeps anyway, or keeps in O(1) for this:
 * a scrape costs O(metrics + gateways), never O(users or sessions).
 */
#include "reg.h"
#include "prs_metrics.h"
#include "prs_util.h"

#include <stdio.h>

/* The per-peer link metrics: one head, then a sample per peer. */
static void
link_metric(struct prs_mbuf *b, struct reg *r, const char *name,
	    const char *type, const char *help, int which)
{
	struct prs_peer_stats st;
	struct reg_gw *gw, *tmp;
	char lab[320], peer[300];

	prs_metric_head(b, name, type, help);
	HASH_ITER (hh, r->gws, gw, tmp) {
		if (gw->peer == NULL)
			continue;
		prs_peer_stats(gw->peer, &st);
		snprintf(lab, sizeof(lab), "kind=\"gateway\",%s",
			 prs_metric_label(peer, sizeof(peer), "peer",
					  gw->name));
		prs_metric_u64(b, name, lab,
			       which == 0   ? st.backlog
			       : which == 1 ? st.sent
					    : st.dropped);
	}
	if (r->pst != NULL) {
		prs_peer_stats(r->pst, &st);
		prs_metric_u64(b, name,
			       "kind=\"persister\",peer=\"persister\"",
			       which == 0   ? st.backlog
			       : which == 1 ? st.sent
					    : st.dropped);
	}
}

static void
fill(void *arg, struct prs_mbuf *b)
{
	struct reg *r = arg;
	struct reg_gw *gw, *tmp;
	char lab[300];

	prs_metric_gauge(b, "presence_registry_ready",
			 "1 once the state is loaded and the registry serves",
			 r->ready ? 1 : 0);
	prs_metric_process(b, "registry", r->started_ms);
	prs_metric_gauge(b, "presence_registry_users_online",
			 "users with at least one live session",
			 (double) r->nusers_online);
	prs_metric_gauge(b, "presence_registry_users",
			 "users known to the registry (loaded or seen)",
			 (double) HASH_COUNT(r->users));
	prs_metric_gauge(b, "presence_registry_threads", "threads known",
			 (double) HASH_COUNT(r->threads));
	prs_metric_gauge(b, "presence_registry_memberships",
			 "thread memberships (the audience index)",
			 (double) r->nmembers);
	prs_metric_gauge(b, "presence_registry_watches",
			 "watch links from sessions to users (the watch "
			 "index)",
			 (double) r->nwatches);
	prs_metric_gauge(b, "presence_registry_all_users_sessions",
			 "sessions receiving every user's changes",
			 (double) r->nall);
	prs_metric_gauge(b, "presence_registry_typing",
			 "typing indicators active",
			 (double) HASH_COUNT(r->typing));
	prs_metric_gauge(b, "presence_registry_gateways",
			 "gateways the registry knows as alive",
			 (double) HASH_COUNT(r->gws));
	prs_metric_head(b, "presence_registry_sessions", "gauge",
			"live sessions, per gateway");
	HASH_ITER (hh, r->gws, gw, tmp)
		prs_metric_u64(b, "presence_registry_sessions",
			       prs_metric_label(lab, sizeof(lab), "gateway",
						gw->name),
			       HASH_COUNT(gw->sessions));

	prs_metric_counter(b, "presence_registry_events_sent_total",
			   "presence events sent to gateways (one per "
			   "gateway and change)",
			   r->n_events_sent);
	prs_metric_counter(b, "presence_registry_typing_sent_total",
			   "typing notices sent to gateways",
			   r->n_typing_sent);

	prs_metric_gauge(b, "presence_registry_persister_up",
			 "1 while the persister is heard from (a message "
			 "within 2 s)",
			 reg_pst_alive(r) ? 1 : 0);
	prs_metric_counter(b, "presence_registry_write_batches_total",
			   "write batches sent to the persister (first "
			   "sends)",
			   r->n_batches);
	prs_metric_counter(b, "presence_registry_write_batch_retries_total",
			   "write batches sent again (no ack in time, or "
			   "the persister restarted)",
			   r->n_batch_resends);
	prs_metric_counter(b, "presence_registry_write_batches_failed_total",
			   "write batches the persister answered with an "
			   "error",
			   r->n_batches_failed);
	prs_metric_gauge(b, "presence_registry_write_pending_rows",
			 "users whose row waits for the next write batch",
			 (double) r->ndirty);
	prs_metric_gauge(b, "presence_registry_write_pending_history",
			 "history rows waiting for the next write batch",
			 (double) r->nhistory);
	prs_metric_gauge(b, "presence_registry_write_inflight",
			 "1 while a write batch waits for its ack",
			 r->inflight != NULL ? 1 : 0);
	prs_metric_gauge(b, "presence_registry_write_lag_seconds",
			 "age of the oldest change not yet committed to "
			 "PostgreSQL (0: all stored)",
			 reg_write_lag(r, prs_mono_ms()));

	prs_metric_counter(b, "presence_registry_link_received_total",
			   "messages received from gateways and the "
			   "persister",
			   r->inbox != NULL ? prs_inbox_received(r->inbox)
					    : 0);
	link_metric(b, r, "presence_registry_link_backlog", "gauge",
		    "messages waiting in our own queue (not yet taken by "
		    "NNG), per peer",
		    0);
	link_metric(b, r, "presence_registry_link_sent_total", "counter",
		    "messages sent, per peer (this connection)", 1);
	link_metric(b, r, "presence_registry_link_dropped_total", "counter",
		    "messages dropped with the queue full, per peer", 2);
}

int
reg_metrics_start(struct reg *r)
{
	return prs_metrics_open(&r->metrics, r->loop, r->cfg.metrics_address,
				fill, r);
}

void
reg_metrics_stop(struct reg *r)
{
	prs_metrics_close(r->metrics);
	r->metrics = NULL;
}
