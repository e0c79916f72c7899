/*
 * Unit tests for gateway/gw_signalr.c: record reassembly, the handshake,
 * hub messages and the server's records, with the examples of
 * HubProtocol.md and the records @microsoft/signalr 10 sends for seed 000
 * (COMPAT.md §2 and its appendix).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_signalr.h"

#define S(lit) lit, sizeof(lit) - 1
#define RS     "\x1e"

static void
assert_buf(struct gw_buf *b, const char *want)
{
	size_t n = gw_buf_pending(b);

	assert_int_equal(n, strlen(want));
	assert_memory_equal(gw_buf_head(b), want, n);
	gw_buf_reset(b);
}

static void
assert_rec(struct gw_sr_reader *r, const char *want)
{
	const char *rec;
	size_t len;

	assert_int_equal(gw_sr_reader_next(r, &rec, &len), 1);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(rec, want, len);
}

static void
assert_none(struct gw_sr_reader *r)
{
	const char *rec;
	size_t len;

	assert_int_equal(gw_sr_reader_next(r, &rec, &len), 0);
}

/* --------------------------------------------------------------- reader */

static void
test_reader(void **state)
{
	struct gw_sr_reader r;
	const char *whole =
		"{\"protocol\":\"json\",\"version\":1}" RS "{\"type\":6}" RS;
	size_t i;

	(void) state;
	gw_sr_reader_init(&r, 0);
	assert_none(&r);
	/* the JS client's handshake, then a ping in the same frame */
	assert_int_equal(gw_sr_reader_feed(&r, whole, strlen(whole)), 0);
	assert_rec(&r, "{\"protocol\":\"json\",\"version\":1}");
	assert_rec(&r, "{\"type\":6}");
	assert_none(&r);

	/* a record split across frames */
	assert_int_equal(gw_sr_reader_feed(&r, S("{\"type\"")), 0);
	assert_none(&r);
	assert_int_equal(gw_sr_reader_feed(&r, S(":6}" RS "{\"ty")), 0);
	assert_rec(&r, "{\"type\":6}");
	assert_none(&r);
	assert_int_equal(gw_sr_reader_feed(&r, S("pe\":7}" RS)), 0);
	assert_rec(&r, "{\"type\":7}");
	assert_none(&r);

	/* byte by byte */
	for (i = 0; whole[i] != '\0'; i++)
		assert_int_equal(gw_sr_reader_feed(&r, whole + i, 1), 0);
	assert_rec(&r, "{\"protocol\":\"json\",\"version\":1}");
	assert_rec(&r, "{\"type\":6}");
	assert_none(&r);

	/* empty records are records (the parser refuses them) */
	assert_int_equal(gw_sr_reader_feed(&r, S(RS RS)), 0);
	assert_rec(&r, "");
	assert_rec(&r, "");
	assert_none(&r);
	assert_int_equal(gw_sr_reader_feed(&r, S("")), 0);
	assert_none(&r);
	gw_sr_reader_free(&r);
}

static void
test_reader_bound(void **state)
{
	struct gw_sr_reader r;
	char big[40];
	const char *rec;
	size_t len;

	(void) state;
	memset(big, 'x', sizeof(big));

	/* exactly the bound, then one more: refused, and it stays so */
	gw_sr_reader_init(&r, 16);
	assert_int_equal(gw_sr_reader_feed(&r, big, 16), 0);
	assert_int_equal(gw_sr_reader_feed(&r, S(RS)), 0);
	assert_int_equal(gw_sr_reader_next(&r, &rec, &len), 1);
	assert_int_equal(len, 16);
	assert_none(&r);
	assert_int_equal(gw_sr_reader_feed(&r, big, 10), 0);
	assert_int_equal(gw_sr_reader_feed(&r, big, 7), GW_SR_ETOOBIG);
	assert_int_equal(gw_sr_reader_next(&r, &rec, &len), GW_SR_ETOOBIG);
	assert_int_equal(gw_sr_reader_feed(&r, S(RS)), GW_SR_ETOOBIG);
	gw_sr_reader_free(&r);

	/* a complete record over the bound, in one feed */
	gw_sr_reader_init(&r, 16);
	memcpy(big + 20, RS, 1);
	assert_int_equal(gw_sr_reader_feed(&r, big, 21), 0);
	assert_int_equal(gw_sr_reader_next(&r, &rec, &len), GW_SR_ETOOBIG);
	gw_sr_reader_free(&r);

	/* a short record then a long tail in one feed */
	gw_sr_reader_init(&r, 16);
	memcpy(big + 2, RS, 1);
	assert_int_equal(gw_sr_reader_feed(&r, big, sizeof(big)),
			 GW_SR_ETOOBIG);
	gw_sr_reader_free(&r);

	gw_sr_reader_init(&r, 0);
	assert_int_equal(r.max, GW_SR_RECORD_MAX);
	gw_sr_reader_free(&r);
}

/* ------------------------------------------------------------ handshake */

static int
hs(const char *s, char why[GW_SR_WHY_MAX])
{
	return gw_sr_handshake_parse(s, strlen(s), why);
}

static void
test_handshake(void **state)
{
	char why[GW_SR_WHY_MAX];
	struct gw_buf b = {0};

	(void) state;
	assert_int_equal(hs("{\"protocol\":\"json\",\"version\":1}", why), 0);
	assert_string_equal(why, "");
	assert_int_equal(
		hs("{\"version\":1,\"protocol\":\"json\",\"x\":2}", why), 0);
	assert_int_equal(
		hs("{\"protocol\":\"messagepack\",\"version\":1}", why),
		GW_SR_EPROTOCOL);
	assert_string_equal(
		why, "Requested protocol 'messagepack' is not available.");
	assert_int_equal(hs("{\"protocol\":\"a'b\",\"version\":1}", why),
			 GW_SR_EPROTOCOL);
	assert_string_equal(why, "Requested protocol is not available.");
	assert_int_equal(hs("{\"protocol\":\"json\",\"version\":2}", why),
			 GW_SR_EVERSION);
	assert_string_equal(why, "The server does not support version 2 of "
				 "the 'json' protocol.");
	assert_int_equal(hs("{\"protocol\":\"json\"}", why), GW_SR_EFIELD);
	assert_int_equal(hs("{\"protocol\":\"json\",\"version\":\"1\"}", why),
			 GW_SR_EFIELD);
	assert_int_equal(hs("{\"protocol\":1,\"version\":1}", why),
			 GW_SR_EFIELD);
	assert_int_equal(hs("[]", why), GW_SR_EJSON);
	assert_int_equal(hs("", why), GW_SR_EJSON);
	assert_int_equal(hs("{\"protocol\":\"json\",\"version\":1", why),
			 GW_SR_EJSON);
	assert_int_equal(hs("{\"protocol\":\"json\",\"protocol\":\"json\","
			    "\"version\":1}",
			    why),
			 GW_SR_EJSON);

	assert_int_equal(gw_sr_handshake_response(&b, NULL), 0);
	assert_buf(&b, "{}" RS);
	assert_int_equal(gw_sr_handshake_response(
				 &b, "Requested protocol 'messagepack' is not "
				     "available."),
			 0);
	assert_buf(&b, "{\"error\":\"Requested protocol 'messagepack' is not "
		       "available.\"}" RS);
	assert_int_equal(gw_sr_handshake_response(&b, "\xff"), GW_SR_EARG);
	assert_int_equal(gw_buf_pending(&b), 0);
	gw_buf_free(&b);
}

/* ------------------------------------------------------------- messages */

static int
parse(const char *s, struct gw_sr_msg *m)
{
	return gw_sr_parse(s, strlen(s), m);
}

static void
test_parse_invocation(void **state)
{
	struct gw_sr_msg m;

	(void) state;
	/* what HubConnection.invoke("RegisterUser", "42") sends */
	assert_int_equal(
		parse("{\"arguments\":[\"42\"],\"invocationId\":\"0\","
		      "\"target\":\"RegisterUser\",\"type\":1}",
		      &m),
		0);
	assert_int_equal(m.type, GW_SR_INVOCATION);
	assert_string_equal(m.invocation_id, "0");
	assert_string_equal(m.target, "RegisterUser");
	assert_int_equal(json_array_size(m.arguments), 1);
	assert_null(m.stream_ids);
	gw_sr_msg_clear(&m);

	/* send(): no invocationId */
	assert_int_equal(parse("{\"arguments\":[],\"target\":"
			       "\"JoinAllUsersTracking\",\"type\":1}",
			       &m),
			 0);
	assert_null(m.invocation_id);
	gw_sr_msg_clear(&m);

	/* the spec's examples */
	assert_int_equal(
		parse("{\"type\":1,\"invocationId\":\"123\",\"target\":"
		      "\"Send\",\"arguments\":[42,\"Test Message\"]}",
		      &m),
		0);
	assert_int_equal(json_array_size(m.arguments), 2);
	gw_sr_msg_clear(&m);
	assert_int_equal(
		parse("{\"type\":1,\"invocationId\":\"123\",\"target\":"
		      "\"Send\",\"arguments\":[42],\"streamIds\":"
		      "[\"1\"]}",
		      &m),
		0);
	assert_non_null(m.stream_ids);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":1,\"headers\":{\"Foo\":\"Bar\"},"
			       "\"invocationId\":\"123\",\"target\":\"Send\","
			       "\"arguments\":[42,\"Test Message\"]}",
			       &m),
			 0);
	gw_sr_msg_clear(&m);
	assert_int_equal(
		parse("{\"type\":4,\"invocationId\":\"123\",\"target\":"
		      "\"Send\",\"arguments\":[42,\"Test Message\"]}",
		      &m),
		0);
	assert_int_equal(m.type, GW_SR_STREAM_INVOCATION);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":5,\"invocationId\":\"123\"}", &m),
			 0);
	assert_int_equal(m.type, GW_SR_CANCEL_INVOCATION);
	gw_sr_msg_clear(&m);

	/* malformed */
	assert_int_equal(parse("{\"type\":1,\"target\":\"X\"}", &m),
			 GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(
		parse("{\"type\":1,\"target\":\"X\",\"arguments\":{}}", &m),
		GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":1,\"arguments\":[]}", &m),
			 GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(
		parse("{\"type\":1,\"target\":\"\",\"arguments\":[]}", &m),
		GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(
		parse("{\"type\":1,\"target\":7,\"arguments\":[]}", &m),
		GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":1,\"invocationId\":1,\"target\":"
			       "\"X\",\"arguments\":[]}",
			       &m),
			 GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":1,\"invocationId\":\"\",\"target\":"
			       "\"X\",\"arguments\":[]}",
			       &m),
			 GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":1,\"target\":\"X\",\"arguments\":[],"
			       "\"streamIds\":[1]}",
			       &m),
			 GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":1,\"target\":\"X\",\"arguments\":[],"
			       "\"headers\":[]}",
			       &m),
			 GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(
		parse("{\"type\":4,\"target\":\"X\",\"arguments\":[]}", &m),
		GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":5}", &m), GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
}

static void
test_parse_other(void **state)
{
	struct gw_sr_msg m;
	char big[GW_SR_ID_MAX + 64];

	(void) state;
	assert_int_equal(parse("{\"type\":6}", &m), 0);
	assert_int_equal(m.type, GW_SR_PING);
	gw_sr_msg_clear(&m);

	assert_int_equal(parse("{\"type\":7}", &m), 0);
	assert_int_equal(m.type, GW_SR_CLOSE);
	assert_null(m.error);
	assert_false(m.allow_reconnect);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":7,\"error\":\"Connection closed "
			       "because of an error!\",\"allowReconnect\":"
			       "true}",
			       &m),
			 0);
	assert_string_equal(m.error, "Connection closed because of an error!");
	assert_true(m.allow_reconnect);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":7,\"allowReconnect\":1}", &m),
			 GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":7,\"error\":null}", &m),
			 GW_SR_EFIELD);
	gw_sr_msg_clear(&m);

	assert_int_equal(parse("{\"type\":2,\"invocationId\":\"123\","
			       "\"item\":42}",
			       &m),
			 0);
	assert_int_equal(json_integer_value(m.result), 42);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":2,\"invocationId\":\"123\"}", &m),
			 GW_SR_EFIELD);
	gw_sr_msg_clear(&m);

	assert_int_equal(parse("{\"type\":3,\"invocationId\":\"123\"}", &m),
			 0);
	assert_null(m.result);
	assert_null(m.error);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":3,\"invocationId\":\"123\","
			       "\"result\":42}",
			       &m),
			 0);
	assert_int_equal(json_integer_value(m.result), 42);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":3,\"invocationId\":\"123\","
			       "\"error\":\"It didn't work!\"}",
			       &m),
			 0);
	assert_string_equal(m.error, "It didn't work!");
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":3,\"invocationId\":\"123\","
			       "\"result\":42,\"error\":\"It didn't work!\"}",
			       &m),
			 GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":3,\"result\":1}", &m), GW_SR_EFIELD);
	gw_sr_msg_clear(&m);

	/* stateful reconnect is never offered; unknown types */
	assert_int_equal(parse("{\"type\":8,\"sequenceId\":1394}", &m),
			 GW_SR_ETYPE);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":9,\"sequenceId\":1234}", &m),
			 GW_SR_ETYPE);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":0}", &m), GW_SR_ETYPE);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":-1}", &m), GW_SR_ETYPE);
	gw_sr_msg_clear(&m);

	/* not an object, no type, duplicates, an empty record */
	assert_int_equal(parse("{}", &m), GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":\"1\"}", &m), GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":6.0}", &m), GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("[6]", &m), GW_SR_EJSON);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("6", &m), GW_SR_EJSON);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("", &m), GW_SR_EJSON);
	gw_sr_msg_clear(&m);
	assert_int_equal(parse("{\"type\":6,\"type\":6}", &m), GW_SR_EJSON);
	gw_sr_msg_clear(&m);
	assert_int_equal(gw_sr_parse(S("{\"type\":6}\x1e"), &m), GW_SR_EJSON);
	gw_sr_msg_clear(&m);

	/* invocationId bounded */
	memset(big, 0, sizeof(big));
	strcpy(big, "{\"type\":5,\"invocationId\":\"");
	memset(big + strlen(big), 'i', GW_SR_ID_MAX + 1);
	strcat(big, "\"}");
	assert_int_equal(parse(big, &m), GW_SR_EFIELD);
	gw_sr_msg_clear(&m);
}

/* ------------------------------------------------------------- encoding */

static void
test_encode(void **state)
{
	struct gw_buf b = {0};
	struct gw_sr_msg m;
	json_t *v;

	(void) state;
	v = json_pack("[{s:i,s:b,s:s,s:n}]", "user_id", 42, "is_active", 1,
		      "status", "online", "last_seen");
	assert_int_equal(gw_sr_encode_invocation(&b, "UserStatusChanged", v),
			 0);
	json_decref(v);
	assert_buf(&b, "{\"type\":1,\"target\":\"UserStatusChanged\","
		       "\"arguments\":[{\"user_id\":42,\"is_active\":true,"
		       "\"status\":\"online\",\"last_seen\":null}]}" RS);
	assert_int_equal(gw_sr_encode_invocation(&b, "X", NULL), 0);
	assert_buf(&b, "{\"type\":1,\"target\":\"X\",\"arguments\":[]}" RS);
	v = json_object();
	assert_int_equal(gw_sr_encode_invocation(&b, "X", v), GW_SR_EARG);
	json_decref(v);
	assert_int_equal(gw_sr_encode_invocation(&b, "", NULL), GW_SR_EARG);

	v = json_integer(42);
	assert_int_equal(gw_sr_encode_completion(&b, "0", v, NULL), 0);
	assert_buf(&b, "{\"type\":3,\"invocationId\":\"0\",\"result\":42}" RS);
	/* an error wins over a result */
	assert_int_equal(gw_sr_encode_completion(&b, "0", v, "boom"), 0);
	assert_buf(
		&b,
		"{\"type\":3,\"invocationId\":\"0\",\"error\":\"boom\"}" RS);
	json_decref(v);
	assert_int_equal(gw_sr_encode_completion(&b, "7", NULL, NULL), 0);
	assert_buf(&b, "{\"type\":3,\"invocationId\":\"7\"}" RS);
	assert_int_equal(gw_sr_encode_completion(&b, NULL, NULL, NULL),
			 GW_SR_EARG);
	assert_int_equal(gw_sr_encode_completion(&b, "1", NULL, "\xc3"),
			 GW_SR_EARG);

	assert_int_equal(gw_sr_encode_no_method(&b, "3", "SendLocation"), 0);
	assert_buf(&b, "{\"type\":3,\"invocationId\":\"3\",\"error\":\"Failed "
		       "to invoke 'SendLocation' due to an error on the "
		       "server. HubException: Method does not exist.\"}" RS);

	gw_sr_encode_ping(&b);
	assert_buf(&b, "{\"type\":6}" RS);
	assert_int_equal(gw_sr_encode_close(&b, NULL, false), 0);
	assert_buf(&b, "{\"type\":7}" RS);
	assert_int_equal(gw_sr_encode_close(&b, NULL, true), 0);
	assert_buf(&b, "{\"type\":7,\"allowReconnect\":true}" RS);
	assert_int_equal(gw_sr_encode_close(&b, "Server is stopping.", true),
			 0);
	assert_buf(&b, "{\"type\":7,\"error\":\"Server is stopping.\","
		       "\"allowReconnect\":true}" RS);
	assert_int_equal(gw_buf_pending(&b), 0);

	/* what we encode parses back */
	assert_int_equal(gw_sr_encode_no_method(&b, "9", "Nope"), 0);
	assert_int_equal(
		gw_sr_parse(gw_buf_head(&b), gw_buf_pending(&b) - 1, &m), 0);
	assert_int_equal(m.type, GW_SR_COMPLETION);
	assert_string_equal(m.invocation_id, "9");
	assert_non_null(m.error);
	gw_sr_msg_clear(&m);
	gw_buf_free(&b);
}

static void
test_negotiate(void **state)
{
	struct gw_buf b = {0};
	int v = -1;

	(void) state;
	assert_int_equal(gw_sr_negotiate_version(NULL, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(gw_sr_negotiate_version("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(gw_sr_negotiate_version("2", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(gw_sr_negotiate_version("99999999999999999999", &v),
			 0);
	assert_int_equal(v, 1);
	assert_int_equal(gw_sr_negotiate_version("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(gw_sr_negotiate_version("", &v), GW_SR_EARG);
	assert_int_equal(gw_sr_negotiate_version("1a", &v), GW_SR_EARG);
	assert_int_equal(gw_sr_negotiate_version("-1", &v), GW_SR_EARG);

	assert_int_equal(gw_sr_negotiate_response(&b, 1, "cid", "ctok"), 0);
	assert_buf(&b,
		   "{\"connectionId\":\"cid\",\"connectionToken\":\"ctok\","
		   "\"negotiateVersion\":1,\"availableTransports\":[{"
		   "\"transport\":\"WebSockets\",\"transferFormats\":"
		   "[\"Text\"]}]}");
	assert_int_equal(gw_sr_negotiate_response(&b, 0, "cid", "ctok"), 0);
	assert_buf(&b, "{\"connectionId\":\"cid\",\"negotiateVersion\":0,"
		       "\"availableTransports\":[{\"transport\":"
		       "\"WebSockets\",\"transferFormats\":[\"Text\"]}]}");
	assert_int_equal(gw_sr_negotiate_response(&b, 1, "cid", NULL),
			 GW_SR_EARG);
	assert_int_equal(gw_sr_negotiate_response(&b, 0, "", NULL),
			 GW_SR_EARG);
	assert_int_equal(gw_sr_negotiate_response(&b, 1, "\xff", "t"),
			 GW_SR_EARG);
	assert_int_equal(gw_buf_pending(&b), 0);
	gw_buf_free(&b);
}

static void
test_target(void **state)
{
	(void) state;
	assert_true(gw_sr_target_is("RegisterUser", "RegisterUser"));
	assert_true(gw_sr_target_is("registeruser", "RegisterUser"));
	assert_true(gw_sr_target_is("REGISTERUSER", "registerUser"));
	assert_false(gw_sr_target_is("RegisterUserX", "RegisterUser"));
	assert_false(gw_sr_target_is("Register", "RegisterUser"));
	assert_false(gw_sr_target_is("", "RegisterUser"));
	assert_false(gw_sr_target_is(NULL, "RegisterUser"));
	assert_true(gw_sr_target_is("\xc3\xa9", "\xc3\xa9"));
	assert_false(gw_sr_target_is("\xc3\xa9", "\xc3\x89"));
}

static void
test_strerror(void **state)
{
	int e;

	(void) state;
	for (e = 0; e >= GW_SR_EARG; e--)
		assert_string_not_equal(gw_sr_strerror(e), "unknown error");
	assert_string_equal(gw_sr_strerror(-99), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_reader_bound),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_parse_invocation),
		cmocka_unit_test(test_parse_other),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
