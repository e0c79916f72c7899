/*
 * presence-persister: owns the PostgreSQL connection, applies the
 * registry's write batches and loads state back for it.
 *
 * This file only wires things up: flags and config, signals, systemd
 * notifications, the loop. The process never forks (NNG is not
 * fork-safe) and reports READY as soon as its inbox listens, even with
 * PostgreSQL down: presence keeps working without the database, and
 * systemd must not kill us for waiting for it.
 */
#include "pst_reg.h"

#include "prs_config.h"
#include "prs_metrics.h"
#include "prs_util.h"

#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#define STOP_GRACE_S 2.0 /* for the command in flight to finish */
#define LINGER_S     0.1 /* for the last acks to leave NNG's queue */

static char *url = "ipc:///run/presence/persister.sock";
static char *registry_url = "ipc:///run/presence/registry.sock";
static char *name = "persister";
static char *database_url = "postgresql:///presence";
static int64_t retention_days = 30;
static char *metrics_address = "127.0.0.1:9465";
static bool debug;

static const struct prs_opt opts[] = {
	{"url", PRS_OPT_STR, &url, 0, 0, "address of our own inbox"},
	{"registry_url", PRS_OPT_STR, &registry_url, 0, 0,
	 "address of the registry's inbox"},
	{"name", PRS_OPT_STR, &name, 0, 0, "name sent to the registry"},
	{"database_url", PRS_OPT_STR, &database_url, 0, 0,
	 "libpq URI or key=value string; $DATABASE_URL, if set, "
	 "is the default"},
	{"history_retention_days", PRS_OPT_INT, &retention_days, 0, 36500,
	 "days of presence_events history to keep, 0 = forever"},
	{"metrics_address", PRS_OPT_STR, &metrics_address, 0, 0,
	 "host:port where GET /metrics serves Prometheus text (empty: "
	 "off)"},
	{"debug", PRS_OPT_BOOL, &debug, 0, 0, "log debug messages"},
};

static struct pst_reg *reg;
static struct prs_metrics *metrics;
static int64_t started_ms; /* wall clock, for start_time_seconds */
static ev_signal sigterm_w, sigint_w;
static ev_timer grace_w, linger_w, watchdog_w;
static bool stopping;

static void
linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void
stopped_cb(void *arg)
{
	struct ev_loop *loop = arg;

	ev_timer_stop(loop, &grace_w);
	ev_timer_start(loop, &linger_w);
}

static void
grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	prs_warn("work in flight did not finish within %.0f s; exiting",
		 STOP_GRACE_S);
	ev_break(loop, EVBREAK_ALL);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	if (stopping) {
		prs_warn("signal %d again: exiting now", w->signum);
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	stopping = true;
	prs_info("signal %d: stopping", w->signum);
	sd_notify(0, "STOPPING=1");
	ev_timer_start(loop, &grace_w);
	pst_reg_stop(reg, stopped_cb, loop);
}

/* GET /metrics: the process (version, start time), then the work. */
static void
metrics_fill(void *arg, struct prs_mbuf *b)
{
	prs_metric_process(b, "persister", started_ms);
	pst_reg_metrics(arg, b);
}

static void
watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	sd_notify(0, "WATCHDOG=1");
}

int
main(int argc, char **argv)
{
	struct ev_loop *loop = EV_DEFAULT;
	struct pst_reg_config cfg;
	const char *env = getenv("DATABASE_URL");
	uint64_t wd_usec = 0;
	int rc;

	started_ms = prs_now_ms();
	if (env != NULL && *env != '\0')
		database_url = (char *) env;
	rc = prs_config_parse(
		opts, PRS_ARRAY_LEN(opts), "persister", "presence-persister",
		"Writes presence state to PostgreSQL and loads it back.", argc,
		argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	prs_log_setname(name);
	prs_log_set_debug(debug);
	signal(SIGPIPE, SIG_IGN);

	cfg.url = url;
	cfg.registry_url = registry_url;
	cfg.name = name;
	cfg.database_url = database_url;
	cfg.retention_days = retention_days;
	if (pst_reg_open(&reg, loop, &cfg) != 0)
		return 1;
	if (prs_metrics_open(&metrics, loop, metrics_address, metrics_fill,
			     reg) != 0) {
		pst_reg_close(reg);
		return 1;
	}
	sd_notify(0, "READY=1");

	ev_signal_init(&sigterm_w, signal_cb, SIGTERM);
	ev_signal_start(loop, &sigterm_w);
	ev_signal_init(&sigint_w, signal_cb, SIGINT);
	ev_signal_start(loop, &sigint_w);
	ev_timer_init(&grace_w, grace_cb, STOP_GRACE_S, 0.);
	ev_timer_init(&linger_w, linger_cb, LINGER_S, 0.);
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		ev_timer_init(&watchdog_w, watchdog_cb, 0.,
			      (double) wd_usec / 2e6);
		ev_timer_start(loop, &watchdog_w);
	}

	ev_run(loop, 0);
	prs_exit_guard(1);

	prs_metrics_close(metrics);
	pst_reg_close(reg);
	ev_loop_destroy(loop);
	prs_info("stopped");
	return 0;
}
