/*
 * The registry's answers to gateway Requests (proto/presence.proto, Op):
 * queries, lists of who is online, watches, membership. Every request is
 * checked before anything changes (ids validated, lists capped); the
 * reply goes to the asking gateway with the request's token.
 */
#include "reg.h"
#include "prs_util.h"

#include <stdlib.h>
#include <string.h>
#include <utlist.h>

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

void
reg_on_request(struct reg *r, struct reg_gw *gw, Prs__Request *q)
{
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
	reg_send_reply(r, gw, &b.rep);
	free(b.pv);
	free(b.rep.users);
	free(b.rep.user_ids);
}
