/*
 * The receiving side of the NNG links (see prs_link.c for batching and
 * prs_link.h for the why): a PULL inbox driven from libev, its listener
 * watchdog (NNG #1518) and the ipc peer-credential check.
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

#define RECV_BURST       512 /* messages handled per readiness event */
#define GONE_MAX         1024
#define PROBE_EVERY_S    1.0
#define PROBE_TIMEOUT_MS 5000
#define LIVE_MAX         4096 /* connections that delivered, tracked */
#define ALLOWED_MAX      64   /* uids listed in ipc_group */

struct prs_inbox {
	nng_socket sock;
	nng_aio *aio; /* for prs_nng_recv_nb */
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
		int rv = prs_nng_recv_nb(in->sock, in->aio, &m);
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

/* The probe's close happens off the loop: a probe whose connection the
 * listener dropped during the handshake (its re-creation does that) is
 * a #1518 pipe, whose close NNG 1.5.2 can hold for good. */
static void
probe_end(struct prs_inbox *in)
{
	if (in->probing)
		prs_nng_close_bg(in->probe);
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
	if ((rv = prs_nng_aio_nb(&in->aio)) != 0)
		goto fail_alloc;
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
	if (in->aio != NULL)
		nng_aio_free(in->aio);
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
	nng_aio_free(in->aio);
	pthread_mutex_destroy(&in->mtx);
	free(in->live);
	free(in->url);
	free(in);
	return NULL;
}

void
prs_inbox_close(struct prs_inbox *in)
{
	if (in == NULL)
		return;
	ev_io_stop(in->loop, &in->rio);
	probe_timer_stop(in);
	pthread_mutex_lock(&in->mtx);
	in->closing = true;
	pthread_mutex_unlock(&in->mtx);
	ev_async_stop(in->loop, &in->gone_async);
	prs_detach(inbox_close_thread, in);
}

uint64_t
prs_inbox_relistens(const struct prs_inbox *in)
{
	return in->relistens;
}

uint64_t
prs_inbox_received(const struct prs_inbox *in)
{
	return in->received;
}
