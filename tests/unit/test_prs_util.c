/* Unit tests for common/prs_util.c: identifier and UTF-8 validation,
 * PRS_ASSERT. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
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

/* A failed PRS_ASSERT logs file:line and the condition, then aborts (in a
 * child, whose stderr the test reads). */
static void
test_assert(void **state)
{
	volatile int two = 2;
	char out[512];
	size_t len = 0;
	ssize_t n;
	int fds[2], status;
	pid_t pid;

	PRS_ASSERT(two == 2); /* holds: nothing happens */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		PRS_ASSERT(two + 1 == 4);
		_exit(0);
	}
	close(fds[1]);
	while (len < sizeof(out) - 1 &&
	       (n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t) n;
	out[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(out, "test_prs_util.c:"));
	assert_non_null(strstr(out, ": assertion failed: two + 1 == 4"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_assert),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
