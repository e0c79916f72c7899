/*
 * A randomized model test of the registry's decisions: thousands of
 * operations (sessions opened and closed cleanly or not, statuses,
 * watches, memberships, re-announces, graces running out, holds) played
 * on the registry (reg_fixture.h) and on a plain reference model (arrays),
 * checking after each one that every session's picture of every user it
 * hears about (its initial state, then the events it received) is the
 * model's, and that no event went out where the model saw no visible
 * change. The seed is printed; PRS_TEST_SEED and PRS_TEST_OPS override it.
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
	if (e->online_changed != (before->online != after->online))
		m_fail(run,
		       "event about u%d: online_changed %d, model %d -> %d", x,
		       e->online_changed, before->online, after->online);
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
		cmocka_unit_test(test_model_threads),
		cmocka_unit_test(test_model_all),
	};

	prs_log_setname("test_reg_model");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
