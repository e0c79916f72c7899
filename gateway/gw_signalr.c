/*
 * SignalR JSON hub protocol v1 codec. Why a module of its own, with no
 * I/O: @microsoft/signalr frames records freely (several per WebSocket
 * message, one split over several), so reassembly, the handshake and the
 * message shapes are where a drop-in goes wrong first; kept pure, they are
 * unit tested with the spec's own examples and fuzzed alone.
 *
 * Parsing follows HubProtocol.md, lenient where ASP.NET is (unknown fields
 * are ignored) and strict where it protects the server: bounded records,
 * ids and targets, duplicate keys rejected by jansson, a Completion with
 * both result and error refused, and the stateful-reconnect messages (Ack,
 * Sequence) refused since negotiate never offers that mode.
 */
#include "gw_signalr.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char sep = GW_SR_SEP;

const char *
gw_sr_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case GW_SR_ETOOBIG:
		return "message too large";
	case GW_SR_EJSON:
		return "message is not a JSON object";
	case GW_SR_ETYPE:
		return "unknown message type";
	case GW_SR_EFIELD:
		return "invalid message field";
	case GW_SR_EPROTOCOL:
		return "protocol not available";
	case GW_SR_EVERSION:
		return "protocol version not supported";
	case GW_SR_EARG:
		return "invalid argument";
	default:
		return "unknown error";
	}
}

/* --------------------------------------------------------------- reader */

void
gw_sr_reader_init(struct gw_sr_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max ? max : GW_SR_RECORD_MAX;
}

void
gw_sr_reader_free(struct gw_sr_reader *r)
{
	gw_buf_free(&r->buf);
	r->tail = r->scan = r->consume = 0;
}

/* Drops the record gw_sr_reader_next returned last. */
static void
reader_settle(struct gw_sr_reader *r)
{
	if (r->consume > 0) {
		gw_buf_consume(&r->buf, r->consume);
		r->consume = 0;
		r->scan = 0;
	}
}

int
gw_sr_reader_feed(struct gw_sr_reader *r, const void *data, size_t len)
{
	const char *d = data;
	size_t i = len;

	if (r->err != 0)
		return r->err;
	reader_settle(r);
	while (i > 0 && d[i - 1] != GW_SR_SEP)
		i--;
	/* i: just past the last separator in data, 0 when none */
	r->tail = i > 0 ? len - i : r->tail + len;
	if (r->tail > r->max) {
		r->err = GW_SR_ETOOBIG;
		return r->err;
	}
	if (len > 0)
		gw_buf_append(&r->buf, data, len);
	return 0;
}

int
gw_sr_reader_next(struct gw_sr_reader *r, const char **rec, size_t *len)
{
	const char *head, *s;
	size_t pending;

	if (r->err != 0)
		return r->err;
	reader_settle(r);
	pending = gw_buf_pending(&r->buf);
	if (pending == 0)
		return 0;
	head = gw_buf_head(&r->buf);
	s = memchr(head + r->scan, GW_SR_SEP, pending - r->scan);
	if (s == NULL) {
		r->scan = pending;
		return 0;
	}
	if ((size_t) (s - head) > r->max) {
		r->err = GW_SR_ETOOBIG;
		return r->err;
	}
	*rec = head;
	*len = (size_t) (s - head);
	r->consume = *len + 1;
	return 1;
}

/* ------------------------------------------------------------- encoding */

static int
dump_cb(const char *buf, size_t size, void *data)
{
	gw_buf_append(data, buf, size);
	return 0;
}

/* Appends j as one record (compact JSON and the separator) and drops the
 * caller's reference. Returns 0, or EARG when j is NULL or jansson
 * refuses it (b is then left as it was). */
static int
record(struct gw_buf *b, json_t *j)
{
	size_t mark = b->len;
	int rc = 0;

	if (j == NULL)
		return GW_SR_EARG;
	if (json_dump_callback(j, dump_cb, b, JSON_COMPACT) != 0) {
		b->len = mark;
		rc = GW_SR_EARG;
	} else {
		gw_buf_append(b, &sep, 1);
	}
	json_decref(j);
	return rc;
}

/* Sets key to a new string from s; false when s is not UTF-8. */
static bool
set_str(json_t *o, const char *key, const char *s)
{
	json_t *v = json_string(s);

	if (v == NULL)
		return false;
	json_object_set_new(o, key, v);
	return true;
}

int
gw_sr_handshake_response(struct gw_buf *b, const char *error)
{
	json_t *o = json_object();

	if (error != NULL && !set_str(o, "error", error)) {
		json_decref(o);
		return GW_SR_EARG;
	}
	return record(b, o);
}

int
gw_sr_encode_invocation(struct gw_buf *b, const char *target, json_t *args)
{
	json_t *o;

	if (target == NULL || target[0] == '\0' ||
	    (args != NULL && !json_is_array(args)))
		return GW_SR_EARG;
	o = json_object();
	json_object_set_new(o, "type", json_integer(GW_SR_INVOCATION));
	if (!set_str(o, "target", target)) {
		json_decref(o);
		return GW_SR_EARG;
	}
	json_object_set_new(o, "arguments",
			    args ? json_incref(args) : json_array());
	return record(b, o);
}

int
gw_sr_encode_completion(struct gw_buf *b, const char *invocation_id,
			json_t *result, const char *error)
{
	json_t *o;

	if (invocation_id == NULL || invocation_id[0] == '\0')
		return GW_SR_EARG;
	o = json_object();
	json_object_set_new(o, "type", json_integer(GW_SR_COMPLETION));
	if (!set_str(o, "invocationId", invocation_id) ||
	    (error != NULL && !set_str(o, "error", error))) {
		json_decref(o);
		return GW_SR_EARG;
	}
	if (error == NULL && result != NULL)
		json_object_set(o, "result", result);
	return record(b, o);
}

int
gw_sr_encode_no_method(struct gw_buf *b, const char *invocation_id,
		       const char *target)
{
	char msg[GW_SR_TARGET_MAX + 128];

	if (target == NULL || strlen(target) > GW_SR_TARGET_MAX)
		return GW_SR_EARG;
	snprintf(msg, sizeof(msg),
		 "Failed to invoke '%s' due to an error on the server. "
		 "HubException: Method does not exist.",
		 target);
	return gw_sr_encode_completion(b, invocation_id, NULL, msg);
}

void
gw_sr_encode_ping(struct gw_buf *b)
{
	static const char ping[] = "{\"type\":6}\x1e";

	gw_buf_append(b, ping, sizeof(ping) - 1);
}

int
gw_sr_encode_close(struct gw_buf *b, const char *error, bool allow_reconnect)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_integer(GW_SR_CLOSE));
	if (error != NULL && !set_str(o, "error", error)) {
		json_decref(o);
		return GW_SR_EARG;
	}
	if (allow_reconnect)
		json_object_set_new(o, "allowReconnect", json_true());
	return record(b, o);
}

int
gw_sr_negotiate_version(const char *value, int *version)
{
	const char *p;
	bool nonzero = false;

	if (value == NULL) {
		*version = 0;
		return 0;
	}
	if (value[0] == '\0')
		return GW_SR_EARG;
	for (p = value; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return GW_SR_EARG;
		if (*p != '0')
			nonzero = true;
	}
	/* the server answers with the highest version it has, 1 */
	*version = nonzero ? 1 : 0;
	return 0;
}

int
gw_sr_negotiate_response(struct gw_buf *b, int version,
			 const char *connection_id,
			 const char *connection_token)
{
	json_t *o, *t, *fmts;
	size_t mark = b->len;
	int rc = 0;

	if (version < 0 || connection_id == NULL || connection_id[0] == '\0' ||
	    (version > 0 &&
	     (connection_token == NULL || connection_token[0] == '\0')))
		return GW_SR_EARG;
	o = json_object();
	if (!set_str(o, "connectionId", connection_id) ||
	    (version > 0 &&
	     !set_str(o, "connectionToken", connection_token))) {
		json_decref(o);
		return GW_SR_EARG;
	}
	json_object_set_new(o, "negotiateVersion",
			    json_integer(version > 0 ? 1 : 0));
	t = json_object();
	json_object_set_new(t, "transport", json_string("WebSockets"));
	fmts = json_array();
	json_array_append_new(fmts, json_string("Text"));
	json_object_set_new(t, "transferFormats", fmts);
	json_object_set_new(o, "availableTransports", json_array());
	json_array_append_new(json_object_get(o, "availableTransports"), t);
	if (json_dump_callback(o, dump_cb, b, JSON_COMPACT) != 0) {
		b->len = mark;
		rc = GW_SR_EARG;
	}
	json_decref(o);
	return rc;
}

/* -------------------------------------------------------------- parsing */

static json_t *
load_object(const char *rec, size_t len)
{
	json_error_t err;
	json_t *j = json_loadb(rec, len, JSON_REJECT_DUPLICATES, &err);

	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* A protocol name safe to quote in an error: short printable ASCII. */
static bool
quotable(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= 32 || s[i] < 0x20 || s[i] > 0x7e || s[i] == '\'')
			return false;
	return true;
}

int
gw_sr_handshake_parse(const char *rec, size_t len, char why[GW_SR_WHY_MAX])
{
	json_t *o = load_object(rec, len);
	json_t *proto, *ver;
	int rc = 0;

	if (o == NULL) {
		snprintf(why, GW_SR_WHY_MAX, "Invalid handshake request.");
		return GW_SR_EJSON;
	}
	proto = json_object_get(o, "protocol");
	ver = json_object_get(o, "version");
	if (!json_is_string(proto) || !json_is_integer(ver)) {
		snprintf(why, GW_SR_WHY_MAX, "Invalid handshake request.");
		rc = GW_SR_EFIELD;
	} else if (strcmp(json_string_value(proto), "json") != 0) {
		if (quotable(json_string_value(proto)))
			snprintf(why, GW_SR_WHY_MAX,
				 "Requested protocol '%s' is not available.",
				 json_string_value(proto));
		else
			snprintf(why, GW_SR_WHY_MAX,
				 "Requested protocol is not available.");
		rc = GW_SR_EPROTOCOL;
	} else if (json_integer_value(ver) != 1) {
		snprintf(why, GW_SR_WHY_MAX,
			 "The server does not support version %lld of the "
			 "'json' protocol.",
			 (long long) json_integer_value(ver));
		rc = GW_SR_EVERSION;
	} else {
		why[0] = '\0';
	}
	json_decref(o);
	return rc;
}

void
gw_sr_msg_clear(struct gw_sr_msg *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

/* An optional string member of at most max bytes (0 when absent). */
static int
opt_str(json_t *o, const char *key, size_t max, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max)
		return GW_SR_EFIELD;
	*out = json_string_value(v);
	return 0;
}

/* target, arguments and streamIds of an Invocation / StreamInvocation. */
static int
parse_call(struct gw_sr_msg *m)
{
	json_t *v;
	size_t i;

	if (opt_str(m->root, "target", GW_SR_TARGET_MAX, &m->target) != 0 ||
	    m->target == NULL || m->target[0] == '\0')
		return GW_SR_EFIELD;
	m->arguments = json_object_get(m->root, "arguments");
	if (!json_is_array(m->arguments))
		return GW_SR_EFIELD;
	v = json_object_get(m->root, "streamIds");
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return GW_SR_EFIELD;
	for (i = 0; i < json_array_size(v); i++)
		if (!json_is_string(json_array_get(v, i)))
			return GW_SR_EFIELD;
	if (json_array_size(v) > 0)
		m->stream_ids = v;
	return 0;
}

int
gw_sr_parse(const char *rec, size_t len, struct gw_sr_msg *m)
{
	json_t *v;

	memset(m, 0, sizeof(*m));
	m->root = load_object(rec, len);
	if (m->root == NULL)
		return GW_SR_EJSON;
	v = json_object_get(m->root, "type");
	if (!json_is_integer(v))
		return GW_SR_EFIELD;
	if (json_integer_value(v) < GW_SR_INVOCATION ||
	    json_integer_value(v) > GW_SR_CLOSE)
		return GW_SR_ETYPE;
	m->type = (enum gw_sr_type) json_integer_value(v);
	v = json_object_get(m->root, "headers");
	if (v != NULL && !json_is_object(v))
		return GW_SR_EFIELD;

	switch (m->type) {
	case GW_SR_PING:
		return 0;
	case GW_SR_CLOSE:
		if (opt_str(m->root, "error", SIZE_MAX, &m->error) != 0)
			return GW_SR_EFIELD;
		v = json_object_get(m->root, "allowReconnect");
		if (v != NULL && !json_is_boolean(v))
			return GW_SR_EFIELD;
		m->allow_reconnect = json_is_true(v);
		return 0;
	default:
		break;
	}

	/* the invocation messages: an id, required but for Invocation */
	if (opt_str(m->root, "invocationId", GW_SR_ID_MAX,
		    &m->invocation_id) != 0)
		return GW_SR_EFIELD;
	if (m->invocation_id != NULL && m->invocation_id[0] == '\0')
		return GW_SR_EFIELD;
	if (m->invocation_id == NULL && m->type != GW_SR_INVOCATION)
		return GW_SR_EFIELD;
	switch (m->type) {
	case GW_SR_INVOCATION:
	case GW_SR_STREAM_INVOCATION:
		return parse_call(m);
	case GW_SR_STREAM_ITEM:
		m->result = json_object_get(m->root, "item");
		return m->result != NULL ? 0 : GW_SR_EFIELD;
	case GW_SR_COMPLETION:
		if (opt_str(m->root, "error", SIZE_MAX, &m->error) != 0)
			return GW_SR_EFIELD;
		m->result = json_object_get(m->root, "result");
		return m->error != NULL && m->result != NULL ? GW_SR_EFIELD
							     : 0;
	default: /* CancelInvocation */
		return 0;
	}
}

bool
gw_sr_target_is(const char *target, const char *name)
{
	size_t i;

	if (target == NULL || name == NULL)
		return false;
	for (i = 0;; i++) {
		unsigned char a = (unsigned char) target[i];
		unsigned char c = (unsigned char) name[i];

		if (a >= 'A' && a <= 'Z')
			a = (unsigned char) (a - 'A' + 'a');
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char) (c - 'A' + 'a');
		if (a != c)
			return false;
		if (a == '\0')
			return true;
	}
}
