/*
 * libFuzzer harness: client JSON messages. The input is a run of messages
 * separated by newlines, handed one by one to gw_v1ws_message as wslay
 * would hand complete text messages. Unless the first byte's low bit is
 * set, a valid hello opens a session first, so every other message type
 * reaches its handler; requests that need the registry are answered
 * "unavailable" when the iteration ends (their deadline passes).
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
	uint64_t serial;

	if (size < 1)
		return 0;
	fz_gw_set_jwt((data[0] & 2) != 0);
	fz_gw_keep_ready(srv);
	serial = fz_gw_conn(srv);
	c = fz_gw_find(srv, serial);
	fz_gw_ws(c);
	if (!(data[0] & 1) && !(data[0] & 2))
		gw_v1ws_message(c, (const uint8_t *) hello, sizeof(hello) - 1);
	data++;
	size--;
	while (size > 0 && (c = fz_gw_find(srv, serial)) != NULL &&
	       c->state == GW_CONN_WS) {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t n = nl ? (size_t) (nl - data) : size;
		gw_v1ws_message(c, data, n);
		fz_gw_pump(srv);
		if (nl == NULL)
			break;
		data += n + 1;
		size -= n + 1;
	}
	fz_gw_reset(srv);
	return 0;
}
