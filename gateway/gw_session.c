/*
 * The session core (PROTOCOL.md §3-5, whatever the frontend): the
 * sessions table (sid → session, O(1)), announcing sessions to the
 * registry and re-announcing them all on Resync, the wait for the
 * registry's SessionAck, token lifetimes, kicks, and fan-out of registry
 * events to their target sessions through each session's frontend ops
 * (gw_fe.h), encoded once per frontend kind and event.
 *
 * A session is born from a frontend's hello (or heartbeat): it is
 * announced to the registry (SessionBatch) and, for a frontend that
 * waits, welcomed when the registry acknowledges it (SessionAck), so that
 * a client holding its welcome cannot miss a change of its audience made
 * through another gateway. Without a ready registry (or after
 * request_timeout_ms) it is welcomed anyway, so a client connected while
 * the registry restarts still gets in; the session is re-announced on the
 * next Resync. The session keeps what a re-announce needs (user, device,
 * chosen status, text, meta, watches) and nothing else.
 *
 * v1.1. Token lifetime: a session remembers the exp of its token and ends
 * at it: the cron (gw_session_token_expire) looks at the sessions only
 * once the earliest exp has come (srv->token_next), so there is no timer
 * per session and no scan while nothing is due. Kick: the registry ended
 * the sessions already; their frontends close them.
 */
#include "gw_session.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gw_fe.h"
#include "gw_reg.h"
#include "gw_view.h"
#include "prs_util.h"

#define BATCH_SESSIONS 256
#define BATCH_BYTES    (1024 * 1024)

static char empty[] = "";

/* ---- the session table --------------------------------------------- */

struct gw_session *
gw_session_new(struct gw_server *srv, const char *user, const struct gw_fe *fe)
{
	struct gw_session *s = xcalloc(1, sizeof(*s));

	s->fe = fe;
	s->srv = srv;
	s->sid = srv->next_sid++;
	s->user_id = xstrdup(user);
	s->since = prs_now_ms();
	s->status = PRS__STATUS__ST_ONLINE;
	HASH_ADD(hh, srv->sessions, sid, sizeof(s->sid), s);
	srv->nsessions++;
	return s;
}

static void
session_free(struct gw_server *srv, struct gw_session *s)
{
	uint32_t i;

	HASH_DEL(srv->sessions, s);
	srv->nsessions--;
	json_decref(s->welcome_id); /* the await list drops the sid lazily */
	for (i = 0; i < s->nwatch; i++)
		free(s->watch[i]);
	free(s->watch);
	free(s->user_id);
	free(s->device);
	free(s->text);
	free(s->meta);
	free(s);
}

static void
session_info(const struct gw_session *s, Prs__SessionInfo *si)
{
	prs__session_info__init(si);
	si->sid = s->sid;
	si->user_id = s->user_id;
	si->device = s->device ? s->device : empty;
	si->status = (Prs__Status) s->status;
	si->has_text = s->has_text;
	si->text = s->text ? s->text : empty;
	si->meta = s->meta ? s->meta : empty;
	si->n_watches = s->nwatch;
	si->watches = s->watch;
	si->status_set = s->status_set;
	si->status_at = s->status_at;
	si->idle = s->idle;
	si->since = s->since;
	si->all_users = s->watch_all;
}

static void
send_batch(struct gw_server *srv, Prs__SessionInfo **infos, size_t n,
	   bool resync, uint64_t resync_id, bool end)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__SessionBatch b = PRS__SESSION_BATCH__INIT;

	b.n_sessions = n;
	b.sessions = infos;
	b.resync = resync;
	b.resync_id = resync_id;
	b.resync_end = end;
	env.body_case = PRS__ENVELOPE__BODY_SESSIONS;
	env.sessions = &b;
	gw_reg_send(srv, &env);
}

void
gw_session_announce(struct gw_server *srv, const struct gw_session *s)
{
	Prs__SessionInfo si, *p = &si;

	session_info(s, &si);
	send_batch(srv, &p, 1, false, 0, false);
}

static void
send_close(struct gw_server *srv, uint64_t sid, bool clean)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__SessionClose sc = PRS__SESSION_CLOSE__INIT;

	sc.sid = sid;
	sc.clean = clean;
	env.body_case = PRS__ENVELOPE__BODY_CLOSE;
	env.close = &sc;
	gw_reg_send(srv, &env);
}

void
gw_session_end(struct gw_server *srv, struct gw_session *s, bool clean)
{
	prs_debug("session %llu of %s ends (%s)", (unsigned long long) s->sid,
		  s->user_id, clean ? "clean" : "unclean");
	send_close(srv, s->sid, clean);
	session_free(srv, s);
}

void
gw_session_resync(struct gw_server *srv, uint64_t id)
{
	Prs__SessionInfo *infos = xcalloc(BATCH_SESSIONS, sizeof(*infos));
	Prs__SessionInfo **ptrs = xcalloc(BATCH_SESSIONS, sizeof(*ptrs));
	struct gw_session *s, *tmp;
	size_t n = 0, bytes = 0;

	HASH_ITER (hh, srv->sessions, s, tmp) {
		size_t sz;
		session_info(s, &infos[n]);
		sz = prs__session_info__get_packed_size(&infos[n]);
		if (n > 0 && bytes + sz > BATCH_BYTES) {
			send_batch(srv, ptrs, n, true, id, false);
			session_info(s, &infos[0]);
			n = 0;
			bytes = 0;
		}
		ptrs[n] = &infos[n];
		n++;
		bytes += sz;
		if (n == BATCH_SESSIONS) {
			send_batch(srv, ptrs, n, true, id, false);
			n = 0;
			bytes = 0;
		}
	}
	send_batch(srv, ptrs, n, true, id, true); /* may be empty */
	free(ptrs);
	free(infos);
}

/* ---- watch sets (sorted arrays of ids) ----------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool
watch_has(const struct gw_session *s, const char *id)
{
	return s->nwatch > 0 && bsearch(&id, s->watch, s->nwatch,
					sizeof(char *), cmp_str) != NULL;
}

int
gw_session_watch_add(struct gw_session *s, json_t *v)
{
	size_t n = json_array_size(v), k = 0, i, j;
	const char **cand = xmalloc(n * sizeof(*cand));
	json_t *e;

	json_array_foreach(v, i, e)
	{
		const char *id = json_string_value(e);
		if (!watch_has(s, id))
			cand[k++] = id;
	}
	qsort(cand, k, sizeof(*cand), cmp_str);
	for (i = j = 0; i < k; i++)
		if (j == 0 || strcmp(cand[j - 1], cand[i]) != 0)
			cand[j++] = cand[i];
	k = j;
	if (s->nwatch + k > GW_WATCH_MAX) {
		free(cand);
		return -1;
	}
	if (k > 0) {
		if (s->nwatch + k > s->capwatch) {
			s->capwatch = (uint32_t) (s->nwatch + k);
			s->watch = xrealloc(s->watch,
					    s->capwatch * sizeof(*s->watch));
		}
		for (i = 0; i < k; i++)
			s->watch[s->nwatch++] = xstrdup(cand[i]);
		qsort(s->watch, s->nwatch, sizeof(*s->watch), cmp_str);
	}
	free(cand);
	return 0;
}

void
gw_session_watch_all(struct gw_server *srv, struct gw_session *s, bool on)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Request rq = PRS__REQUEST__INIT;

	if (s->watch_all == on)
		return;
	s->watch_all = on;
	/* No reply is awaited: on the same stream as the announce, so the
	 * registry knows s; if it restarts meanwhile, the re-announce carries
	 * the flag instead. */
	rq.sid = s->sid;
	rq.op = on ? PRS__OP__OP_WATCH_ALL : PRS__OP__OP_UNWATCH_ALL;
	rq.user_id = s->user_id;
	env.body_case = PRS__ENVELOPE__BODY_REQUEST;
	env.request = &rq;
	gw_reg_send(srv, &env);
}

void
gw_session_watch_del(struct gw_session *s, json_t *v)
{
	bool *gone;
	size_t i, j;
	json_t *e;

	if (s->nwatch == 0)
		return;
	gone = xcalloc(s->nwatch, sizeof(*gone));
	json_array_foreach(v, i, e)
	{
		const char *id = json_string_value(e);
		char **hit = bsearch(&id, s->watch, s->nwatch, sizeof(char *),
				     cmp_str);
		if (hit != NULL)
			gone[hit - s->watch] = true;
	}
	for (i = j = 0; i < s->nwatch; i++) {
		if (gone[i])
			free(s->watch[i]);
		else
			s->watch[j++] = s->watch[i];
	}
	s->nwatch = (uint32_t) j;
	if (s->nwatch == 0) {
		free(s->watch);
		s->watch = NULL;
		s->capwatch = 0;
	}
	free(gone);
}

/* ---- ids, tokens, the wait for SessionAck ------------------------- */

void
gw_session_id_format(char *buf, size_t n, const char *gateway, uint64_t epoch,
		     uint64_t sid)
{
	snprintf(buf, n, "%s-%llx-%llu", gateway, (unsigned long long) epoch,
		 (unsigned long long) sid);
}

void
gw_session_token_watch(struct gw_server *srv, int64_t exp)
{
	if (exp > 0 && exp < srv->token_next)
		srv->token_next = exp;
}

void
gw_session_welcome(struct gw_server *srv, uint64_t sid)
{
	struct gw_session *s;

	HASH_FIND(hh, srv->sessions, &sid, sizeof(sid), s);
	if (s == NULL || !s->await_ack)
		return;
	s->await_ack = false;
	s->fe->acked(s);
}

void
gw_session_await(struct gw_server *srv, struct gw_session *s)
{
	s->await_ack = true;
	s->await_since = prs_mono_ms();
	if (srv->nawait == srv->capawait) {
		srv->capawait = srv->capawait ? srv->capawait * 2 : 64;
		srv->await = xrealloc(srv->await,
				      srv->capawait * sizeof(*srv->await));
	}
	srv->await[srv->nawait++] = s->sid;
}

void
gw_session_await_sweep(struct gw_server *srv, int64_t now, bool all)
{
	size_t i, k = 0;

	for (i = 0; i < srv->nawait; i++) {
		uint64_t sid = srv->await[i];
		struct gw_session *s;
		HASH_FIND(hh, srv->sessions, &sid, sizeof(sid), s);
		if (s == NULL || !s->await_ack)
			continue; /* welcomed or gone: drop */
		if (all ||
		    now - s->await_since >= srv->cfg->request_timeout_ms)
			gw_session_welcome(srv, sid);
		else
			srv->await[k++] = sid;
	}
	srv->nawait = k;
}

/* ---- registry → clients -------------------------------------------- */

/* Delivers one event (or typing) to its targets through each target's
 * frontend; each kind's frame is encoded the first time one of its
 * sessions is a target, then shared (gw_fe.h). */
static void
fan_out(struct gw_server *srv, const Prs__Event *ev, const Prs__Typing *t,
	const uint64_t *targets, size_t n)
{
	struct gw_frame frames[GW_FE_KINDS];
	int8_t built[GW_FE_KINDS] = {0}; /* 0 not yet, 1 built, -1 none */
	size_t i;

	for (i = 0; i < n; i++) {
		struct gw_session *s;
		const struct gw_fe *fe;
		uint64_t sid = targets[i];
		bool ok;

		HASH_FIND(hh, srv->sessions, &sid, sizeof(sid), s);
		if (s == NULL)
			continue;
		fe = s->fe;
		if (built[fe->kind] == 0) {
			int rv = -1;
			if (ev != NULL && fe->encode_event != NULL)
				rv = fe->encode_event(ev,
						      &srv->frames[fe->kind],
						      &frames[fe->kind]);
			else if (t != NULL && fe->encode_typing != NULL)
				rv = fe->encode_typing(t,
						       &srv->frames[fe->kind],
						       &frames[fe->kind]);
			built[fe->kind] = rv == 0 ? 1 : -1;
		}
		if (built[fe->kind] < 0)
			continue;
		ok = ev != NULL ? fe->deliver_event(s, &frames[fe->kind])
				: fe->deliver_typing(s, &frames[fe->kind]);
		if (ok) {
			srv->n_frames_out++;
			fe->flush(s);
		}
	}
}

static void
adopt_status(struct gw_server *srv, const Prs__Event *ev)
{
	const Prs__Presence *p = ev->presence;
	size_t i;

	if (p->status == PRS__STATUS__ST_OFFLINE)
		return;
	for (i = 0; i < ev->n_targets; i++) {
		struct gw_session *s;
		uint64_t sid = ev->targets[i];
		HASH_FIND(hh, srv->sessions, &sid, sizeof(sid), s);
		if (s == NULL)
			continue;
		/* auto-away is derived: the user's choice stays online */
		s->status = (uint8_t) (p->auto_away ? PRS__STATUS__ST_ONLINE
						    : p->status);
		s->status_set = true;
		s->status_at = p->status_at;
		free(s->text);
		s->has_text = p->has_text;
		s->text = p->has_text && p->text ? xstrdup(p->text) : NULL;
	}
}

void
gw_session_event(struct gw_server *srv, const Prs__Event *ev)
{
	int64_t arrived = prs_mono_us();

	if (ev->presence == NULL || ev->n_targets == 0 ||
	    ev->presence->user_id == NULL)
		return;
	if (ev->stamped_us > 0) {
		int64_t d = prs_now_us() - ev->stamped_us;
		prs_hist_observe(&srv->h_handoff,
				 d > 0 ? (double) d / 1e6 : 0);
	}
	/* A repair the clients already see is dropped (gw_view.h). */
	if (!gw_view_update(srv, ev->presence, ev->own) && ev->repair) {
		srv->n_repairs_dropped++;
		return;
	}
	if (ev->repair)
		srv->n_repairs++;
	srv->n_events++;
	if (ev->own)
		adopt_status(srv, ev);
	fan_out(srv, ev, NULL, ev->targets, ev->n_targets);
	if (srv->nev_arrived < GW_SEND_SAMPLES)
		srv->ev_arrived[srv->nev_arrived++] = arrived;
}

void
gw_session_typing(struct gw_server *srv, const Prs__Typing *t)
{
	if (t->n_targets == 0 || t->thread_id == NULL || t->user_id == NULL)
		return;
	fan_out(srv, NULL, t, t->targets, t->n_targets);
}

/* ---- v1.1: token lifetime and kicks -------------------------------- */

void
gw_session_token_expire(struct gw_server *srv, int64_t now)
{
	struct gw_session *s, *tmp;
	int64_t next = INT64_MAX;

	if (now < srv->token_next)
		return;
	HASH_ITER (hh, srv->sessions, s, tmp) {
		if (s->token_exp == 0)
			continue;
		if (s->token_exp > now) {
			if (s->token_exp < next)
				next = s->token_exp;
			continue;
		}
		prs_debug("session %llu of %s: token expired",
			  (unsigned long long) s->sid, s->user_id);
		s->fe->close(s, GW_END_TOKEN_EXPIRED);
	}
	srv->token_next = next;
}

void
gw_session_kick(struct gw_server *srv, const Prs__Kick *k)
{
	size_t i;

	for (i = 0; i < k->n_sids; i++) {
		struct gw_session *s;
		uint64_t sid = k->sids[i];

		HASH_FIND(hh, srv->sessions, &sid, sizeof(sid), s);
		if (s == NULL)
			continue;
		prs_info("session %llu of %s ended by an admin",
			 (unsigned long long) sid, s->user_id);
		s->fe->close(s, GW_END_KICKED);
	}
}

void
gw_session_lost(struct gw_server *srv)
{
	struct gw_session *s, *tmp;
	size_t n = 0;

	HASH_ITER (hh, srv->sessions, s, tmp) {
		if (s->fe->close(s, GW_END_MISSED))
			n++;
	}
	srv->n_resync_closed += n;
	prs_warn("closed %zu WebSockets with 1001: they reconnect and "
		 "resync",
		 n);
}
