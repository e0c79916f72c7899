/*
 * Registry link. Our inbox (PULL) receives from the registry; a PUSH peer
 * sends to it (common/prs_link.c). Hello goes out at once and every 500 ms
 * with our inbox address and the registry epoch we last saw; the registry
 * answers a gateway it does not know with Resync, and we re-announce every
 * live session (gw_session_resync).
 *
 * Session messages (SessionBatch, SetStatus, SessionClose, Typing) are
 * sent whatever the link state: they are idempotent at the registry, and a
 * registry that restarts asks for a Resync anyway. Requests that need an
 * answer are only sent while ready (Resync seen from the current epoch and
 * a message within READY_FRESH_MS); each has a deadline
 * (request_timeout_ms) kept in a FIFO, which is deadline order because the
 * timeout is the same for all. A new registry epoch fails every pending
 * request at once: the old registry will never answer.
 *
 * A gap in the registry's sequence within one epoch means registry
 * messages to us were lost, events among them: our clients' views may be
 * stale, and nothing tells which. It happens when the registry declared us
 * dead (we hung past its gateway_timeout_ms, or our pipe broke) and ended
 * our sessions: its new link to us numbers from 1 again, and its first
 * message is a Resync. It also happens when its queue to us overflowed.
 * Either way every WebSocket client that said hello is closed with 1001
 * "missed events: reconnect" (not 1012, which older client libraries
 * reject as a protocol error): its session ends uncleanly (grace applies)
 * and it reconnects to a fresh view, as after a gateway restart; the
 * re-announce that follows carries the rest (HTTP sessions). Keeping the
 * clients would need the registry to replay each one's whole audience as
 * events, which the protocol rules out (one event per visible change).
 */
#include "gw_reg.h"

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "gw_session.h"
#include "gw_view.h"
#include "prs_util.h"

#define HELLO_MS       500
#define READY_FRESH_MS 3000

struct gw_reg {
	struct prs_inbox *inbox;
	struct prs_peer *peer;
	ev_timer hello_timer;
	uint64_t reg_epoch; /* 0: never heard from a registry */
	uint64_t next_seq;
	bool synced; /* Resync received from reg_epoch */
	bool was_ready;
	int64_t last_rx; /* monotonic ms */
	uint64_t next_req;
	struct gw_pending *pending; /* by req */
	struct gw_pending *phead, *ptail;
};

void
gw_reg_send(struct gw_server *srv, Prs__Envelope *env)
{
	if (srv->reg == NULL || srv->reg->peer == NULL)
		return;
	prs_peer_send(srv->reg->peer, env);
}

static void
send_hello(struct gw_server *srv)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Hello hello = PRS__HELLO__INIT;

	hello.address = srv->cfg->url;
	hello.peer_epoch = srv->reg->reg_epoch;
	env.body_case = PRS__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	gw_reg_send(srv, &env);
}

bool
gw_reg_ready(struct gw_server *srv)
{
	struct gw_reg *r = srv->reg;

	return r != NULL && r->synced && r->last_rx != 0 &&
	       prs_mono_ms() - r->last_rx < READY_FRESH_MS;
}

static void
pending_unlink(struct gw_reg *r, struct gw_pending *p)
{
	HASH_DEL(r->pending, p);
	if (p->prev)
		p->prev->next = p->next;
	else
		r->phead = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		r->ptail = p->prev;
}

/* Unlinks p, calls its callback (r NULL = unavailable) and frees it. */
static void
pending_finish(struct gw_reg *reg, struct gw_pending *p, const Prs__Reply *r)
{
	pending_unlink(reg, p);
	if (p->conn != NULL) {
		p->conn->npending--;
		if (p->conn->state != GW_CONN_DEAD)
			p->cb(p->conn, p, r);
	} else if (p->keyed) {
		p->cb(NULL, p, r);
	}
	json_decref(p->id);
	free(p);
}

static void
pending_fail_all(struct gw_reg *r)
{
	while (r->phead != NULL)
		pending_finish(r, r->phead, NULL);
}

/* Records and sends rq for c (NULL: a keyed caller). */
static struct gw_pending *
pending_send(struct gw_server *srv, Prs__Request *rq, struct gw_conn *c,
	     gw_reply_cb cb)
{
	struct gw_reg *r = srv->reg;
	struct gw_pending *p = xcalloc(1, sizeof(*p));
	Prs__Envelope env = PRS__ENVELOPE__INIT;

	p->req = ++r->next_req;
	p->conn = c;
	p->cb = cb;
	p->op = (int) rq->op;
	p->deadline = prs_mono_ms() + srv->cfg->request_timeout_ms;
	HASH_ADD(hh, r->pending, req, sizeof(p->req), p);
	p->prev = r->ptail;
	if (r->ptail)
		r->ptail->next = p;
	else
		r->phead = p;
	r->ptail = p;
	if (c != NULL)
		c->npending++;
	rq->req = p->req;
	env.body_case = PRS__ENVELOPE__BODY_REQUEST;
	env.request = rq;
	gw_reg_send(srv, &env);
	return p;
}

struct gw_pending *
gw_reg_request(struct gw_server *srv, Prs__Request *rq, struct gw_conn *c,
	       gw_reply_cb cb)
{
	PRS_ASSERT(c != NULL);
	return pending_send(srv, rq, c, cb);
}

struct gw_pending *
gw_reg_request_key(struct gw_server *srv, Prs__Request *rq, uint64_t key,
		   gw_reply_cb cb)
{
	struct gw_pending *p = pending_send(srv, rq, NULL, cb);

	p->key = key;
	p->srv = srv;
	p->keyed = true;
	return p;
}

void
gw_reg_detach(struct gw_server *srv, struct gw_conn *c)
{
	struct gw_pending *p;

	if (srv->reg == NULL)
		return;
	for (p = srv->reg->phead; p != NULL; p = p->next)
		if (p->conn == c)
			p->conn = NULL;
	c->npending = 0;
}

static void
on_reply(struct gw_server *srv, const Prs__Reply *rep)
{
	struct gw_reg *r = srv->reg;
	struct gw_pending *p;
	uint64_t req = rep->req;

	HASH_FIND(hh, r->pending, &req, sizeof(req), p);
	/* What a client session was shown, for gw_view.c */
	gw_view_note_reply(srv, rep,
			   p != NULL && (p->keyed || (p->conn != NULL &&
						      p->conn->sess != NULL)));
	if (p == NULL) {
		prs_debug("reply to unknown request %llu",
			  (unsigned long long) req);
		return;
	}
	pending_finish(r, p, rep);
}

void
gw_reg_recv(void *arg, Prs__Envelope *env, uint32_t pipe)
{
	struct gw_server *srv = arg;
	struct gw_reg *r = srv->reg;

	if (env->kind != PRS__KIND__KIND_REGISTRY) {
		prs_debug("message from a non-registry sender '%s' ignored",
			  env->sender ? env->sender : "");
		return;
	}
	if (env->epoch != r->reg_epoch) {
		if (r->reg_epoch != 0)
			prs_warn("registry restarted (epoch %llx, was %llx)",
				 (unsigned long long) env->epoch,
				 (unsigned long long) r->reg_epoch);
		else
			prs_info("registry found (epoch %llx)",
				 (unsigned long long) env->epoch);
		r->reg_epoch = env->epoch;
		r->synced = false;
		pending_fail_all(r);
		send_hello(srv); /* tell it the epoch we now know at once */
	} else if (env->seq != r->next_seq) {
		prs_warn("registry message sequence gap: expected %llu, got "
			 "%llu: events lost",
			 (unsigned long long) r->next_seq,
			 (unsigned long long) env->seq);
		gw_session_lost(srv);
	}
	r->next_seq = env->seq + 1;
	r->last_rx = prs_mono_ms();

	switch (env->body_case) {
	case PRS__ENVELOPE__BODY_HELLO:
		break;
	case PRS__ENVELOPE__BODY_RESYNC:
		prs_info("registry asked for a resync: announcing %zu "
			 "sessions",
			 srv->nsessions);
		gw_session_resync(srv, env->resync ? env->resync->id : 0);
		/* then what our clients were shown, to be checked against
		 * the registry's truth (gw_view.h) */
		gw_view_check_send(srv);
		r->synced = true;
		/* every waiting session was just announced in full */
		gw_session_await_sweep(srv, prs_mono_ms(), true);
		break;
	case PRS__ENVELOPE__BODY_SESSION_ACK: {
		size_t i;
		for (i = 0;
		     env->session_ack != NULL && i < env->session_ack->n_sids;
		     i++)
			gw_session_welcome(srv, env->session_ack->sids[i]);
		break;
	}
	case PRS__ENVELOPE__BODY_EVENT:
		if (env->event != NULL)
			gw_session_event(srv, env->event);
		break;
	case PRS__ENVELOPE__BODY_TYPING:
		if (env->typing != NULL)
			gw_session_typing(srv, env->typing);
		break;
	case PRS__ENVELOPE__BODY_REPLY:
		if (env->reply != NULL)
			on_reply(srv, env->reply);
		break;
	case PRS__ENVELOPE__BODY_KICK:
		if (env->kick != NULL)
			gw_session_kick(srv, env->kick);
		break;
	default:
		prs_debug("unexpected message %d from the registry",
			  (int) env->body_case);
		break;
	}
}

/* The registry's connection to our inbox went away: it died (NNG tells
 * within milliseconds) or it reopens its side. Either way stop counting
 * on it at once rather than after READY_FRESH_MS: pending requests fail
 * now, and its next message (Hello within 500 ms, or a Resync from a new
 * epoch) makes the link ready again. */
static void
inbox_gone_cb(void *arg, uint32_t pipe)
{
	struct gw_server *srv = arg;
	struct gw_reg *r = srv->reg;

	prs_info("registry connection %u closed", pipe);
	r->last_rx = 0;
	pending_fail_all(r);
}

static void
hello_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gw_server *srv = w->data;

	/* While NNG pushes back (registry down or slow) other messages are
	 * queued already: do not pile Hellos behind them. */
	if (srv->reg->peer != NULL && prs_peer_backlog(srv->reg->peer) == 0)
		send_hello(srv);
}

void
gw_reg_open_unlinked(struct gw_server *srv)
{
	struct gw_reg *r = xcalloc(1, sizeof(*r));

	ev_timer_init(&r->hello_timer, hello_cb, HELLO_MS / 1000.0,
		      HELLO_MS / 1000.0);
	r->hello_timer.data = srv;
	srv->reg = r;
}

int
gw_reg_open(struct gw_server *srv)
{
	const struct gw_config *cfg = srv->cfg;
	struct gw_reg *r = xcalloc(1, sizeof(*r));

	srv->reg = r;
	if (prs_inbox_open(&r->inbox, srv->loop, cfg->url, gw_reg_recv,
			   inbox_gone_cb, srv) != 0)
		goto fail;
	if (prs_peer_open(&r->peer, srv->loop, cfg->registry_url,
			  PRS__KIND__KIND_GATEWAY, cfg->name, srv->epoch) != 0)
		goto fail;
	ev_timer_init(&r->hello_timer, hello_cb, HELLO_MS / 1000.0,
		      HELLO_MS / 1000.0);
	r->hello_timer.data = srv;
	ev_timer_start(srv->loop, &r->hello_timer);
	send_hello(srv);
	sd_notify(0, "STATUS=waiting for the registry");
	return 0;
fail:
	gw_reg_close(srv);
	return -1;
}

void
gw_reg_close(struct gw_server *srv)
{
	struct gw_reg *r = srv->reg;

	if (r == NULL)
		return;
	ev_timer_stop(srv->loop, &r->hello_timer);
	/* Nobody to answer any more; connections are gone by now. */
	while (r->phead != NULL) {
		struct gw_pending *p = r->phead;
		pending_unlink(r, p);
		json_decref(p->id);
		free(p);
	}
	prs_peer_close(r->peer);
	prs_inbox_close(r->inbox);
	free(r);
	srv->reg = NULL;
}

void
gw_reg_tick(struct gw_server *srv, int64_t now)
{
	struct gw_reg *r = srv->reg;
	bool ready;

	if (r == NULL)
		return;
	while (r->phead != NULL && r->phead->deadline <= now)
		pending_finish(r, r->phead, NULL);
	ready = gw_reg_ready(srv);
	if (ready != r->was_ready) {
		r->was_ready = ready;
		if (ready) {
			prs_info("registry link ready (epoch %llx)",
				 (unsigned long long) r->reg_epoch);
			sd_notifyf(0,
				   "STATUS=registry link ready "
				   "(epoch %llx), %zu sessions",
				   (unsigned long long) r->reg_epoch,
				   srv->nsessions);
		} else {
			prs_warn("registry link not ready: %s",
				 r->synced ? "registry silent"
					   : "waiting for a resync");
			sd_notify(0, "STATUS=registry link down");
		}
	}
}

size_t
gw_reg_backlog(struct gw_server *srv)
{
	if (srv->reg == NULL || srv->reg->peer == NULL)
		return 0;
	return prs_peer_backlog(srv->reg->peer);
}
