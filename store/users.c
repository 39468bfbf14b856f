/*
 * users.c - user records keyed by name. A user's role list is ordered and
 * holds each role once; "default" is implicit and never listed. Deleting a
 * user removes the client-id bindings that point at it in the same
 * transaction, so no binding names a missing user.
 */
#include "users.h"

#include <string.h>

#include "bindings.h"
#include "mem.h"
#include "record.h"
#include "roles.h"
#include "rules.h"

bool users_valid_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return false;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t len;
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c < 0x80)
            len = 1;
        else if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4;
        else
            return false;
        if (i + len > n)
            return false;
        for (size_t j = 1; j < len; j++)
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
        if (len == 3 && ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0)))
            return false; /* overlong, surrogate */
        if (len == 4 && ((c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90)))
            return false;
        i += len;
    }
    return true;
}

bool users_valid_name(const char *name)
{
    return name[0] && users_valid_text(name, USERS_NAME_MAX);
}

enum wd_err users_get(struct store_txn *t, const char *name, struct user **out)
{
    const void *v = NULL;
    size_t n = 0;
    enum wd_err e = store_get(t, DB_USERS, name, strlen(name), &v, &n);
    if (e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "unknown user '%.100s'", name);
    if (e != WD_OK)
        return e;
    e = record_decode_user(name, strlen(name), v, n, out);
    if (e == WD_EMALFORMED)
        return store_txn_fail(t, e, "user '%.100s': record does not decode", name);
    return e;
}

/* Everything a stored user must satisfy. */
static enum wd_err check_user(struct store_txn *t, const struct user *u)
{
    if (!users_valid_name(u->name))
        return store_txn_fail(t, WD_EINVAL, "invalid user name (1-%d bytes of UTF-8, no "
                                            "control characters)", USERS_NAME_MAX);
    if (u->note && !users_valid_text(u->note, USERS_NOTE_MAX))
        return store_txn_fail(t, WD_EINVAL, "invalid note (at most %d bytes, no control "
                                            "characters)", USERS_NOTE_MAX);
    if (u->nroles > RECORD_MAX_LIST || u->nrules > RULES_MAX)
        return store_txn_fail(t, WD_ELIMIT, "too many roles or rules");
    for (size_t i = 0; i < u->nroles; i++) {
        if (!strcmp(u->roles[i], ROLE_DEFAULT))
            return store_txn_fail(t, WD_EINVAL, "every user holds role 'default' already");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(u->roles[i], u->roles[j]))
                return store_txn_fail(t, WD_EEXIST, "user '%.100s' already has role '%.64s'",
                                      u->name, u->roles[i]);
        struct role *r = NULL;
        enum wd_err e = roles_get(t, u->roles[i], &r);
        backend_role_free(r);
        if (e != WD_OK)
            return e;
    }
    for (size_t i = 0; i < u->nrules; i++) {
        char why[200];
        if (rules_validate(&u->rules[i], why, sizeof why) != WD_OK)
            return store_txn_fail(t, WD_EINVAL, "rule %zu: %s", i + 1, why);
    }
    return WD_OK;
}

static enum wd_err put_user(struct store_txn *t, const struct user *u, bool create)
{
    enum wd_err e = check_user(t, u);
    if (e != WD_OK)
        return e;
    const void *v = NULL;
    size_t n = 0;
    e = store_get(t, DB_USERS, u->name, strlen(u->name), &v, &n);
    if (create && e == WD_OK)
        return store_txn_fail(t, WD_EEXIST, "user '%.100s' already exists", u->name);
    if (!create && e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "unknown user '%.100s'", u->name);
    if (e != WD_OK && e != WD_ENOTFOUND)
        return e;
    uint8_t *enc;
    size_t len;
    e = record_encode_user(u, &enc, &len);
    if (e != WD_OK)
        return store_txn_fail(t, e, "user '%.100s': %s", u->name, wd_strerror(e));
    e = store_put(t, DB_USERS, u->name, strlen(u->name), enc, len, false);
    wd_free(enc);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

enum wd_err users_add(struct store_txn *t, const struct user *u)
{
    return put_user(t, u, true);
}

enum wd_err users_update(struct store_txn *t, const struct user *u)
{
    return put_user(t, u, false);
}

enum wd_err users_del(struct store_txn *t, const char *name, size_t *unbound)
{
    enum wd_err e = store_del(t, DB_USERS, name, strlen(name));
    if (e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "unknown user '%.100s'", name);
    if (e != WD_OK)
        return e;
    store_txn_changed(t);
    size_t n = 0;
    e = bindings_del_user(t, name, &n);
    if (unbound)
        *unbound = n;
    return e;
}

struct user_list {
    struct user **v;
    size_t n, cap;
};

static enum wd_err collect_user(void *ctx, const void *key, size_t klen, const void *val,
                                size_t vlen)
{
    struct user_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct user **nv = wd_realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return WD_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    return record_decode_user(key, klen, val, vlen, &l->v[l->n]) == WD_OK
               ? (l->n++, WD_OK)
               : WD_EMALFORMED;
}

enum wd_err users_list(struct store_txn *t, struct user ***out, size_t *n)
{
    struct user_list l = {0};
    enum wd_err e = store_each(t, DB_USERS, false, collect_user, &l);
    if (e != WD_OK) {
        users_list_free(l.v, l.n);
        if (e == WD_EMALFORMED)
            return store_txn_fail(t, e, "a user record does not decode (run warden store "
                                        "verify)");
        return e;
    }
    *out = l.v;
    *n = l.n;
    return WD_OK;
}

void users_list_free(struct user **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        backend_user_free(v[i]);
    wd_free(v);
}

enum wd_err users_login(struct store_txn *t, const char *name, int64_t when,
                        const char *new_hash)
{
    struct user *u;
    enum wd_err e = users_get(t, name, &u);
    if (e != WD_OK)
        return e;
    u->last_login = when;
    if (new_hash) {
        char *h = wd_strdup(new_hash);
        if (!h) {
            backend_user_free(u);
            return WD_ENOMEM;
        }
        wd_free(u->hash);
        u->hash = h;
    }
    uint8_t *enc;
    size_t len;
    e = record_encode_user(u, &enc, &len);
    if (e == WD_OK) {
        e = store_put(t, DB_USERS, name, strlen(name), enc, len, false);
        wd_free(enc);
    }
    backend_user_free(u);
    return e;
}
