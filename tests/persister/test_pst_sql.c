/*
 * Unit tests of persister/pst_sql.c: the array-literal builder (the one
 * place where data meets SQL syntax), WriteBatch -> parameter conversion
 * with its deduplication rules, and the checks applied to result rows,
 * fed hand-built PGresults so that no server is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pst_sql.h"

static void
test_arr_empty(void **state)
{
	struct pst_arr a;

	pst_arr_init(&a);
	assert_string_equal(pst_arr_end(&a), "{}");
	pst_arr_free(&a);
}

static void
test_arr_strings(void **state)
{
	struct pst_arr a;

	pst_arr_init(&a);
	pst_arr_str(&a, "a");
	pst_arr_str(&a, NULL);
	pst_arr_str(&a, "");
	pst_arr_str(&a, "say \"hi\"");
	pst_arr_str(&a, "back\\slash\\");
	pst_arr_str(&a, "a,b{c} d");
	pst_arr_str(&a, "NULL");
	pst_arr_str(&a, "\xc3\xbc\xf0\x9f\x98\x80");
	assert_int_equal(a.n, 8);
	assert_string_equal(
		pst_arr_end(&a),
		"{\"a\",NULL,\"\",\"say \\\"hi\\\"\",\"back\\\\slash\\\\\","
		"\"a,b{c} d\",\"NULL\",\"\xc3\xbc\xf0\x9f\x98\x80\"}");
	pst_arr_free(&a);
}

static void
test_arr_ints_bools(void **state)
{
	struct pst_arr a, b;

	pst_arr_init(&a);
	pst_arr_i64(&a, 0);
	pst_arr_i64(&a, -1);
	pst_arr_i64(&a, INT64_MIN);
	pst_arr_i64(&a, INT64_MAX);
	pst_arr_null(&a);
	assert_string_equal(
		pst_arr_end(&a),
		"{0,-1,-9223372036854775808,9223372036854775807,NULL}");
	pst_arr_free(&a);

	pst_arr_init(&b);
	pst_arr_bool(&b, true);
	pst_arr_bool(&b, false);
	assert_string_equal(pst_arr_end(&b), "{t,f}");
	pst_arr_free(&b);
}

static void
test_arr_grows(void **state)
{
	struct pst_arr a;
	const char *s;
	size_t i, quotes = 0;

	pst_arr_init(&a);
	for (i = 0; i < 10000; i++)
		pst_arr_str(&a, i % 2 ? "\"\\\"" : "x");
	s = pst_arr_end(&a);
	/* 5000 * "x" (3) + 5000 * "\"\\\"" (8) + 9999 commas + braces */
	assert_int_equal(strlen(s), 5000 * 3 + 5000 * 8 + 9999 + 2);
	for (i = 0; s[i]; i++)
		quotes += s[i] == '"';
	assert_int_equal(quotes, 10000 * 2 + 5000 * 2);
	assert_int_equal(s[strlen(s) - 1], '}');
	pst_arr_free(&a);
}

/* A WriteBatch built on the stack. */
struct tb {
	Prs__WriteBatch b;
	Prs__PresenceRow rows[8], *rowp[8];
	Prs__Presence ps[8];
	Prs__HistoryRow hist[4], *histp[4];
	Prs__MemberOp mem[8], *memp[8];
};

static void
tb_init(struct tb *t)
{
	memset(t, 0, sizeof(*t));
	prs__write_batch__init(&t->b);
	t->b.rows = t->rowp;
	t->b.history = t->histp;
	t->b.members = t->memp;
}

static Prs__Presence *
tb_row(struct tb *t, const char *user, Prs__Status st, int64_t version)
{
	size_t i = t->b.n_rows++;

	prs__presence_row__init(&t->rows[i]);
	prs__presence__init(&t->ps[i]);
	t->rows[i].p = &t->ps[i];
	t->rows[i].version = version;
	t->ps[i].user_id = (char *) user;
	t->ps[i].status = st;
	t->ps[i].since = 100 + (int64_t) i;
	t->rowp[i] = &t->rows[i];
	return &t->ps[i];
}

static void
tb_member(struct tb *t, const char *thread, const char *user, bool add)
{
	size_t i = t->b.n_members++;

	prs__member_op__init(&t->mem[i]);
	t->mem[i].thread_id = (char *) thread;
	t->mem[i].user_id = (char *) user;
	t->mem[i].add = add;
	t->memp[i] = &t->mem[i];
}

static void
tb_history(struct tb *t, const char *user, Prs__Status st, int64_t at)
{
	size_t i = t->b.n_history++;

	prs__history_row__init(&t->hist[i]);
	t->hist[i].user_id = (char *) user;
	t->hist[i].status = st;
	t->hist[i].at = at;
	t->histp[i] = &t->hist[i];
}

static void
test_batch_rows(void **state)
{
	struct tb t;
	struct pst_batch_params bp;
	Prs__Presence *p;

	tb_init(&t);
	p = tb_row(&t, "u2", PRS__STATUS__ST_ONLINE, 5);
	p->is_online = true;
	p->has_text = true;
	p->text = "hi \"x\"";
	p->meta = "{\"a\":1}";
	p->last_seen = 42;
	tb_row(&t, "u3", PRS__STATUS__ST_DND, 7);
	tb_row(&t, "u3", PRS__STATUS__ST_AWAY, 9); /* kept: highest version */
	tb_row(&t, "u3", PRS__STATUS__ST_ONLINE, 8);
	p = tb_row(&t, "u1", PRS__STATUS__ST_INVISIBLE, 1);
	p->has_text = false;
	p->text = "ignored";
	tb_row(&t, "", PRS__STATUS__ST_ONLINE, 1);        /* invalid id */
	tb_row(&t, "bad\nid", PRS__STATUS__ST_ONLINE, 1); /* invalid id */
	t.rowp[7] = &t.rows[7];
	prs__presence_row__init(&t.rows[7]); /* no Presence at all */
	t.b.n_rows = 8;

	pst_batch_params_build(&bp, &t.b);
	assert_int_equal(bp.nrows, 3);
	assert_int_equal(bp.ndup, 2);
	assert_int_equal(bp.nskipped, 3);
	/* Sorted by user id. */
	assert_string_equal(bp.values[PST_BP_USER], "{\"u1\",\"u2\",\"u3\"}");
	assert_string_equal(bp.values[PST_BP_STATUS],
			    "{\"invisible\",\"online\",\"away\"}");
	assert_string_equal(bp.values[PST_BP_TEXT],
			    "{NULL,\"hi \\\"x\\\"\",NULL}");
	assert_string_equal(bp.values[PST_BP_ONLINE], "{f,t,f}");
	assert_string_equal(bp.values[PST_BP_LAST_SEEN], "{NULL,42,NULL}");
	assert_string_equal(bp.values[PST_BP_SINCE], "{104,100,102}");
	assert_string_equal(bp.values[PST_BP_META],
			    "{NULL,\"{\\\"a\\\":1}\",NULL}");
	assert_string_equal(bp.values[PST_BP_VERSION], "{1,5,9}");
	assert_string_equal(bp.values[PST_BP_H_USER], "{}");
	assert_string_equal(bp.values[PST_BP_ADD_THREAD], "{}");
	pst_batch_params_free(&bp);
}

static void
test_batch_equal_versions_keep_last(void **state)
{
	struct tb t;
	struct pst_batch_params bp;

	tb_init(&t);
	tb_row(&t, "u", PRS__STATUS__ST_ONLINE, 3);
	tb_row(&t, "u", PRS__STATUS__ST_AWAY, 3);
	pst_batch_params_build(&bp, &t.b);
	assert_string_equal(bp.values[PST_BP_STATUS], "{\"away\"}");
	pst_batch_params_free(&bp);
}

static void
test_batch_members_history(void **state)
{
	struct tb t;
	struct pst_batch_params bp;

	tb_init(&t);
	tb_member(&t, "t1", "a", true);
	tb_member(&t, "t1", "b", true);
	tb_member(&t, "t1", "a", false); /* last op on (t1,a) wins */
	tb_member(&t, "t2", "a", false);
	tb_member(&t, "t2", "a", true); /* last op on (t2,a) wins */
	tb_member(&t, "t2", "", true);  /* invalid */
	tb_history(&t, "a", PRS__STATUS__ST_ONLINE, 10);
	tb_history(&t, "a", PRS__STATUS__ST_OFFLINE, 20);
	tb_history(&t, "", PRS__STATUS__ST_OFFLINE, 30);
	pst_batch_params_build(&bp, &t.b);
	assert_int_equal(bp.nadd, 2);
	assert_int_equal(bp.ndel, 1);
	assert_int_equal(bp.nhistory, 2);
	assert_int_equal(bp.nskipped, 2);
	assert_int_equal(bp.ndup, 2);
	assert_string_equal(bp.values[PST_BP_ADD_THREAD], "{\"t1\",\"t2\"}");
	assert_string_equal(bp.values[PST_BP_ADD_USER], "{\"b\",\"a\"}");
	assert_string_equal(bp.values[PST_BP_DEL_THREAD], "{\"t1\"}");
	assert_string_equal(bp.values[PST_BP_DEL_USER], "{\"a\"}");
	assert_string_equal(bp.values[PST_BP_H_USER], "{\"a\",\"a\"}");
	assert_string_equal(bp.values[PST_BP_H_STATUS],
			    "{\"online\",\"offline\"}");
	assert_string_equal(bp.values[PST_BP_H_AT], "{10,20}");
	assert_string_equal(bp.values[PST_BP_USER], "{}");
	pst_batch_params_free(&bp);
}

static void
test_batch_invalid_utf8_skipped(void **state)
{
	struct tb t;
	struct pst_batch_params bp;
	Prs__Presence *p;

	tb_init(&t);
	p = tb_row(&t, "u", PRS__STATUS__ST_ONLINE, 1);
	p->has_text = true;
	p->text = "\xff\xfe";
	p = tb_row(&t, "v", PRS__STATUS__ST_ONLINE, 1);
	p->meta = "\xc0\x80";
	pst_batch_params_build(&bp, &t.b);
	assert_int_equal(bp.nrows, 0);
	assert_int_equal(bp.nskipped, 2);
	pst_batch_params_free(&bp);
}

static void
test_parse_i64(void **state)
{
	int64_t v = 7;

	assert_int_equal(pst_parse_i64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pst_parse_i64("-9223372036854775808", &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(pst_parse_i64("9223372036854775807", &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(pst_parse_i64("9223372036854775808", &v), -1);
	assert_int_equal(pst_parse_i64("", &v), -1);
	assert_int_equal(pst_parse_i64(NULL, &v), -1);
	assert_int_equal(pst_parse_i64("-", &v), -1);
	assert_int_equal(pst_parse_i64(" 1", &v), -1);
	assert_int_equal(pst_parse_i64("1 ", &v), -1);
	assert_int_equal(pst_parse_i64("+1", &v), -1);
	assert_int_equal(pst_parse_i64("12a", &v), -1);
	assert_int_equal(pst_parse_i64("1.5", &v), -1);
}

static void
test_oneline(void **state)
{
	char a[] = "connection failed: No such file\n\tIs the server "
		   "running?\n";
	char b[] = "\n\n";
	char c[] = "plain";

	assert_string_equal(
		pst_oneline(a),
		"connection failed: No such file Is the server running?");
	assert_string_equal(pst_oneline(b), "");
	assert_string_equal(pst_oneline(c), "plain");
}

static void
test_migrate_script(void **state)
{
	char *s = pst_sql_migrate_script();

	assert_non_null(strstr(s, "pg_advisory_xact_lock("));
	assert_non_null(strstr(s, "CREATE TABLE IF NOT EXISTS "
				  "schema_migrations"));
	assert_non_null(strstr(s, "WHERE version = 1) THEN"));
	assert_non_null(strstr(s, "WHERE version = 2) THEN"));
	assert_non_null(strstr(s, "COMMIT;"));
	assert_true(strstr(s, "BEGIN;") == s);
	assert_int_equal(pst_sql_schema_version(), 3);
	free(s);
}

/* A result shaped like PST_SQL_LOAD_ROWS with the given rows; a NULL
 * cell is SQL NULL. */
static PGresult *
rows_result(int nrows, const char *cells[][9], int nfields)
{
	static const char *names[] = {"user_id",   "status",    "text",
				      "is_online", "last_seen", "since",
				      "meta",      "version",   "auto_away"};
	PGresAttDesc att[9];
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	int i, c;

	memset(att, 0, sizeof(att));
	for (c = 0; c < nfields; c++) {
		att[c].name = (char *) names[c];
		att[c].format = 0;
	}
	assert_int_equal(PQsetResultAttrs(res, nfields, att), 1);
	for (i = 0; i < nrows; i++)
		for (c = 0; c < nfields; c++)
			assert_int_equal(
				PQsetvalue(res, i, c, (char *) cells[i][c],
					   cells[i][c]
						   ? (int) strlen(cells[i][c])
						   : -1),
				1);
	return res;
}

static void
test_rows_from_result(void **state)
{
	const char *cells[][9] = {
		{"u1", "away", "brb", "t", "123", "100", "{\"a\": 1}", "7",
		 "f"},
		{"u2", "online", NULL, "f", NULL, "5", NULL, "1", "t"},
		{NULL, "online", NULL, "f", NULL, "5", NULL, "1", "f"},
		{"u4", "sleeping", NULL, "f", NULL, "5", NULL, "1", "f"},
		{"u5", "online", NULL, "yes", NULL, "5", NULL, "1", "f"},
		{"u6", "online", NULL, "t", "12x", "5", NULL, "1", "f"},
		{"u7", "online", NULL, "t", NULL, NULL, NULL, "1", "f"},
		{"u8", "online", NULL, "t", NULL, "5", NULL, NULL, "f"},
		{"u9", "online", "\xff", "t", NULL, "5", NULL, "1", "f"},
		{"", "online", NULL, "t", NULL, "5", NULL, "1", "f"},
		{"u11", "online", NULL, "t", NULL, "5", NULL, "1", NULL},
		{"u12", "online", NULL, "t", NULL, "5", NULL, "1", "x"},
	};
	int n = (int) (sizeof(cells) / sizeof(cells[0])), i;
	PGresult *res = rows_result(n, cells, 9);
	Prs__PresenceRow r;
	Prs__Presence p;
	const char *why = NULL;

	assert_true(pst_result_shape_ok(res, PST_LOAD_ROWS_NF));
	assert_false(pst_result_shape_ok(res, 2));
	assert_false(pst_result_shape_ok(NULL, 9));

	assert_int_equal(pst_row_from_result(res, 0, &r, &p, &why), 0);
	assert_ptr_equal(r.p, &p);
	assert_string_equal(p.user_id, "u1");
	assert_int_equal(p.status, PRS__STATUS__ST_AWAY);
	assert_true(p.has_text);
	assert_string_equal(p.text, "brb");
	assert_true(p.is_online);
	assert_int_equal(p.last_seen, 123);
	assert_int_equal(p.since, 100);
	assert_string_equal(p.meta, "{\"a\": 1}");
	assert_int_equal(r.version, 7);
	assert_false(p.auto_away);

	assert_int_equal(pst_row_from_result(res, 1, &r, &p, &why), 0);
	assert_false(p.has_text);
	assert_string_equal(p.text, "");
	assert_false(p.is_online);
	assert_int_equal(p.last_seen, 0);
	assert_string_equal(p.meta, "");
	assert_true(p.auto_away);

	for (i = 2; i < n; i++) {
		why = NULL;
		assert_int_equal(pst_row_from_result(res, i, &r, &p, &why),
				 -1);
		assert_non_null(why);
	}
	PQclear(res);
}

static void
test_members_from_result(void **state)
{
	const char *cells[][9] = {
		{"t1", "u1"},
		{NULL, "u1"},
		{"t1", NULL},
		{"t\x01", "u1"},
	};
	PGresult *res = rows_result(4, cells, 2);
	Prs__MemberOp m;
	const char *why = NULL;

	assert_true(pst_result_shape_ok(res, PST_LOAD_MEMBERS_NF));
	assert_int_equal(pst_member_from_result(res, 0, &m, &why), 0);
	assert_string_equal(m.thread_id, "t1");
	assert_string_equal(m.user_id, "u1");
	assert_true(m.add);
	assert_int_equal(pst_member_from_result(res, 1, &m, &why), -1);
	assert_int_equal(pst_member_from_result(res, 2, &m, &why), -1);
	assert_int_equal(pst_member_from_result(res, 3, &m, &why), -1);
	PQclear(res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arr_empty),
		cmocka_unit_test(test_arr_strings),
		cmocka_unit_test(test_arr_ints_bools),
		cmocka_unit_test(test_arr_grows),
		cmocka_unit_test(test_batch_rows),
		cmocka_unit_test(test_batch_equal_versions_keep_last),
		cmocka_unit_test(test_batch_members_history),
		cmocka_unit_test(test_batch_invalid_utf8_skipped),
		cmocka_unit_test(test_parse_i64),
		cmocka_unit_test(test_oneline),
		cmocka_unit_test(test_migrate_script),
		cmocka_unit_test(test_rows_from_result),
		cmocka_unit_test(test_members_from_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
