/*
 * Unit tests for gateway/gw_buf.c: growth, consumption (memory is given
 * back once drained: idle connections hold none) and formatted appends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw_buf.h"

static void
test_append_consume(void **state)
{
	struct gw_buf b = {0};
	char big[5000];

	(void) state;
	memset(big, 'x', sizeof(big));
	gw_buf_append(&b, "hello", 5);
	assert_int_equal(gw_buf_pending(&b), 5);
	assert_memory_equal(gw_buf_head(&b), "hello", 5);
	gw_buf_consume(&b, 2);
	assert_memory_equal(gw_buf_head(&b), "llo", 3);
	gw_buf_append(&b, big, sizeof(big));
	assert_int_equal(gw_buf_pending(&b), 3 + sizeof(big));
	assert_memory_equal(gw_buf_head(&b), "llo", 3);
	gw_buf_consume(&b, 3 + sizeof(big));
	assert_null(b.data); /* drained: memory released */
	assert_int_equal(b.cap, 0);
	gw_buf_free(&b);
}

static void
test_printf(void **state)
{
	struct gw_buf b = {0};
	char big[1000];

	(void) state;
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	gw_buf_printf(&b, "%d-%s", 42, "a");
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "42-a", 4);
	gw_buf_printf(&b, "%s", big); /* longer than the first reservation */
	assert_int_equal(b.len, 4 + sizeof(big) - 1);
	assert_int_equal(b.data[b.len - 1], 'y');
	gw_buf_reset(&b);
	assert_int_equal(gw_buf_pending(&b), 0);
	assert_non_null(b.data); /* reset keeps the memory */
	gw_buf_free(&b);
}

static void
test_reserve_commit(void **state)
{
	struct gw_buf b = {0};
	char *p;

	(void) state;
	gw_buf_append(&b, "abcdef", 6);
	gw_buf_consume(&b, 4);
	p = gw_buf_reserve(&b, 300);
	memcpy(p, "gh", 2);
	gw_buf_commit(&b, 2);
	assert_int_equal(gw_buf_pending(&b), 4);
	assert_memory_equal(gw_buf_head(&b), "efgh", 4);
	gw_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_consume),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_reserve_commit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
