/*
 * presence-link-floor: what the links alone cost per status change
 * (issue 10; docs/BENCHMARKS.md, "The links' own cost").
 *
 * A change crosses the links twice: the client's Op goes from its gateway
 * to the registry, and the Event (with the Reply) comes back. This tool
 * runs just that exchange, through the code the daemons use (prs_inbox
 * and prs_peer over ipc://, one libev loop per process), and nothing
 * else: no WebSocket, no JSON, no state, no database. The parent plays
 * the gateway: it sends one envelope of --bytes per change at --rate for
 * --duration seconds. A forked child plays the registry: it answers each
 * envelope with one of the same size. The parent counts the answers.
 *
 * Prints the CPU (user + system, every thread, from /proc) of each process
 * over the send phase, in microseconds per change (one round trip), and
 * per delivery for --fanout deliveries per change (19 in threads of 20):
 * the share of presence-floor's figure that any design passing each change
 * through NNG twice pays on top of the sends themselves. Both processes
 * also pay their idle cost (timers, the inbox watchdog) over the phase, as
 * the daemons do. --pace-only runs the parent's pacing timer and sends
 * nothing: its wake-ups stand for the client frames that wake a gateway
 * anyway, to be subtracted. Pin with --cpu (the parent, as every daemon's
 * cpu key) and --peer-cpu; stops by itself.
 */
#define _GNU_SOURCE /* mkdtemp */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "prs_config.h"
#include "prs_link.h"
#include "prs_util.h"

static struct {
	int64_t rate, duration, bytes, fanout, peer_cpu;
	bool pace_only;
} cfg = {1000, 20, 100, 19, -1, false};

static const struct prs_opt opts[] = {
	{"rate", PRS_OPT_INT, &cfg.rate, 1, 100000,
	 "changes (round trips) per second"},
	{"duration", PRS_OPT_INT, &cfg.duration, 1, 3600,
	 "seconds of sending, then stop"},
	{"bytes", PRS_OPT_INT, &cfg.bytes, 1, 65536,
	 "payload bytes of each envelope, both ways"},
	{"fanout", PRS_OPT_INT, &cfg.fanout, 1, 100000,
	 "deliveries per change, for the per-delivery figure"},
	{"peer_cpu", PRS_OPT_INT, &cfg.peer_cpu, -1, 1023,
	 "pin the child (the registry's part) to this CPU; -1: the "
	 "parent's CPUs (the common --cpu pins the parent)"},
	{"pace_only", PRS_OPT_BOOL, &cfg.pace_only, 0, 0,
	 "run the pacing timer without sending: its own wake-ups, the part "
	 "of the gateway side that a client's frame would cost anyway"},
};

static struct ev_loop *loop;
static struct prs_peer *peer;
static char *payload;
static uint64_t sent, answered;

/* utime + stime of a whole process (every thread), in microseconds. */
static double
proc_cpu_us(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* fields 14 and 15, counted after the ")" that ends the name */
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return -1;
	return (double) (ut + st) * 1e6 / (double) sysconf(_SC_CLK_TCK);
}

static void
send_one(void)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Hello hello = PRS__HELLO__INIT;

	hello.address = payload;
	env.body_case = PRS__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	if (prs_peer_send(peer, &env) == 0)
		sent++;
}

static void
child_recv(void *arg, Prs__Envelope *env, uint32_t pipe)
{
	send_one(); /* one answer per envelope */
}

static void
parent_recv(void *arg, Prs__Envelope *env, uint32_t pipe)
{
	answered++;
}

static void
gone(void *arg, uint32_t pipe)
{
}

static void
term_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	ev_break(l, EVBREAK_ALL);
}

/* The child: answer until SIGTERM. */
static int
child_main(const char *own, const char *other)
{
	struct prs_inbox *in;
	ev_signal term;

	prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the parent */
	if (prs_cpu_pin(cfg.peer_cpu, "link-floor: the child") != 0)
		return 2;
	loop = EV_DEFAULT;
	if (prs_inbox_open(&in, loop, own, child_recv, gone, NULL) != 0 ||
	    prs_peer_open(&peer, loop, other, PRS__KIND__KIND_REGISTRY,
			  "link-floor-child", 2) != 0)
		return 1;
	ev_signal_init(&term, term_cb, SIGTERM);
	ev_signal_start(loop, &term);
	ev_run(loop, 0);
	prs_peer_close(peer);
	prs_inbox_close(in);
	return 0;
}

static double
mono_s(void)
{
	return (double) prs_mono_us() / 1e6;
}

static double t_start, t_stop;
static pid_t child = -1;
static bool child_gone;
static uint64_t due_sent;

/* Paces the changes as presence-bench does: what is due by now. */
static void
tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	double t = mono_s();
	uint64_t due;

	if (t >= t_stop) {
		ev_break(l, EVBREAK_ALL);
		return;
	}
	due = (uint64_t) ((t - t_start) * (double) cfg.rate);
	while (due_sent < due) {
		if (!cfg.pace_only)
			send_one();
		due_sent++;
	}
}

/* Until the first answer: the links are up. */
static void
warm_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	pid_t gone = waitpid(child, NULL, WNOHANG);

	/* e.g. a bad --peer-cpu: it said why (libev's default loop may
	 * have reaped it already) */
	if (gone == child || (gone < 0 && errno == ECHILD))
		child_gone = true;
	if (answered > 0 || child_gone || mono_s() > t_stop)
		ev_break(l, EVBREAK_ALL);
	else
		send_one();
}

/* Until every envelope sent is answered. */
static void
drain_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	if (answered >= sent || mono_s() > t_stop)
		ev_break(l, EVBREAK_ALL);
}

/* Runs the loop with cb every period s until cb breaks it (or seconds
 * pass: cb checks t_stop). */
static void
run_phase(void (*cb)(struct ev_loop *, ev_timer *, int), double period,
	  double seconds)
{
	ev_timer w;

	t_stop = mono_s() + seconds;
	ev_timer_init(&w, cb, period, period);
	ev_timer_start(loop, &w);
	ev_run(loop, 0);
	ev_timer_stop(loop, &w);
}

static char dir[] = "/tmp/prs-link-floor.XXXXXX", a[128], b[128];

/* Stops the child (unless it is gone already) and removes the sockets'
 * directory: on every way out once both exist. */
static void
cleanup(void)
{
	if (!child_gone) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	unlink(a + 6);
	unlink(b + 6);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	struct prs_inbox *in;
	double c0, p0, c1, p1, wall, n;
	uint64_t sent0, answered0;
	int rc;

	rc = prs_config_parse(
		opts, PRS_ARRAY_LEN(opts), "link-floor", "presence-link-floor",
		"The links' own cost: one envelope to a peer process and one "
		"back per change, through prs_inbox/prs_peer over ipc://; "
		"prints CPU microseconds per change and per delivery of each "
		"side.",
		argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (mkdtemp(dir) == NULL) {
		perror("link-floor: mkdtemp");
		return 1;
	}
	snprintf(a, sizeof(a), "ipc://%s/a.sock", dir);
	snprintf(b, sizeof(b), "ipc://%s/b.sock", dir);
	payload = xcalloc(1, (size_t) cfg.bytes + 1);
	memset(payload, 'x', (size_t) cfg.bytes);

	/* before any NNG thread exists */
	if ((child = fork()) < 0) {
		perror("link-floor: fork");
		rmdir(dir);
		return 1;
	}
	if (child == 0)
		_exit(child_main(b, a));

	loop = EV_DEFAULT;
	if (prs_inbox_open(&in, loop, a, parent_recv, gone, NULL) != 0 ||
	    prs_peer_open(&peer, loop, b, PRS__KIND__KIND_GATEWAY,
			  "link-floor", 1) != 0) {
		cleanup();
		return 1;
	}

	run_phase(warm_cb, 0.01, 10);
	if (answered == 0) {
		fprintf(stderr, "link-floor: %s\n",
			child_gone ? "the child exited"
				   : "no answer within 10 s");
		cleanup();
		return 1;
	}
	/* let the warm-up's answers land, then measure from a quiet start */
	run_phase(drain_cb, 0.01, 2);

	printf("link-floor: %lld changes/s for %lld s, %lld bytes each way\n",
	       (long long) cfg.rate, (long long) cfg.duration,
	       (long long) cfg.bytes);
	fflush(stdout);
	sent0 = sent;
	answered0 = answered;
	p0 = proc_cpu_us(getpid());
	c0 = proc_cpu_us(child);
	t_start = mono_s();
	run_phase(tick_cb, 1.0 / (double) cfg.rate, (double) cfg.duration);
	run_phase(drain_cb, 0.001, 2); /* the answers still in flight */
	wall = mono_s() - t_start;
	p1 = proc_cpu_us(getpid());
	c1 = proc_cpu_us(child);

	cleanup();
	prs_peer_close(peer);
	prs_inbox_close(in);

	n = (double) (cfg.pace_only ? due_sent : answered - answered0);
	if (cfg.pace_only)
		printf("changes: %llu paced, none sent (--pace-only) in "
		       "%.1f s\n",
		       (unsigned long long) n, wall);
	else
		printf("changes: %llu sent, %llu answered in %.1f s\n",
		       (unsigned long long) (sent - sent0),
		       (unsigned long long) n, wall);
	if (n <= 0 || p0 < 0 || c0 < 0 || p1 < 0 || c1 < 0) {
		fprintf(stderr, "link-floor: nothing measured\n");
		return 1;
	}
	printf("gateway side: %.1f us per change, %.2f us per delivery\n",
	       (p1 - p0) / n, (p1 - p0) / n / (double) cfg.fanout);
	printf("registry side: %.1f us per change, %.2f us per delivery\n",
	       (c1 - c0) / n, (c1 - c0) / n / (double) cfg.fanout);
	printf("links: %.1f us per change, %.2f us per delivery (%lld "
	       "deliveries per change)\n",
	       (p1 - p0 + c1 - c0) / n,
	       (p1 - p0 + c1 - c0) / n / (double) cfg.fanout,
	       (long long) cfg.fanout);
	return answered - answered0 == sent - sent0 ? 0 : 1;
}
