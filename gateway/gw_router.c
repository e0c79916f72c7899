/*
 * Where a route is declared: the table below maps a method set and a
 * path pattern to one handler per endpoint. A pattern is matched segment
 * by segment on the decoded path: "*" takes any one segment (the handler
 * validates ids, so a bad one answers 400, not 404), "+" any non-empty
 * one. The first route whose pattern and method match wins; a path that
 * some route matches with another method answers 405, before any
 * authentication; anything else 404. Paths that come from configuration
 * (SignalR hubs) are in a second table, matched by a function of their
 * module, after every fixed path.
 *
 * A request asking for an upgrade to something other than what its
 * route speaks is answered and the connection closed, since what follows
 * it is not HTTP.
 */
#include "gw_router.h"

#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "gw_fe_api.h"
#include "gw_fe_compat.h"
#include "gw_fe_signalr.h"
#include "gw_metrics.h"
#include "gw_upgrade.h"
#include "prs_util.h"

#define M(m)  (UINT64_C(1) << (m))
#define M_ANY UINT64_MAX

struct gw_route {
	uint64_t methods; /* M(HTTP_GET) | ... */
	const char *pattern;
	gw_route_fn fn;
	bool upgrade; /* the handler answers an Upgrade itself */
};

static const struct gw_route routes[] = {
	/* the v1 WebSocket: the handler refuses methods other than GET */
	{M_ANY, "/v1/ws", gw_upgrade_v1, true},
	{M_ANY, "/ws/presence/+", gw_upgrade_v1_user, true},
	/* operations */
	{M(HTTP_GET) | M(HTTP_HEAD), "/healthz", gw_metrics_healthz, false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/readyz", gw_metrics_readyz, false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/metrics", gw_metrics_serve, false},
	/* the v1 HTTP API */
	{M(HTTP_GET), "/v1/users/*/presence", gw_api_presence, false},
	{M(HTTP_POST), "/v1/presence/query", gw_api_query, false},
	{M(HTTP_GET), "/v1/online", gw_api_online, false},
	{M(HTTP_GET), "/v1/threads/*/members", gw_api_members_get, false},
	{M(HTTP_PUT), "/v1/threads/*/members", gw_api_members_set, false},
	{M(HTTP_POST), "/v1/threads/*/members", gw_api_members_add, false},
	{M(HTTP_DELETE), "/v1/threads/*/members/*", gw_api_members_del, false},
	{M(HTTP_GET), "/v1/users/*/sessions", gw_api_sessions, false},
	{M(HTTP_DELETE), "/v1/users/*/sessions", gw_api_kick, false},
	{M(HTTP_GET), "/v1/users/*/history", gw_api_history, false},
	{M(HTTP_POST), "/v1/heartbeat", gw_api_heartbeat, false},
	{M(HTTP_POST), "/v1/logout", gw_api_logout, false},
	/* drop-in endpoints (docs/MIGRATING.md); trailing slash optional */
	{M(HTTP_POST), "/api/chat/heartbeat", gw_compat_heartbeat, false},
	{M(HTTP_POST), "/api/chat/heartbeat/", gw_compat_heartbeat, false},
	{M(HTTP_GET), "/api/chat/online-users", gw_compat_online_users, false},
	{M(HTTP_GET), "/api/chat/online-users/", gw_compat_online_users,
	 false},
	{M(HTTP_GET), "/api/chat/rooms/online_users", gw_compat_online_users,
	 false},
	{M(HTTP_GET), "/api/chat/rooms/online_users/", gw_compat_online_users,
	 false},
	{M(HTTP_GET), "/admin/online-users", gw_compat_admin_online, false},
	{M(HTTP_GET), "/admin/online-users/", gw_compat_admin_online, false},
};

/* Routes at configured paths: match says whether pp is one. */
struct gw_route_conf {
	uint64_t methods;
	bool (*match)(const struct gw_server *srv, const struct gw_path *pp);
	gw_route_fn fn;
	bool upgrade;
};

static const struct gw_route_conf conf_routes[] = {
	/* SignalR hubs (signalr_paths) */
	{M(HTTP_POST) | M(HTTP_OPTIONS), gw_signalr_is_negotiate,
	 gw_signalr_negotiate, false},
	{M(HTTP_GET), gw_signalr_is_hub, gw_signalr_connect, true},
};

/* True if the decoded path pp has the segments of pattern. */
static bool
router_match(const char *pattern, const struct gw_path *pp)
{
	const char *s = pattern + 1; /* after the leading '/' */
	size_t i;

	for (i = 0; i < pp->n; i++) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t) (e - s) : strlen(s);

		if (n == 1 && s[0] == '*')
			;
		else if (n == 1 && s[0] == '+') {
			if (pp->len[i] == 0)
				return false;
		} else if (pp->len[i] != n || memcmp(pp->seg[i], s, n) != 0)
			return false;
		if (e == NULL)
			return i + 1 == pp->n;
		s = e + 1;
	}
	return false;
}

/* Calls fn if rq's method is one of methods (true), else notes that
 * the path is known. */
static bool
router_call(struct gw_conn *c, const struct gw_http1_req *rq,
	    const struct gw_path *pp, uint64_t methods, gw_route_fn fn,
	    bool upgrade, bool *known)
{
	if (rq->method < 0 || rq->method >= 64 ||
	    (methods & M(rq->method)) == 0) {
		*known = true;
		return false;
	}
	if (rq->upgrade && !upgrade)
		gw_http1_close_after(c);
	fn(c, rq, pp);
	return true;
}

static void
router_route(struct gw_conn *c, const struct gw_http1_req *rq,
	     const struct gw_path *pp)
{
	bool known = false;
	size_t i;

	for (i = 0; i < PRS_ARRAY_LEN(routes); i++) {
		const struct gw_route *r = &routes[i];

		if (router_match(r->pattern, pp) &&
		    router_call(c, rq, pp, r->methods, r->fn, r->upgrade,
				&known))
			return;
	}
	for (i = 0; i < PRS_ARRAY_LEN(conf_routes); i++) {
		const struct gw_route_conf *r = &conf_routes[i];

		if (r->match(c->srv, pp) &&
		    router_call(c, rq, pp, r->methods, r->fn, r->upgrade,
				&known))
			return;
	}
	if (rq->upgrade)
		gw_http1_close_after(c);
	if (known)
		gw_http1_respond_error(c, 405, NULL, "method not allowed",
				       NULL, false);
	else
		gw_http1_respond_error(c, 404, NULL, "no such endpoint", NULL,
				       false);
}

void
gw_router_dispatch(struct gw_conn *c, const struct gw_http1_req *rq)
{
	struct gw_path *pp = xcalloc(1, sizeof(*pp));

	pp->buf = xmalloc(rq->url_len + GW_PATH_SEGS_MAX + 1);
	if (gw_path_parse(rq->url, rq->url_len, pp) != 0)
		gw_http1_respond_error(c, 400, NULL,
				       "malformed request target", NULL, true);
	else
		router_route(c, rq, pp);
	free(pp->buf);
	free(pp);
}
