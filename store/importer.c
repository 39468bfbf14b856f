/*
 * importer.c - struct import (store/import.c) -> users, roles, rules and
 * bindings, in one transaction. Order matters: roles first (users refer to
 * them), then users, then acl_file rules (which may name users that only the
 * acl_file knows), then the dynsec default grants at the end of "default".
 * Imports are one-off and at most thousands of records.
 */
#include "importer.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bindings.h"
#include "mem.h"
#include "roles.h"
#include "rules.h"
#include "users.h"

static struct rule to_rule(const struct import_rule *r)
{
    return (struct rule){.effect = r->allow ? RULE_ALLOW : RULE_DENY,
                         .actions = (uint8_t)(r->actions & RULE_ALL), .max_qos = 2,
                         .retain = true, .filter = r->filter};
}

/* Append rules to an existing role. */
static enum wd_err role_append(struct store_txn *t, const char *name, const struct import_rule *v,
                               size_t n, struct importer_counts *c)
{
    if (n == 0)
        return WD_OK;
    struct role *r;
    enum wd_err e = roles_get(t, name, &r);
    if (e != WD_OK)
        return e;
    for (size_t i = 0; i < n && e == WD_OK; i++) {
        struct rule ru = to_rule(&v[i]);
        e = rules_insert(&r->rules, &r->nrules, &ru, 0);
        if (e == WD_ELIMIT)
            store_txn_fail(t, e, "role '%s': more than %d rules", name, RULES_MAX);
    }
    if (e == WD_OK)
        e = roles_update(t, r);
    if (e == WD_OK)
        c->rules += n;
    backend_role_free(r);
    return e;
}

static const struct import_role *find_role(const struct import *imp, const char *name)
{
    for (size_t i = 0; i < imp->nroles; i++)
        if (!strcmp(imp->roles[i].name, name))
            return &imp->roles[i];
    return NULL;
}

/* Prefix the transaction's reason with what was being imported. */
static enum wd_err blame(struct store_txn *t, enum wd_err e, const char *what, const char *name)
{
    char msg[STORE_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", t->msg[0] ? t->msg : wd_strerror(e));
    return store_txn_fail(t, e, "import of %s '%.100s': %s", what, name, msg);
}

static enum wd_err import_roles(struct store_txn *t, const struct import *imp,
                                struct importer_counts *c)
{
    for (size_t i = 0; i < imp->nroles; i++) {
        const struct import_role *ir = &imp->roles[i];
        enum wd_err e;
        if (roles_is_builtin(ir->name)) {
            e = role_append(t, ir->name, ir->rules, ir->nrules, c);
        } else {
            struct role r = {.name = ir->name,
                             .description = ir->textdescription ? ir->textdescription
                                            : ir->textname      ? ir->textname
                                                                : ""};
            e = roles_add(t, &r);
            if (e == WD_OK) {
                c->roles++;
                e = role_append(t, ir->name, ir->rules, ir->nrules, c);
            }
        }
        if (e != WD_OK)
            return blame(t, e, "role", ir->name);
    }
    for (size_t i = 0; i < imp->nanon_roles; i++) {
        const struct import_role *ir = find_role(imp, imp->anon_roles[i]);
        if (!ir)
            return store_txn_fail(t, WD_EINVAL, "anonymousGroup names unknown role '%.64s'",
                                  imp->anon_roles[i]);
        enum wd_err e = role_append(t, ROLE_ANONYMOUS, ir->rules, ir->nrules, c);
        if (e != WD_OK)
            return blame(t, e, "role", ROLE_ANONYMOUS);
    }
    return WD_OK;
}

static enum wd_err import_users(struct store_txn *t, const struct import *imp,
                                struct importer_counts *c)
{
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < imp->nusers; i++) {
        const struct import_user *iu = &imp->users[i];
        /* Warden's users never list "default": every user holds it already. */
        char **roles = NULL;
        size_t nroles = 0;
        if (iu->nroles) {
            roles = wd_calloc(iu->nroles, sizeof *roles);
            if (!roles)
                return WD_ENOMEM;
            for (size_t j = 0; j < iu->nroles; j++)
                if (strcmp(iu->roles[j], ROLE_DEFAULT))
                    roles[nroles++] = iu->roles[j];
        }
        struct user u = {.name = iu->name, .hash = iu->hash, .enabled = !iu->disabled,
                         .roles = roles, .nroles = nroles, .created = now, .updated = now,
                         .note = iu->textdescription ? iu->textdescription
                                 : iu->textname      ? iu->textname
                                                     : ""};
        enum wd_err e = users_add(t, &u);
        wd_free(roles);
        if (e != WD_OK)
            return blame(t, e, "user", iu->name);
        c->users++;
        if (iu->clientid) {
            struct binding b = {.kind = BIND_EXACT, .pattern = iu->clientid, .user = iu->name,
                                .created = now};
            e = bindings_add(t, &b);
            if (e != WD_OK)
                return blame(t, e, "client id of user", iu->name);
            c->bindings++;
        }
    }
    return WD_OK;
}

/* acl_file rules, in the order parsed (Mosquitto's check order). */
static enum wd_err import_acl_rules(struct store_txn *t, const struct import *imp,
                                    struct importer_counts *c)
{
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < imp->nrules; i++) {
        const struct import_rule *ir = &imp->rules[i];
        enum wd_err e = WD_OK;
        switch (ir->scope) {
        case IMPORT_SCOPE_ANON:
            e = role_append(t, ROLE_ANONYMOUS, ir, 1, c);
            break;
        case IMPORT_SCOPE_PATTERN:
        case IMPORT_SCOPE_ROLE:
            e = role_append(t, ROLE_DEFAULT, ir, 1, c);
            break;
        case IMPORT_SCOPE_USER: {
            struct user *u = NULL;
            e = users_get(t, ir->user, &u);
            if (e == WD_ENOTFOUND) {
                struct user nu = {.name = ir->user, .enabled = true, .created = now,
                                  .updated = now, .note = "imported from an acl_file"};
                t->msg[0] = '\0';
                e = users_add(t, &nu);
                if (e == WD_OK) {
                    c->users++;
                    c->users_acl_only++;
                    e = users_get(t, ir->user, &u);
                }
            }
            if (e == WD_OK) {
                struct rule ru = to_rule(ir);
                e = rules_insert(&u->rules, &u->nrules, &ru, 0);
                if (e == WD_OK)
                    e = users_update(t, u);
                if (e == WD_OK)
                    c->rules++;
            }
            backend_user_free(u);
            break;
        }
        }
        if (e != WD_OK) {
            char where[64];
            snprintf(where, sizeof where, "acl_file line %u", ir->line);
            return blame(t, e, where, ir->filter);
        }
    }
    return WD_OK;
}

enum wd_err importer_apply(struct store_txn *t, const struct import *imp, bool dynsec,
                           struct importer_counts *counts)
{
    memset(counts, 0, sizeof *counts);
    enum wd_err e = import_roles(t, imp, counts);
    if (e == WD_OK)
        e = import_users(t, imp, counts);
    if (e == WD_OK)
        e = import_acl_rules(t, imp, counts);
    if (e == WD_OK && dynsec) {
        const struct import_default_acl *d = &imp->default_acl;
        struct import_rule grants[3];
        size_t n = 0;
        if (d->publish_send)
            grants[n++] = (struct import_rule){.allow = true, .actions = IMPORT_PUBLISH,
                                               .filter = "#"};
        if (d->subscribe)
            grants[n++] = (struct import_rule){.allow = true, .actions = IMPORT_SUBSCRIBE,
                                               .filter = "#"};
        if (d->publish_receive)
            grants[n++] = (struct import_rule){.allow = true, .actions = IMPORT_RECEIVE,
                                               .filter = "#"};
        e = role_append(t, ROLE_DEFAULT, grants, n, counts);
    }
    return e;
}
