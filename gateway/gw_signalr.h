/*
 * ASP.NET Core SignalR, JSON hub protocol version 1 (COMPAT.md §2): the
 * codec of the SignalR drop-in, with no I/O and no session knowledge.
 * Records end with \x1e; a reader reassembles them from WebSocket frames,
 * parsers turn one record into a message, encoders append whole records
 * (separator included) to a gw_buf.
 */
#ifndef GW_SIGNALR_H
#define GW_SIGNALR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "gw_buf.h"

/* Record separator that ends every JSON hub protocol record. */
#define GW_SR_SEP '\x1e'
/* Default bound of one record (ASP.NET's MaximumReceiveMessageSize). */
#define GW_SR_RECORD_MAX 32768
/* Longest invocationId and target we accept. */
#define GW_SR_ID_MAX     128
#define GW_SR_TARGET_MAX 256
/* Room for a handshake error message (gw_sr_handshake_parse). */
#define GW_SR_WHY_MAX 160

/* Errors of every function below (all negative). */
enum {
	GW_SR_ETOOBIG = -1,   /* a record over the reader's bound */
	GW_SR_EJSON = -2,     /* a record that is not a JSON object */
	GW_SR_ETYPE = -3,     /* unknown or unsupported message type */
	GW_SR_EFIELD = -4,    /* a field missing, of the wrong type or size */
	GW_SR_EPROTOCOL = -5, /* handshake: a protocol other than "json" */
	GW_SR_EVERSION = -6,  /* handshake: a version other than 1 */
	GW_SR_EARG = -7,      /* encoder argument not UTF-8 / out of range */
};

/* Message types of the hub protocol. */
enum gw_sr_type {
	GW_SR_INVOCATION = 1,
	GW_SR_STREAM_ITEM = 2,
	GW_SR_COMPLETION = 3,
	GW_SR_STREAM_INVOCATION = 4,
	GW_SR_CANCEL_INVOCATION = 5,
	GW_SR_PING = 6,
	GW_SR_CLOSE = 7,
};

/* Reassembles records from a byte stream. */
struct gw_sr_reader {
	struct gw_buf buf;
	size_t max;     /* largest record, separator excluded */
	size_t tail;    /* bytes after the last separator in buf */
	size_t scan;    /* bytes from the head known to hold no separator */
	size_t consume; /* the record last returned, consumed next call */
	int err;        /* sticky once a record was too big */
};

/* One parsed message. root is owned (gw_sr_msg_clear frees it); every
 * other pointer borrows from it. */
struct gw_sr_msg {
	enum gw_sr_type type;
	json_t *root;
	const char *invocation_id; /* NULL when absent (non-blocking) */
	const char *target;        /* Invocation, StreamInvocation */
	json_t *arguments;         /* Invocation, StreamInvocation: array */
	json_t *stream_ids;        /* NULL, or a non-empty array of strings */
	json_t *result;            /* Completion result, StreamItem item */
	const char *error;         /* Completion and Close: NULL if none */
	bool allow_reconnect;      /* Close */
};

/* A short English description of an error above (never NULL). */
const char *gw_sr_strerror(int err);

/* Starts a reader whose records may hold at most max bytes (0: the
 * default GW_SR_RECORD_MAX). */
void gw_sr_reader_init(struct gw_sr_reader *r, size_t max);
/* Gives the reader's memory back; it can be initialised again. */
void gw_sr_reader_free(struct gw_sr_reader *r);
/* Appends received bytes (one WebSocket text message); the caller then
 * calls gw_sr_reader_next until it returns 0, so the buffer only ever
 * holds one incomplete record beyond the current one. Returns 0, or
 * ETOOBIG when a record without its separator already exceeds the bound
 * (the reader then stays in error). Pointers from gw_sr_reader_next are
 * invalid afterwards. */
int gw_sr_reader_feed(struct gw_sr_reader *r, const void *data, size_t len);
/* The next complete record: 1 with *rec, *len set (separator excluded;
 * valid until the next call on r), 0 when none is complete yet, or
 * ETOOBIG. An empty record ("\x1e\x1e") is returned as one of length 0. */
int gw_sr_reader_next(struct gw_sr_reader *r, const char **rec, size_t *len);

/* Checks the handshake request record {"protocol":"json","version":1}.
 * Returns 0, or EJSON / EFIELD / EPROTOCOL / EVERSION with why[] set to
 * the error message for the handshake response. */
int gw_sr_handshake_parse(const char *rec, size_t len,
			  char why[GW_SR_WHY_MAX]);
/* Appends the handshake response record: {} when error is NULL, else
 * {"error":error}. Returns 0 or EARG. */
int gw_sr_handshake_response(struct gw_buf *b, const char *error);

/* Parses one message record (separator excluded) into *m. m's previous
 * contents are overwritten, not freed; the caller calls gw_sr_msg_clear
 * afterwards, whatever the result. Returns 0 or EJSON, ETYPE (Ack,
 * Sequence: stateful reconnect is never offered), EFIELD (such as a
 * Completion with both result and error). Unknown fields are ignored. */
int gw_sr_parse(const char *rec, size_t len, struct gw_sr_msg *m);
/* Frees m's JSON and resets its fields. */
void gw_sr_msg_clear(struct gw_sr_msg *m);

/* Appends a non-blocking Invocation record (a server event)
 * {"type":1,"target":target,"arguments":args}; args is an array, only
 * read (NULL: []). Returns 0 or EARG. */
int gw_sr_encode_invocation(struct gw_buf *b, const char *target,
			    json_t *args);
/* Appends a Completion record for invocation_id: with "error" when error
 * is not NULL, else with "result" when result is not NULL (only read),
 * else bare. Returns 0 or EARG. */
int gw_sr_encode_completion(struct gw_buf *b, const char *invocation_id,
			    json_t *result, const char *error);
/* Appends the Completion error ASP.NET sends for an unknown method:
 * "Failed to invoke '<target>' due to an error on the server.
 * HubException: Method does not exist." Returns 0 or EARG. */
int gw_sr_encode_no_method(struct gw_buf *b, const char *invocation_id,
			   const char *target);
/* Appends the Ping record {"type":6}. */
void gw_sr_encode_ping(struct gw_buf *b);
/* Appends a Close record: {"type":7}, with "error" when not NULL and
 * "allowReconnect":true when asked. Returns 0 or EARG. */
int gw_sr_encode_close(struct gw_buf *b, const char *error,
		       bool allow_reconnect);

/* The negotiateVersion query value (NULL: absent, version 0) as the
 * version to answer with: 0, or 1 for any value >= 1. Returns 0 with
 * *version set, or EARG for a value that is not a decimal number. */
int gw_sr_negotiate_version(const char *value, int *version);
/* Appends the negotiate response body (JSON, no separator). Version >= 1:
 * {"connectionId","connectionToken","negotiateVersion":1,
 * "availableTransports":[{"transport":"WebSockets","transferFormats":
 * ["Text"]}]}; version 0: the same without connectionToken (the client
 * then uses connectionId as the token) and "negotiateVersion":0.
 * Returns 0 or EARG. */
int gw_sr_negotiate_response(struct gw_buf *b, int version,
			     const char *connection_id,
			     const char *connection_token);

/* True when a hub method target names name, ASCII case-insensitively (the
 * seed's clients call "registerUser" as well as "RegisterUser"). */
bool gw_sr_target_is(const char *target, const char *name);

#endif
