/*
 * presencectl status: the health, readiness, version and uptime of every
 * process of a deployment.
 *
 * For each gateway given (--url), through its public port:
 *
 * - the gateway itself: GET /healthz;
 * - the registry as the gateway sees it: GET /readyz (the link is up and
 *   the registry has loaded its state) and
 *   presence_gateway_registry_ready/_backlog;
 * - the persister as the gateway sees it: a one-row history read
 *   (history is read from PostgreSQL through the persister, PROTOCOL.md
 *   §6), which needs an admin token under auth jwt and is skipped while
 *   the registry is not ready;
 * - sessions, connections, version and uptime from /metrics.
 *
 * Then the registry's and the persister's own metrics endpoints
 * (--registry-metrics, --persister-metrics; their metrics_address): the
 * process answers (health), presence_registry_ready or
 * presence_persister_postgres_up and _registry_connected (readiness),
 * presence_<proc>_build_info{version} and _start_time_seconds.
 *
 * A process that cannot be reached (or whose URL serves something else)
 * makes the exit CTL_CONNECT; one that answers but is not ready,
 * CTL_UNAVAILABLE (docs/PRESENCECTL.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "prs_util.h"

#define PROBE_PATH "/v1/users/presencectl-probe/history?limit=1"

#define REGISTRY_METRICS_DEFAULT  "http://127.0.0.1:9464/metrics"
#define PERSISTER_METRICS_DEFAULT "http://127.0.0.1:9465/metrics"

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
 * -1. Every presence process exports *_start_time_seconds. */
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
		    json_number_value(v) > 0) {
			double up = (double) prs_now_ms() / 1000.0 -
				    json_number_value(v);
			/* a clock behind the process's host: not negative */
			return up > 0 ? up : 0;
		}
	}
	return -1;
}

/* g's "metrics" (m, consumed; NULL: none), "version" and
 * "uptime_seconds" (null when not exported). */
static void
metrics_set(json_t *g, json_t *m, const char *version)
{
	double up = m ? metrics_uptime(m) : -1;

	json_object_set_new(g, "metrics", m ? m : json_null());
	json_object_set_new(g, "version",
			    version ? json_string(version) : json_null());
	json_object_set_new(g, "uptime_seconds",
			    up >= 0 ? json_integer((json_int_t) up)
				    : json_null());
}

/* What one gateway says; the exit code that goes with it. */
static int
status_gateway(struct ctl *c, const char *base, json_t **out)
{
	struct ctl_resp r;
	json_t *g = json_pack("{s:s}", "url", base), *m = NULL;
	char *version = NULL;
	const char *msg;
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
	metrics_set(g, m, version);
	free(version);

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

/* "3 h 12 min (11520 s)" */
static void
uptime_fmt(char *buf, size_t len, long long s)
{
	if (s < 60)
		snprintf(buf, len, "%lld s", s);
	else if (s < 3600)
		snprintf(buf, len, "%lld min %lld s (%lld s)", s / 60, s % 60,
			 s);
	else if (s < 86400)
		snprintf(buf, len, "%lld h %lld min (%lld s)", s / 3600,
			 s % 3600 / 60, s);
	else
		snprintf(buf, len, "%lld d %lld h (%lld s)", s / 86400,
			 s % 86400 / 3600, s);
}

/* The version and uptime lines of any process. */
static void
version_print(const json_t *g, const char *proc)
{
	char up[96];

	if (json_is_string(json_object_get(g, "version")))
		printf("  version    %s\n",
		       json_string_value(json_object_get(g, "version")));
	else
		printf("  version    not exported by the %s\n", proc);
	if (json_is_integer(json_object_get(g, "uptime_seconds"))) {
		uptime_fmt(up, sizeof(up),
			   (long long) json_integer_value(
				   json_object_get(g, "uptime_seconds")));
		printf("  uptime     %s\n", up);
	} else {
		printf("  uptime     not exported by the %s\n", proc);
	}
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
	version_print(g, "gateway");
}

/* ---- the registry and the persister: their metrics endpoints ---- */

struct proc_kind {
	const char *name;   /* "registry" */
	const char *option; /* "--registry-metrics" */
	const char *key;    /* a metric only this process exports */
};

static const struct proc_kind registry_kind = {
	"registry", "--registry-metrics", "presence_registry_ready"};
static const struct proc_kind persister_kind = {
	"persister", "--persister-metrics", "presence_persister_postgres_up"};

static long long
mint(const json_t *m, const char *name)
{
	return (long long) json_number_value(json_object_get(m, name));
}

/* The readiness of a process that answered: NULL when ready, else why
 * not (static text). */
static const char *
proc_not_ready(const struct proc_kind *k, const json_t *m)
{
	if (k == &registry_kind)
		return mint(m, "presence_registry_ready") == 1
			       ? NULL
			       : "loading its state "
				 "(presence_registry_ready 0)";
	if (mint(m, "presence_persister_postgres_up") != 1)
		return mint(m, "presence_persister_registry_connected") == 1
			       ? "PostgreSQL is down "
				 "(presence_persister_postgres_up 0)"
			       : "PostgreSQL is down and the registry link "
				 "is not up";
	if (mint(m, "presence_persister_registry_connected") != 1)
		return "not connected to the registry "
		       "(presence_persister_registry_connected 0)";
	return NULL;
}

/* What one process's metrics endpoint says, into *out (null when url is
 * empty: skipped); the exit code that goes with it. */
static int
status_proc(struct ctl *c, const struct proc_kind *k, const char *url,
	    json_t **out)
{
	struct ctl_resp r;
	json_t *g, *m = NULL;
	char *version = NULL, why[512], hint[256];
	const char *nr;
	int ex = CTL_OK;

	if (url[0] == '\0') {
		*out = json_null();
		return CTL_OK;
	}
	g = json_pack("{s:s}", "url", url);
	ctl_http(c, url, "GET", "", NULL, &r);
	why[0] = hint[0] = '\0';
	if (r.too_big) {
		snprintf(why, sizeof(why),
			 "%s: the answer is larger than %u MiB", url,
			 CTL_BODY_MAX >> 20);
		ex = CTL_SERVER;
	} else if (r.curl_rc != 0) {
		snprintf(why, sizeof(why), "cannot reach %s: %s", url, r.err);
		snprintf(hint, sizeof(hint),
			 "is the %s running, with its metrics_address "
			 "there? (%s '' skips it)",
			 k->name, k->option);
		ex = CTL_CONNECT;
	} else if (r.status != 200 || r.body == NULL) {
		snprintf(why, sizeof(why), "%s answered HTTP %ld", url,
			 r.status);
		snprintf(hint, sizeof(hint),
			 "is %s the URL of the %s's metrics_address, path "
			 "/metrics included?",
			 k->option, k->name);
		ex = CTL_CONNECT;
	} else {
		m = metrics_parse(r.body, &version);
		if (json_object_get(m, k->key) == NULL) {
			snprintf(why, sizeof(why),
				 "%s is not the %s's /metrics (no %s)", url,
				 k->name, k->key);
			snprintf(hint, sizeof(hint),
				 "check %s (the registry's default port is "
				 "9464, the persister's 9465)",
				 k->option);
			ex = CTL_CONNECT;
		}
	}
	json_object_set_new(g, "healthy", json_boolean(ex == CTL_OK));
	if (ex != CTL_OK) {
		fprintf(stderr, "presencectl: %s: %s\n", k->name, why);
		if (hint[0] != '\0')
			fprintf(stderr, "presencectl: %s\n", hint);
		json_object_set_new(g, "error",
				    json_pack("{s:i,s:o,s:n,s:s,s:s}", "exit",
					      ex, "status",
					      r.status ? json_integer(r.status)
						       : json_null(),
					      "code", "message", why, "url",
					      url));
		json_object_set_new(g, "ready", json_false());
		json_object_set_new(g, "ready_message", json_null());
		json_decref(m);
		metrics_set(g, NULL, NULL);
		free(version);
		ctl_resp_free(&r);
		*out = g;
		return ex;
	}
	ctl_resp_free(&r);
	nr = proc_not_ready(k, m);
	json_object_set_new(g, "ready", json_boolean(nr == NULL));
	json_object_set_new(g, "ready_message",
			    nr ? json_string(nr) : json_null());
	if (nr != NULL) {
		fprintf(stderr, "presencectl: %s: not ready: %s\n", k->name,
			nr);
		ex = CTL_UNAVAILABLE;
	}
	metrics_set(g, m, version);
	free(version);
	*out = g;
	return ex;
}

static void
status_proc_print(const struct proc_kind *k, const json_t *g)
{
	const json_t *m = json_object_get(g, "metrics");

	printf("%s %s\n", k->name,
	       json_string_value(json_object_get(g, "url")));
	if (!json_is_true(json_object_get(g, "healthy"))) {
		const json_t *e = json_object_get(g, "error");
		printf("  health     %s: %s\n",
		       json_integer_value(json_object_get(e, "exit")) ==
				       CTL_CONNECT
			       ? "unreachable"
			       : "failed",
		       json_string_value(json_object_get(e, "message")));
		return;
	}
	printf("  health     ok\n");
	if (json_is_true(json_object_get(g, "ready")))
		printf("  ready      yes\n");
	else
		printf("  ready      no: %s\n",
		       json_string_value(json_object_get(g, "ready_message")));
	if (k == &registry_kind) {
		printf("  users      %lld online (%lld gateways alive)\n",
		       mint(m, "presence_registry_users_online"),
		       mint(m, "presence_registry_gateways"));
		printf("  persister  %s (write lag %g s)\n",
		       mint(m, "presence_registry_persister_up") == 1
			       ? "heard from"
			       : "not heard from",
		       json_number_value(json_object_get(
			       m, "presence_registry_write_lag_seconds")));
	} else {
		printf("  postgres   %s\n",
		       mint(m, "presence_persister_postgres_up") == 1
			       ? "up"
			       : "down");
		printf("  registry   %s (queue %lld jobs)\n",
		       mint(m, "presence_persister_registry_connected") == 1
			       ? "connected"
			       : "not connected",
		       mint(m, "presence_persister_queue_jobs"));
	}
	version_print(g, k->name);
}

int
ctl_cmd_status(struct ctl *c)
{
	const struct proc_kind *kinds[2] = {&registry_kind, &persister_kind};
	const char *urls[2] = {c->registry_metrics ? c->registry_metrics
						   : REGISTRY_METRICS_DEFAULT,
			       c->persister_metrics
				       ? c->persister_metrics
				       : PERSISTER_METRICS_DEFAULT};
	json_t *all = json_array(), *g, *procs[2];
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
	for (i = 0; i < 2; i++) {
		ex = status_proc(c, kinds[i], urls[i], &procs[i]);
		if (ex == CTL_CONNECT)
			unreachable = true;
		else if (ex != CTL_OK && worst == CTL_OK)
			worst = ex;
		if (!c->json && !json_is_null(procs[i]))
			status_proc_print(kinds[i], procs[i]);
	}
	if (unreachable)
		worst = CTL_CONNECT;
	if (c->json)
		ctl_print_json(json_pack(
			"{s:b,s:o,s:o,s:o}", "ok", worst == CTL_OK, "gateways",
			all, "registry", procs[0], "persister", procs[1]));
	else {
		json_decref(all);
		json_decref(procs[0]);
		json_decref(procs[1]);
	}
	return worst;
}
