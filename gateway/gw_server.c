/*
 * Listener, connection lifetime and output, in the manner of Redis: one
 * libev thread; replies are appended to a per-connection buffer (wslay's
 * output included, through its send callback) and written with one send()
 * per connection per loop iteration from an ev_prepare hook ("before
 * sleep"); the write watcher is armed only while output remains.
 * Connections are freed late from the same hook, never inside their own
 * callbacks. One cron timer (250 ms) handles hello deadlines, registry
 * request deadlines and, every second, pings, idle timeouts and lingering
 * closes, instead of a timer per connection.
 */
#define _GNU_SOURCE /* accept4 */
#include "gw_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "prs_util.h"

#define CRON_MS      250
#define LINGER_MS    2000 /* how long a closing connection may linger */
#define ACCEPT_BURST 64   /* accepts per readiness event */
#define EXTRA_CONNS  512  /* plain HTTP connections beyond max_connections */
#define STOP_MAX_MS  2000 /* graceful stop: give up waiting after this */

static char rbuf[65536]; /* one read buffer: single-threaded */

static void conn_flush(struct gw_conn *c);

void
gw_conn_pause(struct gw_conn *c)
{
	if (c->reading) {
		ev_io_stop(c->srv->loop, &c->rio);
		c->reading = false;
	}
}

void
gw_conn_resume(struct gw_conn *c)
{
	if (!c->reading && c->state != GW_CONN_DEAD) {
		ev_io_start(c->srv->loop, &c->rio);
		c->reading = true;
	}
}

/* Every append to c->out is followed by a call to this (directly or
 * through gw_conn_flush_later), so the peak seen here is the true one. */
static void
flush_schedule(struct gw_conn *c)
{
	size_t pending = gw_buf_pending(&c->out);

	if (c->state == GW_CONN_WS && pending > c->srv->ws_out_peak)
		c->srv->ws_out_peak = pending;
	if (!c->in_flushq) {
		c->in_flushq = true;
		c->flush_next = c->srv->flushq;
		c->srv->flushq = c;
	}
}

void
gw_conn_send_raw(struct gw_conn *c, const void *data, size_t n)
{
	if (c->state == GW_CONN_DEAD)
		return;
	gw_buf_append(&c->out, data, n);
	flush_schedule(c);
}

bool
gw_conn_fits(struct gw_conn *c, size_t n)
{
	const struct gw_config *cfg = c->srv->cfg;

	if (c->state == GW_CONN_DEAD || c->state == GW_CONN_CLOSING)
		return false;
	if (gw_buf_pending(&c->out) + n <= (size_t) cfg->max_outbound_bytes)
		return true;
	c->srv->n_slow_closed++;
	prs_info("conn %llu: outbound queue over %lld bytes, closing",
		 (unsigned long long) c->serial,
		 (long long) cfg->max_outbound_bytes);
	if (c->ops->overflow != NULL)
		c->ops->overflow(c);
	else
		gw_conn_abort(c);
	return false;
}

bool
gw_conn_send(struct gw_conn *c, const void *data, size_t n)
{
	if (!gw_conn_fits(c, n))
		return false;
	gw_buf_append(&c->out, data, n);
	flush_schedule(c);
	return true;
}

void
gw_conn_flush_later(struct gw_conn *c)
{
	if (c->state != GW_CONN_DEAD)
		flush_schedule(c);
}

void
gw_conn_hello_wait(struct gw_conn *c)
{
	struct gw_server *srv = c->srv;

	c->hello_deadline = prs_mono_ms() + srv->cfg->hello_timeout_ms;
	c->hnext = NULL;
	c->hprev = srv->hello_tail;
	if (srv->hello_tail)
		srv->hello_tail->hnext = c;
	else
		srv->hello_head = c;
	srv->hello_tail = c;
}

void
gw_conn_hello_done(struct gw_conn *c)
{
	struct gw_server *srv = c->srv;

	if (c->hello_deadline == 0)
		return;
	if (c->hprev)
		c->hprev->hnext = c->hnext;
	else
		srv->hello_head = c->hnext;
	if (c->hnext)
		c->hnext->hprev = c->hprev;
	else
		srv->hello_tail = c->hprev;
	c->hprev = c->hnext = NULL;
	c->hello_deadline = 0;
}

/* Common part of leaving the open state one way or another: the codec
 * lets go (a WebSocket ends its session) once, however often called. */
static void
conn_leave(struct gw_conn *c, bool clean)
{
	bool open = c->state == GW_CONN_HTTP || c->state == GW_CONN_WS;

	if (open && c->ops->leave != NULL)
		c->ops->leave(c, clean);
	gw_conn_hello_done(c);
}

void
gw_conn_closing(struct gw_conn *c, bool clean)
{
	if (c->state == GW_CONN_CLOSING || c->state == GW_CONN_DEAD)
		return;
	conn_leave(c, clean);
	c->state = GW_CONN_CLOSING;
	c->deadline = prs_mono_ms() + LINGER_MS;
	gw_conn_resume(c); /* to see the peer's EOF */
	flush_schedule(c);
}

void
gw_conn_abort(struct gw_conn *c)
{
	struct gw_server *srv = c->srv;

	if (c->state == GW_CONN_DEAD)
		return;
	conn_leave(c, false);
	c->state = GW_CONN_DEAD;
	ev_io_stop(srv->loop, &c->rio);
	ev_io_stop(srv->loop, &c->wio);
	c->reading = c->writing = false;
	close(c->fd);
	c->fd = -1;
	gw_buf_free(&c->out);
	c->free_next = srv->freeq;
	srv->freeq = c;
}

static void
conn_free(struct gw_conn *c)
{
	struct gw_server *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	if (srv->hooks->conn_free != NULL)
		srv->hooks->conn_free(c);
	c->ops->release(c);
	free(c->auth_user);
	free(c);
}

void
gw_conn_input(struct gw_conn *c, const char *data, size_t len)
{
	/* closing: discard until EOF */
	if (c->state == GW_CONN_HTTP || c->state == GW_CONN_WS)
		c->ops->input(c, data, len);
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw_conn *c = container_of(w, struct gw_conn, rio);
	ssize_t n;

	n = recv(c->fd, rbuf, sizeof(rbuf), 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		prs_debug("conn %llu: recv: %s",
			  (unsigned long long) c->serial, strerror(errno));
		gw_conn_abort(c);
		return;
	}
	if (n == 0) {
		prs_debug("conn %llu: eof", (unsigned long long) c->serial);
		gw_conn_abort(c);
		return;
	}
	c->last_rx = prs_mono_ms();
	gw_conn_input(c, rbuf, (size_t) n);
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	conn_flush(container_of(w, struct gw_conn, wio));
}

/* One send() of whatever is queued; the write watcher finishes the rest. */
static void
conn_flush(struct gw_conn *c)
{
	struct gw_server *srv = c->srv;
	size_t n = gw_buf_pending(&c->out);

	if (c->state == GW_CONN_DEAD)
		return;
	if (n > 0) {
		ssize_t r = send(c->fd, gw_buf_head(&c->out), n,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				prs_debug("conn %llu: send: %s",
					  (unsigned long long) c->serial,
					  strerror(errno));
				gw_conn_abort(c);
				return;
			}
			r = 0;
		}
		gw_buf_consume(&c->out, (size_t) r);
		if (gw_buf_pending(&c->out) > 0) {
			if (!c->writing) {
				ev_io_start(srv->loop, &c->wio);
				c->writing = true;
			}
			return;
		}
	}
	if (c->writing) {
		ev_io_stop(srv->loop, &c->wio);
		c->writing = false;
	}
	if (c->state == GW_CONN_CLOSING && !c->shut_wr) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = true;
	}
}

void
gw_server_before_sleep(struct gw_server *srv)
{
	while (srv->flushq != NULL) {
		struct gw_conn *c = srv->flushq;
		srv->flushq = c->flush_next;
		c->in_flushq = false;
		c->flush_next = NULL;
		conn_flush(c);
	}
	if (srv->nev_arrived > 0) {
		int64_t now = prs_mono_us();
		size_t i;
		for (i = 0; i < srv->nev_arrived; i++)
			prs_hist_observe(&srv->h_send,
					 (double) (now - srv->ev_arrived[i]) /
						 1e6);
		srv->nev_arrived = 0;
	}
	while (srv->freeq != NULL) {
		struct gw_conn *c = srv->freeq;
		srv->freeq = c->free_next;
		conn_free(c);
	}
}

static void
prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	gw_server_before_sleep(container_of(w, struct gw_server, prepare));
}

struct gw_conn *
gw_server_adopt(struct gw_server *srv, int fd)
{
	struct gw_conn *c = xcalloc(1, sizeof(*c));
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->srv = srv;
	c->fd = fd;
	c->state = GW_CONN_HTTP;
	c->serial = ++srv->next_serial;
	c->last_rx = prs_mono_ms();
	c->deadline = c->last_rx + srv->cfg->http_request_timeout_ms;
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	srv->n_accepted++;
	srv->hooks->accept(c);
	gw_conn_resume(c);
	return c;
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gw_server *srv = container_of(w, struct gw_server, accept_io);
	int i;

	for (i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(srv->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) &&
			    srv->spare_fd >= 0) {
				/* Out of descriptors: take the connection
				 * with the spare one and close it, rather
				 * than spin on a listener that stays
				 * readable. */
				close(srv->spare_fd);
				fd = accept(srv->lfd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				srv->spare_fd = open("/dev/null",
						     O_RDONLY | O_CLOEXEC);
				prs_warn("out of file descriptors: refused a "
					 "connection");
				continue;
			}
			prs_warn("accept: %s", strerror(errno));
			return;
		}
		if (srv->nconns >=
		    (size_t) srv->cfg->max_connections + EXTRA_CONNS) {
			close(fd);
			continue;
		}
		gw_server_adopt(srv, fd);
	}
}

static void
cron_scan(struct gw_server *srv, int64_t now)
{
	struct gw_conn *c;

	for (c = srv->conns; c != NULL; c = c->next) {
		switch (c->state) {
		case GW_CONN_HTTP:
		case GW_CONN_WS:
			c->ops->tick(c, now);
			break;
		case GW_CONN_CLOSING:
			if (now >= c->deadline)
				gw_conn_abort(c);
			break;
		default:
			break;
		}
	}
}

static void
cron_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gw_server *srv = container_of(w, struct gw_server, cron);
	int64_t now = prs_mono_ms();

	while (srv->hello_head != NULL &&
	       srv->hello_head->hello_deadline <= now) {
		struct gw_conn *c = srv->hello_head;
		if (c->ops->expired != NULL)
			c->ops->expired(c);
		gw_conn_hello_done(c); /* in case the close was a no-op */
	}
	srv->hooks->tick(srv, now);
	if (++srv->cron_ticks % (1000 / CRON_MS) == 0) {
		cron_scan(srv, now);
		srv->hooks->second(srv, now);
		if (sd_watchdog_enabled(0, NULL) > 0)
			sd_notify(0, "WATCHDOG=1");
	}
}

void
gw_server_init(struct gw_server *srv, struct ev_loop *loop,
	       const struct gw_config *cfg,
	       const struct gw_server_hooks *hooks)
{
	memset(srv, 0, sizeof(*srv));
	srv->hooks = hooks;
	srv->loop = loop;
	srv->cfg = cfg;
	srv->lfd = -1;
	srv->next_sid = 1;
	srv->epoch = prs_epoch_new();
	srv->started_ms = prs_now_ms();
	prs_hist_init(&srv->h_handoff, prs_hist_latency, prs_hist_latency_n);
	prs_hist_init(&srv->h_send, prs_hist_latency, prs_hist_latency_n);
	srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ev_prepare_init(&srv->prepare, prepare_cb);
	ev_prepare_start(loop, &srv->prepare);
	ev_timer_init(&srv->cron, cron_cb, CRON_MS / 1000.0, CRON_MS / 1000.0);
	ev_timer_start(loop, &srv->cron);
}

int
gw_server_listen(struct gw_server *srv)
{
	const struct gw_config *cfg = srv->cfg;
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int fd = -1, rv, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%lld", (long long) cfg->http_port);
	rv = getaddrinfo(cfg->http_host, port, &hints, &res);
	if (rv != 0) {
		prs_err("http host %s: %s", cfg->http_host, gai_strerror(rv));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1024) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		prs_err("listen on %s:%s: %s", cfg->http_host, port,
			strerror(errno));
		return -1;
	}
	srv->lfd = fd;
	ev_io_init(&srv->accept_io, accept_cb, fd, EV_READ);
	ev_io_start(srv->loop, &srv->accept_io);
	srv->listening = true;
	prs_info("listening on %s:%s", cfg->http_host, port);
	return 0;
}

static void
stop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gw_server *srv = container_of(w, struct gw_server, stop_timer);
	int64_t now = prs_mono_ms();

	if (srv->nconns == 0 && srv->hooks->backlog(srv) == 0)
		srv->stop_quiet++; /* twice in a row: NNG had time to send */
	else
		srv->stop_quiet = 0;
	if (srv->stop_quiet >= 2 || now - srv->stop_started >= STOP_MAX_MS)
		ev_break(loop, EVBREAK_ALL);
}

void
gw_server_stop(struct gw_server *srv)
{
	struct gw_conn *c, *next;

	if (srv->stopping)
		return;
	srv->stopping = true;
	srv->stop_started = prs_mono_ms();
	prs_info("stopping: closing %zu connections", srv->nconns);
	sd_notify(0, "STOPPING=1");
	if (srv->listening) {
		ev_io_stop(srv->loop, &srv->accept_io);
		close(srv->lfd);
		srv->lfd = -1;
		srv->listening = false;
	}
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state != GW_CONN_HTTP && c->state != GW_CONN_WS)
			continue;
		if (c->ops->stop != NULL)
			c->ops->stop(c);
		else
			gw_conn_abort(c);
	}
	srv->hooks->stop(srv);
	ev_timer_init(&srv->stop_timer, stop_timer_cb, 0.05, 0.05);
	ev_timer_start(srv->loop, &srv->stop_timer);
}

void
gw_server_fini(struct gw_server *srv)
{
	while (srv->conns != NULL) {
		struct gw_conn *c = srv->conns;
		if (c->state != GW_CONN_DEAD) {
			gw_conn_abort(c);
		}
		/* drop it from the free queue and free it now */
		srv->freeq = NULL;
		conn_free(c);
	}
	srv->hooks->fini(srv);
	ev_prepare_stop(srv->loop, &srv->prepare);
	ev_timer_stop(srv->loop, &srv->cron);
	ev_timer_stop(srv->loop, &srv->stop_timer);
	if (srv->listening) {
		ev_io_stop(srv->loop, &srv->accept_io);
		close(srv->lfd);
	}
	if (srv->spare_fd >= 0)
		close(srv->spare_fd);
	gw_buf_free(&srv->scratch);
	for (size_t i = 0; i < GW_FE_KINDS_MAX; i++)
		gw_buf_free(&srv->frames[i]);
}

void
gw_config_defaults(struct gw_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->name = "gw1";
	cfg->url = "";
	cfg->registry_url = "ipc:///run/presence/registry.sock";
	cfg->http_host = "0.0.0.0";
	cfg->http_port = 8080;
	cfg->web_root = PRS_WEB_ROOT;
	cfg->heartbeat_ms = 20000;
	cfg->heartbeat_timeout_ms = 10000;
	cfg->hello_timeout_ms = 10000;
	cfg->max_message_bytes = 65536;
	cfg->max_outbound_bytes = 1048576;
	cfg->max_connections = 19000;
	cfg->max_body_bytes = 65536;
	cfg->http_request_timeout_ms = 30000;
	cfg->request_timeout_ms = 5000;
	cfg->rate_limit_per_sec = 20;
	cfg->rate_limit_burst = 50;
	cfg->http_session_ttl_ms = 60000;
	cfg->rate_limit_close_ms = 10000;
	cfg->max_url_bytes = 4096;
	cfg->max_header_bytes = 8192;
	cfg->max_headers = 64;
	cfg->allowed_origins = "";
	cfg->compat_events = "";
	cfg->socketio_path = "/socket.io/";
	cfg->socketio_all = true;
	cfg->socketio_ping_interval_ms = 25000;
	cfg->socketio_ping_timeout_ms = 20000;
	cfg->signalr_paths = "/hubs/location,/hubs/presence";
	cfg->signalr_keepalive_ms = 15000;
	cfg->signalr_client_timeout_ms = 30000;
}
