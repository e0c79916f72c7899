/*
 * libFuzzer harness: what the registry sends a gateway. The input is one
 * NNG message of the link (prs_frames_each: 4-byte big-endian lengths and
 * packed envelopes); each envelope goes to gw_reg_recv. Before it, three
 * WebSocket sessions (sids 1-3) are open and two requests (req 1: watch,
 * req 2: query) wait for their Reply, so Events, Typing and Replies have
 * targets. Use epoch 0x5eed and kind REGISTRY to be the current registry.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fz_gw.h"
#include "gw_reg.h"
#include "gw_fe_v1ws.h"
#include "gw_session.h"
#include "gw_ws.h"
#include "prs_link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
say(struct gw_conn *c, const char *msg)
{
	gw_v1ws_message(c, (const uint8_t *) msg, strlen(msg));
}

static void
recv_cb(void *arg, Prs__Envelope *env)
{
	gw_reg_recv(arg, env, 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_server *srv = fz_gw_server(false);
	int i;

	fz_gw_set_jwt(false);
	fz_gw_keep_ready(srv);
	for (i = 0; i < 3; i++) {
		struct gw_conn *c = fz_gw_find(srv, fz_gw_conn(srv));
		char hello[96];
		fz_gw_ws(c);
		snprintf(hello, sizeof(hello),
			 "{\"type\":\"hello\",\"user_id\":\"u%d\"}", i + 1);
		say(c, hello);
		if (i == 0)
			say(c, "{\"type\":\"watch\",\"id\":1,"
			       "\"user_ids\":[\"u2\",\"u3\"]}");
		if (i == 1)
			say(c, "{\"type\":\"query\",\"id\":\"q\","
			       "\"user_ids\":[\"u1\"]}");
	}
	fz_gw_pump(srv);
	prs_frames_each(data, size, recv_cb, srv);
	fz_gw_pump(srv);
	fz_gw_reset(srv);
	return 0;
}
