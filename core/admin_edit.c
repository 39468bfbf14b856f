/*
 * admin_edit.c - identity edits for the console and the admin socket: users,
 * roles, rules, on_deny, client-id bindings and bans, listed and changed.
 *
 * A change is the `warden user|role|client|ban ...` command itself, run in
 * this process by cli_exec() (cli.h, wired by main.c) on the broker's open store: the same parser,
 * checks, transaction, generation bump and audit entry, with the actor that
 * the caller names (the OS user at the other end of the admin socket, or the
 * one running the broker). It runs on the calling thread (console or admin
 * socket thread), so neither the store's fsync nor Argon2id ever runs on the
 * broker thread; calls are serialised by a mutex because cli_exec is one
 * command at a time per process. Only the identity groups are allowed: no
 * import, backup or audit --follow from a console.
 *
 * The preview evaluates a proposed rule list against the live sessions'
 * subscriptions with the pure evaluator (acl.c): the sessions and their
 * subscriptions are snapshots taken on the broker thread (admin.h), the
 * other lists come from the store through backend.h.
 */
#include "admin.h"

#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "acl.h"
#include "backend.h"
#include "log.h"
#include "mem.h"

#define EDIT_ARGS_MAX ADMIN_EDIT_ARGS_MAX
#define PREVIEW_RULES_MAX 256
#define PREVIEW_ROLES_MAX 66   /* own rules, CLI_MAX_ROLES roles, default */

static pthread_mutex_t edit_lock = PTHREAD_MUTEX_INITIALIZER;
static admin_exec_fn edit_exec;
static struct store *edit_store;
static const struct config *edit_cfg;
static struct backend_ops edit_ops;
static bool have_ops;

void admin_edit_setup(admin_exec_fn exec, struct store *st, const struct config *cfg,
                      const struct backend_ops *ops)
{
    pthread_mutex_lock(&edit_lock);
    edit_exec = exec;
    edit_store = st;
    edit_cfg = cfg;
    have_ops = ops != NULL;
    if (ops)
        edit_ops = *ops;
    pthread_mutex_unlock(&edit_lock);
}

void admin_self_actor(char *out, size_t n)
{
    struct passwd pw, *res = NULL;
    char buf[1024];
    if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) == 0 && res)
        snprintf(out, n, "%s", res->pw_name);
    else
        snprintf(out, n, "uid:%u", (unsigned)getuid());
}

/* The commands a console may run: the identity groups (user includes `user cert
 * add|del|list`, the users screen's `C`), not import/store/audit. */
static bool allowed(int argc, const char *const *argv)
{
    static const char *const groups[] = {"user", "role", "client", "ban"};
    if (argc < 2)
        return false;
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (!strcmp(argv[0], groups[i]))
            return true;
    return !strcmp(argv[0], "acl") && !strcmp(argv[1], "explain");
}

static char *json_reply(json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return s;
}

static char *error_reply(const char *msg)
{
    return json_reply(json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

static enum wd_err run_command(const char *actor, int argc, const char *const *argv,
                               const char *password, char **json, int *status)
{
    char *args[EDIT_ARGS_MAX];
    for (int i = 0; i < argc; i++)
        args[i] = (char *)argv[i]; /* cli_exec reads them; the parser never writes */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return WD_ENOMEM;
    pthread_mutex_lock(&edit_lock);
    int rc = edit_exec ? edit_exec(edit_store, edit_cfg, actor, password, argc, args, out) : -1;
    pthread_mutex_unlock(&edit_lock);
    fclose(out);
    if (rc < 0) {
        free(text);
        return WD_ECLOSED;
    }
    /* One JSON value per command; drop the newline. */
    while (len && text[len - 1] == '\n')
        text[--len] = '\0';
    if (!len) {
        free(text);
        text = error_reply(rc ? "the command failed" : "done");
        if (!text)
            return WD_ENOMEM;
    }
    *json = text;
    *status = rc;
    return WD_OK;
}

/* ---------------------------------------------------------------- preview */

static bool parse_actions(const char *s, uint8_t *out)
{
    uint8_t a = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (!strcmp(w, "publish"))
            a |= RULE_PUBLISH;
        else if (!strcmp(w, "subscribe"))
            a |= RULE_SUBSCRIBE;
        else if (!strcmp(w, "receive"))
            a |= RULE_RECEIVE;
        else if (!strcmp(w, "all"))
            a |= RULE_ALL;
        else
            return false;
    }
    *out = a;
    return a != 0;
}

/* argv: effect actions filter qos retain, per rule. */
static bool parse_rules(int argc, const char *const *argv, struct rule *v, size_t *n)
{
    if (argc % 5 || argc / 5 > PREVIEW_RULES_MAX)
        return false;
    *n = (size_t)argc / 5;
    for (size_t i = 0; i < *n; i++) {
        const char *const *a = argv + 5 * i;
        struct rule *r = &v[i];
        if (!strcmp(a[0], "allow"))
            r->effect = RULE_ALLOW;
        else if (!strcmp(a[0], "deny"))
            r->effect = RULE_DENY;
        else
            return false;
        if (!parse_actions(a[1], &r->actions) || !a[2][0] || strlen(a[3]) != 1 ||
            a[3][0] < '0' || a[3][0] > '2')
            return false;
        r->filter = (char *)a[2];
        r->max_qos = (uint8_t)(a[3][0] - '0');
        r->retain = !strcmp(a[4], "1");
    }
    return true;
}

/* The rule lists of one identity, as the broker orders them, with (kind, name) replaced. */
struct chain {
    struct acl_list l[PREVIEW_ROLES_MAX];
    char names[PREVIEW_ROLES_MAX][160];
    size_t n;
    bool touched;   /* the edited list is in the chain */
    struct user *u;
    struct role *roles[PREVIEW_ROLES_MAX];
    size_t nroles;
};

static void chain_fini(struct chain *c)
{
    backend_user_free(c->u);
    for (size_t i = 0; i < c->nroles; i++)
        backend_role_free(c->roles[i]);
}

static void chain_role(struct chain *c, const char *role, const char *kind, const char *name,
                       const struct rule *rules, size_t n)
{
    if (c->n == PREVIEW_ROLES_MAX)
        return;
    snprintf(c->names[c->n], sizeof c->names[c->n], "role %s", role);
    c->l[c->n].name = c->names[c->n];
    if (!strcmp(kind, "role") && !strcmp(name, role)) {
        c->l[c->n].rules = rules;
        c->l[c->n].n = n;
        c->touched = true;
        c->n++;
        return;
    }
    struct role *r = NULL;
    if (edit_ops.role_get(edit_ops.ctx, role, &r) != WD_OK)
        return; /* a missing role has no rules */
    c->roles[c->nroles++] = r;
    c->l[c->n].rules = r->rules;
    c->l[c->n].n = r->nrules;
    c->n++;
}

static void chain_build(struct chain *c, const char *user, const char *kind, const char *name,
                        const struct rule *rules, size_t n)
{
    memset(c, 0, sizeof *c);
    if (!user) {
        chain_role(c, ROLE_ANONYMOUS, kind, name, rules, n);
    } else if (edit_ops.user_get(edit_ops.ctx, user, &c->u) == WD_OK) {
        snprintf(c->names[0], sizeof c->names[0], "user %s", user);
        c->l[0].name = c->names[0];
        if (!strcmp(kind, "user") && !strcmp(name, user)) {
            c->l[0].rules = rules;
            c->l[0].n = n;
            c->touched = true;
        } else {
            c->l[0].rules = c->u->rules;
            c->l[0].n = c->u->nrules;
        }
        c->n = 1;
        for (size_t i = 0; i < c->u->nroles && c->n < PREVIEW_ROLES_MAX - 1; i++)
            chain_role(c, c->u->roles[i], kind, name, rules, n);
    }
    chain_role(c, ROLE_DEFAULT, kind, name, rules, n);
}

static bool sub_allowed(const struct chain *c, const struct acl_subject *who, const char *filter,
                        uint8_t qos, bool anonymous)
{
    /* The evaluator takes the topic filter without its $share/GROUP/ prefix. */
    if (!strncmp(filter, "$share/", 7)) {
        const char *slash = strchr(filter + 7, '/');
        if (slash)
            filter = slash + 1;
    }
    uint8_t granted = 0;
    struct acl_why why;
    enum acl_result r = acl_eval(c->l, c->n, who, RULE_SUBSCRIBE, filter, strlen(filter), qos,
                                 false, &granted, &why);
    /* Nothing matched: deny, except anonymous clients where the listener allows them. */
    return r == ACL_ALLOW || (r == ACL_NO_MATCH && anonymous);
}

/*
 * argv: "user"|"role", NAME, then 5 words per proposed rule. Which live
 * subscriptions the proposal would remove: allowed now, denied after.
 */
static enum wd_err preview(struct admin *a, int argc, const char *const *argv, char **json)
{
    struct rule *rules = wd_calloc(PREVIEW_RULES_MAX + 1, sizeof *rules);
    if (!rules)
        return WD_ENOMEM;
    size_t nrules = 0;
    enum wd_err e = WD_OK;
    if (argc < 2 || (strcmp(argv[0], "user") && strcmp(argv[0], "role")) ||
        !parse_rules(argc - 2, argv + 2, rules, &nrules)) {
        wd_free(rules);
        *json = error_reply("malformed preview request");
        return *json ? WD_OK : WD_ENOMEM;
    }
    struct admin_sessions ss = {0};
    if (!have_ops || (e = admin_list_sessions(a, &ss)) != WD_OK) {
        wd_free(rules);
        return have_ops ? e : WD_ECLOSED;
    }
    json_t *lost = json_array();
    size_t checked = 0;
    for (size_t i = 0; lost && i < ss.n; i++) {
        const struct admin_session *s = &ss.v[i];
        if (!s->connected)
            continue;
        struct chain *now = wd_malloc(sizeof *now), *after = wd_malloc(sizeof *after);
        if (!now || !after) {
            wd_free(now);
            wd_free(after);
            e = WD_ENOMEM;
            break;
        }
        pthread_mutex_lock(&edit_lock); /* edit_ops, against a concurrent setup */
        chain_build(after, s->username, argv[0], argv[1], rules, nrules);
        chain_build(now, s->username, "", "", NULL, 0);
        pthread_mutex_unlock(&edit_lock);
        struct admin_subs sb = {0};
        if (after->touched && admin_session_subs(a, s->client_id, &sb) == WD_OK) {
            checked++;
            struct acl_subject who = {.user = s->username, .client_id = s->client_id};
            for (size_t k = 0; k < sb.n; k++) {
                const struct admin_sub *sub = &sb.v[k];
                bool anon = !s->username;
                if (sub_allowed(now, &who, sub->filter, sub->qos, anon) &&
                    !sub_allowed(after, &who, sub->filter, sub->qos, anon))
                    json_array_append_new(lost, json_pack("{s:s, s:s, s:s}", "client",
                                                          s->client_id, "user",
                                                          s->username ? s->username : "",
                                                          "filter", sub->filter));
            }
            admin_subs_free(&sb);
        }
        chain_fini(now);
        chain_fini(after);
        wd_free(now);
        wd_free(after);
    }
    admin_sessions_free(&ss);
    wd_free(rules);
    if (e != WD_OK || !lost) {
        json_decref(lost);
        return e != WD_OK ? e : WD_ENOMEM;
    }
    *json = json_reply(json_pack("{s:b, s:i, s:o}", "ok", 1, "sessions", (int)checked, "lost",
                                 lost));
    return *json ? WD_OK : WD_ENOMEM;
}

enum wd_err admin_edit(struct admin *a, const char *actor, int argc, const char *const *argv,
                       const char *password, char **json, int *status)
{
    *json = NULL;
    *status = 1;
    if (argc < 1 || argc > EDIT_ARGS_MAX)
        return WD_EINVAL;
    if (!strcmp(argv[0], "preview")) {
        enum wd_err e = preview(a, argc - 1, argv + 1, json);
        if (e == WD_OK && *json)
            *status = strstr(*json, "\"ok\":true") ? 0 : 1;
        return e;
    }
    if (!allowed(argc, argv)) {
        *json = error_reply("not an identity command (user, role, client, ban, acl explain)");
        return *json ? WD_OK : WD_ENOMEM;
    }
    if (argc >= 2 && strcmp(argv[1], "list") && strcmp(argv[1], "show") &&
        strcmp(argv[1], "explain")) {
        char what[200] = "";
        for (int i = 0; i < argc && i < 3; i++)
            snprintf(what + strlen(what), sizeof what - strlen(what), "%s%s", i ? " " : "",
                     argv[i]);
        char clean[200];
        log_notice("admin: %s runs '%s'", actor,
                   log_clean(clean, sizeof clean, what, strlen(what)));
    }
    return run_command(actor, argc, argv, password, json, status);
}
