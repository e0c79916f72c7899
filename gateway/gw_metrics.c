/*
 * The operational endpoints: /metrics (Prometheus text format, from the
 * server's counters and a walk over the connections' buffers), /healthz
 * (the process answers) and /readyz (the registry link is ready).
 * The two probes may be read from any origin (no credentials, nothing
 * secret), so the admin console of one gateway can show every gateway.
 */
#include "gw_metrics.h"

#include <jansson.h>

#include "gw_fe_sio.h"
#include "gw_reg.h"
#include "gw_view.h"

#define ANY_ORIGIN "Access-Control-Allow-Origin: *\r\n"

void
gw_metrics_serve(struct gw_conn *c, const struct gw_http1_req *rq,
		 const struct gw_path *pp)
{
	struct gw_server *srv = c->srv;
	struct gw_buf b = {0};
	struct prs_mbuf h = {0};
	size_t out_bytes = 0, out_mem = 0;
	const struct gw_conn *k;

	for (k = srv->conns; k != NULL; k = k->next) {
		out_bytes += gw_buf_pending(&k->out);
		out_mem += k->out.cap;
	}

	gw_buf_printf(
		&b,
		"# TYPE presence_gateway_connections gauge\n"
		"presence_gateway_connections %zu\n"
		"# TYPE presence_gateway_websockets gauge\n"
		"presence_gateway_websockets %zu\n"
		"# TYPE presence_gateway_sessions gauge\n"
		"presence_gateway_sessions %zu\n"
		"# TYPE presence_gateway_registry_ready gauge\n"
		"presence_gateway_registry_ready %d\n"
		"# TYPE presence_gateway_registry_backlog gauge\n"
		"presence_gateway_registry_backlog %zu\n"
		"# TYPE presence_gateway_accepted_total counter\n"
		"presence_gateway_accepted_total %llu\n"
		"# TYPE presence_gateway_websockets_opened_total counter\n"
		"presence_gateway_websockets_opened_total %llu\n"
		"# TYPE presence_gateway_messages_in_total counter\n"
		"presence_gateway_messages_in_total %llu\n"
		"# TYPE presence_gateway_frames_out_total counter\n"
		"presence_gateway_frames_out_total %llu\n"
		"# TYPE presence_gateway_events_total counter\n"
		"presence_gateway_events_total %llu\n"
		"# TYPE presence_gateway_http_responses_total counter\n"
		"presence_gateway_http_responses_total %llu\n"
		"# TYPE presence_gateway_slow_closed_total counter\n"
		"presence_gateway_slow_closed_total %llu\n"
		"# TYPE presence_gateway_rate_limited_total counter\n"
		"presence_gateway_rate_limited_total %llu\n"
		"# TYPE presence_gateway_resync_closed_total counter\n"
		"presence_gateway_resync_closed_total %llu\n"
		"# TYPE presence_gateway_view_repairs_total counter\n"
		"presence_gateway_view_repairs_total %llu\n"
		"# TYPE presence_gateway_view_repairs_dropped_total counter\n"
		"presence_gateway_view_repairs_dropped_total %llu\n"
		"# TYPE presence_gateway_view_records gauge\n"
		"presence_gateway_view_records %zu\n"
		"# TYPE presence_gateway_outbound_bytes gauge\n"
		"presence_gateway_outbound_bytes %zu\n"
		"# TYPE presence_gateway_outbound_buffer_bytes gauge\n"
		"presence_gateway_outbound_buffer_bytes %zu\n"
		"# TYPE presence_gateway_ws_outbound_peak_bytes gauge\n"
		"presence_gateway_ws_outbound_peak_bytes %zu\n",
		srv->nconns, srv->nws, srv->nsessions,
		gw_reg_ready(srv) ? 1 : 0, gw_reg_backlog(srv),
		(unsigned long long) srv->n_accepted,
		(unsigned long long) srv->n_ws_opened,
		(unsigned long long) srv->n_msgs_in,
		(unsigned long long) srv->n_frames_out,
		(unsigned long long) srv->n_events,
		(unsigned long long) srv->n_http_requests,
		(unsigned long long) srv->n_slow_closed,
		(unsigned long long) srv->n_rate_limited,
		(unsigned long long) srv->n_resync_closed,
		(unsigned long long) srv->n_repairs,
		(unsigned long long) srv->n_repairs_dropped,
		gw_view_count(srv), out_bytes, out_mem, srv->ws_out_peak);
	/* wslay contexts alive: only WebSockets with a frame in flight */
	gw_buf_printf(&b,
		      "# TYPE presence_gateway_ws_parsers gauge\n"
		      "presence_gateway_ws_parsers %zu\n",
		      srv->nws_ctx);
	/* Engine.IO sessions of the Socket.IO drop-in (polling or not) */
	gw_buf_printf(&b,
		      "# TYPE presence_gateway_socketio_sessions gauge\n"
		      "presence_gateway_socketio_sessions %zu\n",
		      gw_sio_count(srv));
	/* the version of this build and the start, with HELP (as every
	 * process: prs_metric_process) */
	prs_metric_process(&h, "gateway", srv->started_ms);
	prs_hist_write(&h, "presence_gateway_event_handoff_seconds",
		       "from the registry stamping a presence event to its "
		       "arrival here (wall clocks)",
		       &srv->h_handoff);
	prs_hist_write(&h, "presence_gateway_event_send_seconds",
		       "from a presence event's arrival to its frames being "
		       "handed to the sockets",
		       &srv->h_send);
	gw_buf_append(&b, h.data, h.len);
	prs_mbuf_free(&h);
	gw_http1_respond(c, 200, "text/plain; version=0.0.4", NULL, b.data,
			 b.len, false);
	gw_buf_free(&b);
}

void
gw_metrics_healthz(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp)
{
	gw_http1_respond_json(c, 200, json_pack("{s:s}", "status", "ok"),
			      ANY_ORIGIN, false);
}

void
gw_metrics_readyz(struct gw_conn *c, const struct gw_http1_req *rq,
		  const struct gw_path *pp)
{
	if (gw_reg_ready(c->srv))
		gw_http1_respond_json(c, 200,
				      json_pack("{s:s}", "status", "ready"),
				      ANY_ORIGIN, false);
	else
		gw_http1_respond_error(c, 503, NULL,
				       "not connected to the registry",
				       ANY_ORIGIN, false);
}
