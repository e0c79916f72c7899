/*
 * What the pieces of the Socket.IO drop-in share, private to them: the
 * Engine.IO session and the frontend's state, and the functions each piece
 * gives the others. gw_sio_eio.c holds the Engine.IO sessions and their
 * transports, gw_fe_sio.c the registry side, seed 001's events, the
 * Socket.IO packets and the frontend ops, gw_sio_obs.c the observers;
 * gw_fe_sio.h is what the rest of the gateway sees.
 */
#ifndef GW_SIO_H
#define GW_SIO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_fe.h"
#include "gw_rate.h"
#include "gw_types.h"

#define SIO_ID_LEN 20 /* base64url characters of an id */

/* One Engine.IO session (see gw_fe_sio.c and gw_sio_eio.c). */
struct sio {
	char id[SIO_ID_LEN + 1];  /* Engine.IO sid */
	char sid[SIO_ID_LEN + 1]; /* Socket.IO socket id, once connected */
	uint64_t key;             /* for registry replies */
	UT_hash_handle hh;        /* st->by_id */
	UT_hash_handle hh_key;    /* st->by_key */
	struct sio *free_next;
	struct sio *oprev, *onext; /* st->observers */
	struct gw_server *srv;
	bool websocket; /* the transport is a WebSocket (upgraded or only) */
	bool probing;   /* a probe WebSocket got 3probe */
	bool closed;
	bool failed;       /* closed for a malformed packet */
	bool connected;    /* Socket.IO CONNECT on "/" done */
	bool all;          /* audience: every user (socketio_audience) */
	bool observing;    /* on st->observers */
	bool connect_wait; /* its CONNECT reply waits for the observer's ack */
	bool admin;        /* its identity may act as an admin */
	struct gw_conn *poll; /* the held GET */
	struct gw_conn *ws;   /* the WebSocket transport, or the probe */
	char *poll_cors;      /* CORS headers for the held GET's answer */
	struct gw_buf out;    /* polling: packets waiting for a GET */
	int64_t next_ping;    /* monotonic ms */
	int64_t pong_by;      /* 0, or when the pong to our ping is due */
	int64_t connect_by;   /* 0 once connected */
	int64_t upgrade_by;   /* 0, or when the probe must have upgraded */
	int64_t drain_by;     /* closed, draining (gw_sio_close) until then */
	bool finished;        /* out of the tables (sio_finish) */
	char *token;          /* credentials of the handshake, if any */
	char *user;           /* auth jwt: the token's subject */
	int64_t exp;          /* its exp (wall ms) */
	struct gw_session *sess; /* the presence session, after userOnline */
	int64_t online_ack;      /* userOnline's ack id waiting, -1 none */
	struct gw_rate rl;       /* message rate limit (gw_rate.h) */
};

/* The frontend's state in srv->sio. */
struct gw_sio {
	struct sio *by_id;
	struct sio *by_key;
	struct sio *freeq;
	uint64_t next_key;
	size_t npolling; /* sessions without a WebSocket (not in nws) */
	size_t n;
	/* Connections with audience all and no presence session yet, and
	 * the one registry observer session that hears for them all. */
	struct sio *observers;
	size_t nobservers;
	struct gw_session *observer;
};

/* ---- gw_sio_eio.c: Engine.IO sessions and transports ---------------- */

/* A random id of SIO_ID_LEN base64url characters (120 bits). */
void gw_sio_random_id(char out[SIO_ID_LEN + 1]);
/* The session that registry replies name by its key, or NULL. */
struct sio *gw_sio_find_key(struct gw_server *srv, uint64_t key);
/* Queues one Engine.IO packet to a polling e (no flush yet); false when
 * e cannot take it (and then ends). */
bool gw_sio_queue(struct sio *e, const char *pkt, size_t len);
/* Sends what waits on e's transport. */
void gw_sio_flush(struct sio *e);
/* Sends the packet that b holds (and empties b). */
void gw_sio_send_buf(struct sio *e, struct gw_buf *b);
/* Ends e: its presence session (clean: userOffline or a kick; else grace
 * applies) and its transports. Never frees it (the tick does). */
void gw_sio_close(struct sio *e, bool clean);
/* A malformed or unexpected packet: e ends (never others). */
void gw_sio_fail(struct sio *e, const char *why);

/* ---- gw_fe_sio.c: the registry side, events, Socket.IO packets ------- */

/* Ends the presence session, if any (clean: userOffline). */
void gw_sio_sess_end(struct sio *e, bool clean);
/* A refused request: the ack says why when one was asked for (id >= 0),
 * else an "error" event does. */
void gw_sio_refuse(struct sio *e, int64_t id, const char *code,
		   const char *msg);
/* One Socket.IO packet (the data of an Engine.IO message). */
void gw_sio_message(struct sio *e, const char *data, size_t len);
/* 40{"sid"}: the CONNECT reply. */
void gw_sio_connect_reply(struct sio *e);
/* Frame f (a WebSocket frame; polling sessions take the packet behind its
 * header) to e, if it may have it now and there is room. */
bool gw_sio_deliver_one(struct sio *e, const struct gw_frame *f);

/* ---- gw_sio_obs.c: observers ---------------------------------------- */

/* Puts e on the observers or takes it off, as it now is. */
void gw_sio_observe_update(struct sio *e);
/* Ends the observer session when no observer is left (or all: at stop). */
void gw_sio_observer_end(struct gw_server *srv, bool all);
/* Whether s is the registry observer session. */
bool gw_sio_is_observer(const struct gw_session *s);
/* The frontend ops of the observer session, for every observer. */
bool gw_sio_obs_deliver(struct gw_server *srv, const struct gw_frame *f);
void gw_sio_obs_flush(struct gw_server *srv);
void gw_sio_obs_acked(struct gw_server *srv);
bool gw_sio_obs_close(struct gw_server *srv, enum gw_end why);

#endif
