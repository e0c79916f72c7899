/*
 * presence-registry: flags, signals and the loop. The registry owns all
 * presence state (reg_state.c) and talks to gateways and the persister
 * (reg_link.c). On SIGTERM it stops taking input, flushes pending writes
 * to the persister (bounded wait) and exits; gateways keep their clients
 * and re-announce them to the next registry.
 */
#include "reg.h"
#include "prs_config.h"
#include "prs_util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#define CRON_MS     100
#define STOP_WAIT_S 3.0

static struct reg R;

static const struct prs_opt opts[] = {
	{"url", PRS_OPT_STR, &R.cfg.url, 0, 0,
	 "address the registry listens on (ipc:// or tcp://)"},
	{"persister_url", PRS_OPT_STR, &R.cfg.persister_url, 0, 0,
	 "address of the persister"},
	{"name", PRS_OPT_STR, &R.cfg.name, 0, 0, "name in logs and links"},
	{"audience", PRS_OPT_STR, &R.cfg.audience, 0, 0,
	 "who sees whom: threads (co-members and watchers) or all"},
	{"offline_grace_ms", PRS_OPT_INT, &R.cfg.offline_grace_ms, 0, 3600000,
	 "after an unclean disconnect, wait this long before "
	 "offline"},
	{"resync_window_ms", PRS_OPT_INT, &R.cfg.resync_window_ms, 0, 600000,
	 "after a restart, users stored as online that no gateway "
	 "re-announces within this window go offline (it waits up to "
	 "gateway_timeout_ms more for gateways alive before the restart)"},
	{"typing_ttl_ms", PRS_OPT_INT, &R.cfg.typing_ttl_ms, 100, 600000,
	 "typing active:true expires after this long"},
	{"gateway_timeout_ms", PRS_OPT_INT, &R.cfg.gateway_timeout_ms, 500,
	 600000, "a gateway silent this long is treated as dead"},
	{"batch_retry_ms", PRS_OPT_INT, &R.cfg.batch_retry_ms, 100, 600000,
	 "resend an unacknowledged write batch after this long"},
	{"online_refresh_ms", PRS_OPT_INT, &R.cfg.online_refresh_ms, 0,
	 3600000,
	 "store last_seen of online users this often, so that after a "
	 "crash of everything last_seen is at most this stale (0: off)"},
	{"write_window_ms", PRS_OPT_INT, &R.cfg.write_window_ms, 0, 10000,
	 "send the persister one write batch at most this often (a "
	 "user's changes meanwhile are one row), sooner once 2000 rows "
	 "wait; 0: as soon as the previous batch is acknowledged"},
	{"history", PRS_OPT_STR, &R.cfg.history, 0, 0,
	 "presence_events rows: all (every change of the status a "
	 "user's own sessions see), transitions (only going online "
	 "or offline) or off"},
	{"metrics_address", PRS_OPT_STR, &R.cfg.metrics_address, 0, 0,
	 "host:port where GET /metrics serves Prometheus text (empty: "
	 "off)"},
	{"debug", PRS_OPT_BOOL, &R.cfg.debug, 0, 0, "log debug lines"},
};

static void
cron_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	static int64_t last_dog;
	uint64_t usec;
	int64_t now;

	reg_cron(&R);
	reg_history_tick(&R);
	now = prs_mono_ms();
	if (sd_watchdog_enabled(0, &usec) > 0 &&
	    now - last_dog >= (int64_t) (usec / 2000)) {
		last_dog = now;
		sd_notify(0, "WATCHDOG=1");
	}
	if (R.stopping && R.inflight == NULL && R.dirty_head == NULL &&
	    R.memops == NULL && R.nhistory == 0)
		ev_break(loop, EVBREAK_ALL);
}

static void
before_sleep_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	R.loop_at = prs_mono_ms();
	reg_flush_writes(&R);
	reg_history_pump(&R);
}

static void
stop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	prs_warn("stopping with writes not acknowledged by the persister");
	ev_break(loop, EVBREAK_ALL);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	if (R.stopping)
		return;
	prs_info("signal %d: flushing writes and stopping", w->signum);
	sd_notify(0, "STOPPING=1");
	R.stopping = true;
	ev_timer_init(&R.stop_timer, stop_timer_cb, STOP_WAIT_S, 0.);
	ev_timer_start(loop, &R.stop_timer);
}

int
main(int argc, char **argv)
{
	int rc;

	prs_log_setname("registry");
	reg_config_defaults(&R.cfg);
	rc = prs_config_parse(
		opts, PRS_ARRAY_LEN(opts), "registry", "presence-registry",
		"The presence registry: owns presence state and membership.",
		argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (strcmp(R.cfg.audience, "threads") != 0 &&
	    strcmp(R.cfg.audience, "all") != 0) {
		fprintf(stderr, "presence-registry: audience must be threads "
				"or all\n");
		return 2;
	}
	if ((R.cfg.history_mode = reg_history_parse(R.cfg.history)) < 0) {
		fprintf(stderr, "presence-registry: history must be all, "
				"transitions or off\n");
		return 2;
	}
	prs_log_set_debug(R.cfg.debug);
	signal(SIGPIPE, SIG_IGN);

	R.loop = EV_DEFAULT;
	R.out = &reg_link_out;
	R.epoch = prs_epoch_new();
	R.started_ms = prs_now_ms();
	if (reg_metrics_start(&R) != 0 || reg_link_start(&R) != 0)
		return 1;

	ev_timer_init(&R.cron, cron_cb, CRON_MS / 1000.0, CRON_MS / 1000.0);
	ev_timer_start(R.loop, &R.cron);
	ev_prepare_init(&R.before_sleep, before_sleep_cb);
	ev_prepare_start(R.loop, &R.before_sleep);
	ev_signal_init(&R.sigint, signal_cb, SIGINT);
	ev_signal_start(R.loop, &R.sigint);
	ev_signal_init(&R.sigterm, signal_cb, SIGTERM);
	ev_signal_start(R.loop, &R.sigterm);

	prs_info("listening on %s (epoch %llx); loading state from %s",
		 R.cfg.url, (unsigned long long) R.epoch, R.cfg.persister_url);
	sd_notify(0, "READY=1\nSTATUS=loading state");
	ev_run(R.loop, 0);
	prs_exit_guard(1);

	reg_metrics_stop(&R);
	reg_link_stop(&R);
	prs_info("stopped");
	return 0;
}
