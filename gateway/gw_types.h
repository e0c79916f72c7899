/*
 * The gateway's shared objects: configuration, the server (one per
 * process), connections and sessions. They are embedded and linked across
 * modules (a connection carries its watchers, its outbound buffer and its
 * session), which is why they are declared here rather than kept opaque.
 *
 * Lifetime: a connection is freed late. gw_conn_abort() and the closing
 * path only stop its watchers and queue it; the server frees it from its
 * ev_prepare hook, never inside one of its own callbacks, so a pointer
 * held by a callback further up the stack stays valid (state DEAD).
 */
#ifndef GW_TYPES_H
#define GW_TYPES_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wslay/wslay.h>

#include "gw_buf.h"
#include "prs_metrics.h"
#include "uthash.h"

struct gw_config {
	char *name;
	char *url;
	char *registry_url;
	char *http_host;
	int64_t http_port;
	char *web_root; /* static files: colon-separated directories */
	bool auth_none;
	unsigned char *jwt_secret; /* HS256 key (auth jwt) */
	size_t jwt_secret_len;
	int64_t heartbeat_ms;
	int64_t heartbeat_timeout_ms;
	int64_t hello_timeout_ms;
	int64_t max_message_bytes;
	int64_t max_outbound_bytes;
	int64_t max_connections;
	int64_t max_body_bytes;
	int64_t http_request_timeout_ms;
	int64_t request_timeout_ms;
	int64_t rate_limit_per_sec;
	int64_t rate_limit_burst;
	int64_t http_session_ttl_ms;
	int64_t rate_limit_close_ms; /* still limited this long: close 1008 */
	int64_t max_url_bytes;       /* request target (over: 414) */
	int64_t max_header_bytes;    /* request head and each line (431) */
	int64_t max_headers;         /* header lines per request (431) */
	char *allowed_origins;       /* comma-separated; "" = any Origin */
	char *compat_events; /* "" (v1) or "seed004": /ws/presence/{id} */
	/* Socket.IO drop-in (gw_fe_sio.c) */
	char *socketio_path;     /* "/socket.io/" */
	bool socketio_all;       /* socketio_audience = all (else threads) */
	bool socketio_all_users; /* jwt: all without the admin claim */
	int64_t socketio_ping_interval_ms;
	int64_t socketio_ping_timeout_ms;
	char *signalr_paths;          /* comma-separated SignalR hub paths */
	int64_t signalr_keepalive_ms; /* server silence: send a Ping */
	int64_t signalr_client_timeout_ms; /* client silence: drop it */
};

enum gw_conn_state {
	GW_CONN_HTTP,    /* reading HTTP requests */
	GW_CONN_WS,      /* upgraded: WebSocket frames through wslay */
	GW_CONN_CLOSING, /* last bytes queued: flush, half-close, linger */
	GW_CONN_DEAD,    /* fd closed, waiting to be freed */
};

struct gw_server;
struct gw_session;
struct gw_http;
struct gw_ws_close_in;
struct gw_ws_in;

struct gw_conn;
struct gw_ws_handler;
struct gw_fe;
struct gw_sr_hub;

/* What the protocol a connection speaks does with it: set by the codec
 * (gw_http1_attach, gw_ws_start), called by the connection layer, which
 * names no protocol (as Redis's ConnectionType, h2o's socket callbacks). */
struct gw_conn_ops {
	/* Bytes received (not while closing). */
	void (*input)(struct gw_conn *c, const char *data, size_t len);
	/* Once a second while open: deadlines, pings. */
	void (*tick)(struct gw_conn *c, int64_t now);
	/* The outbound queue is full; NULL: drop the connection. */
	void (*overflow)(struct gw_conn *c);
	/* The hello deadline passed (gw_conn_hello_wait); NULL: nothing. */
	void (*expired)(struct gw_conn *c);
	/* The server stops; NULL: drop the connection. */
	void (*stop)(struct gw_conn *c);
	/* c leaves the open state (closing or dropped); NULL: nothing. */
	void (*leave)(struct gw_conn *c, bool clean);
	/* c is freed: release the protocol's state. */
	void (*release)(struct gw_conn *c);
};

/* A client's token bucket (gw_rate.h). */
struct gw_rate {
	int64_t tokens;     /* in 1/1000 messages */
	int64_t last;       /* monotonic ms of the last refill */
	int64_t over_since; /* 0, or start of the current limited streak */
	int64_t last_over;  /* monotonic ms of the last refused message */
};

struct gw_conn {
	ev_io rio;
	ev_io wio;
	struct gw_server *srv;
	const struct gw_conn_ops *ops;          /* its codec's */
	const struct gw_ws_handler *ws_handler; /* the frontend's */
	const struct gw_fe *fe; /* its sessions' frontend (NULL: v1) */
	int fd;
	uint8_t state;     /* enum gw_conn_state */
	bool reading;      /* rio is started */
	bool writing;      /* wio is started */
	bool in_flushq;    /* on srv->flushq */
	bool shut_wr;      /* shutdown(SHUT_WR) done */
	bool subproto;     /* client offered presence.v1 */
	bool auth_admin;   /* identity from the upgrade is an admin */
	uint32_t npending; /* registry requests in flight for this conn */
	uint64_t serial;   /* unique per process, for logs */
	struct gw_buf out; /* everything we send, wslay's output included */
	int64_t last_rx;   /* monotonic ms of the last byte received */
	int64_t deadline;  /* HTTP: request/idle deadline; CLOSING: linger */
	int64_t next_ping; /* WS: when to send the next ping */
	int64_t hello_deadline;
	struct gw_rate rl;          /* message rate limit (gw_rate.h) */
	struct gw_http *http;       /* HTTP state, only while speaking HTTP */
	wslay_event_context_ptr ws; /* only while a frame is partly read */
	struct gw_ws_in *ws_in;     /* its input accounting (gw_ws.c) */
	struct gw_ws_close_in *close_in; /* a client's close frame (gw_ws.c) */
	struct gw_session *sess;         /* after hello */
	char *auth_user;             /* identity established at the upgrade */
	int64_t auth_exp;            /* its token's exp (wall ms); 0 = none */
	struct gw_conn *prev, *next; /* srv->conns */
	struct gw_conn *hprev, *hnext; /* srv hello FIFO (awaiting hello) */
	struct gw_conn *flush_next;    /* srv->flushq */
	struct gw_conn *free_next;     /* srv->freeq */
	/* the state of c's frontend (c->fe), when it keeps some */
	void *fe_data;
};

/* A session: one hello'd WebSocket, or one HTTP heartbeat session (conn
 * NULL, expires unless renewed). Watches are a sorted array of ids. */
struct gw_session {
	uint64_t sid;
	const struct gw_fe *fe; /* its frontend's ops (gw_fe.h) */
	struct gw_server *srv;
	UT_hash_handle hh; /* srv->sessions, by sid */
	struct gw_conn *conn;
	char *user_id;
	char *device;
	char *text;
	char *meta;     /* compact JSON object text, NULL = none */
	uint8_t status; /* Prs__Status */
	bool has_text;
	bool status_set;   /* the user chose status/text (hello, set_status) */
	int64_t status_at; /* when (ms since epoch; see SessionInfo) */
	char **watch;
	uint32_t nwatch, capwatch;
	int64_t expires;     /* HTTP sessions: monotonic ms */
	json_t *welcome_id;  /* the hello's id while its welcome waits */
	bool await_ack;      /* welcome waits for the registry's SessionAck */
	int64_t await_since; /* monotonic ms */
	UT_hash_handle hh_user; /* srv->http_sessions, by user_id */
	int64_t since;          /* wall ms when the session began */
	int64_t token_exp; /* wall ms: the session ends then (auth jwt, the
			      exp of its latest token); 0 = never */
	bool idle;         /* the client reported its device idle */
	bool watch_all;    /* receives every user's changes (all_users) */
	/* the state of s's frontend, when it keeps some */
	void *fe_data;
};

struct gw_fe;
struct gw_reg;
struct gw_view;
struct gw_sio;

#define GW_FE_KINDS_MAX 8 /* frontend kinds (gw_fe.h) */

/* What the layers above do at the server's moments (gw_gateway.c sets
 * them): the connection layer calls up through these only. */
struct gw_server_hooks {
	/* A new connection: give it its codec (conn ops). */
	void (*accept)(struct gw_conn *c);
	/* Every cron tick (250 ms), and once a second. */
	void (*tick)(struct gw_server *srv, int64_t now);
	void (*second)(struct gw_server *srv, int64_t now);
	/* Graceful stop, after the connections were told; and at fini. */
	void (*stop)(struct gw_server *srv);
	void (*fini)(struct gw_server *srv);
	/* c is about to be freed (forget it in pending requests). */
	void (*conn_free)(struct gw_conn *c);
	/* Messages still queued to other processes (stop waits for 0). */
	size_t (*backlog)(struct gw_server *srv);
};

#define GW_SEND_SAMPLES 256 /* events timed per loop iteration */

struct gw_server {
	const struct gw_server_hooks *hooks;
	struct ev_loop *loop;
	const struct gw_config *cfg;
	uint64_t epoch;
	int lfd;
	int spare_fd; /* released to accept-and-close when out of fds */
	ev_io accept_io;
	ev_prepare prepare; /* flush outputs, free dead connections */
	ev_timer cron;
	ev_timer stop_timer;
	int64_t stop_started; /* monotonic ms of gw_server_stop */
	int stop_quiet;       /* stop timer ticks with nothing left to send */
	unsigned cron_ticks;
	struct gw_conn *conns;
	size_t nconns;
	size_t nws;     /* connections in state WS */
	size_t nws_ctx; /* of them, with a wslay context (gw_ws.c) */
	struct gw_conn *hello_head, *hello_tail;
	struct gw_conn *flushq;
	struct gw_conn *freeq;
	uint64_t next_serial;
	struct gw_session *sessions; /* by sid */
	uint64_t *await;             /* sids whose welcome waits */
	size_t nawait, capawait;
	struct gw_session *http_sessions; /* by user id */
	uint64_t next_sid;
	size_t nsessions;
	struct gw_reg *reg;
	/* the frontend of /ws/presence/{id} sessions (compat_events; set
	 * by gw_gateway.c, NULL: v1) */
	const struct gw_fe *user_ws_fe;
	struct gw_view *views;     /* what clients were shown, per user */
	struct gw_sio *sio;        /* Socket.IO sessions (gw_sio.h) */
	struct gw_sr_hub *signalr; /* SignalR hubs (gw_sr_negotiate.c) */
	struct gw_buf scratch;     /* reused for JSON and frames */
	struct gw_buf frames[GW_FE_KINDS_MAX]; /* one event, per kind */
	bool stopping;
	bool listening;
	/* counters for /metrics */
	uint64_t n_accepted;
	uint64_t n_ws_opened;
	uint64_t n_msgs_in;
	uint64_t n_frames_out;
	uint64_t n_events;
	uint64_t n_http_requests;
	uint64_t n_slow_closed;
	uint64_t n_rate_limited;
	uint64_t n_resync_closed; /* closed 1001 after lost registry events */
	uint64_t n_repairs;       /* repair events delivered */
	uint64_t n_repairs_dropped; /* repair events clients already saw */
	/* The longest outbound queue a WebSocket connection has had (bytes
	 * pending in its out buffer, close frame included), since start. */
	size_t ws_out_peak;
	/* Latency histograms (seconds): registry stamp -> event here, and
	 * event here -> its frames handed to the sockets (the before-sleep
	 * flush). ev_arrived: monotonic us of this iteration's events, the
	 * first GW_SEND_SAMPLES of them. */
	struct prs_hist h_handoff, h_send;
	int64_t ev_arrived[GW_SEND_SAMPLES];
	size_t nev_arrived;
	int64_t started_ms; /* wall ms of gw_server_init (/metrics) */
	int64_t token_next; /* wall ms: no session's token expires before;
			       the cron looks only from then on */
};

#endif
