/* The frontends' shared token bucket (gw_rate.h). */
#include "gw_rate.h"

enum gw_rate_verdict
gw_rate_take(struct gw_rate *r, struct gw_server *srv, int64_t now)
{
	const struct gw_config *cfg = srv->cfg;
	int64_t cap = cfg->rate_limit_burst * 1000;

	if (cfg->rate_limit_per_sec <= 0)
		return GW_RATE_OK;
	if (r->last == 0) {
		r->tokens = cap;
		r->last = now;
	}
	r->tokens += (now - r->last) * cfg->rate_limit_per_sec;
	r->last = now;
	if (r->tokens > cap)
		r->tokens = cap;
	if (r->tokens >= 1000) {
		r->tokens -= 1000;
		return GW_RATE_OK;
	}
	srv->n_rate_limited++;
	if (r->over_since == 0 || now - r->last_over >= GW_RATE_PAUSE_MS)
		r->over_since = now;
	r->last_over = now;
	return now - r->over_since >= cfg->rate_limit_close_ms
		       ? GW_RATE_CLOSE
		       : GW_RATE_REFUSED;
}

int64_t
gw_rate_streak(const struct gw_rate *r, int64_t now)
{
	return r->over_since != 0 ? now - r->over_since : 0;
}
