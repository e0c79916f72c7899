/*
 * The gateway's routes: one table from method and path pattern to one
 * handler function per endpoint (gw_router.c), the request callback of
 * the HTTP codec.
 */
#ifndef GW_ROUTER_H
#define GW_ROUTER_H

#include "gw_http1.h"
#include "gw_path.h"
#include "gw_types.h"

/* One endpoint: answers rq on c; pp is rq's target, split. */
typedef void (*gw_route_fn)(struct gw_conn *c, const struct gw_http1_req *rq,
			    const struct gw_path *pp);

/* The request callback of the HTTP codec: finds the route of rq and calls
 * its handler (404 for an unknown path, 405 for a known path with another
 * method, 400 for a malformed target). */
void gw_router_dispatch(struct gw_conn *c, const struct gw_http1_req *rq);

#endif
