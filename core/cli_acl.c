/*
 * cli_acl.c - `warden acl explain`: which rule decides one request of one
 * identity, and the verdict, from the rules in the store as they are now.
 * It loads the identity's lists exactly as the broker does (perms_load: the
 * user's own rules, its roles in order, `default`; or `anonymous`, `default`)
 * and asks them with the broker's evaluator, so the answer is the broker's.
 * The listener is not known here: for an anonymous client with no matching
 * rule the answer says what anonymous_default would change.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "backend.h"
#include "cli_int.h"
#include "err.h"
#include "perms.h"
#include "topic.h"
#include "../store/store.h"

static unsigned parse_action(const char *s)
{
    if (!strcmp(s, "publish"))
        return RULE_PUBLISH;
    if (!strcmp(s, "subscribe"))
        return RULE_SUBSCRIBE;
    if (!strcmp(s, "receive"))
        return RULE_RECEIVE;
    return 0;
}

int cli_cmd_acl_explain(struct cli *c)
{
    unsigned action = parse_action(c->pos[0]);
    if (!action)
        return cli_usage_error(c, "expected publish, subscribe or receive, got '%.40s'",
                               c->pos[0]);
    const char *topic = c->pos[1];
    size_t tlen = strlen(topic);
    if (action == RULE_SUBSCRIBE) {
        bool shared;
        const char *group;
        size_t glen;
        if (topic_parse_shared(topic, tlen, &shared, &group, &glen, &topic, &tlen) != WD_OK)
            return cli_failed(c, "'%.200s' is not a valid topic filter", c->pos[1]);
    } else if (topic_validate_name(topic, tlen) != WD_OK) {
        return cli_failed(c, "'%.200s' is not a valid topic name (no wildcards)", c->pos[1]);
    }
    unsigned long qos = 0;
    if (c->opt[CLI_OPT_QOS] && !cli_parse_uint(c->opt[CLI_OPT_QOS], 2, &qos))
        return cli_failed(c, "invalid --qos '%.20s' (0, 1 or 2)", c->opt[CLI_OPT_QOS]);
    bool retain = c->opt[CLI_OPT_RETAIN] != NULL;
    const char *user = c->opt[CLI_OPT_USER];
    const char *cid = c->opt[CLI_OPT_CLIENT];
    const char *cn = c->opt[CLI_OPT_CN];

    struct backend_ops ops;
    store_backend_ops(c->st, &ops);
    const char *note = NULL;
    if (user) {
        struct user *u = NULL;
        enum wd_err e = ops.user_get(ops.ctx, user, &u);
        if (e == WD_ENOTFOUND)
            note = "not a user in the store: only role default applies (a certificate "
                   "identity); a password login would be refused";
        else if (e != WD_OK)
            return cli_failed(c, "user '%.100s': %s", user, wd_strerror(e));
        else if (!u->enabled)
            note = "the user is disabled: its connections are refused";
        backend_user_free(u);
    }
    enum wd_err e;
    struct perms *p = perms_load(&ops, user, &e);
    if (!p)
        return cli_failed(c, "cannot load the permissions: %s", wd_strerror(e));
    struct acl_subject who = {user, cid, cn};
    struct perms_explanation x;
    perms_explain(p, false, user == NULL, &who, action, topic, tlen, (uint8_t)qos, retain, &x);
    perms_unref(p);

    if (c->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:s}",
                              "verdict", x.allow ? "allow" : "deny", "action", c->pos[0],
                              "topic", c->pos[1], "user", user ? json_string(user) : json_null(),
                              "client", cid ? json_string(cid) : json_null(), "cn",
                              cn ? json_string(cn) : json_null(), "matched", x.matched, "list",
                              x.matched ? json_string(x.list) : json_null(), "index",
                              x.matched ? json_integer(x.index) : json_null(), "rule",
                              x.matched ? json_string(x.rule) : json_null(), "reason", x.reason);
        if (o && action == RULE_SUBSCRIBE && x.allow)
            json_object_set_new(o, "granted_qos", json_integer(x.granted));
        if (o && note)
            json_object_set_new(o, "note", json_string(note));
        return cli_emit_json(o);
    }
    printf("verdict:  %s\n", x.allow ? "allow" : "deny");
    printf("request:  %s %s %s qos %lu%s\n", user ? user : "(anonymous)", c->pos[0], c->pos[1],
           qos, retain ? " retain" : "");
    if (x.matched)
        printf("rule:     %s, rule %u: %s\n", x.list, x.index, x.rule);
    else
        printf("rule:     none matched\n");
    printf("reason:   %s\n", x.reason);
    if (action == RULE_SUBSCRIBE && x.allow)
        printf("granted:  QoS %u\n", x.granted);
    if (note)
        printf("note:     %s\n", note);
    return 0;
}
