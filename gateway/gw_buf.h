/*
 * A growable byte buffer with a read offset: the outbound queue of a
 * connection, the accumulator of an HTTP request, scratch space for JSON.
 * Memory is taken on demand and given back when the buffer drains, so an
 * idle connection holds none.
 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct gw_buf {
	char *data;
	size_t off; /* first unconsumed byte */
	size_t len; /* end of valid data */
	size_t cap;
};

/* Appends n bytes (aborts on OOM, like xmalloc). */
void gw_buf_append(struct gw_buf *b, const void *p, size_t n);
/* Appends formatted text (never truncates). */
void gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Makes room for n more bytes and returns where they go; the caller then
 * calls gw_buf_commit with what it wrote. */
char *gw_buf_reserve(struct gw_buf *b, size_t n);
void gw_buf_commit(struct gw_buf *b, size_t n);
/* Marks n bytes as consumed; frees the memory once everything is. */
void gw_buf_consume(struct gw_buf *b, size_t n);
/* Forgets the contents but keeps the memory (scratch buffers). */
void gw_buf_reset(struct gw_buf *b);
/* Gives the memory back. */
void gw_buf_free(struct gw_buf *b);

static inline size_t
gw_buf_pending(const struct gw_buf *b)
{
	return b->len - b->off;
}

static inline const char *
gw_buf_head(const struct gw_buf *b)
{
	return b->data + b->off;
}

#endif
