/*
 * buf.h - growable byte buffer: append at the end, consume from the front.
 *
 * Used for per-connection input and output. Knows nothing of MQTT. Bytes in
 * [off, len) are live; buf_consume() advances off and compacts lazily, so a
 * pointer into the buffer stays valid until the next buf_consume(),
 * buf_reserve() or append.
 */
#ifndef WD_BUF_H
#define WD_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* 32-bit offsets: a buffer stays below 4 GiB (packets are at most 256 MiB), and
 * every connection embeds two of these, so 8 bytes each count (idle memory). */
struct buf {
    uint8_t *data; /* owned allocation of cap bytes, or NULL */
    uint32_t off;  /* first live byte */
    uint32_t len;  /* one past the last live byte */
    uint32_t cap;  /* allocated size */
};

void buf_init(struct buf *b);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void buf_fini(struct buf *b);
/* Make room for n more bytes after len. WD_ENOMEM on failure (buffer unchanged). */
enum wd_err buf_reserve(struct buf *b, size_t n);
enum wd_err buf_append(struct buf *b, const void *p, size_t n);
enum wd_err buf_append_u8(struct buf *b, uint8_t v);
/* Drop n bytes from the front (n <= live length). */
void buf_consume(struct buf *b, size_t n);
/* Drop everything after the first keep live bytes (used to undo an append). */
void buf_truncate(struct buf *b, size_t keep);
/* Release storage when empty and larger than keep_cap (idle connections stay small). */
void buf_shrink(struct buf *b, size_t keep_cap);

static inline size_t buf_used(const struct buf *b) { return b->len - b->off; }
static inline uint8_t *buf_head(const struct buf *b) { return b->data + b->off; }

#endif
