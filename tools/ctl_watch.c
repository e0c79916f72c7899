/*
 * presencectl watch: a v1 WebSocket client (PROTOCOL.md §1-4) that
 * prints presence events until Ctrl-C. Debian's libcurl 7.88 is built
 * without its (experimental) WebSocket support, so the frames are wslay
 * in client mode, as in presence-bench, over one non-blocking socket and
 * ppoll: the signals are blocked except inside ppoll, so a Ctrl-C can
 * never slip between checking the flag and sleeping.
 *
 * The session is an ordinary one of the caller's user: hello (the token
 * goes in the upgrade's Authorization header), watch in chunks of 1000
 * ids, then print. Ctrl-C sends bye, so the watcher's own presence ends
 * at once rather than after the grace.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "ctl.h"
#include "prs_util.h"

#define WATCH_CHUNK  1000 /* ids per watch message (the protocol's cap) */
#define HEAD_MAX     16384
#define ERR_BODY_MAX 65536
#define BYE_WAIT_MS  2000
#define WS_GUID      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct watch {
	struct ctl *c;
	const char *base;
	int fd;
	wslay_event_context_ptr ws;
	char *pre; /* bytes read past the 101's head, for wslay */
	size_t pre_len, pre_off;
	int64_t deadline; /* ms (monotonic) for what is awaited, or 0 */
	int lists;        /* watch replies still awaited */
	int width;
	bool welcomed, stopping, done;
	int exit;
};

static volatile sig_atomic_t watch_signalled;

static void
watch_signal_cb(int sig)
{
	watch_signalled++;
}

/* ---- connecting and the upgrade ------------------------------------ */

/* Splits an http:// base URL into host, port and path prefix. */
static int
watch_url(const char *base, char **host, char **port, char **prefix)
{
	const char *h, *e, *p;

	if (strncmp(base, "http://", 7) != 0) {
		fprintf(stderr,
			"presencectl: watch: %s: only http:// URLs (the "
			"watcher does not speak TLS)\n",
			base);
		return -1;
	}
	h = base + 7;
	p = h + strcspn(h, "/");
	if (*h == '[') {
		e = memchr(h, ']', (size_t) (p - h));
		if (e == NULL)
			return -1;
		*host = xstrndup(h + 1, (size_t) (e - h - 1));
		e++;
	} else {
		e = h + strcspn(h, ":/");
		*host = xstrndup(h, (size_t) (e - h));
	}
	*port = *e == ':' ? xstrndup(e + 1, (size_t) (p - e - 1))
			  : xstrdup("80");
	*prefix = xstrdup(p);
	return 0;
}

/* Waits for events on fd until the deadline; 1 ready, 0 timeout, -1. */
static int
watch_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pf = {.fd = fd, .events = events};
	int64_t left = deadline - prs_mono_ms();
	int n;

	if (left <= 0)
		return 0;
	do
		n = poll(&pf, 1, (int) left);
	while (n < 0 && errno == EINTR);
	return n;
}

static int
watch_connect(struct watch *w, const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	int64_t deadline = prs_mono_ms() + w->c->timeout_ms;
	int rc, fd = -1, err = 0;
	socklen_t el = sizeof(err);

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "presencectl: watch: cannot reach %s: %s\n",
			w->base, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS &&
		     watch_wait(fd, POLLOUT, deadline) > 0 &&
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
		     err == 0))
			break;
		if (err == 0)
			err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr,
			"presencectl: watch: cannot reach %s: %s\n"
			"presencectl: is a gateway listening there? check "
			"--url\n",
			w->base, err ? strerror(err) : "timed out");
		return -1;
	}
	/* wslay writes a frame's header and payload apart: without this,
	 * Nagle and delayed ACKs hold each request back 40 ms */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	w->fd = fd;
	return 0;
}

static int
watch_send_all(struct watch *w, const char *buf, size_t len)
{
	int64_t deadline = prs_mono_ms() + w->c->timeout_ms;

	while (len > 0) {
		ssize_t n = send(w->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t) n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return -1;
		} else if (watch_wait(w->fd, POLLOUT, deadline) <= 0) {
			return -1;
		}
	}
	return 0;
}

/* The value of header name in head (NUL-terminated), or NULL. */
static char *
watch_header(const char *head, const char *name)
{
	const char *l = strstr(head, "\r\n");
	size_t n = strlen(name);

	while (l != NULL && l[2] != '\r') {
		l += 2;
		if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
			const char *v = l + n + 1;
			v += strspn(v, " \t");
			return xstrndup(v, strcspn(v, "\r"));
		}
		l = strstr(l, "\r\n");
	}
	return NULL;
}

static void
watch_accept_key(const char *key, char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *s = ctl_fmt("%s%s", key, WS_GUID);

	EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *) out, md, (int) mdlen);
	free(s);
}

/* A refused upgrade: read its (bounded) body and report it as an HTTP
 * failure, with the same exit codes as the other commands. */
static int
watch_refused(struct watch *w, char *buf, size_t got, size_t head_len,
	      long status)
{
	struct ctl_resp r = {.status = status};
	char *cl = watch_header(buf, "Content-Length");
	size_t want = cl ? strtoul(cl, NULL, 10) : 0;
	int64_t deadline = prs_mono_ms() + w->c->timeout_ms;

	free(cl);
	if (want > ERR_BODY_MAX)
		want = ERR_BODY_MAX;
	r.body = xmalloc(want + 1);
	r.len = got - head_len < want ? got - head_len : want;
	memcpy(r.body, buf + head_len, r.len);
	while (r.len < want && watch_wait(w->fd, POLLIN, deadline) > 0) {
		ssize_t n = read(w->fd, r.body + r.len, want - r.len);
		if (n <= 0)
			break;
		r.len += (size_t) n;
	}
	r.body[r.len] = '\0';
	r.json = json_loadb(r.body, r.len, 0, NULL);
	ctl_resp_report(w->c, w->base, "watch (WebSocket upgrade)", &r);
	w->exit = ctl_status_exit(status, r.json);
	ctl_resp_free(&r);
	return -1;
}

static int
watch_upgrade(struct watch *w, const char *host, const char *port,
	      const char *prefix)
{
	unsigned char nonce[16];
	char key[32], accept[32], *req, *auth = NULL, *got_accept,
					buf[HEAD_MAX];
	size_t got = 0;
	int64_t deadline = prs_mono_ms() + w->c->timeout_ms;
	char *end = NULL;
	long status;
	int rc;

	if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t) sizeof(nonce)) {
		fprintf(stderr, "presencectl: watch: no random bytes\n");
		w->exit = CTL_SERVER;
		return -1;
	}
	EVP_EncodeBlock((unsigned char *) key, nonce, sizeof(nonce));
	if (w->c->token != NULL)
		auth = ctl_fmt("Authorization: Bearer %s\r\n", w->c->token);
	req = ctl_fmt("GET %s/v1/ws HTTP/1.1\r\nHost: %s%s%s:%s\r\n"
		      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
		      "Sec-WebSocket-Protocol: presence.v1\r\n"
		      "User-Agent: presencectl\r\n%s\r\n",
		      prefix, strchr(host, ':') ? "[" : "", host,
		      strchr(host, ':') ? "]" : "", port, key,
		      auth ? auth : "");
	rc = watch_send_all(w, req, strlen(req));
	free(req);
	free(auth);
	while (rc == 0 && end == NULL) {
		ssize_t n;
		if (got == sizeof(buf) - 1 ||
		    watch_wait(w->fd, POLLIN, deadline) <= 0)
			rc = -1;
		else if ((n = read(w->fd, buf + got, sizeof(buf) - 1 - got)) >
			 0) {
			got += (size_t) n;
			buf[got] = '\0';
			end = strstr(buf, "\r\n\r\n");
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			rc = -1;
		}
	}
	if (rc != 0 || sscanf(buf, "HTTP/1.%*d %ld", &status) != 1) {
		fprintf(stderr,
			"presencectl: watch: %s: no HTTP answer to the "
			"WebSocket upgrade\n",
			w->base);
		w->exit = CTL_CONNECT;
		return -1;
	}
	end += 4;
	if (status != 101)
		return watch_refused(w, buf, got, (size_t) (end - buf),
				     status);
	got_accept = watch_header(buf, "Sec-WebSocket-Accept");
	watch_accept_key(key, accept);
	rc = got_accept != NULL && strcmp(got_accept, accept) == 0 ? 0 : -1;
	free(got_accept);
	if (rc != 0) {
		fprintf(stderr,
			"presencectl: watch: %s: bad WebSocket "
			"handshake\n",
			w->base);
		w->exit = CTL_CONNECT;
		return -1;
	}
	w->pre_len = got - (size_t) (end - buf);
	w->pre = xmalloc(w->pre_len + 1);
	memcpy(w->pre, end, w->pre_len);
	return 0;
}

/* ---- the WebSocket session ----------------------------------------- */

static ssize_t
watch_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
	      void *ud)
{
	struct watch *w = ud;
	ssize_t n;

	if (w->pre_off < w->pre_len) {
		n = (ssize_t) (w->pre_len - w->pre_off < len
				       ? w->pre_len - w->pre_off
				       : len);
		memcpy(buf, w->pre + w->pre_off, (size_t) n);
		w->pre_off += (size_t) n;
		return n;
	}
	n = read(w->fd, buf, len);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	else
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t
watch_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
	      int flags, void *ud)
{
	struct watch *w = ud;
	ssize_t n = send(w->fd, data, len, MSG_NOSIGNAL);

	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EINTR)
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	else
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static int
watch_mask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
	return getrandom(buf, len, 0) == (ssize_t) len ? 0 : -1;
}

/* Queues j (consumed) as a text message. */
static void
watch_send(struct watch *w, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *) s,
				    strlen(s)};

	wslay_event_queue_msg(w->ws, &m); /* copies the data */
	free(s);
	json_decref(j);
}

static void
watch_ids(struct watch *w)
{
	size_t i, k;

	for (i = 0; i < w->c->nargs; i += WATCH_CHUNK) {
		json_t *ids = json_array();
		char id[32];

		for (k = i; k < w->c->nargs && k < i + WATCH_CHUNK; k++)
			json_array_append_new(ids, json_string(w->c->args[k]));
		snprintf(id, sizeof(id), "w%zu", i / WATCH_CHUNK);
		watch_send(w, json_pack("{s:s,s:s,s:o}", "type", "watch", "id",
					id, "user_ids", ids));
		w->lists++;
	}
	w->deadline = prs_mono_ms() + w->c->timeout_ms;
}

/* Prints one presence object: a line of NDJSON, or a human line. */
static void
watch_print(struct watch *w, json_t *p, bool initial)
{
	char t[40];

	if (w->c->json) {
		json_t *o = json_deep_copy(p);
		json_object_set_new(o, "type", json_string("presence"));
		if (initial)
			json_object_set_new(o, "initial", json_true());
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
	} else {
		if (initial)
			printf("%-24s ", "now");
		else {
			ctl_time_fmt(t, sizeof(t), prs_now_ms());
			printf("%-24s ", t);
		}
		ctl_print_presence(p, w->width);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		w->done = true; /* nobody reads us any more */
}

/* An error message from the gateway: the exit code it means. */
static void
watch_error(struct watch *w, const json_t *m)
{
	const char *code = json_string_value(json_object_get(m, "code"));
	const char *msg = json_string_value(json_object_get(m, "message"));

	if (code == NULL)
		code = "?";
	fprintf(stderr,
		"presencectl: watch: the gateway answered error %s: "
		"%s\n",
		code, msg ? msg : "");
	if (strcmp(code, "unauthorized") == 0 ||
	    strcmp(code, "token_expired") == 0 ||
	    strcmp(code, "forbidden") == 0)
		w->exit = CTL_AUTH;
	else if (strcmp(code, "unavailable") == 0)
		w->exit = CTL_UNAVAILABLE;
	else if (strcmp(code, "bad_request") == 0 ||
		 strcmp(code, "too_large") == 0)
		w->exit = CTL_USAGE;
	else
		w->exit = CTL_SERVER;
	w->done = true;
}

static void
watch_msg_cb(wslay_event_context_ptr ctx,
	     const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
	struct watch *w = ud;
	json_t *m, *p;
	const char *type, *id;
	size_t i;

	if (arg->opcode != WSLAY_TEXT_FRAME || w->done)
		return;
	m = json_loadb((const char *) arg->msg, arg->msg_length, 0, NULL);
	type = json_string_value(json_object_get(m, "type"));
	id = json_string_value(json_object_get(m, "id"));
	if (type == NULL) {
		/* not the protocol: ignore */
	} else if (strcmp(type, "error") == 0) {
		watch_error(w, m);
	} else if (strcmp(type, "welcome") == 0 && !w->welcomed) {
		w->welcomed = true;
		watch_ids(w);
	} else if (strcmp(type, "presence_list") == 0 && id && id[0] == 'w') {
		json_array_foreach(json_object_get(m, "users"), i, p)
			watch_print(w, p, true);
		if (--w->lists == 0) {
			w->deadline = 0;
			if (!w->c->json)
				fprintf(stderr,
					"watching %zu user%s on %s "
					"(Ctrl-C to stop)\n",
					w->c->nargs,
					w->c->nargs == 1 ? "" : "s", w->base);
		}
	} else if (strcmp(type, "presence") == 0) {
		watch_print(w, m, false);
	}
	json_decref(m);
}

/* The gateway closed, or the connection broke. */
static void
watch_lost(struct watch *w)
{
	uint16_t code = wslay_event_get_status_code_received(w->ws);

	w->done = true;
	if (w->stopping || w->exit != CTL_OK)
		return;
	if (wslay_event_get_close_received(w->ws))
		fprintf(stderr,
			"presencectl: watch: the gateway closed the "
			"connection (code %u%s)\n",
			(unsigned) code,
			code == 4001   ? ": kicked by an admin"
			: code == 1001 ? ": the gateway is stopping, or "
					 "lagged: reconnect"
			: code == 1008 ? ": policy (auth, rate limit)"
				       : "");
	else
		fprintf(stderr, "presencectl: watch: connection to %s lost\n",
			w->base);
	w->exit = CTL_CONNECT;
}

static void
watch_stop(struct watch *w)
{
	if (w->stopping || !w->welcomed) {
		w->done = true;
		w->stopping = true;
		return;
	}
	w->stopping = true;
	watch_send(w, json_pack("{s:s}", "type", "bye"));
	w->deadline = prs_mono_ms() + BYE_WAIT_MS;
}

static void
watch_loop(struct watch *w, const sigset_t *unblocked)
{
	while (!w->done) {
		struct pollfd pf = {.fd = w->fd, .events = POLLIN};
		struct timespec ts, *tp = NULL;
		int64_t left;
		int n;

		if (wslay_event_want_write(w->ws))
			pf.events |= POLLOUT;
		if (!wslay_event_want_read(w->ws) &&
		    !wslay_event_want_write(w->ws)) {
			watch_lost(w);
			break;
		}
		if (w->deadline != 0) {
			left = w->deadline - prs_mono_ms();
			if (left < 0)
				left = 0;
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000;
			tp = &ts;
		}
		n = ppoll(&pf, 1, tp, unblocked);
		if (n < 0 && errno != EINTR) {
			watch_lost(w);
			break;
		}
		if (watch_signalled) {
			watch_signalled = 0;
			watch_stop(w);
			wslay_event_send(w->ws);
			continue;
		}
		if (n == 0) {
			if (!w->stopping) {
				fprintf(stderr,
					"presencectl: watch: no answer from "
					"%s within %lld s\n",
					w->base,
					(long long) w->c->timeout_ms / 1000);
				w->exit = CTL_CONNECT;
			}
			w->done = true;
			break;
		}
		if ((pf.revents & (POLLIN | POLLHUP | POLLERR)) &&
		    wslay_event_recv(w->ws) != 0) {
			watch_lost(w);
			break;
		}
		if (wslay_event_send(w->ws) != 0) {
			watch_lost(w);
			break;
		}
	}
}

/* Says hello and runs the session; the exit code. */
static int
watch_session(struct watch *w, const sigset_t *unblocked)
{
	static const struct wslay_event_callbacks cbs = {
		watch_recv_cb, watch_send_cb, watch_mask_cb, NULL,
		NULL,          NULL,          watch_msg_cb};
	json_t *hello = json_pack("{s:s,s:s,s:s}", "type", "hello", "id", "h",
				  "device", "presencectl");

	if (w->c->token == NULL)
		json_object_set_new(
			hello, "user_id",
			json_string(w->c->as ? w->c->as : "presencectl"));
	wslay_event_context_client_init(&w->ws, &cbs, w);
	wslay_event_config_set_max_recv_msg_length(w->ws, CTL_BODY_MAX);
	watch_send(w, hello);
	w->deadline = prs_mono_ms() + w->c->timeout_ms;
	/* what arrived with the 101, if anything */
	if (w->pre_len > 0 && wslay_event_recv(w->ws) != 0)
		watch_lost(w);
	if (!w->done && wslay_event_send(w->ws) != 0)
		watch_lost(w);
	watch_loop(w, unblocked);
	wslay_event_context_free(w->ws);
	return w->exit;
}

int
ctl_cmd_watch(struct ctl *c)
{
	struct watch w = {.c = c, .base = c->urls[0], .fd = -1};
	char *host = NULL, *port = NULL, *prefix = NULL;
	struct sigaction sa = {.sa_handler = watch_signal_cb};
	sigset_t block, old;
	size_t i;

	for (i = 0; i < c->nargs; i++) {
		if (!ctl_id_valid(c->args[i])) {
			fprintf(stderr, "presencectl: invalid user id '%s'\n",
				c->args[i]);
			return CTL_USAGE;
		}
		if ((int) strlen(c->args[i]) > w.width)
			w.width = (int) strlen(c->args[i]);
	}
	if (c->as != NULL && !ctl_id_valid(c->as)) {
		fprintf(stderr, "presencectl: invalid --as '%s'\n", c->as);
		return CTL_USAGE;
	}
	if (watch_url(w.base, &host, &port, &prefix) != 0) {
		w.exit = CTL_USAGE;
		goto out;
	}
	/* Ctrl-C is only ever delivered inside ppoll (unblocked there). */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigdelset(&old, SIGINT);
	sigdelset(&old, SIGTERM);
	if (watch_connect(&w, host, port) != 0)
		w.exit = CTL_CONNECT;
	else if (watch_upgrade(&w, host, port, prefix) == 0)
		w.exit = watch_session(&w, &old);
out:
	if (w.fd >= 0)
		close(w.fd);
	free(w.pre);
	free(host);
	free(port);
	free(prefix);
	return w.exit;
}
