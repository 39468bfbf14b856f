/*
 * roles.c - role records keyed by name. A role is a description and an
 * ordered rule list; users refer to roles by name, so deleting a role that
 * users hold either stops (naming them) or, forced, edits those users in the
 * same transaction. There are few roles (tens), so lists are read whole.
 */
#include "roles.h"

#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "record.h"
#include "rules.h"
#include "users.h"

static const char *const builtin[] = {ROLE_ANONYMOUS, ROLE_DEFAULT};
static const char *const builtin_desc[] = {"clients that connect without credentials",
                                           "every client, held implicitly"};

bool roles_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > ROLES_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

bool roles_is_builtin(const char *name)
{
    return !strcmp(name, ROLE_ANONYMOUS) || !strcmp(name, ROLE_DEFAULT);
}

enum wd_err roles_parse_on_deny(const char *s, uint8_t *policy, uint16_t *strikes)
{
    *strikes = 0;
    if (!strcmp(s, "none"))
        *policy = DENY_UNSET;
    else if (!strcmp(s, "drop"))
        *policy = DENY_DROP;
    else if (!strcmp(s, "disconnect"))
        *policy = DENY_DISCONNECT;
    else if (!strncmp(s, "strikes:", 8)) {
        unsigned long n = 0;
        const char *p = s + 8;
        if (!*p)
            return WD_EINVAL;
        for (; *p; p++) {
            if (*p < '0' || *p > '9' || n > DENY_STRIKES_MAX)
                return WD_EINVAL;
            n = n * 10 + (unsigned long)(*p - '0');
        }
        if (n == 0 || n > DENY_STRIKES_MAX)
            return WD_EINVAL;
        *policy = DENY_STRIKES;
        *strikes = (uint16_t)n;
    } else {
        return WD_EINVAL;
    }
    return WD_OK;
}

void roles_format_on_deny(uint8_t policy, uint16_t strikes, char *out, size_t n)
{
    switch (policy) {
    case DENY_DROP: snprintf(out, n, "drop"); break;
    case DENY_DISCONNECT: snprintf(out, n, "disconnect"); break;
    case DENY_STRIKES: snprintf(out, n, "strikes:%u", (unsigned)strikes); break;
    default: snprintf(out, n, "none"); break;
    }
}

enum wd_err roles_get(struct store_txn *t, const char *name, struct role **out)
{
    const void *v = NULL;
    size_t n = 0;
    enum wd_err e = store_get(t, DB_ROLES, name, strlen(name), &v, &n);
    if (e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "unknown role '%.64s'", name);
    if (e != WD_OK)
        return e;
    e = record_decode_role(name, strlen(name), v, n, out);
    if (e == WD_EMALFORMED)
        return store_txn_fail(t, e, "role '%.64s': record does not decode", name);
    return e;
}

static enum wd_err put_role(struct store_txn *t, const struct role *r, bool create)
{
    if (!roles_valid_name(r->name))
        return store_txn_fail(t, WD_EINVAL, "invalid role name (1-%d of A-Z a-z 0-9 _ . : -)",
                              ROLES_NAME_MAX);
    if (r->description && !users_valid_text(r->description, ROLES_DESC_MAX))
        return store_txn_fail(t, WD_EINVAL, "invalid description (at most %d bytes, no "
                                            "control characters)", ROLES_DESC_MAX);
    if (r->on_deny > DENY_STRIKES || (r->on_deny == DENY_STRIKES) != (r->strikes != 0) ||
        r->strikes > DENY_STRIKES_MAX)
        return store_txn_fail(t, WD_EINVAL, "invalid on_deny policy (drop, disconnect or "
                                            "strikes:N with N 1-%d)", DENY_STRIKES_MAX);
    if (r->nrules > RULES_MAX)
        return store_txn_fail(t, WD_ELIMIT, "too many rules (at most %d)", RULES_MAX);
    for (size_t i = 0; i < r->nrules; i++) {
        char why[200];
        if (rules_validate(&r->rules[i], why, sizeof why) != WD_OK)
            return store_txn_fail(t, WD_EINVAL, "rule %zu: %s", i + 1, why);
    }
    const void *v = NULL;
    size_t n = 0;
    enum wd_err e = store_get(t, DB_ROLES, r->name, strlen(r->name), &v, &n);
    if (create && e == WD_OK)
        return store_txn_fail(t, WD_EEXIST, "role '%.64s' already exists", r->name);
    if (!create && e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "unknown role '%.64s'", r->name);
    if (e != WD_OK && e != WD_ENOTFOUND)
        return e;
    uint8_t *enc;
    size_t len;
    e = record_encode_role(r, &enc, &len);
    if (e != WD_OK)
        return store_txn_fail(t, e, "role '%.64s': %s", r->name, wd_strerror(e));
    e = store_put(t, DB_ROLES, r->name, strlen(r->name), enc, len, false);
    wd_free(enc);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

enum wd_err roles_add(struct store_txn *t, const struct role *r)
{
    return put_role(t, r, true);
}

enum wd_err roles_update(struct store_txn *t, const struct role *r)
{
    return put_role(t, r, false);
}

/* Index of role in u's list, or -1. */
static long role_index(const struct user *u, const char *role)
{
    for (size_t i = 0; i < u->nroles; i++)
        if (!strcmp(u->roles[i], role))
            return (long)i;
    return -1;
}

enum wd_err roles_del(struct store_txn *t, const char *name, bool force, size_t *stripped)
{
    if (roles_is_builtin(name))
        return store_txn_fail(t, WD_EDENIED, "role '%s' is built in and cannot be deleted", name);
    struct role *r;
    enum wd_err e = roles_get(t, name, &r);
    if (e != WD_OK)
        return e;
    backend_role_free(r);
    struct user **users = NULL;
    size_t nusers = 0, holders = 0;
    e = users_list(t, &users, &nusers);
    if (e != WD_OK)
        return e;
    char list[160] = "";
    for (size_t i = 0; i < nusers; i++) {
        if (role_index(users[i], name) < 0)
            continue;
        if (holders++ < 5)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%.40s",
                     holders > 1 ? ", " : "", users[i]->name);
    }
    if (holders && !force) {
        users_list_free(users, nusers);
        return store_txn_fail(t, WD_EBUSY, "role '%s' is held by %zu user%s (%s%s); use --force "
                                           "to delete it and take it from them",
                              name, holders, holders == 1 ? "" : "s", list,
                              holders > 5 ? ", ..." : "");
    }
    for (size_t i = 0; i < nusers && e == WD_OK; i++) {
        struct user *u = users[i];
        long at = role_index(u, name);
        if (at < 0)
            continue;
        wd_free(u->roles[at]);
        memmove(&u->roles[at], &u->roles[at + 1], (u->nroles - (size_t)at - 1) * sizeof *u->roles);
        u->nroles--;
        e = users_update(t, u);
    }
    users_list_free(users, nusers);
    if (e == WD_OK)
        e = store_del(t, DB_ROLES, name, strlen(name));
    if (e == WD_OK) {
        store_txn_changed(t);
        if (stripped)
            *stripped = holders;
    }
    return e;
}

struct role_list {
    struct role **v;
    size_t n, cap;
};

static enum wd_err collect_role(void *ctx, const void *key, size_t klen, const void *val,
                                size_t vlen)
{
    struct role_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct role **nv = wd_realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return WD_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    enum wd_err e = record_decode_role(key, klen, val, vlen, &l->v[l->n]);
    if (e == WD_OK)
        l->n++;
    return e;
}

enum wd_err roles_list(struct store_txn *t, struct role ***out, size_t *n)
{
    struct role_list l = {0};
    enum wd_err e = store_each(t, DB_ROLES, false, collect_role, &l);
    if (e != WD_OK) {
        roles_list_free(l.v, l.n);
        if (e == WD_EMALFORMED)
            return store_txn_fail(t, e, "a role record does not decode (run warden store "
                                        "verify)");
        return e;
    }
    *out = l.v;
    *n = l.n;
    return WD_OK;
}

void roles_list_free(struct role **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        backend_role_free(v[i]);
    wd_free(v);
}

enum wd_err roles_builtin_present(struct store_txn *t, bool *present)
{
    *present = true;
    for (size_t i = 0; i < 2; i++) {
        const void *v = NULL;
        size_t n = 0;
        enum wd_err e = store_get(t, DB_ROLES, builtin[i], strlen(builtin[i]), &v, &n);
        if (e == WD_ENOTFOUND)
            *present = false;
        else if (e != WD_OK)
            return e;
    }
    return WD_OK;
}

enum wd_err roles_ensure_builtin(struct store_txn *t, bool *created)
{
    *created = false;
    for (size_t i = 0; i < 2; i++) {
        const void *v = NULL;
        size_t n = 0;
        enum wd_err e = store_get(t, DB_ROLES, builtin[i], strlen(builtin[i]), &v, &n);
        if (e == WD_OK)
            continue;
        if (e != WD_ENOTFOUND)
            return e;
        struct role r = {.name = (char *)builtin[i], .description = (char *)builtin_desc[i]};
        e = roles_add(t, &r);
        if (e != WD_OK)
            return e;
        *created = true;
    }
    return WD_OK;
}
