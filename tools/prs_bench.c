/*
 * presence-bench: a load generator and latency meter for presence
 * gateways, over real WebSockets on loopback.
 *
 * It opens many client connections from one libev loop (wslay in client
 * mode, masked frames), says hello as distinct users, and then either just
 * holds them (mode "sessions": measure a gateway's memory per session from
 * outside) or drives status changes at a fixed rate between members of
 * small threads (mode "fanout"): each change carries its send time in the
 * status text, and every receiver turns the arrival into a latency sample.
 * Mode "slow" measures the defence against slow readers: all clients share
 * one thread; the last --writers of them change status (with a padded
 * text) at --rate while every other one says hello and then never reads
 * again, so the gateway must bound what it queues for them.
 * It stops by itself after --duration seconds. Loopback addresses only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "prs_config.h"
#include "prs_util.h"

struct client {
	int id;
	int fd;
	int port;
	ev_io io;
	wslay_event_context_ptr ws;
	char hbuf[1024]; /* upgrade response */
	size_t hlen;
	bool upgraded, welcomed;
	bool slow; /* mode slow: stopped reading after its welcome */
	int status_flip;
};

static struct {
	char *host, *ports, *mode, *prefix;
	int64_t clients, thread_size, rate, duration, connect_parallel;
	int64_t writers;
} cfg = {"127.0.0.1", "8080", "fanout", "bench", 1000, 10, 1000, 10, 256, 10};

static const struct prs_opt opts[] = {
	{"host", PRS_OPT_STR, &cfg.host, 0, 0,
	 "gateway address (loopback only)"},
	{"ports", PRS_OPT_STR, &cfg.ports, 0, 0,
	 "comma-separated gateway ports; clients are spread over "
	 "them"},
	{"mode", PRS_OPT_STR, &cfg.mode, 0, 0,
	 "sessions (connect and hold), fanout (status changes) or "
	 "slow (readers that stop reading)"},
	{"writers", PRS_OPT_INT, &cfg.writers, 1, 1000,
	 "slow mode: clients (the last ones) that change status"},
	{"prefix", PRS_OPT_STR, &cfg.prefix, 0, 0, "user id prefix"},
	{"clients", PRS_OPT_INT, &cfg.clients, 1, 19000, "client connections"},
	{"thread_size", PRS_OPT_INT, &cfg.thread_size, 2, 19000,
	 "members per thread in fanout mode (--thread-size = --clients: "
	 "one thread of everyone, a broadcast)"},
	{"rate", PRS_OPT_INT, &cfg.rate, 1, 1000000,
	 "status changes per second in fanout mode"},
	{"duration", PRS_OPT_INT, &cfg.duration, 1, 3600,
	 "seconds to hold or drive load, then stop"},
	{"connect_parallel", PRS_OPT_INT, &cfg.connect_parallel, 1, 10000,
	 "connections being set up at once"},
};

static struct client *clients;
static int nports, ports[16];
static int next_connect, connecting, nwelcomed, nfailed;
static struct ev_loop *loop;
static ev_timer tick, stop_timer;
static double t_start, t_all_connected;
static uint64_t sent, received;
static uint64_t hist[64]; /* latency buckets, log2 microseconds */
static uint64_t *samples;
static size_t nsamples, samplecap;

/* Seconds on a clock: CLOCK_MONOTONIC for times, CLOCK_PROCESS_CPUTIME_ID
 * for this process's user + system CPU. */
static double
clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static int64_t
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void start_connects(void);

static void
client_fail(struct client *c, const char *why)
{
	if (c->fd >= 0) {
		ev_io_stop(loop, &c->io);
		close(c->fd);
		c->fd = -1;
	}
	if (c->ws)
		wslay_event_context_free(c->ws);
	c->ws = NULL;
	if (!c->welcomed) {
		nfailed++;
		connecting--;
		if (nfailed <= 5)
			fprintf(stderr, "bench: client %d: %s\n", c->id, why);
		start_connects();
	}
}

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
	   void *ud)
{
	struct client *c = ud;
	ssize_t n = read(c->fd, buf, len);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
	   int flags, void *ud)
{
	struct client *c = ud;
	ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EINTR)
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	else
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static int
ws_mask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
	size_t i;
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t) rand();
	return 0;
}

static void
sample(int64_t us)
{
	int b = 0;
	if (us < 0)
		us = 0;
	while ((1LL << b) < us && b < 63)
		b++;
	hist[b]++;
	if (nsamples == samplecap) {
		samplecap = samplecap ? samplecap * 2 : 65536;
		samples = xrealloc(samples, samplecap * sizeof(*samples));
	}
	samples[nsamples++] = (uint64_t) us;
}

static void
ws_msg_cb(wslay_event_context_ptr ctx,
	  const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
	struct client *c = ud;
	json_t *j;
	const char *type, *text;

	if (arg->opcode != WSLAY_TEXT_FRAME)
		return;
	j = json_loadb((const char *) arg->msg, arg->msg_length, 0, NULL);
	if (j == NULL)
		return;
	type = json_string_value(json_object_get(j, "type"));
	if (type && strcmp(type, "welcome") == 0 && !c->welcomed) {
		c->welcomed = true;
		connecting--;
		nwelcomed++;
		if (nwelcomed == cfg.clients)
			t_all_connected = now_s();
		if (strcmp(cfg.mode, "slow") == 0 &&
		    c->id < cfg.clients - cfg.writers) {
			/* Never read again; the socket stays open. */
			c->slow = true;
			ev_io_stop(loop, &c->io);
		}
		start_connects();
	} else if (type && strcmp(type, "presence") == 0) {
		text = json_string_value(json_object_get(j, "text"));
		if (text && text[0] == 't') {
			received++;
			sample(now_us() - strtoll(text + 1, NULL, 10));
		}
	}
	json_decref(j);
}

static void
ws_send_text(struct client *c, const char *s)
{
	struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *) s,
				    strlen(s)};
	if (c->ws == NULL)
		return;
	wslay_event_queue_msg(c->ws, &m);
	if (wslay_event_send(c->ws) != 0)
		client_fail(c, "send failed");
	else if (wslay_event_want_write(c->ws))
		ev_io_set(&c->io, c->fd, EV_READ | EV_WRITE);
}

static void
client_upgraded(struct client *c)
{
	static const struct wslay_event_callbacks cbs = {
		ws_recv_cb, ws_send_cb, ws_mask_cb, NULL,
		NULL,       NULL,       ws_msg_cb};
	char hello[256];

	c->upgraded = true;
	wslay_event_context_client_init(&c->ws, &cbs, c);
	snprintf(hello, sizeof(hello),
		 "{\"type\":\"hello\",\"user_id\":\"%s%d\"}", cfg.prefix,
		 c->id);
	ws_send_text(c, hello);
}

static void
client_io_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct client *c = container_of(w, struct client, io);

	if (!c->upgraded) {
		char req[512];
		ssize_t n;
		if (revents & EV_WRITE) {
			int err = 0;
			socklen_t el = sizeof(err);
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err) {
				client_fail(c, strerror(err));
				return;
			}
			n = snprintf(
				req, sizeof(req),
				"GET /v1/ws HTTP/1.1\r\nHost: %s:%d\r\n"
				"Upgrade: websocket\r\nConnection: Upgrade\r\n"
				"Sec-WebSocket-Key: "
				"dGhlIHNhbXBsZSBub25jZQ==\r\n"
				"Sec-WebSocket-Version: 13\r\n\r\n",
				cfg.host, c->port);
			if (send(c->fd, req, (size_t) n, MSG_NOSIGNAL) != n) {
				client_fail(c, "upgrade send failed");
				return;
			}
			ev_io_stop(loop, &c->io);
			ev_io_set(&c->io, c->fd, EV_READ);
			ev_io_start(loop, &c->io);
			return;
		}
		n = read(c->fd, c->hbuf + c->hlen,
			 sizeof(c->hbuf) - 1 - c->hlen);
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return;
			client_fail(c, "closed during upgrade");
			return;
		}
		c->hlen += (size_t) n;
		c->hbuf[c->hlen] = '\0';
		if (strstr(c->hbuf, "\r\n\r\n") == NULL) {
			if (c->hlen >= sizeof(c->hbuf) - 1)
				client_fail(c, "upgrade response too long");
			return;
		}
		if (strncmp(c->hbuf, "HTTP/1.1 101", 12) != 0) {
			client_fail(c, "upgrade refused");
			return;
		}
		client_upgraded(c);
		return;
	}
	if ((revents & EV_READ) && wslay_event_recv(c->ws) != 0) {
		client_fail(c, "connection closed");
		return;
	}
	if ((revents & EV_WRITE) && wslay_event_send(c->ws) != 0) {
		client_fail(c, "send failed");
		return;
	}
	if (c->ws == NULL || c->slow)
		return;
	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->fd,
		  EV_READ | (wslay_event_want_write(c->ws) ? EV_WRITE : 0));
	ev_io_start(loop, &c->io);
}

static void
start_connects(void)
{
	while (next_connect < cfg.clients &&
	       connecting < cfg.connect_parallel) {
		struct client *c = &clients[next_connect];
		struct sockaddr_in sa = {.sin_family = AF_INET};
		int one = 1;
		c->id = next_connect++;
		c->port = ports[c->id % nports];
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (c->fd < 0) {
			perror("bench: socket");
			nfailed++;
			continue;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		sa.sin_port = htons((uint16_t) c->port);
		inet_pton(AF_INET, cfg.host, &sa.sin_addr);
		connecting++;
		if (connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 &&
		    errno != EINPROGRESS) {
			client_fail(c, strerror(errno));
			continue;
		}
		ev_io_init(&c->io, client_io_cb, c->fd, EV_WRITE);
		ev_io_start(loop, &c->io);
	}
}

/* PUT (or POST: add) /v1/threads/T/members over a plain blocking socket
 * (auth none: every HTTP caller is admin). */
static int
members_req(const char *method, int port, int thread, int first, int n)
{
	char body[65536], req[70000], resp[512];
	size_t off = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd, i, len;
	ssize_t got;

	off += (size_t) snprintf(body + off, sizeof(body) - off,
				 "{\"user_ids\":[");
	for (i = 0; i < n && off < sizeof(body) - 200; i++)
		off += (size_t) snprintf(body + off, sizeof(body) - off,
					 "%s\"%s%d\"", i ? "," : "",
					 cfg.prefix, first + i);
	off += (size_t) snprintf(body + off, sizeof(body) - off, "]}");
	len = snprintf(
		req, sizeof(req),
		"%s /v1/threads/%sT%d/members HTTP/1.1\r\nHost: x\r\n"
		"Content-Type: application/json\r\nContent-Length: %zu\r\n"
		"Connection: close\r\n\r\n%s",
		method, cfg.prefix, thread, off, body);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = htons((uint16_t) port);
	inet_pton(AF_INET, cfg.host, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
	    send(fd, req, (size_t) len, MSG_NOSIGNAL) != len) {
		close(fd);
		return -1;
	}
	got = read(fd, resp, sizeof(resp) - 1);
	close(fd);
	if (got < 12 || strncmp(resp, "HTTP/1.1 200", 12) != 0)
		return -1;
	return 0;
}

/* The member set of thread T is users first..first+n-1: one PUT, then
 * POSTs (adds) of 1,000 more each, so that a large thread's body stays
 * within the gateway's max_body_bytes (64 KiB by default). */
static int
put_members(int port, int thread, int first, int n)
{
	int done = n < 1000 ? n : 1000;
	if (members_req("PUT", port, thread, first, done) != 0)
		return -1;
	while (done < n) {
		int k = n - done < 1000 ? n - done : 1000;
		if (members_req("POST", port, thread, first + done, k) != 0)
			return -1;
		done += k;
	}
	return 0;
}

static void
tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	static double last, carry;
	double t = now_s(), due;
	char msg[320];

	if (nwelcomed < cfg.clients || (strcmp(cfg.mode, "fanout") != 0 &&
					strcmp(cfg.mode, "slow") != 0)) {
		last = t;
		return;
	}
	due = (t - last) * (double) cfg.rate + carry;
	last = t;
	while (due >= 1.0) {
		bool slow = strcmp(cfg.mode, "slow") == 0;
		struct client *c =
			slow ? &clients[cfg.clients - 1 - rand() % cfg.writers]
			     : &clients[rand() % cfg.clients];
		due -= 1.0;
		if (!c->welcomed || c->ws == NULL)
			continue;
		c->status_flip ^= 1;
		snprintf(msg, sizeof(msg),
			 "{\"type\":\"set_status\",\"status\":\"%s\","
			 "\"text\":\"t%lld%s\"}",
			 c->status_flip ? "away" : "online",
			 (long long) now_us(),
			 slow ? " padding to make every event a few "
				"hundred bytes long, as a real status text "
				"with a long line might be ......"
			      : "");
		ws_send_text(c, msg);
		sent++;
	}
	carry = due;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

static void
stop_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	ev_break(l, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	char *p, *save = NULL, *ports_copy;
	double t_load, cpu_load;
	int rc;

	rc = prs_config_parse(
		opts, PRS_ARRAY_LEN(opts), "bench", "presence-bench",
		"Load generator: N WebSocket clients against gateways.", argc,
		argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (strncmp(cfg.host, "127.", 4) != 0) {
		fprintf(stderr, "bench: loopback addresses only\n");
		return 2;
	}
	ports_copy = xstrdup(cfg.ports);
	for (p = strtok_r(ports_copy, ",", &save); p && nports < 16;
	     p = strtok_r(NULL, ",", &save))
		ports[nports++] = atoi(p);
	if (nports == 0) {
		fprintf(stderr, "bench: --ports needed\n");
		return 2;
	}
	clients = xcalloc((size_t) cfg.clients, sizeof(*clients));
	loop = EV_DEFAULT;
	srand((unsigned) getpid());

	if (strcmp(cfg.mode, "fanout") == 0) {
		int th, first;
		for (th = 0, first = 0; first < cfg.clients;
		     th++, first += (int) cfg.thread_size) {
			int n = (int) cfg.thread_size;
			if (first + n > cfg.clients)
				n = (int) cfg.clients - first;
			if (put_members(ports[0], th, first, n) != 0) {
				fprintf(stderr, "bench: membership PUT failed "
						"(is the gateway in auth none "
						"mode?)\n");
				return 1;
			}
		}
		printf("threads: %d of %lld members\n", th,
		       (long long) cfg.thread_size);
	} else if (strcmp(cfg.mode, "slow") == 0) {
		if (cfg.writers >= cfg.clients) {
			fprintf(stderr, "bench: --writers must be fewer than "
					"--clients\n");
			return 2;
		}
		if (put_members(ports[0], 0, 0, (int) cfg.clients) != 0) {
			fprintf(stderr, "bench: membership PUT failed (is the "
					"gateway in auth none mode?)\n");
			return 1;
		}
		printf("one thread of %lld: %lld slow readers, %lld writers\n",
		       (long long) cfg.clients,
		       (long long) (cfg.clients - cfg.writers),
		       (long long) cfg.writers);
	}
	t_start = now_s();
	start_connects();
	ev_timer_init(&tick, tick_cb, 0.001, 0.001);
	ev_timer_start(loop, &tick);
	/* setup gets up to 120 s on top of the measured duration */
	while (nwelcomed + nfailed < cfg.clients && now_s() - t_start < 120)
		ev_run(loop, EVRUN_ONCE);
	printf("connected: %d sessions (%d failed) in %.2f s\n", nwelcomed,
	       nfailed,
	       (t_all_connected ? t_all_connected : now_s()) - t_start);
	fflush(stdout);
	t_load = now_s();
	cpu_load = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	ev_timer_init(&stop_timer, stop_cb, (double) cfg.duration, 0.);
	ev_timer_start(loop, &stop_timer);
	ev_run(loop, 0);
	t_load = now_s() - t_load;
	cpu_load = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu_load;
	if (strcmp(cfg.mode, "fanout") == 0 || strcmp(cfg.mode, "slow") == 0) {
		printf("changes sent: %llu (%.0f/s); presence events "
		       "received: "
		       "%llu (%.0f/s)\n",
		       (unsigned long long) sent, sent / t_load,
		       (unsigned long long) received, received / t_load);
		if (nsamples > 0) {
			qsort(samples, nsamples, sizeof(*samples), cmp_u64);
			printf("latency change->watcher (us): p50 %llu p90 "
			       "%llu "
			       "p99 %llu max %llu\n",
			       (unsigned long long) samples[nsamples / 2],
			       (unsigned long long) samples[nsamples * 9 / 10],
			       (unsigned long long)
				       samples[nsamples * 99 / 100],
			       (unsigned long long) samples[nsamples - 1]);
		}
		/* Near 100%, the latency above is partly this driver's own
		 * backlog, not the system's. */
		printf("bench CPU: %.0f%% of one core over the load phase\n",
		       t_load > 0 ? 100.0 * cpu_load / t_load : 0.0);
	}
	return nwelcomed == cfg.clients ? 0 : 1;
}
