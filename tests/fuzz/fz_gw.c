/*
 * Gateway fuzz scaffolding (see fz_gw.h). A connection's other end is kept
 * in a small table and drained after every flush, so output never blocks
 * and the outbound-limit path runs only when a harness makes it.
 */
#include "fz_gw.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_http1.h"
#include "gw_reg.h"
#include "gw_server.h"
#include "gw_fe_api.h"
#include "gw_fe_sio.h"
#include "gw_gateway.h"
#include "gw_fe_v1ws.h"
#include "gw_session.h"
#include "gw_ws.h"
#include "prs_util.h"

#define PEERS_MAX 64

static struct gw_config cfg;
static struct gw_server srv;
static bool made;
static int peers[PEERS_MAX];
static uint64_t serials[PEERS_MAX]; /* of each peer's connection */
static size_t npeers;
static uint64_t reg_seq;

static void
reg_say(struct gw_server *s, Prs__Envelope__BodyCase body)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__Hello hello = PRS__HELLO__INIT;
	Prs__Resync rs = PRS__RESYNC__INIT;

	env.kind = PRS__KIND__KIND_REGISTRY;
	env.sender = "registry";
	env.epoch = 0x5eed;
	env.seq = reg_seq++;
	env.body_case = body;
	if (body == PRS__ENVELOPE__BODY_RESYNC)
		env.resync = &rs;
	else
		env.hello = &hello;
	gw_reg_recv(s, &env, 1);
}

struct gw_server *
fz_gw_server(bool jwt)
{
	static unsigned char secret[] = "fuzz-secret";

	if (made)
		return &srv;
	made = true;
	gw_config_defaults(&cfg);
	cfg.name = "fz";
	cfg.url = "ipc:///nonexistent/fz.sock";
	cfg.registry_url = "ipc:///nonexistent/registry.sock";
	cfg.http_host = "127.0.0.1";
	cfg.http_port = 1;
	cfg.auth_none = !jwt;
	cfg.jwt_secret = secret;
	cfg.jwt_secret_len = sizeof(secret) - 1;
	cfg.max_outbound_bytes = 262144;
	cfg.max_connections = 16;
	cfg.allowed_origins = "https://app.example.com, http://localhost:3000";
	prs_log_setname("fuzz");
	gw_http1_global_init(&cfg);
	gw_gateway_init(&srv, EV_DEFAULT, &cfg);
	gw_reg_open_unlinked(&srv);
	reg_say(&srv, PRS__ENVELOPE__BODY_RESYNC);
	return &srv;
}

void
fz_gw_keep_ready(struct gw_server *s)
{
	reg_say(s, PRS__ENVELOPE__BODY_HELLO);
}

uint64_t
fz_gw_conn(struct gw_server *s)
{
	int sv[2];

	if (npeers == PEERS_MAX ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) != 0)
		abort(); /* the harness's own bug, not a finding */
	peers[npeers] = sv[1];
	serials[npeers] = gw_server_adopt(s, sv[0])->serial;
	return serials[npeers++];
}

size_t
fz_gw_read(struct gw_server *s, uint64_t serial, char *buf, size_t cap)
{
	size_t i, got = 0;
	ssize_t n;

	gw_server_before_sleep(s);
	for (i = 0; i < npeers; i++) {
		if (serials[i] != serial)
			continue;
		while (got < cap &&
		       (n = read(peers[i], buf + got, cap - got)) > 0)
			got += (size_t) n;
	}
	return got;
}

struct gw_conn *
fz_gw_find(struct gw_server *s, uint64_t serial)
{
	struct gw_conn *c;

	for (c = s->conns; c != NULL; c = c->next)
		if (c->serial == serial && c->state != GW_CONN_DEAD)
			return c;
	return NULL;
}

void
fz_gw_ws(struct gw_conn *c)
{
	gw_http1_release(c);
	if (gw_ws_start(c, &gw_v1ws_handler) != 0)
		abort();
}

static void
drain(void)
{
	static char sink[65536];
	size_t i;

	for (i = 0; i < npeers; i++)
		while (read(peers[i], sink, sizeof(sink)) > 0)
			;
}

void
fz_gw_pump(struct gw_server *s)
{
	/* Twice: what one flush could not write is written after a drain. */
	gw_server_before_sleep(s);
	drain();
	gw_server_before_sleep(s);
	drain();
}

void
fz_gw_set_jwt(bool jwt)
{
	cfg.auth_none = !jwt;
}

void
fz_gw_reset(struct gw_server *s)
{
	struct gw_conn *c;
	size_t i;

	gw_reg_tick(s, INT64_MAX); /* every pending request expires */
	for (c = s->conns; c != NULL; c = c->next)
		if (c->state != GW_CONN_DEAD)
			gw_conn_abort(c);
	gw_api_sessions_end_all(s);
	gw_sio_stop(s);
	gw_sio_tick(s, 0); /* frees the Socket.IO sessions that ended */
	fz_gw_pump(s);
	for (i = 0; i < npeers; i++)
		close(peers[i]);
	npeers = 0;
	/* A fresh link, so request and session numbers start again at 1
	 * and inputs can name them. */
	gw_reg_close(s);
	gw_reg_open_unlinked(s);
	reg_seq = 0;
	reg_say(s, PRS__ENVELOPE__BODY_RESYNC);
	s->next_sid = 1;
}
