/*
 * verify.c - `warden store verify`: one read transaction over every database.
 * Each record must decode; users may name only existing roles; bindings only
 * existing users, and so may certificate pins; the built-in roles must exist; audit numbers must be below
 * the meta record's next number. Problems are reported one by one and
 * counted; the walk never stops at the first.
 */
#include "verify.h"

#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "record.h"
#include "schema.h"

struct vctx {
    store_verify_fn fn;
    void *ctx;
    size_t problems;
    struct store_txn *t;
    enum store_db db;
    struct record_meta meta;
};

static void problem(struct vctx *v, const void *key, size_t klen, const char *what)
{
    char k[128];
    size_t n = klen < sizeof k - 1 ? klen : sizeof k - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = ((const unsigned char *)key)[i];
        k[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    k[n] = '\0';
    v->problems++;
    if (v->fn)
        v->fn(v->ctx, store_db_name(v->db), k, what);
}

static bool exists(struct store_txn *t, enum store_db db, const void *key, size_t klen)
{
    const void *val = NULL;
    size_t n = 0;
    return store_get(t, db, key, klen, &val, &n) == WD_OK;
}

static enum wd_err check_record(void *ctx, const void *key, size_t klen, const void *val,
                                size_t vlen)
{
    struct vctx *v = ctx;
    char msg[200];
    enum wd_err e = WD_OK;
    switch (v->db) {
    case DB_META:
        if (klen != strlen(RECORD_META_KEY) || memcmp(key, RECORD_META_KEY, klen))
            problem(v, key, klen, "unknown key");
        break;
    case DB_USERS: {
        struct user *u;
        e = record_decode_user(key, klen, val, vlen, &u);
        if (e != WD_OK)
            break;
        if (record_version(val, vlen) != RECORD_USER_V2)
            problem(v, key, klen, "old record version (migration incomplete)");
        for (size_t i = 0; i < u->nroles; i++) {
            if (!exists(v->t, DB_ROLES, u->roles[i], strlen(u->roles[i]))) {
                snprintf(msg, sizeof msg, "holds unknown role '%.64s'", u->roles[i]);
                problem(v, key, klen, msg);
            }
        }
        backend_user_free(u);
        break;
    }
    case DB_ROLES: {
        struct role *r;
        e = record_decode_role(key, klen, val, vlen, &r);
        backend_role_free(e == WD_OK ? r : NULL);
        break;
    }
    case DB_BINDINGS: {
        struct binding b;
        e = record_decode_binding(key, klen, val, vlen, &b);
        if (e != WD_OK)
            break;
        if (!exists(v->t, DB_USERS, b.user, strlen(b.user))) {
            snprintf(msg, sizeof msg, "bound to unknown user '%.100s'", b.user);
            problem(v, key, klen, msg);
        }
        backend_binding_fini(&b);
        break;
    }
    case DB_BANS: {
        struct ban b;
        e = record_decode_ban(key, klen, val, vlen, &b);
        if (e == WD_OK)
            backend_ban_fini(&b);
        break;
    }
    case DB_AUDIT: {
        struct audit_entry a;
        e = record_decode_audit(key, klen, val, vlen, &a);
        if (e != WD_OK)
            break;
        if (a.seq >= v->meta.audit_next)
            problem(v, key, klen, "sequence number beyond the meta record's");
        backend_audit_fini(&a);
        break;
    }
    case DB_CERTS: {
        struct cert_rec c;
        e = record_decode_cert(key, klen, val, vlen, &c);
        if (e != WD_OK)
            break;
        if (c.kind == CERTREC_PIN && !exists(v->t, DB_USERS, c.user, strlen(c.user))) {
            snprintf(msg, sizeof msg, "pin of unknown user '%.100s'", c.user);
            problem(v, key, klen, msg);
        }
        backend_cert_fini(&c);
        break;
    }
    case DB_TOKENS: {
        uint8_t kind = klen ? *(const uint8_t *)key : 0xFF;
        if (kind == RECORD_TOKEN_ISSUER) {
            struct token_issuer i;
            if ((e = record_decode_issuer(key, klen, val, vlen, &i)) == WD_OK)
                backend_issuer_fini(&i);
        } else if (kind == RECORD_TOKEN_REVOKED) {
            struct token_revoked r;
            if ((e = record_decode_revoked(key, klen, val, vlen, &r)) == WD_OK)
                backend_revoked_fini(&r);
        } else if (kind == RECORD_TOKEN_SIGNING) {
            struct token_signing k;
            e = record_decode_signing(key, klen, val, vlen, &k);
            explicit_bzero(&k, sizeof k);
        } else {
            e = WD_EMALFORMED;
        }
        break;
    }
    case DB_COUNT:
        break;
    }
    if (e == WD_EMALFORMED) {
        problem(v, key, klen, "record does not decode");
        return WD_OK;
    }
    return e;
}

static enum wd_err verify_txn(struct store_txn *t, void *arg)
{
    struct vctx *v = arg;
    v->t = t;
    v->db = DB_META;
    const void *val = NULL;
    size_t n = 0;
    enum wd_err e = store_get(t, DB_META, RECORD_META_KEY, strlen(RECORD_META_KEY), &val, &n);
    if (e == WD_OK && record_decode_meta(val, n, &v->meta) != WD_OK) {
        problem(v, RECORD_META_KEY, 4, "meta record does not decode");
        v->meta.audit_next = UINT64_MAX;
    } else if (e == WD_ENOTFOUND) {
        problem(v, RECORD_META_KEY, 4, "meta record missing");
        v->meta.audit_next = UINT64_MAX;
    } else if (e != WD_OK) {
        return e;
    } else if (v->meta.schema != SCHEMA_VERSION) {
        problem(v, RECORD_META_KEY, 4, "schema version is not this Warden's");
    }
    static const char *const builtin[] = {ROLE_ANONYMOUS, ROLE_DEFAULT};
    v->db = DB_ROLES;
    for (int i = 0; i < 2; i++)
        if (!exists(t, DB_ROLES, builtin[i], strlen(builtin[i])))
            problem(v, builtin[i], strlen(builtin[i]), "built-in role missing");
    for (int db = 0; db < DB_COUNT; db++) {
        v->db = (enum store_db)db;
        e = store_each(t, v->db, false, check_record, v);
        if (e != WD_OK)
            return e;
    }
    return WD_OK;
}

enum wd_err store_verify(struct store *s, store_verify_fn fn, void *ctx, size_t *problems)
{
    struct vctx v = {.fn = fn, .ctx = ctx};
    enum wd_err e = store_read(s, verify_txn, &v);
    *problems = v.problems;
    return e;
}
