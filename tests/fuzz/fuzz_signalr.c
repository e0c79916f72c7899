/*
 * libFuzzer harness: the SignalR JSON hub protocol codec (gw_signalr).
 * The first byte picks the size of the chunks the rest is fed to the
 * record reader in (as WebSocket messages would bring it; 0: all at once)
 * and, with its top bit, a small record bound. The first record goes to
 * the handshake parser, the others to the message parser. Beyond "no
 * crash", it checks the reader's records and that what the frontend would
 * answer (Completion, Invocation, Close) encodes and parses back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_signalr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* Parses b's single record back (separator dropped) into *m. */
static int
reparse(struct gw_buf *b, struct gw_sr_msg *m)
{
	size_t n = gw_buf_pending(b);

	check(n > 0 && gw_buf_head(b)[n - 1] == GW_SR_SEP);
	return gw_sr_parse(gw_buf_head(b), n - 1, m);
}

static void
message(const char *rec, size_t len, struct gw_buf *b)
{
	struct gw_sr_msg m, r;
	int rc = gw_sr_parse(rec, len, &m);

	check(rc <= 0 && rc >= GW_SR_EARG);
	if (rc != 0) {
		gw_sr_msg_clear(&m);
		return;
	}
	switch (m.type) {
	case GW_SR_INVOCATION:
	case GW_SR_STREAM_INVOCATION:
		check(m.target != NULL && json_is_array(m.arguments));
		check(gw_sr_target_is(m.target, m.target));
		gw_buf_reset(b);
		check(gw_sr_encode_invocation(b, m.target, m.arguments) == 0);
		check(reparse(b, &r) == 0 && r.type == GW_SR_INVOCATION &&
		      strcmp(r.target, m.target) == 0 &&
		      json_equal(r.arguments, m.arguments));
		gw_sr_msg_clear(&r);
		if (m.invocation_id == NULL)
			break;
		gw_buf_reset(b);
		check(gw_sr_encode_no_method(b, m.invocation_id, m.target) ==
		      0);
		check(reparse(b, &r) == 0 && r.type == GW_SR_COMPLETION &&
		      strcmp(r.invocation_id, m.invocation_id) == 0 &&
		      r.error != NULL && r.result == NULL);
		gw_sr_msg_clear(&r);
		gw_buf_reset(b);
		check(gw_sr_encode_completion(b, m.invocation_id, m.arguments,
					      NULL) == 0);
		check(reparse(b, &r) == 0 &&
		      json_equal(r.result, m.arguments));
		gw_sr_msg_clear(&r);
		break;
	case GW_SR_CLOSE:
		gw_buf_reset(b);
		check(gw_sr_encode_close(b, m.error, m.allow_reconnect) == 0);
		check(reparse(b, &r) == 0 && r.type == GW_SR_CLOSE &&
		      r.allow_reconnect == m.allow_reconnect &&
		      (m.error == NULL) == (r.error == NULL));
		gw_sr_msg_clear(&r);
		break;
	case GW_SR_COMPLETION:
		check(m.invocation_id != NULL &&
		      !(m.error != NULL && m.result != NULL));
		break;
	default:
		break;
	}
	gw_sr_msg_clear(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_sr_reader r;
	struct gw_buf b = {0};
	char why[GW_SR_WHY_MAX];
	const char *rec;
	size_t chunk, len, max;
	bool first = true;
	int rc;

	if (size < 1)
		return 0;
	chunk = data[0] & 0x7f;
	max = (data[0] & 0x80) ? 64 : 0;
	data++;
	size--;
	if (chunk == 0)
		chunk = size ? size : 1;
	gw_sr_reader_init(&r, max);
	while (size > 0) {
		size_t n = chunk < size ? chunk : size;

		if (gw_sr_reader_feed(&r, data, n) != 0)
			break;
		data += n;
		size -= n;
		while ((rc = gw_sr_reader_next(&r, &rec, &len)) == 1) {
			check(len <= r.max);
			check(memchr(rec, GW_SR_SEP, len) == NULL);
			if (first) {
				first = false;
				rc = gw_sr_handshake_parse(rec, len, why);
				check(rc <= 0 && rc >= GW_SR_EARG);
				gw_buf_reset(&b);
				check(gw_sr_handshake_response(
					      &b, rc ? why : NULL) == 0);
			} else {
				message(rec, len, &b);
			}
		}
		if (rc != 0)
			break;
	}
	gw_sr_reader_free(&r);
	gw_buf_free(&b);
	return 0;
}
