/*
 * libFuzzer harness: the WebSocket frame path. A connection is switched to
 * WebSocket as after a successful upgrade and the input is fed to
 * gw_ws_input (wslay's server context, then the session layer) in chunks
 * whose size the first byte picks. Its top bit sends a valid hello first,
 * so frames reach the message dispatch of a live session too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fz_gw.h"
#include "gw_fe_v1ws.h"
#include "gw_session.h"
#include "gw_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char hello[] = "{\"type\":\"hello\",\"user_id\":\"fz\"}";
	struct gw_server *srv = fz_gw_server(false);
	struct gw_conn *c;
	size_t chunk;
	uint64_t serial;

	if (size < 1)
		return 0;
	fz_gw_set_jwt(false);
	chunk = data[0] & 0x7f;
	if (chunk == 0)
		chunk = size;
	fz_gw_keep_ready(srv);
	serial = fz_gw_conn(srv);
	c = fz_gw_find(srv, serial);
	fz_gw_ws(c);
	if (data[0] & 0x80)
		gw_v1ws_message(c, (const uint8_t *) hello, sizeof(hello) - 1);
	data++;
	size--;
	while (size > 0 && (c = fz_gw_find(srv, serial)) != NULL &&
	       c->state == GW_CONN_WS) {
		size_t n = chunk < size ? chunk : size;
		gw_ws_input(c, data, n);
		fz_gw_pump(srv);
		data += n;
		size -= n;
	}
	fz_gw_reset(srv);
	return 0;
}
