/*
 * backend.c - core/backend.h implemented on the store: each op is one
 * transaction that copies what it returns, so the caller never holds a
 * pointer into the map. (Declared in store.h: store_backend_ops.)
 */
#include "store.h"

#include <string.h>
#include <time.h>

#include "audit.h"
#include "bans.h"
#include "bindings.h"
#include "roles.h"
#include "users.h"

struct op {
    const char *name;
    const char *s1, *s2, *s3, *s4;
    int64_t when;
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
    ops->audit_recent = op_audit_recent;
    ops->store_stat = op_store_stat;
}
