/*
 * The registry's links: the inbox, gateways (sessions in, events out),
 * liveness and resynchronisation (docs/DESIGN.md, "Links"). Requests are
 * answered in reg_query.c, the persister's side is reg_pst.c.
 *
 * Everything that arrives is hostile until checked: ids are validated,
 * lists are capped, unknown gateways and sessions are ignored. A gateway is
 * known by its name and epoch; a message from an incarnation the registry
 * has not greeted is dropped, and the gateway is asked to re-announce its
 * sessions, which it does idempotently. What reg_state.c decides comes
 * back through reg_link_out (reg_out.h): the only way its events leave.
 */
#include "reg.h"
#include "prs_tls.h"
#include "prs_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <utlist.h>

#define HELLO_EVERY_MS      500
#define HOLD_MIN_MS         1000 /* two gateway Hello periods */
#define RESYNC_RETRY_MS     1000 /* first repeat of an unanswered Resync */
#define RESYNC_RETRY_MAX_MS 8000
#define VCHECK_MAX          100000 /* user ids a gateway may ask to check */

/* ---- sending ---------------------------------------------------------- */

static void
gw_send(struct reg_gw *gw, Prs__Envelope *env)
{
	if (gw->peer != NULL)
		prs_peer_send(gw->peer, env);
}

static void
link_event_cb(struct reg *r, struct reg_gw *gw, const uint64_t *sids, size_t n,
	      const Prs__Presence *p, bool own)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Event ev = PRS__EVENT__INIT;

	ev.targets = (uint64_t *) sids;
	ev.n_targets = n;
	ev.presence = (Prs__Presence *) p;
	ev.own = own;
	ev.repair = r->repair;
	ev.online_changed = r->online_changed;
	ev.stamped_us = prs_now_us();
	r->n_events_sent++;
	env.body_case = PRS__ENVELOPE__BODY_EVENT;
	env.event = &ev;
	gw_send(gw, &env);
}

static void
link_typing_cb(struct reg *r, struct reg_gw *gw, const uint64_t *sids,
	       size_t n, const char *thread, const char *user, bool active)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Typing ty = PRS__TYPING__INIT;

	ty.targets = (uint64_t *) sids;
	ty.n_targets = n;
	ty.thread_id = (char *) thread;
	ty.user_id = (char *) user;
	ty.active = active;
	r->n_typing_sent++;
	env.body_case = PRS__ENVELOPE__BODY_TYPING;
	env.typing = &ty;
	gw_send(gw, &env);
}

void
reg_send_reply(struct reg *r, struct reg_gw *gw, Prs__Reply *rep)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;

	env.body_case = PRS__ENVELOPE__BODY_REPLY;
	env.reply = rep;
	gw_send(gw, &env);
}

void
reg_send_kick(struct reg *r, struct reg_gw *gw, uint64_t *sids, size_t n)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Kick k = PRS__KICK__INIT;

	k.sids = sids;
	k.n_sids = n;
	env.body_case = PRS__ENVELOPE__BODY_KICK;
	env.kick = &k;
	gw_send(gw, &env);
}

static void
send_hello(struct reg *r, struct prs_peer *peer, uint64_t peer_epoch)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Hello h = PRS__HELLO__INIT;

	if (peer == NULL)
		return;
	h.address = r->cfg.url;
	h.peer_epoch = peer_epoch;
	h.ready = r->ready;
	env.body_case = PRS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	prs_peer_send(peer, &env);
}

/* Asks gw to re-announce its sessions. A request/ack exchange: reg_cron
 * repeats it (with a new id, backing off) until the SessionBatch with
 * resync_end and this id arrives, since a Resync lost on the way (the
 * gateway's inbox re-created, a pipe that died) would otherwise leave the
 * gateway waiting for it forever. Sessions not re-announced by the end
 * of the answer are gone. */
static void
send_resync(struct reg *r, struct reg_gw *gw)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Resync rs = PRS__RESYNC__INIT;
	struct reg_session *s, *tmp;

	HASH_ITER (hh, gw->sessions, s, tmp)
		s->stale = true;
	if (!gw->synced || gw->resync_done)
		gw->resync_tries = 0;
	gw->synced = true;
	gw->resync_done = false;
	gw->resync_id++;
	gw->resync_sent = prs_mono_ms();
	rs.id = gw->resync_id;
	env.body_case = PRS__ENVELOPE__BODY_RESYNC;
	env.resync = &rs;
	gw_send(gw, &env);
	prs_info("%s: asked to re-announce its sessions%s", gw->name,
		 gw->resync_tries > 0 ? " (again: no answer yet)" : "");
}

void
reg_link_serving(struct reg *r)
{
	struct reg_gw *gw, *tmp;

	sd_notify(0, "STATUS=serving");
	HASH_ITER (hh, r->gws, gw, tmp)
		send_resync(r, gw);
}

static void
resync_retry(struct reg *r, struct reg_gw *gw, int64_t now)
{
	int64_t wait = RESYNC_RETRY_MS;
	unsigned i;

	if (!gw->synced || gw->resync_done)
		return;
	for (i = 0; i < gw->resync_tries && wait < RESYNC_RETRY_MAX_MS; i++)
		wait *= 2;
	if (now - gw->resync_sent < wait)
		return;
	gw->resync_tries++;
	send_resync(r, gw);
}

const struct reg_out reg_link_out = {
	.event_cb = link_event_cb,
	.typing_cb = link_typing_cb,
	.dirty_cb = reg_pst_dirty_cb,
	.history_cb = reg_pst_history_cb,
	.memop_cb = reg_pst_memop_cb,
};

/* ---- gateways --------------------------------------------------------- */

static bool
address_valid(const char *a)
{
	size_t n = strlen(a);
	return n > 6 && n < 512 &&
	       (strncmp(a, "ipc://", 6) == 0 || strncmp(a, "tcp://", 6) == 0 ||
		prs_url_tls(a));
}

static struct reg_gw *
gw_new(struct reg *r, const char *name, uint64_t epoch, const char *address)
{
	struct reg_gw *gw = xcalloc(1, sizeof(*gw));

	gw->name = xstrdup(name);
	gw->epoch = epoch;
	gw->address = xstrdup(address);
	if (r->no_peers || prs_peer_open(&gw->peer, r->loop, address,
					 PRS__KIND__KIND_REGISTRY, r->cfg.name,
					 r->epoch) != 0)
		gw->peer = NULL; /* logged; hung detection will retire it */
	HASH_ADD_KEYPTR(hh, r->gws, gw->name, strlen(gw->name), gw);
	prs_info("gateway %s %s (%s)", name,
		 reg_roster_heard(r, name) ? "is back" : "joined", address);
	return gw;
}

void
reg_gw_dead(struct reg *r, struct reg_gw *gw)
{
	struct reg_session *s, *tmp;
	unsigned n = HASH_COUNT(gw->sessions);

	HASH_ITER (hh, gw->sessions, s, tmp)
		reg_session_close(r, s, false);
	HASH_DEL(r->gws, gw);
	r->roster_dirty = true;
	prs_peer_close_bg(gw->peer); /* it may be unreachable */
	prs_warn("gateway %s gone: %u sessions ended (grace applies)",
		 gw->name, n);
	reg_gw_vcheck_free(gw);
	free(gw->tgt);
	free(gw->name);
	free(gw->address);
	free(gw);
}

/* Repairs, or (during the hold) queues the repair of, gw's views of these
 * users: after the hold the registry's events are compared with what was
 * loaded, not with what the gateway showed, so both kinds of stale view
 * (an event lost in the old registry's last moments, a state that did not
 * reach PostgreSQL) are caught here. */
static void
on_view_check(struct reg *r, struct reg_gw *gw, const Prs__ViewCheck *vc)
{
	size_t i;

	for (i = 0; i < vc->n_user_ids; i++) {
		const char *id = vc->user_ids[i];
		if (!prs_id_valid(id, strlen(id)))
			continue;
		if (!r->hold) {
			reg_view_repair(r, gw, id);
			continue;
		}
		if (gw->nvcheck >= VCHECK_MAX)
			break;
		if (gw->nvcheck == gw->capvcheck) {
			gw->capvcheck =
				gw->capvcheck ? gw->capvcheck * 2 : 256;
			gw->vcheck =
				xrealloc(gw->vcheck,
					 gw->capvcheck * sizeof(*gw->vcheck));
		}
		gw->vcheck[gw->nvcheck++] = xstrdup(id);
	}
}

/* The hold is over: the view checks that waited for it. */
static void
view_checks_release(struct reg *r)
{
	struct reg_gw *gw, *tmp;
	size_t i, n = 0;

	HASH_ITER (hh, r->gws, gw, tmp) {
		for (i = 0; i < gw->nvcheck; i++)
			reg_view_repair(r, gw, gw->vcheck[i]);
		n += gw->nvcheck;
		reg_gw_vcheck_free(gw);
	}
	if (n > 0)
		prs_info("view checks after the hold: %zu users", n);
}

static void
on_sessions(struct reg *r, struct reg_gw *gw, Prs__SessionBatch *sb)
{
	size_t i;

	for (i = 0; i < sb->n_sessions; i++)
		reg_session_open(r, gw, sb->sessions[i], sb->resync);
	if (!sb->resync && sb->n_sessions > 0) {
		Prs__Envelope env = PRS__ENVELOPE__INIT;
		Prs__SessionAck ack = PRS__SESSION_ACK__INIT;
		uint64_t *sids = xcalloc(sb->n_sessions, sizeof(*sids));
		for (i = 0; i < sb->n_sessions; i++)
			sids[i] = sb->sessions[i]->sid;
		ack.sids = sids;
		ack.n_sids = sb->n_sessions;
		env.body_case = PRS__ENVELOPE__BODY_SESSION_ACK;
		env.session_ack = &ack;
		gw_send(gw, &env);
		free(sids);
	}
	/* The end of an answer to an older Resync proves nothing: sessions
	 * were marked stale again when the newer one was sent. */
	if (sb->resync_end && sb->resync_id == gw->resync_id && gw->synced &&
	    !gw->resync_done) {
		struct reg_session *s, *tmp;
		gw->resync_done = true;
		HASH_ITER (hh, gw->sessions, s, tmp) {
			if (s->stale)
				reg_session_close(r, s, false);
		}
	}
}

static void
on_gateway(struct reg *r, Prs__Envelope *env, uint32_t pipe)
{
	struct reg_gw *gw;
	bool hello = env->body_case == PRS__ENVELOPE__BODY_HELLO;

	if (env->sender == NULL ||
	    !prs_id_valid(env->sender, strlen(env->sender)))
		return;
	HASH_FIND_STR(r->gws, env->sender, gw);
	if (gw != NULL && gw->epoch != env->epoch) {
		if (!hello)
			return; /* an incarnation we have not greeted */
		prs_info("gateway %s restarted", gw->name);
		reg_gw_dead(r, gw);
		gw = NULL;
	}
	if (gw == NULL) {
		if (!hello || !address_valid(env->hello->address))
			return;
		gw = gw_new(r, env->sender, env->epoch, env->hello->address);
	}
	gw->pipe = pipe;
	gw->last_heard = prs_mono_ms();
	if (gw->next_seq != 0 && env->seq != gw->next_seq) {
		prs_warn("%s: sequence gap (%llu, expected %llu): resync",
			 gw->name, (unsigned long long) env->seq,
			 (unsigned long long) gw->next_seq);
		gw->synced = false;
	}
	gw->next_seq = env->seq + 1;
	if (!r->ready)
		return;
	if (!gw->synced)
		send_resync(r, gw);

	switch (env->body_case) {
	case PRS__ENVELOPE__BODY_SESSIONS:
		on_sessions(r, gw, env->sessions);
		break;
	case PRS__ENVELOPE__BODY_CLOSE: {
		struct reg_session *s = reg_session_find(gw, env->close->sid);
		if (s != NULL)
			reg_session_close(r, s, env->close->clean);
		break;
	}
	case PRS__ENVELOPE__BODY_SET_STATUS: {
		Prs__SetStatus *ss = env->set_status;
		struct reg_session *s = reg_session_find(gw, ss->sid);
		if (s != NULL)
			reg_status_set(r, s, ss->status,
				       ss->has_text ? ss->text : NULL,
				       ss->status_at);
		break;
	}
	case PRS__ENVELOPE__BODY_VIEW_CHECK:
		on_view_check(r, gw, env->view_check);
		break;
	case PRS__ENVELOPE__BODY_REQUEST:
		reg_on_request(r, gw, env->request);
		break;
	case PRS__ENVELOPE__BODY_TYPING: {
		Prs__Typing *ty = env->typing;
		struct reg_session *s = reg_session_find(gw, ty->sid);
		if (s != NULL &&
		    prs_id_valid(ty->thread_id, strlen(ty->thread_id)))
			reg_typing(r, s, ty->thread_id, ty->active);
		break;
	}
	case PRS__ENVELOPE__BODY_ACTIVITY: {
		struct reg_session *s =
			reg_session_find(gw, env->activity->sid);
		if (s != NULL)
			reg_session_idle(r, s, env->activity->idle);
		break;
	}
	default:
		break;
	}
}

/* ---- inbox ------------------------------------------------------------ */

void
reg_link_recv(void *arg, Prs__Envelope *env, uint32_t pipe)
{
	struct reg *r = arg;

	switch (env->kind) {
	case PRS__KIND__KIND_GATEWAY:
		on_gateway(r, env, pipe);
		break;
	case PRS__KIND__KIND_PERSISTER:
		reg_on_persister(r, env);
		break;
	default:
		prs_warn("message from unknown kind %d dropped", env->kind);
		break;
	}
}

static void
gone_cb(void *arg, uint32_t pipe)
{
	struct reg *r = arg;
	struct reg_gw *gw, *tmp;

	HASH_ITER (hh, r->gws, gw, tmp) {
		if (gw->pipe == pipe) {
			prs_warn("gateway %s: connection lost", gw->name);
			reg_gw_dead(r, gw);
		}
	}
}

/* Every gateway known alive has re-announced its sessions, and every
 * one of the stored roster (alive before this registry started) has said
 * Hello: nobody's sessions are still on the way. */
static bool
resync_complete(struct reg *r)
{
	struct reg_gw *gw, *tmp;

	if (r->nroster_wait > 0)
		return false;
	HASH_ITER (hh, r->gws, gw, tmp) {
		if (!gw->resync_done)
			return false;
	}
	return true;
}

/* The resync window lasts resync_window_ms, and then as long as the
 * resync is incomplete, at most gateway_timeout_ms more: a gateway from
 * the roster that stays silent that long is dead by the liveness rule
 * every live gateway is judged by. */
static bool
window_over(struct reg *r, int64_t now)
{
	if (now < r->resync_deadline)
		return false;
	return now >= r->resync_deadline + r->cfg.gateway_timeout_ms ||
	       resync_complete(r);
}

static void
names_add(char *buf, size_t size, size_t *len, const char *name,
	  const char *why)
{
	int n;

	if (*len >= size - 1)
		return;
	n = snprintf(buf + *len, size - *len, " %s (%s)", name, why);
	if (n > 0)
		*len = *len + (size_t) n < size ? *len + (size_t) n : size - 1;
}

static void
window_wait_log(struct reg *r)
{
	char names[256];
	size_t i, len = 0;
	struct reg_gw *gw, *tmp;

	names[0] = '\0';
	for (i = 0; i < r->nroster_wait; i++)
		names_add(names, sizeof(names), &len, r->roster_wait[i],
			  "no Hello yet");
	HASH_ITER (hh, r->gws, gw, tmp) {
		if (!gw->resync_done)
			names_add(names, sizeof(names), &len, gw->name,
				  "re-announcing");
	}
	prs_info("resync window: waiting up to %lld ms more for gateways:%s",
		 (long long) r->cfg.gateway_timeout_ms, names);
}

/* The hold (see publish) lasts until the resync is complete, and long
 * enough for every live gateway to have said Hello (they do every
 * 500 ms); at most until the window is over. */
static bool
hold_over(struct reg *r, int64_t now)
{
	if (r->resync_deadline == 0 || window_over(r, now))
		return true;
	if (now - r->ready_at < HOLD_MIN_MS)
		return false;
	return resync_complete(r);
}

void
reg_cron(struct reg *r)
{
	int64_t now = prs_mono_ms();
	static int64_t last_hello;
	struct reg_gw *gw, *tmp;

	/* If we ourselves were stalled (SIGSTOP, swapping), the gateways'
	 * silence is ours: their Hellos wait unread in the inbox. Give them
	 * a fresh window instead of declaring every one of them dead. The
	 * loop sleeps at most CRON_MS between two looks at the clock
	 * (loop_at, set before each sleep), so a longer gap is a stall, even
	 * one that began before the first cron. */
	if (r->loop_at != 0 &&
	    now - r->loop_at > r->cfg.gateway_timeout_ms / 2) {
		prs_warn("registry loop stalled for %lld ms",
			 (long long) (now - r->loop_at));
		HASH_ITER (hh, r->gws, gw, tmp)
			gw->last_heard = now;
	}
	/* Count what is already in the inbox before judging anyone silent:
	 * after a stall of ours their Hellos are waiting there. */
	if (r->inbox != NULL)
		prs_inbox_poll(r->inbox);
	now = prs_mono_ms();

	if (now - last_hello >= HELLO_EVERY_MS) {
		last_hello = now;
		send_hello(r, r->pst, r->pst_epoch);
		HASH_ITER (hh, r->gws, gw, tmp)
			send_hello(r, gw->peer, gw->epoch);
	}
	HASH_ITER (hh, r->gws, gw, tmp) {
		if (now - gw->last_heard > r->cfg.gateway_timeout_ms) {
			prs_warn("gateway %s silent for %lld ms", gw->name,
				 (long long) (now - gw->last_heard));
			reg_gw_dead(r, gw);
		}
	}
	reg_cron_typing(r);
	HASH_ITER (hh, r->gws, gw, tmp)
		resync_retry(r, gw, now);
	if (r->hold && hold_over(r, now)) {
		reg_hold_release(r);
		view_checks_release(r);
	}
	if (r->ready && r->cfg.online_refresh_ms > 0 &&
	    now - r->refresh_last >= r->cfg.online_refresh_ms) {
		if (r->refresh_last != 0)
			reg_online_refresh(r);
		r->refresh_last = now;
	}
	if (r->ready && r->resync_deadline != 0 && now >= r->resync_deadline) {
		if (window_over(r, now)) {
			size_t i;
			for (i = 0; i < r->nroster_wait; i++)
				prs_warn("gateway %s (alive before this "
					 "registry started) did not come back",
					 r->roster_wait[i]);
			reg_roster_give_up(r);
			r->resync_deadline = 0;
			r->window_waiting = false;
			reg_resync_window_end(r);
		} else if (!r->window_waiting) {
			r->window_waiting = true;
			window_wait_log(r);
		}
	}
	reg_pst_cron(r, now);
}

int
reg_link_start(struct reg *r)
{
	int rv;

	if ((rv = prs_inbox_open(&r->inbox, r->loop, r->cfg.url, reg_link_recv,
				 gone_cb, r)) != 0)
		return rv;
	if ((rv = prs_peer_open(&r->pst, r->loop, r->cfg.persister_url,
				PRS__KIND__KIND_REGISTRY, r->cfg.name,
				r->epoch)) != 0)
		return rv;
	return 0; /* the persister's first Hello triggers the state load */
}

void
reg_link_stop(struct reg *r)
{
	struct reg_gw *gw, *gtmp;

	prs_inbox_close(r->inbox);
	reg_admin_free(r);
	HASH_ITER (hh, r->gws, gw, gtmp) {
		prs_peer_close(gw->peer);
		gw->peer = NULL;
	}
	reg_state_free(r);
	prs_peer_close(r->pst);
	reg_pst_free(r);
}

void
reg_config_defaults(struct reg_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->url = "ipc:///run/presence/registry.sock";
	cfg->persister_url = "ipc:///run/presence/persister.sock";
	cfg->name = "registry";
	cfg->metrics_address = "127.0.0.1:9464";
	cfg->audience = "threads";
	cfg->offline_grace_ms = 5000;
	cfg->resync_window_ms = 5000;
	cfg->typing_ttl_ms = 6000;
	cfg->gateway_timeout_ms = 3000;
	cfg->batch_retry_ms = 3000;
	cfg->online_refresh_ms = 30000;
	cfg->write_window_ms = 100;
	cfg->history = "all";
	cfg->history_mode = REG_HISTORY_ALL;
}
