/*
 * The registry's side of the persister link: the state load at start,
 * and the write path (docs/DESIGN.md, "Durability"): rows of changed
 * users, history rows and membership writes are coalesced, sent as one
 * versioned WriteBatch at a time, and retried until acknowledged after
 * COMMIT.
 */
#include "reg.h"
#include "prs_util.h"

#include <stdlib.h>
#include <string.h>

#define BATCH_ROWS_MAX 2000
#define LOAD_RETRY_MS  1000

void
reg_pst_load(struct reg *r)
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
	for (i = 0; i < b->n_gateways; i++)
		free(b->gateways[i]);
	free(b->rows);
	free(b->history);
	free(b->members);
	free(b->gateways);
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
	if (r->inflight_sent != 0)
		r->n_batch_resends++;
	r->inflight_sent = prs_mono_ms();
}

/* Something is waiting to be written: the write lag starts now unless
 * something older already waits. */
static void
pending_since(struct reg *r)
{
	if (r->dirty_since == 0)
		r->dirty_since = prs_mono_ms();
}

double
reg_write_lag(const struct reg *r, int64_t now)
{
	int64_t oldest = r->dirty_since;

	if (r->inflight_since != 0 &&
	    (oldest == 0 || r->inflight_since < oldest))
		oldest = r->inflight_since;
	return oldest != 0 && now > oldest ? (double) (now - oldest) / 1000.0
					   : 0.0;
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

void
reg_pst_dirty_cb(struct reg *r, struct reg_user *u)
{
	if (u->dirty)
		return;
	pending_since(r);
	u->dirty = true;
	u->dirty_next = r->dirty_head;
	r->dirty_head = u;
	r->ndirty++;
}

void
reg_pst_history_cb(struct reg *r, const char *user, int status, int64_t at)
{
	Prs__HistoryRow *h;

	pending_since(r);
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

void
reg_pst_memop_cb(struct reg *r, const char *thread, const char *user, bool add)
{
	size_t tl = strlen(thread), ul = strlen(user), len = tl + ul + 1;
	char *key = xmalloc(len + 1);
	struct reg_memop *op;

	pending_since(r);
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

/* ---- the gateway roster ------------------------------------------------ */

void
reg_roster_wait_add(struct reg *r, const char *name)
{
	struct reg_gw *gw;
	size_t i;

	r->nroster_loaded++;
	HASH_FIND_STR(r->gws, name, gw);
	if (gw != NULL || r->nroster_wait >= REG_ROSTER_MAX)
		return; /* already heard from this start */
	for (i = 0; i < r->nroster_wait; i++)
		if (strcmp(r->roster_wait[i], name) == 0)
			return;
	r->roster_wait =
		xrealloc(r->roster_wait,
			 (r->nroster_wait + 1) * sizeof(*r->roster_wait));
	r->roster_wait[r->nroster_wait++] = xstrdup(name);
}

bool
reg_roster_heard(struct reg *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nroster_wait; i++) {
		if (strcmp(r->roster_wait[i], name) == 0) {
			free(r->roster_wait[i]);
			r->roster_wait[i] = r->roster_wait[--r->nroster_wait];
			return true; /* stored already */
		}
	}
	r->roster_dirty = true;
	return false;
}

void
reg_roster_give_up(struct reg *r)
{
	size_t i;

	for (i = 0; i < r->nroster_wait; i++)
		free(r->roster_wait[i]);
	free(r->roster_wait);
	if (r->nroster_wait > 0)
		r->roster_dirty = true;
	r->roster_wait = NULL;
	r->nroster_wait = 0;
}

/* The roster to store: the gateways alive now and those still waited
 * for. Only once loaded: before that, it would erase the stored one. */
static void
roster_fill(struct reg *r, Prs__WriteBatch *b)
{
	struct reg_gw *gw, *tmp;
	size_t i;

	b->roster = true;
	b->gateways = xcalloc(HASH_COUNT(r->gws) + r->nroster_wait + 1,
			      sizeof(*b->gateways));
	HASH_ITER (hh, r->gws, gw, tmp)
		b->gateways[b->n_gateways++] = xstrdup(gw->name);
	for (i = 0; i < r->nroster_wait; i++)
		b->gateways[b->n_gateways++] = xstrdup(r->roster_wait[i]);
	r->roster_dirty = false;
}

void
reg_flush_writes(struct reg *r)
{
	Prs__WriteBatch *b;
	struct reg_memop *op, *tmp;
	size_t n = 0;
	struct reg_user *u;
	int64_t now = prs_now_ms(), mono;

	bool roster = r->roster_dirty && r->ready;

	if (r->inflight != NULL || r->pst == NULL ||
	    (r->dirty_head == NULL && r->memops == NULL && r->nhistory == 0 &&
	     !roster))
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
	 * own: the loop wakes at least once per cron period (100 ms). The
	 * roster does not wait either: rows written after a gateway joined
	 * must not reach PostgreSQL before its name does. */
	mono = prs_mono_ms();
	if (r->cfg.write_window_ms > 0 && !r->stopping && r->memops == NULL &&
	    !roster && mono - r->write_last < r->cfg.write_window_ms &&
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
	if (roster)
		roster_fill(r, b);
	b->history = r->history;
	b->n_history = r->nhistory;
	r->history = NULL;
	r->nhistory = r->historycap = 0;
	r->inflight = b;
	r->n_batches++;
	/* the batch carries the oldest waiting change (rows beyond
	 * BATCH_ROWS_MAX stay behind, and are as old at most) */
	r->inflight_since = r->dirty_since != 0 ? r->dirty_since : mono;
	if (r->dirty_head == NULL)
		r->dirty_since = 0;
	r->inflight_sent = 0;
	batch_send(r);
}

void
reg_on_persister(struct reg *r, Prs__Envelope *env)
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
			reg_pst_load(r);
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
			r->n_batches_failed++;
			prs_warn(
				"persister failed batch %llu: %s (will retry)",
				(unsigned long long) env->ack->batch,
				env->ack->error);
			break;
		}
		batch_free(r->inflight);
		r->inflight = NULL;
		r->inflight_since = 0;
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
			reg_pst_load(r);
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
		for (i = 0; i < c->n_gateways; i++)
			if (prs_id_valid(c->gateways[i],
					 strlen(c->gateways[i])))
				reg_roster_wait_add(r, c->gateways[i]);
		for (i = 0; i < c->n_members; i++) {
			Prs__MemberOp *m = c->members[i];
			if (prs_id_valid(m->thread_id, strlen(m->thread_id)) &&
			    prs_id_valid(m->user_id, strlen(m->user_id)))
				reg_member_add(r, m->thread_id, m->user_id,
					       false);
		}
		if (c->last) {
			r->ready = true;
			r->ready_at = prs_mono_ms();
			/* Only a restart under live sessions needs the hold:
			 * users loaded as online, or gateways alive before
			 * (the stored roster), whose sessions may hold users
			 * no batch stored yet (the write window); else views
			 * of them would be repaired to "offline" before those
			 * sessions are re-announced. Not a first start: a
			 * client then learns its views from replies, which a
			 * held change's repair would repeat. */
			r->hold = r->npending > 0 || r->nroster_loaded > 0;
			r->resync_deadline =
				prs_mono_ms() + r->cfg.resync_window_ms;
			prs_info("state loaded: %u users, %u threads; serving",
				 HASH_COUNT(r->users), HASH_COUNT(r->threads));
			reg_link_serving(r);
		}
		break;
	}
	default:
		break;
	}
}

void
reg_pst_cron(struct reg *r, int64_t now)
{
	/* Resend only to a persister that is alive: NNG would otherwise
	 * queue every retry and deliver them all at once when it returns
	 * (its restart triggers a resend anyway, see reg_on_persister). */
	bool alive = r->pst_epoch != 0 && now - r->pst_last_heard < 2000;

	if (alive && !r->ready &&
	    (r->loading ? now - r->load_sent >= 10000
			: now - r->load_sent >= LOAD_RETRY_MS))
		reg_pst_load(r);
	if (alive && r->inflight != NULL &&
	    now - r->inflight_sent >= r->cfg.batch_retry_ms)
		batch_send(r);
}

void
reg_pst_free(struct reg *r)
{
	struct reg_memop *op, *tmp;
	size_t i;

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
	reg_roster_give_up(r);
}
