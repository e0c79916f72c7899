/*
 * Client authentication: HS256 JSON Web Tokens (PROTOCOL.md §2).
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_types.h"

/* Longest token we look at; longer ones are rejected unread. */
#define GW_AUTH_TOKEN_MAX 8192

/* Verifies token[0..len) against cfg's secret. On success returns 0,
 * *user gets the subject (caller frees) and *admin the admin claim; on
 * any failure returns -1 and logs why at debug level. */
int gw_auth_verify(const struct gw_config *cfg, const char *token, size_t len,
		   char **user, bool *admin);
/* The same, and *exp_ms gets the token's exp in ms since the epoch (the
 * end of a session's life under auth jwt, PROTOCOL.md §2 v1.1). */
int gw_auth_verify_exp(const struct gw_config *cfg, const char *token,
		       size_t len, char **user, bool *admin, int64_t *exp_ms);
/* Extracts the token of an "Authorization: Bearer <token>" value; NULL
 * when the value is absent or another scheme. Points into hdr. */
const char *gw_auth_bearer(const char *hdr);
/* Reads the secret from path (one trailing newline stripped) into cfg.
 * Returns 0 or -1 with a message on stderr. */
int gw_auth_load_secret(struct gw_config *cfg, const char *path);

#endif
