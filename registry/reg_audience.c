/*
 * Who hears a change (docs/DESIGN.md, "Registry decisions"): the audience
 * pass that gathers target sessions per gateway (thread co-members,
 * watchers, all-users sessions, the user's own devices), thread
 * membership, and typing, which goes to a thread's other members.
 */
#include "reg.h"
#include "prs_util.h"

#include <stdlib.h>
#include <string.h>
#include <utlist.h>

static void
target_add(struct reg_session *s, uint64_t mark)
{
	struct reg_gw *gw = s->gw;

	PRS_ASSERT(gw != NULL && s->user != NULL);
	if (s->mark == mark)
		return;
	s->mark = mark;
	if (gw->ntgt == gw->tgtcap) {
		gw->tgtcap = gw->tgtcap ? gw->tgtcap * 2 : 64;
		gw->tgt = xrealloc(gw->tgt, gw->tgtcap * sizeof(*gw->tgt));
	}
	gw->tgt[gw->ntgt++] = s->sid;
}

/* Marks u's own sessions so that an audience pass skips them. */
static uint64_t
mark_own(struct reg *r, struct reg_user *u)
{
	struct reg_session *s;
	uint64_t mark = ++r->mark;

	DL_FOREACH2 (u->sessions, s, unext)
		s->mark = mark;
	return mark;
}

/* Every session of a user who shares a thread with u (u's excluded). */
static void
targets_comembers(struct reg_user *u, uint64_t mark)
{
	struct reg_member *m, *mtmp, *m2, *m2tmp;
	struct reg_session *s;

	HASH_ITER (hh_u, u->threads, m, mtmp) {
		HASH_ITER (hh_t, m->t->members, m2, m2tmp) {
			if (m2->u == u)
				continue;
			DL_FOREACH2 (m2->u->sessions, s, unext)
				target_add(s, mark);
		}
	}
}

/* Every session of every user with a session that watches u: a watch
 * belongs to the user (PROTOCOL.md §5), so the watcher's other devices,
 * on any gateway, hear too. The user's mark skips a user already taken
 * through another of its watching sessions. */
static void
targets_watchers(struct reg_user *u, uint64_t mark)
{
	struct reg_watch *w;
	struct reg_session *s;

	DL_FOREACH2 (u->watchers, w, unext) {
		struct reg_user *wu = w->s->user;
		if (wu->mark == mark)
			continue;
		wu->mark = mark;
		DL_FOREACH2 (wu->sessions, s, unext)
			target_add(s, mark);
	}
}

static void
send_targets(struct reg *r, const Prs__Presence *p, bool own,
	     const char *thread, const char *user, bool active)
{
	struct reg_gw *gw, *tmp;

	HASH_ITER (hh, r->gws, gw, tmp) {
		if (gw->ntgt == 0)
			continue;
		if (r->only_gw != NULL && gw != r->only_gw) {
			gw->ntgt = 0; /* a view repair for one gateway */
			continue;
		}
		if (p != NULL)
			r->out->event_cb(r, gw, gw->tgt, gw->ntgt, p, own);
		else
			r->out->typing_cb(r, gw, gw->tgt, gw->ntgt, thread,
					  user, active);
		gw->ntgt = 0;
	}
}

void
reg_emit_others(struct reg *r, struct reg_user *u, int64_t now)
{
	Prs__Presence p;
	uint64_t mark = mark_own(r, u);

	reg_view(u, false, now, &p);
	if (strcmp(r->cfg.audience, "all") == 0) {
		struct reg_gw *gw, *tmp;
		struct reg_session *s, *stmp;
		HASH_ITER (hh, r->gws, gw, tmp) {
			HASH_ITER (hh, gw->sessions, s, stmp)
				target_add(s, mark);
		}
	} else {
		size_t i;
		targets_comembers(u, mark);
		targets_watchers(u, mark);
		for (i = 0; i < r->nall; i++)
			target_add(r->all_sessions[i], mark);
	}
	send_targets(r, &p, false, NULL, NULL, false);
}

void
reg_emit_own(struct reg *r, struct reg_user *u, struct reg_session *origin,
	     int64_t now)
{
	Prs__Presence p;
	struct reg_session *s;
	uint64_t mark = ++r->mark;

	reg_view(u, true, now, &p);
	DL_FOREACH2 (u->sessions, s, unext) {
		if (s != origin)
			target_add(s, mark);
	}
	send_targets(r, &p, true, NULL, NULL, false);
}

struct reg_thread *
reg_thread_find(struct reg *r, const char *id)
{
	struct reg_thread *t;
	HASH_FIND_STR(r->threads, id, t);
	return t;
}

bool
reg_is_member(struct reg_thread *t, struct reg_user *u)
{
	struct reg_member *m;
	if (t == NULL || u == NULL)
		return false;
	HASH_FIND(hh_t, t->members, &u, sizeof(u), m);
	return m != NULL;
}

void
reg_member_add(struct reg *r, const char *thread, const char *user,
	       bool persist)
{
	struct reg_thread *t = reg_thread_find(r, thread);
	struct reg_user *u = reg_user_get(r, user);
	struct reg_member *m;

	if (t == NULL) {
		t = xcalloc(1, sizeof(*t));
		t->id = xstrdup(thread);
		HASH_ADD_KEYPTR(hh, r->threads, t->id, strlen(t->id), t);
	}
	if (reg_is_member(t, u))
		return;
	m = xcalloc(1, sizeof(*m));
	m->t = t;
	m->u = u;
	HASH_ADD(hh_t, t->members, u, sizeof(m->u), m);
	HASH_ADD(hh_u, u->threads, t, sizeof(m->t), m);
	r->nmembers++;
	if (persist)
		r->out->memop_cb(r, t->id, u->id, true);
}

void
reg_member_del(struct reg *r, struct reg_thread *t, struct reg_user *u,
	       bool persist)
{
	struct reg_member *m;

	HASH_FIND(hh_t, t->members, &u, sizeof(u), m);
	if (m == NULL)
		return;
	if (persist)
		r->out->memop_cb(r, t->id, u->id, false);
	HASH_DELETE(hh_t, t->members, m);
	HASH_DELETE(hh_u, u->threads, m);
	free(m);
	r->nmembers--;
	if (HASH_CNT(hh_t, t->members) == 0) {
		HASH_DEL(r->threads, t);
		free(t->id);
		free(t);
	}
}

/* Typing entries are keyed "thread\0user" so one table serves. */
static char *
typing_key(const char *thread, const char *user, size_t *len)
{
	size_t tl = strlen(thread), ul = strlen(user);
	char *k = xmalloc(tl + ul + 2);
	memcpy(k, thread, tl + 1);
	memcpy(k + tl + 1, user, ul + 1);
	*len = tl + ul + 1;
	return k;
}

static void
typing_deliver(struct reg *r, struct reg_thread *t, struct reg_user *u,
	       bool active)
{
	struct reg_member *m, *tmp;
	struct reg_session *s;
	uint64_t mark = mark_own(r, u);

	HASH_ITER (hh_t, t->members, m, tmp) {
		if (m->u == u)
			continue;
		DL_FOREACH2 (m->u->sessions, s, unext)
			target_add(s, mark);
	}
	send_targets(r, NULL, false, t->id, u->id, active);
}

void
reg_typing(struct reg *r, struct reg_session *s, const char *thread,
	   bool active)
{
	struct reg_thread *t = reg_thread_find(r, thread);
	struct reg_user *u = s->user;
	struct reg_typing *e;
	size_t len;
	char *key;

	if (!reg_is_member(t, u))
		return; /* from a non-member: not delivered */
	key = typing_key(thread, u->id, &len);
	HASH_FIND(hh, r->typing, key, len, e);
	if (active) {
		if (e != NULL) {
			e->expires = prs_mono_ms() + r->cfg.typing_ttl_ms;
			free(key);
			return;
		}
		e = xcalloc(1, sizeof(*e));
		e->key = key;
		e->keylen = len;
		e->expires = prs_mono_ms() + r->cfg.typing_ttl_ms;
		HASH_ADD_KEYPTR(hh, r->typing, e->key, e->keylen, e);
	} else {
		free(key);
		if (e == NULL)
			return;
		HASH_DEL(r->typing, e);
		free(e->key);
		free(e);
	}
	typing_deliver(r, t, u, active);
}

void
reg_cron_typing(struct reg *r)
{
	struct reg_typing *e, *tmp;
	int64_t now = prs_mono_ms();

	HASH_ITER (hh, r->typing, e, tmp) {
		struct reg_thread *t;
		struct reg_user *u;
		if (e->expires > now)
			continue;
		HASH_DEL(r->typing, e);
		t = reg_thread_find(r, e->key);
		u = reg_user_find(r, e->key + strlen(e->key) + 1,
				  e->keylen - strlen(e->key) - 1);
		if (t != NULL && u != NULL)
			typing_deliver(r, t, u, false);
		free(e->key);
		free(e);
	}
}

/* ---- watches (PROTOCOL.md §5: a watch belongs to the user) -------- */

int
reg_watch_add(struct reg *r, struct reg_session *s, struct reg_user *u)
{
	struct reg_watch *w;

	HASH_FIND(hh, s->watches, &u, sizeof(u), w);
	if (w != NULL)
		return 0;
	if (HASH_COUNT(s->watches) >= REG_MAX_WATCHES)
		return -1;
	w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->u = u;
	HASH_ADD(hh, s->watches, u, sizeof(w->u), w);
	DL_APPEND2(u->watchers, w, uprev, unext);
	r->nwatches++;
	return 0;
}

void
reg_watch_all(struct reg *r, struct reg_session *s, bool on)
{
	if (s->all == on)
		return;
	s->all = on;
	if (on) {
		if (r->nall == r->allcap) {
			r->allcap = r->allcap ? r->allcap * 2 : 64;
			r->all_sessions =
				xrealloc(r->all_sessions,
					 r->allcap * sizeof(*r->all_sessions));
		}
		s->all_idx = r->nall;
		r->all_sessions[r->nall++] = s;
	} else {
		PRS_ASSERT(r->nall > 0 && s->all_idx < r->nall &&
			   r->all_sessions[s->all_idx] == s);
		r->all_sessions[s->all_idx] = r->all_sessions[--r->nall];
		r->all_sessions[s->all_idx]->all_idx = s->all_idx;
		if (r->nall == 0) {
			free(r->all_sessions);
			r->all_sessions = NULL;
			r->allcap = 0;
		}
	}
}

void
reg_watch_del(struct reg *r, struct reg_session *s, struct reg_user *u)
{
	struct reg_watch *w;

	HASH_FIND(hh, s->watches, &u, sizeof(u), w);
	if (w == NULL)
		return;
	HASH_DEL(s->watches, w);
	DL_DELETE2(u->watchers, w, uprev, unext);
	free(w);
	r->nwatches--;
}
