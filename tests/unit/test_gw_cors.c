/*
 * Unit tests for gateway/gw_cors.c: which Origin may call, and the
 * headers a response carries for it (echoed, never "*", with
 * credentials; nothing for an Origin not allowed or not well-formed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_cors.h"
#include "gw_server.h"

static char *
headers(const struct gw_config *cfg, const char *origin)
{
	struct gw_http1_req rq;
	struct gw_buf b = {0};
	char *s;

	memset(&rq, 0, sizeof(rq));
	rq.hdr[GW_H_ORIGIN] = (char *) origin;
	gw_cors_headers(&b, cfg, &rq);
	gw_buf_append(&b, "", 1);
	s = strdup(b.data);
	gw_buf_free(&b);
	return s;
}

static void
test_allowed(void **state)
{
	struct gw_config cfg;

	(void) state;
	gw_config_defaults(&cfg);
	assert_true(gw_cors_allowed(&cfg, NULL));
	assert_true(gw_cors_allowed(&cfg, "http://any.example"));
	cfg.allowed_origins = "https://app.example.com, http://localhost:3000";
	assert_true(gw_cors_allowed(&cfg, NULL)); /* not a browser page */
	assert_true(gw_cors_allowed(&cfg, "https://app.example.com"));
	assert_true(gw_cors_allowed(&cfg, "http://localhost:3000"));
	assert_false(gw_cors_allowed(&cfg, "http://localhost:3001"));
	assert_false(gw_cors_allowed(&cfg, "https://app.example.com.evil"));
	assert_false(gw_cors_allowed(&cfg, "null"));
}

static void
test_headers(void **state)
{
	struct gw_config cfg;
	char *h;

	(void) state;
	gw_config_defaults(&cfg);
	h = headers(&cfg, "http://any.example");
	assert_string_equal(h, "Access-Control-Allow-Origin: "
			       "http://any.example\r\n"
			       "Access-Control-Allow-Credentials: true\r\n"
			       "Vary: Origin\r\n");
	free(h);
	h = headers(&cfg, NULL);
	assert_string_equal(h, "");
	free(h);
	/* never echoed when it could break the response */
	h = headers(&cfg, "http://a b");
	assert_string_equal(h, "");
	free(h);
	h = headers(&cfg, "http://x\r\nSet-Cookie: a=b");
	assert_string_equal(h, "");
	free(h);

	cfg.allowed_origins = "https://app.example.com";
	h = headers(&cfg, "https://app.example.com");
	assert_non_null(
		strstr(h, "Allow-Origin: https://app.example.com\r\n"));
	free(h);
	h = headers(&cfg, "https://other.example.com");
	assert_string_equal(h, "");
	free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
