/*
 * Sessions: the client messages of PROTOCOL.md §3 on a WebSocket, the
 * sessions table (sid → session, O(1)), fan-out of registry events to
 * target sessions, re-announcing sessions on Resync, and HTTP heartbeat
 * sessions (§6).
 */
#ifndef GW_SESSION_H
#define GW_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "gw_types.h"
#include "presence.pb-c.h"

/* Most ids one session may watch. */
#define GW_WATCH_MAX 10000

/* Handles one complete text message from c (hello first, then the rest). */
void gw_session_message(struct gw_conn *c, const uint8_t *msg, size_t len);
/* Ends c's session: SessionClose to the registry (clean = bye), then the
 * session is freed and c->sess cleared. */
void gw_session_end(struct gw_conn *c, bool clean);
/* Delivers a registry Event to its target sessions (JSON and frame built
 * once); own events also update the targets' stored status. */
void gw_session_event(struct gw_server *srv, const Prs__Event *ev);
/* Sends the welcome of session sid if it waits for one (SessionAck). */
void gw_session_welcome(struct gw_server *srv, uint64_t sid);
/* Welcomes waiting sessions: all of them, or those waiting longer than
 * request_timeout_ms (the registry did not answer: it will get them in
 * the next re-announce). */
void gw_session_await_sweep(struct gw_server *srv, int64_t now, bool all);
/* Delivers a registry Typing to its targets. */
void gw_session_typing(struct gw_server *srv, const Prs__Typing *t);
/* Re-announces every live session (SessionBatch resync=true ... end),
 * answering the registry's Resync id. */
void gw_session_resync(struct gw_server *srv, uint64_t id);

/* HTTP heartbeat session of user (created or renewed for ttl; under auth
 * jwt it also ends at exp, wall ms, the exp of the token that renewed it
 * last); returns 0, or -1 when the registry link is not ready. */
int gw_session_http_heartbeat(struct gw_server *srv, const char *user,
			      int64_t exp);
/* Ends user's HTTP session at once (clean); no-op without one. */
void gw_session_http_logout(struct gw_server *srv, const char *user);
/* Cron: ends HTTP sessions whose ttl passed (unclean). */
void gw_session_http_expire(struct gw_server *srv, int64_t now);
/* Ends every HTTP session (unclean: shutdown, grace applies). */
void gw_session_http_end_all(struct gw_server *srv);

/* The session id clients see (welcome, admin session list). */
void gw_session_id_format(char *buf, size_t n, const char *gateway,
			  uint64_t epoch, uint64_t sid);
/* Cron: ends the sessions whose token expired by now (wall ms):
 * WebSockets get error token_expired and close 1008, HTTP sessions are
 * dropped; unclean, so grace applies. Cheap until the earliest exp. */
void gw_session_token_expire(struct gw_server *srv, int64_t now);
/* Registry Kick: closes those sessions' WebSockets 4001 "kicked" and ends
 * their HTTP sessions (clean). */
void gw_session_kick(struct gw_server *srv, const Prs__Kick *k);

#endif
