/* The registry without sockets: see reg_fixture.h. */
#include "reg_fixture.h"

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

/* ---- the recording output --------------------------------------------- */

struct rec REC;

uint64_t *
sids_dup(const uint64_t *sids, size_t n)
{
	uint64_t *c = xcalloc(n, sizeof(*c));

	memcpy(c, sids, n * sizeof(*c));
	return c;
}

void
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
	e->online_changed = r->online_changed;
	e->user = xstrdup(p->user_id);
	e->status = p->status;
	e->online = p->is_online;
	e->text = p->has_text ? xstrdup(p->text) : NULL;
	e->meta = p->meta[0] != '\0' ? xstrdup(p->meta) : NULL;
}

void
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

void
rec_dirty_cb(struct reg *r, struct reg_user *u)
{
	REC.ndirty++;
}

void
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

void
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
void
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

void
rec_free(void)
{
	rec_clear();
	free(REC.ev);
	free(REC.ty);
	free(REC.hist);
	memset(&REC, 0, sizeof(REC));
}

bool
sids_has(const uint64_t *sids, size_t n, uint64_t sid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (sids[i] == sid)
			return true;
	return false;
}

/* How many recorded events about user reached session sid of gw. */
int
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
struct rec_event *
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

struct reg_gw *
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

struct fx *
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

void
fx_free(struct fx *f)
{
	reg_state_free(&f->r);
	ev_loop_destroy(f->r.loop);
	free(f);
	rec_free();
}

/* Opens a session of user on gateway g (a hello); returns its sid. */
uint64_t
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

uint64_t
fx_open(struct fx *f, int g, const char *user)
{
	return fx_open_h(f, g, user, NULL);
}

struct reg_session *
fx_sess(struct fx *f, int g, uint64_t sid)
{
	struct reg_session *s = reg_session_find(f->gw[g], sid);

	assert_non_null(s);
	return s;
}

void
fx_close(struct fx *f, int g, uint64_t sid, bool clean)
{
	reg_session_close(&f->r, fx_sess(f, g, sid), clean);
}

void
fx_status(struct fx *f, int g, uint64_t sid, int status, const char *text)
{
	reg_status_set(&f->r, fx_sess(f, g, sid), status, text, 0);
}

void
fx_watch(struct fx *f, int g, uint64_t sid, const char *user)
{
	assert_int_equal(reg_watch_add(&f->r, fx_sess(f, g, sid),
				       reg_user_get(&f->r, user)),
			 0);
}

bool
fx_any_in_grace(struct fx *f)
{
	struct reg_user *u, *tmp;

	HASH_ITER (hh, f->r.users, u, tmp)
		if (u->in_grace)
			return true;
	return false;
}

void
sleep_ms(int64_t ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Runs the loop once without waiting: timers that are due fire. */
void
fx_run(struct fx *f)
{
	ev_run(f->r.loop, EVRUN_NOWAIT);
}

/* Lets every running grace expire: sleeps past the deadlines and runs the
 * loop, a bounded number of times. */
void
fx_grace_run_out(struct fx *f)
{
	int i;

	for (i = 0; i < 200 && fx_any_in_grace(f); i++) {
		sleep_ms(f->r.cfg.offline_grace_ms + 1);
		fx_run(f);
	}
	assert_false(fx_any_in_grace(f));
}
