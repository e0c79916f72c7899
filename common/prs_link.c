/*
 * NNG PUSH/PULL links driven from libev: the sending side (peers, batches)
 * and the framing; the inbox is in prs_inbox.c. See prs_link.h for the why.
 *
 * Batching: one NNG message carries every envelope a peer was given during
 * one loop iteration (each behind a 4-byte big-endian length), handed to
 * NNG from a lowest-priority ev_prepare hook, i.e. after every other
 * before-sleep hook of the process has had its say. A single small message
 * over ipc costs a thread handoff on each side (~20k/s); batching is what
 * lets one event per gateway per change scale to 10k changes/s.
 *
 * Ownership: prs_peer_send copies the envelope into the open batch; once
 * NNG accepts a batch it owns it, otherwise our queue does until it is
 * sent or the peer is closed.
 *
 * Listener watchdog: NNG 1.5.2 (upstream #1518, fixed in 1.6) stops
 * accepting on a listener for good once a peer connects and closes before
 * the SP handshake (one stray `nc -U` is enough): the transport still
 * accepts and negotiates, but the new pipes never reach the socket. Every
 * second each inbox dials itself with a throwaway PUSH socket that sends
 * one empty message; if neither that message nor any new pipe has reached
 * the socket within PROBE_TIMEOUT_MS, the listener is closed (which frees
 * the stuck pipes: their peers redial) and re-created. A new pipe counts
 * (NNG_PIPE_EV_ADD_PRE) so that a busy inbox, whose probe message waits
 * behind its backlog, is never taken for a broken one. Empty messages are
 * never delivered (no link message is empty), and the inbox reports only the
 * loss of a connection that delivered something, so probes (and rejected or
 * raw connections) are invisible to the application.
 *
 * Peer credentials: an ipc connection is accepted (NNG_PIPE_EV_ADD_PRE)
 * only from our own uid or from the configured ipc_group (the peer's
 * primary gid, or a user listed in the group); others are closed before
 * they can send anything. tcp:// has no credentials: use it only on a
 * trusted network; tls+tcp:// requires a certificate of the deployment's
 * CA from both ends (prs_tls.c).
 */
#include "prs_link.h"
#include "prs_util.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/transport/ipc/ipc.h>

#include "prs_config.h"
#include "prs_tls.h"

#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PEER_BACKLOG_MAX   65536 /* messages kept while NNG pushes back */
#define BATCH_BYTES        (256u * 1024) /* close a batch early past this size */
#define PEER_REDIAL_MS     3000
#define PEER_WARN_AFTER_MS 10000 /* an outage this long is worth a warning */
#define PEER_WARN_EVERY_MS 60000

struct prs_peer {
	nng_socket sock;
	nng_dialer dialer;
	nng_aio *aio; /* for prs_nng_send_nb */
	struct ev_loop *loop;
	ev_timer watch;     /* dialer watchdog, see peer_watch_cb */
	uint32_t npipes;    /* connected pipes (NNG threads, atomic) */
	int64_t down_since; /* monotonic ms; 0 while connected */
	int64_t down_first; /* when this outage began; 0 while connected */
	int64_t down_told;  /* when we last warned of it */
	uint64_t redials;
	ev_io wio;
	ev_timer retry; /* NNG's send fd is not always raised after a
			 * reconnect drains its buffer: poll as a fallback */
	char *url;
	char *name;
	Prs__Kind kind;
	uint64_t epoch;
	uint64_t seq;
	nng_msg **q; /* ring of messages NNG has not taken yet */
	size_t qhead, qlen, qcap;
	uint64_t dropped;
	nng_msg *cur; /* the batch being filled in this loop iteration */
	struct prs_peer *next_open; /* in open_peers while in_open */
	bool in_open;
};

#if defined(__SANITIZE_ADDRESS__)
/* NNG 1.5.2 never frees a listener or dialer closed in the #1518 state
 * (its stuck pipes), nor a message it accepted for such a pipe when the
 * socket is closed at exit (seen after a SIGSTOP of the peer); that is
 * the library's leak, bounded by one per incident. Our own code cannot
 * leak a batch from prs_peer_send: prs_peer_close hands the open batch to
 * NNG or frees it with the queue, and a peer never closed would show its
 * struct prs_peer leaking too. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:nng_listener_create\nleak:nng_listener_start\n"
	       "leak:nng_dial\nleak:prs_peer_send\n";
}
#endif

/* Peers with an open batch; one process, one loop, so one list. */
static struct prs_peer *open_peers;
static ev_prepare batch_prepare;
static struct ev_loop *batch_loop;

static void peer_commit(struct prs_peer *p);

static void
batch_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	while (open_peers != NULL) {
		struct prs_peer *p = open_peers;
		open_peers = p->next_open;
		p->next_open = NULL;
		p->in_open = false;
		peer_commit(p);
	}
}

static void
batch_hook(struct ev_loop *loop)
{
	if (batch_loop != NULL)
		return;
	batch_loop = loop;
	ev_prepare_init(&batch_prepare, batch_prepare_cb);
	ev_set_priority(&batch_prepare, EV_MINPRI);
	ev_prepare_start(loop, &batch_prepare);
	ev_unref(loop); /* the hook alone must not keep the loop alive */
}

static void
open_unlink(struct prs_peer *p)
{
	struct prs_peer **pp;
	for (pp = &open_peers; *pp != NULL; pp = &(*pp)->next_open) {
		if (*pp == p) {
			*pp = p->next_open;
			p->next_open = NULL;
			p->in_open = false;
			return;
		}
	}
}

int
prs_frames_each(const uint8_t *b, size_t len,
		void (*cb)(void *arg, Prs__Envelope *env), void *arg)
{
	size_t off = 0;
	int bad = 0;

	while (off < len) {
		Prs__Envelope *env;
		uint32_t n;
		if (len - off < 4)
			return -1;
		n = (uint32_t) b[off] << 24 | (uint32_t) b[off + 1] << 16 |
		    (uint32_t) b[off + 2] << 8 | b[off + 3];
		off += 4;
		if (n > len - off)
			return -1;
		env = prs__envelope__unpack(NULL, n, b + off);
		off += n;
		if (env == NULL) {
			bad++;
			continue;
		}
		cb(arg, env);
		prs__envelope__free_unpacked(env, NULL);
	}
	return bad ? -1 : 0;
}

int
prs_nng_aio_nb(nng_aio **aio)
{
	int rv = nng_aio_alloc(aio, NULL, NULL);

	if (rv == 0)
		nng_aio_set_timeout(*aio, NNG_DURATION_ZERO); /* never waits */
	return rv;
}

int
prs_nng_send_nb(nng_socket s, nng_aio *aio, nng_msg *m)
{
	int rv;

	nng_aio_set_msg(aio, m);
	nng_send_aio(s, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		nng_aio_set_msg(aio, NULL); /* still the caller's */
		return rv == NNG_ETIMEDOUT ? NNG_EAGAIN : rv;
	}
	return 0;
}

int
prs_nng_recv_nb(nng_socket s, nng_aio *aio, nng_msg **m)
{
	int rv;

	nng_recv_aio(s, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		return rv == NNG_ETIMEDOUT ? NNG_EAGAIN : rv;
	*m = nng_aio_get_msg(aio);
	nng_aio_set_msg(aio, NULL);
	return 0;
}

/* Hands queued messages to NNG until it pushes back. */
static void
peer_flush(struct prs_peer *p)
{
	while (p->qlen > 0) {
		nng_msg *m = p->q[p->qhead];
		if (prs_nng_send_nb(p->sock, p->aio, m) != 0)
			break;
		p->q[p->qhead] = NULL;
		p->qhead = (p->qhead + 1) % p->qcap;
		p->qlen--;
	}
	if (p->qlen > 0) {
		ev_io_start(p->loop, &p->wio);
		if (!ev_is_active(&p->retry))
			ev_timer_start(p->loop, &p->retry);
	} else {
		ev_io_stop(p->loop, &p->wio);
		ev_timer_stop(p->loop, &p->retry);
	}
}

static void
peer_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	peer_flush(container_of(w, struct prs_peer, retry));
}

static void
peer_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	peer_flush(container_of(w, struct prs_peer, wio));
}

/* NNG thread: count the pipes this peer has (ADD_PRE/REM_POST pair up). */
static void
peer_pipe_notify(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct prs_peer *p = arg;

	(void) pipe;
	if (ev == NNG_PIPE_EV_ADD_PRE)
		__atomic_fetch_add(&p->npipes, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_sub(&p->npipes, 1, __ATOMIC_RELAXED);
}

void
prs_detach(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	pthread_attr_t a;

	if (pthread_attr_init(&a) != 0) {
		fn(arg);
		return;
	}
	if (pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED) != 0 ||
	    pthread_create(&t, &a, fn, arg) != 0)
		fn(arg); /* no thread: block, as before */
	pthread_attr_destroy(&a);
}

struct bg_close {
	bool dialer;
	nng_socket sock;
	nng_dialer d;
};

static void *
bg_close_thread(void *arg)
{
	struct bg_close *c = arg;

	if (c->dialer)
		nng_dialer_close(c->d);
	else
		nng_close(c->sock);
	free(c);
	return NULL;
}

void
prs_nng_close_bg(nng_socket s)
{
	struct bg_close *c = xcalloc(1, sizeof(*c));

	c->sock = s;
	prs_detach(bg_close_thread, c);
}

void
prs_nng_dialer_close_bg(nng_dialer d)
{
	struct bg_close *c = xcalloc(1, sizeof(*c));

	c->dialer = true;
	c->d = d;
	prs_detach(bg_close_thread, c);
}

/* The dialer side of NNG bug #1518: a dialer whose connection is closed by
 * the far end during the SP handshake (a listener process dying while it
 * accepts, or any stray server on the path) never redials. So a peer that
 * has had no connection for PEER_REDIAL_MS gets a fresh dialer, and keeps
 * getting one every PEER_REDIAL_MS while the far end stays away (cheap:
 * the socket and its queued messages are untouched). */
static void
peer_watch_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct prs_peer *p = container_of(w, struct prs_peer, watch);
	int64_t now = prs_mono_ms();
	int rv;

	if (__atomic_load_n(&p->npipes, __ATOMIC_RELAXED) > 0) {
		if (p->down_told != 0)
			prs_info("%s: connected again", p->url);
		p->down_since = p->down_first = p->down_told = 0;
		return;
	}
	if (p->down_since == 0) {
		p->down_since = p->down_first = now;
		return;
	}
	/* NNG retries a failed dial (refused, or a TLS handshake the peer
	 * rejected) in silence: say so, now and then. */
	if (now - p->down_first >= PEER_WARN_AFTER_MS &&
	    (p->down_told == 0 || now - p->down_told >= PEER_WARN_EVERY_MS)) {
		p->down_told = now;
		prs_warn("%s: not connected for %lld s (is the peer running "
			 "and listening there?%s)",
			 p->url, (long long) ((now - p->down_first) / 1000),
			 strncmp(p->url, "tls+tcp://", 10) == 0
				 ? " tls+tcp://: do both sides present "
				   "certificates signed by the CA the other "
				   "trusts?"
				 : "");
	}
	if (now - p->down_since < PEER_REDIAL_MS)
		return;
	p->down_since = now;
	p->redials++;
	/* a dialer stuck in that state can hold its close for good */
	prs_nng_dialer_close_bg(p->dialer);
	if ((rv = prs_tls_dial(p->sock, p->url, &p->dialer,
			       NNG_FLAG_NONBLOCK)) != 0)
		prs_warn("redial %s: %s", p->url, nng_strerror(rv));
	else
		prs_debug("%s: no connection for %d ms: new dialer", p->url,
			  PEER_REDIAL_MS);
}

int
prs_peer_open(struct prs_peer **out, struct ev_loop *loop, const char *url,
	      Prs__Kind kind, const char *name, uint64_t epoch)
{
	struct prs_peer *p = xcalloc(1, sizeof(*p));
	int fd, rv;

	p->loop = loop;
	p->url = xstrdup(url);
	p->name = xstrdup(name);
	p->kind = kind;
	p->epoch = epoch;
	if ((rv = prs_nng_aio_nb(&p->aio)) != 0)
		goto fail_alloc;
	if ((rv = nng_push0_open(&p->sock)) != 0)
		goto fail_alloc;
	if ((rv = nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ,
				      PRS_LINK_MAX_MSG)) != 0 ||
	    (rv = nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, 1024)) != 0 ||
	    (rv = nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, 50)) != 0 ||
	    (rv = nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, 500)) != 0 ||
	    (rv = nng_pipe_notify(p->sock, NNG_PIPE_EV_ADD_PRE,
				  peer_pipe_notify, p)) != 0 ||
	    (rv = nng_pipe_notify(p->sock, NNG_PIPE_EV_REM_POST,
				  peer_pipe_notify, p)) != 0)
		goto fail;
	if ((rv = prs_tls_dial(p->sock, url, &p->dialer, NNG_FLAG_NONBLOCK)) !=
	    0)
		goto fail;
	if ((rv = nng_socket_get_int(p->sock, NNG_OPT_SENDFD, &fd)) != 0)
		goto fail;
	ev_io_init(&p->wio, peer_write_cb, fd, EV_READ);
	ev_timer_init(&p->retry, peer_retry_cb, 0.05, 0.05);
	ev_timer_init(&p->watch, peer_watch_cb, 1.0, 1.0);
	ev_timer_start(loop, &p->watch);
	ev_unref(loop); /* the watchdog alone must not keep the loop alive */
	batch_hook(loop);
	*out = p;
	return 0;
fail:
	nng_close(p->sock);
fail_alloc:
	prs_err("dial %s: %s", url, nng_strerror(rv));
	if (p->aio != NULL)
		nng_aio_free(p->aio);
	free(p->url);
	free(p->name);
	free(p);
	return -rv;
}

/* The loop's part of closing p: nothing of p is watched or queued after. */
static void
peer_detach(struct prs_peer *p)
{
	open_unlink(p);
	peer_commit(p); /* last chance for what this iteration sent */
	ev_ref(p->loop);
	ev_timer_stop(p->loop, &p->watch);
	ev_io_stop(p->loop, &p->wio);
	ev_timer_stop(p->loop, &p->retry);
	while (p->qlen > 0) {
		nng_msg_free(p->q[p->qhead]);
		p->qhead = (p->qhead + 1) % p->qcap;
		p->qlen--;
	}
}

/* nng_close waits for the socket's pipes to end (its pipe callbacks get p
 * until it returns), so p is freed only after it. */
static void *
peer_close_thread(void *arg)
{
	struct prs_peer *p = arg;

	nng_close(p->sock);
	nng_aio_free(p->aio);
	free(p->q);
	free(p->url);
	free(p->name);
	free(p);
	return NULL;
}

void
prs_peer_close(struct prs_peer *p)
{
	if (p == NULL)
		return;
	peer_detach(p);
	peer_close_thread(p);
}

void
prs_peer_close_bg(struct prs_peer *p)
{
	if (p == NULL)
		return;
	peer_detach(p);
	prs_detach(peer_close_thread, p);
}

/* Hands the open batch to NNG, or to our queue if NNG pushes back. */
static void
peer_commit(struct prs_peer *p)
{
	nng_msg *m = p->cur;

	if (m == NULL)
		return;
	p->cur = NULL;
	if (p->qlen == 0 && prs_nng_send_nb(p->sock, p->aio, m) == 0)
		return;
	if (p->qlen == p->qcap) {
		size_t ncap = p->qcap ? p->qcap * 2 : 64, i;
		nng_msg **nq;
		if (ncap > PEER_BACKLOG_MAX) {
			nng_msg_free(m);
			if (p->dropped++ % 1000 == 0)
				prs_warn("%s: backlog full, dropping messages",
					 p->url);
			return;
		}
		nq = xcalloc(ncap, sizeof(*nq));
		for (i = 0; i < p->qlen; i++)
			nq[i] = p->q[(p->qhead + i) % p->qcap];
		free(p->q);
		p->q = nq;
		p->qcap = ncap;
		p->qhead = 0;
	}
	p->q[(p->qhead + p->qlen) % p->qcap] = m;
	p->qlen++;
	peer_flush(p);
}

/* Makes room for a batch of need bytes, doubling its capacity: NNG 1.5
 * grows a message body to the exact size asked on every append, so a
 * batch of n envelopes would be reallocated and copied n times: O(n^2)
 * bytes allocated and copied (6 MB for 200 envelopes of 300 bytes, over
 * 100 MB for a full BATCH_BYTES batch of them). Doubling makes it O(n),
 * at the price of up to twice the bytes held per batch. */
static int
batch_room(nng_msg *m, size_t need)
{
	size_t cap = nng_msg_capacity(m);

	if (need <= cap)
		return 0;
	if (need < 2 * cap)
		need = 2 * cap < PRS_LINK_MAX_MSG ? 2 * cap : PRS_LINK_MAX_MSG;
	return nng_msg_reserve(m, need);
}

int
prs_peer_send(struct prs_peer *p, Prs__Envelope *env)
{
	size_t len, off;

	env->kind = p->kind;
	env->sender = p->name;
	env->epoch = p->epoch;
	env->seq = ++p->seq;
	len = prs__envelope__get_packed_size(env);
	if (len > PRS_LINK_MAX_MSG - 4) {
		prs_warn("%s: message of %zu bytes not sent (too large)",
			 p->url, len);
		return -1;
	}
	if (p->cur != NULL && nng_msg_len(p->cur) + 4 + len > PRS_LINK_MAX_MSG)
		peer_commit(p);
	if (p->cur == NULL) {
		if (nng_msg_alloc(&p->cur, 0) != 0)
			return -1;
		if (!p->in_open) {
			p->in_open = true;
			p->next_open = open_peers;
			open_peers = p;
		}
	}
	off = nng_msg_len(p->cur);
	if (batch_room(p->cur, off + 4 + len) != 0 ||
	    nng_msg_append_u32(p->cur, (uint32_t) len) != 0 ||
	    nng_msg_realloc(p->cur, off + 4 + len) != 0)
		return -1;
	prs__envelope__pack(env, (uint8_t *) nng_msg_body(p->cur) + off + 4);
	if (nng_msg_len(p->cur) >= BATCH_BYTES)
		peer_commit(p);
	return 0;
}

size_t
prs_peer_backlog(const struct prs_peer *p)
{
	return p->qlen + (p->cur != NULL);
}

void
prs_link_flush(void)
{
	batch_prepare_cb(batch_loop, &batch_prepare, 0);
}

void
prs_peer_stats(const struct prs_peer *p, struct prs_peer_stats *st)
{
	st->sent = p->seq;
	st->dropped = p->dropped;
	st->backlog = prs_peer_backlog(p);
	st->connected = __atomic_load_n(&p->npipes, __ATOMIC_RELAXED) > 0;
}

const char *
prs_peer_url(const struct prs_peer *p)
{
	return p->url;
}
