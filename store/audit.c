/*
 * audit.c - the audit ring in the "audit" database, keyed by big-endian
 * sequence number so that a cursor walks it in time order. The next number
 * lives in the meta record, so numbers are never reused even after the ring
 * drops old entries. Appends are rare (one per admin change or broker
 * event), and trimming deletes from the front with a cursor.
 */
#include "audit.h"

#include <string.h>
#include <time.h>

#include "mem.h"
#include "record.h"

struct first_keys {
    uint8_t (*keys)[8];
    size_t want, n;
};

static enum wd_err first_key(void *ctx, const void *key, size_t klen, const void *val,
                             size_t vlen)
{
    (void)val;
    (void)vlen;
    struct first_keys *f = ctx;
    if (klen != 8)
        return WD_EMALFORMED;
    memcpy(f->keys[f->n++], key, 8);
    return f->n == f->want ? WD_ELIMIT : WD_OK;
}

/* Drop the oldest entries beyond the ring size. */
static enum wd_err trim(struct store_txn *t)
{
    size_t count;
    enum wd_err e = store_count(t, DB_AUDIT, &count);
    uint32_t max = store_audit_max(t->s);
    if (e != WD_OK || count <= max)
        return e;
    struct first_keys f = {.want = count - max};
    f.keys = wd_malloc(f.want * sizeof *f.keys);
    if (!f.keys)
        return WD_ENOMEM;
    e = store_each(t, DB_AUDIT, false, first_key, &f);
    for (size_t i = 0; i < f.n && e == WD_OK; i++)
        e = store_del(t, DB_AUDIT, f.keys[i], 8);
    wd_free(f.keys);
    return e;
}

enum wd_err audit_append(struct store_txn *t, const char *actor, const char *action,
                         const char *target, const char *result)
{
    struct record_meta m;
    enum wd_err e = store_meta_get(t, &m);
    if (e != WD_OK)
        return e;
    struct audit_entry a = {.seq = m.audit_next, .time = (int64_t)time(NULL),
                            .actor = (char *)actor, .action = (char *)action,
                            .target = (char *)target, .result = (char *)result};
    uint8_t key[8], *enc;
    size_t len;
    record_audit_key(a.seq, key);
    e = record_encode_audit(&a, &enc, &len);
    if (e != WD_OK)
        return e;
    e = store_put(t, DB_AUDIT, key, sizeof key, enc, len, false);
    wd_free(enc);
    if (e != WD_OK)
        return e;
    m.audit_next++;
    e = store_meta_put(t, &m);
    if (e == WD_OK)
        e = trim(t);
    return e;
}

struct alist {
    struct audit_entry *v;
    size_t n, cap;
    size_t limit;
    uint64_t after;
};

/* Walking newest first: collect until limit or until seq <= after. */
static enum wd_err collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct alist *l = ctx;
    if (l->limit && l->n == l->limit)
        return WD_ELIMIT;
    struct audit_entry a;
    enum wd_err e = record_decode_audit(key, klen, val, vlen, &a);
    if (e != WD_OK)
        return e;
    if (a.seq <= l->after) {
        backend_audit_fini(&a);
        return WD_ELIMIT;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct audit_entry *nv = wd_realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            backend_audit_fini(&a);
            return WD_ENOMEM;
        }
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = a;
    return WD_OK;
}

enum wd_err audit_list(struct store_txn *t, uint64_t after, size_t limit,
                       struct audit_entry **out, size_t *n)
{
    struct alist l = {.limit = limit, .after = after};
    enum wd_err e = store_each(t, DB_AUDIT, true, collect, &l);
    if (e != WD_OK) {
        backend_audit_free(l.v, l.n);
        if (e == WD_EMALFORMED)
            return store_txn_fail(t, e, "an audit record does not decode");
        return e;
    }
    for (size_t i = 0; i < l.n / 2; i++) { /* oldest first */
        struct audit_entry tmp = l.v[i];
        l.v[i] = l.v[l.n - 1 - i];
        l.v[l.n - 1 - i] = tmp;
    }
    *out = l.v;
    *n = l.n;
    return WD_OK;
}
