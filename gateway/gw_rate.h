/*
 * The per-client message rate limit of every frontend (PROTOCOL.md §7): a
 * token bucket of rate_limit_per_sec with burst rate_limit_burst, where a
 * refused message is answered in the frontend's own form, and refusals
 * that keep coming (no pause of GW_RATE_PAUSE_MS between two of them) for
 * rate_limit_close_ms end the client: one sending at twice the rate is
 * refused every other message and never pauses, even though some pass.
 */
#ifndef GW_RATE_H
#define GW_RATE_H

#include <stdint.h>

#include "gw_types.h"

/* No refusal this long ends a limited streak. */
#define GW_RATE_PAUSE_MS 1000

enum gw_rate_verdict {
	GW_RATE_OK,      /* take the message */
	GW_RATE_REFUSED, /* refuse it */
	GW_RATE_CLOSE,   /* refuse it: the streak lasted rate_limit_close_ms */
};

/* Counts one message at now (monotonic ms) against r under cfg's limits.
 * A refusal also counts in srv's n_rate_limited. */
enum gw_rate_verdict gw_rate_take(struct gw_rate *r, struct gw_server *srv,
				  int64_t now);
/* How long the current streak of refusals has lasted at now (for logs). */
int64_t gw_rate_streak(const struct gw_rate *r, int64_t now);

#endif
