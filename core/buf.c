/* buf.c - growable byte buffer (see buf.h). Grows by doubling; compacts on demand. */
#include "buf.h"

#include <assert.h>
#include <string.h>

#include "mem.h"

void buf_init(struct buf *b)
{
    memset(b, 0, sizeof *b);
}

void buf_fini(struct buf *b)
{
    wd_free(b->data);
    buf_init(b);
}

enum wd_err buf_reserve(struct buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return WD_OK;
    size_t used = buf_used(b);
    if (n > UINT32_MAX - used)
        return WD_ENOMEM;
    if (b->off && b->cap - used >= n) {
        memmove(b->data, b->data + b->off, used);
        b->off = 0;
        b->len = used;
        return WD_OK;
    }
    if (b->off) {
        memmove(b->data, b->data + b->off, used);
        b->off = 0;
        b->len = used;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - used < n) {
        if (cap > UINT32_MAX / 2) {
            cap = UINT32_MAX;
            break;
        }
        cap *= 2;
    }
    uint8_t *d = wd_realloc(b->data, cap);
    if (!d)
        return WD_ENOMEM;
    b->data = d;
    b->cap = (uint32_t)cap;
    return WD_OK;
}

enum wd_err buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return WD_OK;
    enum wd_err e = buf_reserve(b, n);
    if (e)
        return e;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return WD_OK;
}

enum wd_err buf_append_u8(struct buf *b, uint8_t v)
{
    return buf_append(b, &v, 1);
}

void buf_consume(struct buf *b, size_t n)
{
    assert(n <= buf_used(b));
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

void buf_truncate(struct buf *b, size_t keep)
{
    assert(keep <= buf_used(b));
    b->len = b->off + keep;
}

void buf_shrink(struct buf *b, size_t keep_cap)
{
    if (buf_used(b) == 0 && b->cap > keep_cap) {
        wd_free(b->data);
        buf_init(b);
    }
}
