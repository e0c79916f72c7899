/*
 * NNG PUSH/PULL links driven from libev. See prs_link.h for the why.
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

#define PEER_BACKLOG_MAX 65536 /* messages kept while NNG pushes back */
#define RECV_BURST       512   /* messages handled per readiness event */
#define GONE_MAX         1024
#define BATCH_BYTES      (256u * 1024) /* close a batch early past this size */
#define PROBE_EVERY_S    1.0
#define PROBE_TIMEOUT_MS 5000
#define PEER_REDIAL_MS   3000
#define LIVE_MAX         4096 /* connections that delivered, tracked */
#define ALLOWED_MAX      64   /* uids listed in ipc_group */

struct prs_inbox {
	nng_socket sock;
	nng_listener listener;
	bool listening;
	char *url;
	bool ipc;
	struct ev_loop *loop;
	ev_io rio;
	ev_async gone_async;
	prs_inbox_recv_cb recv_cb;
	prs_inbox_gone_cb gone_cb;
	void *arg;
	pthread_mutex_t mtx; /* guards gone[] filled by NNG threads */
	bool closing;        /* under mtx: the loop let go (prs_inbox_close) */
	uint32_t gone[GONE_MAX];
	size_t ngone;
	uint32_t *live; /* pipes that delivered a message (loop thread) */
	size_t nlive, livecap;
	/* self-dial watchdog (loop thread) */
	ev_timer probe_timer;
	nng_socket probe;
	bool probing;
	bool probe_ok; /* our empty probe message arrived */
	uint64_t adds; /* pipes handed to the socket (NNG threads, atomic) */
	uint64_t probe_adds; /* adds when the probe started */
	int64_t probe_started;
	uint64_t relistens, rejected;
	uint64_t received; /* envelopes handed to recv_cb (loop thread) */
	/* peer credentials, read by NNG threads, fixed after open */
	uid_t uid;
	bool group_set;
	gid_t gid;
	uid_t allowed[ALLOWED_MAX];
	size_t nallowed;
};

struct prs_peer {
	nng_socket sock;
	nng_dialer dialer;
	struct ev_loop *loop;
	ev_timer watch;     /* dialer watchdog, see peer_watch_cb */
	uint32_t npipes;    /* connected pipes (NNG threads, atomic) */
	int64_t down_since; /* monotonic ms; 0 while connected */
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

struct deliver_ctx {
	struct prs_inbox *in;
	uint32_t pipe;
};

static void
deliver_one(void *arg, Prs__Envelope *env)
{
	struct deliver_ctx *d = arg;
	d->in->received++;
	d->in->recv_cb(d->in->arg, env, d->pipe);
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

static void
inbox_deliver(struct prs_inbox *in, nng_msg *m, uint32_t pipe)
{
	struct deliver_ctx d = {in, pipe};

	if (prs_frames_each(nng_msg_body(m), nng_msg_len(m), deliver_one,
			    &d) != 0)
		prs_warn("dropped a malformed message (or part) on pipe %u",
			 pipe);
}

static void
live_add(struct prs_inbox *in, uint32_t pipe)
{
	size_t i;

	for (i = in->nlive; i > 0; i--)
		if (in->live[i - 1] == pipe)
			return;
	if (in->nlive == LIVE_MAX) /* forget the oldest: it may be gone */
		memmove(in->live, in->live + 1,
			--in->nlive * sizeof(*in->live));
	if (in->nlive == in->livecap) {
		in->livecap = in->livecap ? in->livecap * 2 : 16;
		in->live = xrealloc(in->live, in->livecap * sizeof(*in->live));
	}
	in->live[in->nlive++] = pipe;
}

/* True (and forgotten) when pipe delivered something. */
static bool
live_del(struct prs_inbox *in, uint32_t pipe)
{
	size_t i;

	for (i = 0; i < in->nlive; i++) {
		if (in->live[i] == pipe) {
			in->live[i] = in->live[--in->nlive];
			return true;
		}
	}
	return false;
}

static void
inbox_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct prs_inbox *in = container_of(w, struct prs_inbox, rio);
	int i;

	for (i = 0; i < RECV_BURST; i++) {
		nng_msg *m;
		uint32_t pipe;
		int rv = nng_recvmsg(in->sock, &m, NNG_FLAG_NONBLOCK);
		if (rv != 0) {
			if (rv != NNG_EAGAIN)
				prs_warn("inbox receive: %s",
					 nng_strerror(rv));
			return;
		}
		pipe = nng_pipe_id(nng_msg_get_pipe(m));
		if (nng_msg_len(m) == 0) {
			in->probe_ok = true; /* a watchdog probe, or nothing */
			nng_msg_free(m);
			continue;
		}
		live_add(in, pipe);
		inbox_deliver(in, m, pipe);
		nng_msg_free(m);
	}
}

/* NNG thread. Whether an ipc peer may talk to us (see the file comment). */
static bool
peer_allowed(struct prs_inbox *in, nng_pipe pipe)
{
	uint64_t uid, gid;
	size_t i;

	if (nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_UID, &uid) != 0)
		return false; /* ipc on Linux always knows: be strict */
	if (uid == (uint64_t) in->uid)
		return true;
	if (!in->group_set)
		return false;
	if (nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_GID, &gid) == 0 &&
	    gid == (uint64_t) in->gid)
		return true;
	for (i = 0; i < in->nallowed; i++)
		if (uid == (uint64_t) in->allowed[i])
			return true;
	return false;
}

static void
inbox_pipe_notify(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct prs_inbox *in = arg;

	if (ev == NNG_PIPE_EV_ADD_PRE) {
		if (in->ipc && !peer_allowed(in, pipe)) {
			uint64_t uid = 0;
			nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_UID, &uid);
			if (__atomic_fetch_add(&in->rejected, 1,
					       __ATOMIC_RELAXED) %
				    100 ==
			    0)
				prs_warn("%s: refused a connection from uid "
					 "%llu (not ours, not in ipc_group)",
					 in->url, (unsigned long long) uid);
			nng_pipe_close(pipe);
			return;
		}
		__atomic_fetch_add(&in->adds, 1, __ATOMIC_RELAXED);
		return;
	}
	pthread_mutex_lock(&in->mtx);
	if (in->closing) { /* the loop no longer listens (prs_inbox_close) */
		pthread_mutex_unlock(&in->mtx);
		return;
	}
	if (in->ngone < GONE_MAX)
		in->gone[in->ngone++] = nng_pipe_id(pipe);
	ev_async_send(in->loop, &in->gone_async);
	pthread_mutex_unlock(&in->mtx);
}

static void
inbox_gone_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct prs_inbox *in = container_of(w, struct prs_inbox, gone_async);
	uint32_t gone[GONE_MAX];
	size_t n, i;

	/* Deliver what is already received first, so that a message sent
	 * just before the peer died is not processed after its death. */
	inbox_read_cb(loop, &in->rio, EV_READ);
	pthread_mutex_lock(&in->mtx);
	n = in->ngone;
	memcpy(gone, in->gone, n * sizeof(gone[0]));
	in->ngone = 0;
	pthread_mutex_unlock(&in->mtx);
	for (i = 0; i < n; i++)
		if (live_del(in, gone[i]))
			in->gone_cb(in->arg, gone[i]);
}

/* Resolves ipc_group (once per inbox; NNG threads read the result). */
static int
group_load(struct prs_inbox *in)
{
	struct group *gr;
	char **mem;

	in->uid = geteuid();
	if (prs_ipc_group == NULL || prs_ipc_group[0] == '\0')
		return 0;
	if ((gr = getgrnam(prs_ipc_group)) == NULL) {
		prs_err("ipc_group %s: no such group", prs_ipc_group);
		return -1;
	}
	in->group_set = true;
	in->gid = gr->gr_gid;
	for (mem = gr->gr_mem; *mem != NULL && in->nallowed < ALLOWED_MAX;
	     mem++) {
		struct passwd *pw = getpwnam(*mem);
		if (pw != NULL)
			in->allowed[in->nallowed++] = pw->pw_uid;
	}
	return 0;
}

/* Creates and starts the listener; for ipc, sets the socket file's mode
 * (and group). Returns 0 or an NNG error. */
static int
inbox_listen(struct prs_inbox *in)
{
	int rv;

	if ((rv = nng_listener_create(&in->listener, in->sock, in->url)) != 0)
		return rv;
	if ((rv = prs_tls_listener(in->listener, in->url)) != 0)
		goto fail;
	if (in->ipc &&
	    (rv = nng_listener_set_int(in->listener, NNG_OPT_IPC_PERMISSIONS,
				       in->group_set ? 0660 : 0600)) != 0)
		goto fail;
	if ((rv = nng_listener_start(in->listener, 0)) != 0)
		goto fail;
	in->listening = true;
	if (in->ipc && in->group_set &&
	    chown(in->url + 6, (uid_t) -1, in->gid) != 0)
		prs_warn("%s: cannot give the socket to group %s (are we a "
			 "member?)",
			 in->url, prs_ipc_group);
	return 0;
fail:
	nng_listener_close(in->listener);
	return rv;
}

static void
probe_end(struct prs_inbox *in)
{
	if (in->probing)
		nng_close(in->probe);
	in->probing = false;
}

/* The timer is unref'ed (see prs_inbox_open): ref before stopping. */
static void
probe_timer_stop(struct prs_inbox *in)
{
	if (!ev_is_active(&in->probe_timer))
		return;
	ev_ref(in->loop);
	ev_timer_stop(in->loop, &in->probe_timer);
}

static void
probe_start(struct prs_inbox *in)
{
	nng_msg *m = NULL;
	int rv;

	in->probe_ok = false;
	in->probe_adds = __atomic_load_n(&in->adds, __ATOMIC_RELAXED);
	if ((rv = nng_push0_open(&in->probe)) != 0)
		return;
	in->probing = true;
	in->probe_started = prs_mono_ms();
	/* The empty message waits in the send buffer until the pipe is up;
	 * only its arrival proves that the listener still hands new pipes
	 * to the socket (the transport alone keeps accepting, see #1518). */
	if ((rv = nng_socket_set_int(in->probe, NNG_OPT_SENDBUF, 1)) != 0 ||
	    (rv = nng_socket_set_ms(in->probe, NNG_OPT_RECONNMINT, 100)) !=
		    0 ||
	    (rv = prs_tls_dial(in->probe, in->url, NULL, NNG_FLAG_NONBLOCK)) !=
		    0 ||
	    (rv = nng_msg_alloc(&m, 0)) != 0 ||
	    (rv = nng_sendmsg(in->probe, m, NNG_FLAG_NONBLOCK)) != 0) {
		nng_msg_free(m);
		/* e.g. a wildcard tcp address cannot be dialed: no check */
		prs_debug("%s: listener self-check unavailable: %s", in->url,
			  nng_strerror(rv));
		probe_end(in);
		probe_timer_stop(in);
	}
}

static void
probe_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct prs_inbox *in = container_of(w, struct prs_inbox, probe_timer);
	int rv;

	if (!in->listening) {
		if ((rv = inbox_listen(in)) != 0)
			prs_warn("listen %s: %s (retrying)", in->url,
				 nng_strerror(rv));
		else
			prs_info("%s: listening again", in->url);
		return;
	}
	if (!in->probing) {
		probe_start(in);
		return;
	}
	/* Healthy: a new pipe (ours or anyone's) reached the socket since
	 * the probe began. That is what #1518 breaks, and unlike the probe
	 * message it does not wait behind a busy inbox: a loaded process
	 * must not mistake its own backlog for a dead listener. */
	if (in->probe_ok ||
	    __atomic_load_n(&in->adds, __ATOMIC_RELAXED) != in->probe_adds) {
		probe_end(in);
		return;
	}
	if (prs_mono_ms() - in->probe_started < PROBE_TIMEOUT_MS)
		return;
	probe_end(in);
	in->relistens++;
	prs_warn("%s: listener stopped accepting (NNG bug #1518): "
		 "re-creating it",
		 in->url);
	/* Closing the listener also closes the connections it accepted,
	 * the stuck ones (which only that frees: their peers redial) and the
	 * good ones. Forget which of ours delivered, so that their loss is
	 * not reported as a peer's death: those peers are alive and redial
	 * within RECONNMINT (what was in flight shows as a sequence gap). */
	in->nlive = 0;
	nng_listener_close(in->listener);
	in->listening = false;
	if ((rv = inbox_listen(in)) != 0)
		prs_warn("listen %s: %s (retrying)", in->url,
			 nng_strerror(rv));
}

int
prs_inbox_open(struct prs_inbox **out, struct ev_loop *loop, const char *url,
	       prs_inbox_recv_cb recv_cb, prs_inbox_gone_cb gone_cb, void *arg)
{
	struct prs_inbox *in = xcalloc(1, sizeof(*in));
	int fd, rv;

	in->loop = loop;
	in->url = xstrdup(url);
	in->ipc = strncmp(url, "ipc://", 6) == 0;
	in->recv_cb = recv_cb;
	in->gone_cb = gone_cb;
	in->arg = arg;
	pthread_mutex_init(&in->mtx, NULL);
	if (group_load(in) != 0) {
		rv = NNG_EINVAL;
		goto fail_alloc;
	}
	if ((rv = nng_pull0_open(&in->sock)) != 0)
		goto fail_alloc;
	if ((rv = nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ,
				      PRS_LINK_MAX_MSG)) != 0 ||
	    (rv = nng_socket_set_int(in->sock, NNG_OPT_RECVBUF, 8192)) != 0 ||
	    (rv = nng_pipe_notify(in->sock, NNG_PIPE_EV_ADD_PRE,
				  inbox_pipe_notify, in)) != 0 ||
	    (rv = nng_pipe_notify(in->sock, NNG_PIPE_EV_REM_POST,
				  inbox_pipe_notify, in)) != 0)
		goto fail;
	if ((rv = inbox_listen(in)) != 0)
		goto fail;
	if ((rv = nng_socket_get_int(in->sock, NNG_OPT_RECVFD, &fd)) != 0)
		goto fail;
	ev_io_init(&in->rio, inbox_read_cb, fd, EV_READ);
	ev_io_start(loop, &in->rio);
	ev_async_init(&in->gone_async, inbox_gone_cb);
	ev_async_start(loop, &in->gone_async);
	ev_timer_init(&in->probe_timer, probe_timer_cb, PROBE_EVERY_S,
		      PROBE_EVERY_S);
	ev_timer_start(loop, &in->probe_timer);
	ev_unref(loop); /* the watchdog alone must not keep the loop alive */
	*out = in;
	return 0;
fail:
	nng_close(in->sock);
fail_alloc:
	prs_err("listen %s: %s", url, nng_strerror(rv));
	pthread_mutex_destroy(&in->mtx);
	free(in->url);
	free(in);
	return -rv;
}

void
prs_inbox_poll(struct prs_inbox *in)
{
	inbox_read_cb(in->loop, &in->rio, EV_READ);
}

/* NNG's close waits for the socket's pipes and callbacks to end, and with
 * NNG 1.5.2 a pipe stuck in the #1518 state (a probe closed during its
 * handshake is one) could hold it for good: it ran with SIGTERM
 * unanswered for 15 s. So the sockets close on a thread of their own,
 * after the loop let go of everything (the pipe callback sees closing). */
static void *
inbox_close_thread(void *arg)
{
	struct prs_inbox *in = arg;

	if (in->probing)
		nng_close(in->probe);
	nng_close(in->sock);
	pthread_mutex_destroy(&in->mtx);
	free(in->live);
	free(in->url);
	free(in);
	return NULL;
}

void
prs_inbox_close(struct prs_inbox *in)
{
	pthread_t t;
	pthread_attr_t a;

	if (in == NULL)
		return;
	ev_io_stop(in->loop, &in->rio);
	probe_timer_stop(in);
	pthread_mutex_lock(&in->mtx);
	in->closing = true;
	pthread_mutex_unlock(&in->mtx);
	ev_async_stop(in->loop, &in->gone_async);
	if (pthread_attr_init(&a) != 0 ||
	    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED) != 0 ||
	    pthread_create(&t, &a, inbox_close_thread, in) != 0)
		inbox_close_thread(in); /* no thread: block, as before */
	pthread_attr_destroy(&a);
}

uint64_t
prs_inbox_relistens(const struct prs_inbox *in)
{
	return in->relistens;
}

/* Hands queued messages to NNG until it pushes back. */
static void
peer_flush(struct prs_peer *p)
{
	while (p->qlen > 0) {
		nng_msg *m = p->q[p->qhead];
		if (nng_sendmsg(p->sock, m, NNG_FLAG_NONBLOCK) != 0)
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
		p->down_since = 0;
		return;
	}
	if (p->down_since == 0) {
		p->down_since = now;
		return;
	}
	if (now - p->down_since < PEER_REDIAL_MS)
		return;
	p->down_since = now;
	p->redials++;
	nng_dialer_close(p->dialer);
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
	pthread_t t;
	pthread_attr_t a;

	if (p == NULL)
		return;
	peer_detach(p);
	if (pthread_attr_init(&a) != 0 ||
	    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED) != 0 ||
	    pthread_create(&t, &a, peer_close_thread, p) != 0)
		peer_close_thread(p); /* no thread: block, as before */
	pthread_attr_destroy(&a);
}

/* Hands the open batch to NNG, or to our queue if NNG pushes back. */
static void
peer_commit(struct prs_peer *p)
{
	nng_msg *m = p->cur;

	if (m == NULL)
		return;
	p->cur = NULL;
	if (p->qlen == 0 && nng_sendmsg(p->sock, m, NNG_FLAG_NONBLOCK) == 0)
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

uint64_t
prs_inbox_received(const struct prs_inbox *in)
{
	return in->received;
}

const char *
prs_peer_url(const struct prs_peer *p)
{
	return p->url;
}
