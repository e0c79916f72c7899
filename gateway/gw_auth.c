/*
 * JWT verification with libjwt. libjwt checks the signature against the
 * algorithm the token itself names, so after jwt_decode we insist the
 * algorithm is HS256 (anything else, "none" included, is refused). Claims
 * are then read from the token's JSON with jansson, which tells numbers,
 * strings and booleans apart exactly (jwt_get_grant_int turns a string
 * "exp" into 0 without an error).
 */
#include "gw_auth.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prs_util.h"

#define SECRET_MAX 4096

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
	jwt_t *jwt = NULL;
	char *tok = NULL, *grants = NULL;
	json_t *claims = NULL, *v;
	const char *sub;
	double now = (double) prs_now_ms() / 1000.0, t;
	int rc = -1;

	*user = NULL;
	*admin = false;
	if (len == 0 || len > GW_AUTH_TOKEN_MAX || cfg->jwt_secret == NULL)
		return -1;
	tok = xstrndup(token, len);
	if (strlen(tok) != len)
		goto out; /* embedded NUL */
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
