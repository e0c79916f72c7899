/*
 * Unit tests for registry/reg_state.c: the presence rules of PROTOCOL.md §5
 * through the real decisions, with a recording struct reg_out instead of
 * NNG. Gateways are bare struct reg_gw (no peer); grace timers are real
 * libev timers on a private loop, which the tests run after the deadline.
 *
 * Besides the scenarios, a randomized model test plays thousands of
 * operations (sessions opened and closed cleanly or not, statuses,
 * watches, memberships, re-announces, graces running out, holds) on the
 * registry and on a plain reference model (arrays), and checks after each
 * one that every session's picture of every user it hears about (its
 * initial state, then the events it received) is the model's, and that no
 * event went out where the model saw no visible change. The seed is
 * printed; PRS_TEST_SEED and PRS_TEST_OPS override it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "prs_util.h"
#include "reg.h"

#define ST_OFFLINE   PRS__STATUS__ST_OFFLINE
#define ST_ONLINE    PRS__STATUS__ST_ONLINE
#define ST_AWAY      PRS__STATUS__ST_AWAY
#define ST_DND       PRS__STATUS__ST_DND
#define ST_INVISIBLE PRS__STATUS__ST_INVISIBLE

/* ---- the recording output --------------------------------------------- */

struct rec_event {
	struct reg_gw *gw;
	uint64_t *sids;
	size_t n;
	bool own;
	char *user;
	int status;
	bool online;
	char *text; /* NULL: none */
	char *meta; /* NULL: none */
};

struct rec_typing {
	struct reg_gw *gw;
	uint64_t *sids;
	size_t n;
	char *thread, *user;
	bool active;
};

struct rec_history {
	char *user;
	int status;
};

static struct {
	struct rec_event *ev;
	size_t nev, evcap;
	struct rec_typing *ty;
	size_t nty, tycap;
	struct rec_history *hist;
	size_t nhist, histcap;
	size_t ndirty, nmemop;
} REC;

static uint64_t *
sids_dup(const uint64_t *sids, size_t n)
{
	uint64_t *c = xcalloc(n, sizeof(*c));

	memcpy(c, sids, n * sizeof(*c));
	return c;
}

static void
rec_event_cb(struct reg *r, struct reg_gw *gw, const uint64_t *sids, size_t n,
	     const Prs__Presence *p, bool own)
{
	struct rec_event *e;

	assert_true(n > 0);
	if (REC.nev == REC.evcap) {
		REC.evcap = REC.evcap ? REC.evcap * 2 : 16;
		REC.ev = xrealloc(REC.ev, REC.evcap * sizeof(*REC.ev));
	}
	e = &REC.ev[REC.nev++];
	e->gw = gw;
	e->sids = sids_dup(sids, n);
	e->n = n;
	e->own = own;
	e->user = xstrdup(p->user_id);
	e->status = p->status;
	e->online = p->is_online;
	e->text = p->has_text ? xstrdup(p->text) : NULL;
	e->meta = p->meta[0] != '\0' ? xstrdup(p->meta) : NULL;
}

static void
rec_typing_cb(struct reg *r, struct reg_gw *gw, const uint64_t *sids, size_t n,
	      const char *thread, const char *user, bool active)
{
	struct rec_typing *t;

	assert_true(n > 0);
	if (REC.nty == REC.tycap) {
		REC.tycap = REC.tycap ? REC.tycap * 2 : 16;
		REC.ty = xrealloc(REC.ty, REC.tycap * sizeof(*REC.ty));
	}
	t = &REC.ty[REC.nty++];
	t->gw = gw;
	t->sids = sids_dup(sids, n);
	t->n = n;
	t->thread = xstrdup(thread);
	t->user = xstrdup(user);
	t->active = active;
}

static void
rec_dirty_cb(struct reg *r, struct reg_user *u)
{
	REC.ndirty++;
}

static void
rec_history_cb(struct reg *r, const char *user, int status, int64_t at)
{
	if (REC.nhist == REC.histcap) {
		REC.histcap = REC.histcap ? REC.histcap * 2 : 16;
		REC.hist = xrealloc(REC.hist, REC.histcap * sizeof(*REC.hist));
	}
	REC.hist[REC.nhist].user = xstrdup(user);
	REC.hist[REC.nhist].status = status;
	REC.nhist++;
}

static void
rec_memop_cb(struct reg *r, const char *thread, const char *user, bool add)
{
	REC.nmemop++;
}

static const struct reg_out rec_out = {
	.event_cb = rec_event_cb,
	.typing_cb = rec_typing_cb,
	.dirty_cb = rec_dirty_cb,
	.history_cb = rec_history_cb,
	.memop_cb = rec_memop_cb,
};

/* Forgets what was recorded (between steps of a test). */
static void
rec_clear(void)
{
	size_t i;

	for (i = 0; i < REC.nev; i++) {
		free(REC.ev[i].sids);
		free(REC.ev[i].user);
		free(REC.ev[i].text);
		free(REC.ev[i].meta);
	}
	for (i = 0; i < REC.nty; i++) {
		free(REC.ty[i].sids);
		free(REC.ty[i].thread);
		free(REC.ty[i].user);
	}
	for (i = 0; i < REC.nhist; i++)
		free(REC.hist[i].user);
	REC.nev = REC.nty = REC.nhist = REC.ndirty = REC.nmemop = 0;
}

static void
rec_free(void)
{
	rec_clear();
	free(REC.ev);
	free(REC.ty);
	free(REC.hist);
	memset(&REC, 0, sizeof(REC));
}

static bool
sids_has(const uint64_t *sids, size_t n, uint64_t sid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (sids[i] == sid)
			return true;
	return false;
}

/* How many recorded events about user reached session sid of gw. */
static int
rec_count(struct reg_gw *gw, uint64_t sid, const char *user)
{
	size_t i;
	int n = 0;

	for (i = 0; i < REC.nev; i++) {
		struct rec_event *e = &REC.ev[i];
		if (e->gw == gw && strcmp(e->user, user) == 0 &&
		    sids_has(e->sids, e->n, sid))
			n++;
	}
	return n;
}

/* The last recorded event about user that reached sid of gw, or NULL. */
static struct rec_event *
rec_last(struct reg_gw *gw, uint64_t sid, const char *user)
{
	size_t i;
	struct rec_event *last = NULL;

	for (i = 0; i < REC.nev; i++) {
		struct rec_event *e = &REC.ev[i];
		if (e->gw == gw && strcmp(e->user, user) == 0 &&
		    sids_has(e->sids, e->n, sid))
			last = e;
	}
	return last;
}

/* ---- a registry without sockets ---------------------------------------- */

struct fx {
	struct reg r;
	struct reg_gw *gw[3];
	uint64_t next_sid;
};

static struct reg_gw *
fx_gw_add(struct reg *r, const char *name)
{
	struct reg_gw *gw = xcalloc(1, sizeof(*gw));

	gw->name = xstrdup(name);
	gw->address = xstrdup("ipc:///nonexistent/gw.sock");
	gw->epoch = 1;
	gw->peer = NULL; /* events go to the recorder, not to a socket */
	HASH_ADD_KEYPTR(hh, r->gws, gw->name, strlen(gw->name), gw);
	return gw;
}

static struct fx *
fx_new(const char *audience, int64_t grace_ms)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct reg *r = &f->r;

	r->cfg.url = "ipc:///nonexistent/registry.sock";
	r->cfg.persister_url = "ipc:///nonexistent/persister.sock";
	r->cfg.name = "registry";
	r->cfg.audience = (char *) audience;
	r->cfg.offline_grace_ms = grace_ms;
	r->cfg.resync_window_ms = 5000;
	r->cfg.typing_ttl_ms = 6000;
	r->cfg.online_refresh_ms = 30000;
	r->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(r->loop);
	r->out = &rec_out;
	r->epoch = 1;
	r->started_ms = prs_now_ms();
	r->ready = true;
	r->no_peers = true;
	f->gw[0] = fx_gw_add(r, "gw0");
	f->gw[1] = fx_gw_add(r, "gw1");
	f->gw[2] = fx_gw_add(r, "gw2");
	f->next_sid = 100;
	return f;
}

static void
fx_free(struct fx *f)
{
	reg_state_free(&f->r);
	ev_loop_destroy(f->r.loop);
	free(f);
	rec_free();
}

struct hello {
	int status; /* 0: no status in the hello */
	const char *text;
	const char *meta;
	const char **watches;
	size_t nwatches;
	bool all; /* an all-users subscription */
};

/* Opens a session of user on gateway g (a hello); returns its sid. */
static uint64_t
fx_open_h(struct fx *f, int g, const char *user, const struct hello *h)
{
	Prs__SessionInfo info = PRS__SESSION_INFO__INIT;
	uint64_t sid = f->next_sid++;

	info.sid = sid;
	info.user_id = (char *) user;
	if (h != NULL && h->status != 0) {
		info.status_set = true;
		info.status = h->status;
	}
	if (h != NULL && h->text != NULL) {
		info.has_text = true;
		info.text = (char *) h->text;
	}
	if (h != NULL && h->meta != NULL)
		info.meta = (char *) h->meta;
	if (h != NULL) {
		info.watches = (char **) h->watches;
		info.n_watches = h->nwatches;
		info.all_users = h->all;
	}
	reg_session_open(&f->r, f->gw[g], &info, false);
	assert_non_null(reg_session_find(f->gw[g], sid));
	return sid;
}

static uint64_t
fx_open(struct fx *f, int g, const char *user)
{
	return fx_open_h(f, g, user, NULL);
}

static struct reg_session *
fx_sess(struct fx *f, int g, uint64_t sid)
{
	struct reg_session *s = reg_session_find(f->gw[g], sid);

	assert_non_null(s);
	return s;
}

static void
fx_close(struct fx *f, int g, uint64_t sid, bool clean)
{
	reg_session_close(&f->r, fx_sess(f, g, sid), clean);
}

static void
fx_status(struct fx *f, int g, uint64_t sid, int status, const char *text)
{
	reg_status_set(&f->r, fx_sess(f, g, sid), status, text, 0);
}

static void
fx_watch(struct fx *f, int g, uint64_t sid, const char *user)
{
	assert_int_equal(reg_watch_add(&f->r, fx_sess(f, g, sid),
				       reg_user_get(&f->r, user)),
			 0);
}

static bool
fx_any_in_grace(struct fx *f)
{
	struct reg_user *u, *tmp;

	HASH_ITER (hh, f->r.users, u, tmp)
		if (u->in_grace)
			return true;
	return false;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Runs the loop once without waiting: timers that are due fire. */
static void
fx_run(struct fx *f)
{
	ev_run(f->r.loop, EVRUN_NOWAIT);
}

/* Lets every running grace expire: sleeps past the deadlines and runs the
 * loop, a bounded number of times. */
static void
fx_grace_run_out(struct fx *f)
{
	int i;

	for (i = 0; i < 200 && fx_any_in_grace(f); i++) {
		sleep_ms(f->r.cfg.offline_grace_ms + 1);
		fx_run(f);
	}
	assert_false(fx_any_in_grace(f));
}

/* ---- scenarios --------------------------------------------------------- */

/* Users a and b share thread t; b is connected (gw0); returns b's sid. */
static uint64_t
pair(struct fx *f)
{
	reg_member_add(&f->r, "t", "a", true);
	reg_member_add(&f->r, "t", "b", true);
	return fx_open(f, 0, "b");
}

static void
test_one_event_per_visible_change(void **state)
{
	struct fx *f = fx_new("threads", 5000);
	uint64_t b = pair(f), a1, a2;
	struct rec_event *e;

	assert_int_equal(REC.nmemop, 2);
	rec_clear();
	a1 = fx_open(f, 0, "a");
	assert_int_equal(REC.nev, 1);
	e = rec_last(f->gw[0], b, "a");
	assert_non_null(e);
	assert_false(e->own);
	assert_int_equal(e->status, ST_ONLINE);
	assert_true(e->online);
	assert_null(e->text);
	assert_int_equal(REC.nhist, 1);
	assert_int_equal(REC.hist[0].status, ST_ONLINE);

	/* A second device: nothing anyone can see changed. */
	rec_clear();
	a2 = fx_open(f, 1, "a");
	assert_int_equal(REC.nev, 0);
	assert_int_equal(REC.ndirty, 0);
	assert_int_equal(REC.nhist, 0);

	/* The same status again: nothing. */
	fx_status(f, 0, a1, ST_ONLINE, NULL);
	assert_int_equal(REC.nev, 0);

	/* A text change: one event for b, one for a's other device. */
	fx_status(f, 0, a1, ST_ONLINE, "lunch");
	assert_int_equal(rec_count(f->gw[0], b, "a"), 1);
	assert_string_equal(rec_last(f->gw[0], b, "a")->text, "lunch");
	assert_int_equal(rec_count(f->gw[1], a2, "a"), 1);
	assert_true(rec_last(f->gw[1], a2, "a")->own);
	assert_int_equal(rec_count(f->gw[0], a1, "a"), 0); /* the origin */
	assert_int_equal(REC.nev, 2);
	assert_int_equal(REC.nhist, 0); /* the status stayed online */
	assert_int_equal(REC.ndirty, 1);

	/* Out-of-range status or over-long text: refused, nothing. */
	rec_clear();
	fx_status(f, 0, a1, ST_OFFLINE, NULL);
	fx_status(f, 0, a1, 99, NULL);
	assert_int_equal(REC.nev, 0);
	fx_free(f);
}

/* The `history` key: all = a row per change of the own status;
 * transitions = only to or from offline; off = none. Presence rows
 * (dirty) are written whatever the key says. */
static void
test_history_modes(void **state)
{
	static const int modes[] = {REG_HISTORY_ALL, REG_HISTORY_TRANSITIONS,
				    REG_HISTORY_OFF};
	static const size_t want[] = {4, 2, 0};
	size_t i;

	assert_int_equal(reg_history_parse("all"), REG_HISTORY_ALL);
	assert_int_equal(reg_history_parse("transitions"),
			 REG_HISTORY_TRANSITIONS);
	assert_int_equal(reg_history_parse("off"), REG_HISTORY_OFF);
	assert_int_equal(reg_history_parse("some"), -1);
	for (i = 0; i < PRS_ARRAY_LEN(modes); i++) {
		struct fx *f = fx_new("threads", 5000);
		uint64_t a;

		f->r.cfg.history_mode = modes[i];
		rec_clear();
		a = fx_open(f, 0, "a");                /* offline -> online */
		fx_status(f, 0, a, ST_AWAY, NULL);     /* online -> away */
		fx_status(f, 0, a, ST_ONLINE, "back"); /* away -> online */
		fx_close(f, 0, a, true);               /* online -> offline */
		assert_int_equal(REC.nhist, want[i]);
		if (modes[i] == REG_HISTORY_TRANSITIONS) {
			assert_int_equal(REC.hist[0].status, ST_ONLINE);
			assert_int_equal(REC.hist[1].status, ST_OFFLINE);
		}
		assert_true(REC.ndirty >= 4);
		fx_free(f);
	}
}

static void
test_grace(void **state)
{
	struct fx *f = fx_new("threads", 60);
	uint64_t b = pair(f), a;
	int64_t t0;

	a = fx_open(f, 0, "a");
	rec_clear();

	/* Unclean close: still online until the grace ends. */
	t0 = prs_mono_ms();
	fx_close(f, 0, a, false);
	fx_run(f);
	assert_int_equal(REC.nev, 0);
	fx_grace_run_out(f);
	assert_true(prs_mono_ms() - t0 >= 60);
	assert_int_equal(REC.nev, 1);
	assert_int_equal(rec_last(f->gw[0], b, "a")->status, ST_OFFLINE);
	assert_false(rec_last(f->gw[0], b, "a")->online);
	assert_int_equal(REC.nhist, 1);
	assert_int_equal(REC.hist[0].status, ST_OFFLINE);

	/* Reconnect within the grace (another gateway): no event at all,
	 * and the grace timer is gone. */
	a = fx_open(f, 0, "a");
	fx_status(f, 0, a, ST_AWAY, "brb");
	rec_clear();
	fx_close(f, 0, a, false);
	a = fx_open(f, 1, "a");
	sleep_ms(90);
	fx_run(f);
	assert_int_equal(REC.nev, 0);
	assert_int_equal(REC.ndirty, 0);
	/* The status survived the reconnect: it is the user's. */
	fx_close(f, 1, a, true);
	assert_int_equal(REC.nev, 1);
	assert_int_equal(rec_last(f->gw[0], b, "a")->status, ST_OFFLINE);

	/* Clean close (bye): offline at once, no timer left behind. */
	a = fx_open(f, 2, "a");
	rec_clear();
	fx_close(f, 2, a, true);
	assert_int_equal(REC.nev, 1);
	assert_int_equal(rec_last(f->gw[0], b, "a")->status, ST_OFFLINE);
	assert_false(fx_any_in_grace(f));
	rec_clear();
	sleep_ms(90);
	fx_run(f);
	assert_int_equal(REC.nev, 0);
	fx_free(f);
}

static void
test_multi_device(void **state)
{
	struct fx *f = fx_new("threads", 5000);
	uint64_t b = pair(f), a1, a2, a3, a4;
	struct hello dnd = {.status = ST_DND, .text = "meeting"};
	size_t i;

	a1 = fx_open(f, 0, "a");
	a2 = fx_open(f, 1, "a");
	a3 = fx_open(f, 0, "a");
	rec_clear();

	/* A status chosen on a1 is the user's: a2, a3 are told, a1 is not;
	 * one event per gateway (gw0: b, then a3 own; gw1: a2 own). */
	fx_status(f, 0, a1, ST_AWAY, "brb");
	assert_int_equal(REC.nev, 3);
	for (i = 0; i < REC.nev; i++)
		assert_int_equal(REC.ev[i].status, ST_AWAY);
	assert_int_equal(rec_count(f->gw[0], a1, "a"), 0);
	assert_true(rec_last(f->gw[1], a2, "a")->own);
	assert_true(rec_last(f->gw[0], a3, "a")->own);
	assert_false(rec_last(f->gw[0], b, "a")->own);
	assert_string_equal(rec_last(f->gw[1], a2, "a")->text, "brb");

	/* A hello with a status makes it the user's on every device. */
	rec_clear();
	a4 = fx_open_h(f, 2, "a", &dnd);
	assert_int_equal(rec_last(f->gw[0], b, "a")->status, ST_DND);
	assert_string_equal(rec_last(f->gw[0], b, "a")->text, "meeting");
	assert_int_equal(rec_count(f->gw[0], a1, "a"), 1);
	assert_int_equal(rec_count(f->gw[1], a2, "a"), 1);
	assert_int_equal(rec_count(f->gw[0], a3, "a"), 1);
	assert_int_equal(rec_count(f->gw[2], a4, "a"), 0); /* the origin */

	/* A hello without a status keeps the user's. */
	rec_clear();
	fx_open(f, 2, "a");
	assert_int_equal(REC.nev, 0);
	fx_free(f);
}

/* Loss repair: a re-announce carries what the gateway recorded. A status
 * chosen after the registry's (its SetStatus lost on the way) is applied
 * with one event; an older one (a record that missed a newer choice made
 * on another device) is not; the watch set becomes exactly the announced
 * one (an unwatch lost on the way). */
static void
test_reannounce_repairs_losses(void **state)
{
	struct fx *f = fx_new("threads", 5000);
	uint64_t b = pair(f), a1, a2;
	Prs__SessionInfo info = PRS__SESSION_INFO__INIT;
	char *none[1] = {NULL};
	struct reg_user *a;
	int64_t t0;

	a1 = fx_open(f, 0, "a");
	a2 = fx_open(f, 1, "a");
	fx_watch(f, 1, a2, "c");
	a = reg_user_find(&f->r, "a", 1);
	t0 = a->status_at;
	rec_clear();

	info.sid = a1;
	info.user_id = "a";
	info.status_set = true;
	info.status = ST_DND;
	info.has_text = true;
	info.text = "lost";
	info.status_at = t0 + 10; /* newer: applied */
	reg_session_open(&f->r, f->gw[0], &info, true);
	assert_int_equal(rec_last(f->gw[0], b, "a")->status, ST_DND);
	assert_int_equal(rec_count(f->gw[0], b, "a"), 1);
	assert_int_equal(rec_count(f->gw[1], a2, "a"), 1);

	rec_clear();
	info.sid = a2;
	info.status = PRS__STATUS__ST_AWAY;
	info.text = "old";
	info.status_at = t0 + 5; /* older than the dnd: ignored */
	info.watches = none;
	info.n_watches = 0;
	reg_session_open(&f->r, f->gw[1], &info, true);
	assert_int_equal(REC.nev, 0);
	assert_int_equal(a->status, ST_DND);
	assert_int_equal(a->status_at, t0 + 10);
	/* a2 no longer watches c */
	assert_null(reg_user_find(&f->r, "c", 1)->watchers);
	fx_free(f);
}

/* After a registry restart the user's sessions are re-announced one by
 * one. A session that never chose a status (its hello had none) and comes
 * first must not outrank the status another session chose earlier: the
 * fault run found a user shown "online" without the text it had chosen. */
static void
test_reannounce_choice_beats_no_choice(void **state)
{
	struct fx *f = fx_new("threads", 5000);
	Prs__SessionInfo plain = PRS__SESSION_INFO__INIT;
	Prs__SessionInfo chose = PRS__SESSION_INFO__INIT;
	struct reg_user *a;

	(void) pair(f);
	plain.sid = 900;
	plain.user_id = "a";
	plain.status = PRS__STATUS__ST_ONLINE;
	reg_session_open(&f->r, f->gw[1], &plain, true);
	chose.sid = 901;
	chose.user_id = "a";
	chose.status_set = true;
	chose.status = PRS__STATUS__ST_ONLINE;
	chose.has_text = true;
	chose.text = "here";
	chose.status_at = 1000; /* long ago, but a choice */
	reg_session_open(&f->r, f->gw[0], &chose, true);
	a = reg_user_find(&f->r, "a", 1);
	assert_non_null(a->text);
	assert_string_equal(a->text, "here");
	assert_int_equal(a->status_at, 1000);
	fx_free(f);
}

static void
test_invisible(void **state)
{
	struct fx *f = fx_new("threads", 30);
	uint64_t b = pair(f), a1, a2;
	struct hello inv = {.status = ST_INVISIBLE};
	struct rec_event *e;

	a1 = fx_open(f, 0, "a");
	a2 = fx_open(f, 1, "a");
	rec_clear();
	fx_status(f, 0, a1, ST_INVISIBLE, "hidden");
	e = rec_last(f->gw[0], b, "a");
	assert_int_equal(e->status, ST_OFFLINE);
	assert_false(e->online);
	assert_null(e->text);
	e = rec_last(f->gw[1], a2, "a");
	assert_true(e->own);
	assert_int_equal(e->status, ST_INVISIBLE);
	assert_false(e->online);
	assert_string_equal(e->text, "hidden");
	assert_false(reg_user_online(reg_user_get(&f->r, "a")));

	/* Devices coming and going while invisible, the last one through
	 * the grace: others see nothing, the own view goes offline. */
	rec_clear();
	fx_close(f, 1, a2, false);
	a2 = fx_open(f, 2, "a"); /* no status in the hello: still invisible */
	fx_close(f, 0, a1, true);
	fx_close(f, 2, a2, false);
	fx_grace_run_out(f);
	assert_int_equal(REC.nev, 0);
	assert_int_equal(REC.nhist, 1);
	assert_int_equal(REC.hist[0].status, ST_OFFLINE);
	a1 = fx_open_h(f, 0, "a", &inv);
	assert_int_equal(rec_count(f->gw[0], b, "a"), 0);

	/* Visible again. */
	fx_status(f, 0, a1, ST_ONLINE, NULL);
	e = rec_last(f->gw[0], b, "a");
	assert_int_equal(e->status, ST_ONLINE);
	assert_true(e->online);
	fx_free(f);
}

static void
test_audience_grouped_per_gateway(void **state)
{
	struct fx *f = fx_new("threads", 5000);
	uint64_t b1, b2, c1, c2, d, a;
	size_t i;
	int per_gw[3] = {0, 0, 0};

	reg_member_add(&f->r, "t", "a", true);
	reg_member_add(&f->r, "t", "b", true);
	reg_member_add(&f->r, "t2", "a", true);
	reg_member_add(&f->r, "t2", "b", true); /* b: two threads with a */
	b1 = fx_open(f, 0, "b");
	b2 = fx_open(f, 1, "b");
	c1 = fx_open(f, 0, "c");
	c2 = fx_open(f, 2, "c");
	d = fx_open(f, 0, "d"); /* shares nothing with a */
	fx_watch(f, 0, c1, "a");
	fx_watch(f, 0, b1, "a"); /* a member and a watcher */
	rec_clear();

	a = fx_open(f, 1, "a");
	for (i = 0; i < REC.nev; i++) {
		struct rec_event *e = &REC.ev[i];
		assert_string_equal(e->user, "a");
		assert_false(e->own);
		per_gw[e->gw == f->gw[0] ? 0 : e->gw == f->gw[1] ? 1 : 2]++;
	}
	/* One event per gateway, with every target of that gateway once. */
	assert_int_equal(REC.nev, 3);
	assert_int_equal(per_gw[0], 1);
	assert_int_equal(per_gw[1], 1);
	assert_int_equal(per_gw[2], 1);
	assert_int_equal(rec_last(f->gw[0], b1, "a")->n, 2); /* b1, c1 */
	assert_int_equal(rec_count(f->gw[0], b1, "a"), 1);
	assert_int_equal(rec_count(f->gw[0], c1, "a"), 1);
	assert_int_equal(rec_count(f->gw[1], b2, "a"), 1);
	assert_int_equal(rec_count(f->gw[2], c2, "a"), 1);
	assert_int_equal(rec_count(f->gw[0], d, "a"), 0);
	assert_int_equal(rec_count(f->gw[1], a, "a"), 0);

	/* A co-member's change reaches a, but not c (c watches a, not b). */
	rec_clear();
	fx_status(f, 0, b1, ST_DND, NULL);
	assert_int_equal(rec_count(f->gw[1], a, "b"), 1);
	assert_int_equal(rec_count(f->gw[0], c1, "b"), 0);
	assert_int_equal(rec_count(f->gw[2], c2, "b"), 0);

	/* Leaving the thread leaves the audience at once. */
	reg_member_del(&f->r, reg_thread_find(&f->r, "t"),
		       reg_user_get(&f->r, "b"), true);
	reg_member_del(&f->r, reg_thread_find(&f->r, "t2"),
		       reg_user_get(&f->r, "b"), true);
	rec_clear();
	fx_status(f, 1, a, ST_AWAY, NULL);
	assert_int_equal(rec_count(f->gw[0], b1, "a"), 1); /* b1 watches */
	assert_int_equal(rec_count(f->gw[1], b2, "a"), 1); /* its user's */
	fx_free(f);
}

static void
test_watch_belongs_to_user(void **state)
{
	struct fx *f = fx_new("threads", 5000);
	uint64_t c1, c2, b, a;
	const char *wa[] = {"a"};
	struct hello watch_a = {.watches = wa, .nwatches = 1};

	reg_member_add(&f->r, "t", "a", true);
	reg_member_add(&f->r, "t", "b", true);
	b = fx_open(f, 0, "b");
	c1 = fx_open_h(f, 0, "c", &watch_a); /* a watch in the hello */
	c2 = fx_open(f, 1, "c");
	rec_clear();

	a = fx_open(f, 2, "a");
	assert_int_equal(rec_count(f->gw[0], c1, "a"), 1);
	assert_int_equal(rec_count(f->gw[1], c2, "a"), 1);
	assert_int_equal(rec_last(f->gw[1], c2, "a")->status, ST_ONLINE);
	assert_int_equal(rec_count(f->gw[0], b, "a"), 1);

	/* A second watching session of c: still one event per session. */
	fx_watch(f, 1, c2, "a");
	rec_clear();
	fx_status(f, 2, a, ST_AWAY, NULL);
	assert_int_equal(rec_count(f->gw[0], c1, "a"), 1);
	assert_int_equal(rec_count(f->gw[1], c2, "a"), 1);

	/* Typing stays with the thread's members: not for c. */
	rec_clear();
	reg_typing(&f->r, fx_sess(f, 2, a), "t", true);
	assert_int_equal(REC.nty, 1);
	assert_ptr_equal(REC.ty[0].gw, f->gw[0]);
	assert_int_equal(REC.ty[0].n, 1);
	assert_int_equal(REC.ty[0].sids[0], b);
	reg_typing(&f->r, fx_sess(f, 2, a), "t", true); /* a repeat */
	assert_int_equal(REC.nty, 1);

	/* The watch ends with the sessions that made it. */
	reg_watch_del(&f->r, fx_sess(f, 1, c2), reg_user_get(&f->r, "a"));
	fx_close(f, 0, c1, true);
	rec_clear();
	fx_status(f, 2, a, ST_DND, NULL);
	assert_int_equal(rec_count(f->gw[1], c2, "a"), 0);
	assert_int_equal(rec_count(f->gw[0], b, "a"), 1);
	fx_free(f);
}

/* An all-users session (Socket.IO `all`, SignalR JoinAllUsersTracking)
 * hears every user under audience "threads", once, as long as its flag
 * is on; a re-announce sets the flag to what the gateway holds. */
static void
test_all_users_subscription(void **state)
{
	struct fx *f = fx_new("threads", 5000);
	struct hello all = {.all = true};
	uint64_t adm, adm2, x, y, w;
	const char *wx[] = {"x"};
	struct hello watch_x = {.watches = wx, .nwatches = 1, .all = true};
	Prs__SessionInfo info = PRS__SESSION_INFO__INIT;

	adm = fx_open_h(f, 0, "admin", &all);
	w = fx_open_h(f, 1, "w", &watch_x); /* watches x, and all users */
	rec_clear();
	x = fx_open(f, 2, "x");
	assert_int_equal(rec_count(f->gw[0], adm, "x"), 1);
	assert_int_equal(rec_count(f->gw[1], w, "x"), 1); /* once, not twice */
	/* the admin's other session without the flag hears nothing: the
	 * subscription belongs to the session, not the user */
	adm2 = fx_open(f, 2, "admin");
	rec_clear();
	fx_status(f, 2, x, ST_DND, "busy");
	assert_int_equal(rec_count(f->gw[0], adm, "x"), 1);
	assert_int_equal(rec_count(f->gw[2], adm2, "x"), 0);
	assert_int_equal(rec_last(f->gw[0], adm, "x")->status, ST_DND);

	/* Invisible is offline to an all-users session too. */
	rec_clear();
	fx_status(f, 2, x, ST_INVISIBLE, NULL);
	assert_int_equal(rec_last(f->gw[0], adm, "x")->status, ST_OFFLINE);

	/* Unsubscribed: nothing more. */
	reg_watch_all(&f->r, fx_sess(f, 0, adm), false);
	reg_watch_all(&f->r, fx_sess(f, 0, adm), false); /* idempotent */
	assert_int_equal(f->r.nall, 1);
	rec_clear();
	y = fx_open(f, 2, "y");
	assert_int_equal(rec_count(f->gw[0], adm, "y"), 0);
	assert_int_equal(rec_count(f->gw[1], w, "y"), 1);

	/* A re-announce carrying the flag repairs a lost OP_WATCH_ALL. */
	info.sid = adm;
	info.user_id = "admin";
	info.all_users = true;
	reg_session_open(&f->r, f->gw[0], &info, true);
	assert_true(fx_sess(f, 0, adm)->all);
	rec_clear();
	fx_status(f, 2, y, ST_AWAY, NULL);
	assert_int_equal(rec_count(f->gw[0], adm, "y"), 1);

	/* A closed session leaves the list. */
	fx_close(f, 1, w, true);
	fx_close(f, 0, adm, true);
	assert_int_equal(f->r.nall, 0);
	assert_null(f->r.all_sessions);
	fx_free(f);
}

static void
test_audience_all(void **state)
{
	struct fx *f = fx_new("all", 5000);
	uint64_t d, a1, a2;

	d = fx_open(f, 2, "d");
	a1 = fx_open(f, 0, "a");
	assert_int_equal(rec_count(f->gw[2], d, "a"), 1);
	rec_clear();
	a2 = fx_open(f, 0, "a");
	fx_status(f, 0, a1, ST_AWAY, NULL);
	assert_int_equal(REC.nev, 2);
	assert_int_equal(rec_count(f->gw[2], d, "a"), 1);
	assert_int_equal(rec_count(f->gw[0], a2, "a"), 1);
	assert_true(rec_last(f->gw[0], a2, "a")->own);
	fx_free(f);
}

static void
test_hold_release(void **state)
{
	struct fx *f = fx_new("threads", 5000);
	uint64_t b, a, x;

	b = pair(f);
	reg_member_add(&f->r, "t", "x", true);
	x = fx_open(f, 1, "x");
	rec_clear();
	f->r.hold = true;
	/* a comes online and changes twice; x flickers away and back. */
	a = fx_open(f, 0, "a");
	fx_status(f, 0, a, ST_AWAY, NULL);
	fx_status(f, 0, a, ST_DND, "busy");
	fx_close(f, 1, x, true);
	x = fx_open(f, 1, "x");
	assert_int_equal(REC.nev, 0);
	assert_int_equal(REC.nhist, 5); /* history is not held */
	reg_hold_release(&f->r);
	assert_false(f->r.hold);
	assert_int_equal(rec_count(f->gw[0], b, "a"), 1);
	assert_int_equal(rec_last(f->gw[0], b, "a")->status, ST_DND);
	assert_int_equal(rec_count(f->gw[0], b, "x"), 0);
	assert_int_equal(rec_count(f->gw[1], x, "a"), 1);
	fx_free(f);
}

/* During a hold a1 chooses away (its reply tells it), then a2 chooses
 * online again: the user ends the hold as it began, yet a1 must hear. */
static void
test_hold_origin_hears_the_end(void **state)
{
	struct fx *f = fx_new("threads", 5000);
	uint64_t b = pair(f), a1, a2;
	struct rec_event *e;

	a1 = fx_open(f, 0, "a");
	a2 = fx_open(f, 1, "a");
	rec_clear();
	f->r.hold = true;
	fx_status(f, 0, a1, ST_AWAY, "brb");
	fx_status(f, 1, a2, ST_ONLINE, NULL);
	assert_int_equal(REC.nev, 0);
	reg_hold_release(&f->r);
	assert_int_equal(rec_count(f->gw[0], b, "a"), 0); /* saw nothing */
	e = rec_last(f->gw[0], a1, "a");
	assert_non_null(e);
	assert_true(e->own);
	assert_int_equal(e->status, ST_ONLINE);
	assert_null(e->text);
	fx_free(f);
}

/* ---- the randomized model ---------------------------------------------- */

#define M_USERS   6
#define M_THREADS 3
#define M_GWS     3
#define M_SESS    24

static const char *const m_texts[] = {"brb", "lunch", "caf\xc3\xa9"};
/* Hello metas and the canonical one each stands for (-1: none). */
static const struct {
	const char *in;
	int canon;
} m_metas[] = {
	{"", -1},
	{"{\"a\":1}", 0},
	{"{ \"b\" : [1, 2] }", 1},
	{"{\"b\":[1,2]}", 1},
	{"[1]", -1},     /* not an object: dropped */
	{"{\"a\":", -1}, /* not JSON */
};
static const char *const m_canon[] = {"{\"a\":1}", "{\"b\":[1,2]}"};

struct m_view {
	int status;
	bool online;
	int text; /* index in m_texts, -1: none */
	int meta; /* index in m_canon, -1: none */
};

struct m_user {
	int nsess;
	bool grace;
	int status;
	int text, meta;
};

struct m_sess {
	bool used;
	int user, gw;
	uint64_t sid;
	bool watch[M_USERS];
	bool hears[M_USERS]; /* in the audience (or own) after last op */
	bool late[M_USERS];  /* joined x's audience during a hold */
	struct m_view know[M_USERS]; /* what it was told */
};

struct model {
	bool all; /* audience = all */
	struct m_user u[M_USERS];
	struct m_sess s[M_SESS];
	bool member[M_THREADS][M_USERS];
	/* The registry holds events (after a restart): what each user
	 * looked like when the hold began, and whether one of its sessions
	 * was told of a change of its own (the origin's reply) since. */
	bool hold;
	struct m_view hold_pub[M_USERS], hold_own[M_USERS];
	bool own_told[M_USERS];
};

static uint64_t m_rng;

static uint32_t
m_rand(uint32_t n)
{
	m_rng ^= m_rng << 13;
	m_rng ^= m_rng >> 7;
	m_rng ^= m_rng << 17;
	return (uint32_t) ((m_rng >> 11) % n);
}

static struct m_view
m_view_of(const struct model *m, int x, bool own)
{
	const struct m_user *u = &m->u[x];
	bool live = u->nsess > 0 || u->grace;
	struct m_view v;

	v.online = live && u->status != ST_INVISIBLE;
	if (own)
		v.status = live ? u->status : ST_OFFLINE;
	else
		v.status = v.online ? u->status : ST_OFFLINE;
	v.text = v.status != ST_OFFLINE ? u->text : -1;
	v.meta = u->meta;
	return v;
}

static bool
m_view_eq(const struct m_view *a, const struct m_view *b)
{
	return a->status == b->status && a->online == b->online &&
	       a->text == b->text && a->meta == b->meta;
}

/* Is slot k (a session of another user) in the audience of user x? */
static bool
m_audience(const struct model *m, int k, int x)
{
	int y = m->s[k].user, t, j;

	if (y == x)
		return false;
	if (m->all)
		return true;
	for (t = 0; t < M_THREADS; t++)
		if (m->member[t][x] && m->member[t][y])
			return true;
	for (j = 0; j < M_SESS; j++) /* a watch belongs to the user */
		if (m->s[j].used && m->s[j].user == y && m->s[j].watch[x])
			return true;
	return false;
}

static int
m_index(const char *s, const char *const *tab, size_t n)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(s, tab[i]) == 0)
			return (int) i;
	return -2; /* unknown: never equal to a model value */
}

static struct m_view
m_view_event(const struct rec_event *e)
{
	struct m_view v;

	v.status = e->status;
	v.online = e->online;
	v.text = m_index(e->text, m_texts, PRS_ARRAY_LEN(m_texts));
	v.meta = m_index(e->meta, m_canon, PRS_ARRAY_LEN(m_canon));
	return v;
}

static struct m_view
m_view_reg(const Prs__Presence *p)
{
	struct m_view v;

	v.status = p->status;
	v.online = p->is_online;
	v.text = p->has_text
			 ? m_index(p->text, m_texts, PRS_ARRAY_LEN(m_texts))
			 : -1;
	v.meta = p->meta[0] != '\0'
			 ? m_index(p->meta, m_canon, PRS_ARRAY_LEN(m_canon))
			 : -1;
	return v;
}

/* The run's context, for failure messages. */
struct m_run {
	struct fx *f;
	struct model m;
	uint64_t seed;
	long op;
	char trace[32][160]; /* the last operations, for a failure */
	long nevents, ncompared, nreleases; /* that the run checked much */
};

static void m_trace(struct m_run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
m_trace(struct m_run *run, const char *fmt, ...)
{
	va_list ap;
	char *line = run->trace[run->op % 32];
	int n = snprintf(line, 160, "#%ld ", run->op);

	va_start(ap, fmt);
	vsnprintf(line + n, (size_t) (160 - n), fmt, ap);
	va_end(ap);
}

static void m_fail(struct m_run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
m_fail(struct m_run *run, const char *fmt, ...)
{
	va_list ap;
	char msg[512];
	long i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "model test failed (PRS_TEST_SEED=%llu), last ops:\n",
		(unsigned long long) run->seed);
	for (i = run->op >= 31 ? run->op - 31 : 0; i <= run->op; i++)
		fprintf(stderr, "  %s\n", run->trace[i % 32]);
	fail_msg("op #%ld: %s", run->op, msg);
}

static void
m_uid(char *buf, size_t len, int x)
{
	snprintf(buf, len, "u%d", x);
}

static int
m_slot_of(struct m_run *run, struct reg_gw *gw, uint64_t sid)
{
	int k;

	for (k = 0; k < M_SESS; k++) {
		struct m_sess *s = &run->m.s[k];
		if (s->used && s->sid == sid && run->f->gw[s->gw] == gw)
			return k;
	}
	return -1;
}

static int
m_random_slot(struct model *m)
{
	int k, n = 0, pick;

	for (k = 0; k < M_SESS; k++)
		n += m->s[k].used;
	if (n == 0)
		return -1;
	pick = (int) m_rand((uint32_t) n);
	for (k = 0; k < M_SESS; k++)
		if (m->s[k].used && pick-- == 0)
			return k;
	return -1;
}

static int
m_op_open(struct m_run *run)
{
	struct model *m = &run->m;
	struct m_sess *s = NULL;
	struct m_user *u;
	const char *watches[3];
	char wids[3][16], id[16];
	struct hello h = {0};
	int k, x = (int) m_rand(M_USERS), meta, text, st, w;
	bool was_live;

	for (k = 0; k < M_SESS && s == NULL; k++)
		if (!m->s[k].used)
			s = &m->s[k];
	if (s == NULL)
		return -1;
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->user = x;
	s->gw = (int) m_rand(M_GWS);
	s->sid = run->f->next_sid;
	u = &m->u[x];
	st = m_rand(3) == 0 ? (int) m_rand(5) + 1 : 0; /* 5: out of range */
	text = (int) m_rand(PRS_ARRAY_LEN(m_texts) + 1) - 1;
	meta = (int) m_rand(PRS_ARRAY_LEN(m_metas));
	h.status = st;
	h.text = text >= 0 ? m_texts[text] : NULL;
	h.meta = m_metas[meta].in;
	h.nwatches = m_rand(3);
	for (w = 0; w < (int) h.nwatches; w++) {
		int y = (int) m_rand(M_USERS);
		m_uid(wids[w], sizeof(wids[w]), y);
		watches[w] = wids[w];
		s->watch[y] = true;
	}
	h.watches = watches;
	m_uid(id, sizeof(id), x);
	m_trace(run,
		"open %s on gw%d sid %llu status %d text %d meta '%s' "
		"watches %zu",
		id, s->gw, (unsigned long long) s->sid, st, text,
		m_metas[meta].in, h.nwatches);

	was_live = u->nsess > 0 || u->grace;
	u->grace = false;
	if (!was_live || st != 0) {
		u->status =
			st >= ST_ONLINE && st <= ST_INVISIBLE ? st : ST_ONLINE;
		u->text = text;
	}
	u->meta = m_metas[meta].canon;
	u->nsess++;
	fx_open_h(run->f, s->gw, id, &h);
	return (int) (s - m->s);
}

static void
m_op_close(struct m_run *run)
{
	struct model *m = &run->m;
	int k = m_random_slot(m);
	bool clean = m_rand(2) == 0;
	struct m_sess *s;
	struct m_user *u;

	if (k < 0)
		return;
	s = &m->s[k];
	u = &m->u[s->user];
	m_trace(run, "close u%d sid %llu %s", s->user,
		(unsigned long long) s->sid, clean ? "clean" : "unclean");
	fx_close(run->f, s->gw, s->sid, clean);
	s->used = false;
	if (--u->nsess == 0)
		u->grace = !clean && run->f->r.cfg.offline_grace_ms > 0;
}

static void
m_op_status(struct m_run *run, int *origin)
{
	struct model *m = &run->m;
	int k = m_random_slot(m);
	int st = (int) m_rand(6); /* 0 and 5: out of range */
	int text = (int) m_rand(PRS_ARRAY_LEN(m_texts) + 2) - 1;
	char big[300];
	const char *t;
	struct m_sess *s;

	if (k < 0)
		return;
	s = &m->s[k];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	t = text < 0                              ? NULL
	    : text < (int) PRS_ARRAY_LEN(m_texts) ? m_texts[text]
						  : big;
	m_trace(run, "set_status u%d sid %llu status %d text %d", s->user,
		(unsigned long long) s->sid, st, text);
	fx_status(run->f, s->gw, s->sid, st, t);
	if (st < ST_ONLINE || st > ST_INVISIBLE ||
	    text >= (int) PRS_ARRAY_LEN(m_texts))
		return; /* refused */
	m->u[s->user].status = st;
	m->u[s->user].text = text;
	*origin = k;
}

static void
m_op_watch(struct m_run *run, bool add)
{
	struct model *m = &run->m;
	int k = m_random_slot(m), x = (int) m_rand(M_USERS);
	struct m_sess *s;
	char id[16];

	if (k < 0)
		return;
	s = &m->s[k];
	m_uid(id, sizeof(id), x);
	m_trace(run, "%s u%d sid %llu -> %s", add ? "watch" : "unwatch",
		s->user, (unsigned long long) s->sid, id);
	if (add) {
		fx_watch(run->f, s->gw, s->sid, id);
	} else {
		struct reg_user *u = reg_user_find(&run->f->r, id, strlen(id));
		if (u != NULL)
			reg_watch_del(&run->f->r,
				      fx_sess(run->f, s->gw, s->sid), u);
	}
	s->watch[x] = add;
}

/* A gateway re-announcing a session it already announced (a resync),
 * with the watch set it holds for it and a status chosen no later than
 * the one the registry has (status_at 0): nothing visible changes. */
static void
m_op_reannounce(struct m_run *run)
{
	struct model *m = &run->m;
	int k = m_random_slot(m), x;
	Prs__SessionInfo info = PRS__SESSION_INFO__INIT;
	char id[16], wid[M_USERS][16], *watches[M_USERS];
	struct m_sess *s;

	if (k < 0)
		return;
	s = &m->s[k];
	m_uid(id, sizeof(id), s->user);
	m_trace(run, "re-announce u%d sid %llu", s->user,
		(unsigned long long) s->sid);
	info.sid = s->sid;
	info.user_id = id;
	info.status_set = true;
	info.status = (int) m_rand(4) + 1; /* ignored: nothing new */
	for (x = 0; x < M_USERS; x++) {
		if (!s->watch[x])
			continue;
		m_uid(wid[info.n_watches], sizeof(wid[0]), x);
		watches[info.n_watches] = wid[info.n_watches];
		info.n_watches++;
	}
	info.watches = watches;
	reg_session_open(&run->f->r, run->f->gw[s->gw], &info, true);
}

static void
m_op_member(struct m_run *run, bool add)
{
	struct model *m = &run->m;
	int t = (int) m_rand(M_THREADS), x = (int) m_rand(M_USERS);
	char tid[16], id[16];
	bool was = m->member[t][x];

	snprintf(tid, sizeof(tid), "t%d", t);
	m_uid(id, sizeof(id), x);
	m_trace(run, "member %s %s %s", add ? "add" : "del", tid, id);
	if (add) {
		reg_member_add(&run->f->r, tid, id, true);
	} else {
		struct reg_thread *th = reg_thread_find(&run->f->r, tid);
		struct reg_user *u = reg_user_find(&run->f->r, id, strlen(id));
		if (th != NULL && u != NULL)
			reg_member_del(&run->f->r, th, u, true);
	}
	m->member[t][x] = add;
	if (REC.nmemop != (size_t) (was != add))
		m_fail(run, "%zu membership writes for a change of %d",
		       REC.nmemop, was != add);
}

/* The hold begins (as after a restart) or ends (reg_hold_release). */
static bool
m_op_hold(struct m_run *run)
{
	struct model *m = &run->m;
	int x;

	if (m->hold) {
		m_trace(run, "hold released");
		reg_hold_release(&run->f->r);
		m->hold = false;
		return true;
	}
	m_trace(run, "hold begins");
	run->f->r.hold = true;
	m->hold = true;
	for (x = 0; x < M_USERS; x++) {
		m->hold_pub[x] = m_view_of(m, x, false);
		m->hold_own[x] = m_view_of(m, x, true);
		m->own_told[x] = false;
	}
	return false;
}

static void
m_op_grace(struct m_run *run)
{
	int x;

	m_trace(run, "grace runs out");
	fx_grace_run_out(run->f);
	for (x = 0; x < M_USERS; x++)
		run->m.u[x].grace = false;
}

/* The model's views of every user after an operation (1) and, for
 * comparing events with, before it (0; the hold's start at a release). */
struct m_views {
	struct m_view pub0[M_USERS], own0[M_USERS];
	struct m_view pub1[M_USERS], own1[M_USERS];
};

/* One recorded event: about a user whose view changed, saying what the
 * model says, one per gateway, each target once and in the audience (own
 * events: the user's sessions but the origin); targets learn its view. */
static void
m_check_event(struct m_run *run, const struct m_views *mv, size_t i,
	      int origin, bool release, bool got[M_SESS][M_USERS])
{
	struct model *m = &run->m;
	struct rec_event *e = &REC.ev[i];
	struct m_view v = m_view_event(e);
	const struct m_view *before, *after;
	int x = e->user[0] == 'u' ? atoi(e->user + 1) : -1, k;
	size_t j;

	if (x < 0 || x >= M_USERS)
		m_fail(run, "event about unknown user %s", e->user);
	before = e->own ? &mv->own0[x] : &mv->pub0[x];
	after = e->own ? &mv->own1[x] : &mv->pub1[x];
	if (m_view_eq(before, after) && !(release && e->own && m->own_told[x]))
		m_fail(run, "%s event about u%d but the model saw no change",
		       e->own ? "own" : "public", x);
	if (!m_view_eq(&v, after))
		m_fail(run,
		       "event about u%d: status %d online %d text %d meta %d, "
		       "model %d %d %d %d",
		       x, v.status, v.online, v.text, v.meta, after->status,
		       after->online, after->text, after->meta);
	for (j = 0; j < i; j++)
		if (REC.ev[j].gw == e->gw && REC.ev[j].own == e->own &&
		    strcmp(REC.ev[j].user, e->user) == 0)
			m_fail(run, "two events about u%d for one gateway", x);
	for (j = 0; j < e->n; j++) {
		unsigned long long sid = e->sids[j];
		if ((k = m_slot_of(run, e->gw, e->sids[j])) < 0)
			m_fail(run, "event about u%d to unknown sid %llu", x,
			       sid);
		if (got[k][x])
			m_fail(run, "sid %llu told twice about u%d", sid, x);
		got[k][x] = true;
		if (e->own && (m->s[k].user != x || k == origin))
			m_fail(run, "own event about u%d to sid %llu (u%d%s)",
			       x, sid, m->s[k].user,
			       k == origin ? ", the origin" : "");
		if (!e->own && !m_audience(m, k, x))
			m_fail(run,
			       "event about u%d to sid %llu (u%d) outside "
			       "its audience",
			       x, sid, m->s[k].user);
		m->s[k].know[x] = v;
		run->nevents++;
	}
}

/* Writes for the persister are not held: a history row per change of
 * the own status, a dirty row per user whose views changed. */
static void
m_check_writes(struct m_run *run, const struct m_views *mv)
{
	int x, nhist[M_USERS] = {0};
	size_t i, ndirty = 0;

	for (i = 0; i < REC.nhist; i++) {
		x = atoi(REC.hist[i].user + 1);
		nhist[x]++;
		if (REC.hist[i].status != mv->own1[x].status)
			m_fail(run, "history row u%d status %d, model %d", x,
			       REC.hist[i].status, mv->own1[x].status);
	}
	for (x = 0; x < M_USERS; x++) {
		if (nhist[x] != (mv->own0[x].status != mv->own1[x].status))
			m_fail(run, "%d history rows for u%d", nhist[x], x);
		ndirty += !m_view_eq(&mv->pub0[x], &mv->pub1[x]) ||
			  !m_view_eq(&mv->own0[x], &mv->own1[x]);
	}
	if (REC.ndirty != ndirty)
		m_fail(run, "%zu rows marked dirty, model changed %zu users",
		       REC.ndirty, ndirty);
}

/* Every session's picture of each user it hears about (its own, or in
 * the audience) is the model's view, except while a hold withholds. */
static void
m_check_pictures(struct m_run *run, const struct m_views *mv, int origin,
		 bool release)
{
	struct model *m = &run->m;
	int k, x;

	for (k = 0; k < M_SESS; k++) {
		struct m_sess *s = &m->s[k];
		if (!s->used)
			continue;
		for (x = 0; x < M_USERS; x++) {
			bool own = s->user == x;
			bool hears = own || m_audience(m, k, x);
			const struct m_view *want =
				own ? &mv->own1[x] : &mv->pub1[x];
			if (!hears) {
				s->late[x] = false;
			} else if (!s->hears[x] || (k == origin && own)) {
				/* The hello's welcome, a watch reply, a
				 * query after joining a thread, the ok of
				 * its own set_status: told the state. */
				s->know[x] = *want;
				/* Told during a hold what the hold's end
				 * does not compare with: it asks again. */
				s->late[x] = m->hold && !own;
			} else if (m->hold) {
				/* withheld: compared when it ends */
			} else if (release && s->late[x]) {
				s->know[x] = *want;
				s->late[x] = false;
			} else if (run->ncompared++,
				   !m_view_eq(&s->know[x], want)) {
				m_fail(run,
				       "sid %llu (u%d) believes u%d is status "
				       "%d online %d text %d meta %d; model "
				       "%d %d %d %d",
				       (unsigned long long) s->sid, s->user, x,
				       s->know[x].status, s->know[x].online,
				       s->know[x].text, s->know[x].meta,
				       want->status, want->online, want->text,
				       want->meta);
			}
			s->hears[x] = hears;
		}
	}
}

/* What came out of one operation, checked against the model: events
 * (none during a hold; at its release compared with the hold's start),
 * persister writes, then every session's picture. */
static void
m_check(struct m_run *run, const struct m_view *pub0,
	const struct m_view *own0, int origin, bool release)
{
	struct model *m = &run->m;
	struct m_views mv, ev;
	bool got[M_SESS][M_USERS];
	int x;
	size_t i;

	memset(got, 0, sizeof(got));
	for (x = 0; x < M_USERS; x++) {
		mv.pub0[x] = pub0[x];
		mv.own0[x] = own0[x];
		mv.pub1[x] = m_view_of(m, x, false);
		mv.own1[x] = m_view_of(m, x, true);
		if (m->hold && origin >= 0 && m->s[origin].user == x &&
		    !m_view_eq(&own0[x], &mv.own1[x]))
			m->own_told[x] = true;
	}
	ev = mv;
	if (release) {
		memcpy(ev.pub0, m->hold_pub, sizeof(ev.pub0));
		memcpy(ev.own0, m->hold_own, sizeof(ev.own0));
	}
	if (m->hold && REC.nev > 0)
		m_fail(run, "%zu events during the hold", REC.nev);
	for (i = 0; i < REC.nev; i++)
		m_check_event(run, &ev, i, origin, release, got);
	m_check_writes(run, &mv);
	m_check_pictures(run, &mv, origin, release);
}

/* The registry's own answer (what a query returns) is the model's too. */
static void
m_check_views(struct m_run *run)
{
	int x;

	for (x = 0; x < M_USERS; x++) {
		char id[16];
		struct reg_user *u;
		Prs__Presence p;
		struct m_view pv, ov, mp, mo;

		m_uid(id, sizeof(id), x);
		u = reg_user_find(&run->f->r, id, strlen(id));
		mp = m_view_of(&run->m, x, false);
		mo = m_view_of(&run->m, x, true);
		if (u == NULL) {
			if (mo.status != ST_OFFLINE)
				m_fail(run, "u%d unknown to the registry", x);
			continue;
		}
		reg_view(u, false, 0, &p);
		pv = m_view_reg(&p);
		reg_view(u, true, 0, &p);
		ov = m_view_reg(&p);
		if (!m_view_eq(&pv, &mp) || !m_view_eq(&ov, &mo))
			m_fail(run,
			       "registry shows u%d as %d/%d (own %d/%d), "
			       "model %d/%d (own %d/%d)",
			       x, pv.status, pv.text, ov.status, ov.text,
			       mp.status, mp.text, mo.status, mo.text);
		if (u->nsessions != run->m.u[x].nsess ||
		    u->in_grace != run->m.u[x].grace)
			m_fail(run,
			       "u%d: %d sessions (grace %d), model %d (%d)", x,
			       u->nsessions, u->in_grace, run->m.u[x].nsess,
			       run->m.u[x].grace);
	}
}

static uint64_t
env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? strtoull(v, NULL, 0) : def;
}

static void
m_run(bool all, uint64_t default_seed)
{
	struct m_run *run = xcalloc(1, sizeof(*run));
	long nops = (long) env_u64("PRS_TEST_OPS", 5000);
	int x;

	run->seed = env_u64("PRS_TEST_SEED", default_seed);
	m_rng = run->seed ? run->seed : 1;
	printf("model test (audience %s): seed %llu, %ld operations "
	       "(PRS_TEST_SEED, PRS_TEST_OPS override)\n",
	       all ? "all" : "threads", (unsigned long long) run->seed, nops);
	run->f = fx_new(all ? "all" : "threads", 2);
	run->m.all = all;
	for (x = 0; x < M_USERS; x++) {
		run->m.u[x].status = ST_ONLINE; /* a new user's default */
		run->m.u[x].text = run->m.u[x].meta = -1;
	}
	for (run->op = 0; run->op < nops; run->op++) {
		struct m_view pub0[M_USERS], own0[M_USERS];
		uint32_t dice = m_rand(100);
		int origin = -1;
		bool release = false;

		for (x = 0; x < M_USERS; x++) {
			pub0[x] = m_view_of(&run->m, x, false);
			own0[x] = m_view_of(&run->m, x, true);
		}
		rec_clear();
		if (dice < 24) {
			origin = m_op_open(run);
		} else if (dice < 44) {
			m_op_close(run);
		} else if (dice < 62) {
			m_op_status(run, &origin);
		} else if (dice < 72) {
			m_op_watch(run, true);
		} else if (dice < 77) {
			m_op_watch(run, false);
		} else if (dice < 85) {
			m_op_member(run, true);
		} else if (dice < 90) {
			m_op_member(run, false);
		} else if (dice < 93) {
			m_op_reannounce(run);
		} else if (dice < 95) {
			release = m_op_hold(run);
			run->nreleases += release;
		} else {
			m_op_grace(run);
		}
		m_check(run, pub0, own0, origin, release);
		m_check_views(run);
	}
	printf("model test: %ld deliveries checked, %ld pictures compared, "
	       "%ld hold releases\n",
	       run->nevents, run->ncompared, run->nreleases);
	assert_true(run->nevents > nops / 10 && run->ncompared > nops);
	fx_free(run->f);
	free(run);
}

static void
test_model_threads(void **state)
{
	m_run(false, 20240611);
}

static void
test_model_all(void **state)
{
	m_run(true, 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_event_per_visible_change),
		cmocka_unit_test(test_grace),
		cmocka_unit_test(test_multi_device),
		cmocka_unit_test(test_invisible),
		cmocka_unit_test(test_reannounce_repairs_losses),
		cmocka_unit_test(test_reannounce_choice_beats_no_choice),
		cmocka_unit_test(test_audience_grouped_per_gateway),
		cmocka_unit_test(test_watch_belongs_to_user),
		cmocka_unit_test(test_history_modes),
		cmocka_unit_test(test_audience_all),
		cmocka_unit_test(test_all_users_subscription),
		cmocka_unit_test(test_hold_release),
		cmocka_unit_test(test_hold_origin_hears_the_end),
		cmocka_unit_test(test_model_threads),
		cmocka_unit_test(test_model_all),
	};

	prs_log_setname("test_reg_state");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
