/*
 * The registry's state and the functions that change it.
 *
 * The registry is the only place where presence is decided. Everything
 * here runs on one libev loop; NNG threads never touch this state.
 * Ownership: the registry (struct reg) owns users, threads, gateways and
 * sessions; a session belongs to exactly one gateway and one user; watch
 * and membership links are nodes owned by both ends and freed with
 * whichever end goes first.
 */
#ifndef REG_H
#define REG_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#define uthash_fatal(msg) abort()
#include <uthash.h>

#include "presence.pb-c.h"
#include "prs_link.h"
#include "reg_out.h"

#define REG_MAX_WATCHES  10000 /* per session (PROTOCOL.md §3) */
#define REG_MAX_IDS      1000  /* user ids per request */
#define REG_HISTORY_MAX  100000
#define REG_ROSTER_MAX   1024  /* gateway names loaded from the store */
#define REG_AUDIENCE_MAX 10000 /* users in an OP_LIST_AUDIENCE reply */

/* Which presence_events rows the registry emits (the `history` key). */
enum reg_history {
	REG_HISTORY_ALL = 0,     /* every change of the user's own status */
	REG_HISTORY_TRANSITIONS, /* only to or from offline */
	REG_HISTORY_OFF,
};

struct reg_config {
	char *url;
	char *persister_url;
	char *name;
	char *audience; /* "threads" or "all" */
	int64_t offline_grace_ms;
	int64_t resync_window_ms;
	int64_t typing_ttl_ms;
	int64_t gateway_timeout_ms;
	int64_t batch_retry_ms;
	int64_t online_refresh_ms;
	int64_t write_window_ms; /* at most one WriteBatch this often */
	char *history;           /* "all", "transitions" or "off" */
	char *metrics_address;   /* host:port of /metrics; empty = off */
	int history_mode;        /* enum reg_history, parsed from history */
	bool debug;
};

struct reg_user;
struct reg_thread;
struct reg_session;
struct reg_hquery;

/* Session S watches user U: one node, in S's table and U's list. */
struct reg_watch {
	struct reg_session *s;
	struct reg_user *u;
	UT_hash_handle hh;               /* in s->watches, keyed by u */
	struct reg_watch *uprev, *unext; /* in u->watchers */
};

/* User U is a member of thread T. */
struct reg_member {
	struct reg_thread *t;
	struct reg_user *u;
	UT_hash_handle hh_t; /* in t->members, keyed by u */
	UT_hash_handle hh_u; /* in u->threads, keyed by t */
};

struct reg_thread {
	char *id;
	struct reg_member *members;
	UT_hash_handle hh;
};

struct reg_user {
	char *id;
	int status; /* the chosen status (ONLINE, AWAY, DND, INVISIBLE) */
	int64_t status_at; /* when it was chosen (ms; 0 = loaded, unknown) */
	char *text;        /* NULL = none */
	char *meta;        /* JSON object text, NULL = none */
	int64_t last_seen; /* ms, 0 = never */
	int64_t since_pub; /* when what others see last changed */
	int64_t since_own; /* when what the user's own sessions see changed */
	int nsessions;
	struct reg_session *sessions; /* list through s->uprev/unext */
	bool in_grace; /* last session ended uncleanly; offline at deadline */
	int64_t grace_last_seen;
	ev_timer grace;
	bool pending; /* persisted online, waiting for a gateway re-announce */
	bool dirty;   /* has a write waiting for the persister */
	uint64_t mark; /* pass that last listed this user */
	struct reg_user *dirty_next;
	struct reg_held *held;      /* changed during the hold */
	struct reg_user *held_next; /* in reg->held_head */
	struct reg_member *threads;
	struct reg_watch *watchers;
	UT_hash_handle hh;
	int nidle;        /* v1.1: sessions whose device is idle */
	bool loaded_auto; /* v1.1: stored as auto-away (while pending) */
	bool grace_idle;  /* v1.1: the last session was idle (in grace) */
};

/* What others and the user's own sessions saw of a user before the first
 * change during a hold (see reg_hold_release); owned copies. */
struct reg_held {
	int ps, os;
	bool po, oo;
	char *ptext, *otext, *meta;
	bool pa, oa;   /* v1.1: auto-away as others / own sessions saw it */
	bool own_told; /* a session saw its own change (its reply) meanwhile */
};

struct reg_gw;

struct reg_session {
	uint64_t sid;
	struct reg_gw *gw;
	struct reg_user *user;
	struct reg_watch *watches;
	uint64_t mark; /* audience pass that last chose this session */
	bool stale;    /* not yet re-announced in a running resync */
	struct reg_session *uprev, *unext;
	UT_hash_handle hh; /* in gw->sessions, keyed by sid */
	bool idle;         /* v1.1: the client reported its device idle */
	int64_t since;     /* v1.1: ms since epoch when the session began */
	char *device;      /* v1.1: as the hello named it, NULL = none */
	bool all;       /* receives every user's changes (r->all_sessions) */
	size_t all_idx; /* its place in r->all_sessions while all */
	/* an all-users session of no user (reg_session_open): user is a
	 * placeholder, the session is in no user's list */
	bool observer;
};

struct reg_gw {
	char *name;
	uint64_t epoch;
	char *address;
	struct prs_peer *peer;
	uint32_t pipe;
	int64_t last_heard; /* monotonic ms */
	uint64_t next_seq;
	bool synced;         /* Resync sent for this incarnation */
	bool resync_done;    /* and its resync_end arrived */
	uint64_t resync_id;  /* of the Resync last sent */
	int64_t resync_sent; /* monotonic ms; repeated until answered */
	unsigned resync_tries;
	char **vcheck; /* ViewCheck user ids waiting for the hold to end */
	size_t nvcheck, capvcheck;
	struct reg_session *sessions;
	uint64_t *tgt; /* targets gathered by the current audience pass */
	size_t ntgt, tgtcap;
	UT_hash_handle hh; /* in reg->gws, keyed by name */
};

/* A pending membership write, coalesced per (thread, user). */
struct reg_memop {
	char *key; /* thread id, NUL, user id */
	size_t keylen;
	bool add;
	UT_hash_handle hh;
};

struct reg_typing {
	char *key; /* thread id, NUL, user id */
	size_t keylen;
	int64_t expires; /* monotonic ms */
	UT_hash_handle hh;
};

struct reg {
	struct reg_config cfg;
	struct ev_loop *loop;
	uint64_t epoch;
	int64_t started_ms;
	struct prs_inbox *inbox;
	struct prs_peer *pst;
	uint64_t pst_epoch;
	uint64_t pst_next_seq;
	int64_t pst_last_heard; /* monotonic ms */
	bool ready;
	bool loading;
	int64_t load_sent;       /* monotonic ms of the last LoadRequest */
	uint64_t load_id;        /* of the load running; new after a gap */
	uint32_t load_next;      /* index of the next LoadChunk expected */
	int64_t resync_deadline; /* monotonic ms; 0 when no window runs */
	int64_t ready_at;        /* monotonic ms */
	bool hold;               /* events held until gateways re-announced */
	size_t npending;         /* users loaded as online */
	/* The gateway roster (docs/DESIGN.md, "Links"): names loaded from
	 * the store that have not said Hello to this registry yet; the
	 * resync window waits for them (at most gateway_timeout_ms more). */
	char **roster_wait;
	size_t nroster_wait;
	size_t nroster_loaded; /* > 0: the stored roster was not empty */
	bool roster_dirty;     /* the stored roster is to be rewritten */
	bool window_waiting;   /* logged that the window waits for gateways */
	struct reg_user *held_head;
	struct reg_hquery *hq_head, *hq_tail; /* v1.1: history queries */
	size_t nhq;
	uint64_t hq_seq;
	bool stopping;
	bool no_peers; /* open no sockets to gateways (fuzz harness) */
	const struct reg_out *out; /* where decisions go (reg_out.h) */

	struct reg_user *users;
	struct reg_thread *threads;
	struct reg_gw *gws;
	struct reg_typing *typing;
	uint64_t mark;
	/* While set, events go only to this gateway's sessions (a view
	 * repair), and carry the repair flag (the gateway drops what its
	 * clients already see). */
	struct reg_gw *only_gw;
	bool repair;
	/* While set, events say is_online changed (Event.online_changed). */
	bool online_changed;
	/* Sessions that receive every user's changes (all_users), in an
	 * array rather than a list: an audience pass walks all of them for
	 * every change, and independent loads overlap where a list's pointer
	 * chase waits on each miss. */
	struct reg_session **all_sessions;
	size_t nall, allcap;

	/* persistence */
	int64_t version;
	struct reg_user *dirty_head;
	size_t ndirty;      /* users on the dirty list */
	int64_t write_last; /* monotonic ms of the last new WriteBatch */
	struct reg_memop *memops;
	Prs__HistoryRow **history;
	size_t nhistory, historycap;
	uint64_t batch_seq;
	Prs__WriteBatch *inflight;
	int64_t inflight_sent; /* monotonic ms */
	int64_t refresh_last;  /* monotonic ms of the last online refresh */

	/* metrics (reg_metrics.c); every count is kept in O(1) */
	struct prs_metrics *metrics;
	size_t nusers_online; /* users with at least one live session */
	size_t nwatches;      /* watch links (session -> user) */
	size_t nmembers;      /* thread memberships */
	uint64_t n_events_sent, n_typing_sent;
	uint64_t n_batches, n_batches_failed, n_batch_resends;
	int64_t dirty_since;    /* monotonic ms: the oldest unsent write */
	int64_t inflight_since; /* same for the batch in flight; 0 = none */

	ev_timer cron;
	ev_prepare before_sleep;
	int64_t loop_at; /* monotonic ms: the loop last went to sleep */
	ev_timer stop_timer;
	ev_signal sigint, sigterm;
};

/* Fills cfg with the documented defaults (every key of --help). */
void reg_config_defaults(struct reg_config *cfg);
/* The enum reg_history of a `history` value, or -1. */
int reg_history_parse(const char *s);

/* reg_state.c: presence decisions */
struct reg_user *reg_user_get(struct reg *r, const char *id);
struct reg_user *reg_user_find(struct reg *r, const char *id, size_t len);
void reg_session_open(struct reg *r, struct reg_gw *gw,
		      const Prs__SessionInfo *info, bool resync);
void reg_session_close(struct reg *r, struct reg_session *s, bool clean);
struct reg_session *reg_session_find(struct reg_gw *gw, uint64_t sid);
/* Applies a status chosen at `at` (ms; 0 = now) unless a newer one is
 * held. */
void reg_status_set(struct reg *r, struct reg_session *s, int status,
		    const char *text, int64_t at);
int reg_watch_add(struct reg *r, struct reg_session *s, struct reg_user *u);
void reg_watch_del(struct reg *r, struct reg_session *s, struct reg_user *u);
/* reg_audience.c: emit u's view as others see it to its audience, and
 * its own view to its sessions but origin (NULL: all of them). */
void reg_emit_others(struct reg *r, struct reg_user *u, int64_t now);
void reg_emit_own(struct reg *r, struct reg_user *u,
		  struct reg_session *origin, int64_t now);
/* s receives every user's changes (on), or no longer; idempotent. */
void reg_watch_all(struct reg *r, struct reg_session *s, bool on);
void reg_member_add(struct reg *r, const char *thread, const char *user,
		    bool persist);
void reg_member_del(struct reg *r, struct reg_thread *t, struct reg_user *u,
		    bool persist);
struct reg_thread *reg_thread_find(struct reg *r, const char *id);
bool reg_is_member(struct reg_thread *t, struct reg_user *u);
bool reg_user_online(const struct reg_user *u);
/* Fills p (pointing into u) with the user as seen by others or by own. */
void reg_view(const struct reg_user *u, bool own, int64_t now,
	      Prs__Presence *p);
void reg_typing(struct reg *r, struct reg_session *s, const char *thread,
		bool active);
void reg_cron_typing(struct reg *r);
void reg_resync_window_end(struct reg *r);
/* Emits, once, what changed for each user during the hold. */
void reg_hold_release(struct reg *r);
/* Sends gw the registry's current views of user id (others' and own) as
 * repair events to the audience sessions of that user on gw. */
void reg_view_repair(struct reg *r, struct reg_gw *gw, const char *id);
/* Marks every online user dirty with last_seen = now (online_refresh_ms). */
void reg_online_refresh(struct reg *r);
void reg_user_loaded(struct reg *r, const Prs__PresenceRow *row);
/* Frees all state at exit (gateways, sessions, users, threads); gateway
 * peers must be closed (and NULL) by then. */
void reg_state_free(struct reg *r);

/* v1.1: the client of s reported its device idle (or active again);
 * auto-away follows (one event per visible change). */
void reg_session_idle(struct reg *r, struct reg_session *s, bool idle);
/* v1.1: a user without sessions whose grace runs goes offline now (an
 * admin ended the user's sessions); no-op otherwise. */
void reg_user_grace_end(struct reg *r, struct reg_user *u);

/* reg_admin.c (v1.1): the admin API's requests. OP_SESSIONS and OP_KICK
 * are answered at once; OP_HISTORY goes to the persister and is answered
 * when it replies (reg_history_reply) or, failing that, unavailable. */
void reg_admin_request(struct reg *r, struct reg_gw *gw, Prs__Request *q);
/* OP_ONLINE_SESSIONS (admin, drop-in endpoints): every online user with
 * its live session count, answered at once. */
void reg_admin_online(struct reg *r, struct reg_gw *gw, const Prs__Request *q);
void reg_history_reply(struct reg *r, const Prs__HistoryReply *hr);
/* Before sleep: sends the history queries whose preceding writes have
 * gone to the persister (so that they see them). */
void reg_history_pump(struct reg *r);
/* Cron: answers unavailable to queries the persister did not answer. */
void reg_history_tick(struct reg *r);
/* The persister restarted: queries sent to it will not be answered. */
void reg_history_fail_sent(struct reg *r);
void reg_admin_free(struct reg *r);

/* reg_link.c: messages */
/* v1.1: a Reply, or a Kick of sids, to gateway gw. */
void reg_send_reply(struct reg *r, struct reg_gw *gw, Prs__Reply *rep);
void reg_send_kick(struct reg *r, struct reg_gw *gw, uint64_t *sids, size_t n);
/* v1.1: the persister looks alive (a message within the last 2 s). */
bool reg_pst_alive(const struct reg *r);
/* v1.1: the id of the write batch that will carry what is pending now
 * (the last one sent when nothing is pending). */
uint64_t reg_write_horizon(const struct reg *r);
/* The outputs over NNG and into the persister's write queues: what
 * r->out points to in the daemon, the fuzz harness and the bench. */
extern const struct reg_out reg_link_out;
/* Handles one decoded envelope from any peer (the inbox callback; arg is
 * the struct reg). Also the entry point of the fuzz harness. */
void reg_link_recv(void *arg, Prs__Envelope *env, uint32_t pipe);
int reg_link_start(struct reg *r);
void reg_link_stop(struct reg *r);
void reg_gw_dead(struct reg *r, struct reg_gw *gw);
/* Frees the view checks gw has waiting for the hold to end. */
void reg_gw_vcheck_free(struct reg_gw *gw);
void reg_cron(struct reg *r);
void reg_flush_writes(struct reg *r);
/* The roster: a loaded name to wait for; a name that said Hello (true if
 * it was waited for); all names given up (the window's end); freed. */
void reg_roster_wait_add(struct reg *r, const char *name);
bool reg_roster_heard(struct reg *r, const char *name);
void reg_roster_give_up(struct reg *r);

/* The state is loaded: tells systemd, asks every gateway to re-announce. */
void reg_link_serving(struct reg *r);

/* reg_metrics.c: serves /metrics on cfg.metrics_address (empty: off).
 * Returns 0, or -1 when the address cannot be used (logged). */
int reg_metrics_start(struct reg *r);
void reg_metrics_stop(struct reg *r);
/* Seconds since the oldest change not yet committed by the persister was
 * made (0 when everything is stored). */
double reg_write_lag(const struct reg *r, int64_t now_mono_ms);

/* reg_query.c: answers a gateway's Request (checked first). */
void reg_on_request(struct reg *r, struct reg_gw *gw, Prs__Request *q);
/* reg_pst.c: the persister link. Asks for the state load (load_id); the
 * registry's reg_out callbacks for writes; handles what the persister
 * sends (load chunks, acks). */
void reg_pst_load(struct reg *r);
void reg_pst_dirty_cb(struct reg *r, struct reg_user *u);
void reg_pst_history_cb(struct reg *r, const char *user, int status,
			int64_t at);
void reg_pst_memop_cb(struct reg *r, const char *thread, const char *user,
		      bool add);
void reg_on_persister(struct reg *r, Prs__Envelope *env);
/* Cron: repeats an unanswered load or an unacknowledged batch to a live
 * persister. */
void reg_pst_cron(struct reg *r, int64_t now);
/* Frees what waits to be written (at stop). */
void reg_pst_free(struct reg *r);

#endif
