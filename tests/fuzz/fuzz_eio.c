/*
 * libFuzzer harness: the Engine.IO / Socket.IO codec (gw_eio). With the
 * first byte's low bit set the rest is a polling POST body, else one
 * WebSocket text frame. Every message packet goes on to the Socket.IO
 * parser. Beyond "no crash", it checks that the codec is lossless: a
 * payload that parses re-encodes to the same bytes, and a Socket.IO packet
 * that parses survives encode and parse again unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_eio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PKTS 64

static struct gw_buf out;

static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* Socket.IO: parse, and when it parses, encode and parse back. */
static void
sio(const char *d, size_t n)
{
	struct gw_sio_packet p, q;
	int rc;

	rc = gw_sio_parse(d, n, &p);
	check(rc <= 0 && rc >= GW_EIO_EARG);
	if (rc == 0) {
		check(p.nsp[0] == '/');
		check(p.id >= -1 && p.id <= GW_SIO_ID_MAX);
		check((p.type == GW_SIO_EVENT) == (p.event != NULL));
		gw_buf_reset(&out);
		check(gw_sio_encode(&out, &p) == 0);
		check(memchr(gw_buf_head(&out), GW_EIO_SEP,
			     gw_buf_pending(&out)) == NULL);
		check(gw_buf_head(&out)[0] == '4');
		rc = gw_sio_parse(gw_buf_head(&out) + 1,
				  gw_buf_pending(&out) - 1, &q);
		check(rc == 0);
		check(q.type == p.type && q.id == p.id);
		check(strcmp(q.nsp, p.nsp) == 0);
		check((p.data == NULL && q.data == NULL) ||
		      json_equal(p.data, q.data));
		gw_sio_clear(&q);
		if (p.type == GW_SIO_EVENT && p.id >= 0) {
			/* the reply the frontend sends: 43<id>[...] */
			gw_buf_reset(&out);
			check(gw_sio_encode_ack(&out, p.nsp, p.id, NULL) == 0);
		}
	}
	gw_sio_clear(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_eio_packet pkts[MAX_PKTS], one;
	const char *d = (const char *) data + 1;
	size_t n = size - 1, i, count;
	int rc;

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		rc = gw_eio_parse(d, n, &one);
		check(rc <= 0);
		if (rc == 0 && one.type == GW_EIO_MESSAGE)
			sio(one.data, one.len);
		gw_buf_free(&out);
		return 0;
	}
	rc = gw_eio_payload_parse(d, n, pkts, MAX_PKTS, &count);
	check(rc <= 0 && count <= MAX_PKTS);
	if (rc == 0) {
		check(count > 0);
		for (i = 0; i < count; i++) {
			check((int) pkts[i].type >= GW_EIO_OPEN &&
			      (int) pkts[i].type <= GW_EIO_NOOP);
			check(pkts[i].data >= d &&
			      pkts[i].data + pkts[i].len <= d + n);
			if (pkts[i].type == GW_EIO_MESSAGE)
				sio(pkts[i].data, pkts[i].len);
		}
		/* lossless: the same packets encode to the same body */
		gw_buf_reset(&out);
		check(gw_eio_payload_encode(&out, pkts, count) == 0);
		check(gw_buf_pending(&out) == n &&
		      memcmp(gw_buf_head(&out), d, n) == 0);
	}
	gw_buf_free(&out);
	return 0;
}
