/*
 * presence-floor: the kernel's floor under presence's fan-out (issue 10,
 * docs/BENCHMARKS.md "Cost per delivery against the kernel's floor").
 *
 * What the cheapest possible presence server would still pay: one small
 * send() per delivery on an idle loopback TCP connection, nothing else (no
 * parsing, no registry, no database). It opens --clients loopback TCP
 * connections; a forked child holds their client ends and drains them (its
 * CPU is not counted, as the bench clients' CPU is not counted for
 * presence); the parent holds the accepted ends, as a gateway does, and
 * paces status changes at --rate for --duration seconds the way
 * presence-bench --mode fanout does: each change picks a random user, and
 * each other member of that user's thread (users 0..k-1 form the first
 * thread, and so on; the last one may be smaller) gets one send() of
 * --bytes. That is exactly what presence-bench counts as deliveries: every
 * co-member's session receives the event, the changer's own does not.
 *
 * Prints the parent's CPU (getrusage, user + system) over the send phase
 * only, and CPU microseconds per delivery. Pin with --sender-cpu and
 * --receiver-cpu (or taskset around it). Loopback only; stops by itself.
 */
#define _GNU_SOURCE /* sched_setaffinity, accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prs_config.h"
#include "prs_util.h"

static struct {
	int64_t clients, thread_size, rate, duration, bytes;
	int64_t sender_cpu, receiver_cpu;
} cfg = {2000, 20, 1000, 20, 160, -1, -1};

static const struct prs_opt opts[] = {
	{"clients", PRS_OPT_INT, &cfg.clients, 2, 19000,
	 "loopback TCP connections (each is two fds, one per process)"},
	{"thread_size", PRS_OPT_INT, &cfg.thread_size, 2, 19000,
	 "members per thread (as presence-bench --thread-size)"},
	{"rate", PRS_OPT_INT, &cfg.rate, 1, 1000000,
	 "status changes per second"},
	{"duration", PRS_OPT_INT, &cfg.duration, 1, 3600,
	 "seconds of sending, then stop"},
	{"bytes", PRS_OPT_INT, &cfg.bytes, 1, 65536,
	 "bytes per send() (one delivery)"},
	{"sender_cpu", PRS_OPT_INT, &cfg.sender_cpu, -1, 1023,
	 "pin the sending (measured) process to this CPU; -1: leave it"},
	{"receiver_cpu", PRS_OPT_INT, &cfg.receiver_cpu, -1, 1023,
	 "pin the draining child to this CPU; -1: leave it"},
};

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_ms(const struct rusage *r)
{
	return (r->ru_utime.tv_sec + r->ru_stime.tv_sec) * 1e3 +
	       (r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1e3;
}

static void
pin(int64_t cpu, const char *who)
{
	if (prs_cpu_pin(cpu, who) != 0)
		exit(2);
}

/* The soft open-files limit up to the hard one; each process needs
 * --clients fds and a few. */
static void
raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t) cfg.clients + 16) {
		fprintf(stderr,
			"floor: %lld connections need %lld open files per "
			"process; the limit is %llu\n",
			(long long) cfg.clients, (long long) cfg.clients + 16,
			(unsigned long long) rl.rlim_cur);
		exit(2);
	}
}

/* The child: connect --clients times, tell the parent (one byte on `ready`)
 * once every end is in the epoll set, read and drop everything until every
 * connection has been closed by the parent. */
static void
receiver(const struct sockaddr_in *sa, int ready)
{
	static char buf[65536];
	struct epoll_event ev, evs[256];
	int ep, open_n = 0, i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin(cfg.receiver_cpu, "floor: the receiver");
	ep = epoll_create1(0);
	for (i = 0; i < cfg.clients; i++) {
		int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (const struct sockaddr *) sa,
				      sizeof(*sa)) != 0) {
			fprintf(stderr, "floor: connect %d: %s\n", i,
				strerror(errno));
			_exit(1);
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(fd, F_SETFL, O_NONBLOCK);
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		open_n++;
	}
	if (write(ready, "r", 1) != 1)
		_exit(1);
	close(ready);
	while (open_n > 0) {
		int n = epoll_wait(ep, evs, PRS_ARRAY_LEN(evs), -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			_exit(1);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r;
			while ((r = read(fd, buf, sizeof(buf))) > 0)
				;
			if (r == 0 ||
			    (r < 0 && errno != EAGAIN && errno != EINTR)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				open_n--;
			}
		}
	}
	_exit(0);
}

/* xorshift64*: the changer's choice, cheap and the same on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	struct timeval tmo = {30, 0};
	struct rusage r0, r1, rc;
	struct timespec next;
	int lfd, pfd[2], one = 1, i, status;
	int *fds;
	char *payload, c;
	pid_t child;
	uint64_t changes = 0, deliveries = 0, blocked = 0;
	double t0, t_end, t, last, carry = 0, wall;

	i = prs_config_parse(opts, PRS_ARRAY_LEN(opts), "floor",
			     "presence-floor",
			     "The floor: one send() per delivery over idle "
			     "loopback TCP connections, in presence-bench's "
			     "fan-out pattern; prints CPU microseconds per "
			     "delivery of the sending process.",
			     argc, argv);
	if (i != 0)
		return i > 0 ? 0 : 2;
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
	    listen(lfd, SOMAXCONN) != 0 ||
	    getsockname(lfd, (struct sockaddr *) &sa, &salen) != 0) {
		perror("floor: listen on 127.0.0.1");
		return 1;
	}
	if (pipe(pfd) != 0) {
		perror("floor: pipe");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("floor: fork");
		return 1;
	}
	if (child == 0) {
		close(lfd);
		close(pfd[0]);
		receiver(&sa, pfd[1]);
	}
	close(pfd[1]);
	pin(cfg.sender_cpu, "floor: the sender");

	fds = xcalloc((size_t) cfg.clients, sizeof(*fds));
	for (i = 0; i < cfg.clients; i++) {
		fds[i] = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
		if (fds[i] < 0) {
			fprintf(stderr, "floor: accept %d: %s\n", i,
				strerror(errno));
			kill(child, SIGKILL);
			return 1;
		}
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one,
			   sizeof(one));
	}
	close(lfd);
	if (read(pfd[0], &c, 1) != 1) {
		fprintf(stderr, "floor: the receiver did not start\n");
		kill(child, SIGKILL);
		return 1;
	}
	close(pfd[0]);
	printf("connected: %lld connections, threads of %lld\n",
	       (long long) cfg.clients, (long long) cfg.thread_size);
	fflush(stdout);

	payload = xmalloc((size_t) cfg.bytes);
	memset(payload, 'x', (size_t) cfg.bytes);

	/* The send phase: a 1 ms tick, as presence-bench's. */
	getrusage(RUSAGE_SELF, &r0);
	t0 = last = now_s();
	t_end = t0 + (double) cfg.duration;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while ((t = now_s()) < t_end) {
		double due = (t - last) * (double) cfg.rate + carry;
		last = t;
		while (due >= 1.0) {
			int64_t u = (int64_t) (rnd() % (uint64_t) cfg.clients);
			int64_t first = u / cfg.thread_size * cfg.thread_size;
			int64_t n = cfg.thread_size, m;
			if (first + n > cfg.clients)
				n = cfg.clients - first;
			due -= 1.0;
			changes++;
			for (m = first; m < first + n; m++) {
				if (m == u)
					continue;
				if (send(fds[m], payload, (size_t) cfg.bytes,
					 MSG_NOSIGNAL | MSG_DONTWAIT) ==
				    (ssize_t) cfg.bytes)
					deliveries++;
				else
					blocked++;
			}
		}
		carry = due;
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
	}
	wall = now_s() - t0;
	getrusage(RUSAGE_SELF, &r1);

	for (i = 0; i < cfg.clients; i++)
		close(fds[i]);
	if (wait4(child, &status, 0, &rc) != child)
		memset(&rc, 0, sizeof(rc));

	printf("changes: %llu (%.0f/s)\n", (unsigned long long) changes,
	       changes / wall);
	printf("deliveries: %llu (%.0f/s)\n", (unsigned long long) deliveries,
	       deliveries / wall);
	if (blocked)
		printf("blocked sends (not counted): %llu\n",
		       (unsigned long long) blocked);
	printf("cpu_ms: %.1f\n", cpu_ms(&r1) - cpu_ms(&r0));
	printf("us_per_delivery: %.2f\n",
	       deliveries ? (cpu_ms(&r1) - cpu_ms(&r0)) * 1e3 /
				    (double) deliveries
			  : 0.0);
	printf("receiver_cpu_ms (not counted): %.1f\n", cpu_ms(&rc));
	return deliveries > 0 ? 0 : 1;
}
