/*
 * Prometheus text helpers and the /metrics endpoint (prs_metrics.h).
 *
 * Design decisions:
 * - One request per connection: the request head is parsed with
 *   http-parser (at most REQ_MAX bytes), the answer is written and the
 *   connection closed (Connection: close). A scrape is a few kilobytes.
 * - At most CONNS_MAX connections; one more is accepted and closed at
 *   once, so the kernel's backlog never fills. Each connection has one
 *   deadline (TIMEOUT_S) for everything, so a slow or silent client holds
 *   a slot for at most that long.
 * - accept() failing for lack of descriptors (EMFILE) pauses the
 *   listener for a second instead of spinning on it.
 */
#define _GNU_SOURCE /* accept4 */
#include "prs_metrics.h"
#include "prs_util.h"
#include "prs_version.h"

#include <errno.h>
#include <http_parser.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNS_MAX    16
#define REQ_MAX      8192 /* bytes of request head */
#define URL_MAX      256
#define TIMEOUT_S    5.0
#define ACCEPT_PAUSE 1.0
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- text ------------------------------------------------------------- */

void
prs_mbuf_printf(struct prs_mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt,
			      ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t) n < room) {
			b->len += (size_t) n;
			return;
		}
		b->cap = b->cap * 2 > b->len + (size_t) n + 1
				 ? b->cap * 2
				 : b->len + (size_t) n + 1024;
		b->data = xrealloc(b->data, b->cap);
	}
}

void
prs_mbuf_free(struct prs_mbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
prs_metric_head(struct prs_mbuf *b, const char *name, const char *type,
		const char *help)
{
	prs_mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
			type);
}

void
prs_metric_u64(struct prs_mbuf *b, const char *name, const char *labels,
	       uint64_t v)
{
	if (labels != NULL)
		prs_mbuf_printf(b, "%s{%s} %llu\n", name, labels,
				(unsigned long long) v);
	else
		prs_mbuf_printf(b, "%s %llu\n", name, (unsigned long long) v);
}

static void
f64_text(char *out, size_t n, double v)
{
	if (isnan(v))
		snprintf(out, n, "NaN");
	else if (isinf(v))
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
	else
		snprintf(out, n, "%.15g", v);
}

void
prs_metric_f64(struct prs_mbuf *b, const char *name, const char *labels,
	       double v)
{
	char t[40];

	f64_text(t, sizeof(t), v);
	if (labels != NULL)
		prs_mbuf_printf(b, "%s{%s} %s\n", name, labels, t);
	else
		prs_mbuf_printf(b, "%s %s\n", name, t);
}

void
prs_metric_counter(struct prs_mbuf *b, const char *name, const char *help,
		   uint64_t v)
{
	prs_metric_head(b, name, "counter", help);
	prs_metric_u64(b, name, NULL, v);
}

void
prs_metric_gauge(struct prs_mbuf *b, const char *name, const char *help,
		 double v)
{
	prs_metric_head(b, name, "gauge", help);
	prs_metric_f64(b, name, NULL, v);
}

void
prs_metric_process(struct prs_mbuf *b, const char *proc, int64_t started_ms)
{
	char name[96], lab[96];

	snprintf(name, sizeof(name), "presence_%s_build_info", proc);
	prs_metric_head(b, name, "gauge",
			"the version of this build (label version); always "
			"1");
	prs_metric_u64(
		b, name,
		prs_metric_label(lab, sizeof(lab), "version", PRS_VERSION), 1);
	snprintf(name, sizeof(name), "presence_%s_start_time_seconds", proc);
	prs_metric_gauge(b, name, "when this process started (UNIX time)",
			 (double) started_ms / 1000.0);
}

char *
prs_metric_label(char *out, size_t n, const char *key, const char *value)
{
	size_t k;
	int w;

	if (n == 0)
		return out;
	w = snprintf(out, n, "%s=\"", key);
	if (w < 0 || (size_t) w >= n) {
		out[0] = '\0';
		return out;
	}
	k = (size_t) w;
	for (; *value != '\0' && k + 3 < n; value++) {
		char c = *value;
		if (c == '\\' || c == '"' || c == '\n') {
			out[k++] = '\\';
			c = c == '\n' ? 'n' : c;
		}
		out[k++] = c;
	}
	out[k++] = '"';
	out[k] = '\0';
	return out;
}

const double prs_hist_latency[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				   0.05,   0.1,   0.25,   0.5,   1,    2.5,
				   5,      10,    30,     60};
const size_t prs_hist_latency_n = PRS_ARRAY_LEN(prs_hist_latency);

void
prs_hist_init(struct prs_hist *h, const double *bounds, size_t n)
{
	PRS_ASSERT(n <= PRS_HIST_MAX);
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = n;
}

void
prs_hist_observe(struct prs_hist *h, double v)
{
	size_t i;

	if (isnan(v))
		return;
	for (i = 0; i < h->nbounds && v > h->bounds[i]; i++)
		;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

void
prs_hist_write(struct prs_mbuf *b, const char *name, const char *help,
	       const struct prs_hist *h)
{
	uint64_t cum = 0;
	char le[48];
	size_t i;

	prs_metric_head(b, name, "histogram", help);
	for (i = 0; i < h->nbounds; i++) {
		char t[40];
		cum += h->counts[i];
		f64_text(t, sizeof(t), h->bounds[i]);
		snprintf(le, sizeof(le), "le=\"%s\"", t);
		prs_mbuf_printf(b, "%s_bucket{%s} %llu\n", name, le,
				(unsigned long long) cum);
	}
	prs_mbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
			(unsigned long long) h->count);
	f64_text(le, sizeof(le), h->sum);
	prs_mbuf_printf(b, "%s_sum %s\n%s_count %llu\n", name, le, name,
			(unsigned long long) h->count);
}

/* ---- the endpoint ------------------------------------------------------ */

struct mconn {
	struct prs_metrics *m;
	int fd;
	ev_io rio, wio;
	ev_timer timer;
	http_parser p;
	char url[URL_MAX];
	size_t urllen;
	bool url_long;
	size_t nread;
	bool decided; /* the request head is complete */
	struct prs_mbuf out;
	size_t outoff;
	struct mconn *prev, *next;
};

struct prs_metrics {
	struct ev_loop *loop;
	int fd;
	ev_io aio;
	ev_timer pause;
	prs_metrics_fill_cb fill;
	void *arg;
	struct mconn *conns;
	size_t nconns;
};

static void
conn_close(struct mconn *c)
{
	struct prs_metrics *m = c->m;

	ev_io_stop(m->loop, &c->rio);
	ev_io_stop(m->loop, &c->wio);
	ev_timer_stop(m->loop, &c->timer);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		m->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	m->nconns--;
	prs_mbuf_free(&c->out);
	free(c);
}

/* Writes what is left; closes once all is out (or on an error). */
static void
conn_write(struct mconn *c)
{
	while (c->outoff < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->outoff,
				 c->out.len - c->outoff, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev_io_start(c->m->loop, &c->wio);
			return;
		}
		if (n <= 0)
			break;
		c->outoff += (size_t) n;
	}
	shutdown(c->fd, SHUT_WR);
	conn_close(c);
}

static void
conn_respond(struct mconn *c, int status, bool head_only)
{
	struct prs_mbuf body = {0};
	const char *reason = "Bad Request", *extra = "";

	ev_io_stop(c->m->loop, &c->rio);
	switch (status) {
	case 200:
		reason = "OK";
		c->m->fill(c->m->arg, &body);
		break;
	case 404:
		reason = "Not Found";
		prs_mbuf_printf(&body, "not found: try /metrics\n");
		break;
	case 405:
		reason = "Method Not Allowed";
		extra = "Allow: GET, HEAD\r\n";
		prs_mbuf_printf(&body, "method not allowed\n");
		break;
	case 431:
		reason = "Request Header Fields Too Large";
		prs_mbuf_printf(&body, "request too large\n");
		break;
	default:
		status = 400;
		prs_mbuf_printf(&body, "bad request\n");
		break;
	}
	prs_mbuf_printf(&c->out,
			"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			"Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
			status, reason,
			status == 200 ? CONTENT_TYPE : "text/plain", body.len,
			extra);
	if (!head_only && body.len > 0)
		prs_mbuf_printf(&c->out, "%.*s", (int) body.len, body.data);
	prs_mbuf_free(&body);
	conn_write(c);
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct mconn *c = p->data;

	if (c->urllen + len >= sizeof(c->url)) {
		c->url_long = true;
		return 0;
	}
	memcpy(c->url + c->urllen, at, len);
	c->urllen += len;
	c->url[c->urllen] = '\0';
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct mconn *c = p->data;

	c->decided = true;
	http_parser_pause(p, 1); /* the body, if any, is not read */
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_headers_complete = on_headers_complete,
};

/* The request head is complete: which answer. */
static void
conn_decide(struct mconn *c)
{
	size_t plen = strcspn(c->url, "?");
	int method = c->p.method;

	if (c->url_long || plen != 8 || memcmp(c->url, "/metrics", 8) != 0)
		conn_respond(c, 404, method == HTTP_HEAD);
	else if (method != HTTP_GET && method != HTTP_HEAD)
		conn_respond(c, 405, false);
	else
		conn_respond(c, 200, method == HTTP_HEAD);
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mconn *c = container_of(w, struct mconn, rio);
	char buf[2048];
	size_t want = REQ_MAX + 1 - c->nread, done;
	ssize_t n;

	if (want > sizeof(buf))
		want = sizeof(buf);
	n = recv(c->fd, buf, want, 0);
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c); /* gone, or closed before a whole request */
		return;
	}
	c->nread += (size_t) n;
	done = http_parser_execute(&c->p, &settings, buf, (size_t) n);
	if (c->decided)
		conn_decide(c);
	else if (HTTP_PARSER_ERRNO(&c->p) != HPE_OK || done != (size_t) n)
		conn_respond(c, 400, false);
	else if (c->nread > REQ_MAX)
		conn_respond(c, 431, false);
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mconn *c = container_of(w, struct mconn, wio);

	ev_io_stop(loop, w);
	conn_write(c);
}

static void
conn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	conn_close(container_of(w, struct mconn, timer));
}

static void
conn_new(struct prs_metrics *m, int fd)
{
	struct mconn *c = xcalloc(1, sizeof(*c));

	c->m = m;
	c->fd = fd;
	http_parser_init(&c->p, HTTP_REQUEST);
	c->p.data = c;
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	ev_timer_init(&c->timer, conn_timeout_cb, TIMEOUT_S, 0.);
	ev_io_start(m->loop, &c->rio);
	ev_timer_start(m->loop, &c->timer);
	c->next = m->conns;
	if (m->conns != NULL)
		m->conns->prev = c;
	m->conns = c;
	m->nconns++;
}

static void
pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct prs_metrics *m = container_of(w, struct prs_metrics, pause);

	ev_io_start(loop, &m->aio);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct prs_metrics *m = container_of(w, struct prs_metrics, aio);
	int i;

	for (i = 0; i < CONNS_MAX; i++) {
		int fd = accept4(m->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			prs_warn("metrics: accept: %s (pausing %.0f s)",
				 strerror(errno), ACCEPT_PAUSE);
			ev_io_stop(loop, &m->aio);
			ev_timer_start(loop, &m->pause);
			return;
		}
		if (m->nconns >= CONNS_MAX) {
			close(fd);
			continue;
		}
		conn_new(m, fd);
	}
}

/* "host:port" or "[v6]:port" into host and port; host may be empty
 * (every address). */
static int
address_split(const char *address, char *host, size_t hn, char *port,
	      size_t pn)
{
	const char *h = address, *colon;
	size_t hl;

	if (address[0] == '[') {
		const char *e = strchr(address, ']');
		if (e == NULL || e[1] != ':')
			return -1;
		h = address + 1;
		hl = (size_t) (e - h);
		colon = e + 1;
	} else {
		colon = strchr(address, ':');
		if (colon == NULL || strchr(colon + 1, ':') != NULL)
			return -1;
		hl = (size_t) (colon - address);
	}
	if (hl >= hn || colon[1] == '\0' || strlen(colon + 1) >= pn ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, pn, "%s", colon + 1);
	return 0;
}

int
prs_metrics_open(struct prs_metrics **out, struct ev_loop *loop,
		 const char *address, prs_metrics_fill_cb fill, void *arg)
{
	struct addrinfo hints, *res = NULL;
	struct prs_metrics *m;
	char host[256], port[8];
	int fd, one = 1, rc;

	*out = NULL;
	if (address == NULL || address[0] == '\0')
		return 0;
	if (address_split(address, host, sizeof(host), port, sizeof(port))) {
		prs_err("metrics_address '%s': expected host:port", address);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		prs_err("metrics_address '%s': %s", address, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family,
		    res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    res->ai_protocol);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 16)) {
		prs_err("metrics_address '%s': %s", address, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	m = xcalloc(1, sizeof(*m));
	m->loop = loop;
	m->fd = fd;
	m->fill = fill;
	m->arg = arg;
	ev_io_init(&m->aio, accept_cb, fd, EV_READ);
	ev_io_start(loop, &m->aio);
	ev_timer_init(&m->pause, pause_cb, ACCEPT_PAUSE, 0.);
	prs_info("metrics on http://%s/metrics", address);
	*out = m;
	return 0;
}

void
prs_metrics_close(struct prs_metrics *m)
{
	if (m == NULL)
		return;
	while (m->conns != NULL)
		conn_close(m->conns);
	ev_io_stop(m->loop, &m->aio);
	ev_timer_stop(m->loop, &m->pause);
	close(m->fd);
	free(m);
}
