/*
 * The session core: the sessions table, announcing sessions to the
 * registry, the wait for its SessionAck, token lifetimes, kicks, and
 * fan-out of registry events through each session's frontend (gw_fe.h).
 */
#ifndef GW_SESSION_H
#define GW_SESSION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_types.h"
#include "presence.pb-c.h"

struct gw_fe;

/* Most ids one session may watch. */
#define GW_WATCH_MAX 10000

/* A new session of user (copied) spoken to through fe; in the table,
 * not yet announced. The table owns it until gw_session_end. */
struct gw_session *gw_session_new(struct gw_server *srv, const char *user,
				  const struct gw_fe *fe);
/* Sends s to the registry (a SessionBatch of one). */
void gw_session_announce(struct gw_server *srv, const struct gw_session *s);
/* Ends s: SessionClose to the registry (clean = bye), then frees it. The
 * frontend has let go of s before. */
void gw_session_end(struct gw_server *srv, struct gw_session *s, bool clean);
/* s waits for the registry's SessionAck (then its frontend's acked op
 * runs), or for request_timeout_ms. */
void gw_session_await(struct gw_server *srv, struct gw_session *s);
/* Adds the ids of the JSON array v (already validated) to s's watches.
 * Returns -1, changing nothing, if the set would pass GW_WATCH_MAX. */
int gw_session_watch_add(struct gw_session *s, json_t *v);
/* Removes the ids of the JSON array v from s's watches. */
void gw_session_watch_del(struct gw_session *s, json_t *v);
/* s receives every user's changes (on) or no longer: the frontend decided
 * that it may (COMPAT: admins, or a gateway key). Set s->watch_all before
 * the first announce instead; either way every re-announce carries it, so
 * a change lost on the way is repaired. */
void gw_session_watch_all(struct gw_server *srv, struct gw_session *s,
			  bool on);
/* A session with a token lifetime (exp, wall ms; 0 = none): makes sure
 * the cron looks at it then. */
void gw_session_token_watch(struct gw_server *srv, int64_t exp);

/* Delivers a registry Event to its target sessions (each frontend kind's
 * frame built once); own events also update the targets' stored status. */
void gw_session_event(struct gw_server *srv, const Prs__Event *ev);
/* Delivers a registry Typing to its targets. */
void gw_session_typing(struct gw_server *srv, const Prs__Typing *t);
/* Acknowledges session sid if it waits for the registry (SessionAck). */
void gw_session_welcome(struct gw_server *srv, uint64_t sid);
/* Welcomes waiting sessions: all of them, or those waiting longer than
 * request_timeout_ms (the registry did not answer: it will get them in
 * the next re-announce). */
void gw_session_await_sweep(struct gw_server *srv, int64_t now, bool all);
/* Re-announces every live session (SessionBatch resync=true ... end),
 * answering the registry's Resync id. */
void gw_session_resync(struct gw_server *srv, uint64_t id);
/* Registry messages to us were lost: every frontend closes what it must
 * so that its clients reconnect to a fresh view. */
void gw_session_lost(struct gw_server *srv);

/* The session id clients see (welcome, admin session list). */
void gw_session_id_format(char *buf, size_t n, const char *gateway,
			  uint64_t epoch, uint64_t sid);
/* Cron: ends the sessions whose token expired by now (wall ms) through
 * their frontends; unclean, so grace applies. Cheap until the earliest
 * exp. */
void gw_session_token_expire(struct gw_server *srv, int64_t now);
/* Registry Kick: those sessions' frontends end them (clean). */
void gw_session_kick(struct gw_server *srv, const Prs__Kick *k);

#endif
