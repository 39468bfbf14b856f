/*
 * cli_role.c - `warden role ...` and the rule commands of users and roles
 * (`user|role rule add|del|set|move`). A rule list is edited as a whole inside one
 * write transaction: load the owner, insert or remove, store it back, so the
 * numbers people see in `show` are the numbers `rule del` and --at take.
 * Also prints rule lists for `user show` and `role show`.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "backend.h"
#include "cli_int.h"
#include "err.h"
#include "mem.h"
#include "../store/roles.h"
#include "../store/rules.h"
#include "../store/store.h"
#include "../store/users.h"

static size_t holders(struct cli *c, const char *name, char *list, size_t size);

/* ---------------------------------------------------------------- rule commands */

/* Rule from the positional arguments at pos[b..b+2] and the options. 0, 1 or 2. */
static int parse_rule(struct cli *c, struct rule *r, int b)
{
    memset(r, 0, sizeof *r);
    if (!strcmp(c->pos[b], "allow"))
        r->effect = RULE_ALLOW;
    else if (!strcmp(c->pos[b], "deny"))
        r->effect = RULE_DENY;
    else
        return cli_usage_error(c, "expected allow or deny, got '%.40s'", c->pos[b]);
    if (rules_parse_actions(c->pos[b + 1], &r->actions) != WD_OK)
        return cli_failed(c, "invalid actions '%.60s' (a comma list of publish, subscribe, "
                          "receive, or all)", c->pos[b + 1]);
    r->filter = (char *)c->pos[b + 2];
    r->max_qos = 2;
    r->retain = !c->opt[CLI_OPT_NO_RETAIN];
    unsigned long q;
    if (c->opt[CLI_OPT_QOS]) {
        if (!cli_parse_uint(c->opt[CLI_OPT_QOS], 2, &q))
            return cli_failed(c, "invalid --qos '%.20s' (0, 1 or 2)", c->opt[CLI_OPT_QOS]);
        r->max_qos = (uint8_t)q;
    }
    char why[200];
    if (rules_validate(r, why, sizeof why) != WD_OK)
        return cli_failed(c, "%s", why);
    return 0;
}

/* --at INDEX (1-based) or 0. */
static int parse_at(struct cli *c, size_t *at)
{
    unsigned long v = 0;
    if (c->opt[CLI_OPT_AT] && (!cli_parse_uint(c->opt[CLI_OPT_AT], 100000, &v) || v == 0))
        return cli_failed(c, "invalid --at '%.20s' (a rule number, 1 for the first)",
                          c->opt[CLI_OPT_AT]);
    *at = v;
    return 0;
}


/* Replace rule index by c->redit.r, or move it to c->redit.to: one list, one transaction. */
static enum wd_err rules_set_move(struct store_txn *t, struct cli *c, const char *owner,
                                  struct rule **v, size_t *n)
{
    size_t i = c->redit.index;
    if (i > *n || (c->redit.op == RULE_OP_MOVE && c->redit.to > *n))
        return store_txn_fail(t, WD_ENOTFOUND, "no rule %zu: %s has %zu rule%s",
                              i > *n ? i : c->redit.to, owner, *n, *n == 1 ? "" : "s");
    struct rule r = c->redit.op == RULE_OP_SET ? c->redit.r : (*v)[i - 1];
    char *f = wd_strdup(r.filter); /* the old rule's filter goes with rules_remove */
    if (!f)
        return WD_ENOMEM;
    r.filter = f;
    enum wd_err e = rules_remove(*v, n, i);
    if (e == WD_OK)
        e = rules_insert(v, n, &r, c->redit.op == RULE_OP_SET ? i : c->redit.to);
    wd_free(f);
    return e;
}

static enum wd_err rules_edit(struct store_txn *t, struct cli *c, const char *owner,
                              struct rule **v, size_t *n, bool add)
{
    if (c->redit.op == RULE_OP_SET || c->redit.op == RULE_OP_MOVE)
        return rules_set_move(t, c, owner, v, n);
    if (add) {
        enum wd_err e = rules_insert(v, n, &c->redit.r, c->redit.at);
        if (e == WD_EINVAL)
            return store_txn_fail(t, e, "--at %zu: %s has %zu rule%s", c->redit.at, owner, *n,
                                  *n == 1 ? "" : "s");
        if (e == WD_ELIMIT)
            return store_txn_fail(t, e, "%s has %d rules already", owner, RULES_MAX);
        c->redit.at = c->redit.at ? c->redit.at : *n;
        return e;
    }
    if (rules_remove(*v, n, c->redit.index) != WD_OK)
        return store_txn_fail(t, WD_ENOTFOUND, "no rule %zu: %s has %zu rule%s", c->redit.index,
                              owner, *n, *n == 1 ? "" : "s");
    return WD_OK;
}

static enum wd_err user_rules(struct store_txn *t, struct cli *c, struct user *u)
{
    char owner[300];
    snprintf(owner, sizeof owner, "user '%.100s'", u->name);
    return rules_edit(t, c, owner, &u->rules, &u->nrules, strstr(c->cmd->words, "add") != NULL);
}

static enum wd_err body_user_rule(struct store_txn *t, struct cli *c)
{
    return cli_user_edit(t, c, user_rules);
}

static enum wd_err body_role_rule(struct store_txn *t, struct cli *c)
{
    struct role *r;
    enum wd_err e = roles_get(t, c->pos[0], &r);
    if (e != WD_OK)
        return e;
    char owner[100];
    snprintf(owner, sizeof owner, "role '%.64s'", r->name);
    bool add = strstr(c->cmd->words, "add") != NULL;
    if (c->redit.op == RULE_OP_DEL && r->nrules == 1 && c->redit.index == 1 &&
        !c->opt[CLI_OPT_FORCE] &&
        (e = users_list(t, &c->l.users, &c->l.nusers)) == WD_OK) {
        /* Its last rule: the users holding the role would lose what it grants. */
        char list[512];
        size_t n = holders(c, r->name, list, sizeof list);
        cli_listing_free(c);
        if (n) {
            backend_role_free(r);
            return store_txn_fail(t, WD_EEXIST, "that is the last rule of role '%.64s', which "
                                  "%zu user%s hold%s (%s); use --force", c->pos[0], n,
                                  n == 1 ? "" : "s", n == 1 ? "s" : "", list);
        }
    }
    if (e != WD_OK) {
        backend_role_free(r);
        return e;
    }
    e = rules_edit(t, c, owner, &r->rules, &r->nrules, add);
    if (e == WD_OK)
        e = roles_update(t, r);
    backend_role_free(r);
    return e;
}

/* A rule number argument (1-based) into *out. 0 or 1. */
static int parse_index(struct cli *c, const char *s, bool user, size_t *out)
{
    unsigned long v;
    if (!cli_parse_uint(s, 100000, &v) || v == 0)
        return cli_failed(c, "invalid rule number '%.20s' (1 for the first, as %s show numbers "
                          "them)", s, user ? "user" : "role");
    *out = v;
    return 0;
}

int cli_cmd_rule(struct cli *c)
{
    bool add = strstr(c->cmd->words, "add") != NULL;
    bool user = !strncmp(c->cmd->words, "user", 4);
    int rc;
    memset(&c->redit, 0, sizeof c->redit);
    c->redit.op = add ? RULE_OP_ADD : strstr(c->cmd->words, " set") ? RULE_OP_SET
                : strstr(c->cmd->words, " move") ? RULE_OP_MOVE : RULE_OP_DEL;
    if (add) {
        if ((rc = parse_rule(c, &c->redit.r, 1)) || (rc = parse_at(c, &c->redit.at)))
            return rc;
    } else if ((rc = parse_index(c, c->pos[1], user, &c->redit.index))) {
        return rc;
    } else if (c->redit.op == RULE_OP_SET && (rc = parse_rule(c, &c->redit.r, 2))) {
        return rc;
    } else if (c->redit.op == RULE_OP_MOVE && (rc = parse_index(c, c->pos[2], user,
                                                                &c->redit.to))) {
        return rc;
    }
    if (cli_run_write(c, user ? body_user_rule : body_role_rule))
        return 1;
    if (c->redit.op == RULE_OP_SET)
        return cli_done(c, "rule %zu of %s '%s' replaced", c->redit.index,
                        user ? "user" : "role", c->pos[0]);
    if (c->redit.op == RULE_OP_MOVE)
        return cli_done(c, "rule %zu of %s '%s' moved to %zu", c->redit.index,
                        user ? "user" : "role", c->pos[0], c->redit.to);
    if (add)
        return cli_done(c, "rule %zu added to %s '%s'", c->redit.at, user ? "user" : "role",
                        c->pos[0]);
    return cli_done(c, "rule %zu deleted from %s '%s'", c->redit.index, user ? "user" : "role",
                    c->pos[0]);
}

/* ---------------------------------------------------------------- printing rules */

void cli_rules_table(const struct rule *v, size_t n, const char *indent)
{
    struct cli_table t = {6, {"#", "EFFECT", "ACTIONS", "FILTER", "QOS", "RETAIN"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        char idx[24], act[64], q[8];
        snprintf(idx, sizeof idx, "%zu", i + 1);
        rules_format_actions(v[i].actions, act, sizeof act);
        snprintf(q, sizeof q, "%u", v[i].max_qos);
        cli_table_row(&t, idx, v[i].effect == RULE_ALLOW ? "allow" : "deny", act, v[i].filter, q,
                      v[i].retain ? "yes" : "no");
    }
    cli_table_print(&t, indent);
    cli_table_free(&t);
}

json_t *cli_rules_json(const struct rule *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        char act[64];
        rules_format_actions(v[i].actions, act, sizeof act);
        json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:s, s:i, s:b}", "index", (int)i + 1,
                                           "effect", v[i].effect == RULE_ALLOW ? "allow" : "deny",
                                           "actions", act, "filter", v[i].filter, "qos",
                                           v[i].max_qos, "retain", v[i].retain));
    }
    return a;
}

/* ---------------------------------------------------------------- role commands */

static enum wd_err body_role_add(struct store_txn *t, struct cli *c)
{
    const char *desc = c->opt[CLI_OPT_DESCRIPTION];
    struct role r = {.name = (char *)c->pos[0], .description = (char *)(desc ? desc : "")};
    return roles_add(t, &r);
}

int cli_cmd_role_add(struct cli *c)
{
    if (cli_run_write(c, body_role_add))
        return 1;
    return cli_done(c, "role '%s' added", c->pos[0]);
}

static enum wd_err body_role_set(struct store_txn *t, struct cli *c)
{
    struct role *r;
    enum wd_err e = roles_get(t, c->pos[0], &r);
    if (e != WD_OK)
        return e;
    if (c->opt[CLI_OPT_ON_DENY] &&
        roles_parse_on_deny(c->opt[CLI_OPT_ON_DENY], &r->on_deny, &r->strikes) != WD_OK) {
        backend_role_free(r);
        return store_txn_fail(t, WD_EINVAL, "invalid --on-deny '%.40s' (drop, disconnect, "
                              "strikes:N with N 1-%d, or none)", c->opt[CLI_OPT_ON_DENY],
                              DENY_STRIKES_MAX);
    }
    const char *desc = c->opt[CLI_OPT_DESCRIPTION];
    char *copy = NULL;
    if (desc) {
        if (!(copy = wd_strdup(desc))) {
            backend_role_free(r);
            return WD_ENOMEM;
        }
        wd_free(r->description);
        r->description = copy;
    }
    e = roles_update(t, r);
    backend_role_free(r);
    return e;
}

int cli_cmd_role_set(struct cli *c)
{
    if (!c->opt[CLI_OPT_ON_DENY] && !c->opt[CLI_OPT_DESCRIPTION])
        return cli_usage_error(c, "nothing to set (--on-deny or --description)");
    if (cli_run_write(c, body_role_set))
        return 1;
    if (c->opt[CLI_OPT_ON_DENY])
        return cli_done(c, "role '%s': on_deny %s", c->pos[0], c->opt[CLI_OPT_ON_DENY]);
    return cli_done(c, "role '%s' updated", c->pos[0]);
}

static enum wd_err body_role_del(struct store_txn *t, struct cli *c)
{
    return roles_del(t, c->pos[0], c->opt[CLI_OPT_FORCE] != NULL, &c->count);
}

int cli_cmd_role_del(struct cli *c)
{
    if (cli_run_write(c, body_role_del))
        return 1;
    if (c->count)
        return cli_done(c, "role '%s' deleted and taken from %zu user%s", c->pos[0], c->count,
                        c->count == 1 ? "" : "s");
    return cli_done(c, "role '%s' deleted", c->pos[0]);
}

static enum wd_err body_roles(struct store_txn *t, struct cli *c)
{
    enum wd_err e = roles_list(t, &c->l.roles, &c->l.nroles);
    if (e == WD_OK)
        e = users_list(t, &c->l.users, &c->l.nusers);
    return e;
}

/* Users holding role name ("default": all of them). */
static size_t holders(struct cli *c, const char *name, char *list, size_t size)
{
    size_t n = 0;
    if (list)
        list[0] = '\0';
    for (size_t i = 0; i < c->l.nusers; i++) {
        bool holds = !strcmp(name, ROLE_DEFAULT);
        for (size_t j = 0; !holds && j < c->l.users[i]->nroles; j++)
            holds = !strcmp(c->l.users[i]->roles[j], name);
        if (!holds)
            continue;
        if (list)
            snprintf(list + strlen(list), size - strlen(list), "%s%s", n ? ", " : "",
                     c->l.users[i]->name);
        n++;
    }
    return n;
}

int cli_cmd_role_list(struct cli *c)
{
    if (cli_read_txn(c, body_roles))
        return 1;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->l.nroles; i++) {
            const struct role *r = c->l.roles[i];
            char pol[32];
            roles_format_on_deny(r->on_deny, r->strikes, pol, sizeof pol);
            json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:i, s:b, s:s}", "name", r->name,
                                               "description", r->description, "rules",
                                               (int)r->nrules, "users",
                                               (int)holders(c, r->name, NULL, 0), "builtin",
                                               roles_is_builtin(r->name), "on_deny", pol));
        }
        cli_listing_free(c);
        return cli_emit_json(a);
    }
    struct cli_table t = {4, {"NAME", "RULES", "USERS", "DESCRIPTION"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.nroles; i++) {
        char nr[24], nu[24];
        snprintf(nr, sizeof nr, "%zu", c->l.roles[i]->nrules);
        snprintf(nu, sizeof nu, "%zu", holders(c, c->l.roles[i]->name, NULL, 0));
        cli_table_row(&t, c->l.roles[i]->name, nr, nu, c->l.roles[i]->description);
    }
    cli_table_print(&t, "");
    cli_table_free(&t);
    cli_listing_free(c);
    return 0;
}

static enum wd_err body_role_show(struct store_txn *t, struct cli *c)
{
    enum wd_err e = roles_get(t, c->pos[0], &c->l.role);
    if (e == WD_OK)
        e = users_list(t, &c->l.users, &c->l.nusers);
    return e;
}

int cli_cmd_role_show(struct cli *c)
{
    if (cli_read_txn(c, body_role_show))
        return 1;
    const struct role *r = c->l.role;
    char list[2048];
    size_t n = holders(c, r->name, list, sizeof list);
    char pol[32];
    roles_format_on_deny(r->on_deny, r->strikes, pol, sizeof pol);
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s, s:b, s:o, s:i, s:s}", "name", r->name, "description",
                              r->description, "builtin", roles_is_builtin(r->name), "rules",
                              cli_rules_json(r->rules, r->nrules), "users", (int)n, "on_deny",
                              pol);
        cli_listing_free(c);
        return cli_emit_json(o);
    }
    printf("name:         %s%s\n", r->name, roles_is_builtin(r->name) ? " (built in)" : "");
    printf("description:  %s\n", r->description[0] ? r->description : "-");
    printf("on_deny:      %s\n", r->on_deny ? pol : "none (the next role's, else drop)");
    printf("users:        %s\n", n ? list : "-");
    if (r->nrules) {
        printf("rules:\n");
        cli_rules_table(r->rules, r->nrules, "  ");
    } else {
        printf("rules:        none\n");
    }
    cli_listing_free(c);
    return 0;
}

