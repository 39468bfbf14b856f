/*
 * perms.c - loading rule lists from the store and asking them (see perms.h).
 */
#include "perms.h"

#include <stdio.h>
#include <string.h>

#include "mem.h"

static void list_fini(struct acl_list *l)
{
    wd_free((char *)l->name);
    backend_rules_free((struct rule *)l->rules, l->n);
}

void perms_unref(struct perms *p)
{
    if (!p || --p->refs)
        return;
    for (size_t i = 0; i < p->n; i++)
        list_fini(&p->lists[i]);
    wd_free(p->lists);
    wd_free(p);
}

/* Append a list named "KIND NAME" that takes the rules array (moved out of *rules). */
static enum wd_err add_list(struct perms *p, const char *kind, const char *name,
                            struct rule **rules, size_t *n)
{
    char label[160];
    snprintf(label, sizeof label, "%s %s", kind, name);
    char *copy = wd_strdup(label);
    if (!copy)
        return WD_ENOMEM;
    struct acl_list *l = &p->lists[p->n++];
    l->name = copy;
    l->rules = *rules;
    l->n = *n;
    *rules = NULL;
    *n = 0;
    return WD_OK;
}

static enum wd_err add_role(struct perms *p, const struct backend_ops *ops, const char *name)
{
    struct role *r = NULL;
    enum wd_err e = ops->role_get(ops->ctx, name, &r);
    if (e == WD_ENOTFOUND)
        return WD_OK; /* a role deleted after the user got it grants nothing */
    if (e == WD_OK)
        e = add_list(p, "role", name, &r->rules, &r->nrules);
    backend_role_free(r);
    return e;
}

struct perms *perms_load(const struct backend_ops *ops, const char *user, enum wd_err *err)
{
    struct user *u = NULL;
    enum wd_err e = WD_OK;
    if (user && (e = ops->user_get(ops->ctx, user, &u)) != WD_OK && e != WD_ENOTFOUND) {
        *err = e;
        return NULL;
    }
    size_t cap = 2 + (u ? 1 + u->nroles : 0);
    struct perms *p = wd_calloc(1, sizeof *p);
    if (!p || !(p->lists = wd_calloc(cap, sizeof *p->lists))) {
        wd_free(p);
        backend_user_free(u);
        *err = WD_ENOMEM;
        return NULL;
    }
    p->refs = 1;
    e = WD_OK;
    if (u) {
        e = add_list(p, "user", u->name, &u->rules, &u->nrules);
        for (size_t i = 0; e == WD_OK && i < u->nroles; i++)
            e = add_role(p, ops, u->roles[i]);
    } else if (!user) {
        e = add_role(p, ops, ROLE_ANONYMOUS);
    }
    if (e == WD_OK)
        e = add_role(p, ops, ROLE_DEFAULT);
    backend_user_free(u);
    if (e != WD_OK) {
        perms_unref(p);
        *err = e;
        return NULL;
    }
    return p;
}

bool perms_allow(const struct perms *p, bool default_allow, const struct acl_subject *who,
                 unsigned action, const char *topic, size_t tlen, uint8_t qos, bool retain,
                 uint8_t *granted)
{
    if (granted)
        *granted = qos;
    enum acl_result r = p ? acl_eval(p->lists, p->n, who, action, topic, tlen, qos, retain,
                                     granted, NULL)
                          : ACL_NO_MATCH;
    if (r == ACL_NO_MATCH) {
        if (granted)
            *granted = qos;
        return default_allow;
    }
    return r == ACL_ALLOW;
}
