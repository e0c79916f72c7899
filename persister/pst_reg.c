/*
 * Registry link of the persister (docs/DESIGN.md, "Links" and "Writes").
 *
 * Design decisions:
 * - Towards the registry the persister initiates nothing but the
 *   heartbeat: all other work is a registry message (batches, loads,
 *   history queries), answered on the registry's inbox.
 *   It keeps no state about the registry beyond its epoch, which names
 *   batches together with their id (a restarted registry numbers from 1
 *   again): work already queued from an old incarnation is still applied
 *   (versioned, harmless), and the new one ignores acks it did not ask for.
 * - Hello goes out every 500 ms, but only while nothing waits in our
 *   own send queue: with the registry down for long, that queue would
 *   otherwise grow without bound with stale heartbeats (NNG's send
 *   buffer in front of it still holds up to its size of them).
 */
#include "pst_reg.h"
#include "pst_work.h"

#include "prs_link.h"
#include "prs_metrics.h"
#include "prs_util.h"

#include <inttypes.h>
#include <stdlib.h>

#define HELLO_EVERY 0.5

struct pst_reg {
	struct ev_loop *loop;
	struct prs_inbox *inbox;
	struct prs_peer *peer;
	struct pst_work *work;
	ev_timer hello;
	char *url;
	uint64_t reg_epoch;
};

static void
reg_send(void *arg, Prs__Envelope *env)
{
	struct pst_reg *r = arg;

	prs_peer_send(r->peer, env);
}

static void
reg_hello(struct pst_reg *r)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Hello hello = PRS__HELLO__INIT;

	if (prs_peer_backlog(r->peer) > 0)
		return;
	hello.address = r->url;
	hello.peer_epoch = r->reg_epoch;
	env.body_case = PRS__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	prs_peer_send(r->peer, &env);
}

static void
reg_hello_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	reg_hello(container_of(t, struct pst_reg, hello));
}

void
pst_reg_recv(void *arg, Prs__Envelope *env, uint32_t pipe)
{
	struct pst_reg *r = arg;

	if (env->kind != PRS__KIND__KIND_REGISTRY) {
		prs_debug("ignoring a message from %s (kind %d)",
			  env->sender ? env->sender : "?", (int) env->kind);
		return;
	}
	if (env->epoch != r->reg_epoch) {
		prs_info("registry %s epoch %" PRIx64 "%s",
			 env->sender ? env->sender : "?", env->epoch,
			 r->reg_epoch ? " (restarted)" : "");
		r->reg_epoch = env->epoch;
	}
	switch (env->body_case) {
	case PRS__ENVELOPE__BODY_BATCH:
		if (env->batch != NULL)
			pst_work_batch(r->work, env->epoch, env->batch);
		break;
	case PRS__ENVELOPE__BODY_LOAD:
		if (env->load != NULL)
			pst_work_load(r->work, env->load->load_id);
		break;
	case PRS__ENVELOPE__BODY_HISTORY_QUERY:
		if (env->history_query != NULL)
			pst_work_history(r->work, env->history_query);
		break;
	case PRS__ENVELOPE__BODY_HELLO:
		break;
	default:
		prs_debug("ignoring registry message %d",
			  (int) env->body_case);
		break;
	}
}

static void
reg_gone_cb(void *arg, uint32_t pipe)
{
	prs_debug("inbox pipe %u closed", pipe);
}

int
pst_reg_open(struct pst_reg **out, struct ev_loop *loop,
	     const struct pst_reg_config *cfg)
{
	struct pst_reg *r = xcalloc(1, sizeof(*r));

	r->loop = loop;
	r->url = xstrdup(cfg->url);
	if (pst_work_open(&r->work, loop, cfg->database_url,
			  cfg->retention_days, reg_send, r) != 0)
		goto fail;
	if (prs_peer_open(&r->peer, loop, cfg->registry_url,
			  PRS__KIND__KIND_PERSISTER, cfg->name,
			  prs_epoch_new()) != 0)
		goto fail_work;
	if (prs_inbox_open(&r->inbox, loop, cfg->url, pst_reg_recv,
			   reg_gone_cb, r) != 0)
		goto fail_peer;
	ev_timer_init(&r->hello, reg_hello_cb, HELLO_EVERY, HELLO_EVERY);
	ev_timer_start(loop, &r->hello);
	reg_hello(r);
	prs_info("listening on %s, registry at %s", cfg->url,
		 cfg->registry_url);
	*out = r;
	return 0;
fail_peer:
	prs_peer_close(r->peer);
fail_work:
	pst_work_close(r->work);
fail:
	free(r->url);
	free(r);
	return -1;
}

void
pst_reg_stop(struct pst_reg *r, pst_reg_stopped_cb cb, void *arg)
{
	ev_timer_stop(r->loop, &r->hello);
	prs_inbox_close(r->inbox);
	r->inbox = NULL;
	pst_work_stop(r->work, cb, arg);
}

void
pst_reg_metrics(void *arg, struct prs_mbuf *b)
{
	struct pst_reg *r = arg;
	struct prs_peer_stats st;

	pst_work_metrics(r->work, b);
	prs_peer_stats(r->peer, &st);
	prs_metric_gauge(b, "presence_persister_registry_connected",
			 "1 while the link to the registry's inbox is up",
			 st.connected ? 1 : 0);
	prs_metric_gauge(b, "presence_persister_link_backlog",
			 "messages to the registry waiting in our own queue "
			 "(not yet taken by NNG)",
			 (double) st.backlog);
	prs_metric_counter(b, "presence_persister_link_sent_total",
			   "messages sent to the registry", st.sent);
	prs_metric_counter(b, "presence_persister_link_dropped_total",
			   "messages to the registry dropped with the queue "
			   "full",
			   st.dropped);
	prs_metric_counter(b, "presence_persister_link_received_total",
			   "messages received from the registry",
			   r->inbox != NULL ? prs_inbox_received(r->inbox)
					    : 0);
}

size_t
pst_reg_backlog(const struct pst_reg *r)
{
	return prs_peer_backlog(r->peer);
}

void
pst_reg_close(struct pst_reg *r)
{
	if (r == NULL)
		return;
	ev_timer_stop(r->loop, &r->hello);
	prs_inbox_close(r->inbox);
	pst_work_close(r->work);
	prs_peer_close(r->peer);
	free(r->url);
	free(r);
}
