/*
 * Unit tests for gateway/gw_rate.c: the token bucket every frontend uses
 * (PROTOCOL.md §7): the burst, the refill, and the close after refusals
 * that never pause for rate_limit_close_ms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw_rate.h"

static struct gw_config cfg;
static struct gw_server srv;

static void
setup(int64_t per_sec, int64_t burst, int64_t close_ms)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(&srv, 0, sizeof(srv));
	cfg.rate_limit_per_sec = per_sec;
	cfg.rate_limit_burst = burst;
	cfg.rate_limit_close_ms = close_ms;
	srv.cfg = &cfg;
}

static void
test_burst_then_refill(void **state)
{
	struct gw_rate r = {0};
	int64_t t = 1000;
	int i;

	(void) state;
	setup(10, 5, 10000);
	for (i = 0; i < 5; i++)
		assert_int_equal(gw_rate_take(&r, &srv, t), GW_RATE_OK);
	assert_int_equal(gw_rate_take(&r, &srv, t), GW_RATE_REFUSED);
	assert_int_equal(srv.n_rate_limited, 1);
	/* 10/s: one token every 100 ms */
	assert_int_equal(gw_rate_take(&r, &srv, t + 99), GW_RATE_REFUSED);
	assert_int_equal(gw_rate_take(&r, &srv, t + 200), GW_RATE_OK);
	/* never more than the burst, however long the pause */
	t += 60000;
	for (i = 0; i < 5; i++)
		assert_int_equal(gw_rate_take(&r, &srv, t), GW_RATE_OK);
	assert_int_equal(gw_rate_take(&r, &srv, t), GW_RATE_REFUSED);
}

static void
test_close_after_a_streak_without_pause(void **state)
{
	struct gw_rate r = {0};
	int64_t t = 1000, end;
	enum gw_rate_verdict v = GW_RATE_OK;

	(void) state;
	setup(10, 1, 3000);
	/* twice the rate: every other message passes, the streak of
	 * refusals never pauses for GW_RATE_PAUSE_MS, so it closes */
	for (end = t + 5000; t < end; t += 50) {
		v = gw_rate_take(&r, &srv, t);
		if (v == GW_RATE_CLOSE)
			break;
	}
	assert_int_equal(v, GW_RATE_CLOSE);
	assert_true(gw_rate_streak(&r, t) >= 3000);
	assert_true(t < 1000 + 3000 + 200);
}

static void
test_a_pause_ends_the_streak(void **state)
{
	struct gw_rate r = {0};
	int64_t t = 1000;
	int i;

	(void) state;
	setup(10, 1, 3000);
	for (i = 0; i < 20; i++) {
		/* bursts of refusals, each followed by a pause */
		assert_int_equal(gw_rate_take(&r, &srv, t), GW_RATE_OK);
		assert_int_equal(gw_rate_take(&r, &srv, t + 1),
				 GW_RATE_REFUSED);
		t += GW_RATE_PAUSE_MS + 10;
	}
}

static void
test_off(void **state)
{
	struct gw_rate r = {0};
	int i;

	(void) state;
	setup(0, 1, 1);
	for (i = 0; i < 1000; i++)
		assert_int_equal(gw_rate_take(&r, &srv, 1000), GW_RATE_OK);
	assert_int_equal(srv.n_rate_limited, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_close_after_a_streak_without_pause),
		cmocka_unit_test(test_a_pause_ends_the_streak),
		cmocka_unit_test(test_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
