/*
 * A frontend: one protocol spoken to clients (the v1 WebSocket, the v1
 * HTTP API; Socket.IO, SignalR and others to come). Every session carries
 * the ops of its frontend; the session core reaches clients only through
 * them. Registry events are encoded once per frontend kind and event, not
 * once per recipient: the core asks a kind to encode an event the first
 * time one of its sessions is a target, then hands the same frame to each
 * of that kind's target sessions.
 */
#ifndef GW_FE_H
#define GW_FE_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_buf.h"
#include "gw_types.h"
#include "presence.pb-c.h"

/* Frontend kinds: an index into the per-event frame table. */
enum gw_fe_kind {
	GW_FE_V1WS,    /* v1 WebSocket (gw_fe_v1ws.c) */
	GW_FE_API,     /* v1 HTTP API heartbeat sessions (gw_fe_api.c) */
	GW_FE_SEED004, /* v1 WebSocket, seed 004 events (gw_fe_compat.c) */
	GW_FE_SIGNALR, /* SignalR JSON hub (gw_fe_signalr.c) */
	GW_FE_KINDS
};

_Static_assert(GW_FE_KINDS <= GW_FE_KINDS_MAX, "srv->frames too small");

/* Why the core ends a session through its frontend. */
enum gw_end {
	GW_END_KICKED,        /* an admin ended it (clean) */
	GW_END_TOKEN_EXPIRED, /* its token expired (unclean) */
	GW_END_MISSED,        /* registry events to us were lost */
};

/* One encoded frame, ready to queue as is. */
struct gw_frame {
	const char *data;
	size_t len;
};

struct gw_fe {
	const char *name;
	enum gw_fe_kind kind;
	/* Encodes ev (typing t) as this kind's frame, in buf (the core's,
	 * one per kind); returns 0, or -1 when this kind sends none. NULL:
	 * this kind never receives events (typing). */
	int (*encode_event)(const Prs__Event *ev, struct gw_buf *buf,
			    struct gw_frame *out);
	int (*encode_typing)(const Prs__Typing *t, struct gw_buf *buf,
			     struct gw_frame *out);
	/* Queues a frame encoded for this kind to s (no flush yet); false
	 * if s cannot take it now. */
	bool (*deliver_event)(struct gw_session *s, const struct gw_frame *f);
	bool (*deliver_typing)(struct gw_session *s, const struct gw_frame *f);
	/* Pushes what was queued to s toward its client. */
	void (*flush)(struct gw_session *s);
	/* The registry acknowledged s (gw_session_await): welcome it. */
	void (*acked)(struct gw_session *s);
	/* Ends s for why, as the protocol says; returns false when this
	 * kind keeps the session for that reason. */
	bool (*close)(struct gw_session *s, enum gw_end why);
	/* c, whose c->fe is this and which holds this frontend's state in
	 * c->fe_data, is about to be freed. NULL: nothing to do. */
	void (*conn_free)(struct gw_conn *c);
};

#endif
