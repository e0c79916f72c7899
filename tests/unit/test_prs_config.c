/* Unit tests for common/prs_config.c: file, flags, bounds, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "prs_config.h"
#include "prs_util.h"
#include "prs_version.h"

static char *name;
static int64_t grace;
static bool debug;

static const struct prs_opt opts[] = {
	{"name", PRS_OPT_STR, &name, 0, 0, "a name"},
	{"offline_grace_ms", PRS_OPT_INT, &grace, 0, 10000, "grace"},
	{"debug", PRS_OPT_BOOL, &debug, 0, 0, "debug"},
};

static int
parse(int argc, char **argv)
{
	name = "default";
	grace = 5000;
	debug = false;
	return prs_config_parse(opts, PRS_ARRAY_LEN(opts), "registry", "t",
				"test", argc, argv);
}

static void
test_flags(void **state)
{
	char *argv[] = {"t", "--offline-grace-ms", "1500", "--debug",
			"--name=x"};
	assert_int_equal(parse(5, argv), 0);
	assert_int_equal(grace, 1500);
	assert_true(debug);
	assert_string_equal(name, "x");
}

static void
test_bad_values(void **state)
{
	char *a1[] = {"t", "--offline-grace-ms", "20000"};
	char *a2[] = {"t", "--offline-grace-ms", "12abc"};
	char *a3[] = {"t", "--nope", "1"};
	char *a4[] = {"t", "--debug=maybe"};
	char *a5[] = {"t", "--name"};
	assert_int_equal(parse(3, a1), -1);
	assert_int_equal(parse(3, a2), -1);
	assert_int_equal(parse(3, a3), -1);
	assert_int_equal(parse(2, a4), -1);
	assert_int_equal(parse(2, a5), -1);
}

static void
test_file_then_flags(void **state)
{
	char path[] = "/tmp/prs-config-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	char *argv[] = {"t", "--name", "flag", "--config", path};

	fputs("# comment\n[common]\nunrelated_key = 1\n[registry]\n"
	      "offline_grace_ms = 700\nname = file\n[gateway]\nfoo = bar\n",
	      f);
	fclose(f);
	assert_int_equal(parse(5, argv), 0);
	assert_int_equal(grace, 700);
	assert_string_equal(name, "flag"); /* flags win over the file */
	unlink(path);
}

static void
test_file_unknown_key(void **state)
{
	char path[] = "/tmp/prs-config-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	char *argv[] = {"t", "--config", path};

	fputs("[registry]\ntypo_key = 1\n", f);
	fclose(f);
	assert_int_equal(parse(3, argv), -1);
	unlink(path);
}

/* --version prints "PROG VERSION" and stops before the config file is
 * read (a broken file does not hide the version). */
static void
test_version(void **state)
{
	char *argv[] = {"t", "--config", "/nonexistent/presence.conf",
			"--version"};
	char out[128] = "";
	FILE *tmp = tmpfile();
	int saved;
	size_t n;

	assert_non_null(tmp);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
	assert_int_equal(parse(4, argv), 1);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	assert_string_equal(out, "t " PRS_VERSION "\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_file_then_flags),
		cmocka_unit_test(test_file_unknown_key),
		cmocka_unit_test(test_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
