/*
 * Unit tests for gateway/gw_json.c: the presence object clients see
 * (PROTOCOL.md §4: nulls for no text, never-seen and no meta) and the
 * validation of id lists; the ids and times of the drop-in endpoints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_json.h"

static char *
dump(json_t *j)
{
	struct gw_buf b = {0};
	char *s;

	gw_json_dump(j, &b);
	gw_buf_append(&b, "", 1);
	s = strdup(b.data);
	gw_buf_free(&b);
	json_decref(j);
	return s;
}

static void
test_presence(void **state)
{
	Prs__Presence p = PRS__PRESENCE__INIT;
	char *s;

	(void) state;
	p.user_id = "alice";
	p.status = PRS__STATUS__ST_AWAY;
	p.is_online = true;
	p.since = 5;
	s = dump(gw_json_presence(&p));
	assert_string_equal(s,
			    "{\"user_id\":\"alice\",\"status\":\"away\","
			    "\"is_online\":true,\"text\":null,"
			    "\"last_seen\":null,\"since\":5,\"meta\":null}");
	free(s);
	p.has_text = true;
	p.text = "lunch";
	p.last_seen = 7;
	p.meta = "{\"user_name\":\"A\"}";
	s = dump(gw_json_presence(&p));
	assert_string_equal(s, "{\"user_id\":\"alice\",\"status\":\"away\","
			       "\"is_online\":true,\"text\":\"lunch\","
			       "\"last_seen\":7,\"since\":5,"
			       "\"meta\":{\"user_name\":\"A\"}}");
	free(s);
	/* meta that is not an object, text that is not UTF-8 */
	p.meta = "[1]";
	p.text = "\xff";
	s = dump(gw_json_presence(&p));
	assert_non_null(strstr(s, "\"meta\":null"));
	assert_non_null(strstr(s, "\"text\":\"\""));
	free(s);
}

static void
test_ids(void **state)
{
	const char *why;
	json_t *v;

	(void) state;
	v = json_pack("[s,s]", "a", "b");
	assert_int_equal(gw_json_ids(v, 10, &why), 0);
	assert_int_equal(gw_json_ids(v, 1, &why), -2);
	json_decref(v);
	v = json_pack("[s,i]", "a", 1);
	assert_int_equal(gw_json_ids(v, 10, &why), -1);
	json_decref(v);
	v = json_pack("[s]", "");
	assert_int_equal(gw_json_ids(v, 10, &why), -1);
	json_decref(v);
	v = json_string("a");
	assert_int_equal(gw_json_ids(v, 10, &why), -1);
	json_decref(v);
}

/* Drop-in endpoints: integer-looking ids are numbers, the rest strings. */
static void
test_id(void **state)
{
	static const struct {
		const char *id, *json;
	} cases[] = {
		{"0", "[0]"},
		{"7", "[7]"},
		{"1234567890", "[1234567890]"},
		{"9007199254740992", "[9007199254740992]"}, /* 2^53 */
		{"9007199254740993", "[\"9007199254740993\"]"},
		{"12345678901234567", "[\"12345678901234567\"]"},
		{"007", "[\"007\"]"},
		{"00", "[\"00\"]"},
		{"-1", "[\"-1\"]"},
		{"+1", "[\"+1\"]"},
		{"1.5", "[\"1.5\"]"},
		{"1e3", "[\"1e3\"]"},
		{" 1", "[\" 1\"]"},
		{"alice", "[\"alice\"]"},
		{"", "[\"\"]"},
	};
	size_t i;

	(void) state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *a = json_array();
		char *s;

		json_array_append_new(a, gw_json_id(cases[i].id));
		s = dump(a);
		assert_string_equal(s, cases[i].json);
		free(s);
	}
}

static void
test_time(void **state)
{
	char buf[GW_JSON_TIME_LEN];
	char *s;

	(void) state;
	gw_json_time_fmt(buf, INT64_C(1796205600123));
	assert_string_equal(buf, "2026-12-02T10:00:00.123Z");
	gw_json_time_fmt(buf, 0);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	gw_json_time_fmt(buf, 5);
	assert_string_equal(buf, "1970-01-01T00:00:00.005Z");
	s = dump(json_pack("[o,o]", gw_json_time(0), gw_json_time(1)));
	assert_string_equal(s, "[null,\"1970-01-01T00:00:00.001Z\"]");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_presence),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
