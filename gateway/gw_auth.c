/*
 * JWT verification. The HS256 signature is checked here first, with
 * OpenSSL's HMAC and CRYPTO_memcmp over the exact "header.payload" bytes
 * of the token, so the comparison takes the same time whatever the bytes
 * (libjwt compares its own way, and a timing leak there would let an
 * attacker forge a signature byte by byte). Then the header's "alg" must
 * be exactly "HS256", read by us: libjwt matches algorithm names ignoring
 * case, and RFC 7515 makes them case-sensitive, so "hs256" is refused
 * like "none" or "HS512". Only then does libjwt decode the token (and
 * check the signature again against the algorithm the token names), and
 * we insist once more that it took the algorithm as HS256. Claims are
 * read from the token's JSON with jansson, which tells numbers, strings
 * and booleans apart exactly (jwt_get_grant_int turns a string "exp" into
 * 0 without an error).
 */
#include "gw_auth.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prs_util.h"

#define SECRET_MAX 4096
#define SIG_B64LEN 43 /* base64url of 32 bytes, unpadded */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			     "abcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decodes unpadded base64url s[0..n) into out (room for n bytes). Returns
 * the length, or -1 for a character outside the alphabet or a length no
 * encoding has. */
static long
b64url_decode(const char *s, size_t n, unsigned char *out)
{
	uint32_t acc = 0;
	size_t i, k = 0;
	int bits = 0;

	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		const char *p = s[i] != '\0' ? strchr(b64url, s[i]) : NULL;
		if (p == NULL)
			return -1;
		acc = (acc << 6 | (uint32_t) (p - b64url)) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (unsigned char) (acc >> bits);
		}
	}
	return (long) k;
}

/* True when the JOSE header, the base64url text tok[0..n), is a JSON
 * object without repeated names whose "alg" is exactly "HS256". */
static bool
alg_is_hs256(const char *tok, size_t n)
{
	unsigned char *raw = xmalloc(n + 1);
	long len = b64url_decode(tok, n, raw);
	json_t *hdr = NULL, *alg;
	bool ok;

	if (len >= 0)
		hdr = json_loadb((const char *) raw, (size_t) len,
				 JSON_REJECT_DUPLICATES, NULL);
	alg = json_object_get(hdr, "alg");
	ok = json_is_string(alg) && json_string_length(alg) == 5 &&
	     memcmp(json_string_value(alg), "HS256", 5) == 0;
	json_decref(hdr);
	free(raw);
	return ok;
}

/* True when tok (NUL-free, len bytes) is three dot-separated parts whose
 * third is the unpadded base64url HS256 MAC of the first two under key.
 * Constant time in the compared bytes. */
static bool
hs256_ok(const unsigned char *key, size_t klen, const char *tok, size_t len)
{
	const char *d1 = memchr(tok, '.', len), *d2;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char want[SIG_B64LEN + 1];
	uint32_t acc = 0;
	size_t i, k = 0;
	int bits = 0;

	if (d1 == NULL)
		return false;
	d2 = memchr(d1 + 1, '.', len - (size_t) (d1 + 1 - tok));
	if (d2 == NULL || (size_t) (tok + len - (d2 + 1)) != SIG_B64LEN)
		return false;
	if (HMAC(EVP_sha256(), key, (int) klen, (const unsigned char *) tok,
		 (size_t) (d2 - tok), mac, &maclen) == NULL ||
	    maclen != 32)
		return false;
	for (i = 0; i < maclen; i++) {
		acc = acc << 8 | mac[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			want[k++] = b64url[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		want[k++] = b64url[(acc << (6 - bits)) & 63];
	want[k] = '\0';
	return k == SIG_B64LEN && CRYPTO_memcmp(want, d2 + 1, SIG_B64LEN) == 0;
}

static bool
claim_time(json_t *v, double *out)
{
	if (json_is_integer(v)) {
		*out = (double) json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		*out = json_real_value(v);
		return true;
	}
	return false;
}

int
gw_auth_verify(const struct gw_config *cfg, const char *token, size_t len,
	       char **user, bool *admin)
{
	int64_t exp;

	return gw_auth_verify_exp(cfg, token, len, user, admin, &exp);
}

int
gw_auth_verify_exp(const struct gw_config *cfg, const char *token, size_t len,
		   char **user, bool *admin, int64_t *exp_ms)
{
	jwt_t *jwt = NULL;
	char *tok = NULL, *grants = NULL;
	json_t *claims = NULL, *v;
	const char *sub;
	double now = (double) prs_now_ms() / 1000.0, t;
	int rc = -1;

	*user = NULL;
	*admin = false;
	*exp_ms = 0;
	if (len == 0 || len > GW_AUTH_TOKEN_MAX || cfg->jwt_secret == NULL)
		return -1;
	tok = xstrndup(token, len);
	if (strlen(tok) != len)
		goto out; /* embedded NUL */
	if (!hs256_ok(cfg->jwt_secret, cfg->jwt_secret_len, tok, len)) {
		prs_debug("jwt: malformed token or bad HS256 signature");
		goto out;
	}
	if (!alg_is_hs256(tok, (size_t) (strchr(tok, '.') - tok))) {
		prs_debug("jwt: alg is not exactly HS256");
		goto out;
	}
	if (jwt_decode(&jwt, tok, cfg->jwt_secret,
		       (int) cfg->jwt_secret_len) != 0 ||
	    jwt == NULL) {
		prs_debug("jwt: bad token or signature");
		goto out;
	}
	if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
		prs_debug("jwt: algorithm is not HS256");
		goto out;
	}
	grants = jwt_get_grants_json(jwt, NULL);
	if (grants == NULL || (claims = json_loads(grants, 0, NULL)) == NULL ||
	    !json_is_object(claims)) {
		prs_debug("jwt: unreadable claims");
		goto out;
	}
	v = json_object_get(claims, "exp");
	if (!claim_time(v, &t) || t <= now) {
		prs_debug("jwt: exp missing or past");
		goto out;
	}
	*exp_ms = t < 9e15 ? (int64_t) (t * 1000.0) : INT64_MAX / 2;
	v = json_object_get(claims, "nbf");
	if (v != NULL && (!claim_time(v, &t) || t > now)) {
		prs_debug("jwt: nbf in the future");
		goto out;
	}
	v = json_object_get(claims, "sub");
	sub = json_string_value(v);
	if (sub == NULL || !prs_id_valid(sub, json_string_length(v))) {
		prs_debug("jwt: sub missing or not a valid user id");
		goto out;
	}
	*user = xstrndup(sub, json_string_length(v));
	*admin = json_is_true(json_object_get(claims, "admin"));
	rc = 0;
out:
	json_decref(claims);
	free(grants);
	if (jwt != NULL)
		jwt_free(jwt);
	free(tok);
	return rc;
}

const char *
gw_auth_bearer(const char *hdr)
{
	if (hdr == NULL || strncasecmp(hdr, "bearer", 6) != 0 ||
	    (hdr[6] != ' ' && hdr[6] != '\t'))
		return NULL;
	hdr += 6;
	while (*hdr == ' ' || *hdr == '\t')
		hdr++;
	return *hdr ? hdr : NULL;
}

int
gw_auth_load_secret(struct gw_config *cfg, const char *path)
{
	unsigned char buf[SECRET_MAX + 2];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		fprintf(stderr, "jwt_secret_file %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n > SECRET_MAX) {
		fprintf(stderr, "jwt_secret_file %s: longer than %d bytes\n",
			path, SECRET_MAX);
		return -1;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0) {
		fprintf(stderr, "jwt_secret_file %s: empty\n", path);
		return -1;
	}
	cfg->jwt_secret = xmalloc(n);
	memcpy(cfg->jwt_secret, buf, n);
	cfg->jwt_secret_len = n;
	return 0;
}
