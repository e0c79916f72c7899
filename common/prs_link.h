/*
 * Links between presence processes over NNG.
 *
 * Every process listens on one PULL socket (prs_inbox) and sends to each
 * peer through its own PUSH socket (prs_peer) dialing that peer's inbox.
 * PUSH/PULL never drops while both ends run; what is in flight when a
 * receiver dies is lost, which the envelope's epoch and sequence numbers
 * reveal to the application so it can resynchronise (docs/DESIGN.md).
 * Both ends are driven from the libev loop: the inbox through NNG's
 * pollable receive fd, pipe removals through an ev_async (NNG calls the
 * pipe notifier on its own threads), and a peer never blocks: a message
 * NNG cannot take now waits in a bounded queue and is retried when the
 * send fd becomes ready.
 */
#ifndef PRS_LINK_H
#define PRS_LINK_H

#include <ev.h>
#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "presence.pb-c.h"

/* Largest message any of our sockets accepts; larger ones close the pipe. */
#define PRS_LINK_MAX_MSG (16u * 1024 * 1024)

struct prs_inbox;
struct prs_peer;

/* Called on the loop for every well-formed envelope; env is freed after
 * the callback returns. pipe identifies the connection it came on. */
typedef void (*prs_inbox_recv_cb)(void *arg, Prs__Envelope *env,
				  uint32_t pipe);
/* Called on the loop when a connection to the inbox went away. */
typedef void (*prs_inbox_gone_cb)(void *arg, uint32_t pipe);

/* Walks one link message: a run of (4-byte big-endian length, envelope).
 * Calls cb for each envelope that decodes (freed after cb returns). Bytes
 * from a peer are hostile: returns -1 if any part was malformed (a bad
 * length stops the walk; an undecodable envelope is skipped), else 0. */
int prs_frames_each(const uint8_t *b, size_t len,
		    void (*cb)(void *arg, Prs__Envelope *env), void *arg);

/* Non-blocking nng_sendmsg / nng_recvmsg on an aio the caller keeps (one
 * per socket, made by prs_nng_aio_nb, loop thread only): NNG 1.5's own
 * calls allocate an aio per call, and each allocation makes a getrandom()
 * system call. NNG_EAGAIN when NNG cannot take or give a message at once;
 * a message not sent stays the caller's. */
int prs_nng_aio_nb(nng_aio **aio);
int prs_nng_send_nb(nng_socket s, nng_aio *aio, nng_msg *m);
int prs_nng_recv_nb(nng_socket s, nng_aio *aio, nng_msg **m);

/* Runs fn(arg) on a detached thread of its own (or here, if no thread can
 * be made). For NNG closes: NNG 1.5.2 can hold the close of a socket, a
 * dialer or a listener for good on a pipe stuck in the #1518 state (see
 * prs_link.c), and the loop must never wait for one. */
void prs_detach(void *(*fn)(void *), void *arg);
/* nng_close(s) and nng_dialer_close(d) through prs_detach. */
void prs_nng_close_bg(nng_socket s);
void prs_nng_dialer_close_bg(nng_dialer d);

/* Listens on url (ipc://, tcp:// or tls+tcp://, see prs_tls.h). ipc socket
 * files get mode 0600, or 0660 and the group of the ipc_group setting; ipc
 * peers of another uid (outside that group) are disconnected before they can
 * send. A watchdog re-creates the listener if it stops accepting (NNG bug
 * #1518). gone_cb is called only for connections that delivered at least one
 * message. Returns 0 or a negative NNG error (logged). */
int prs_inbox_open(struct prs_inbox **out, struct ev_loop *loop,
		   const char *url, prs_inbox_recv_cb recv_cb,
		   prs_inbox_gone_cb gone_cb, void *arg);
/* Stops delivering at once; the NNG sockets close on a thread of their
 * own (a stuck pipe of NNG 1.5.2 can hold nng_close), so this never
 * blocks the loop. No callback runs after it returns. */
void prs_inbox_close(struct prs_inbox *in);
/* Handles what is already waiting in the inbox now (as its read watcher
 * would), e.g. before judging peers by their silence. */
void prs_inbox_poll(struct prs_inbox *in);
/* How many times the watchdog had to re-create the listener. */
uint64_t prs_inbox_relistens(const struct prs_inbox *in);

/* Dials url in the background (redialing forever). The sender identity
 * (kind, name, epoch) is stamped on every envelope sent through it. */
int prs_peer_open(struct prs_peer **out, struct ev_loop *loop, const char *url,
		  Prs__Kind kind, const char *name, uint64_t epoch);
void prs_peer_close(struct prs_peer *p);
/* The same without blocking the loop: NNG's close waits for the
 * connection's end, which over a dead network (a TLS pipe whose TCP
 * peer is unreachable) took seconds; p is freed by a thread of its own. */
void prs_peer_close_bg(struct prs_peer *p);

/* Fills env's sender fields and the next sequence number, packs and sends
 * it without blocking. env stays the caller's. Returns 0, or -1 when the
 * backlog is full and the message was dropped (the receiver will see a
 * sequence gap). */
int prs_peer_send(struct prs_peer *p, Prs__Envelope *env);
/* Hands every open batch to NNG now (the loop does it before sleeping). */
void prs_link_flush(void);
/* Messages waiting in our own queue or batch (not yet taken by NNG). */
size_t prs_peer_backlog(const struct prs_peer *p);
const char *prs_peer_url(const struct prs_peer *p);

/* Counters for metrics (all O(1)). */
struct prs_peer_stats {
	uint64_t sent;    /* envelopes given to prs_peer_send */
	uint64_t dropped; /* of those, dropped with the backlog full */
	size_t backlog;   /* prs_peer_backlog */
	bool connected;   /* a pipe to the peer is up */
};
void prs_peer_stats(const struct prs_peer *p, struct prs_peer_stats *st);
/* Envelopes the inbox delivered to its callback. */
uint64_t prs_inbox_received(const struct prs_inbox *in);

#endif
