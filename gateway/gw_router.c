/*
 * Where a route is declared: the table below maps a method set and a
 * path pattern to one handler per endpoint. A pattern is matched segment
 * by segment on the decoded path: "*" takes any one segment (the handler
 * validates ids, so a bad one answers 400, not 404), "+" any non-empty
 * one; a path that configuration names (socketio_path, signalr_paths)
 * has a match function instead of a pattern. The first route whose
 * pattern and method match wins; a path that some route matches with
 * another method answers 405, before any authentication; anything else
 * 404.
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
#include "gw_fe_sio.h"
#include "gw_fe_signalr.h"
#include "gw_metrics.h"
#include "gw_static.h"
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
	/* static files (gw_static.c): the SDK, the demo, the admin console.
	 * Every file served is listed (and in docs/openapi.yaml): a new one
	 * in web/ needs its line here. */
	{M(HTTP_GET) | M(HTTP_HEAD), "/v1/client.js", gw_static_serve, false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/v1/client.d.ts", gw_static_serve,
	 false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/demo", gw_static_serve, false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/demo/", gw_static_serve, false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/demo/demo.js", gw_static_serve, false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/demo/demo.css", gw_static_serve, false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/admin", gw_static_serve, false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/admin/", gw_static_serve, false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/admin/admin.js", gw_static_serve,
	 false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/admin/admin.css", gw_static_serve,
	 false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/ui/ui.js", gw_static_serve, false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/ui/base.css", gw_static_serve, false},
	{M(HTTP_GET) | M(HTTP_HEAD), "/ui/logo.svg", gw_static_serve, false},
};

static bool
router_sio_path(const struct gw_config *cfg, const struct gw_path *pp)
{
	return gw_path_is(pp, cfg->socketio_path);
}

/* Endpoints at paths the configuration names, looked at first. */
static const struct gw_cfg_route {
	struct gw_route r; /* pattern unused */
	bool (*match)(const struct gw_config *cfg, const struct gw_path *pp);
} cfg_routes[] = {
	/* Socket.IO (socketio_path): polling, preflight, the WebSocket */
	{{M(HTTP_GET) | M(HTTP_POST) | M(HTTP_OPTIONS), NULL, gw_sio_request,
	  true},
	 router_sio_path},
	/* SignalR hubs (signalr_paths): negotiate and its preflight, the
	 * WebSocket */
	{{M(HTTP_POST) | M(HTTP_OPTIONS), NULL, gw_signalr_negotiate, false},
	 gw_signalr_is_negotiate},
	{{M(HTTP_GET), NULL, gw_signalr_connect, true}, gw_signalr_is_hub},
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

/* Calls r's handler if r takes rq's method (1), else notes r as known
 * (0). */
static int
router_try(const struct gw_route *r, struct gw_conn *c,
	   const struct gw_http1_req *rq, const struct gw_path *pp,
	   const struct gw_route **known)
{
	if (rq->method < 0 || rq->method >= 64 ||
	    (r->methods & M(rq->method)) == 0) {
		*known = r;
		return 0;
	}
	if (rq->upgrade && !r->upgrade)
		gw_http1_close_after(c);
	r->fn(c, rq, pp);
	return 1;
}

static void
router_route(struct gw_conn *c, const struct gw_http1_req *rq,
	     const struct gw_path *pp)
{
	const struct gw_route *known = NULL;
	size_t i;

	for (i = 0; i < PRS_ARRAY_LEN(cfg_routes); i++)
		if (cfg_routes[i].match(c->srv->cfg, pp) &&
		    router_try(&cfg_routes[i].r, c, rq, pp, &known))
			return;
	for (i = 0; i < PRS_ARRAY_LEN(routes); i++)
		if (router_match(routes[i].pattern, pp) &&
		    router_try(&routes[i], c, rq, pp, &known))
			return;
	if (rq->upgrade)
		gw_http1_close_after(c);
	if (known != NULL)
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
