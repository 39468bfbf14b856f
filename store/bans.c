/*
 * bans.c - ban records keyed by kind byte + value; address values are kept
 * in canonical CIDR form so that "10.1.2.3/8" and "10.0.0.0/8" are one ban.
 * Expired bans stay until deleted (the list shows them as expired); the broker
 * ignores them.
 */
#include "bans.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "record.h"
#include "users.h"

const char *bans_kind_name(uint8_t kind)
{
    switch (kind) {
    case BAN_CLIENT: return "client";
    case BAN_USER: return "user";
    case BAN_ADDRESS: return "address";
    default: return "?";
    }
}

enum wd_err bans_parse_cidr(const char *in, char out[BANS_CIDR_MAX])
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(in, '/');
    size_t alen = slash ? (size_t)(slash - in) : strlen(in);
    if (alen == 0 || alen >= sizeof addr)
        return WD_EINVAL;
    memcpy(addr, in, alen);
    addr[alen] = '\0';
    unsigned char bytes[16];
    int af = strchr(addr, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(af, addr, bytes) != 1)
        return WD_EINVAL;
    unsigned max = af == AF_INET ? 32 : 128, prefix = max;
    if (slash) {
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return WD_EINVAL;
        prefix = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return WD_EINVAL;
            prefix = prefix * 10 + (unsigned)(*p - '0');
        }
        if (prefix > max)
            return WD_EINVAL;
    }
    for (unsigned bit = prefix; bit < max; bit++)
        bytes[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    char canon[INET6_ADDRSTRLEN];
    if (!inet_ntop(af, bytes, canon, sizeof canon))
        return WD_EINVAL;
    snprintf(out, BANS_CIDR_MAX, "%s/%u", canon, prefix);
    return WD_OK;
}

/* The stored form of a ban's value, or WD_EINVAL with a reason in t. */
static enum wd_err canonical(struct store_txn *t, uint8_t kind, const char *value,
                             char cidr[BANS_CIDR_MAX], const char **out)
{
    switch (kind) {
    case BAN_ADDRESS:
        if (bans_parse_cidr(value, cidr) != WD_OK)
            return store_txn_fail(t, WD_EINVAL, "invalid address '%.100s' (expected an IPv4 or "
                                                "IPv6 address or CIDR, e.g. 10.0.0.0/8)", value);
        *out = cidr;
        return WD_OK;
    case BAN_USER:
        if (!users_valid_name(value))
            return store_txn_fail(t, WD_EINVAL, "invalid user name '%.100s'", value);
        *out = value;
        return WD_OK;
    case BAN_CLIENT:
        if (!value[0] || !users_valid_text(value, BANS_VALUE_MAX))
            return store_txn_fail(t, WD_EINVAL, "invalid client id '%.100s'", value);
        *out = value;
        return WD_OK;
    default:
        return store_txn_fail(t, WD_EINVAL, "unknown ban kind");
    }
}

enum wd_err bans_add(struct store_txn *t, const struct ban *b)
{
    char cidr[BANS_CIDR_MAX];
    const char *value;
    enum wd_err e = canonical(t, b->kind, b->value, cidr, &value);
    if (e != WD_OK)
        return e;
    if ((b->reason && !users_valid_text(b->reason, BANS_VALUE_MAX)) ||
        (b->actor && !users_valid_text(b->actor, BANS_VALUE_MAX)))
        return store_txn_fail(t, WD_EINVAL, "invalid reason (no control characters)");
    if (b->until < 0)
        return store_txn_fail(t, WD_EINVAL, "invalid expiry time");
    uint8_t *key, *enc;
    size_t klen, len;
    e = record_kind_key(b->kind, value, &key, &klen);
    if (e != WD_OK)
        return e;
    e = record_encode_ban(b, &enc, &len);
    if (e == WD_OK) {
        e = store_put(t, DB_BANS, key, klen, enc, len, true);
        wd_free(enc);
    }
    wd_free(key);
    if (e == WD_EEXIST)
        return store_txn_fail(t, e, "%s '%.100s' is already banned (ban del first to change "
                                    "it)", bans_kind_name(b->kind), value);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

enum wd_err bans_del(struct store_txn *t, uint8_t kind, const char *value)
{
    char cidr[BANS_CIDR_MAX];
    const char *v;
    enum wd_err e = canonical(t, kind, value, cidr, &v);
    if (e != WD_OK)
        return e;
    uint8_t *key;
    size_t klen;
    e = record_kind_key(kind, v, &key, &klen);
    if (e != WD_OK)
        return e;
    e = store_del(t, DB_BANS, key, klen);
    wd_free(key);
    if (e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "no ban of %s '%.100s'", bans_kind_name(kind), v);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

struct blist {
    struct ban *v;
    size_t n, cap;
};

static enum wd_err collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct blist *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct ban *nv = wd_realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return WD_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    enum wd_err e = record_decode_ban(key, klen, val, vlen, &l->v[l->n]);
    if (e == WD_OK)
        l->n++;
    return e;
}

enum wd_err bans_list(struct store_txn *t, struct ban **out, size_t *n)
{
    struct blist l = {0};
    enum wd_err e = store_each(t, DB_BANS, false, collect, &l);
    if (e != WD_OK) {
        backend_bans_free(l.v, l.n);
        if (e == WD_EMALFORMED)
            return store_txn_fail(t, e, "a ban record does not decode (run warden store verify)");
        return e;
    }
    *out = l.v;
    *n = l.n;
    return WD_OK;
}
