/*
 * schema.c - initialise a new store and migrate old ones, in the caller's
 * write transaction, so that a migration is all-or-nothing. Each migration
 * is one row of migrations[] (from-version -> function); they run in order.
 * Identity data is small (thousands of records at most), so a migration may
 * collect keys in memory before rewriting.
 */
#include "schema.h"

#include <string.h>

#include "mem.h"
#include "record.h"
#include "roles.h"

struct names {
    char **v;
    size_t n, cap;
};

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        wd_free(ns->v[i]);
    wd_free(ns->v);
}

/* Collect a key (a user or role name) into ns. */
static enum wd_err collect(struct names *ns, const void *key, size_t klen)
{
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 16;
        char **nv = wd_realloc(ns->v, cap * sizeof *nv);
        if (!nv)
            return WD_ENOMEM;
        ns->v = nv;
        ns->cap = cap;
    }
    char *k = wd_strndup(key, klen);
    if (!k)
        return WD_ENOMEM;
    ns->v[ns->n++] = k;
    return WD_OK;
}

/* Collect the keys of user records written in the version-1 format. */
static enum wd_err collect_v1(void *ctx, const void *key, size_t klen, const void *val,
                              size_t vlen)
{
    if (record_version(val, vlen) != RECORD_USER_V1)
        return WD_OK;
    return collect(ctx, key, klen);
}

/* Collect the keys of role records written in the version-1 format. */
static enum wd_err collect_role_v1(void *ctx, const void *key, size_t klen, const void *val,
                                   size_t vlen)
{
    if (record_version(val, vlen) != RECORD_ROLE_V1)
        return WD_OK;
    return collect(ctx, key, klen);
}

/* 1 -> 2: rewrite every user in the version-2 format (last_login 0, empty note). */
static enum wd_err migrate_1_to_2(struct store_txn *t)
{
    struct names ns = {0};
    enum wd_err e = store_each(t, DB_USERS, false, collect_v1, &ns);
    for (size_t i = 0; i < ns.n && e == WD_OK; i++) {
        const void *v = NULL;
        size_t vlen, klen = strlen(ns.v[i]);
        struct user *u = NULL;
        uint8_t *enc = NULL;
        size_t elen;
        e = store_get(t, DB_USERS, ns.v[i], klen, &v, &vlen);
        if (e == WD_OK)
            e = record_decode_user(ns.v[i], klen, v, vlen, &u);
        if (e == WD_EMALFORMED)
            store_txn_fail(t, e, "migration 1->2: user '%s' does not decode", ns.v[i]);
        if (e == WD_OK)
            e = record_encode_user(u, &enc, &elen);
        if (e == WD_OK)
            e = store_put(t, DB_USERS, ns.v[i], klen, enc, elen, false);
        wd_free(enc);
        backend_user_free(u);
    }
    names_free(&ns);
    return e;
}

/* 2 -> 3: rewrite every role in the version-2 format (no on_deny policy: DENY_UNSET). */
static enum wd_err migrate_2_to_3(struct store_txn *t)
{
    struct names ns = {0};
    enum wd_err e = store_each(t, DB_ROLES, false, collect_role_v1, &ns);
    for (size_t i = 0; i < ns.n && e == WD_OK; i++) {
        const void *v = NULL;
        size_t vlen, klen = strlen(ns.v[i]);
        struct role *r = NULL;
        uint8_t *enc = NULL;
        size_t elen;
        e = store_get(t, DB_ROLES, ns.v[i], klen, &v, &vlen);
        if (e == WD_OK)
            e = record_decode_role(ns.v[i], klen, v, vlen, &r);
        if (e == WD_EMALFORMED)
            store_txn_fail(t, e, "migration 2->3: role '%s' does not decode", ns.v[i]);
        if (e == WD_OK)
            e = record_encode_role(r, &enc, &elen);
        if (e == WD_OK)
            e = store_put(t, DB_ROLES, ns.v[i], klen, enc, elen, false);
        wd_free(enc);
        backend_role_free(r);
    }
    names_free(&ns);
    return e;
}

/* 3 -> 4: the certs and tokens databases, created empty by the caller's open. */
static enum wd_err migrate_3_to_4(struct store_txn *t)
{
    (void)t;
    return WD_OK;
}

static const struct migration {
    uint32_t from;
    enum wd_err (*run)(struct store_txn *t);
} migrations[] = {
    {1, migrate_1_to_2},
    {2, migrate_2_to_3},
    {3, migrate_3_to_4},
};

_Static_assert(sizeof migrations / sizeof migrations[0] == SCHEMA_VERSION - 1,
               "one migration per schema step");

enum wd_err schema_check(struct store_txn *t, bool *needs_write)
{
    const void *v = NULL;
    size_t n = 0;
    enum wd_err e = store_get(t, DB_META, RECORD_META_KEY, strlen(RECORD_META_KEY), &v, &n);
    if (e == WD_ENOTFOUND) {
        *needs_write = true;
        return WD_OK;
    }
    if (e != WD_OK)
        return e;
    struct record_meta m;
    if (record_decode_meta(v, n, &m) != WD_OK)
        return store_txn_fail(t, WD_EMALFORMED, "the meta record does not decode");
    if (m.schema > SCHEMA_VERSION)
        return store_txn_fail(t, WD_EVERSION,
                              "store schema %u is newer than this Warden's (%u): upgrade Warden",
                              (unsigned)m.schema, (unsigned)SCHEMA_VERSION);
    bool present = false;
    e = roles_builtin_present(t, &present);
    *needs_write = m.schema < SCHEMA_VERSION || !present;
    return e;
}

enum wd_err schema_upgrade(struct store_txn *t)
{
    struct record_meta m;
    const void *v = NULL;
    size_t n = 0;
    enum wd_err e = store_get(t, DB_META, RECORD_META_KEY, strlen(RECORD_META_KEY), &v, &n);
    if (e == WD_ENOTFOUND) {
        m = (struct record_meta){.schema = SCHEMA_VERSION, .generation = 1, .audit_next = 1};
        e = store_meta_put(t, &m);
    } else if (e == WD_OK) {
        e = store_meta_get(t, &m);
        if (e == WD_OK && m.schema > SCHEMA_VERSION)
            return store_txn_fail(t, WD_EVERSION, "store schema %u is newer than this Warden's",
                                  (unsigned)m.schema);
        while (e == WD_OK && m.schema < SCHEMA_VERSION) {
            e = migrations[m.schema - 1].run(t);
            if (e == WD_OK) {
                m.schema++;
                e = store_meta_put(t, &m);
            }
        }
    }
    bool created = false;
    if (e == WD_OK)
        e = roles_ensure_builtin(t, &created);
    if (e == WD_OK && created)
        store_txn_changed(t);
    return e;
}
