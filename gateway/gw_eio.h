/*
 * Engine.IO 4 and Socket.IO 5 packets (COMPAT.md §1): the codec of the
 * Socket.IO drop-in, with no I/O and no session knowledge. Parsed packets
 * point into the caller's bytes (Engine.IO) or own their JSON (Socket.IO);
 * encoders append to a gw_buf.
 */
#ifndef GW_EIO_H
#define GW_EIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gw_buf.h"

/* Polling payload separator (Engine.IO 4: the ASCII record separator). */
#define GW_EIO_SEP '\x1e'
/* Largest polling payload and packet we accept, and the maxPayload the
 * open packet advertises by default (engine.io's own default). */
#define GW_EIO_PAYLOAD_MAX 1000000
/* Longest Socket.IO namespace, "/" included. */
#define GW_SIO_NSP_MAX 128
/* Largest Socket.IO ack id: JavaScript's Number.MAX_SAFE_INTEGER, beyond
 * which the client could not have counted. */
#define GW_SIO_ID_MAX 9007199254740991LL

/* Errors of every function below (all negative). */
enum {
	GW_EIO_EEMPTY = -1,   /* an empty packet (no type) */
	GW_EIO_ETYPE = -2,    /* unknown packet type */
	GW_EIO_EBINARY = -3,  /* a binary packet: refused */
	GW_EIO_ETOOBIG = -4,  /* over a size bound */
	GW_EIO_ETOOMANY = -5, /* more packets than the caller takes */
	GW_EIO_ENSP = -6,     /* malformed or too long namespace */
	GW_EIO_EID = -7,      /* ack id overflows, missing or not allowed */
	GW_EIO_EJSON = -8,    /* payload is not JSON */
	GW_EIO_EPAYLOAD = -9, /* JSON of the wrong shape for the type */
	GW_EIO_ESEP = -10,    /* data holds the \x1e separator (encoders) */
	GW_EIO_EARG = -11,    /* encoder argument out of range / not UTF-8 */
};

enum gw_eio_type {
	GW_EIO_OPEN = 0,
	GW_EIO_CLOSE = 1,
	GW_EIO_PING = 2,
	GW_EIO_PONG = 3,
	GW_EIO_MESSAGE = 4,
	GW_EIO_UPGRADE = 5,
	GW_EIO_NOOP = 6,
};

/* One Engine.IO packet; data points into the parsed bytes (not
 * NUL-terminated) and lives as long as they do. */
struct gw_eio_packet {
	enum gw_eio_type type;
	const char *data;
	size_t len;
};

/* Walks a polling payload packet by packet without allocating. */
struct gw_eio_iter {
	const char *p;
	const char *end;
	size_t len; /* the whole payload's */
	bool started;
	bool done;
	int err; /* the error once met, returned again */
};

/* The open packet's fields (COMPAT.md §1: upgrades is always an array). */
struct gw_eio_open {
	const char *sid;
	bool upgrade_websocket; /* "upgrades":["websocket"], else [] */
	int64_t ping_interval_ms;
	int64_t ping_timeout_ms;
	int64_t max_payload;
};

/* Socket.IO 5 packet types. */
enum gw_sio_type {
	GW_SIO_CONNECT = 0,
	GW_SIO_DISCONNECT = 1,
	GW_SIO_EVENT = 2,
	GW_SIO_ACK = 3,
	GW_SIO_CONNECT_ERROR = 4,
	GW_SIO_BINARY_EVENT = 5,
	GW_SIO_BINARY_ACK = 6,
};

/* One Socket.IO packet. data is owned by the packet (gw_sio_clear frees
 * it); event borrows from data. */
struct gw_sio_packet {
	enum gw_sio_type type;
	char nsp[GW_SIO_NSP_MAX + 1]; /* "/" when the packet names none */
	int64_t id;                   /* ack id, -1 when absent */
	json_t *data;                 /* payload, NULL when absent */
	const char *event;            /* EVENT: data[0], the event name */
};

/* A short English description of an error above (never NULL). */
const char *gw_eio_strerror(int err);

/* Parses one packet (a WebSocket text frame, or one piece of a polling
 * payload) into *pkt, which points into data. Returns 0 or a negative
 * error (EEMPTY, ETYPE, EBINARY for a "b" base64 packet, ETOOBIG). */
int gw_eio_parse(const char *data, size_t len, struct gw_eio_packet *pkt);
/* Starts walking the polling payload buf[0..len) (a POST body). */
void gw_eio_iter_init(struct gw_eio_iter *it, const char *buf, size_t len);
/* The next packet of the payload: 1 with *pkt set, 0 at the end, or a
 * negative error (then the whole payload is malformed, as engine.io
 * treats it). An empty body or an empty packet between separators is
 * EEMPTY; a body over GW_EIO_PAYLOAD_MAX is ETOOBIG. */
int gw_eio_iter_next(struct gw_eio_iter *it, struct gw_eio_packet *pkt);
/* Parses a whole polling payload into pkts[0..max), setting *n. Returns 0,
 * ETOOMANY when it holds more than max packets, or the first packet's
 * error; nothing is allocated, pkts point into buf. */
int gw_eio_payload_parse(const char *buf, size_t len,
			 struct gw_eio_packet *pkts, size_t max, size_t *n);
/* True for the upgrade probe ping "2probe" (answer gw_eio_encode(PONG,
 * "probe")). */
bool gw_eio_is_probe(const struct gw_eio_packet *pkt);

/* Appends one packet: its type digit then data[0..len) (data may be NULL
 * when len is 0). Returns 0 or EARG for a type out of range. */
int gw_eio_encode(struct gw_buf *b, enum gw_eio_type type, const void *data,
		  size_t len);
/* Appends one already encoded packet to a polling payload under
 * construction, with a separator unless b is empty. Returns 0, EEMPTY for
 * an empty packet or ESEP when it holds \x1e (nothing is appended). */
int gw_eio_payload_add(struct gw_buf *b, const void *pkt, size_t len);
/* Appends the polling payload of pkts[0..n) (a GET response body).
 * Returns 0, or ESEP / EARG (then b is left as it was). */
int gw_eio_payload_encode(struct gw_buf *b, const struct gw_eio_packet *pkts,
			  size_t n);
/* Appends the open packet 0{"sid",...}. Returns 0 or EARG (sid empty or
 * not UTF-8, negative numbers). */
int gw_eio_open_encode(struct gw_buf *b, const struct gw_eio_open *o);

/* Parses the Socket.IO packet carried by a message packet's data into *p.
 * p's previous contents are overwritten, not freed; the caller calls
 * gw_sio_clear afterwards, whatever the result.
 * Returns 0 or a negative error: ETYPE, EBINARY (types 5 and 6), ENSP,
 * EID, EJSON, EPAYLOAD (CONNECT not an object, DISCONNECT with a payload,
 * EVENT not a non-empty array starting with a string that is not a
 * reserved name, ACK not an array), ETOOBIG. */
int gw_sio_parse(const char *data, size_t len, struct gw_sio_packet *p);
/* Frees p's payload and resets it to an empty CONNECT on "/". */
void gw_sio_clear(struct gw_sio_packet *p);
/* Appends p as a whole Engine.IO message packet ("4" then the Socket.IO
 * packet: type, "/ns," unless "/", ack id when >= 0, compact JSON).
 * p->data is only read. Returns 0 or EARG / EBINARY. */
int gw_sio_encode(struct gw_buf *b, const struct gw_sio_packet *p);
/* Appends the CONNECT reply 40{"sid":sid} (with "/ns," when nsp is not
 * "/"). Returns 0 or EARG. */
int gw_sio_encode_connect(struct gw_buf *b, const char *nsp, const char *sid);
/* Appends a CONNECT_ERROR 44{"message":message}. Returns 0 or EARG. */
int gw_sio_encode_connect_error(struct gw_buf *b, const char *nsp,
				const char *message);
/* Appends an EVENT 42["name",arg] on "/" (no argument when arg is NULL;
 * arg is only read). Returns 0 or EARG. */
int gw_sio_encode_event(struct gw_buf *b, const char *name, json_t *arg);
/* Appends an ACK 43<id>[args...] on nsp; args is an array (NULL: []),
 * only read. Returns 0 or EARG. */
int gw_sio_encode_ack(struct gw_buf *b, const char *nsp, int64_t id,
		      json_t *args);

#endif
