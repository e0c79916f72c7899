/*
 * libFuzzer harness: a SignalR hub connection (gw_fe_signalr.c) after a
 * real upgrade through the router, on the fuzz gateway (auth none, its
 * registry link unlinked but ready). The input after the first byte is
 * cut into WebSocket text messages handed to the hub's handler; the
 * first byte picks their size (low 6 bits; 0: all at once), with 0x40
 * the harness sends the handshake first, and with 0x80, after every
 * message, the registry "acknowledges" waiting sessions and a cron
 * second passes far in the future (keep-alive, client timeout). So the
 * record reader, handshake, invocations, the RegisterUser wait and its
 * resumption, and every close path run on hostile bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fz_gw.h"
#include "gw_server.h"
#include "gw_session.h"
#include "gw_ws.h"
#include "prs_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char upgrade[] =
	"GET /hubs/presence HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
static const char handshake[] = "{\"protocol\":\"json\",\"version\":1}\x1e";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_server *srv = fz_gw_server(false);
	struct gw_conn *c;
	size_t chunk;
	uint64_t serial;
	bool churn;

	if (size < 1)
		return 0;
	fz_gw_set_jwt(false);
	chunk = data[0] & 0x3f;
	churn = (data[0] & 0x80) != 0;
	if (chunk == 0)
		chunk = size;
	fz_gw_keep_ready(srv);
	serial = fz_gw_conn(srv);
	c = fz_gw_find(srv, serial);
	gw_conn_input(c, upgrade, sizeof(upgrade) - 1);
	if (c->state != GW_CONN_WS)
		abort(); /* the harness's own bug */
	if (data[0] & 0x40)
		c->ws_handler->message(c, (const uint8_t *) handshake,
				       sizeof(handshake) - 1);
	data++;
	size--;
	while (size > 0 && (c = fz_gw_find(srv, serial)) != NULL &&
	       c->state == GW_CONN_WS) {
		size_t n = chunk < size ? chunk : size;

		c->ws_handler->message(c, data, n);
		fz_gw_pump(srv);
		if (churn && (c = fz_gw_find(srv, serial)) != NULL &&
		    c->state == GW_CONN_WS) {
			gw_session_await_sweep(srv, prs_mono_ms(), true);
			if (c->state == GW_CONN_WS)
				c->ops->tick(c, prs_mono_ms() + 60000);
			fz_gw_pump(srv);
		}
		data += n;
		size -= n;
	}
	fz_gw_reset(srv);
	return 0;
}
