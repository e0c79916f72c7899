/*
 * The admin API of v1.1 (PROTOCOL.md §6): a user's sessions, ending them,
 * and the user's stored presence history.
 *
 * Sessions and kicks are answered from the registry's own state. A kick
 * ends the sessions here first, clean (as a bye: the user goes offline at
 * once, one event, and a grace still running for the user ends too), then
 * tells each gateway to close them (Kick), and answers last, so that the
 * caller's {"ended": N} follows the events it caused.
 *
 * History lives in PostgreSQL, which only the persister reads, so a query
 * travels registry -> persister -> registry under our own query id, kept
 * here with the asking gateway (name and epoch: a restarted gateway must
 * not get its predecessor's answer) and its request id. A query waits
 * until the write batch carrying the history rows pending when it came
 * has gone out: the persister works in arrival order, so a client that
 * changed its status and then asks sees that change. Without a live
 * persister, with HQ_MAX queries already waiting, or without an answer
 * within HISTORY_WAIT_MS (the gateway gives up sooner, after its
 * request_timeout_ms) the answer is unavailable. Everything from the
 * persister is checked again: row count, statuses.
 */
#include "reg.h"
#include "prs_util.h"

#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#define HQ_MAX            256
#define HISTORY_WAIT_MS   10000
#define HISTORY_LIMIT_MAX 1000

struct reg_hquery {
	uint64_t id;
	char *gw_name;
	uint64_t gw_epoch;
	uint64_t req; /* the gateway's request id */
	char *user;
	int64_t since;
	uint32_t limit;
	uint64_t after_batch; /* send once this write batch has gone out */
	bool sent;
	int64_t deadline; /* monotonic ms */
	struct reg_hquery *next;
};

static void
reply_error(struct reg *r, struct reg_gw *gw, uint64_t req, const char *code,
	    const char *msg)
{
	Prs__Reply rep = PRS__REPLY__INIT;

	rep.req = req;
	rep.error = (char *) code;
	rep.message = (char *) msg;
	reg_send_reply(r, gw, &rep);
}

/* ---- sessions and kicks ------------------------------------------- */

static void
req_sessions(struct reg *r, struct reg_gw *gw, const Prs__Request *q,
	     struct reg_user *u)
{
	Prs__Reply rep = PRS__REPLY__INIT;
	Prs__SessionEntry *ev = NULL, **pv = NULL;
	struct reg_session *s;
	size_t n = 0, cap = u != NULL ? (size_t) u->nsessions : 0;

	rep.req = q->req;
	if (cap > 0) {
		ev = xcalloc(cap, sizeof(*ev));
		pv = xcalloc(cap, sizeof(*pv));
		DL_FOREACH2 (u->sessions, s, unext) {
			Prs__SessionEntry *e = &ev[n];
			if (n == cap)
				break;
			prs__session_entry__init(e);
			e->sid = s->sid;
			e->gateway = s->gw->name;
			e->gateway_epoch = s->gw->epoch;
			e->device = s->device != NULL ? s->device : "";
			e->since = s->since;
			e->idle = s->idle;
			pv[n++] = e;
		}
	}
	rep.sessions = pv;
	rep.n_sessions = n;
	reg_send_reply(r, gw, &rep);
	free(ev);
	free(pv);
}

struct kicked {
	struct reg_gw *gw;
	uint64_t sid;
};

static int
kicked_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) ((const struct kicked *) a)->gw;
	uintptr_t y = (uintptr_t) ((const struct kicked *) b)->gw;

	return x < y ? -1 : x > y;
}

static void
req_kick(struct reg *r, struct reg_gw *gw, const Prs__Request *q,
	 struct reg_user *u)
{
	Prs__Reply rep = PRS__REPLY__INIT;
	struct kicked *k = NULL;
	uint64_t *sids = NULL;
	struct reg_session *s;
	size_t n = 0, i, j;

	if (u != NULL && u->nsessions > 0) {
		k = xcalloc((size_t) u->nsessions, sizeof(*k));
		sids = xcalloc((size_t) u->nsessions, sizeof(*sids));
		DL_FOREACH2 (u->sessions, s, unext) {
			if (n == (size_t) u->nsessions)
				break;
			k[n].gw = s->gw;
			k[n].sid = s->sid;
			n++;
		}
		/* Clean, as a bye: the last one takes the user offline. */
		while (u->sessions != NULL)
			reg_session_close(r, u->sessions, true);
	}
	if (u != NULL)
		reg_user_grace_end(r, u);
	/* One Kick per gateway. Gateways outlive this function. */
	if (n > 1)
		qsort(k, n, sizeof(*k), kicked_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && k[j].gw == k[i].gw; j++)
			sids[j - i] = k[j].sid;
		reg_send_kick(r, k[i].gw, sids, j - i);
	}
	if (n > 0)
		prs_info("%s: %zu sessions ended by an admin",
			 u != NULL ? u->id : "?", n);
	free(k);
	free(sids);
	rep.req = q->req;
	rep.ended = (uint32_t) n;
	reg_send_reply(r, gw, &rep);
}

/* ---- online users with their session counts ------------------------ */

void
reg_admin_online(struct reg *r, struct reg_gw *gw, const Prs__Request *q)
{
	Prs__Reply rep = PRS__REPLY__INIT;
	Prs__Presence *pv = NULL, **pp = NULL;
	uint32_t *conns = NULL;
	struct reg_user *u, *ut;
	size_t n = 0, cap = 0;
	int64_t now = prs_now_ms();

	if (!q->admin) {
		reply_error(r, gw, q->req, "forbidden", "admin only");
		return;
	}
	HASH_ITER (hh, r->users, u, ut) {
		if (!reg_user_online(u))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			pv = xrealloc(pv, cap * sizeof(*pv));
			conns = xrealloc(conns, cap * sizeof(*conns));
		}
		reg_view(u, false, now, &pv[n]);
		conns[n] = u->nsessions > 0 ? (uint32_t) u->nsessions : 0;
		n++;
	}
	pp = xcalloc(n ? n : 1, sizeof(*pp));
	for (size_t i = 0; i < n; i++)
		pp[i] = &pv[i];
	rep.req = q->req;
	rep.held = r->hold;
	rep.users = pp;
	rep.n_users = n;
	rep.connections = conns;
	rep.n_connections = n;
	reg_send_reply(r, gw, &rep);
	free(pv);
	free(pp);
	free(conns);
}

/* ---- history ------------------------------------------------------ */

static void
hq_free(struct reg_hquery *h)
{
	free(h->gw_name);
	free(h->user);
	free(h);
}

static void
hq_unlink(struct reg *r, struct reg_hquery *h)
{
	struct reg_hquery **pp = &r->hq_head, *prev = NULL;

	while (*pp != NULL && *pp != h) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = h->next;
	if (r->hq_tail == h)
		r->hq_tail = prev;
	r->nhq--;
}

/* The gateway that asked, if it is still the same incarnation. */
static struct reg_gw *
hq_gateway(struct reg *r, const struct reg_hquery *h)
{
	struct reg_gw *gw;

	HASH_FIND_STR(r->gws, h->gw_name, gw);
	return gw != NULL && gw->epoch == h->gw_epoch ? gw : NULL;
}

/* Answers h unavailable and forgets it. */
static void
hq_fail(struct reg *r, struct reg_hquery *h, const char *why)
{
	struct reg_gw *gw = hq_gateway(r, h);

	hq_unlink(r, h);
	if (gw != NULL)
		reply_error(r, gw, h->req, "unavailable", why);
	hq_free(h);
}

static void
req_history(struct reg *r, struct reg_gw *gw, const Prs__Request *q,
	    const char *target)
{
	struct reg_hquery *h;

	if (!q->admin && strcmp(q->user_id, target) != 0) {
		reply_error(r, gw, q->req, "forbidden",
			    "only an admin or the user may read the history");
		return;
	}
	if (q->limit < 1 || q->limit > HISTORY_LIMIT_MAX || q->since < 0) {
		reply_error(r, gw, q->req, "bad_request",
			    "limit must be 1 to 1000 and since not negative");
		return;
	}
	if (r->pst == NULL || !reg_pst_alive(r)) {
		reply_error(r, gw, q->req, "unavailable",
			    "the persister is not reachable");
		return;
	}
	if (r->nhq >= HQ_MAX) {
		reply_error(r, gw, q->req, "unavailable",
			    "too many history queries waiting");
		return;
	}
	h = xcalloc(1, sizeof(*h));
	h->id = ++r->hq_seq;
	h->gw_name = xstrdup(gw->name);
	h->gw_epoch = gw->epoch;
	h->req = q->req;
	h->user = xstrdup(target);
	h->since = q->since;
	h->limit = q->limit;
	h->after_batch = reg_write_horizon(r);
	h->deadline = prs_mono_ms() + HISTORY_WAIT_MS;
	if (r->hq_tail != NULL)
		r->hq_tail->next = h;
	else
		r->hq_head = h;
	r->hq_tail = h;
	r->nhq++;
}

void
reg_history_pump(struct reg *r)
{
	struct reg_hquery *h;

	if (r->hq_head == NULL || r->pst == NULL)
		return;
	for (h = r->hq_head; h != NULL; h = h->next) {
		Prs__Envelope env = PRS__ENVELOPE__INIT;
		Prs__HistoryQuery hq = PRS__HISTORY_QUERY__INIT;

		if (h->sent || r->batch_seq < h->after_batch)
			continue;
		hq.query = h->id;
		hq.user_id = h->user;
		hq.since = h->since;
		hq.limit = h->limit;
		env.body_case = PRS__ENVELOPE__BODY_HISTORY_QUERY;
		env.history_query = &hq;
		prs_peer_send(r->pst, &env);
		h->sent = true;
	}
}

void
reg_history_tick(struct reg *r)
{
	struct reg_hquery *h, *next;
	int64_t now = prs_mono_ms();
	bool alive = reg_pst_alive(r);

	for (h = r->hq_head; h != NULL; h = next) {
		next = h->next;
		if (!alive)
			hq_fail(r, h, "the persister is not reachable");
		else if (now >= h->deadline)
			hq_fail(r, h, "the persister did not answer in time");
	}
}

void
reg_history_fail_sent(struct reg *r)
{
	struct reg_hquery *h, *next;

	for (h = r->hq_head; h != NULL; h = next) {
		next = h->next;
		if (h->sent)
			hq_fail(r, h, "the persister restarted");
	}
}

void
reg_history_reply(struct reg *r, const Prs__HistoryReply *hr)
{
	Prs__Reply rep = PRS__REPLY__INIT;
	Prs__HistoryRow **rows;
	struct reg_hquery *h;
	struct reg_gw *gw;
	size_t i, n = 0;

	for (h = r->hq_head; h != NULL; h = h->next)
		if (h->id == hr->query && h->sent)
			break;
	if (h == NULL) {
		prs_debug("history reply %llu: no such query (late?)",
			  (unsigned long long) hr->query);
		return;
	}
	if (hr->error[0] != '\0') {
		prs_warn("history of %s: the persister failed: %s", h->user,
			 hr->error);
		hq_fail(r, h, "the history could not be read");
		return;
	}
	hq_unlink(r, h);
	gw = hq_gateway(r, h);
	if (gw == NULL) {
		hq_free(h);
		return;
	}
	rows = xcalloc(hr->n_rows > 0 ? hr->n_rows : 1, sizeof(*rows));
	for (i = 0; i < hr->n_rows && n < h->limit; i++) {
		Prs__HistoryRow *row = hr->rows[i];
		if (row->status < PRS__STATUS__ST_OFFLINE ||
		    row->status > PRS__STATUS__ST_INVISIBLE)
			continue;
		rows[n++] = row;
	}
	rep.req = h->req;
	rep.history = rows;
	rep.n_history = n;
	reg_send_reply(r, gw, &rep);
	free(rows);
	hq_free(h);
}

/* ---- entry -------------------------------------------------------- */

void
reg_admin_request(struct reg *r, struct reg_gw *gw, Prs__Request *q)
{
	const char *target;
	struct reg_user *u;

	if (q->n_user_ids != 1 ||
	    !prs_id_valid(q->user_ids[0], strlen(q->user_ids[0]))) {
		reply_error(r, gw, q->req, "bad_request",
			    "one valid user id is required");
		return;
	}
	target = q->user_ids[0];
	if (q->op == PRS__OP__OP_HISTORY) {
		req_history(r, gw, q, target);
		return;
	}
	if (!q->admin) {
		reply_error(r, gw, q->req, "forbidden", "admin only");
		return;
	}
	u = reg_user_find(r, target, strlen(target));
	if (q->op == PRS__OP__OP_SESSIONS)
		req_sessions(r, gw, q, u);
	else
		req_kick(r, gw, q, u);
}

void
reg_admin_free(struct reg *r)
{
	while (r->hq_head != NULL) {
		struct reg_hquery *h = r->hq_head;
		r->hq_head = h->next;
		hq_free(h);
	}
	r->hq_tail = NULL;
	r->nhq = 0;
}
