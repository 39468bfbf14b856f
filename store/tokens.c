/*
 * tokens.c - issuer, signing-key and revocation records in DB_TOKENS, keyed
 * by a kind byte (record.h: RECORD_TOKEN_*) and a name. Few issuers (a
 * handful) and revocations (tokens are short-lived and revocations are
 * dropped once they end), so lookups by iss and purges scan.
 */
#include "tokens.h"

#include <string.h>

#include "mem.h"
#include "record.h"
#include "users.h"

static const char signing_name[] = "self";

static enum wd_err put_issuer(struct store_txn *t, const struct token_issuer *i, bool noovwr)
{
    uint8_t *key, *enc;
    size_t klen, len;
    enum wd_err e = record_kind_key(RECORD_TOKEN_ISSUER, i->name, &key, &klen);
    if (e != WD_OK)
        return e;
    e = record_encode_issuer(i, &enc, &len);
    if (e == WD_OK) {
        e = store_put(t, DB_TOKENS, key, klen, enc, len, noovwr);
        explicit_bzero(enc, len);
        wd_free(enc);
    }
    wd_free(key);
    return e;
}

struct ilist {
    struct token_issuer *v;
    size_t n, cap;
    const char *iss;           /* find: only this one */
};

static enum wd_err collect_issuer(void *ctx, const void *key, size_t klen, const void *val,
                                  size_t vlen)
{
    struct ilist *l = ctx;
    if (klen < 1 || *(const uint8_t *)key != RECORD_TOKEN_ISSUER)
        return WD_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct token_issuer *nv = wd_realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return WD_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    enum wd_err e = record_decode_issuer(key, klen, val, vlen, &l->v[l->n]);
    if (e != WD_OK)
        return e;
    if (l->iss && strcmp(l->v[l->n].iss, l->iss) != 0) {
        backend_issuer_fini(&l->v[l->n]);
        return WD_OK;
    }
    l->n++;
    return l->iss ? WD_ELIMIT : WD_OK;
}

static void ilist_free(struct ilist *l)
{
    for (size_t i = 0; i < l->n; i++)
        backend_issuer_fini(&l->v[i]);
    wd_free(l->v);
}

enum wd_err tokens_issuers_list(struct store_txn *t, struct token_issuer **out, size_t *n)
{
    struct ilist l = {0};
    enum wd_err e = store_each(t, DB_TOKENS, false, collect_issuer, &l);
    if (e != WD_OK) {
        ilist_free(&l);
        return e == WD_EMALFORMED
                   ? store_txn_fail(t, e, "a token issuer record does not decode (run warden "
                                          "store verify)")
                   : e;
    }
    *out = l.v;
    *n = l.n;
    return WD_OK;
}

enum wd_err tokens_issuer_find(struct store_txn *t, const char *iss, struct token_issuer *out)
{
    struct ilist l = {.iss = iss};
    enum wd_err e = store_each(t, DB_TOKENS, false, collect_issuer, &l);
    if (e == WD_OK && l.n == 0)
        e = WD_ENOTFOUND;
    if (e != WD_OK) {
        ilist_free(&l);
        return e;
    }
    *out = l.v[0];
    wd_free(l.v);
    return WD_OK;
}

enum wd_err tokens_issuer_get(struct store_txn *t, const char *name, struct token_issuer *out)
{
    uint8_t *key;
    size_t klen;
    enum wd_err e = record_kind_key(RECORD_TOKEN_ISSUER, name, &key, &klen);
    if (e != WD_OK)
        return e;
    const void *val;
    size_t vlen;
    e = store_get(t, DB_TOKENS, key, klen, &val, &vlen);
    if (e == WD_OK)
        e = record_decode_issuer(key, klen, val, vlen, out);
    wd_free(key);
    if (e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "no token issuer '%.100s'", name);
    return e;
}

enum wd_err tokens_issuer_add(struct store_txn *t, const struct token_issuer *i)
{
    if (!users_valid_name(i->name))
        return store_txn_fail(t, WD_EINVAL, "invalid issuer name '%.100s'", i->name);
    if (!i->iss[0] || !users_valid_text(i->iss, TOKENS_ISS_MAX) ||
        !users_valid_text(i->audience, TOKENS_ISS_MAX))
        return store_txn_fail(t, WD_EINVAL, "invalid --iss or --audience (1..%d characters, no "
                                            "control characters)", TOKENS_ISS_MAX);
    if (i->kind == TOKEN_ISSUER_INTROSPECT &&
        (strncmp(i->url ? i->url : "", "https://", 8) != 0 ||
         !users_valid_text(i->url, TOKENS_ISS_MAX) || !i->client_id || !i->client_id[0] ||
         !users_valid_text(i->client_id, TOKENS_ISS_MAX) || !i->cache))
        return store_txn_fail(t, WD_EINVAL, "an introspection issuer needs an https:// URL, a "
                                            "client id and a cache duration");
    struct token_issuer other;
    enum wd_err e = tokens_issuer_find(t, i->iss, &other);
    if (e == WD_OK) {
        store_txn_fail(t, WD_EEXIST, "issuer '%.100s' already has iss '%.200s'", other.name,
                       i->iss);
        backend_issuer_fini(&other);
        return WD_EEXIST;
    }
    if (e != WD_ENOTFOUND)
        return e;
    e = put_issuer(t, i, true);
    if (e == WD_EEXIST)
        return store_txn_fail(t, e, "token issuer '%.100s' exists (issuer del first)", i->name);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

enum wd_err tokens_issuer_put(struct store_txn *t, const struct token_issuer *i)
{
    struct token_issuer old;
    enum wd_err e = tokens_issuer_get(t, i->name, &old);
    if (e != WD_OK)
        return e;
    backend_issuer_fini(&old);
    e = put_issuer(t, i, false);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

enum wd_err tokens_issuer_del(struct store_txn *t, const char *name)
{
    uint8_t *key;
    size_t klen;
    enum wd_err e = record_kind_key(RECORD_TOKEN_ISSUER, name, &key, &klen);
    if (e != WD_OK)
        return e;
    e = store_del(t, DB_TOKENS, key, klen);
    wd_free(key);
    if (e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "no token issuer '%.100s'", name);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

/* ---- revocations ---- */

struct rlist {
    struct token_revoked *v;
    size_t n, cap;
    int64_t now;
    bool ended;                /* collect the ended ones (to drop) instead of the live */
};

static enum wd_err collect_revoked(void *ctx, const void *key, size_t klen, const void *val,
                                   size_t vlen)
{
    struct rlist *l = ctx;
    if (klen < 1 || *(const uint8_t *)key != RECORD_TOKEN_REVOKED)
        return WD_OK;
    struct token_revoked r;
    enum wd_err e = record_decode_revoked(key, klen, val, vlen, &r);
    if (e != WD_OK)
        return e;
    bool ended = r.until && r.until <= l->now;
    if (ended != l->ended) {
        backend_revoked_fini(&r);
        return WD_OK;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct token_revoked *nv = wd_realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            backend_revoked_fini(&r);
            return WD_ENOMEM;
        }
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = r;
    return WD_OK;
}

static void rlist_free(struct token_revoked *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        backend_revoked_fini(&v[i]);
    wd_free(v);
}

enum wd_err tokens_revoked_list(struct store_txn *t, int64_t now, struct token_revoked **out,
                                size_t *n)
{
    struct rlist l = {.now = now};
    enum wd_err e = store_each(t, DB_TOKENS, false, collect_revoked, &l);
    if (e != WD_OK) {
        rlist_free(l.v, l.n);
        return e;
    }
    *out = l.v;
    *n = l.n;
    return WD_OK;
}

enum wd_err tokens_revoke(struct store_txn *t, const struct token_revoked *r)
{
    if (!r->jti[0] || !users_valid_text(r->jti, TOKENS_JTI_MAX))
        return store_txn_fail(t, WD_EINVAL, "invalid token id (1..%d characters, no control "
                                            "characters)", TOKENS_JTI_MAX);
    if (r->until < 0 || (r->until && r->until <= r->created))
        return store_txn_fail(t, WD_EINVAL, "--until must be in the future");
    /* Drop revocations whose tokens have expired: the list stays as short as the live ones. */
    struct rlist l = {.now = r->created, .ended = true};
    enum wd_err e = store_each(t, DB_TOKENS, false, collect_revoked, &l);
    for (size_t i = 0; e == WD_OK && i < l.n; i++) {
        uint8_t *key;
        size_t klen;
        if ((e = record_kind_key(RECORD_TOKEN_REVOKED, l.v[i].jti, &key, &klen)) == WD_OK) {
            e = store_del(t, DB_TOKENS, key, klen);
            wd_free(key);
        }
    }
    rlist_free(l.v, l.n);
    if (e != WD_OK)
        return e;
    uint8_t *key, *enc;
    size_t klen, len;
    if ((e = record_kind_key(RECORD_TOKEN_REVOKED, r->jti, &key, &klen)) != WD_OK)
        return e;
    e = record_encode_revoked(r, &enc, &len);
    if (e == WD_OK) {
        e = store_put(t, DB_TOKENS, key, klen, enc, len, false);
        wd_free(enc);
    }
    wd_free(key);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

enum wd_err tokens_is_revoked(struct store_txn *t, const char *jti, int64_t now, bool *out)
{
    uint8_t *key;
    size_t klen;
    *out = false;
    enum wd_err e = record_kind_key(RECORD_TOKEN_REVOKED, jti, &key, &klen);
    if (e != WD_OK)
        return e;
    const void *val;
    size_t vlen;
    e = store_get(t, DB_TOKENS, key, klen, &val, &vlen);
    if (e == WD_OK) {
        struct token_revoked r;
        if ((e = record_decode_revoked(key, klen, val, vlen, &r)) == WD_OK) {
            *out = !r.until || r.until > now;
            backend_revoked_fini(&r);
        }
    } else if (e == WD_ENOTFOUND) {
        e = WD_OK;
    }
    wd_free(key);
    return e;
}

/* ---- signing keys ---- */

enum wd_err tokens_signing_get(struct store_txn *t, struct token_signing *out)
{
    uint8_t *key;
    size_t klen;
    enum wd_err e = record_kind_key(RECORD_TOKEN_SIGNING, signing_name, &key, &klen);
    if (e != WD_OK)
        return e;
    const void *val;
    size_t vlen;
    e = store_get(t, DB_TOKENS, key, klen, &val, &vlen);
    if (e == WD_OK)
        e = record_decode_signing(key, klen, val, vlen, out);
    wd_free(key);
    return e;
}

enum wd_err tokens_signing_ensure(struct store_txn *t, const struct token_signing *k,
                                  struct token_signing *out)
{
    enum wd_err e = tokens_signing_get(t, out);
    if (e != WD_ENOTFOUND)
        return e;
    uint8_t *key, *enc;
    size_t klen, len;
    if ((e = record_kind_key(RECORD_TOKEN_SIGNING, signing_name, &key, &klen)) != WD_OK)
        return e;
    e = record_encode_signing(k, &enc, &len);
    if (e == WD_OK) {
        e = store_put(t, DB_TOKENS, key, klen, enc, len, true);
        explicit_bzero(enc, len);
        wd_free(enc);
    }
    wd_free(key);
    if (e == WD_OK)
        *out = *k;
    return e;
}
