/*
 * registry-bench: how many presence changes per second the registry
 * decides and emits on one core, through its real code path.
 *
 * It builds a registry in-process (as the registry fuzz harness does, but
 * with real NNG peers), plays one gateway: a real PULL inbox that a drain
 * thread empties, a Hello, N sessions in threads of K members, then
 * SetStatus envelopes handed to reg_link_recv as fast as it takes them.
 * Every change is a full decision (snapshot, compare, audience from the
 * indexes) and one Event packed and sent to the gateway over ipc, batched
 * per loop iteration as in the daemon. It stops by itself.
 */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "prs_config.h"
#include "prs_util.h"
#include "reg.h"

static struct reg R;
static nng_socket gw_inbox;
static uint64_t drained_msgs, drained_bytes;
static volatile int stop_drain;
static uint64_t gw_seq;

static struct {
	int64_t sessions, thread_size, changes;
} cfg = {10000, 10, 1000000};

static const struct prs_opt opts[] = {
	{"sessions", PRS_OPT_INT, &cfg.sessions, 2, 1000000,
	 "sessions (one user each) on the simulated gateway"},
	{"thread_size", PRS_OPT_INT, &cfg.thread_size, 2, 1000,
	 "members per thread"},
	{"changes", PRS_OPT_INT, &cfg.changes, 1, 100000000,
	 "status changes to time"},
};

static void *
drain(void *arg)
{
	(void) arg;
	while (!stop_drain) {
		nng_msg *m;
		if (nng_recvmsg(gw_inbox, &m, 0) != 0)
			continue;
		__atomic_fetch_add(&drained_msgs, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&drained_bytes, nng_msg_len(m),
				   __ATOMIC_RELAXED);
		nng_msg_free(m);
	}
	return NULL;
}

static void
from_gw(Prs__Envelope *env)
{
	env->kind = PRS__KIND__KIND_GATEWAY;
	env->sender = "gw1";
	env->epoch = 1;
	env->seq = ++gw_seq;
	reg_link_recv(&R, env, 1);
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	char url[128], uid[32], tid[32];
	Prs__Envelope env;
	pthread_t th;
	int64_t i, k;
	double t0, dt;
	int rc;

	rc = prs_config_parse(
		opts, PRS_ARRAY_LEN(opts), "bench", "presence-registry-bench",
		"Registry decisions per second, in-process.", argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	prs_log_setname("registry-bench");
	snprintf(url, sizeof(url), "ipc:///tmp/regbench-%d.sock", getpid());
	if (nng_pull0_open(&gw_inbox) != 0 ||
	    nng_socket_set_size(gw_inbox, NNG_OPT_RECVMAXSZ,
				PRS_LINK_MAX_MSG) != 0 ||
	    nng_listen(gw_inbox, url, NULL, 0) != 0) {
		fprintf(stderr, "cannot listen on %s\n", url);
		return 1;
	}
	nng_socket_set_ms(gw_inbox, NNG_OPT_RECVTIMEO, 100);
	pthread_create(&th, NULL, drain, NULL);

	reg_config_defaults(&R.cfg);
	R.cfg.url = "ipc:///nonexistent/registry.sock";
	R.cfg.persister_url = "ipc:///nonexistent/persister.sock";
	R.cfg.gateway_timeout_ms = 3600000;
	R.loop = EV_DEFAULT;
	R.out = &reg_link_out;
	R.epoch = 7;
	R.started_ms = prs_now_ms();
	R.ready = true;

	{ /* the gateway says Hello */
		Prs__Hello h = PRS__HELLO__INIT;
		prs__envelope__init(&env);
		h.address = url;
		env.body_case = PRS__ENVELOPE__BODY_HELLO;
		env.hello = &h;
		from_gw(&env);
	}
	for (i = 0; i < cfg.sessions; i += 256) { /* sessions, 256 a batch */
		Prs__SessionBatch sb = PRS__SESSION_BATCH__INIT;
		Prs__SessionInfo infos[256], *pinfos[256];
		char ids[256][32];
		for (k = 0; k < 256 && i + k < cfg.sessions; k++) {
			prs__session_info__init(&infos[k]);
			snprintf(ids[k], sizeof(ids[k]), "u%lld",
				 (long long) (i + k));
			infos[k].sid = (uint64_t) (i + k + 1);
			infos[k].user_id = ids[k];
			infos[k].status = PRS__STATUS__ST_ONLINE;
			pinfos[k] = &infos[k];
		}
		sb.sessions = pinfos;
		sb.n_sessions = (size_t) k;
		prs__envelope__init(&env);
		env.body_case = PRS__ENVELOPE__BODY_SESSIONS;
		env.sessions = &sb;
		from_gw(&env);
		ev_run(R.loop, EVRUN_NOWAIT);
	}
	for (i = 0; i < cfg.sessions; i += cfg.thread_size) { /* threads */
		Prs__Request rq = PRS__REQUEST__INIT;
		char *members[1000], names[1000][32];
		for (k = 0; k < cfg.thread_size && i + k < cfg.sessions; k++) {
			snprintf(names[k], sizeof(names[k]), "u%lld",
				 (long long) (i + k));
			members[k] = names[k];
		}
		snprintf(tid, sizeof(tid), "t%lld", (long long) i);
		rq.op = PRS__OP__OP_MEMBERS_SET;
		rq.admin = true;
		rq.user_id = "bench";
		rq.thread_id = tid;
		rq.user_ids = members;
		rq.n_user_ids = (size_t) k;
		prs__envelope__init(&env);
		env.body_case = PRS__ENVELOPE__BODY_REQUEST;
		env.request = &rq;
		from_gw(&env);
		ev_run(R.loop, EVRUN_NOWAIT);
	}
	(void) uid;
	ev_run(R.loop, EVRUN_NOWAIT);
	{ /* let the sends drain before timing */
		double until = now_s() + 1.0;
		while (now_s() < until)
			ev_run(R.loop, EVRUN_NOWAIT);
	}
	drained_msgs = drained_bytes = 0;

	t0 = now_s();
	for (i = 0; i < cfg.changes; i++) {
		Prs__SetStatus ss = PRS__SET_STATUS__INIT;
		ss.sid = (uint64_t) (rand() % cfg.sessions) + 1;
		ss.status =
			(i & 1) ? PRS__STATUS__ST_AWAY : PRS__STATUS__ST_DND;
		prs__envelope__init(&env);
		env.body_case = PRS__ENVELOPE__BODY_SET_STATUS;
		env.set_status = &ss;
		from_gw(&env);
		if (i % 256 == 255) /* one loop iteration per 256 inputs */
			ev_run(R.loop, EVRUN_NOWAIT);
	}
	ev_run(R.loop, EVRUN_NOWAIT);
	dt = now_s() - t0;
	printf("registry: %lld changes in %.2f s = %.0f changes/s on one "
	       "core (%lld sessions, threads of %lld; each change = one "
	       "decision + one Event to %lld co-members, packed and sent "
	       "over ipc)\n",
	       (long long) cfg.changes, dt, cfg.changes / dt,
	       (long long) cfg.sessions, (long long) cfg.thread_size,
	       (long long) cfg.thread_size - 1);
	{
		double until = now_s() + 1.0;
		while (now_s() < until)
			ev_run(R.loop, EVRUN_NOWAIT);
	}
	printf("gateway side received %llu NNG messages, %.1f MB\n",
	       (unsigned long long) drained_msgs, drained_bytes / 1e6);
	stop_drain = 1;
	pthread_join(th, NULL);
	nng_close(gw_inbox);
	return 0;
}
