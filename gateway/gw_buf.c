/*
 * Growable byte buffers. Consumed bytes at the front are reclaimed by
 * moving the rest down only when room is needed, so a queue that is
 * appended to and drained in turn does not copy on every write.
 */
#include "gw_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prs_util.h"

#define GW_BUF_MIN 256

char *
gw_buf_reserve(struct gw_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return b->data + b->len;
	if (b->off > 0) {
		size_t live = b->len - b->off;
		memmove(b->data, b->data + b->off, live);
		b->off = 0;
		b->len = live;
		if (b->cap - b->len >= n)
			return b->data + b->len;
	}
	{
		size_t ncap = b->cap ? b->cap : GW_BUF_MIN;
		while (ncap - b->len < n)
			ncap *= 2;
		b->data = xrealloc(b->data, ncap);
		b->cap = ncap;
	}
	return b->data + b->len;
}

void
gw_buf_commit(struct gw_buf *b, size_t n)
{
	b->len += n;
}

void
gw_buf_append(struct gw_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	memcpy(gw_buf_reserve(b, n), p, n);
	b->len += n;
}

void
gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *dst = gw_buf_reserve(b, 128);

	va_start(ap, fmt);
	n = vsnprintf(dst, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t) n >= b->cap - b->len) {
		dst = gw_buf_reserve(b, (size_t) n + 1);
		va_start(ap, fmt);
		vsnprintf(dst, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t) n;
}

void
gw_buf_consume(struct gw_buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		gw_buf_free(b);
}

void
gw_buf_reset(struct gw_buf *b)
{
	b->off = b->len = 0;
}

void
gw_buf_free(struct gw_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}
