/*
 * The operational endpoints: /metrics, /healthz, /readyz (GET or HEAD).
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include "gw_http1.h"
#include "gw_path.h"
#include "gw_types.h"

/* GET /metrics: the gateway's gauges and counters, Prometheus text. */
void gw_metrics_serve(struct gw_conn *c, const struct gw_http1_req *rq,
		      const struct gw_path *pp);
/* GET /healthz: {"status":"ok"} while the process runs. */
void gw_metrics_healthz(struct gw_conn *c, const struct gw_http1_req *rq,
			const struct gw_path *pp);
/* GET /readyz: 200 while the registry link is ready, else 503. */
void gw_metrics_readyz(struct gw_conn *c, const struct gw_http1_req *rq,
		       const struct gw_path *pp);

#endif
