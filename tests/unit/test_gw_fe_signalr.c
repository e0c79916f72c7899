/*
 * Unit tests for the decisions of the SignalR drop-in that need no
 * connection (gateway/gw_sr_negotiate.c): which signalr_paths values are
 * valid, and which request paths are a hub or its negotiate endpoint (the
 * router's matchers). The hub protocol itself is test_gw_signalr.c's; the
 * frontend runs end to end in tests/compat/signalr.test.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_fe_signalr.h"
#include "gw_path.h"
#include "gw_server.h"

static void
test_paths_check(void **state)
{
	(void) state;
	assert_null(gw_signalr_paths_check("/hubs/location,/hubs/presence"));
	assert_null(gw_signalr_paths_check(" /a , /b.c/d_e~f-g ,"));
	assert_null(gw_signalr_paths_check(""));
	assert_null(gw_signalr_paths_check("/a/b/c/d/e/f"));
	assert_non_null(gw_signalr_paths_check("/"));
	assert_non_null(gw_signalr_paths_check("hubs"));
	assert_non_null(gw_signalr_paths_check("/hubs/"));
	assert_non_null(gw_signalr_paths_check("/hubs//x"));
	assert_non_null(gw_signalr_paths_check("/hubs?x=1"));
	assert_non_null(gw_signalr_paths_check("/hub%20s"));
	assert_non_null(gw_signalr_paths_check("/a/b/c/d/e/f/g"));
	assert_non_null(gw_signalr_paths_check("/ok,/not ok"));
}

/* Parses url into *pp (buffer in buf) and returns pp. */
static struct gw_path *
path(struct gw_path *pp, char *buf, const char *url)
{
	memset(pp, 0, sizeof(*pp));
	pp->buf = buf;
	assert_int_equal(gw_path_parse(url, strlen(url), pp), 0);
	return pp;
}

static void
test_match(void **state)
{
	struct gw_config cfg;
	struct gw_path pp;
	char buf[256];

	(void) state;
	gw_config_defaults(&cfg);
	assert_true(gw_signalr_is_hub(&cfg, path(&pp, buf, "/hubs/location")));
	assert_true(gw_signalr_is_hub(&cfg, path(&pp, buf, "/hubs/presence")));
	assert_true(gw_signalr_is_hub(&cfg,
				      path(&pp, buf, "/hubs/presence/?id=x")));
	assert_true(gw_signalr_is_hub(&cfg,
				      path(&pp, buf, "/hubs/%6Cocation?a=b")));
	assert_false(gw_signalr_is_hub(&cfg, path(&pp, buf, "/hubs")));
	assert_false(gw_signalr_is_hub(&cfg, path(&pp, buf, "/hubs/other")));
	assert_false(
		gw_signalr_is_hub(&cfg, path(&pp, buf, "/hubs/location/x")));
	assert_false(gw_signalr_is_hub(
		&cfg, path(&pp, buf, "/hubs/location/negotiate")));
	assert_true(gw_signalr_is_negotiate(
		&cfg, path(&pp, buf, "/hubs/location/negotiate")));
	assert_true(gw_signalr_is_negotiate(
		&cfg, path(&pp, buf, "/hubs/presence/negotiate?v=1")));
	assert_false(gw_signalr_is_negotiate(
		&cfg, path(&pp, buf, "/hubs/location/negotiate/")));
	assert_false(gw_signalr_is_negotiate(
		&cfg, path(&pp, buf, "/hubs/location//negotiate")));
	assert_false(
		gw_signalr_is_negotiate(&cfg, path(&pp, buf, "/negotiate")));
	assert_false(gw_signalr_is_negotiate(
		&cfg, path(&pp, buf, "/hubs/other/negotiate")));
	assert_false(gw_signalr_is_negotiate(
		&cfg, path(&pp, buf, "/hubs/location")));

	cfg.signalr_paths = "";
	assert_false(
		gw_signalr_is_hub(&cfg, path(&pp, buf, "/hubs/location")));
	assert_false(gw_signalr_is_negotiate(
		&cfg, path(&pp, buf, "/hubs/location/negotiate")));
	cfg.signalr_paths = " /chat ";
	assert_true(gw_signalr_is_hub(&cfg, path(&pp, buf, "/chat")));
	assert_true(gw_signalr_is_negotiate(
		&cfg, path(&pp, buf, "/chat/negotiate")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths_check),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
