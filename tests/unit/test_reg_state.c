/*
 * Unit tests for registry/reg_state.c and reg_audience.c: the presence
 * rules of PROTOCOL.md §5 as scenarios, through the real decisions with a
 * recording struct reg_out instead of NNG (reg_fixture.h). Grace timers
 * are real libev timers on a private loop, which the tests run after the
 * deadline. The randomized model test is test_reg_model.c.
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
#include "reg_fixture.h"

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
	};

	prs_log_setname("test_reg_state");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
