/*
 * Unit tests for gateway/gw_ws.c: the handshake key (RFC 6455's own
 * example) and the server frame headers the fan-out builds once.
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_key_valid),
		cmocka_unit_test(test_frame_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
