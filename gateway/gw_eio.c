/*
 * Engine.IO 4 / Socket.IO 5 codec. Why a module of its own, with no I/O:
 * the Socket.IO drop-in reads these packets from HTTP bodies (polling) and
 * from WebSocket frames, and both paths must agree byte for byte with
 * socket.io-client; keeping the codec pure lets it be unit tested against
 * the protocols' own examples and fuzzed without a server around it.
 *
 * The grammar is that of the reference parsers (engine.io-parser and
 * socket.io-parser), but stricter where the server gains nothing from
 * leniency: every length is bounded, ack ids stop at 2^53-1, an ack id is
 * only taken where it means something (EVENT, ACK), binary packets are
 * refused outright (COMPAT.md §1), and JSON goes through jansson with
 * duplicate keys rejected.
 */
#include "gw_eio.h"

#include <stdio.h>
#include <string.h>

#include "prs_util.h"

const char *
gw_eio_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case GW_EIO_EEMPTY:
		return "empty packet";
	case GW_EIO_ETYPE:
		return "unknown packet type";
	case GW_EIO_EBINARY:
		return "binary packets are not supported";
	case GW_EIO_ETOOBIG:
		return "packet too large";
	case GW_EIO_ETOOMANY:
		return "too many packets";
	case GW_EIO_ENSP:
		return "invalid namespace";
	case GW_EIO_EID:
		return "invalid acknowledgement id";
	case GW_EIO_EJSON:
		return "invalid JSON payload";
	case GW_EIO_EPAYLOAD:
		return "invalid payload";
	case GW_EIO_ESEP:
		return "packet holds a record separator";
	case GW_EIO_EARG:
		return "invalid argument";
	default:
		return "unknown error";
	}
}

/* ------------------------------------------------------------ Engine.IO */

int
gw_eio_parse(const char *data, size_t len, struct gw_eio_packet *pkt)
{
	if (len == 0)
		return GW_EIO_EEMPTY;
	if (len > GW_EIO_PAYLOAD_MAX)
		return GW_EIO_ETOOBIG;
	if (data[0] == 'b')
		return GW_EIO_EBINARY;
	if (data[0] < '0' || data[0] > '6')
		return GW_EIO_ETYPE;
	pkt->type = (enum gw_eio_type)(data[0] - '0');
	pkt->data = data + 1;
	pkt->len = len - 1;
	return 0;
}

void
gw_eio_iter_init(struct gw_eio_iter *it, const char *buf, size_t len)
{
	it->p = buf;
	it->end = buf + len;
	it->len = len;
	it->started = false;
	it->done = false;
	it->err = 0;
}

int
gw_eio_iter_next(struct gw_eio_iter *it, struct gw_eio_packet *pkt)
{
	const char *sep;
	size_t n;
	int rc;

	if (it->err != 0)
		return it->err;
	if (it->done)
		return 0;
	if (!it->started) {
		it->started = true;
		if (it->len > GW_EIO_PAYLOAD_MAX) {
			it->err = GW_EIO_ETOOBIG;
			return it->err;
		}
	}
	n = (size_t) (it->end - it->p);
	sep = n > 0 ? memchr(it->p, GW_EIO_SEP, n) : NULL;
	if (sep != NULL)
		n = (size_t) (sep - it->p);
	rc = gw_eio_parse(it->p, n, pkt);
	if (rc != 0) {
		it->err = rc;
		return rc;
	}
	if (sep != NULL) {
		/* "4a\x1e" ends with an empty packet: an error next time */
		it->p = sep + 1;
	} else {
		it->p = it->end;
		it->done = true;
	}
	return 1;
}

int
gw_eio_payload_parse(const char *buf, size_t len, struct gw_eio_packet *pkts,
		     size_t max, size_t *n)
{
	struct gw_eio_iter it;
	struct gw_eio_packet pkt;
	int rc;

	*n = 0;
	gw_eio_iter_init(&it, buf, len);
	while ((rc = gw_eio_iter_next(&it, &pkt)) == 1) {
		if (*n == max)
			return GW_EIO_ETOOMANY;
		pkts[(*n)++] = pkt;
	}
	return rc;
}

bool
gw_eio_is_probe(const struct gw_eio_packet *pkt)
{
	return pkt->type == GW_EIO_PING && pkt->len == 5 &&
	       memcmp(pkt->data, "probe", 5) == 0;
}

int
gw_eio_encode(struct gw_buf *b, enum gw_eio_type type, const void *data,
	      size_t len)
{
	char t;

	if ((int) type < GW_EIO_OPEN || (int) type > GW_EIO_NOOP)
		return GW_EIO_EARG;
	t = (char) ('0' + (int) type);
	gw_buf_append(b, &t, 1);
	if (len > 0)
		gw_buf_append(b, data, len);
	return 0;
}

int
gw_eio_payload_add(struct gw_buf *b, const void *pkt, size_t len)
{
	char sep = GW_EIO_SEP;

	if (len == 0)
		return GW_EIO_EEMPTY;
	if (memchr(pkt, GW_EIO_SEP, len) != NULL)
		return GW_EIO_ESEP;
	if (gw_buf_pending(b) > 0)
		gw_buf_append(b, &sep, 1);
	gw_buf_append(b, pkt, len);
	return 0;
}

int
gw_eio_payload_encode(struct gw_buf *b, const struct gw_eio_packet *pkts,
		      size_t n)
{
	char sep = GW_EIO_SEP;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((int) pkts[i].type < GW_EIO_OPEN ||
		    (int) pkts[i].type > GW_EIO_NOOP)
			return GW_EIO_EARG;
		if (pkts[i].len > 0 &&
		    memchr(pkts[i].data, GW_EIO_SEP, pkts[i].len) != NULL)
			return GW_EIO_ESEP;
	}
	for (i = 0; i < n; i++) {
		if (i > 0)
			gw_buf_append(b, &sep, 1);
		gw_eio_encode(b, pkts[i].type, pkts[i].data, pkts[i].len);
	}
	return 0;
}

static int
dump_cb(const char *buf, size_t size, void *data)
{
	gw_buf_append(data, buf, size);
	return 0;
}

/* Appends the compact JSON of j; -1 when jansson refuses it. */
static int
dump(json_t *j, struct gw_buf *b)
{
	return json_dump_callback(j, dump_cb, b,
				  JSON_COMPACT | JSON_ENCODE_ANY);
}

int
gw_eio_open_encode(struct gw_buf *b, const struct gw_eio_open *o)
{
	json_t *obj, *sid, *up;
	size_t mark = b->len;
	int rc = 0;

	if (o->sid == NULL || o->sid[0] == '\0' || o->ping_interval_ms < 0 ||
	    o->ping_timeout_ms < 0 || o->max_payload < 0)
		return GW_EIO_EARG;
	sid = json_string(o->sid);
	if (sid == NULL)
		return GW_EIO_EARG;
	obj = json_object();
	up = json_array();
	if (o->upgrade_websocket)
		json_array_append_new(up, json_string("websocket"));
	json_object_set_new(obj, "sid", sid);
	json_object_set_new(obj, "upgrades", up);
	json_object_set_new(obj, "pingInterval",
			    json_integer(o->ping_interval_ms));
	json_object_set_new(obj, "pingTimeout",
			    json_integer(o->ping_timeout_ms));
	json_object_set_new(obj, "maxPayload", json_integer(o->max_payload));
	gw_eio_encode(b, GW_EIO_OPEN, NULL, 0);
	if (dump(obj, b) != 0) {
		b->len = mark;
		rc = GW_EIO_EARG;
	}
	json_decref(obj);
	return rc;
}

/* ------------------------------------------------------------ Socket.IO */

/* Event names socket.io reserves for itself: a client may not emit them. */
static const char *const reserved_events[] = {
	"connect",       "connect_error", "disconnect",
	"disconnecting", "newListener",   "removeListener",
};

/* A namespace: "/" then bytes that are UTF-8 without controls or ','. */
static bool
nsp_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > GW_SIO_NSP_MAX || s[0] != '/')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];
		if (c < 0x20 || c == 0x7f || c == ',')
			return false;
	}
	return prs_utf8_valid(s, n);
}

void
gw_sio_clear(struct gw_sio_packet *p)
{
	json_decref(p->data);
	p->type = GW_SIO_CONNECT;
	p->nsp[0] = '/';
	p->nsp[1] = '\0';
	p->id = -1;
	p->data = NULL;
	p->event = NULL;
}

static int
sio_check(struct gw_sio_packet *p)
{
	json_t *d = p->data;
	json_t *name;
	size_t i;

	switch (p->type) {
	case GW_SIO_CONNECT:
		if (p->id >= 0)
			return GW_EIO_EID;
		return d == NULL || json_is_object(d) ? 0 : GW_EIO_EPAYLOAD;
	case GW_SIO_DISCONNECT:
		if (p->id >= 0)
			return GW_EIO_EID;
		return d == NULL ? 0 : GW_EIO_EPAYLOAD;
	case GW_SIO_EVENT:
		if (!json_is_array(d) || json_array_size(d) == 0)
			return GW_EIO_EPAYLOAD;
		name = json_array_get(d, 0);
		if (!json_is_string(name))
			return GW_EIO_EPAYLOAD;
		for (i = 0; i < PRS_ARRAY_LEN(reserved_events); i++)
			if (strcmp(json_string_value(name),
				   reserved_events[i]) == 0)
				return GW_EIO_EPAYLOAD;
		p->event = json_string_value(name);
		return 0;
	case GW_SIO_ACK:
		if (p->id < 0)
			return GW_EIO_EID;
		return json_is_array(d) ? 0 : GW_EIO_EPAYLOAD;
	case GW_SIO_CONNECT_ERROR:
		if (p->id >= 0)
			return GW_EIO_EID;
		return json_is_object(d) || json_is_string(d)
			       ? 0
			       : GW_EIO_EPAYLOAD;
	default:
		return GW_EIO_ETYPE;
	}
}

int
gw_sio_parse(const char *data, size_t len, struct gw_sio_packet *p)
{
	size_t i = 1;

	p->data = NULL;
	gw_sio_clear(p);
	if (len == 0)
		return GW_EIO_EEMPTY;
	if (len > GW_EIO_PAYLOAD_MAX)
		return GW_EIO_ETOOBIG;
	if (data[0] == '5' || data[0] == '6')
		return GW_EIO_EBINARY;
	if (data[0] < '0' || data[0] > '4')
		return GW_EIO_ETYPE;
	p->type = (enum gw_sio_type)(data[0] - '0');

	/* "/ns," (the comma may be missing when nothing follows) */
	if (i < len && data[i] == '/') {
		const char *comma = memchr(data + i, ',', len - i);
		size_t end = comma ? (size_t) (comma - data) : len;

		if (!nsp_valid(data + i, end - i))
			return GW_EIO_ENSP;
		memcpy(p->nsp, data + i, end - i);
		p->nsp[end - i] = '\0';
		i = comma ? end + 1 : len;
	}

	/* ack id: decimal digits, bounded before they can overflow */
	if (i < len && data[i] >= '0' && data[i] <= '9') {
		int64_t id = 0;

		while (i < len && data[i] >= '0' && data[i] <= '9') {
			id = id * 10 + (data[i] - '0');
			if (id > GW_SIO_ID_MAX)
				return GW_EIO_EID;
			i++;
		}
		p->id = id;
	}

	if (i < len) {
		json_error_t err;

		p->data = json_loadb(data + i, len - i,
				     JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
				     &err);
		if (p->data == NULL)
			return GW_EIO_EJSON;
	}
	return sio_check(p);
}

int
gw_sio_encode(struct gw_buf *b, const struct gw_sio_packet *p)
{
	size_t nlen = strnlen(p->nsp, sizeof(p->nsp));
	size_t mark = b->len;
	char head[2];

	if ((int) p->type == GW_SIO_BINARY_EVENT ||
	    (int) p->type == GW_SIO_BINARY_ACK)
		return GW_EIO_EBINARY;
	if ((int) p->type < GW_SIO_CONNECT ||
	    (int) p->type > GW_SIO_CONNECT_ERROR || p->id > GW_SIO_ID_MAX)
		return GW_EIO_EARG;
	if (nlen == sizeof(p->nsp) || (nlen > 0 && !nsp_valid(p->nsp, nlen)))
		return GW_EIO_EARG;
	head[0] = '0' + GW_EIO_MESSAGE;
	head[1] = (char) ('0' + (int) p->type);
	gw_buf_append(b, head, 2);
	if (nlen > 0 && strcmp(p->nsp, "/") != 0) {
		gw_buf_append(b, p->nsp, nlen);
		gw_buf_append(b, ",", 1);
	}
	if (p->id >= 0)
		gw_buf_printf(b, "%lld", (long long) p->id);
	if (p->data != NULL && dump(p->data, b) != 0) {
		b->len = mark;
		return GW_EIO_EARG;
	}
	return 0;
}

/* Fills a packet on nsp (NULL: "/") whose data the caller owns. */
static int
sio_init(struct gw_sio_packet *p, enum gw_sio_type type, const char *nsp,
	 int64_t id, json_t *data)
{
	size_t n;

	if (nsp == NULL)
		nsp = "/";
	n = strlen(nsp);
	if (!nsp_valid(nsp, n))
		return GW_EIO_EARG;
	p->type = type;
	memcpy(p->nsp, nsp, n + 1);
	p->id = id;
	p->data = data;
	p->event = NULL;
	return 0;
}

/* Encodes {key: value} on nsp; value must be a string. */
static int
sio_encode_obj(struct gw_buf *b, enum gw_sio_type type, const char *nsp,
	       const char *key, const char *value)
{
	struct gw_sio_packet p;
	json_t *v = value ? json_string(value) : NULL;
	json_t *o;
	int rc;

	if (v == NULL)
		return GW_EIO_EARG;
	o = json_object();
	json_object_set_new(o, key, v);
	rc = sio_init(&p, type, nsp, -1, o);
	if (rc == 0)
		rc = gw_sio_encode(b, &p);
	json_decref(o);
	return rc;
}

int
gw_sio_encode_connect(struct gw_buf *b, const char *nsp, const char *sid)
{
	if (sid == NULL || sid[0] == '\0')
		return GW_EIO_EARG;
	return sio_encode_obj(b, GW_SIO_CONNECT, nsp, "sid", sid);
}

int
gw_sio_encode_connect_error(struct gw_buf *b, const char *nsp,
			    const char *message)
{
	return sio_encode_obj(b, GW_SIO_CONNECT_ERROR, nsp, "message",
			      message);
}

int
gw_sio_encode_event(struct gw_buf *b, const char *name, json_t *arg)
{
	struct gw_sio_packet p;
	json_t *n = name ? json_string(name) : NULL;
	json_t *a;
	int rc;

	if (n == NULL)
		return GW_EIO_EARG;
	a = json_array();
	json_array_append_new(a, n);
	if (arg != NULL)
		json_array_append(a, arg);
	rc = sio_init(&p, GW_SIO_EVENT, "/", -1, a);
	if (rc == 0)
		rc = gw_sio_encode(b, &p);
	json_decref(a);
	return rc;
}

int
gw_sio_encode_ack(struct gw_buf *b, const char *nsp, int64_t id, json_t *args)
{
	struct gw_sio_packet p;
	json_t *a = args ? json_incref(args) : json_array();
	int rc = GW_EIO_EARG;

	if (id >= 0 && json_is_array(a) &&
	    (rc = sio_init(&p, GW_SIO_ACK, nsp, id, a)) == 0)
		rc = gw_sio_encode(b, &p);
	json_decref(a);
	return rc;
}
