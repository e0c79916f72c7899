/*
 * Unit tests for gateway/gw_auth.c: tokens are made here with libjwt and
 * checked against every rule of PROTOCOL.md §2 (HS256 only, exp required
 * and in the future, nbf not in the future, sub a valid user id). Tokens
 * with a header libjwt would not write are signed by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gw_auth.h"

static struct gw_config cfg;
static const char key[] = "test-secret";

/* A token with the given claims (NULL/0 = absent), signed with k. */
static char *
make(jwt_alg_t alg, const char *k, const char *sub, long exp, long nbf,
     int admin)
{
	jwt_t *j;
	char *s;

	jwt_new(&j);
	if (sub != NULL)
		jwt_add_grant(j, "sub", sub);
	if (exp != 0)
		jwt_add_grant_int(j, "exp", exp);
	if (nbf != 0)
		jwt_add_grant_int(j, "nbf", nbf);
	if (admin >= 0)
		jwt_add_grant_bool(j, "admin", admin);
	jwt_set_alg(j, alg, (const unsigned char *) k,
		    k ? (int) strlen(k) : 0);
	s = jwt_encode_str(j);
	jwt_free(j);
	return s;
}

static int
verify(char *tok, char **user, bool *admin)
{
	int rv = gw_auth_verify(&cfg, tok, strlen(tok), user, admin);
	free(tok);
	return rv;
}

static void
test_good(void **state)
{
	long now = (long) time(NULL);
	char *user;
	bool admin;

	(void) state;
	assert_int_equal(
		verify(make(JWT_ALG_HS256, key, "alice", now + 60, 0, -1),
		       &user, &admin),
		0);
	assert_string_equal(user, "alice");
	assert_false(admin);
	free(user);
	assert_int_equal(
		verify(make(JWT_ALG_HS256, key, "root", now + 60, now - 5, 1),
		       &user, &admin),
		0);
	assert_true(admin);
	free(user);
}

static void
test_bad(void **state)
{
	long now = (long) time(NULL);
	char *user;
	bool admin;

	(void) state;
	/* wrong key */
	assert_int_equal(
		verify(make(JWT_ALG_HS256, "other", "a", now + 60, 0, -1),
		       &user, &admin),
		-1);
	assert_null(user);
	/* another algorithm, even with the right key */
	assert_int_equal(verify(make(JWT_ALG_HS512, key, "a", now + 60, 0, -1),
				&user, &admin),
			 -1);
	/* alg none */
	assert_int_equal(verify(make(JWT_ALG_NONE, NULL, "a", now + 60, 0, -1),
				&user, &admin),
			 -1);
	/* expired, missing exp, nbf in the future */
	assert_int_equal(verify(make(JWT_ALG_HS256, key, "a", now - 1, 0, -1),
				&user, &admin),
			 -1);
	assert_int_equal(
		verify(make(JWT_ALG_HS256, key, "a", 0, 0, -1), &user, &admin),
		-1);
	assert_int_equal(
		verify(make(JWT_ALG_HS256, key, "a", now + 60, now + 30, -1),
		       &user, &admin),
		-1);
	/* no sub, invalid sub */
	assert_int_equal(
		verify(make(JWT_ALG_HS256, key, NULL, now + 60, 0, -1), &user,
		       &admin),
		-1);
	assert_int_equal(
		verify(make(JWT_ALG_HS256, key, "a\001b", now + 60, 0, -1),
		       &user, &admin),
		-1);
	/* garbage */
	assert_int_equal(gw_auth_verify(&cfg, "a.b.c", 5, &user, &admin), -1);
	assert_int_equal(gw_auth_verify(&cfg, "", 0, &user, &admin), -1);
}

/* The signature is compared byte for byte over its exact base64url text:
 * one character changed, padding added or a part missing is refused. */
static void
test_signature_text(void **state)
{
	long now = (long) time(NULL);
	char *tok = make(JWT_ALG_HS256, key, "alice", now + 60, 0, -1);
	size_t n = strlen(tok);
	char *user = NULL, *buf = malloc(n + 2);
	bool admin;

	(void) state;
	memcpy(buf, tok, n + 1);
	assert_int_equal(gw_auth_verify(&cfg, buf, n, &user, &admin), 0);
	free(user);
	buf[n - 1] = buf[n - 1] == 'A' ? 'B' : 'A';
	assert_int_equal(gw_auth_verify(&cfg, buf, n, &user, &admin), -1);
	memcpy(buf, tok, n);
	buf[n] = '=';
	buf[n + 1] = '\0';
	assert_int_equal(gw_auth_verify(&cfg, buf, n + 1, &user, &admin), -1);
	assert_int_equal(gw_auth_verify(&cfg, tok, strrchr(tok, '.') - tok,
					&user, &admin),
			 -1);
	free(buf);
	free(tok);
}

/* Appends the unpadded base64url of p[0..n) to out. */
static void
b64url_cat(char *out, const void *p, size_t n)
{
	char *o = out + strlen(out);
	int len = EVP_EncodeBlock((unsigned char *) o, p, (int) n);

	while (len > 0 && o[len - 1] == '=')
		len--;
	o[len] = '\0';
	for (; *o; o++) {
		if (*o == '+')
			*o = '-';
		else if (*o == '/')
			*o = '_';
	}
}

/* A token with exactly this header and payload JSON, signed HS256 with
 * key whatever the header says. The caller frees it. */
static char *
make_raw(const char *header, const char *payload)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char *tok = calloc(1, 1024);

	b64url_cat(tok, header, strlen(header));
	tok[strlen(tok)] = '.'; /* calloc: still NUL-terminated */
	b64url_cat(tok, payload, strlen(payload));
	HMAC(EVP_sha256(), key, (int) strlen(key), (unsigned char *) tok,
	     strlen(tok), mac, &maclen);
	tok[strlen(tok)] = '.'; /* calloc: still NUL-terminated */
	b64url_cat(tok, mac, maclen);
	return tok;
}

/* "alg" is case-sensitive (RFC 7515 §4.1.1), libjwt's match is not: only
 * the exact "HS256" passes, even with a correct HS256 signature. */
static void
test_alg_exact(void **state)
{
	static const char *const bad[] = {
		"{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"Hs256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS256 \",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS256\\u0000\"}",
		"{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
		"{\"alg\":[\"HS256\"]}",
		"{\"typ\":\"JWT\"}",
		"[\"HS256\"]",
		"HS256",
	};
	char payload[128], *user = NULL;
	bool admin;
	size_t i;

	(void) state;
	snprintf(payload, sizeof(payload), "{\"sub\":\"alice\",\"exp\":%ld}",
		 (long) time(NULL) + 60);
	assert_int_equal(verify(make_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
					 payload),
				&user, &admin),
			 0);
	assert_string_equal(user, "alice");
	free(user);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		user = NULL;
		if (verify(make_raw(bad[i], payload), &user, &admin) != -1)
			fail_msg("accepted header %s", bad[i]);
		assert_null(user);
	}
}

static void
test_bearer(void **state)
{
	(void) state;
	assert_string_equal(gw_auth_bearer("Bearer abc"), "abc");
	assert_string_equal(gw_auth_bearer("bearer   abc"), "abc");
	assert_null(gw_auth_bearer("Basic abc"));
	assert_null(gw_auth_bearer("Bearer"));
	assert_null(gw_auth_bearer("Bearer "));
	assert_null(gw_auth_bearer("Bearerabc"));
	assert_null(gw_auth_bearer(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_signature_text),
		cmocka_unit_test(test_alg_exact),
		cmocka_unit_test(test_bearer),
	};
	cfg.jwt_secret = (unsigned char *) key;
	cfg.jwt_secret_len = strlen(key);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
