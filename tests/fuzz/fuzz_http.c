/*
 * libFuzzer harness: HTTP request handling of the gateway. The input is
 * what a client sends on a fresh connection, fed through the same entry
 * points as the read callback (gw_http1_input, then gw_ws_input once the
 * connection has upgraded), in chunks whose size the first byte picks, so
 * requests split anywhere are covered. Its top bit selects JWT auth.
 */
#include <stddef.h>
#include <stdint.h>

#include "fz_gw.h"
#include "gw_server.h"
#include "gw_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_server *srv = fz_gw_server(false);
	size_t chunk;
	uint64_t serial;

	if (size < 1)
		return 0;
	fz_gw_set_jwt((data[0] & 0x80) != 0);
	chunk = data[0] & 0x7f;
	if (chunk == 0)
		chunk = size;
	data++;
	size--;
	fz_gw_keep_ready(srv);
	serial = fz_gw_conn(srv);
	while (size > 0) {
		struct gw_conn *c = fz_gw_find(srv, serial);
		size_t n = chunk < size ? chunk : size;
		if (c == NULL)
			break;
		if (c->state == GW_CONN_HTTP)
			gw_conn_input(c, (const char *) data, n);
		else if (c->state == GW_CONN_WS)
			gw_ws_input(c, data, n);
		fz_gw_pump(srv);
		data += n;
		size -= n;
	}
	fz_gw_reset(srv);
	return 0;
}
