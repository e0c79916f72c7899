/*
 * libFuzzer harness: JWT validation (gw_auth_verify). With the first
 * byte's low bit clear the rest is a token as a client would send it.
 * With it set, the rest is "header JSON NUL claims JSON": the harness
 * encodes both and signs them with the right secret, so the claim checks
 * behind a valid signature (alg, exp, nbf, sub, admin) are fuzzed too,
 * which random tokens would never reach.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gw_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			     "abcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t
enc(const uint8_t *in, size_t n, char *out)
{
	uint32_t acc = 0;
	size_t i, k = 0;
	int bits = 0;

	for (i = 0; i < n; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[k++] = b64url[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[k++] = b64url[(acc << (6 - bits)) & 63];
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char secret[] = "fuzz-secret";
	struct gw_config cfg = {0};
	char *tok = NULL, *user = NULL;
	size_t len;
	bool admin;

	if (size < 1)
		return 0;
	cfg.jwt_secret = secret;
	cfg.jwt_secret_len = sizeof(secret) - 1;
	if (!(data[0] & 1)) {
		len = size - 1;
		tok = malloc(len + 1);
		memcpy(tok, data + 1, len);
	} else {
		const uint8_t *h = data + 1, *nul;
		size_t hl, cl;
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int maclen = 0;

		nul = memchr(h, 0, size - 1);
		if (nul == NULL)
			return 0;
		hl = (size_t) (nul - h);
		cl = size - 1 - hl - 1;
		tok = malloc((hl + cl) * 4 / 3 + 64 + 8);
		len = enc(h, hl, tok);
		tok[len++] = '.';
		len += enc(nul + 1, cl, tok + len);
		HMAC(EVP_sha256(), secret, (int) sizeof(secret) - 1,
		     (const unsigned char *) tok, len, mac, &maclen);
		tok[len++] = '.';
		len += enc(mac, maclen, tok + len);
	}
	if (gw_auth_verify(&cfg, tok, len, &user, &admin) == 0) {
		/* Accepted: the subject must be a valid user id. */
		if (user == NULL || user[0] == '\0')
			abort();
	}
	free(user);
	free(tok);
	return 0;
}
