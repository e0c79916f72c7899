/*
 * WebSocket framing. wslay parses what clients send (one event context per
 * connection, max_recv_msg_length always set so a forged length cannot
 * make it allocate), answers pings and closes on protocol violations with
 * the right code. Everything it writes goes through our send callback into
 * the connection's outbound buffer, which always takes all of it: so a
 * frame never sits half-written inside wslay, and we may append frames of
 * our own (replies, fan-out events built once for many connections) to the
 * same buffer without them ever interleaving. Input is handed to wslay
 * from our single read buffer through a cursor (one read per readiness
 * event rather than reading until EAGAIN).
 *
 * wslay's context (about 8.8 KB, most of it its read and write buffers)
 * exists only while something is in flight: it is made when bytes arrive
 * and freed once every byte handed to it belongs to a frame it has fully
 * read and no fragmented message is open. The frame callbacks count the
 * bytes of each frame that starts (header, mask key, payload); when that
 * sum equals what was fed and no frame is open, wslay holds nothing. An
 * idle WebSocket then costs only our own connection state, which is what
 * keeps 18,000 idle sessions small. Any frame whose size we would count
 * wrong (a length not in its shortest form, no mask) makes the sums
 * differ, and the context is simply kept.
 *
 * A client's close frame is judged and answered here, not by wslay: wslay
 * 1.1 answers a 1-byte close payload with a close without a code, refuses
 * the registered codes 1012-1014, and checks the reason's UTF-8 per read
 * chunk from offset 2 of each chunk (so a frame split across reads can
 * slip an invalid byte past it). We collect the payload through the frame
 * callbacks and answer when the frame ends: 1002 for a 1-byte payload or a
 * code not allowed on the wire, 1007 for a reason that is not UTF-8, else
 * the client's code echoed. Still wslay's: a reason it finds invalid
 * mid-frame gets its 1007 first (right for every frame that arrives in one
 * read; a valid multi-byte reason split across reads may get that 1007
 * too).
 */
#include "gw_ws.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "gw_server.h"
#include "prs_util.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#define WS_CONTROL_MAX 125 /* payload bytes of a control frame */

/* The payload of the close frame a client is sending, allocated when its
 * first close frame starts (once per connection at most). */
struct gw_ws_close_in {
	bool open;     /* between the frame's start and end */
	bool overflow; /* more than a control frame may carry */
	uint8_t len;
	uint8_t buf[WS_CONTROL_MAX];
};

/* What the context now alive has been fed and what its frames account
 * for (see the top). */
struct gw_ws_in {
	uint64_t fed;    /* bytes handed to wslay */
	uint64_t framed; /* header + mask + payload of every frame started */
	bool in_frame;   /* between a frame's start and end */
	bool fragmented; /* a data frame without FIN awaits its last part */
};

/* The bytes wslay may read now (set around wslay_event_recv). */
static const uint8_t *in_ptr;
static size_t in_len;

bool
gw_ws_key_valid(const char *key)
{
	unsigned char raw[32];
	size_t i;
	int n;

	if (key == NULL || strlen(key) != 24 || key[22] != '=' ||
	    key[23] != '=')
		return false;
	for (i = 0; i < 22; i++) {
		char ch = key[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
			return false;
	}
	n = EVP_DecodeBlock(raw, (const unsigned char *) key, 24);
	return n == 18; /* 16 bytes plus the two padding positions */
}

void
gw_ws_accept_key(const char *key, char out[32])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char buf[128];
	int n;

	n = snprintf(buf, sizeof(buf), "%s%s", key, ws_guid);
	if (n < 0 || (size_t) n >= sizeof(buf))
		n = 0;
	SHA1((const unsigned char *) buf, (size_t) n, md);
	EVP_EncodeBlock((unsigned char *) out, md, SHA_DIGEST_LENGTH);
}

/* RFC 6455 §7.4 and the IANA registry: the codes a close frame may carry
 * on the wire (1004 is reserved; 1005, 1006 and 1015 are for APIs only). */
static bool
ws_close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) ||
	       (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

uint16_t
gw_ws_close_check(const uint8_t *payload, size_t len)
{
	if (len == 0)
		return 0;
	if (len == 1 || len > WS_CONTROL_MAX ||
	    !ws_close_code_valid((unsigned) payload[0] << 8 | payload[1]))
		return 1002;
	if (!prs_utf8_valid((const char *) payload + 2, len - 2))
		return 1007;
	return 0;
}

size_t
gw_ws_frame_header(uint8_t hdr[GW_WS_HDR_MAX], uint8_t opcode, size_t len)
{
	hdr[0] = (uint8_t) (0x80 | (opcode & 0x0f));
	if (len < 126) {
		hdr[1] = (uint8_t) len;
		return 2;
	}
	if (len <= 0xffff) {
		hdr[1] = 126;
		hdr[2] = (uint8_t) (len >> 8);
		hdr[3] = (uint8_t) len;
		return 4;
	}
	hdr[1] = 127;
	for (int i = 0; i < 8; i++)
		hdr[2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
	return 10;
}

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
	   void *user_data)
{
	size_t n;

	if (in_len == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	n = len < in_len ? len : in_len;
	memcpy(buf, in_ptr, n);
	in_ptr += n;
	in_len -= n;
	((struct gw_conn *) user_data)->ws_in->fed += n;
	return (ssize_t) n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
	   int flags, void *user_data)
{
	struct gw_conn *c = user_data;

	gw_conn_send_raw(c, data, len); /* always takes everything */
	return (ssize_t) len;
}

static int
ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
	      void *user_data)
{
	memset(buf, 0, len); /* servers do not mask; never called */
	return 0;
}

static void
ws_msg_cb(wslay_event_context_ptr ctx,
	  const struct wslay_event_on_msg_recv_arg *arg, void *user_data)
{
	struct gw_conn *c = user_data;

	if (c->state != GW_CONN_WS)
		return;
	switch (arg->opcode) {
	case WSLAY_TEXT_FRAME:
		c->srv->n_msgs_in++;
		c->ws_handler->message(c, arg->msg, arg->msg_length);
		break;
	case WSLAY_BINARY_FRAME:
		gw_ws_close(c, 1003, "binary messages are not supported",
			    false);
		break;
	default:
		break; /* ping, pong, close: wslay handles them */
	}
}

static void
ws_frame_start_cb(wslay_event_context_ptr ctx,
		  const struct wslay_event_on_frame_recv_start_arg *arg,
		  void *user_data)
{
	struct gw_conn *c = user_data;
	struct gw_ws_in *in = c->ws_in;
	uint64_t n = arg->payload_length;

	/* a client's frame: its header in the shortest form, a mask key */
	in->framed += (n < 126 ? 2 : n <= 0xffff ? 4 : 10) + 4 + n;
	in->in_frame = true;
	if (arg->opcode == WSLAY_TEXT_FRAME ||
	    arg->opcode == WSLAY_BINARY_FRAME ||
	    arg->opcode == WSLAY_CONTINUATION_FRAME)
		in->fragmented = !arg->fin;
	if (arg->opcode != WSLAY_CONNECTION_CLOSE || c->state != GW_CONN_WS)
		return;
	if (c->close_in == NULL)
		c->close_in = xmalloc(sizeof(*c->close_in));
	memset(c->close_in, 0, sizeof(*c->close_in));
	c->close_in->open = true;
}

static void
ws_frame_chunk_cb(wslay_event_context_ptr ctx,
		  const struct wslay_event_on_frame_recv_chunk_arg *arg,
		  void *user_data)
{
	struct gw_conn *c = user_data;
	struct gw_ws_close_in *ci = c->close_in;
	size_t n = arg->data_length;

	if (ci == NULL || !ci->open)
		return;
	if (n > sizeof(ci->buf) - ci->len) {
		ci->overflow = true; /* wslay refuses these first */
		n = sizeof(ci->buf) - ci->len;
	}
	memcpy(ci->buf + ci->len, arg->data, n);
	ci->len = (uint8_t) (ci->len + n);
}

/* The end of a frame: for a close frame, our answer (see the top). wslay
 * goes on to handle the same frame, but we have shut its writing down, so
 * what it would answer is never sent. */
static void
ws_frame_end_cb(wslay_event_context_ptr ctx, void *user_data)
{
	struct gw_conn *c = user_data;
	struct gw_ws_close_in *ci = c->close_in;
	uint16_t code;

	c->ws_in->in_frame = false;
	if (ci == NULL || !ci->open || c->state != GW_CONN_WS)
		return;
	ci->open = false;
	code = ci->overflow ? 1002 : gw_ws_close_check(ci->buf, ci->len);
	if (code == 1002)
		gw_ws_close(c, code, "invalid close frame", false);
	else if (code != 0)
		gw_ws_close(c, code, "close reason is not UTF-8", false);
	else if (ci->len == 0)
		gw_ws_close(c, 0, NULL, false);
	else
		gw_ws_close(c, (uint16_t) (ci->buf[0] << 8 | ci->buf[1]), NULL,
			    false);
}

static const struct wslay_event_callbacks ws_callbacks = {
	.recv_callback = ws_recv_cb,
	.send_callback = ws_send_cb,
	.genmask_callback = ws_genmask_cb,
	.on_frame_recv_start_callback = ws_frame_start_cb,
	.on_frame_recv_chunk_callback = ws_frame_chunk_cb,
	.on_frame_recv_end_callback = ws_frame_end_cb,
	.on_msg_recv_callback = ws_msg_cb,
};

static void
ws_input(struct gw_conn *c, const char *data, size_t len)
{
	gw_ws_input(c, (const uint8_t *) data, len);
}

/* Heartbeat: a ping every heartbeat_ms; silence past heartbeat_ms +
 * heartbeat_timeout_ms drops the connection. */
static void
ws_tick(struct gw_conn *c, int64_t now)
{
	const struct gw_config *cfg = c->srv->cfg;

	if (now - c->last_rx >=
	    cfg->heartbeat_ms + cfg->heartbeat_timeout_ms) {
		prs_debug("conn %llu: heartbeat timeout",
			  (unsigned long long) c->serial);
		gw_conn_abort(c);
		return;
	}
	if (now >= c->next_ping) {
		gw_ws_ping(c);
		c->next_ping = now + cfg->heartbeat_ms;
	}
	if (c->ws_handler->tick != NULL)
		c->ws_handler->tick(c, now);
}

static void
ws_overflow(struct gw_conn *c)
{
	gw_ws_close(c, 1008, "outbound queue full", false);
}

static void
ws_expired(struct gw_conn *c)
{
	gw_ws_close(c, 1008, "hello timeout", false);
}

static void
ws_stop(struct gw_conn *c)
{
	if (c->ws_handler->stop != NULL)
		c->ws_handler->stop(c);
	else
		gw_ws_close(c, 1001, "server shutting down", false);
}

static void
ws_leave(struct gw_conn *c, bool clean)
{
	c->srv->nws--;
	c->ws_handler->leave(c, clean);
}

static const struct gw_conn_ops ws_ops = {
	.input = ws_input,
	.tick = ws_tick,
	.overflow = ws_overflow,
	.expired = ws_expired,
	.stop = ws_stop,
	.leave = ws_leave,
	.release = gw_ws_free,
};

/* Makes c's wslay context for bytes that arrive; 0 or -1 (no memory). */
static int
ws_ctx_open(struct gw_conn *c)
{
	if (c->ws != NULL)
		return 0;
	if (wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0) {
		c->ws = NULL;
		return -1;
	}
	wslay_event_config_set_max_recv_msg_length(
		c->ws, (uint64_t) c->srv->cfg->max_message_bytes);
	c->srv->nws_ctx++;
	if (c->ws_in == NULL)
		c->ws_in = xmalloc(sizeof(*c->ws_in));
	memset(c->ws_in, 0, sizeof(*c->ws_in));
	return 0;
}

/* Frees c's context when it holds nothing (see the top). */
static void
ws_ctx_idle(struct gw_conn *c)
{
	struct gw_ws_in *in = c->ws_in;

	if (c->ws == NULL || in->in_frame || in->fragmented ||
	    in->framed != in->fed || wslay_event_want_write(c->ws))
		return;
	wslay_event_context_free(c->ws);
	c->ws = NULL;
	c->srv->nws_ctx--;
	free(c->ws_in);
	c->ws_in = NULL;
}

int
gw_ws_start(struct gw_conn *c, const struct gw_ws_handler *h)
{
	const struct gw_config *cfg = c->srv->cfg;

	c->state = GW_CONN_WS;
	c->ops = &ws_ops;
	c->ws_handler = h;
	c->srv->nws++;
	c->srv->n_ws_opened++;
	c->deadline = 0;
	c->next_ping = prs_mono_ms() + cfg->heartbeat_ms;
	gw_conn_hello_wait(c);
	return 0;
}

void
gw_ws_input(struct gw_conn *c, const uint8_t *data, size_t len)
{
	int rv;

	if (len == 0 || c->state != GW_CONN_WS)
		return;
	if (ws_ctx_open(c) != 0) {
		gw_conn_abort(c);
		return;
	}
	in_ptr = data;
	in_len = len;
	rv = wslay_event_recv(c->ws);
	in_ptr = NULL;
	in_len = 0;
	if (c->state != GW_CONN_WS)
		return; /* we closed or dropped it from a message handler */
	if (rv != 0) {
		/* A framing error wslay found below its event layer (bad
		 * control frame, bad length encoding): it queued a close
		 * without a code; send 1002 ourselves instead. */
		gw_ws_close(c, 1002, "protocol error", false);
		return;
	}
	/* Pongs, and the closes wslay queued itself (1002, 1007, 1009, or
	 * the echo of the client's close). */
	wslay_event_send(c->ws);
	if (wslay_event_get_close_sent(c->ws) ||
	    !wslay_event_get_read_enabled(c->ws))
		gw_conn_closing(c, false);
	else if (gw_buf_pending(&c->out) >
		 (size_t) c->srv->cfg->max_outbound_bytes)
		/* pongs to a client that pings but does not read */
		gw_ws_close(c, 1008, "outbound queue full", false);
	else
		ws_ctx_idle(c);
}

bool
gw_ws_send_text(struct gw_conn *c, const char *data, size_t len)
{
	uint8_t hdr[GW_WS_HDR_MAX];
	size_t hl = gw_ws_frame_header(hdr, WSLAY_TEXT_FRAME, len);
	char *dst;

	if (c->state != GW_CONN_WS || !gw_conn_fits(c, hl + len))
		return false;
	dst = gw_buf_reserve(&c->out, hl + len);
	memcpy(dst, hdr, hl);
	memcpy(dst + hl, data, len);
	gw_buf_commit(&c->out, hl + len);
	c->srv->n_frames_out++;
	gw_conn_flush_later(c);
	return true;
}

void
gw_ws_ping(struct gw_conn *c)
{
	static const uint8_t ping[2] = {0x89, 0x00};

	if (c->state == GW_CONN_WS)
		gw_conn_send_raw(c, ping, sizeof(ping));
}

void
gw_ws_close(struct gw_conn *c, uint16_t code, const char *reason, bool clean)
{
	uint8_t frame[2 + 2 + 123];
	size_t rlen = reason && code != 0 ? strlen(reason) : 0;
	size_t plen = code != 0 ? 2 + (rlen > 123 ? 123 : rlen) : 0;

	if (c->state != GW_CONN_WS)
		return;
	frame[0] = 0x88;
	frame[1] = (uint8_t) plen;
	if (plen > 0) {
		frame[2] = (uint8_t) (code >> 8);
		frame[3] = (uint8_t) code;
	}
	if (plen > 2)
		memcpy(frame + 4, reason, plen - 2);
	/* wslay must neither read further frames of this batch nor write
	 * anything after our close. */
	if (c->ws != NULL) {
		wslay_event_shutdown_read(c->ws);
		wslay_event_shutdown_write(c->ws);
	}
	gw_conn_send_raw(c, frame, 2 + plen);
	gw_conn_closing(c, clean);
}

void
gw_ws_free(struct gw_conn *c)
{
	if (c->ws != NULL) {
		wslay_event_context_free(c->ws);
		c->srv->nws_ctx--;
	}
	c->ws = NULL;
	free(c->ws_in);
	c->ws_in = NULL;
	free(c->close_in);
	c->close_in = NULL;
}
