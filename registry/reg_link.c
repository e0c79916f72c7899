/*
 * The registry's messages: gateways (sessions in, events out), the
 * persister (state load in, coalesced write batches out), liveness and
 * resynchronisation (docs/DESIGN.md, "Links").
 *
 * Everything that arrives is hostile until checked: ids are validated,
 * lists are capped, unknown gateways and sessions are ignored. A gateway is
 * known by its name and epoch; a message from an incarnation the registry
 * has not greeted is dropped, and the gateway is asked to re-announce its
 * sessions, which it does idempotently. What reg_state.c decides comes
 * back through reg_link_out (reg_out.h): the only way its events leave.
 */
#include "reg.h"
#include "prs_util.h"

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <utlist.h>

#define BATCH_ROWS_MAX      2000
#define LOAD_RETRY_MS       1000
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

static void
send_load(struct reg *r)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__LoadRequest lr = PRS__LOAD_REQUEST__INIT;

	lr.load_id = r->load_id;
	env.body_case = PRS__ENVELOPE__BODY_LOAD;
	env.load = &lr;
	if (r->pst != NULL)
		prs_peer_send(r->pst, &env);
	r->load_sent = prs_mono_ms();
	r->load_next = 0;
}

/* ---- gateways --------------------------------------------------------- */

static bool
address_valid(const char *a)
{
	size_t n = strlen(a);
	return n > 6 && n < 512 &&
	       (strncmp(a, "ipc://", 6) == 0 || strncmp(a, "tcp://", 6) == 0);
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
	prs_info("gateway %s joined (%s)", name, address);
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
	prs_peer_close(gw->peer);
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

static Prs__Presence *
presence_fill(struct reg *r, Prs__Presence *p, const char *id,
	      const char *caller, int64_t now)
{
	struct reg_user *u = reg_user_find(r, id, strlen(id));

	if (u != NULL) {
		reg_view(u, caller != NULL && strcmp(caller, id) == 0, now, p);
	} else {
		prs__presence__init(p);
		p->user_id = (char *) id;
		p->status = PRS__STATUS__ST_OFFLINE;
	}
	return p;
}

struct reply_buf {
	Prs__Reply rep;
	Prs__Presence *pv;
	size_t cap, idcap;
};

static void
reply_user(struct reg *r, struct reply_buf *b, const char *id,
	   const char *caller, int64_t now)
{
	if (b->rep.n_users == b->cap) {
		size_t i;
		b->cap = b->cap ? b->cap * 2 : 16;
		b->pv = xrealloc(b->pv, b->cap * sizeof(*b->pv));
		b->rep.users =
			xrealloc(b->rep.users, b->cap * sizeof(*b->rep.users));
		for (i = 0; i < b->rep.n_users; i++)
			b->rep.users[i] = &b->pv[i];
	}
	presence_fill(r, &b->pv[b->rep.n_users], id, caller, now);
	b->rep.users[b->rep.n_users] = &b->pv[b->rep.n_users];
	b->rep.n_users++;
}

static void
reply_id(struct reply_buf *b, char *id)
{
	if (b->rep.n_user_ids == b->idcap) {
		b->idcap = b->idcap ? b->idcap * 2 : 16;
		b->rep.user_ids =
			xrealloc(b->rep.user_ids, b->idcap * sizeof(char *));
	}
	b->rep.user_ids[b->rep.n_user_ids++] = id;
}

static bool
ids_valid(Prs__Request *q, size_t max)
{
	size_t i;
	if (q->n_user_ids > max)
		return false;
	for (i = 0; i < q->n_user_ids; i++)
		if (!prs_id_valid(q->user_ids[i], strlen(q->user_ids[i])))
			return false;
	return true;
}

/* The caller first (when it has sessions), then the online co-members of
 * its threads and the online users its sessions watch, each once; at most
 * max users. */
static void
audience_list(struct reg *r, struct reg_user *caller, const char *id,
	      struct reply_buf *b, int64_t now, size_t max)
{
	uint64_t mark = ++r->mark;
	struct reg_member *m, *mt, *m2, *m2t;
	struct reg_session *cs;

	if (caller == NULL)
		return;
	caller->mark = mark; /* the caller first, as in the thread form */
	if (caller->nsessions > 0)
		reply_user(r, b, caller->id, id, now);
	HASH_ITER (hh_u, caller->threads, m, mt) {
		HASH_ITER (hh_t, m->t->members, m2, m2t) {
			if (b->rep.n_users >= max)
				return;
			if (m2->u->mark == mark || !reg_user_online(m2->u))
				continue;
			m2->u->mark = mark;
			reply_user(r, b, m2->u->id, id, now);
		}
	}
	DL_FOREACH2 (caller->sessions, cs, unext) {
		struct reg_watch *w, *wt;
		HASH_ITER (hh, cs->watches, w, wt) {
			if (b->rep.n_users >= max)
				return;
			if (w->u->mark == mark || !reg_user_online(w->u))
				continue;
			w->u->mark = mark;
			reply_user(r, b, w->u->id, id, now);
		}
	}
}

/* Everyone online, the caller first (when it has sessions); at most
 * REG_AUDIENCE_MAX users. */
static void
everyone_list(struct reg *r, struct reg_user *caller, const char *id,
	      struct reply_buf *b, int64_t now)
{
	struct reg_user *u, *ut;

	if (caller != NULL && caller->nsessions > 0)
		reply_user(r, b, caller->id, id, now);
	HASH_ITER (hh, r->users, u, ut) {
		if (b->rep.n_users >= REG_AUDIENCE_MAX)
			break;
		if (u != caller && reg_user_online(u))
			reply_user(r, b, u->id, id, now);
	}
}

static const char *
req_list_online(struct reg *r, Prs__Request *q, struct reg_session *s,
		struct reply_buf *b, int64_t now)
{
	struct reg_user *caller =
		reg_user_find(r, q->user_id, strlen(q->user_id));
	struct reg_member *m, *mt;
	struct reg_user *u, *ut;

	if (q->thread_id[0] != '\0') {
		struct reg_thread *t = reg_thread_find(r, q->thread_id);
		if (!q->admin && !reg_is_member(t, caller))
			return "forbidden";
		if (t == NULL)
			return NULL;
		HASH_ITER (hh_t, t->members, m, mt) {
			bool own = m->u == caller;
			if (reg_user_online(m->u) ||
			    (own && m->u->nsessions > 0))
				reply_user(r, b, m->u->id, q->user_id, now);
		}
		return NULL;
	}
	if (s == NULL) {
		if (!q->admin)
			return "forbidden";
		HASH_ITER (hh, r->users, u, ut) {
			if (reg_user_online(u))
				reply_user(r, b, u->id, NULL, now);
		}
		return NULL;
	}
	if (s->all) /* an all-users session */
		everyone_list(r, caller, q->user_id, b, now);
	else
		audience_list(r, caller, q->user_id, b, now, SIZE_MAX);
	return NULL;
}

/* OP_LIST_AUDIENCE (drop-in endpoints): what a session of an HTTP caller
 * (sid 0) would be shown by OP_LIST_ONLINE without thread: everyone
 * online under audience "all", else as audience_list; at most
 * REG_AUDIENCE_MAX users. */
static const char *
req_list_audience(struct reg *r, Prs__Request *q, struct reply_buf *b,
		  int64_t now)
{
	struct reg_user *caller =
		reg_user_find(r, q->user_id, strlen(q->user_id));

	if (!prs_id_valid(q->user_id, strlen(q->user_id)))
		return "bad_request";
	if (strcmp(r->cfg.audience, "all") != 0)
		audience_list(r, caller, q->user_id, b, now, REG_AUDIENCE_MAX);
	else
		everyone_list(r, caller, q->user_id, b, now);
	return NULL;
}

static const char *
req_members(struct reg *r, Prs__Request *q, struct reply_buf *b)
{
	struct reg_thread *t = reg_thread_find(r, q->thread_id);
	struct reg_member *m, *mt;
	size_t i;

	if (!q->admin)
		return "forbidden";
	if (!prs_id_valid(q->thread_id, strlen(q->thread_id)) ||
	    !ids_valid(q, 100000))
		return "bad_request";
	switch (q->op) {
	case PRS__OP__OP_MEMBERS_GET:
		if (t != NULL)
			HASH_ITER (hh_t, t->members, m, mt)
				reply_id(b, m->u->id);
		break;
	case PRS__OP__OP_MEMBERS_SET: {
		uint64_t mark = ++r->mark;
		for (i = 0; i < q->n_user_ids; i++)
			reg_user_get(r, q->user_ids[i])->mark = mark;
		if (t != NULL)
			HASH_ITER (hh_t, t->members, m, mt) {
				if (m->u->mark != mark) {
					/* the last removal frees the thread */
					bool last = HASH_CNT(hh_t,
							     t->members) == 1;
					reg_member_del(r, t, m->u, true);
					if (last)
						break;
				}
			}
	}
		/* fall through */
	case PRS__OP__OP_MEMBERS_ADD:
		for (i = 0; i < q->n_user_ids; i++)
			reg_member_add(r, q->thread_id, q->user_ids[i], true);
		break;
	case PRS__OP__OP_MEMBERS_DEL:
		for (i = 0; t != NULL && i < q->n_user_ids; i++) {
			struct reg_user *u = reg_user_find(
				r, q->user_ids[i], strlen(q->user_ids[i]));
			bool last = HASH_CNT(hh_t, t->members) == 1 &&
				    reg_is_member(t, u);
			if (u != NULL)
				reg_member_del(r, t, u, true);
			if (last)
				t = NULL;
		}
		break;
	default:
		break;
	}
	return NULL;
}

static void
on_request(struct reg *r, struct reg_gw *gw, Prs__Request *q)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	struct reply_buf b = {.rep = PRS__REPLY__INIT};
	struct reg_session *s = NULL;
	const char *err = NULL;
	int64_t now = prs_now_ms();
	size_t i;

	b.rep.req = q->req;
	b.rep.held = r->hold;
	if (q->sid != 0 && (s = reg_session_find(gw, q->sid)) == NULL) {
		err = "unavailable";
		b.rep.message = "session not known to the registry yet";
		goto reply;
	}
	switch (q->op) {
	case PRS__OP__OP_QUERY:
		if (!ids_valid(q, REG_MAX_IDS)) {
			err = "bad_request";
			break;
		}
		for (i = 0; i < q->n_user_ids; i++)
			reply_user(r, &b, q->user_ids[i], q->user_id, now);
		break;
	case PRS__OP__OP_WATCH:
	case PRS__OP__OP_UNWATCH:
		if (s == NULL || !ids_valid(q, REG_MAX_IDS)) {
			err = "bad_request";
			break;
		}
		for (i = 0; i < q->n_user_ids; i++) {
			if (q->op == PRS__OP__OP_UNWATCH) {
				struct reg_user *u =
					reg_user_find(r, q->user_ids[i],
						      strlen(q->user_ids[i]));
				if (u != NULL)
					reg_watch_del(r, s, u);
				continue;
			}
			if (reg_watch_add(r, s,
					  reg_user_get(r, q->user_ids[i])) <
			    0) {
				err = "too_large";
				b.rep.message = "at most 10000 watched users "
						"per session";
				break;
			}
			reply_user(r, &b, q->user_ids[i], q->user_id, now);
		}
		break;
	case PRS__OP__OP_WATCH_ALL:
	case PRS__OP__OP_UNWATCH_ALL:
		if (s == NULL) {
			err = "bad_request";
			break;
		}
		reg_watch_all(r, s, q->op == PRS__OP__OP_WATCH_ALL);
		break;
	case PRS__OP__OP_LIST_ONLINE:
		if (q->thread_id[0] != '\0' &&
		    !prs_id_valid(q->thread_id, strlen(q->thread_id))) {
			err = "bad_request";
			break;
		}
		err = req_list_online(r, q, s, &b, now);
		break;
	case PRS__OP__OP_LIST_AUDIENCE:
		err = req_list_audience(r, q, &b, now);
		break;
	case PRS__OP__OP_ONLINE_SESSIONS:
		reg_admin_online(r, gw, q); /* it answers (reg_admin.c) */
		return;
	case PRS__OP__OP_MEMBERS_GET:
	case PRS__OP__OP_MEMBERS_SET:
	case PRS__OP__OP_MEMBERS_ADD:
	case PRS__OP__OP_MEMBERS_DEL:
		err = req_members(r, q, &b);
		break;
	case PRS__OP__OP_SESSIONS:
	case PRS__OP__OP_KICK:
	case PRS__OP__OP_HISTORY:
		reg_admin_request(r, gw, q); /* it answers (reg_admin.c) */
		return;
	default:
		err = "bad_request";
		b.rep.message = "unknown operation";
		break;
	}
reply:
	if (err != NULL) {
		b.rep.error = (char *) err;
		b.rep.n_users = 0;
		b.rep.n_user_ids = 0;
		if (b.rep.message == NULL || b.rep.message[0] == '\0')
			b.rep.message = (char *) err;
	}
	env.body_case = PRS__ENVELOPE__BODY_REPLY;
	env.reply = &b.rep;
	gw_send(gw, &env);
	free(b.pv);
	free(b.rep.users);
	free(b.rep.user_ids);
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
		on_request(r, gw, env->request);
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

/* ---- persister -------------------------------------------------------- */

static void
batch_free(Prs__WriteBatch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n_rows; i++) {
		Prs__Presence *p = b->rows[i]->p;
		free(p->user_id);
		free(p->text);
		free(p->meta);
		free(p);
		free(b->rows[i]);
	}
	for (i = 0; i < b->n_history; i++) {
		free(b->history[i]->user_id);
		free(b->history[i]);
	}
	for (i = 0; i < b->n_members; i++) {
		free(b->members[i]->thread_id);
		free(b->members[i]->user_id);
		free(b->members[i]);
	}
	free(b->rows);
	free(b->history);
	free(b->members);
	free(b);
}

static void
batch_send(struct reg *r)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;

	env.body_case = PRS__ENVELOPE__BODY_BATCH;
	env.batch = r->inflight;
	if (r->pst != NULL)
		prs_peer_send(r->pst, &env);
	r->inflight_sent = prs_mono_ms();
}

static int64_t
version_next(struct reg *r)
{
	int64_t now_us = prs_now_ms() * 1000;
	r->version = r->version + 1 > now_us ? r->version + 1 : now_us;
	return r->version;
}

bool
reg_pst_alive(const struct reg *r)
{
	return r->pst_epoch != 0 && prs_mono_ms() - r->pst_last_heard < 2000;
}

uint64_t
reg_write_horizon(const struct reg *r)
{
	return r->nhistory > 0 ? r->batch_seq + 1 : r->batch_seq;
}

static void
link_dirty_cb(struct reg *r, struct reg_user *u)
{
	if (u->dirty)
		return;
	u->dirty = true;
	u->dirty_next = r->dirty_head;
	r->dirty_head = u;
	r->ndirty++;
}

static void
link_history_cb(struct reg *r, const char *user, int status, int64_t at)
{
	Prs__HistoryRow *h;

	if (r->nhistory >= REG_HISTORY_MAX) {
		/* History is best effort; presence rows are not. Drop the
		 * oldest half at once: one move per REG_HISTORY_MAX / 2 rows,
		 * not one per row, while the persister is away. */
		size_t i, half = r->nhistory / 2;
		for (i = 0; i < half; i++) {
			free(r->history[i]->user_id);
			free(r->history[i]);
		}
		memmove(r->history, r->history + half,
			(r->nhistory - half) * sizeof(*r->history));
		r->nhistory -= half;
		prs_warn("persister away: dropped the %zu oldest history rows",
			 half);
	}
	if (r->nhistory == r->historycap) {
		r->historycap = r->historycap ? r->historycap * 2 : 64;
		r->history = xrealloc(r->history,
				      r->historycap * sizeof(*r->history));
	}
	h = xmalloc(sizeof(*h));
	prs__history_row__init(h);
	h->user_id = xstrdup(user);
	h->status = status;
	h->at = at;
	r->history[r->nhistory++] = h;
}

static void
link_memop_cb(struct reg *r, const char *thread, const char *user, bool add)
{
	size_t tl = strlen(thread), ul = strlen(user), len = tl + ul + 1;
	char *key = xmalloc(len + 1);
	struct reg_memop *op;

	memcpy(key, thread, tl + 1);
	memcpy(key + tl + 1, user, ul + 1);
	HASH_FIND(hh, r->memops, key, len, op);
	if (op != NULL) {
		op->add = add; /* latest wins */
		free(key);
		return;
	}
	op = xcalloc(1, sizeof(*op));
	op->key = key;
	op->keylen = len;
	op->add = add;
	HASH_ADD_KEYPTR(hh, r->memops, op->key, op->keylen, op);
}

const struct reg_out reg_link_out = {
	.event_cb = link_event_cb,
	.typing_cb = link_typing_cb,
	.dirty_cb = link_dirty_cb,
	.history_cb = link_history_cb,
	.memop_cb = link_memop_cb,
};

void
reg_flush_writes(struct reg *r)
{
	Prs__WriteBatch *b;
	struct reg_memop *op, *tmp;
	size_t n = 0;
	struct reg_user *u;
	int64_t now = prs_now_ms(), mono;

	if (r->inflight != NULL || r->pst == NULL ||
	    (r->dirty_head == NULL && r->memops == NULL && r->nhistory == 0))
		return;
	/* The write window: one new batch per write_window_ms at most, so
	 * that a user changing several times meanwhile is one row and
	 * PostgreSQL commits once per window, not once per loop iteration.
	 * A full batch's worth of pending rows goes at once (the
	 * write-behind stays bounded), and so does everything when
	 * stopping (invariant 4). Membership changes do not wait: they are
	 * rare, an admin was told "ok", and no gateway re-announces them
	 * after a registry crash (presence rows are soft state, see
	 * docs/DESIGN.md "Durability"). Nobody waits for a timer of its
	 * own: the loop wakes at least once per cron period (100 ms). */
	mono = prs_mono_ms();
	if (r->cfg.write_window_ms > 0 && !r->stopping && r->memops == NULL &&
	    mono - r->write_last < r->cfg.write_window_ms &&
	    r->ndirty < BATCH_ROWS_MAX && r->nhistory < BATCH_ROWS_MAX)
		return;
	r->write_last = mono;
	b = xmalloc(sizeof(*b));
	prs__write_batch__init(b);
	b->batch = ++r->batch_seq;
	for (u = r->dirty_head; u != NULL && n < BATCH_ROWS_MAX;
	     u = u->dirty_next)
		n++;
	b->rows = xcalloc(n, sizeof(*b->rows));
	while (r->dirty_head != NULL && b->n_rows < n) {
		Prs__PresenceRow *row = xmalloc(sizeof(*row));
		Prs__Presence view, *p = xmalloc(sizeof(*p));
		u = r->dirty_head;
		r->dirty_head = u->dirty_next;
		r->ndirty--;
		u->dirty = false;
		reg_view(u, true, now, &view);
		prs__presence_row__init(row);
		prs__presence__init(p);
		p->user_id = xstrdup(u->id);
		/* the chosen status: auto-away is derived, never stored */
		p->status =
			view.auto_away ? PRS__STATUS__ST_ONLINE : view.status;
		p->auto_away = view.auto_away;
		p->is_online = reg_user_online(u);
		p->has_text = u->text != NULL;
		p->text = xstrdup(u->text ? u->text : "");
		p->last_seen = u->last_seen;
		p->since = u->since_own;
		p->meta = xstrdup(u->meta ? u->meta : "");
		row->p = p;
		row->version = version_next(r);
		b->rows[b->n_rows++] = row;
	}
	n = HASH_COUNT(r->memops);
	b->members = xcalloc(n, sizeof(*b->members));
	HASH_ITER (hh, r->memops, op, tmp) {
		Prs__MemberOp *m = xmalloc(sizeof(*m));
		prs__member_op__init(m);
		m->thread_id = xstrdup(op->key);
		m->user_id = xstrdup(op->key + strlen(op->key) + 1);
		m->add = op->add;
		b->members[b->n_members++] = m;
		HASH_DEL(r->memops, op);
		free(op->key);
		free(op);
	}
	b->history = r->history;
	b->n_history = r->nhistory;
	r->history = NULL;
	r->nhistory = r->historycap = 0;
	r->inflight = b;
	batch_send(r);
}

static void
on_persister(struct reg *r, Prs__Envelope *env)
{
	r->pst_last_heard = prs_mono_ms();
	if (r->load_id == 0)
		r->load_id = r->epoch;
	if (env->epoch != r->pst_epoch) {
		prs_info("persister %s (epoch %llx)",
			 r->pst_epoch ? "restarted" : "connected",
			 (unsigned long long) env->epoch);
		r->pst_epoch = env->epoch;
		r->pst_next_seq = 0;
		reg_history_fail_sent(r);
		if (r->inflight != NULL)
			batch_send(r);
		if (!r->ready) {
			r->loading = false;
			send_load(r);
		}
	}
	if (r->pst_next_seq != 0 && env->seq != r->pst_next_seq)
		prs_warn("persister: sequence gap");
	/* (A lost BatchAck is repaired by the batch's retry, a lost chunk by
	 * the index check below; nothing else from the persister matters.) */
	r->pst_next_seq = env->seq + 1;

	switch (env->body_case) {
	case PRS__ENVELOPE__BODY_ACK:
		if (r->inflight == NULL ||
		    env->ack->batch != r->inflight->batch)
			break;
		if (!env->ack->ok) {
			prs_warn(
				"persister failed batch %llu: %s (will retry)",
				(unsigned long long) env->ack->batch,
				env->ack->error);
			break;
		}
		batch_free(r->inflight);
		r->inflight = NULL;
		reg_flush_writes(r);
		break;
	case PRS__ENVELOPE__BODY_HISTORY_REPLY:
		reg_history_reply(r, env->history_reply);
		break;
	case PRS__ENVELOPE__BODY_CHUNK: {
		Prs__LoadChunk *c = env->chunk;
		size_t i;
		if (r->ready || c->load_id != r->load_id)
			break;
		if (c->index != r->load_next) {
			/* A chunk was lost: what came is applied again by the
			 * new load (idempotently), the rest comes with it. */
			prs_warn("state load: chunk %u lost (got %u): "
				 "loading again",
				 r->load_next, c->index);
			r->load_id++;
			r->loading = false;
			send_load(r);
			break;
		}
		r->load_next++;
		if (c->error[0] != '\0') {
			prs_warn("state load failed: %s (will retry)",
				 c->error);
			r->loading = false;
			break;
		}
		r->loading = true;
		r->load_sent = prs_mono_ms();
		for (i = 0; i < c->n_rows; i++)
			reg_user_loaded(r, c->rows[i]);
		for (i = 0; i < c->n_members; i++) {
			Prs__MemberOp *m = c->members[i];
			if (prs_id_valid(m->thread_id, strlen(m->thread_id)) &&
			    prs_id_valid(m->user_id, strlen(m->user_id)))
				reg_member_add(r, m->thread_id, m->user_id,
					       false);
		}
		if (c->last) {
			struct reg_gw *gw, *tmp;
			r->ready = true;
			r->ready_at = prs_mono_ms();
			/* Only a restart under live sessions needs the hold.
			 */
			r->hold = r->npending > 0;
			r->resync_deadline =
				prs_mono_ms() + r->cfg.resync_window_ms;
			prs_info("state loaded: %u users, %u threads; serving",
				 HASH_COUNT(r->users), HASH_COUNT(r->threads));
			sd_notify(0, "STATUS=serving");
			HASH_ITER (hh, r->gws, gw, tmp)
				send_resync(r, gw);
		}
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
		on_persister(r, env);
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

/* The hold (see publish) lasts until every gateway that has said Hello
 * has re-announced its sessions, and long enough for every live gateway
 * to have said Hello (they do every 500 ms); at most the resync window. */
static bool
hold_over(struct reg *r, int64_t now)
{
	struct reg_gw *gw, *tmp;

	if (r->resync_deadline == 0 || now >= r->resync_deadline)
		return true;
	if (now - r->ready_at < HOLD_MIN_MS)
		return false;
	HASH_ITER (hh, r->gws, gw, tmp) {
		if (!gw->resync_done)
			return false;
	}
	return true;
}

void
reg_cron(struct reg *r)
{
	int64_t now = prs_mono_ms();
	static int64_t last_hello, last_cron;
	struct reg_gw *gw, *tmp;
	bool pst_alive;

	/* If we ourselves were stalled (SIGSTOP, swapping), the gateways'
	 * silence is ours: their Hellos wait unread in the inbox. Give them
	 * a fresh window instead of declaring every one of them dead. */
	if (last_cron != 0 &&
	    now - last_cron > r->cfg.gateway_timeout_ms / 2) {
		prs_warn("registry loop stalled for %lld ms",
			 (long long) (now - last_cron));
		HASH_ITER (hh, r->gws, gw, tmp)
			gw->last_heard = now;
	}
	last_cron = now;
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
		r->resync_deadline = 0;
		reg_resync_window_end(r);
	}
	/* Resend only to a persister that is alive: NNG would otherwise
	 * queue every retry and deliver them all at once when it returns
	 * (its restart triggers a resend anyway, see on_persister). */
	pst_alive = r->pst_epoch != 0 && now - r->pst_last_heard < 2000;
	if (pst_alive && !r->ready &&
	    (r->loading ? now - r->load_sent >= 10000
			: now - r->load_sent >= LOAD_RETRY_MS))
		send_load(r);
	if (pst_alive && r->inflight != NULL &&
	    now - r->inflight_sent >= r->cfg.batch_retry_ms)
		batch_send(r);
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
	struct reg_memop *op, *tmp;
	struct reg_gw *gw, *gtmp;
	size_t i;

	prs_inbox_close(r->inbox);
	reg_admin_free(r);
	HASH_ITER (hh, r->gws, gw, gtmp) {
		prs_peer_close(gw->peer);
		gw->peer = NULL;
	}
	reg_state_free(r);
	prs_peer_close(r->pst);
	batch_free(r->inflight);
	r->inflight = NULL;
	HASH_ITER (hh, r->memops, op, tmp) {
		HASH_DEL(r->memops, op);
		free(op->key);
		free(op);
	}
	for (i = 0; i < r->nhistory; i++) {
		free(r->history[i]->user_id);
		free(r->history[i]);
	}
	free(r->history);
}

void
reg_config_defaults(struct reg_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->url = "ipc:///run/presence/registry.sock";
	cfg->persister_url = "ipc:///run/presence/persister.sock";
	cfg->name = "registry";
	cfg->audience = "threads";
	cfg->offline_grace_ms = 5000;
	cfg->resync_window_ms = 5000;
	cfg->typing_ttl_ms = 6000;
	cfg->gateway_timeout_ms = 3000;
	cfg->batch_retry_ms = 3000;
	cfg->online_refresh_ms = 30000;
	cfg->write_window_ms = 0; /* off until the race it widens is closed */
	cfg->history = "all";
	cfg->history_mode = REG_HISTORY_ALL;
}
