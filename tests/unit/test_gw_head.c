/*
 * Unit tests for gateway/gw_head.c: which request heads pass the check,
 * where a refused one is cut (the parser gets the bytes before the
 * offending one), and that the verdict does not depend on how the bytes
 * are split across reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gw_head.h"

/* Scans req in pieces of `step` bytes (0: at once), as reads would hand it
 * over. Returns how many bytes passed before the head ended or was
 * refused; *err gets the reason of a refusal. */
static size_t
scan(const char *req, size_t len, size_t step, const char **err)
{
	struct gw_head s;
	size_t off = 0;

	gw_head_reset(&s);
	while (off < len) {
		size_t n = step == 0 || len - off < step ? len - off : step;
		size_t ok = gw_head_scan(&s, req + off, n);
		off += ok;
		if (s.err != NULL || gw_head_done(&s) || ok < n)
			break;
	}
	*err = s.err;
	return off;
}

/* The head is accepted and ends where the first "\r\n\r\n" after any
 * leading empty lines does, with any split of the bytes. */
static void
accepted(const char *req)
{
	size_t len = strlen(req), end, step;
	const char *p = req, *err;

	while (p[0] == '\r' && p[1] == '\n')
		p += 2;
	end = (size_t) (strstr(p, "\r\n\r\n") - req) + 4;
	for (step = 0; step <= len; step++) {
		size_t n = scan(req, len, step, &err);
		if (err != NULL)
			fail_msg("refused (%s), split %zu: %s", err, step,
				 req);
		if (n != end)
			fail_msg("head end %zu, want %zu, split %zu: %s", n,
				 end, step, req);
	}
}

/* The head is refused at byte `at` (the first offending one), with any
 * split of the bytes. len 0: strlen(req). */
static void
refused(const char *req, size_t len, size_t at)
{
	size_t step;
	const char *err;

	if (len == 0)
		len = strlen(req);
	for (step = 0; step <= len; step++) {
		size_t n = scan(req, len, step, &err);
		if (err == NULL)
			fail_msg("accepted, split %zu: %s", step, req);
		if (n != at)
			fail_msg(
				"refused at %zu, want %zu (%s), split %zu: %s",
				n, at, err, step, req);
	}
}

/* Refused at the offset of the first occurrence of `mark` in req. */
static void
refused_at(const char *req, const char *mark)
{
	refused(req, 0, (size_t) (strstr(req, mark) - req));
}

static void
test_good_heads(void **state)
{
	(void) state;
	accepted("GET /healthz HTTP/1.1\r\n\r\n");
	accepted("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	accepted("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
	accepted("POST /v1/presence/query?user_id=a%20b HTTP/1.1\r\n"
		 "Host: x\r\nContent-Length:15\r\n\r\n{\"user_ids\":[]}");
	accepted("POST / HTTP/1.1\r\nContent-Length: \t 15 \t\r\n\r\n");
	accepted("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
		 "transfer-encoding: chunked\r\n\r\n");
	accepted("GET / HTTP/1.1\r\nX-A.b_c~d!#$%&'*+^`|: v\r\n"
		 "X-Empty:\r\nX-Tab:\tv\t w\r\nX-Utf8: \xc3\xa9\r\n\r\n");
	/* Names longer than the tracked ones, and near misses. */
	accepted("GET / HTTP/1.1\r\nContent-Length-X: 1, 2\r\n"
		 "X-Content-Length: a\r\nTransfer-Encodings: b\r\n"
		 "Content-Lengt: c\r\nContent-Length: 0\r\n\r\n");
	accepted("GET /ws/presence/\xc3\xa9 HTTP/1.1\r\n\r\n");
}

static void
test_whitespace_in_name(void **state)
{
	(void) state;
	refused_at("POST / HTTP/1.1\r\nContent-Length : 15\r\n\r\n", " :");
	refused_at("POST / HTTP/1.1\r\nContent-Length\t: 15\r\n\r\n", "\t:");
	refused_at("GET / HTTP/1.1\r\nBad Header\r\n\r\n", " Header");
}

static void
test_content_length(void **state)
{
	(void) state;
	/* the second name's colon is the offending byte */
	refused_at("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
		   "content-length: 5\r\n\r\n",
		   ": 5\r\n\r\n");
	refused_at("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
		   "content-length: 6\r\n\r\n",
		   ": 6");
	refused_at("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", ",");
	refused_at("POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n", "5\r\n");
	refused_at("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "x");
	refused_at("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "-1");
	refused_at("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", "\r\n\r\n");
	refused_at("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n",
		   ": chunked");
	refused_at("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		   "Content-Length: 5\r\n\r\n",
		   ": 5");
}

static void
test_obs_fold(void **state)
{
	(void) state;
	refused_at("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", " b");
	refused_at("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n", "\tb");
	refused_at("GET / HTTP/1.1\r\n Host: x\r\n\r\n", " Host");
}

static void
test_bare_cr_lf(void **state)
{
	(void) state;
	refused_at("GET / HTTP/1.1\nHost: x\r\n\r\n", "\n");
	refused_at("GET / HTTP/1.1\r\nHost: x\n\r\n", "\n\r\n");
	refused("GET / HTTP/1.1\r\nHost: x\r\n\n", 0, 25);
	refused_at("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", "Y");
	refused_at("GET / HTTP/1.1\rHost: x\r\n\r\n", "Host");
	refused_at("GET / HTTP/1.1\r\nHost: x\r\n\rX", "X");
	refused_at("\nGET / HTTP/1.1\r\n\r\n", "\n");
	refused_at("\rGET / HTTP/1.1\r\n\r\n", "GET");
	refused_at("GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n", "\nb");
}

static void
test_header_name_chars(void **state)
{
	static const char bad[] = "()<>@,;\\\"/[]?={}\x01\x7f\x80\xe9";
	char req[64];
	size_t i;

	(void) state;
	for (i = 0; i < sizeof(bad) - 1; i++) {
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX%cA: v\r\n\r\n",
			 bad[i]);
		refused(req, 0, 17);
	}
	refused_at("GET / HTTP/1.1\r\n: v\r\n\r\n", ": v");
	refused_at("GET / HTTP/1.1\r\nNoColon\r\n\r\n", "\r\n\r\n");
	/* and NUL, which strlen would hide */
	refused("GET / HTTP/1.1\r\nX\0A: v\r\n\r\n", 27, 17);
}

static void
test_header_value_chars(void **state)
{
	(void) state;
	refused_at("GET / HTTP/1.1\r\nX-A: a\x01"
		   "b\r\n\r\n",
		   "\x01");
	refused_at("GET / HTTP/1.1\r\nX-A: a\x7f"
		   "b\r\n\r\n",
		   "\x7f");
	refused("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 28, 22);
}

static void
test_request_line(void **state)
{
	(void) state;
	refused_at("GET /a\tb HTTP/1.1\r\n\r\n", "\t");
	refused_at("GET /a\x0c"
		   "b HTTP/1.1\r\n\r\n",
		   "\x0c");
	refused_at("GET /a\x7f"
		   "b HTTP/1.1\r\n\r\n",
		   "\x7f");
	refused_at("GET /a\x01"
		   "b HTTP/1.1\r\n\r\n",
		   "\x01");
	refused("GET /a\0b HTTP/1.1\r\n\r\n", 21, 6);
	refused_at("GET  / HTTP/1.1\r\n\r\n", " / ");
	refused_at("GET /a b HTTP/1.1\r\n\r\n", " HTTP");
	refused_at("GET / HTTP/1.1 \r\n\r\n", " \r\n");
	refused_at("GET /\r\n\r\n", "\r\n");
	refused_at("GET / \r\n\r\n", "\r\n");
	refused_at("GET\t/ HTTP/1.1\r\n\r\n", "\t");
	refused_at(" GET / HTTP/1.1\r\n\r\n", " GET");
}

/* After a refusal nothing more passes; after a reset a new head does. */
static void
test_reset(void **state)
{
	struct gw_head s;
	const char *bad = "GET /a\tb HTTP/1.1\r\n\r\n";
	const char *good = "GET / HTTP/1.1\r\n\r\nbody";

	(void) state;
	gw_head_reset(&s);
	assert_int_equal(gw_head_scan(&s, bad, strlen(bad)), 6);
	assert_non_null(s.err);
	assert_int_equal(gw_head_scan(&s, "x", 1), 0);
	gw_head_reset(&s);
	assert_int_equal(gw_head_scan(&s, good, strlen(good)), 18);
	assert_true(gw_head_done(&s));
	/* the body is the parser's */
	assert_int_equal(gw_head_scan(&s, "\n\r \x01", 4), 4);
	assert_null(s.err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_heads),
		cmocka_unit_test(test_whitespace_in_name),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_obs_fold),
		cmocka_unit_test(test_bare_cr_lf),
		cmocka_unit_test(test_header_name_chars),
		cmocka_unit_test(test_header_value_chars),
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
