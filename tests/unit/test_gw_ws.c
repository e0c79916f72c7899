/*
 * Unit tests for gateway/gw_ws.c: the handshake key (RFC 6455's own
 * example), the server frame headers the fan-out builds once, and the
 * verdict on a client's close frame payload (RFC 6455 §5.5.1, §7.4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw_ws.h"

static void
test_accept_key(void **state)
{
	char out[32];

	(void) state;
	gw_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void
test_key_valid(void **state)
{
	(void) state;
	assert_true(gw_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
	assert_false(gw_ws_key_valid(NULL));
	assert_false(gw_ws_key_valid(""));
	assert_false(gw_ws_key_valid("abc"));
	/* 24 characters but not 16 bytes */
	assert_false(gw_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=a"));
	assert_false(gw_ws_key_valid("dGhlIHNhbXBsZSBub25jZ!=="));
	/* 20 bytes */
	assert_false(gw_ws_key_valid("dGhlIHNhbXBsZSBub25jZQAAAA=="));
}

static void
test_frame_header(void **state)
{
	uint8_t h[GW_WS_HDR_MAX];

	(void) state;
	assert_int_equal(gw_ws_frame_header(h, 1, 0), 2);
	assert_int_equal(h[0], 0x81);
	assert_int_equal(h[1], 0);
	assert_int_equal(gw_ws_frame_header(h, 1, 125), 2);
	assert_int_equal(h[1], 125);
	assert_int_equal(gw_ws_frame_header(h, 1, 126), 4);
	assert_int_equal(h[1], 126);
	assert_int_equal(h[2], 0);
	assert_int_equal(h[3], 126);
	assert_int_equal(gw_ws_frame_header(h, 1, 65535), 4);
	assert_int_equal(h[2], 0xff);
	assert_int_equal(h[3], 0xff);
	assert_int_equal(gw_ws_frame_header(h, 2, 65536), 10);
	assert_int_equal(h[0], 0x82);
	assert_int_equal(h[1], 127);
	assert_int_equal(h[2], 0);
	assert_int_equal(h[7], 1);
	assert_int_equal(h[8], 0);
	assert_int_equal(h[9], 0);
}

static uint16_t
close_check(unsigned code, const char *reason)
{
	uint8_t p[2 + 123];
	size_t n = strlen(reason);

	p[0] = (uint8_t) (code >> 8);
	p[1] = (uint8_t) code;
	memcpy(p + 2, reason, n);
	return gw_ws_close_check(p, 2 + n);
}

static void
test_close_check(void **state)
{
	static const unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008,
					 1009, 1010, 1011, 1012, 1013, 1014,
					 3000, 3999, 4000, 4999};
	static const unsigned invalid[] = {0,    1,    999,  1004, 1005,
					   1006, 1015, 1016, 1100, 2000,
					   2999, 5000, 6000, 65535};
	uint8_t big[126] = {0x03, 0xe8};
	size_t i;

	(void) state;
	assert_int_equal(gw_ws_close_check(NULL, 0), 0);
	assert_int_equal(gw_ws_close_check((const uint8_t *) "\x03", 1), 1002);
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		assert_int_equal(close_check(valid[i], ""), 0);
		assert_int_equal(close_check(valid[i], "bye"), 0);
	}
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		assert_int_equal(close_check(invalid[i], ""), 1002);
		/* the code is judged first */
		assert_int_equal(close_check(invalid[i], "\xff"), 1002);
	}
	assert_int_equal(close_check(1000, "\xc3\xa9t\xc3\xa9 \xe2\x98\x83"),
			 0);
	assert_int_equal(close_check(1000, "\xff"), 1007);
	assert_int_equal(close_check(1000, "ok\xc3"), 1007);
	assert_int_equal(close_check(1000, "\xc3\x28"), 1007);
	assert_int_equal(close_check(1000, "\xc0\xaf"), 1007);
	assert_int_equal(close_check(1000, "\xed\xa0\x80"), 1007);
	assert_int_equal(close_check(1000, "\xf4\x90\x80\x80"), 1007);
	/* a control frame carries at most 125 bytes */
	memset(big + 2, 'x', sizeof(big) - 2);
	assert_int_equal(gw_ws_close_check(big, 125), 0);
	assert_int_equal(gw_ws_close_check(big, 126), 1002);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_key_valid),
		cmocka_unit_test(test_frame_header),
		cmocka_unit_test(test_close_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
