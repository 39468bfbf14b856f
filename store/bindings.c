/*
 * bindings.c - client-id binding records, keyed by kind byte + pattern so
 * that the same text may be bound once per kind. Bindings are few (one per
 * device at most), so listing reads them all.
 */
#include "bindings.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "record.h"
#include "users.h"

const char *bindings_kind_name(uint8_t kind)
{
    switch (kind) {
    case BIND_EXACT: return "exact";
    case BIND_PREFIX: return "prefix";
    case BIND_REGEX: return "regex";
    default: return "?";
    }
}

/* Compile "^(pattern)$". Returns 0 or regcomp's error. */
static int compile(const char *pattern, regex_t *re)
{
    size_t n = strlen(pattern) + 5;
    char *anchored = wd_malloc(n);
    if (!anchored)
        return REG_ESPACE;
    snprintf(anchored, n, "^(%s)$", pattern);
    int rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
    wd_free(anchored);
    return rc;
}

enum wd_err bindings_validate(uint8_t kind, const char *pattern, char *why, size_t whylen)
{
    if (kind > BIND_REGEX) {
        snprintf(why, whylen, "unknown binding kind");
        return WD_EINVAL;
    }
    if (!pattern[0] || !users_valid_text(pattern, BINDINGS_PATTERN_MAX)) {
        snprintf(why, whylen, "invalid %s '%.100s' (1-%d bytes of UTF-8, no control "
                              "characters)", kind == BIND_EXACT ? "client id" : "pattern",
                 pattern, BINDINGS_PATTERN_MAX);
        return WD_EINVAL;
    }
    if (kind == BIND_REGEX) {
        regex_t re;
        int rc = compile(pattern, &re);
        if (rc) {
            char msg[128];
            regerror(rc, &re, msg, sizeof msg);
            snprintf(why, whylen, "invalid regular expression '%.100s': %s", pattern, msg);
            return WD_EINVAL;
        }
        regfree(&re);
    }
    return WD_OK;
}

bool bindings_match(const struct binding *b, const char *client_id)
{
    switch (b->kind) {
    case BIND_EXACT: return !strcmp(b->pattern, client_id);
    case BIND_PREFIX: return !strncmp(b->pattern, client_id, strlen(b->pattern));
    case BIND_REGEX: {
        regex_t re;
        if (compile(b->pattern, &re))
            return false;
        bool m = regexec(&re, client_id, 0, NULL, 0) == 0;
        regfree(&re);
        return m;
    }
    default: return false;
    }
}

enum wd_err bindings_add(struct store_txn *t, const struct binding *b)
{
    char why[200];
    if (bindings_validate(b->kind, b->pattern, why, sizeof why) != WD_OK)
        return store_txn_fail(t, WD_EINVAL, "%s", why);
    struct user *u;
    enum wd_err e = users_get(t, b->user, &u);
    if (e != WD_OK)
        return e;
    backend_user_free(u);
    uint8_t *key, *enc;
    size_t klen, len;
    e = record_kind_key(b->kind, b->pattern, &key, &klen);
    if (e != WD_OK)
        return e;
    const void *v = NULL;
    size_t vlen = 0;
    e = store_get(t, DB_BINDINGS, key, klen, &v, &vlen);
    if (e == WD_OK) {
        struct binding old = {0};
        bool decoded = record_decode_binding(key, klen, v, vlen, &old) == WD_OK;
        store_txn_fail(t, WD_EEXIST, "%s '%.100s' is already bound to '%.100s'",
                       b->kind == BIND_EXACT ? "client id" : bindings_kind_name(b->kind),
                       b->pattern, decoded ? old.user : "?");
        if (decoded)
            backend_binding_fini(&old);
        wd_free(key);
        return WD_EEXIST;
    }
    if (e == WD_ENOTFOUND)
        e = record_encode_binding(b, &enc, &len);
    if (e == WD_OK) {
        e = store_put(t, DB_BINDINGS, key, klen, enc, len, true);
        wd_free(enc);
    }
    wd_free(key);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

enum wd_err bindings_del(struct store_txn *t, uint8_t kind, const char *pattern)
{
    uint8_t *key;
    size_t klen;
    enum wd_err e = record_kind_key(kind, pattern, &key, &klen);
    if (e != WD_OK)
        return e;
    e = store_del(t, DB_BINDINGS, key, klen);
    wd_free(key);
    if (e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "no %s binding for '%.100s'", bindings_kind_name(kind),
                              pattern);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

struct blist {
    struct binding *v;
    size_t n, cap;
};

static enum wd_err collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct blist *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct binding *nv = wd_realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return WD_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    enum wd_err e = record_decode_binding(key, klen, val, vlen, &l->v[l->n]);
    if (e == WD_OK)
        l->n++;
    return e;
}

enum wd_err bindings_list(struct store_txn *t, struct binding **out, size_t *n)
{
    struct blist l = {0};
    enum wd_err e = store_each(t, DB_BINDINGS, false, collect, &l);
    if (e != WD_OK) {
        backend_bindings_free(l.v, l.n);
        if (e == WD_EMALFORMED)
            return store_txn_fail(t, e, "a binding record does not decode (run warden store "
                                        "verify)");
        return e;
    }
    *out = l.v;
    *n = l.n;
    return WD_OK;
}

enum wd_err bindings_del_user(struct store_txn *t, const char *user, size_t *n)
{
    struct binding *v = NULL;
    size_t nv = 0;
    *n = 0;
    enum wd_err e = bindings_list(t, &v, &nv);
    for (size_t i = 0; i < nv && e == WD_OK; i++) {
        if (strcmp(v[i].user, user))
            continue;
        e = bindings_del(t, v[i].kind, v[i].pattern);
        if (e == WD_OK)
            (*n)++;
    }
    backend_bindings_free(v, nv);
    return e;
}
