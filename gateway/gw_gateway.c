/*
 * The wiring of the gateway's layers (docs/DESIGN.md, "Gateway layers").
 * Lower layers call upward only through callbacks set from above: the
 * server through these hooks, a connection through its codec's conn ops,
 * the HTTP codec through the router callback given at attach, the
 * WebSocket codec through its frontend's handler. This file sets the
 * first two; it is the only one that names every layer.
 */
#include "gw_gateway.h"

#include <stdlib.h>
#include <string.h>

#include "gw_fe_api.h"
#include "gw_fe_compat.h"
#include "gw_fe_signalr.h"
#include "gw_http1.h"
#include "gw_reg.h"
#include "gw_router.h"
#include "gw_server.h"
#include "gw_session.h"
#include "gw_view.h"
#include "prs_util.h"

static void
gateway_accept(struct gw_conn *c)
{
	gw_http1_attach(c, gw_router_dispatch);
}

static void
gateway_tick(struct gw_server *srv, int64_t now)
{
	gw_reg_tick(srv, now);
	gw_session_await_sweep(srv, now, false);
	gw_session_token_expire(srv, prs_now_ms());
}

static void
gateway_second(struct gw_server *srv, int64_t now)
{
	gw_api_sessions_expire(srv, now);
	gw_signalr_second(srv, now);
}

static void
gateway_stop(struct gw_server *srv)
{
	gw_api_sessions_end_all(srv);
}

static void
gateway_fini(struct gw_server *srv)
{
	gw_api_sessions_end_all(srv);
	gw_view_free(srv);
	gw_signalr_fini(srv);
	free(srv->await);
	srv->await = NULL;
	srv->nawait = srv->capawait = 0;
}

static void
gateway_conn_free(struct gw_conn *c)
{
	if (c->npending > 0)
		gw_reg_detach(c->srv, c);
	if (c->fe != NULL && c->fe->conn_free != NULL)
		c->fe->conn_free(c);
}

static const struct gw_server_hooks gateway_hooks = {
	.accept = gateway_accept,
	.tick = gateway_tick,
	.second = gateway_second,
	.stop = gateway_stop,
	.fini = gateway_fini,
	.conn_free = gateway_conn_free,
	.backlog = gw_reg_backlog,
};

void
gw_gateway_init(struct gw_server *srv, struct ev_loop *loop,
		const struct gw_config *cfg)
{
	gw_server_init(srv, loop, cfg, &gateway_hooks);
	if (strcmp(cfg->compat_events, "seed004") == 0)
		srv->user_ws_fe = &gw_fe_seed004;
	gw_signalr_init(srv);
}
