/* Unit tests for the text helpers of common/prs_metrics.c: samples, label
 * escaping, histogram buckets, the build_info and start_time every process
 * exports. (The HTTP endpoint is tested through the
 * daemons: tests/integration/test_metrics.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "prs_metrics.h"
#include "prs_version.h"

static void
test_samples(void **state)
{
	struct prs_mbuf b = {0};
	char lab[64];

	prs_metric_counter(&b, "presence_x_total", "things", 42);
	prs_metric_gauge(&b, "presence_g", "a gauge", 0.25);
	prs_metric_u64(
		&b, "presence_s",
		prs_metric_label(lab, sizeof(lab), "gateway", "a\"b\\c\n"), 7);
	assert_string_equal(b.data,
			    "# HELP presence_x_total things\n"
			    "# TYPE presence_x_total counter\n"
			    "presence_x_total 42\n"
			    "# HELP presence_g a gauge\n"
			    "# TYPE presence_g gauge\n"
			    "presence_g 0.25\n"
			    "presence_s{gateway=\"a\\\"b\\\\c\\n\"} 7\n");
	prs_mbuf_free(&b);
}

static void
test_label_truncated(void **state)
{
	char lab[12];

	/* never splits an escape, always closes the quote */
	prs_metric_label(lab, sizeof(lab), "k", "\"\"\"\"\"\"\"\"");
	assert_true(strlen(lab) < sizeof(lab));
	assert_int_equal(lab[strlen(lab) - 1], '"');
	assert_int_equal(strncmp(lab, "k=\"", 3), 0);
}

static void
test_histogram(void **state)
{
	static const double bounds[] = {0.1, 1};
	struct prs_hist h;
	struct prs_mbuf b = {0};

	prs_hist_init(&h, bounds, 2);
	prs_hist_observe(&h, 0.05);
	prs_hist_observe(&h, 0.1); /* le is inclusive */
	prs_hist_observe(&h, 0.5);
	prs_hist_observe(&h, 7);
	prs_hist_write(&b, "presence_h_seconds", "h", &h);
	assert_non_null(strstr(b.data,
			       "# TYPE presence_h_seconds histogram\n"
			       "presence_h_seconds_bucket{le=\"0.1\"} 2\n"
			       "presence_h_seconds_bucket{le=\"1\"} 3\n"
			       "presence_h_seconds_bucket{le=\"+Inf\"} 4\n"
			       "presence_h_seconds_sum 7.65\n"
			       "presence_h_seconds_count 4\n"));
	prs_mbuf_free(&b);
	assert_true(prs_hist_latency_n <= PRS_HIST_MAX);
}

static void
test_big_text(void **state)
{
	struct prs_mbuf b = {0};
	int i;

	for (i = 0; i < 10000; i++)
		prs_metric_u64(&b, "presence_many", NULL, (uint64_t) i);
	assert_true(b.len > 10000 * 14);
	assert_int_equal(b.data[b.len], '\0');
	assert_non_null(strstr(b.data, "presence_many 9999\n"));
	prs_mbuf_free(&b);
}

static void
test_process(void **state)
{
	struct prs_mbuf b = {0};

	prs_metric_process(&b, "registry", 1767225600123);
	assert_string_equal(
		b.data,
		"# HELP presence_registry_build_info the version "
		"of this build (label version); always 1\n"
		"# TYPE presence_registry_build_info gauge\n"
		"presence_registry_build_info{version=\"" PRS_VERSION "\"} 1\n"
		"# HELP presence_registry_start_time_seconds when "
		"this process started (UNIX time)\n"
		"# TYPE presence_registry_start_time_seconds "
		"gauge\n"
		"presence_registry_start_time_seconds "
		"1767225600.123\n");
	prs_mbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_label_truncated),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_big_text),
		cmocka_unit_test(test_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
