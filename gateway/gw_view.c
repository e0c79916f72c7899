/*
 * The gateway's record of what its clients were shown (gw_view.h).
 *
 * One record per user, not per session: the registry sends every change
 * of a user to all of that user's audience sessions at once and in order,
 * so within one registry incarnation every audience session on this
 * gateway has seen the last event delivered about the user. Only events
 * update a record, never replies: during the registry's post-restart hold
 * a reply may already show a state whose event is still held, and that
 * event must not then be taken for a duplicate.
 *
 * The digest covers what makes an event (status, is_online, text, meta,
 * auto-away); since and last_seen change with it and are not compared. A
 * record costs about 100 bytes plus the id; records are kept for the life
 * of the process (bounded by the users this gateway's clients ever saw
 * change).
 */
#include "gw_view.h"

#include <stdlib.h>
#include <string.h>

#include "gw_reg.h"
#include "prs_util.h"

#define CHECK_IDS 1000 /* user ids per ViewCheck message */

struct gw_view {
	uint64_t pub, own; /* 0: nothing delivered yet */
	UT_hash_handle hh; /* srv->views, by id */
	char id[];
};

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t
digest(const Prs__Presence *p)
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned char f[4] = {(unsigned char) p->status, p->is_online,
			      p->has_text, p->auto_away};
	const char *text = p->has_text && p->text ? p->text : "";
	const char *meta = p->meta ? p->meta : "";

	h = fnv(h, f, sizeof(f));
	h = fnv(h, text, strlen(text) + 1);
	h = fnv(h, meta, strlen(meta) + 1);
	return h ? h : 1; /* 0 means "nothing delivered" */
}

static struct gw_view *
view_get(struct gw_server *srv, const char *id, bool *created)
{
	struct gw_view *v;
	size_t len = strlen(id);

	*created = false;
	HASH_FIND(hh, srv->views, id, len, v);
	if (v == NULL) {
		v = xcalloc(1, sizeof(*v) + len + 1);
		memcpy(v->id, id, len + 1);
		HASH_ADD_KEYPTR(hh, srv->views, v->id, len, v);
		*created = true;
	}
	return v;
}

static void check_send(struct gw_server *srv, char **ids, size_t n);

void
gw_view_note_reply(struct gw_server *srv, const Prs__Reply *rep,
		   bool to_session)
{
	char *ids[CHECK_IDS];
	size_t i, n = 0;

	for (i = 0; i < rep->n_users; i++) {
		const Prs__Presence *p = rep->users[i];
		struct gw_view *v;
		uint64_t d;
		bool created;
		/* invisible: an own view (the caller asked about itself),
		 * which is not what others were shown */
		if (p == NULL || p->user_id == NULL || p->user_id[0] == '\0' ||
		    p->status == PRS__STATUS__ST_INVISIBLE)
			continue;
		v = view_get(srv, p->user_id, &created);
		d = digest(p);
		if (!rep->held) {
			if (created)
				v->pub = d;
			continue;
		}
		if (!to_session || v->pub == d)
			continue;
		v->pub = 0; /* unknown: the check's answer is delivered */
		ids[n++] = v->id;
		if (n == CHECK_IDS) {
			check_send(srv, ids, n);
			n = 0;
		}
	}
	if (n > 0)
		check_send(srv, ids, n);
}

bool
gw_view_update(struct gw_server *srv, const Prs__Presence *p, bool own)
{
	bool created;
	struct gw_view *v = view_get(srv, p->user_id, &created);
	uint64_t d = digest(p), *slot;

	slot = own ? &v->own : &v->pub;
	if (*slot == d)
		return false;
	*slot = d;
	return true;
}

static void
check_send(struct gw_server *srv, char **ids, size_t n)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__ViewCheck vc = PRS__VIEW_CHECK__INIT;

	vc.user_ids = ids;
	vc.n_user_ids = n;
	env.body_case = PRS__ENVELOPE__BODY_VIEW_CHECK;
	env.view_check = &vc;
	gw_reg_send(srv, &env);
}

void
gw_view_check_send(struct gw_server *srv)
{
	char *ids[CHECK_IDS];
	struct gw_view *v, *tmp;
	size_t n = 0, total = 0;

	HASH_ITER (hh, srv->views, v, tmp) {
		ids[n++] = v->id;
		if (n == CHECK_IDS) {
			check_send(srv, ids, n);
			total += n;
			n = 0;
		}
	}
	if (n > 0)
		check_send(srv, ids, n);
	total += n;
	if (total > 0)
		prs_info("asked the registry to check %zu users' views",
			 total);
}

size_t
gw_view_count(const struct gw_server *srv)
{
	return HASH_COUNT(srv->views);
}

void
gw_view_free(struct gw_server *srv)
{
	struct gw_view *v, *tmp;

	HASH_ITER (hh, srv->views, v, tmp) {
		HASH_DEL(srv->views, v);
		free(v);
	}
}
