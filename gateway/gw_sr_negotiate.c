/*
 * Where a SignalR client meets the hub before any record (seed 000;
 * docs/MIGRATING.md "SignalR hub"): the hub paths of signalr_paths and the
 * router's matchers, the negotiate endpoint and its connection tokens,
 * who the client is, and the WebSocket upgrade of a hub connection, which
 * then belongs to gw_fe_signalr.c (gw_sr.h).
 *
 * Negotiate hands out single-use connection tokens that expire after
 * SR_TOKEN_TTL_MS, at most SR_TOKENS_MAX pending (503 beyond), in a hash
 * with a FIFO in expiry order swept by the cron. Under auth jwt a token
 * remembers who negotiated; the WebSocket may bring the token again (then
 * it must be the same user) or not (a browser's access_token= is on both).
 */
#include "gw_sr.h"

#include <http_parser.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "gw_auth.h"
#include "gw_cors.h"
#include "gw_fe_signalr.h"
#include "gw_server.h"
#include "gw_signalr.h"
#include "gw_upgrade.h"
#include "prs_util.h"

#define SR_PATH_MAX     128
#define SR_TOKENS_MAX   10000 /* negotiated, not yet connected */
#define SR_TOKEN_TTL_MS 30000
#define SR_ID_LEN       22 /* base64url of 16 random bytes */

/* A connection token from negotiate, waiting for its WebSocket. */
struct sr_token {
	char key[SR_ID_LEN + 1];
	UT_hash_handle hh;
	struct sr_token *prev, *next; /* hub->fifo: expiry order */
	char *user;                   /* who negotiated (auth jwt) */
	bool admin;
	int64_t exp;      /* that token's exp, wall ms */
	int64_t deadline; /* monotonic ms */
};

struct gw_sr_hub {
	struct sr_token *tokens; /* by key */
	struct sr_token *fifo;
	size_t ntokens;
};

/* ---- hub paths ----------------------------------------------------- */

static bool
sr_seg_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
	       ch == '_' || ch == '~';
}

/* Splits paths at commas (spaces around ignored): calls fn with each hub
 * path as a string until it returns true; returns that, else false. */
static bool
sr_paths_each(const char *paths, bool (*fn)(const char *path, void *arg),
	      void *arg)
{
	char path[SR_PATH_MAX + 1];
	const char *p = paths, *e;
	size_t n;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		for (e = p; *e != '\0' && *e != ','; e++)
			;
		for (n = (size_t) (e - p); n > 0 && p[n - 1] == ' '; n--)
			;
		if (n > 0) {
			if (n > SR_PATH_MAX)
				n = SR_PATH_MAX; /* refused by the check */
			memcpy(path, p, n);
			path[n] = '\0';
			if (fn(path, arg))
				return true;
		}
		p = e;
	}
	return false;
}

/* The check of one path: sets *arg to why it is invalid. */
static bool
sr_path_bad(const char *path, void *arg)
{
	const char **why = arg;
	size_t i, segs = 0, n = strlen(path);

	if (path[0] != '/' || n < 2)
		*why = "a hub path is absolute and not /";
	else if (n >= SR_PATH_MAX)
		*why = "a hub path is at most 127 bytes";
	for (i = 1; *why == NULL && i < n; i++) {
		if (path[i] == '/' && (path[i - 1] == '/' || i + 1 == n))
			*why = "a hub path has no empty segment and no "
			       "trailing slash";
		else if (path[i] == '/' && ++segs >= GW_PATH_SEGS_MAX - 2)
			*why = "a hub path has at most 6 segments";
		else if (path[i] != '/' && !sr_seg_char(path[i]))
			*why = "a hub path has segments of [A-Za-z0-9._~-]";
	}
	return *why != NULL;
}

const char *
gw_signalr_paths_check(const char *paths)
{
	const char *why = NULL;

	sr_paths_each(paths, sr_path_bad, &why);
	return why;
}

static bool
sr_path_is(const char *path, void *arg)
{
	return gw_path_is(arg, path);
}

bool
gw_signalr_is_hub(const struct gw_config *cfg, const struct gw_path *pp)
{
	return sr_paths_each(cfg->signalr_paths, sr_path_is, (void *) pp);
}

bool
gw_signalr_is_negotiate(const struct gw_config *cfg, const struct gw_path *pp)
{
	struct gw_path hub;

	if (pp->n < 2 || !gw_path_seg_is(pp, pp->n - 1, "negotiate") ||
	    pp->len[pp->n - 2] == 0)
		return false;
	hub = *pp;
	hub.n--;
	return sr_paths_each(cfg->signalr_paths, sr_path_is, &hub);
}

/* ---- negotiate tokens ---------------------------------------------- */

void
gw_signalr_init(struct gw_server *srv)
{
	srv->signalr = xcalloc(1, sizeof(*srv->signalr));
}

/* Unlinks t from the hub; the caller frees it (sr_token_free). */
static void
sr_token_unlink(struct gw_sr_hub *hub, struct sr_token *t)
{
	HASH_DEL(hub->tokens, t);
	DL_DELETE(hub->fifo, t);
	hub->ntokens--;
}

static void
sr_token_free(struct sr_token *t)
{
	if (t != NULL)
		free(t->user);
	free(t);
}

void
gw_signalr_fini(struct gw_server *srv)
{
	struct gw_sr_hub *hub = srv->signalr;

	if (hub == NULL)
		return;
	while (hub->fifo != NULL) {
		struct sr_token *t = hub->fifo;
		sr_token_unlink(hub, t);
		sr_token_free(t);
	}
	free(hub);
	srv->signalr = NULL;
}

void
gw_signalr_second(struct gw_server *srv, int64_t now)
{
	struct gw_sr_hub *hub = srv->signalr;

	while (hub != NULL && hub->fifo != NULL &&
	       hub->fifo->deadline <= now) {
		struct sr_token *t = hub->fifo;
		sr_token_unlink(hub, t);
		sr_token_free(t);
	}
}

/* A fresh unguessable id: 16 random bytes in base64url. */
static void
sr_random_id(char out[SR_ID_LEN + 1])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
		"tuvwxyz0123456789-_";
	unsigned char raw[16];
	uint32_t acc = 0;
	int bits = 0;
	size_t i, k = 0;

	PRS_ASSERT(RAND_bytes(raw, sizeof(raw)) == 1);
	for (i = 0; i < sizeof(raw); i++) {
		acc = (acc << 8 | raw[i]) & 0xffff;
		bits += 8;
		while (bits >= 6) {
			out[k++] = b64[(acc >> (bits - 6)) & 63];
			bits -= 6;
		}
	}
	out[k++] = b64[(acc << (6 - bits)) & 63];
	out[k] = '\0';
	PRS_ASSERT(k == SR_ID_LEN);
}

/* ---- who the client is --------------------------------------------- */

/* Under auth jwt: the token of Authorization: Bearer (Node, .NET) or of
 * access_token= (browsers). Returns 1 with *user (caller frees), *admin
 * and *exp set, 0 when rq carries no token, -1 for an invalid one. */
static int
sr_identity(struct gw_conn *c, const struct gw_http1_req *rq,
	    const struct gw_path *pp, char **user, bool *admin, int64_t *exp)
{
	const char *tok = gw_auth_bearer(rq->hdr[GW_H_AUTHORIZATION]);
	char *q = NULL;
	int rv;

	if (tok == NULL) {
		if (gw_path_query(pp, "access_token", &q) < 0)
			return -1;
		tok = q;
	}
	if (tok == NULL)
		return 0;
	rv = gw_auth_verify_exp(c->srv->cfg, tok, strlen(tok), user, admin,
				exp) == 0
		     ? 1
		     : -1;
	free(q);
	return rv;
}

/* ---- negotiate ------------------------------------------------------ */

void
gw_signalr_negotiate(struct gw_conn *c, const struct gw_http1_req *rq,
		     const struct gw_path *pp)
{
	struct gw_server *srv = c->srv;
	const struct gw_config *cfg = srv->cfg;
	struct gw_sr_hub *hub = srv->signalr;
	struct gw_buf extra = {0}, body = {0};
	char *ver = NULL, *user = NULL, id[SR_ID_LEN + 1], tok[SR_ID_LEN + 1];
	bool admin = false;
	int64_t exp = 0;
	int version;
	struct sr_token *t;

	if (rq->method == HTTP_OPTIONS) {
		gw_cors_preflight(c, rq, "POST");
		return;
	}
	gw_cors_headers(&extra, cfg, rq);
	gw_buf_append(&extra, "", 1); /* NUL-terminated */

#define FAIL(st, msg)                                                         \
	do {                                                                  \
		gw_http1_respond_error(c, st, NULL, msg, extra.data, false);  \
		goto out;                                                     \
	} while (0)

	if (gw_path_query(pp, "negotiateVersion", &ver) < 0 ||
	    gw_sr_negotiate_version(ver, &version) != 0)
		FAIL(400, "negotiateVersion must be a number");
	if (!cfg->auth_none &&
	    sr_identity(c, rq, pp, &user, &admin, &exp) != 1) {
		extra.len--; /* the NUL */
		gw_buf_printf(&extra, "WWW-Authenticate: Bearer\r\n");
		gw_buf_append(&extra, "", 1);
		FAIL(401, "a valid token is required");
	}
	if (srv->stopping)
		FAIL(503, "the gateway is stopping");
	gw_signalr_second(srv, prs_mono_ms());
	if (hub->ntokens >= SR_TOKENS_MAX)
		FAIL(503, "too many connections being negotiated");

	sr_random_id(id);
	sr_random_id(tok);
	t = xcalloc(1, sizeof(*t));
	/* version 0 clients connect with the connectionId */
	memcpy(t->key, version > 0 ? tok : id, sizeof(t->key));
	t->user = user;
	t->admin = admin;
	t->exp = exp;
	t->deadline = prs_mono_ms() + SR_TOKEN_TTL_MS;
	user = NULL;
	HASH_ADD_STR(hub->tokens, key, t);
	DL_APPEND(hub->fifo, t);
	hub->ntokens++;
	PRS_ASSERT(gw_sr_negotiate_response(&body, version, id, tok) == 0);
	gw_http1_respond(c, 200, "application/json", extra.data, body.data,
			 body.len, false);
out:
#undef FAIL
	gw_buf_free(&extra);
	gw_buf_free(&body);
	free(ver);
	free(user);
}

/* ---- the WebSocket upgrade ------------------------------------------------
 */

void
gw_signalr_connect(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp)
{
	struct gw_server *srv = c->srv;
	const struct gw_config *cfg = srv->cfg;
	struct gw_sr_hub *hub = srv->signalr;
	struct sr_token *t = NULL;
	char *id = NULL, *user = NULL;
	bool admin = false;
	int64_t exp = 0;

#define FAIL(st, msg, extra)                                                  \
	do {                                                                  \
		gw_http1_respond_error(c, st, NULL, msg, extra, true);        \
		goto out;                                                     \
	} while (0)

	if (gw_path_query(pp, "id", &id) < 0)
		FAIL(400, "malformed query string", NULL);
	if (id != NULL) { /* single use: gone from the table whatever next */
		HASH_FIND_STR(hub->tokens, id, t);
		if (t != NULL)
			sr_token_unlink(hub, t);
		if (t == NULL || t->deadline <= prs_mono_ms())
			FAIL(404, "No Connection with that ID", NULL);
	}
	if (gw_upgrade_check(c, rq) != 0)
		goto out;
	if (cfg->auth_none) {
		admin = true;
	} else {
		switch (sr_identity(c, rq, pp, &user, &admin, &exp)) {
		case 1:
			if (t != NULL && t->user != NULL &&
			    strcmp(user, t->user) != 0)
				FAIL(403, "the token is for another user",
				     NULL);
			break;
		case 0:
			if (t == NULL)
				FAIL(401, "a valid token is required",
				     "WWW-Authenticate: Bearer\r\n");
			user = t->user; /* who negotiated */
			t->user = NULL;
			admin = t->admin;
			exp = t->exp;
			break;
		default:
			FAIL(401, "a valid token is required",
			     "WWW-Authenticate: Bearer\r\n");
		}
	}
	if (gw_upgrade_accept(c, rq, &gw_sr_ws_handler, NULL) != 0)
		goto out;
	gw_upgrade_bind(c, &gw_fe_signalr, &user, admin, exp);
	gw_sr_conn_begin(c);
out:
#undef FAIL
	sr_token_free(t);
	free(id);
	free(user);
}
