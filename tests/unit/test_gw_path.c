/*
 * Unit tests for gateway/gw_path.c: request targets split into decoded
 * segments, query parameters, and matching a configured path
 * (socketio_path) with its trailing slash optional.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_path.h"

struct parsed {
	struct gw_path pp;
	char buf[512];
};

static struct gw_path *
parse(struct parsed *p, const char *url)
{
	size_t n = strlen(url);

	assert_true(n + GW_PATH_SEGS_MAX + 1 <= sizeof(p->buf));
	p->pp.buf = p->buf;
	assert_int_equal(gw_path_parse(url, n, &p->pp), 0);
	return &p->pp;
}

static void
test_path_is(void **state)
{
	struct parsed p;

	(void) state;
	assert_true(
		gw_path_is(parse(&p, "/socket.io/?EIO=4&t=x"), "/socket.io/"));
	assert_true(gw_path_is(parse(&p, "/socket.io"), "/socket.io/"));
	assert_true(gw_path_is(parse(&p, "/socket.io/"), "/socket.io"));
	assert_true(gw_path_is(parse(&p, "/a/b/"), "/a/b"));
	assert_true(gw_path_is(parse(&p, "/a/b"), "/a/b/"));
	assert_true(gw_path_is(parse(&p, "/"), "/"));
	/* segments are compared decoded: %2E is '.' */
	assert_true(gw_path_is(parse(&p, "/socket%2Eio/"), "/socket.io/"));

	assert_false(gw_path_is(parse(&p, "/socket.io/x"), "/socket.io/"));
	assert_false(gw_path_is(parse(&p, "/socket.iox/"), "/socket.io/"));
	assert_false(gw_path_is(parse(&p, "/socket.i/"), "/socket.io/"));
	assert_false(gw_path_is(parse(&p, "/"), "/socket.io/"));
	assert_false(gw_path_is(parse(&p, "/socket.io/"), "/"));
	assert_false(gw_path_is(parse(&p, "/a"), "/a/b/"));
	assert_false(gw_path_is(parse(&p, "/a/c/"), "/a/b/"));
	/* an encoded '/' stays inside its segment */
	assert_false(gw_path_is(parse(&p, "/a%2Fb/"), "/a/b/"));
	assert_false(gw_path_is(parse(&p, "/socket.io/"), "socket.io/"));
}

static void
test_query(void **state)
{
	struct parsed p;
	char *v = NULL;

	(void) state;
	parse(&p, "/socket.io/?EIO=4&transport=polling&sid=a%2Bb+c&t");
	assert_int_equal(gw_path_query(&p.pp, "EIO", &v), 0);
	assert_string_equal(v, "4");
	free(v);
	assert_int_equal(gw_path_query(&p.pp, "sid", &v), 0);
	assert_string_equal(v, "a+b c");
	free(v);
	assert_int_equal(gw_path_query(&p.pp, "t", &v), 0);
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(gw_path_query(&p.pp, "token", &v), 1);
	assert_null(v);
	parse(&p, "/x?sid=%zz");
	assert_int_equal(gw_path_query(&p.pp, "sid", &v), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_is),
		cmocka_unit_test(test_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
