/*
 * Where the WebSocket upgrade happens: the RFC 6455 handshake checks, the
 * Origin allow-list, the connection cap, and who the client is (token of
 * the upgrade, or a user named in the path under auth none). On success
 * the connection switches to the WebSocket codec with the v1 frontend as
 * its handler (its sessions' ops: v1, or on /ws/presence/{id} the one
 * compat_events chose), and the 101 goes out; every refusal is an HTTP error
 * that closes the connection, since what follows is not HTTP. The checks
 * and the switch are exported for the drop-in frontends that ride a
 * WebSocket too (gw_sio_eio.c, gw_sr_negotiate.c), which bring their own
 * handler.
 */
#include "gw_upgrade.h"

#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_cors.h"
#include "gw_fe_sio.h"
#include "gw_fe_v1ws.h"
#include "gw_server.h"
#include "gw_ws.h"
#include "prs_util.h"

int
gw_upgrade_check(struct gw_conn *c, const struct gw_http1_req *rq)
{
	struct gw_server *srv = c->srv;
	const struct gw_config *cfg = srv->cfg;
	const char *ver = rq->hdr[GW_H_WS_VERSION];
	const char *why = NULL, *extra = NULL;
	int st = 400;

	/* A browser names the page's origin; other clients send none and
	 * are not concerned (the check protects users' browsers from pages
	 * of other sites, not the server from programs, which can send any
	 * header). */
	if (rq->method != HTTP_GET)
		why = "a WebSocket upgrade must be a GET";
	else if (rq->http_major != 1 || rq->http_minor < 1)
		why = "a WebSocket upgrade needs HTTP/1.1";
	else if (!gw_http1_token_list_has(rq->hdr[GW_H_UPGRADE], "websocket"))
		why = "Upgrade: websocket required";
	else if (!gw_http1_token_list_has(rq->hdr[GW_H_CONNECTION], "upgrade"))
		why = "Connection: Upgrade required";
	else if (rq->has_body || rq->hdr[GW_H_TRANSFER_ENCODING] != NULL)
		why = "a WebSocket upgrade carries no body";
	else if (rq->dup_header)
		why = "duplicate header";
	else if (ver == NULL)
		why = "Sec-WebSocket-Version required";
	else if (strcmp(ver, "13") != 0) {
		st = 426;
		why = "unsupported WebSocket version";
		extra = "Sec-WebSocket-Version: 13\r\n";
	} else if (!gw_ws_key_valid(rq->hdr[GW_H_WS_KEY]))
		why = "invalid Sec-WebSocket-Key";
	else if (!gw_cors_allowed(cfg, rq->hdr[GW_H_ORIGIN])) {
		st = 403;
		why = "origin not allowed";
	} else if (srv->stopping || srv->nws + gw_sio_polling(srv) >=
					    (size_t) cfg->max_connections) {
		st = 503;
		why = "too many connections";
	}
	if (why == NULL)
		return 0;
	gw_http1_respond_error(c, st, NULL, why, extra, true);
	return -1;
}

int
gw_upgrade_accept(struct gw_conn *c, const struct gw_http1_req *rq,
		  const struct gw_ws_handler *h, const char *extra)
{
	struct gw_buf resp = {0};
	char accept[32];

	if (gw_ws_start(c, h) != 0) {
		gw_http1_respond_error(c, 503, NULL, "out of memory", NULL,
				       true);
		return -1;
	}
	gw_ws_accept_key(rq->hdr[GW_H_WS_KEY], accept);
	gw_buf_printf(
		&resp,
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
		accept, extra ? extra : "");
	gw_conn_send_raw(c, resp.data, resp.len);
	gw_buf_free(&resp);
	prs_debug("conn %llu: websocket open", (unsigned long long) c->serial);
	return 0;
}

void
gw_upgrade_bind(struct gw_conn *c, const struct gw_fe *fe, char **user,
		bool admin, int64_t exp)
{
	c->fe = fe;
	c->auth_user = *user;
	c->auth_admin = admin;
	c->auth_exp = exp;
	*user = NULL;
}

static void
ws_upgrade(struct gw_conn *c, const struct gw_http1_req *rq,
	   const struct gw_path *pp, const char *path_user,
	   size_t path_user_len, const struct gw_fe *fe)
{
	struct gw_server *srv = c->srv;
	const struct gw_config *cfg = srv->cfg;
	char *qtok = NULL, *quser = NULL, *user = NULL;
	const char *tok;
	bool admin = false;
	int64_t exp = 0;

#define FAIL(st, msg, extra)                                                  \
	do {                                                                  \
		gw_http1_respond_error(c, st, NULL, msg, extra, true);        \
		goto out;                                                     \
	} while (0)

	if (gw_upgrade_check(c, rq) != 0)
		goto out;
	if (gw_path_query(pp, "token", &qtok) < 0 ||
	    gw_path_query(pp, "user_id", &quser) < 0)
		FAIL(400, "malformed query string", NULL);

	if (!cfg->auth_none) {
		tok = gw_auth_bearer(rq->hdr[GW_H_AUTHORIZATION]);
		if (tok == NULL)
			tok = qtok;
		if (tok != NULL) {
			if (gw_auth_verify_exp(cfg, tok, strlen(tok), &user,
					       &admin, &exp) != 0)
				FAIL(401, "invalid token",
				     "WWW-Authenticate: Bearer\r\n");
			if (path_user != NULL &&
			    (strlen(user) != path_user_len ||
			     memcmp(user, path_user, path_user_len) != 0))
				FAIL(403, "the token is for another user",
				     NULL);
		}
	} else {
		if (path_user != NULL) {
			if (!prs_id_valid(path_user, path_user_len))
				FAIL(400, "invalid user id", NULL);
			user = xstrndup(path_user, path_user_len);
		} else if (quser != NULL) {
			if (!prs_id_valid(quser, strlen(quser)))
				FAIL(400, "invalid user id", NULL);
			user = xstrdup(quser);
		}
		admin = true;
	}

	if (gw_upgrade_accept(
		    c, rq, &gw_v1ws_handler,
		    gw_http1_token_list_has(rq->hdr[GW_H_WS_PROTOCOL],
					    "presence.v1")
			    ? "Sec-WebSocket-Protocol: presence.v1\r\n"
			    : NULL) != 0)
		goto out;
	gw_upgrade_bind(c, fe, &user, admin, exp);
out:
#undef FAIL
	free(qtok);
	free(quser);
	free(user);
}

void
gw_upgrade_v1(struct gw_conn *c, const struct gw_http1_req *rq,
	      const struct gw_path *pp)
{
	ws_upgrade(c, rq, pp, NULL, 0, &gw_fe_v1ws);
}

void
gw_upgrade_v1_user(struct gw_conn *c, const struct gw_http1_req *rq,
		   const struct gw_path *pp)
{
	ws_upgrade(c, rq, pp, pp->seg[2], pp->len[2],
		   c->srv->user_ws_fe != NULL ? c->srv->user_ws_fe
					      : &gw_fe_v1ws);
}
