/*
 * Presence decisions: sessions, the user-level status, grace timers,
 * watches, and the hold after a restart. Who hears each change, thread
 * membership and typing are in reg_audience.c.
 *
 * Every change follows one pattern: take a snapshot of what others and
 * what the user's own sessions see (snap_take), change the state, then
 * publish() compares the two views with the snapshot and emits exactly one
 * event per view that changed. That is how "no duplicate online for a
 * second device" and "no event when nothing visible changed" hold without
 * special cases. Audiences come from indexes (thread members, watchers);
 * a per-pass mark on each session removes duplicates without allocating.
 *
 * Auto-away (v1.1) is part of the view, not of the state: a user who chose
 * online is shown away ("auto") while every live session is idle (during
 * grace: while the last one was). reg_view derives it, so snapshots
 * compare it like any status, and publish emits exactly the events it
 * makes visible: none for a second idle device while another is active,
 * none for a user who chose away, dnd or invisible. The chosen status
 * itself never changes, and is what gets persisted.
 *
 * Nothing here sends or queues by itself: every outcome goes through the
 * r->out callbacks (reg_out.h), which is how the unit tests watch it.
 */
#include "reg.h"
#include "prs_util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#define ST_OFFLINE   PRS__STATUS__ST_OFFLINE
#define ST_ONLINE    PRS__STATUS__ST_ONLINE
#define ST_AWAY      PRS__STATUS__ST_AWAY
#define ST_INVISIBLE PRS__STATUS__ST_INVISIBLE
#define DEVICE_MAX   64

#define TEXT_MAX 256
#define META_MAX 4096

struct snap {
	int ps, os;
	bool po, oo;
	const char *ptext, *otext, *meta;
	bool pa, oa; /* auto-away */
};

static bool
user_live(const struct reg_user *u)
{
	return u->nsessions > 0 || u->in_grace || u->pending;
}

bool
reg_user_online(const struct reg_user *u)
{
	return user_live(u) && u->status != ST_INVISIBLE;
}

/* Auto-away: chose online, and every live session is idle (in grace: the
 * last one was; loaded after a restart and not re-announced yet: as
 * stored, so that the re-announce changes nothing visible). */
static bool
user_auto_away(const struct reg_user *u)
{
	if (u->status != ST_ONLINE)
		return false;
	if (u->nsessions > 0)
		return u->nidle == u->nsessions;
	if (u->in_grace)
		return u->grace_idle;
	return u->pending && u->loaded_auto;
}

void
reg_view(const struct reg_user *u, bool own, int64_t now, Prs__Presence *p)
{
	bool live = user_live(u);
	bool aut = live && user_auto_away(u);
	int shown = aut ? ST_AWAY : u->status;
	int st;
	bool on;

	if (own) {
		st = live ? shown : ST_OFFLINE;
		on = live && u->status != ST_INVISIBLE;
	} else {
		on = live && u->status != ST_INVISIBLE;
		st = on ? shown : ST_OFFLINE;
	}
	prs__presence__init(p);
	p->user_id = u->id;
	p->status = st;
	p->is_online = on;
	p->has_text = st != ST_OFFLINE && u->text != NULL;
	p->text = p->has_text ? u->text : "";
	p->last_seen = on ? now : u->last_seen;
	p->since = own ? u->since_own : u->since_pub;
	p->meta = u->meta ? u->meta : "";
	p->status_at = u->status_at;
	p->auto_away = aut && st != ST_OFFLINE;
}

static void
snap_take(const struct reg_user *u, struct snap *s)
{
	Prs__Presence p;

	reg_view(u, false, 0, &p);
	s->ps = p.status;
	s->po = p.is_online;
	s->ptext = p.has_text ? u->text : NULL;
	s->pa = p.auto_away;
	reg_view(u, true, 0, &p);
	s->os = p.status;
	s->oo = p.is_online;
	s->otext = p.has_text ? u->text : NULL;
	s->oa = p.auto_away;
	s->meta = u->meta;
}

/* meta crosses two process boundaries and lands in a jsonb column: only a
 * JSON object within bounds is kept, anything else is dropped here rather
 * than failing a whole write batch in PostgreSQL. It is kept in one
 * canonical form (compact, sorted keys) because PostgreSQL hands jsonb
 * back re-spaced and re-ordered: comparing raw text after a reload would
 * see a change where there is none. Returns an allocated string or NULL. */
static char *
meta_canon(const char *meta)
{
	size_t len = strlen(meta);
	json_t *j;
	char *out = NULL;

	if (len == 0 || len > META_MAX)
		return NULL;
	j = json_loadb(meta, len, JSON_REJECT_DUPLICATES, NULL);
	if (j != NULL && json_is_object(j))
		out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (out != NULL && strlen(out) > META_MAX) {
		free(out);
		out = NULL;
	}
	return out;
}

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
snap_pub_differs(const struct snap *b, const struct snap *a)
{
	return b->ps != a->ps || b->po != a->po || b->pa != a->pa ||
	       !str_eq(b->ptext, a->ptext) || !str_eq(b->meta, a->meta);
}

static bool
snap_own_differs(const struct snap *b, const struct snap *a)
{
	return b->os != a->os || b->oo != a->oo || b->oa != a->oa ||
	       !str_eq(b->otext, a->otext) || !str_eq(b->meta, a->meta);
}

static char *
xstrdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* During the hold the first snapshot of each changed user is kept, so
 * that its release emits one event per view that really changed (and the
 * own view again when a session was told of an intermediate one). */
static void
hold_add(struct reg *r, struct reg_user *u, const struct snap *b)
{
	struct reg_held *h;

	PRS_ASSERT(r->hold);
	if (u->held != NULL)
		return;
	h = xcalloc(1, sizeof(*h));
	h->ps = b->ps;
	h->os = b->os;
	h->po = b->po;
	h->oo = b->oo;
	h->ptext = xstrdup_or_null(b->ptext);
	h->otext = xstrdup_or_null(b->otext);
	h->meta = xstrdup_or_null(b->meta);
	h->pa = b->pa;
	h->oa = b->oa;
	u->held = h;
	u->held_next = r->held_head;
	r->held_head = u;
}

static void
held_free(struct reg_user *u)
{
	struct reg_held *h = u->held;

	if (h == NULL)
		return;
	free(h->ptext);
	free(h->otext);
	free(h->meta);
	free(h);
	u->held = NULL;
}

void
reg_hold_release(struct reg *r)
{
	struct reg_user *u, *next, *tmp;
	int64_t now = prs_now_ms();
	size_t n = 0;

	r->hold = false;
	/* What changed during the hold is compared with what was loaded, not
	 * with what each gateway last showed: a gateway drops the ones its
	 * clients already see (repair events). */
	r->repair = true;
	for (u = r->held_head; u != NULL; u = next) {
		struct reg_held *h = u->held;
		struct snap b, a;

		PRS_ASSERT(h != NULL);
		b = (struct snap){h->ps,    h->os,   h->po, h->oo, h->ptext,
				  h->otext, h->meta, h->pa, h->oa};
		next = u->held_next;
		u->held_next = NULL;
		snap_take(u, &a);
		if (snap_pub_differs(&b, &a)) {
			r->online_changed = b.po != a.po;
			reg_emit_others(r, u, now);
			n++;
		}
		if (snap_own_differs(&b, &a) || h->own_told) {
			r->online_changed = b.oo != a.oo;
			reg_emit_own(r, u, NULL, now);
		}
		r->online_changed = false;
		held_free(u);
	}
	r->held_head = NULL;
	r->repair = false;
	/* Once per restart: every held user was on the list. */
	HASH_ITER (hh, r->users, u, tmp)
		PRS_ASSERT(u->held == NULL);
	prs_info("gateways re-announced: %zu held changes published", n);
}

void
reg_gw_vcheck_free(struct reg_gw *gw)
{
	size_t i;

	for (i = 0; i < gw->nvcheck; i++)
		free(gw->vcheck[i]);
	free(gw->vcheck);
	gw->vcheck = NULL;
	gw->nvcheck = gw->capvcheck = 0;
}

void
reg_view_repair(struct reg *r, struct reg_gw *gw, const char *id)
{
	struct reg_user *u;
	int64_t now = prs_now_ms();

	if (!prs_id_valid(id, strlen(id)))
		return;
	u = reg_user_get(r, id);
	/* Loaded as online and not re-announced (yet): not a truth to show;
	 * the end of the resync window settles it with a repair event. */
	if (u->pending)
		return;
	r->only_gw = gw;
	r->repair = true;
	reg_emit_others(r, u, now);
	reg_emit_own(r, u, NULL, now);
	r->only_gw = NULL;
	r->repair = false;
}

/* The `history` key: a presence_events row for a change of the status the
 * user's own sessions see from `before` to `after`? transitions keeps the
 * rows that begin or end a stretch online: to or from offline. */
static bool
history_wanted(const struct reg *r, int before, int after)
{
	switch (r->cfg.history_mode) {
	case REG_HISTORY_OFF:
		return false;
	case REG_HISTORY_TRANSITIONS:
		return (before == ST_OFFLINE) != (after == ST_OFFLINE);
	default:
		return true;
	}
}

int
reg_history_parse(const char *s)
{
	if (strcmp(s, "all") == 0)
		return REG_HISTORY_ALL;
	if (strcmp(s, "transitions") == 0)
		return REG_HISTORY_TRANSITIONS;
	if (strcmp(s, "off") == 0)
		return REG_HISTORY_OFF;
	return -1;
}

/* Compares u with the snapshot taken before a change and emits what
 * changed. at: when the user stopped being online, if they did (0: now).
 * While the registry holds events (right after a restart, until gateways
 * have re-announced their sessions) the state changes as usual but the
 * events wait for reg_hold_release: a watcher not re-announced yet would
 * miss them, and a user re-announced after a flicker shows none. */
static void
publish(struct reg *r, struct reg_user *u, const struct snap *b,
	struct reg_session *origin, int64_t at)
{
	struct snap a;
	bool pub, own;
	int64_t now;

	PRS_ASSERT(u->nsessions >= 0 &&
		   (u->nsessions == 0) == (u->sessions == NULL));
	PRS_ASSERT(!u->in_grace || u->nsessions == 0); /* grace: no session */
	snap_take(u, &a);
	pub = snap_pub_differs(b, &a);
	own = snap_own_differs(b, &a);
	if (!pub && !own)
		return;
	now = prs_now_ms();
	if (a.po)
		u->last_seen = now;
	else if (b->po)
		u->last_seen = at ? at : now;
	if (b->ps != a.ps)
		u->since_pub = now;
	if (b->os != a.os)
		u->since_own = now;
	r->out->dirty_cb(r, u);
	if (b->os != a.os && history_wanted(r, b->os, a.os))
		r->out->history_cb(r, u->id, a.os, now);
	if (r->hold) {
		hold_add(r, u, b);
		/* The origin learns of its change from its reply, at once;
		 * the other sessions must then hear how it ends even if the
		 * user ends the hold as it began. */
		if (own && origin != NULL)
			u->held->own_told = true;
		return;
	}
	if (pub) {
		r->online_changed = b->po != a.po;
		reg_emit_others(r, u, now);
	}
	if (own) {
		r->online_changed = b->oo != a.oo;
		reg_emit_own(r, u, origin, now);
	}
	r->online_changed = false;
}

struct reg_user *
reg_user_find(struct reg *r, const char *id, size_t len)
{
	struct reg_user *u;
	HASH_FIND(hh, r->users, id, len, u);
	return u;
}

struct reg_user *
reg_user_get(struct reg *r, const char *id)
{
	size_t len = strlen(id);
	struct reg_user *u = reg_user_find(r, id, len);

	if (u != NULL)
		return u;
	u = xcalloc(1, sizeof(*u));
	u->id = xstrndup(id, len);
	u->status = ST_ONLINE;
	u->since_pub = u->since_own = prs_now_ms();
	HASH_ADD_KEYPTR(hh, r->users, u->id, len, u);
	return u;
}

static void
grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct reg_user *u = container_of(w, struct reg_user, grace);
	struct reg *r = w->data;
	struct snap b;

	PRS_ASSERT(u->in_grace && u->nsessions == 0 && u->sessions == NULL);
	snap_take(u, &b);
	u->in_grace = false;
	publish(r, u, &b, NULL, u->grace_last_seen);
}

static void
grace_stop(struct reg *r, struct reg_user *u)
{
	if (u->in_grace) {
		ev_timer_stop(r->loop, &u->grace);
		u->in_grace = false;
	}
}

struct reg_session *
reg_session_find(struct reg_gw *gw, uint64_t sid)
{
	struct reg_session *s;
	HASH_FIND(hh, gw->sessions, &sid, sizeof(sid), s);
	return s;
}

/* Makes s watch exactly what info lists: the gateway's record is what
 * the client asked for, and a watch or unwatch lost on the way is
 * repaired by the next re-announce. */
static void
session_watches_sync(struct reg *r, struct reg_session *s,
		     const Prs__SessionInfo *info)
{
	uint64_t mark = ++r->mark;
	struct reg_watch *w, *wtmp;
	size_t i;

	for (i = 0; i < info->n_watches; i++) {
		const char *id = info->watches[i];
		struct reg_user *u;
		if (!prs_id_valid(id, strlen(id)))
			continue;
		u = reg_user_get(r, id);
		if (reg_watch_add(r, s, u) < 0)
			break;
		u->mark = mark;
	}
	HASH_ITER (hh, s->watches, w, wtmp) {
		if (w->u->mark != mark)
			reg_watch_del(r, s, w->u);
	}
}

static char *
text_valid_dup(bool has_text, const char *text)
{
	if (!has_text || strlen(text) > TEXT_MAX ||
	    !prs_utf8_valid(text, strlen(text)))
		return NULL;
	return xstrdup(text);
}

/* Observers: what a gateway announces as an all-users session without a
 * user id. A client that is connected but nobody yet (a Socket.IO
 * connection before userOnline, docs/MIGRATING.md: seed 001 broadcasts to
 * every connected client) still hears every user's changes; the gateway keeps
 * one such session for all of them. It is nobody's presence: in no
 * user's list, never published, never persisted. Its user is this
 * placeholder, so that code reaching a session's user needs no case of
 * its own. */
static struct reg_user observer_user = {.id = (char *) ""};

static void
observer_open(struct reg *r, struct reg_gw *gw, struct reg_session *s,
	      const Prs__SessionInfo *info)
{
	if (s != NULL && s->observer) {
		s->stale = false; /* re-announced */
		return;
	}
	if (s != NULL)
		reg_session_close(r, s, false);
	s = xcalloc(1, sizeof(*s));
	s->sid = info->sid;
	s->gw = gw;
	s->user = &observer_user;
	s->observer = true;
	s->since = info->since > 0 ? info->since : prs_now_ms();
	HASH_ADD(hh, gw->sessions, sid, sizeof(s->sid), s);
	reg_watch_all(r, s, true);
}

/* Takes s out of every watch list, the all-users list and its gateway's
 * table (the user's list is the caller's). */
static void
session_unlink(struct reg *r, struct reg_session *s)
{
	struct reg_watch *w, *wtmp;

	HASH_ITER (hh, s->watches, w, wtmp) {
		HASH_DEL(s->watches, w);
		DL_DELETE2(w->u->watchers, w, uprev, unext);
		free(w);
		r->nwatches--;
	}
	reg_watch_all(r, s, false);
	HASH_DEL(s->gw->sessions, s);
}

static void
observer_close(struct reg *r, struct reg_session *s)
{
	session_unlink(r, s);
	free(s->device);
	free(s);
}

void
reg_session_open(struct reg *r, struct reg_gw *gw,
		 const Prs__SessionInfo *info, bool resync)
{
	struct reg_session *s = reg_session_find(gw, info->sid);
	struct reg_user *u;
	struct snap b;
	char *old_text = NULL, *old_meta = NULL, *meta;
	bool was_live, set_text = false, set_meta = false;
	int64_t chosen_at;
	size_t idlen = strlen(info->user_id);

	if (idlen == 0 && info->all_users) {
		observer_open(r, gw, s, info);
		return;
	}
	if (!prs_id_valid(info->user_id, idlen)) {
		prs_warn("%s: session %llu with a bad user id dropped",
			 gw->name, (unsigned long long) info->sid);
		return;
	}
	if (s != NULL) {
		if (strcmp(s->user->id, info->user_id) == 0) {
			int st = info->status;
			s->stale = false; /* re-announced */
			session_watches_sync(r, s, info);
			reg_watch_all(r, s, info->all_users);
			/* A status chosen after the one we hold: its SetStatus
			 * was lost on the way. */
			if (info->status_set &&
			    info->status_at > s->user->status_at &&
			    st >= ST_ONLINE && st <= ST_INVISIBLE)
				reg_status_set(r, s, st,
					       info->has_text ? info->text
							      : NULL,
					       info->status_at);
			/* unless an Activity was lost on the way */
			reg_session_idle(r, s, info->idle);
			return;
		}
		reg_session_close(r, s, false);
	}
	u = reg_user_get(r, info->user_id);
	/* When the status this session brings was chosen: a sender that
	 * does not stamp a choice means now; a session that brings no choice
	 * (status_set false: the default online of a hello without status)
	 * holds none, so any real choice re-announced after it still wins. */
	chosen_at = info->status_at > 0 ? info->status_at
		    : info->status_set  ? prs_now_ms()
					: 0;
	snap_take(u, &b);
	was_live = user_live(u);
	grace_stop(r, u);
	/* A hello's status_set means the client chose a status; in a resync
	 * it means the session holds the user's latest known status (the
	 * gateway follows it across devices), newer than what was loaded. */
	/* ... unless another session holds a newer choice (status_at). */
	if (!was_live || (info->status_set && chosen_at >= u->status_at)) {
		int st = info->status;
		u->status =
			st >= ST_ONLINE && st <= ST_INVISIBLE ? st : ST_ONLINE;
		u->status_at = chosen_at;
		old_text = u->text;
		set_text = true;
		u->text = text_valid_dup(info->has_text, info->text);
	}
	/* meta is the object from the most recent hello (null if it had
	 * none); a re-announce is not a new hello and only fills a gap. */
	meta = meta_canon(info->meta);
	if (meta != NULL ? !str_eq(meta, u->meta)
			 : !resync && u->meta != NULL) {
		old_meta = u->meta;
		set_meta = true;
		u->meta = meta;
		meta = NULL;
	}
	free(meta);
	u->pending = false;

	s = xcalloc(1, sizeof(*s));
	s->sid = info->sid;
	s->gw = gw;
	s->user = u;
	s->idle = info->idle; /* false from a hello: new sessions are active */
	s->since = info->since > 0 ? info->since : prs_now_ms();
	if (info->device[0] != '\0' && strlen(info->device) <= DEVICE_MAX &&
	    prs_utf8_valid(info->device, strlen(info->device)))
		s->device = xstrdup(info->device);
	u->nidle += s->idle;
	HASH_ADD(hh, gw->sessions, sid, sizeof(s->sid), s);
	DL_APPEND2(u->sessions, s, uprev, unext);
	if (u->nsessions++ == 0)
		r->nusers_online++;
	PRS_ASSERT(!u->in_grace);
	session_watches_sync(r, s, info);
	reg_watch_all(r, s, info->all_users);

	publish(r, u, &b, s, 0);
	if (set_text)
		free(old_text);
	if (set_meta)
		free(old_meta);
}

void
reg_session_close(struct reg *r, struct reg_session *s, bool clean)
{
	struct reg_user *u = s->user;
	struct snap b;
	int64_t now = prs_now_ms();

	if (s->observer) {
		observer_close(r, s);
		return;
	}
	PRS_ASSERT(u != NULL && s->gw != NULL && u->nsessions > 0);
	snap_take(u, &b);
	session_unlink(r, s);
	DL_DELETE2(u->sessions, s, uprev, unext);
	u->nsessions--;
	u->nidle -= s->idle;
	if (u->nsessions == 0) {
		u->grace_idle = s->idle;
		PRS_ASSERT(r->nusers_online > 0);
		r->nusers_online--;
	}
	free(s->device);
	free(s);
	PRS_ASSERT(u->nsessions >= 0);
	if (u->nsessions == 0 && !u->pending) {
		if (!clean && r->cfg.offline_grace_ms > 0) {
			PRS_ASSERT(!u->in_grace && u->sessions == NULL);
			u->in_grace = true;
			u->grace_last_seen = now;
			ev_timer_init(
				&u->grace, grace_cb,
				(double) r->cfg.offline_grace_ms / 1000.0, 0.);
			u->grace.data = r;
			ev_timer_start(r->loop, &u->grace);
		} else {
			grace_stop(r, u);
		}
	}
	publish(r, u, &b, NULL, now);
}

void
reg_status_set(struct reg *r, struct reg_session *s, int status,
	       const char *text, int64_t at)
{
	struct reg_user *u = s->user;
	char *old = u->text;
	struct snap b;

	if (status < ST_ONLINE || status > ST_INVISIBLE || s->observer)
		return;
	/* The latest choice wins, whichever device's message comes last. */
	if (at > 0 && at < u->status_at)
		return;
	if (text != NULL &&
	    (strlen(text) > TEXT_MAX || !prs_utf8_valid(text, strlen(text))))
		return;
	snap_take(u, &b);
	u->status = status;
	u->status_at = at > 0 ? at : prs_now_ms();
	u->text = text ? xstrdup(text) : NULL;
	publish(r, u, &b, s, 0);
	free(old);
}

void
reg_session_idle(struct reg *r, struct reg_session *s, bool idle)
{
	struct reg_user *u = s->user;
	struct snap b;

	if (s->idle == idle || s->observer)
		return;
	snap_take(u, &b);
	s->idle = idle;
	u->nidle += idle ? 1 : -1;
	/* No origin: the derived status is news to this session too. */
	publish(r, u, &b, NULL, 0);
}

void
reg_user_grace_end(struct reg *r, struct reg_user *u)
{
	struct snap b;

	if (!u->in_grace || u->nsessions > 0)
		return;
	snap_take(u, &b);
	grace_stop(r, u);
	publish(r, u, &b, NULL, u->grace_last_seen);
}

/* When a user persisted as online, whom no gateway re-announced, was last
 * known to be online. The stored last_seen is refreshed every
 * online_refresh_ms while the user is online, so the user was online at
 * that time and left at most one refresh period later, and no later than
 * this registry's start (a user still connected then would have been
 * re-announced). */
static int64_t
pending_last_seen(const struct reg *r, const struct reg_user *u)
{
	int64_t est;

	if (u->last_seen <= 0 || r->cfg.online_refresh_ms <= 0)
		return r->started_ms;
	est = u->last_seen + r->cfg.online_refresh_ms;
	return est < r->started_ms ? est : r->started_ms;
}

void
reg_resync_window_end(struct reg *r)
{
	struct reg_user *u, *tmp;
	int n = 0;

	/* Compared with what was loaded, not with what gateways showed: a
	 * user who left while the registry was down is news to watchers, one
	 * who left before its last state reached PostgreSQL is not. */
	r->repair = true;
	HASH_ITER (hh, r->users, u, tmp) {
		struct snap b;
		if (!u->pending)
			continue;
		snap_take(u, &b);
		u->pending = false;
		publish(r, u, &b, NULL, pending_last_seen(r, u));
		n++;
	}
	r->repair = false;
	prs_info("resync window closed: %d users without a live session "
		 "went offline",
		 n);
}

void
reg_online_refresh(struct reg *r)
{
	struct reg_user *u, *tmp;
	int64_t now = prs_now_ms();
	size_t n = 0;

	/* Only users others see online with a session: an invisible user's
	 * last_seen must not move, and one in grace or pending keeps the time
	 * it was last known online. */
	HASH_ITER (hh, r->users, u, tmp) {
		if (u->nsessions == 0 || !reg_user_online(u))
			continue;
		u->last_seen = now;
		r->out->dirty_cb(r, u);
		n++;
	}
	prs_debug("online refresh: %zu users", n);
}

void
reg_user_loaded(struct reg *r, const Prs__PresenceRow *row)
{
	const Prs__Presence *p = row->p;
	struct reg_user *u;

	if (p == NULL || !prs_id_valid(p->user_id, strlen(p->user_id)))
		return;
	u = reg_user_get(r, p->user_id);
	if (user_live(u) && !u->pending)
		return; /* a session arrived first: it is newer */
	if (p->status >= ST_ONLINE && p->status <= ST_INVISIBLE) {
		u->status = p->status;
		u->pending = true;
		r->npending++;
	} else {
		u->status = ST_ONLINE;
		u->pending = false;
	}
	free(u->text);
	u->text = p->has_text && strlen(p->text) <= TEXT_MAX ? xstrdup(p->text)
							     : NULL;
	free(u->meta);
	u->meta = meta_canon(p->meta);
	u->last_seen = p->last_seen > 0 ? p->last_seen : 0;
	u->since_pub = u->since_own = p->since;
	u->loaded_auto = u->pending && p->auto_away;
	if (row->version > r->version)
		r->version = row->version;
}

void
reg_state_free(struct reg *r)
{
	struct reg_gw *gw, *gtmp;
	struct reg_session *s, *stmp;
	struct reg_watch *w, *wtmp;
	struct reg_thread *t, *ttmp;
	struct reg_member *m, *mtmp;
	struct reg_user *u, *utmp;
	struct reg_typing *e, *etmp;

	HASH_ITER (hh, r->gws, gw, gtmp) {
		HASH_ITER (hh, gw->sessions, s, stmp) {
			HASH_ITER (hh, s->watches, w, wtmp) {
				HASH_DEL(s->watches, w);
				free(w);
			}
			reg_watch_all(r, s, false);
			HASH_DEL(gw->sessions, s);
			free(s->device);
			free(s);
		}
		PRS_ASSERT(gw->peer == NULL); /* the link closed it */
		HASH_DEL(r->gws, gw);
		reg_gw_vcheck_free(gw);
		free(gw->tgt);
		free(gw->name);
		free(gw->address);
		free(gw);
	}
	HASH_ITER (hh, r->threads, t, ttmp) {
		HASH_ITER (hh_t, t->members, m, mtmp) {
			HASH_DELETE(hh_t, t->members, m);
			HASH_DELETE(hh_u, m->u->threads, m);
			free(m);
		}
		HASH_DEL(r->threads, t);
		free(t->id);
		free(t);
	}
	HASH_ITER (hh, r->users, u, utmp) {
		if (u->in_grace)
			ev_timer_stop(r->loop, &u->grace);
		held_free(u);
		HASH_DEL(r->users, u);
		free(u->id);
		free(u->text);
		free(u->meta);
		free(u);
	}
	HASH_ITER (hh, r->typing, e, etmp) {
		HASH_DEL(r->typing, e);
		free(e->key);
		free(e);
	}
}
