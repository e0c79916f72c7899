/*
 * libFuzzer harness: the Socket.IO drop-in (gw_fe_sio.c, gw_sio_eio.c,
 * gw_sio_obs.c) driven as a client would, through the real HTTP and
 * WebSocket input paths. Each run makes one polling session (a real
 * handshake; its sid read back from the answer), then plays the input as
 * commands, each an op byte, a length byte and that many bytes of
 * payload:
 *
 *   0 POST the payload (Engine.IO packets) to the session
 *   1 GET on the session (held, or answered)
 *   2 open a probe WebSocket for the session (it becomes "the" WebSocket)
 *   3 send the payload as one masked text frame on the WebSocket
 *   4 open a WebSocket-only session (it becomes "the" WebSocket)
 *   5 run the cron as if payload[0] * 256 ms had passed (pings, timeouts)
 *   6 deliver a registry event about user "u<payload[0]>" to every session
 *   7 send the payload as the query of a request to /socket.io/
 *
 * The first input byte's low bit selects auth jwt (CONNECTs are then
 * refused without a token, which covers that path).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fz_gw.h"
#include "gw_buf.h"
#include "gw_fe_sio.h"
#include "gw_server.h"
#include "gw_session.h"
#include "gw_ws.h"
#include "prs_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORIGIN    "Origin: https://app.example.com\r\n"
#define CONNS_MAX 48 /* connections per run (fz_gw.c holds 64) */

static size_t nconns; /* made in this run */

static void
send_http(struct gw_server *srv, uint64_t serial, const struct gw_buf *b)
{
	struct gw_conn *c = fz_gw_find(srv, serial);

	if (c != NULL && c->state == GW_CONN_HTTP)
		gw_conn_input(c, gw_buf_head(b), gw_buf_pending(b));
}

/* A new connection with one request: "<method> /socket.io/?EIO=4&" q,
 * then sid, the WebSocket headers when ws, and the body; returns its
 * serial. */
static uint64_t
request(struct gw_server *srv, const char *method, const char *q,
	const char *sid, bool ws, const uint8_t *body, size_t n)
{
	uint64_t serial;
	struct gw_buf b = {0};

	if (++nconns > CONNS_MAX)
		return 0;
	serial = fz_gw_conn(srv);
	gw_buf_printf(&b, "%s /socket.io/?EIO=4&%s%s HTTP/1.1\r\n" ORIGIN,
		      method, q, sid);
	if (ws)
		gw_buf_printf(&b, "Upgrade: websocket\r\nConnection: "
				  "Upgrade\r\nSec-WebSocket-Version: 13\r\n"
				  "Sec-WebSocket-Key: "
				  "dGhlIHNhbXBsZSBub25jZQ==\r\n");
	if (body != NULL)
		gw_buf_printf(&b, "Content-Length: %zu\r\n", n);
	gw_buf_append(&b, "\r\n", 2);
	if (body != NULL)
		gw_buf_append(&b, body, n);
	send_http(srv, serial, &b);
	gw_buf_free(&b);
	return serial;
}

/* The handshake; the new session's sid into sid (empty if none). */
static void
handshake(struct gw_server *srv, char sid[32])
{
	static const char hs[] = "GET /socket.io/?EIO=4&transport=polling&t=a "
				 "HTTP/1.1\r\nHost: x\r\n" ORIGIN "\r\n";
	uint64_t serial = fz_gw_conn(srv);
	struct gw_buf b = {0};
	char out[2048];
	size_t n;
	const char *p;

	sid[0] = '\0';
	gw_buf_append(&b, hs, sizeof(hs) - 1);
	send_http(srv, serial, &b);
	gw_buf_free(&b);
	n = fz_gw_read(srv, serial, out, sizeof(out) - 1);
	out[n] = '\0';
	p = strstr(out, "{\"sid\":\"");
	if (p != NULL && strlen(p + 8) > 20 && p[28] == '"') {
		memcpy(sid, p + 8, 20);
		sid[20] = '\0';
	}
}

/* One masked (with a zero key) text frame of n bytes, to c. */
static void
ws_send(struct gw_conn *c, const uint8_t *p, size_t n)
{
	uint8_t hdr[8] = {0x81};
	struct gw_buf b = {0};
	size_t hl;

	if (n < 126) {
		hdr[1] = (uint8_t) (0x80 | n);
		hl = 2;
	} else {
		hdr[1] = 0x80 | 126;
		hdr[2] = (uint8_t) (n >> 8);
		hdr[3] = (uint8_t) n;
		hl = 4;
	}
	gw_buf_append(&b, hdr, hl);
	gw_buf_append(&b, "\0\0\0\0", 4);
	gw_buf_append(&b, p, n);
	gw_ws_input(c, (const uint8_t *) gw_buf_head(&b), gw_buf_pending(&b));
	gw_buf_free(&b);
}

static void
event(struct gw_server *srv, uint8_t who)
{
	Prs__Event ev = PRS__EVENT__INIT;
	Prs__Presence p = PRS__PRESENCE__INIT;
	uint64_t targets[64];
	char user[8];
	size_t n = 0;

	snprintf(user, sizeof(user), "u%u", who & 7);
	p.user_id = user;
	p.status = (Prs__Status) (who >> 4 & 3);
	p.is_online = p.status != PRS__STATUS__ST_OFFLINE;
	p.last_seen = 1796205600000;
	for (uint64_t sid = 1; sid < srv->next_sid && n < 64; sid++)
		targets[n++] = sid;
	ev.targets = targets;
	ev.n_targets = n;
	ev.presence = &p;
	ev.own = (who & 8) != 0;
	gw_session_event(srv, &ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_server *srv = fz_gw_server(false);
	uint64_t ws = 0;
	int64_t skew = 0;
	char sid[32];

	if (size < 1)
		return 0;
	fz_gw_set_jwt((data[0] & 1) != 0);
	data++;
	size--;
	fz_gw_keep_ready(srv);
	nconns = 1;
	handshake(srv, sid);
	while (size >= 2) {
		uint8_t op = data[0] & 7;
		size_t n = data[1] < size - 2 ? data[1] : size - 2;
		const uint8_t *p = data + 2;
		struct gw_conn *c;

		data += 2 + n;
		size -= 2 + n;
		switch (op) {
		case 0:
			request(srv, "POST", "transport=polling&sid=", sid,
				false, p, n);
			break;
		case 1:
			request(srv, "GET", "transport=polling&sid=", sid,
				false, NULL, 0);
			break;
		case 2:
			ws = request(srv, "GET",
				     "transport=websocket&sid=", sid, true,
				     NULL, 0);
			break;
		case 3:
			c = fz_gw_find(srv, ws);
			if (c != NULL && c->state == GW_CONN_WS)
				ws_send(c, p, n);
			break;
		case 4:
			ws = request(srv, "GET", "transport=websocket", "",
				     true, NULL, 0);
			break;
		case 5:
			skew += n > 0 ? (int64_t) p[0] * 256 : 1000;
			gw_sio_tick(srv, prs_mono_ms() + skew);
			break;
		case 6:
			event(srv, n > 0 ? p[0] : 0);
			break;
		case 7: {
			uint64_t s;
			struct gw_buf b = {0};

			if (++nconns > CONNS_MAX)
				break;
			s = fz_gw_conn(srv);
			gw_buf_printf(&b, "GET /socket.io/?");
			gw_buf_append(&b, p, n);
			gw_buf_printf(&b, " HTTP/1.1\r\n\r\n");
			send_http(srv, s, &b);
			gw_buf_free(&b);
			break;
		}
		}
		fz_gw_pump(srv);
	}
	fz_gw_reset(srv);
	return 0;
}
