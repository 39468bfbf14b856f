/*
 * backend.c - core/backend.h implemented on the store: each op is one
 * transaction that copies what it returns, so the caller never holds a
 * pointer into the map. (Declared in store.h: store_backend_ops.)
 */
#include "store.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "audit.h"
#include "bans.h"
#include "bindings.h"
#include "certs.h"
#include "roles.h"
#include "tokens.h"
#include "users.h"

struct op {
    const char *name;
    const char *s1, *s2, *s3, *s4;
    int64_t when;
    const void *in;
    void *out;
    size_t *n;
};

static enum wd_err tx_user_get(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return users_get(t, o->name, o->out);
}

static enum wd_err tx_role_get(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return roles_get(t, o->name, o->out);
}

static enum wd_err tx_bindings(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return bindings_list(t, o->out, o->n);
}

static enum wd_err tx_bans(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return bans_list(t, o->out, o->n);
}

static enum wd_err tx_login(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return users_login(t, o->name, o->when, o->s1);
}

static enum wd_err tx_audit(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return audit_append(t, o->s1, o->s2, o->s3, o->s4);
}

static enum wd_err tx_ban_add(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    struct ban b = {.kind = (uint8_t)o->when, .value = (char *)o->s1, .until = *(int64_t *)o->out,
                    .reason = (char *)o->s2, .actor = (char *)o->s3,
                    .created = (int64_t)time(NULL)};
    enum wd_err e = bans_del(t, b.kind, b.value); /* replace: the broker extends its own bans */
    if (e != WD_OK && e != WD_ENOTFOUND)
        return e;
    return bans_add(t, &b);
}

static enum wd_err tx_cert_check(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return certs_check(t, o->name, o->in, o->out);
}

static enum wd_err tx_certs_list(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return certs_list(t, (uint8_t)o->when, NULL, o->out, o->n);
}

static enum wd_err tx_cert_seen(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return certs_seen(t, o->in);
}

static enum wd_err op_cert_check(void *ctx, const char *user, const uint8_t fp[CERT_FP_LEN],
                                 enum cert_verdict *out)
{
    struct op o = {.name = user, .in = fp, .out = out};
    return store_read(ctx, tx_cert_check, &o);
}

static enum wd_err op_certs_list(void *ctx, uint8_t kind, struct cert_rec **out, size_t *n)
{
    struct op o = {.when = kind, .out = out, .n = n};
    return store_read(ctx, tx_certs_list, &o);
}

static enum wd_err op_cert_seen(void *ctx, const struct cert_rec *r)
{
    struct op o = {.in = r};
    return store_write(ctx, tx_cert_seen, &o);
}

static enum wd_err op_user_get(void *ctx, const char *name, struct user **out)
{
    struct op o = {.name = name, .out = out};
    return store_read(ctx, tx_user_get, &o);
}

static enum wd_err op_role_get(void *ctx, const char *name, struct role **out)
{
    struct op o = {.name = name, .out = out};
    return store_read(ctx, tx_role_get, &o);
}

static enum wd_err op_bindings(void *ctx, struct binding **out, size_t *n)
{
    struct op o = {.out = out, .n = n};
    return store_read(ctx, tx_bindings, &o);
}

static enum wd_err op_bans(void *ctx, struct ban **out, size_t *n)
{
    struct op o = {.out = out, .n = n};
    return store_read(ctx, tx_bans, &o);
}

static enum wd_err op_generation(void *ctx, uint64_t *out)
{
    return store_generation(ctx, out);
}

static enum wd_err op_login(void *ctx, const char *name, int64_t when, const char *new_hash)
{
    struct op o = {.name = name, .when = when, .s1 = new_hash};
    return store_write(ctx, tx_login, &o);
}

static enum wd_err op_audit(void *ctx, const char *actor, const char *action, const char *target,
                            const char *result)
{
    struct op o = {.s1 = actor, .s2 = action, .s3 = target, .s4 = result};
    return store_write(ctx, tx_audit, &o);
}

static enum wd_err tx_audit_recent(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return audit_list(t, 0, (size_t)o->when, o->out, o->n);
}

static enum wd_err op_audit_recent(void *ctx, size_t limit, struct audit_entry **out, size_t *n)
{
    struct op o = {.when = (int64_t)limit, .out = out, .n = n};
    return store_read(ctx, tx_audit_recent, &o);
}

static enum wd_err op_store_stat(void *ctx, uint64_t *generation, uint64_t *bytes)
{
    struct store_info in;
    enum wd_err e = store_info(ctx, &in);
    if (e)
        return e;
    *generation = in.generation;
    *bytes = in.used;
    return WD_OK;
}

static enum wd_err op_ban_add(void *ctx, uint8_t kind, const char *value, int64_t until,
                              const char *reason, const char *actor)
{
    struct op o = {.when = kind, .s1 = value, .s2 = reason ? reason : "",
                   .s3 = actor ? actor : "broker", .out = &until};
    return store_write(ctx, tx_ban_add, &o);
}

static enum wd_err tx_issuer_find(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    struct token_issuer *i = wd_calloc(1, sizeof *i);
    if (!i)
        return WD_ENOMEM;
    enum wd_err e = tokens_issuer_find(t, o->name, i);
    if (e != WD_OK) {
        wd_free(i);
        return e;
    }
    *(struct token_issuer **)o->out = i;
    return WD_OK;
}

static enum wd_err op_issuer_find(void *ctx, const char *iss, struct token_issuer **out)
{
    struct op o = {.name = iss, .out = out};
    return store_read(ctx, tx_issuer_find, &o);
}

static enum wd_err tx_issuers_list(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return tokens_issuers_list(t, (struct token_issuer **)o->out, o->n);
}

static enum wd_err op_issuers_list(void *ctx, struct token_issuer **out, size_t *n)
{
    struct op o = {.out = out, .n = n};
    *out = NULL;
    *n = 0;
    return store_read(ctx, tx_issuers_list, &o);
}

static enum wd_err tx_revoked(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return tokens_is_revoked(t, o->name, o->when, o->out);
}

static enum wd_err op_revoked(void *ctx, const char *jti, int64_t now, bool *out)
{
    struct op o = {.name = jti, .when = now, .out = out};
    return store_read(ctx, tx_revoked, &o);
}

static enum wd_err tx_signing_get(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return tokens_signing_get(t, o->out);
}

static enum wd_err tx_signing_ensure(struct store_txn *t, void *arg)
{
    struct op *o = arg;
    return tokens_signing_ensure(t, (const struct token_signing *)o->s1, o->out);
}

static enum wd_err op_signing(void *ctx, const struct token_signing *fresh,
                              struct token_signing *out)
{
    /* Read first: the keys exist on every call but the very first. */
    struct op o = {.s1 = (const char *)fresh, .out = out};
    enum wd_err e = store_read(ctx, tx_signing_get, &o);
    if (e == WD_ENOTFOUND && fresh)
        e = store_write(ctx, tx_signing_ensure, &o);
    return e;
}

/* A whole small file into a fresh buffer (at most RECORD_MAX_BLOB bytes). */
static enum wd_err read_file(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return WD_EIO;
    uint8_t *b = wd_malloc(RECORD_MAX_BLOB + 1);
    size_t n = 0;
    ssize_t r = 1;
    while (b && n <= RECORD_MAX_BLOB && (r = read(fd, b + n, RECORD_MAX_BLOB + 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    if (!b)
        return WD_ENOMEM;
    if (r < 0 || n > RECORD_MAX_BLOB || n == 0) {
        wd_free(b);
        return r < 0 ? WD_EIO : WD_ETOOLARGE;
    }
    *out = b;
    *len = n;
    return WD_OK;
}

struct reload {
    bool (*valid)(const uint8_t *, size_t);
    size_t n;
};

static enum wd_err tx_reload(struct store_txn *t, void *arg)
{
    struct reload *rl = arg;
    struct token_issuer *v = NULL;
    size_t n = 0;
    rl->n = 0;
    enum wd_err e = tokens_issuers_list(t, &v, &n);
    for (size_t i = 0; e == WD_OK && i < n; i++) {
        uint8_t *mat;
        size_t len;
        if (v[i].kind != TOKEN_ISSUER_JWKS || !v[i].path[0] ||
            read_file(v[i].path, &mat, &len) != WD_OK)
            continue;
        if (!rl->valid(mat, len) ||
            (len == v[i].mat_len && memcmp(mat, v[i].mat, len) == 0)) {
            wd_free(mat);
            continue;
        }
        wd_free(v[i].mat);
        v[i].mat = mat;
        v[i].mat_len = len;
        v[i].updated = (int64_t)time(NULL);
        if ((e = tokens_issuer_put(t, &v[i])) == WD_OK) {
            e = audit_append(t, "broker", "token issuer reload", v[i].name, "ok");
            rl->n++;
        }
    }
    for (size_t i = 0; i < n; i++)
        backend_issuer_fini(&v[i]);
    wd_free(v);
    return e;
}

static enum wd_err op_issuers_reload(void *ctx, bool (*valid)(const uint8_t *, size_t),
                                     size_t *n)
{
    struct reload rl = {valid, 0};
    enum wd_err e = store_write(ctx, tx_reload, &rl);
    *n = e == WD_OK ? rl.n : 0;
    return e;
}

void store_backend_ops(struct store *s, struct backend_ops *ops)
{
    memset(ops, 0, sizeof *ops);
    ops->ctx = s;
    ops->user_get = op_user_get;
    ops->role_get = op_role_get;
    ops->bindings_list = op_bindings;
    ops->bans_list = op_bans;
    ops->generation = op_generation;
    ops->user_login = op_login;
    ops->ban_add = op_ban_add;
    ops->audit = op_audit;
    ops->cert_check = op_cert_check;
    ops->certs_list = op_certs_list;
    ops->cert_seen = op_cert_seen;
    ops->token_issuer_find = op_issuer_find;
    ops->token_issuers_list = op_issuers_list;
    ops->token_revoked = op_revoked;
    ops->token_signing = op_signing;
    ops->token_issuers_reload = op_issuers_reload;
    ops->audit_recent = op_audit_recent;
    ops->store_stat = op_store_stat;
}
