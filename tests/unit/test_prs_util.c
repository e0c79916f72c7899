/* Unit tests for common/prs_util.c: identifier and UTF-8 validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "prs_util.h"

#define ID(s) prs_id_valid(s, strlen(s))

static void
test_id_valid(void **state)
{
	char long_id[130];

	assert_true(ID("alice"));
	assert_true(ID("u:42/é"));
	assert_false(ID(""));
	assert_false(ID("a\nb"));
	assert_false(ID("tab\there"));
	assert_false(ID("del\x7f"));
	assert_false(ID("c1\xc2\x85")); /* U+0085, a C1 control */
	memset(long_id, 'x', sizeof(long_id));
	assert_true(prs_id_valid(long_id, 128));
	assert_false(prs_id_valid(long_id, 129));
}

static void
test_utf8(void **state)
{
	assert_true(prs_utf8_valid("\xe2\x82\xac", 3));     /* € */
	assert_true(prs_utf8_valid("\xf0\x9f\x98\x80", 4)); /* emoji */
	assert_false(prs_utf8_valid("\xc0\xaf", 2));        /* overlong */
	assert_false(prs_utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
	assert_false(prs_utf8_valid("\xe2\x82", 2));        /* truncated */
	assert_false(prs_utf8_valid("\xff", 1));
	assert_false(prs_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

static void
test_status_names(void **state)
{
	assert_int_equal(prs_status_parse("away"), 2);
	assert_int_equal(prs_status_parse("invisible"), 4);
	assert_int_equal(prs_status_parse("busy"), -1);
	assert_string_equal(prs_status_name(3), "dnd");
	assert_string_equal(prs_status_name(99), "offline");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_status_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
