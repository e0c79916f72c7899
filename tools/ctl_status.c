/*
 * presencectl status: what each gateway given can tell about the
 * deployment from outside, through its public port:
 *
 * - the gateway itself: GET /healthz;
 * - the registry: GET /readyz (the link is up and the registry has
 *   loaded its state) and presence_gateway_registry_ready/_backlog;
 * - the persister: a one-row history read (history is read from
 *   PostgreSQL through the persister, PROTOCOL.md §6), which needs an
 *   admin token under auth jwt and is skipped while the registry is not
 *   ready;
 * - sessions and connections from /metrics.
 *
 * Version and uptime are shown when /metrics exports them (a
 * *_build_info{version=…} series, *_start_time_seconds or
 * *_uptime_seconds); today's gateways export neither, and the output says
 * so instead of guessing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "prs_util.h"

#define PROBE_PATH "/v1/users/presencectl-probe/history?limit=1"

/* A sample's value: an integer when it is one (counters, gauges of
 * counts), else a real. */
static json_t *
metric_value(double d)
{
	if (d >= -9e15 && d <= 9e15 && d == (double) (long long) d)
		return json_integer((json_int_t) d);
	return json_real(d);
}

/* The unlabelled samples of a Prometheus text answer, as {name: value};
 * a build_info series' version label into *version (caller frees). */
static json_t *
metrics_parse(const char *text, char **version)
{
	json_t *m = json_object();
	const char *line = text;

	*version = NULL;
	while (line != NULL && *line != '\0') {
		const char *end = strchr(line, '\n'), *sp, *v;
		size_t n = end ? (size_t) (end - line) : strlen(line);
		char *l = xstrndup(line, n), *e;
		double d;

		line = end ? end + 1 : NULL;
		if (l[0] == '#' || (sp = strchr(l, ' ')) == NULL) {
			free(l);
			continue;
		}
		if (strstr(l, "_build_info{") != NULL && *version == NULL &&
		    (v = strstr(l, "version=\"")) != NULL) {
			v += 9;
			*version = xstrndup(v, strcspn(v, "\""));
		}
		if (memchr(l, '{', (size_t) (sp - l)) == NULL) {
			d = strtod(sp + 1, &e);
			if (e != sp + 1)
				json_object_setn_new(m, l, (size_t) (sp - l),
						     metric_value(d));
		}
		free(l);
	}
	return m;
}

/* Seconds since start, from whichever of the usual series is there, or
 * -1. */
static double
metrics_uptime(const json_t *m)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *) m, k, v)
	{
		size_t n = strlen(k);
		if (n > 15 && strcmp(k + n - 15, "_uptime_seconds") == 0)
			return json_number_value(v);
		if (n > 19 && strcmp(k + n - 19, "_start_time_seconds") == 0 &&
		    json_number_value(v) > 0)
			return (double) prs_now_ms() / 1000.0 -
			       json_number_value(v);
	}
	return -1;
}

/* What one gateway says; the exit code that goes with it. */
static int
status_gateway(struct ctl *c, const char *base, json_t **out)
{
	struct ctl_resp r;
	json_t *g = json_pack("{s:s}", "url", base), *m = NULL;
	char *version = NULL;
	const char *msg;
	double up;
	int ex, rv = CTL_OK;

	ex = ctl_http(c, base, "GET", "/healthz", NULL, &r);
	json_object_set_new(g, "healthy", json_boolean(ex == CTL_OK));
	if (ex != CTL_OK) {
		ctl_resp_report(c, base, "health", &r);
		json_object_set_new(g, "error",
				    ctl_resp_error_json(c, base, &r));
		ctl_resp_free(&r);
		*out = g;
		return CTL_CONNECT;
	}
	ctl_resp_free(&r);

	ex = ctl_http(c, base, "GET", "/readyz", NULL, &r);
	msg = json_string_value(
		json_object_get(json_object_get(r.json, "error"), "message"));
	json_object_set_new(g, "ready", json_boolean(ex == CTL_OK));
	json_object_set_new(g, "ready_message",
			    ex == CTL_OK
				    ? json_null()
				    : json_string(msg ? msg : "no answer"));
	if (ex != CTL_OK) {
		ctl_resp_report(c, base, "readiness", &r);
		rv = ex;
	}
	ctl_resp_free(&r);

	ctl_http(c, base, "GET", "/metrics", NULL, &r);
	if (r.curl_rc == 0 && r.status == 200 && r.body != NULL)
		m = metrics_parse(r.body, &version);
	ctl_resp_free(&r);
	json_object_set_new(g, "metrics", m ? m : json_null());
	json_object_set_new(g, "version",
			    version ? json_string(version) : json_null());
	free(version);
	up = m ? metrics_uptime(m) : -1;
	json_object_set_new(g, "uptime_seconds",
			    up >= 0 ? json_integer((json_int_t) up)
				    : json_null());

	if (rv != CTL_OK) {
		json_object_set_new(g, "persister", json_string("unchecked"));
	} else {
		ex = ctl_http(c, base, "GET", PROBE_PATH, NULL, &r);
		json_object_set_new(g, "persister",
				    json_string(ex == CTL_OK ? "ok"
						: ex == CTL_AUTH
							? "unchecked"
							: "unavailable"));
		if (ex != CTL_OK && ex != CTL_AUTH) {
			ctl_resp_report(c, base, "persister (history read)",
					&r);
			rv = ex;
		}
		ctl_resp_free(&r);
	}
	*out = g;
	return rv;
}

static void
status_print(const json_t *g)
{
	const json_t *m = json_object_get(g, "metrics");
	const char *pst = json_string_value(json_object_get(g, "persister"));
	const json_t *rr =
		json_object_get(m, "presence_gateway_registry_ready");

	printf("gateway %s\n", json_string_value(json_object_get(g, "url")));
	if (!json_is_true(json_object_get(g, "healthy"))) {
		printf("  health     unreachable\n");
		return;
	}
	printf("  health     ok\n");
	if (json_is_true(json_object_get(g, "ready")))
		printf("  ready      yes\n");
	else
		printf("  ready      no: %s\n",
		       json_string_value(json_object_get(g, "ready_message")));
	if (rr != NULL)
		printf("  registry   %s (backlog %lld)\n",
		       json_integer_value(rr) ? "link up, state loaded"
					      : "unreachable or loading",
		       (long long) json_integer_value(json_object_get(
			       m, "presence_gateway_registry_backlog")));
	else
		printf("  registry   %s\n",
		       json_is_true(json_object_get(g, "ready"))
			       ? "link up, state loaded"
			       : "unreachable or loading");
	if (strcmp(pst, "ok") == 0)
		pst = "ok (answered a history read)";
	else if (strcmp(pst, "unavailable") == 0)
		pst = "unavailable (a history read failed)";
	else if (!json_is_true(json_object_get(g, "ready")))
		pst = "not checked (the registry is not ready)";
	else
		pst = "not checked (needs an admin token)";
	printf("  persister  %s\n", pst);
	if (m != NULL && json_object_get(m, "presence_gateway_sessions"))
		printf("  sessions   %lld (%lld WebSockets, %lld "
		       "connections)\n",
		       (long long) json_integer_value(json_object_get(
			       m, "presence_gateway_sessions")),
		       (long long) json_integer_value(json_object_get(
			       m, "presence_gateway_websockets")),
		       (long long) json_integer_value(json_object_get(
			       m, "presence_gateway_connections")));
	else if (m == NULL)
		printf("  metrics    unavailable (/metrics did not answer)\n");
	if (json_is_string(json_object_get(g, "version")))
		printf("  version    %s\n",
		       json_string_value(json_object_get(g, "version")));
	else
		printf("  version    not exported by the gateway\n");
	if (json_is_integer(json_object_get(g, "uptime_seconds")))
		printf("  uptime     %lld s\n",
		       (long long) json_integer_value(
			       json_object_get(g, "uptime_seconds")));
	else
		printf("  uptime     not exported by the gateway\n");
}

int
ctl_cmd_status(struct ctl *c)
{
	json_t *all = json_array(), *g;
	bool unreachable = false;
	int worst = CTL_OK, ex;
	size_t i;

	for (i = 0; i < c->nurls; i++) {
		ex = status_gateway(c, c->urls[i], &g);
		if (ex == CTL_CONNECT)
			unreachable = true;
		else if (ex != CTL_OK && worst == CTL_OK)
			worst = ex;
		if (!c->json)
			status_print(g);
		json_array_append_new(all, g);
	}
	if (unreachable)
		worst = CTL_CONNECT;
	if (c->json)
		ctl_print_json(json_pack("{s:b,s:o}", "ok", worst == CTL_OK,
					 "gateways", all));
	else
		json_decref(all);
	return worst;
}
