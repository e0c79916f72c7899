/*
 * What the registry's decisions put out, as one table of callbacks.
 *
 * reg_state.c decides and never sends: each outcome (an event for some
 * sessions of one gateway, a typing notice, a user whose row must be
 * stored, a history row, a membership write) goes through r->out. The link
 * layer fills the table with its NNG implementation (reg_link_out in
 * reg_link.c) and the unit tests with a recording one, so the state
 * machine runs without sockets and the link layer holds no presence rule
 * (as Redis's ConnectionType carries the handlers of the layer above).
 */
#ifndef REG_OUT_H
#define REG_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "presence.pb-c.h"

struct reg;
struct reg_gw;
struct reg_user;

struct reg_out {
	/* Presence p to the sessions sids[0..n) (n > 0) of gateway gw; own:
	 * p is the user's own view. p and sids stay the caller's and are
	 * valid for the call only. */
	void (*event_cb)(struct reg *r, struct reg_gw *gw,
			 const uint64_t *sids, size_t n,
			 const Prs__Presence *p, bool own);
	/* Typing of user in thread to the sessions sids[0..n) (n > 0) of gw;
	 * the strings stay the caller's. */
	void (*typing_cb)(struct reg *r, struct reg_gw *gw,
			  const uint64_t *sids, size_t n, const char *thread,
			  const char *user, bool active);
	/* u's stored row is out of date (u stays the registry's). */
	void (*dirty_cb)(struct reg *r, struct reg_user *u);
	/* The user's own status became status at `at` (ms); copied. */
	void (*history_cb)(struct reg *r, const char *user, int status,
			   int64_t at);
	/* user joined (add) or left a thread; copied, latest wins. */
	void (*memop_cb)(struct reg *r, const char *thread, const char *user,
			 bool add);
};

#endif
