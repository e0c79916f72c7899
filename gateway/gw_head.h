/*
 * A validating pre-scan of HTTP/1.1 request heads: the framing rules of
 * RFC 9112 that http-parser (built lenient by distributions) lets through.
 * It only says yes or no; http-parser still does the parsing.
 */
#ifndef GW_HEAD_H
#define GW_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_HEAD_NAME_MAX 17 /* strlen("transfer-encoding") */

/* Embedded in the HTTP state of a connection; only gw_head.c reads the
 * fields. */
struct gw_head {
	uint8_t state;
	uint8_t cl_state; /* in a Content-Length value: digits seen so far */
	uint8_t name_len; /* GW_HEAD_NAME_MAX + 1: longer than any we track */
	char name[GW_HEAD_NAME_MAX];
	bool seen_cl;
	bool seen_te;
	const char *err; /* why the head is refused (static), or NULL */
};

/* Starts a new request (at connect and after each complete message). */
void gw_head_reset(struct gw_head *s);
/* Scans data[0..len) of the byte stream. Returns how many of those bytes
 * may be handed to the parser: all of them once the head has ended (the
 * rest is body, the parser frames it), else up to and including the last
 * byte of the head, or up to the first offending byte, with s->err set.
 * Holds no pointer into data. */
size_t gw_head_scan(struct gw_head *s, const char *data, size_t len);
/* True once the head has ended (until the next gw_head_reset). */
bool gw_head_done(const struct gw_head *s);

#endif
