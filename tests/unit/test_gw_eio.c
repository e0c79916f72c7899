/*
 * Unit tests for gateway/gw_eio.c: Engine.IO 4 packets and polling
 * payloads, and the Socket.IO 5 packets inside message packets. The byte
 * strings are those of the protocols' specifications and test suites
 * (engine.io-protocol, socket.io-protocol) and what socket.io-client 4.8
 * sends for seed 001 (COMPAT.md §1 and its appendix).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_eio.h"

#define S(lit) lit, sizeof(lit) - 1

/* The contents of b as a NUL-terminated string (the caller frees). */
static char *
str(struct gw_buf *b)
{
	size_t n = gw_buf_pending(b);
	char *s = malloc(n + 1);

	memcpy(s, gw_buf_head(b), n);
	s[n] = '\0';
	return s;
}

static void
assert_buf(struct gw_buf *b, const char *want)
{
	char *s = str(b);

	assert_string_equal(s, want);
	free(s);
	gw_buf_reset(b);
}

static void
assert_pkt(const struct gw_eio_packet *p, enum gw_eio_type type,
	   const char *data)
{
	assert_int_equal(p->type, type);
	assert_int_equal(p->len, strlen(data));
	assert_memory_equal(p->data, data, p->len);
}

/* ------------------------------------------------------------ Engine.IO */

static void
test_eio_packet(void **state)
{
	struct gw_eio_packet p;

	(void) state;
	assert_int_equal(gw_eio_parse(S("2probe"), &p), 0);
	assert_pkt(&p, GW_EIO_PING, "probe");
	assert_true(gw_eio_is_probe(&p));
	assert_int_equal(gw_eio_parse(S("2"), &p), 0);
	assert_pkt(&p, GW_EIO_PING, "");
	assert_false(gw_eio_is_probe(&p));
	assert_int_equal(gw_eio_parse(S("3probe"), &p), 0);
	assert_false(gw_eio_is_probe(&p)); /* a pong, not a ping */
	assert_int_equal(gw_eio_parse(S("3"), &p), 0);
	assert_pkt(&p, GW_EIO_PONG, "");
	assert_int_equal(gw_eio_parse(S("5"), &p), 0);
	assert_pkt(&p, GW_EIO_UPGRADE, "");
	assert_int_equal(gw_eio_parse(S("6"), &p), 0);
	assert_pkt(&p, GW_EIO_NOOP, "");
	assert_int_equal(gw_eio_parse(S("1"), &p), 0);
	assert_pkt(&p, GW_EIO_CLOSE, "");
	assert_int_equal(gw_eio_parse(S("4hello"), &p), 0);
	assert_pkt(&p, GW_EIO_MESSAGE, "hello");
	assert_int_equal(gw_eio_parse(S("0{}"), &p), 0);
	assert_pkt(&p, GW_EIO_OPEN, "{}");

	assert_int_equal(gw_eio_parse(S(""), &p), GW_EIO_EEMPTY);
	assert_int_equal(gw_eio_parse(S("bAQIDBA=="), &p), GW_EIO_EBINARY);
	assert_int_equal(gw_eio_parse(S("7"), &p), GW_EIO_ETYPE);
	assert_int_equal(gw_eio_parse(S("x"), &p), GW_EIO_ETYPE);
	assert_int_equal(gw_eio_parse(S("/4"), &p), GW_EIO_ETYPE);
	assert_int_equal(gw_eio_parse(S("\x1e"), &p), GW_EIO_ETYPE);
	assert_int_equal(gw_eio_parse("4", GW_EIO_PAYLOAD_MAX + 1, &p),
			 GW_EIO_ETOOBIG);
}

static void
test_eio_payload(void **state)
{
	struct gw_eio_packet p[4];
	size_t n;

	(void) state;
	/* the spec's example */
	assert_int_equal(gw_eio_payload_parse(S("4hello\x1e"
						"2\x1e"
						"4world"),
					      p, 4, &n),
			 0);
	assert_int_equal(n, 3);
	assert_pkt(&p[0], GW_EIO_MESSAGE, "hello");
	assert_pkt(&p[1], GW_EIO_PING, "");
	assert_pkt(&p[2], GW_EIO_MESSAGE, "world");

	/* socket.io-client: CONNECT with auth, then two emits in one POST */
	assert_int_equal(
		gw_eio_payload_parse(
			S("40{\"token\":\"abc\"}\x1e"
			  "42[\"userOnline\",{\"userId\":1,"
			  "\"userType\":\"admin\",\"userName\":\"A\"}]"
			  "\x1e"
			  "42[\"getOnlineUsers\"]"),
			p, 4, &n),
		0);
	assert_int_equal(n, 3);
	assert_pkt(&p[0], GW_EIO_MESSAGE, "0{\"token\":\"abc\"}");
	assert_pkt(&p[2], GW_EIO_MESSAGE, "2[\"getOnlineUsers\"]");

	/* a pong alone, and the polling close */
	assert_int_equal(gw_eio_payload_parse(S("3"), p, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(gw_eio_payload_parse(S("1"), p, 4, &n), 0);
	assert_pkt(&p[0], GW_EIO_CLOSE, "");

	/* empty packets anywhere make the whole payload malformed */
	assert_int_equal(gw_eio_payload_parse(S(""), p, 4, &n), GW_EIO_EEMPTY);
	assert_int_equal(gw_eio_payload_parse(S("4a\x1e"), p, 4, &n),
			 GW_EIO_EEMPTY);
	assert_int_equal(gw_eio_payload_parse(S("\x1e"
						"4a"),
					      p, 4, &n),
			 GW_EIO_EEMPTY);
	assert_int_equal(gw_eio_payload_parse(S("4a\x1e\x1e"
						"4b"),
					      p, 4, &n),
			 GW_EIO_EEMPTY);
	assert_int_equal(gw_eio_payload_parse(S("4a\x1e"
						"bAQIDBA=="),
					      p, 4, &n),
			 GW_EIO_EBINARY);
	assert_int_equal(gw_eio_payload_parse(S("4a\x1e"
						"9"),
					      p, 4, &n),
			 GW_EIO_ETYPE);
	assert_int_equal(gw_eio_payload_parse(S("2\x1e"
						"2\x1e"
						"2"),
					      p, 2, &n),
			 GW_EIO_ETOOMANY);
	assert_int_equal(
		gw_eio_payload_parse("4", GW_EIO_PAYLOAD_MAX + 1, p, 4, &n),
		GW_EIO_ETOOBIG);
}

static void
test_eio_iter(void **state)
{
	struct gw_eio_iter it;
	struct gw_eio_packet p;

	(void) state;
	gw_eio_iter_init(&it, S("42[\"a\"]\x1e"
				"3"));
	assert_int_equal(gw_eio_iter_next(&it, &p), 1);
	assert_pkt(&p, GW_EIO_MESSAGE, "2[\"a\"]");
	assert_int_equal(gw_eio_iter_next(&it, &p), 1);
	assert_pkt(&p, GW_EIO_PONG, "");
	assert_int_equal(gw_eio_iter_next(&it, &p), 0);
	assert_int_equal(gw_eio_iter_next(&it, &p), 0);

	/* an error is sticky */
	gw_eio_iter_init(&it, S("3\x1e"
				"z\x1e"
				"3"));
	assert_int_equal(gw_eio_iter_next(&it, &p), 1);
	assert_int_equal(gw_eio_iter_next(&it, &p), GW_EIO_ETYPE);
	assert_int_equal(gw_eio_iter_next(&it, &p), GW_EIO_ETYPE);
}

static void
test_eio_encode(void **state)
{
	struct gw_buf b = {0};
	struct gw_eio_packet p[3] = {
		{GW_EIO_MESSAGE, "hello", 5},
		{GW_EIO_PING, NULL, 0},
		{GW_EIO_MESSAGE, "world", 5},
	};
	struct gw_eio_packet bad = {GW_EIO_MESSAGE,
				    "a\x1e"
				    "b",
				    3};

	(void) state;
	assert_int_equal(gw_eio_encode(&b, GW_EIO_PONG, "probe", 5), 0);
	assert_buf(&b, "3probe");
	assert_int_equal(gw_eio_encode(&b, GW_EIO_NOOP, NULL, 0), 0);
	assert_buf(&b, "6");
	assert_int_equal(gw_eio_encode(&b, (enum gw_eio_type) 7, NULL, 0),
			 GW_EIO_EARG);
	assert_int_equal(gw_buf_pending(&b), 0);

	assert_int_equal(gw_eio_payload_encode(&b, p, 3), 0);
	assert_buf(&b, "4hello\x1e"
		       "2\x1e"
		       "4world");
	assert_int_equal(gw_eio_payload_encode(&b, p, 1), 0);
	assert_buf(&b, "4hello");
	assert_int_equal(gw_eio_payload_encode(&b, &bad, 1), GW_EIO_ESEP);
	assert_int_equal(gw_buf_pending(&b), 0);

	assert_int_equal(gw_eio_payload_add(&b, S("40{\"sid\":\"x\"}")), 0);
	assert_int_equal(gw_eio_payload_add(&b, S("2")), 0);
	assert_int_equal(gw_eio_payload_add(&b, S("4a\x1e")), GW_EIO_ESEP);
	assert_int_equal(gw_eio_payload_add(&b, S("")), GW_EIO_EEMPTY);
	assert_buf(&b, "40{\"sid\":\"x\"}\x1e"
		       "2");
	gw_buf_free(&b);
}

static void
test_eio_open(void **state)
{
	struct gw_buf b = {0};
	struct gw_eio_open o = {
		.sid = "lv_VI97HAXpY6yYWAAAC",
		.upgrade_websocket = true,
		.ping_interval_ms = 25000,
		.ping_timeout_ms = 20000,
		.max_payload = GW_EIO_PAYLOAD_MAX,
	};

	(void) state;
	assert_int_equal(gw_eio_open_encode(&b, &o), 0);
	assert_buf(&b, "0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\","
		       "\"upgrades\":[\"websocket\"],\"pingInterval\":25000,"
		       "\"pingTimeout\":20000,\"maxPayload\":1000000}");
	/* a WebSocket-only session still sends an array */
	o.upgrade_websocket = false;
	assert_int_equal(gw_eio_open_encode(&b, &o), 0);
	assert_buf(&b, "0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\","
		       "\"upgrades\":[],\"pingInterval\":25000,"
		       "\"pingTimeout\":20000,\"maxPayload\":1000000}");
	o.sid = "\xff";
	assert_int_equal(gw_eio_open_encode(&b, &o), GW_EIO_EARG);
	o.sid = "";
	assert_int_equal(gw_eio_open_encode(&b, &o), GW_EIO_EARG);
	o.sid = "s";
	o.ping_timeout_ms = -1;
	assert_int_equal(gw_eio_open_encode(&b, &o), GW_EIO_EARG);
	assert_int_equal(gw_buf_pending(&b), 0);
	gw_buf_free(&b);
}

/* ------------------------------------------------------------ Socket.IO */

static int
sio(const char *s, struct gw_sio_packet *p)
{
	return gw_sio_parse(s, strlen(s), p);
}

static void
test_sio_connect(void **state)
{
	struct gw_sio_packet p;

	(void) state;
	assert_int_equal(sio("0", &p), 0);
	assert_int_equal(p.type, GW_SIO_CONNECT);
	assert_string_equal(p.nsp, "/");
	assert_int_equal(p.id, -1);
	assert_null(p.data);
	gw_sio_clear(&p);

	assert_int_equal(sio("0{\"token\":\"123\"}", &p), 0);
	assert_true(json_is_object(p.data));
	assert_string_equal(
		json_string_value(json_object_get(p.data, "token")), "123");
	gw_sio_clear(&p);

	assert_int_equal(sio("0/custom,", &p), 0);
	assert_string_equal(p.nsp, "/custom");
	assert_null(p.data);
	gw_sio_clear(&p);

	assert_int_equal(sio("0/custom,{\"token\":\"abc\"}", &p), 0);
	assert_string_equal(p.nsp, "/custom");
	assert_true(json_is_object(p.data));
	gw_sio_clear(&p);

	/* the test suite's "40/random": a namespace without its comma */
	assert_int_equal(sio("0/random", &p), 0);
	assert_string_equal(p.nsp, "/random");
	gw_sio_clear(&p);

	assert_int_equal(sio("0[]", &p), GW_EIO_EPAYLOAD);
	gw_sio_clear(&p);
	assert_int_equal(sio("0\"x\"", &p), GW_EIO_EPAYLOAD);
	gw_sio_clear(&p);
	assert_int_equal(sio("01{}", &p), GW_EIO_EID);
	gw_sio_clear(&p);
	assert_int_equal(sio("0{\"token\":\"a\",\"token\":\"b\"}", &p),
			 GW_EIO_EJSON);
	gw_sio_clear(&p);
	assert_int_equal(sio("0{\"token\":", &p), GW_EIO_EJSON);
	gw_sio_clear(&p);
	assert_int_equal(sio("0{}x", &p), GW_EIO_EJSON);
	gw_sio_clear(&p);
}

static void
test_sio_event(void **state)
{
	struct gw_sio_packet p;

	(void) state;
	assert_int_equal(sio("2[\"foo\"]", &p), 0);
	assert_int_equal(p.type, GW_SIO_EVENT);
	assert_string_equal(p.event, "foo");
	assert_int_equal(p.id, -1);
	gw_sio_clear(&p);

	assert_int_equal(sio("2/admin,[\"bar\"]", &p), 0);
	assert_string_equal(p.nsp, "/admin");
	assert_string_equal(p.event, "bar");
	gw_sio_clear(&p);

	assert_int_equal(sio("212[\"foo\"]", &p), 0);
	assert_int_equal(p.id, 12);
	gw_sio_clear(&p);

	assert_int_equal(sio("2456[\"message-with-ack\",1,\"2\","
			     "{\"3\":[false]}]",
			     &p),
			 0);
	assert_int_equal(p.id, 456);
	assert_string_equal(p.event, "message-with-ack");
	assert_int_equal(json_array_size(p.data), 4);
	gw_sio_clear(&p);

	/* seed 001's events */
	assert_int_equal(sio("2[\"userHeartbeat\",{\"userId\":\"7\"}]", &p),
			 0);
	assert_string_equal(p.event, "userHeartbeat");
	assert_true(json_is_object(json_array_get(p.data, 1)));
	gw_sio_clear(&p);
	assert_int_equal(sio("2/admin,0[\"x\"]", &p), 0);
	assert_string_equal(p.nsp, "/admin");
	assert_int_equal(p.id, 0);
	gw_sio_clear(&p);

	/* ack ids: up to 2^53-1, never beyond */
	assert_int_equal(sio("29007199254740991[\"a\"]", &p), 0);
	assert_int_equal(p.id, GW_SIO_ID_MAX);
	gw_sio_clear(&p);
	assert_int_equal(sio("29007199254740992[\"a\"]", &p), GW_EIO_EID);
	gw_sio_clear(&p);
	assert_int_equal(sio("2999999999999999999999999999[\"a\"]", &p),
			 GW_EIO_EID);
	gw_sio_clear(&p);

	/* not a non-empty array led by a usable event name */
	assert_int_equal(sio("2{\"a\":1}", &p), GW_EIO_EPAYLOAD);
	gw_sio_clear(&p);
	assert_int_equal(sio("2[]", &p), GW_EIO_EPAYLOAD);
	gw_sio_clear(&p);
	assert_int_equal(sio("2", &p), GW_EIO_EPAYLOAD);
	gw_sio_clear(&p);
	assert_int_equal(sio("2[1]", &p), GW_EIO_EPAYLOAD);
	gw_sio_clear(&p);
	assert_int_equal(sio("2\"foo\"", &p), GW_EIO_EPAYLOAD);
	gw_sio_clear(&p);
	assert_int_equal(sio("2[\"disconnect\"]", &p), GW_EIO_EPAYLOAD);
	gw_sio_clear(&p);
	assert_int_equal(sio("2[\"a\"", &p), GW_EIO_EJSON);
	gw_sio_clear(&p);
	assert_int_equal(sio("2[\"a\\u0000\"]", &p), GW_EIO_EJSON);
	gw_sio_clear(&p);
	assert_int_equal(gw_sio_parse(S("2[\"\xff\"]"), &p), GW_EIO_EJSON);
	gw_sio_clear(&p);
}

static void
test_sio_other(void **state)
{
	struct gw_sio_packet p;
	char nsp[GW_SIO_NSP_MAX + 8];

	(void) state;
	assert_int_equal(sio("3/admin,13[\"bar\"]", &p), 0);
	assert_int_equal(p.type, GW_SIO_ACK);
	assert_int_equal(p.id, 13);
	gw_sio_clear(&p);
	assert_int_equal(sio("37[]", &p), 0);
	gw_sio_clear(&p);
	assert_int_equal(sio("3[\"bar\"]", &p), GW_EIO_EID);
	gw_sio_clear(&p);
	assert_int_equal(sio("37{}", &p), GW_EIO_EPAYLOAD);
	gw_sio_clear(&p);

	assert_int_equal(sio("1", &p), 0);
	assert_int_equal(p.type, GW_SIO_DISCONNECT);
	gw_sio_clear(&p);
	assert_int_equal(sio("1/admin,", &p), 0);
	assert_string_equal(p.nsp, "/admin");
	gw_sio_clear(&p);
	assert_int_equal(sio("1{}", &p), GW_EIO_EPAYLOAD);
	gw_sio_clear(&p);
	assert_int_equal(sio("15", &p), GW_EIO_EID);
	gw_sio_clear(&p);

	assert_int_equal(sio("4{\"message\":\"Not authorized\"}", &p), 0);
	assert_int_equal(p.type, GW_SIO_CONNECT_ERROR);
	gw_sio_clear(&p);
	assert_int_equal(sio("4", &p), GW_EIO_EPAYLOAD);
	gw_sio_clear(&p);

	/* binary packets are refused before anything else */
	assert_int_equal(
		sio("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]", &p),
		GW_EIO_EBINARY);
	gw_sio_clear(&p);
	assert_int_equal(sio("61-15[\"bar\"]", &p), GW_EIO_EBINARY);
	gw_sio_clear(&p);

	/* the test suite's "4abc", and other types */
	assert_int_equal(sio("abc", &p), GW_EIO_ETYPE);
	gw_sio_clear(&p);
	assert_int_equal(sio("7", &p), GW_EIO_ETYPE);
	gw_sio_clear(&p);
	assert_int_equal(sio("", &p), GW_EIO_EEMPTY);
	gw_sio_clear(&p);

	/* namespaces: bounded, UTF-8, no control characters */
	memset(nsp, 'n', sizeof(nsp));
	nsp[0] = '0';
	nsp[1] = '/';
	assert_int_equal(gw_sio_parse(nsp, GW_SIO_NSP_MAX + 1, &p), 0);
	assert_int_equal(strlen(p.nsp), GW_SIO_NSP_MAX);
	gw_sio_clear(&p);
	assert_int_equal(gw_sio_parse(nsp, GW_SIO_NSP_MAX + 2, &p),
			 GW_EIO_ENSP);
	gw_sio_clear(&p);
	assert_int_equal(gw_sio_parse(S("0/a\x01,"), &p), GW_EIO_ENSP);
	gw_sio_clear(&p);
	assert_int_equal(gw_sio_parse(S("0/a\xff,"), &p), GW_EIO_ENSP);
	gw_sio_clear(&p);
	assert_int_equal(gw_sio_parse(S("0/\xc3\xa9,"), &p), 0);
	gw_sio_clear(&p);
}

static void
test_sio_encode(void **state)
{
	struct gw_buf b = {0};
	struct gw_sio_packet p, q;
	json_t *v;

	(void) state;
	assert_int_equal(
		gw_sio_encode_connect(&b, NULL, "wZX3oN0bSVIhsaknAAAI"), 0);
	assert_buf(&b, "40{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}");
	assert_int_equal(gw_sio_encode_connect(&b, "/custom", "s1"), 0);
	assert_buf(&b, "40/custom,{\"sid\":\"s1\"}");
	assert_int_equal(gw_sio_encode_connect(&b, "/", ""), GW_EIO_EARG);
	assert_int_equal(gw_sio_encode_connect_error(&b, "/random",
						     "Invalid namespace"),
			 0);
	assert_buf(&b, "44/random,{\"message\":\"Invalid namespace\"}");
	assert_int_equal(gw_sio_encode_connect_error(&b, "bad", "x"),
			 GW_EIO_EARG);

	v = json_string("Jude");
	assert_int_equal(gw_sio_encode_event(&b, "hey", v), 0);
	json_decref(v);
	assert_buf(&b, "42[\"hey\",\"Jude\"]");
	v = json_pack("{s:i,s:s,s:s}", "userId", 1, "status", "online",
		      "lastSeen", "2026-12-02T10:00:00.123Z");
	assert_int_equal(gw_sio_encode_event(&b, "userStatusChanged", v), 0);
	json_decref(v);
	assert_buf(&b,
		   "42[\"userStatusChanged\",{\"userId\":1,\"status\":"
		   "\"online\",\"lastSeen\":\"2026-12-02T10:00:00.123Z\"}]");
	assert_int_equal(gw_sio_encode_event(&b, "onlineUsersList", NULL), 0);
	assert_buf(&b, "42[\"onlineUsersList\"]");
	assert_int_equal(gw_sio_encode_event(&b, "\xff", NULL), GW_EIO_EARG);

	v = json_loads("[1,\"2\",{\"3\":[false]}]", 0, NULL);
	assert_int_equal(gw_sio_encode_ack(&b, NULL, 456, v), 0);
	json_decref(v);
	assert_buf(&b, "43456[1,\"2\",{\"3\":[false]}]");
	assert_int_equal(gw_sio_encode_ack(&b, NULL, 12, NULL), 0);
	assert_buf(&b, "4312[]");
	assert_int_equal(gw_sio_encode_ack(&b, NULL, -1, NULL), GW_EIO_EARG);
	v = json_object();
	assert_int_equal(gw_sio_encode_ack(&b, NULL, 1, v), GW_EIO_EARG);
	json_decref(v);
	assert_int_equal(gw_buf_pending(&b), 0);

	/* parse, encode, parse again: the same packet */
	assert_int_equal(sio("2/admin,77[\"e\",{\"k\":[1,null]}]", &p), 0);
	assert_int_equal(gw_sio_encode(&b, &p), 0);
	assert_int_equal(gw_buf_head(&b)[0], '4');
	assert_int_equal(
		gw_sio_parse(gw_buf_head(&b) + 1, gw_buf_pending(&b) - 1, &q),
		0);
	assert_int_equal(q.type, p.type);
	assert_string_equal(q.nsp, p.nsp);
	assert_int_equal(q.id, 77);
	assert_true(json_equal(q.data, p.data));
	gw_buf_reset(&b);
	gw_sio_clear(&q);
	gw_sio_clear(&p);

	p.type = GW_SIO_BINARY_EVENT;
	assert_int_equal(gw_sio_encode(&b, &p), GW_EIO_EBINARY);
	p.type = GW_SIO_DISCONNECT;
	assert_int_equal(gw_sio_encode(&b, &p), 0);
	assert_buf(&b, "41");
	gw_buf_free(&b);
}

/* A whole polling POST as socket.io-client sends it, packet by packet. */
static void
test_flow(void **state)
{
	static const char body[] = "40{\"token\":\"t\"}\x1e"
				   "42[\"userOnline\",{\"userId\":7}]\x1e"
				   "421[\"getOnlineUsers\"]\x1e"
				   "3";
	const char *events[] = {NULL, "userOnline", "getOnlineUsers"};
	struct gw_eio_iter it;
	struct gw_eio_packet pkt;
	struct gw_sio_packet p;
	int i = 0;

	(void) state;
	gw_eio_iter_init(&it, body, sizeof(body) - 1);
	while (gw_eio_iter_next(&it, &pkt) == 1) {
		if (pkt.type != GW_EIO_MESSAGE) {
			assert_int_equal(pkt.type, GW_EIO_PONG);
			assert_int_equal(i, 3);
			continue;
		}
		assert_int_equal(gw_sio_parse(pkt.data, pkt.len, &p), 0);
		if (events[i] == NULL)
			assert_null(p.event);
		else
			assert_string_equal(p.event, events[i]);
		assert_int_equal(p.id, i == 2 ? 1 : -1);
		gw_sio_clear(&p);
		i++;
	}
	assert_int_equal(i, 3);
}

static void
test_strerror(void **state)
{
	int e;

	(void) state;
	for (e = 0; e >= GW_EIO_EARG; e--)
		assert_string_not_equal(gw_eio_strerror(e), "unknown error");
	assert_string_equal(gw_eio_strerror(-99), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eio_packet),
		cmocka_unit_test(test_eio_payload),
		cmocka_unit_test(test_eio_iter),
		cmocka_unit_test(test_eio_encode),
		cmocka_unit_test(test_eio_open),
		cmocka_unit_test(test_sio_connect),
		cmocka_unit_test(test_sio_event),
		cmocka_unit_test(test_sio_other),
		cmocka_unit_test(test_sio_encode),
		cmocka_unit_test(test_flow),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
