/*
 * perms.c - loading rule lists from the store, asking them (through a
 * session's verdict cache), explaining a verdict, and what happens to a
 * client after a denial: the audit event and the role's on_deny policy.
 */
#include "perms.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "broker.h"
#include "conn.h"
#include "log.h"
#include "mem.h"
#include "session.h"

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
    if (p->scoped)
        list_fini(&p->scope);
    wd_free(p);
}

/* Copy rules v[0..n) into *out. */
static enum wd_err rules_copy(const struct rule *v, size_t n, struct rule **out)
{
    *out = NULL;
    if (!n)
        return WD_OK;
    struct rule *c = wd_calloc(n, sizeof *c);
    if (!c)
        return WD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        c[i] = v[i];
        if (!(c[i].filter = wd_strdup(v[i].filter))) {
            backend_rules_free(c, i);
            return WD_ENOMEM;
        }
    }
    *out = c;
    return WD_OK;
}

static enum wd_err list_copy(const struct acl_list *from, const char *name, struct acl_list *to)
{
    struct rule *r;
    char *nm = wd_strdup(name ? name : from->name);
    if (!nm || rules_copy(from->rules, from->n, &r) != WD_OK) {
        wd_free(nm);
        return WD_ENOMEM;
    }
    to->name = nm;
    to->rules = r;
    to->n = from->n;
    return WD_OK;
}

struct perms *perms_scoped(const struct perms *base, const struct rule *scope, size_t n)
{
    struct perms *p = wd_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->refs = 1;
    p->scoped = true;
    p->scope_only = !base;
    p->on_deny = base ? base->on_deny : DENY_DROP;
    p->strikes = base ? base->strikes : 0;
    struct acl_list sc = {NULL, scope, n};
    if (list_copy(&sc, "token scope", &p->scope) != WD_OK) {
        p->scoped = false;
        perms_unref(p);
        return NULL;
    }
    if (base && base->n) {
        if (!(p->lists = wd_calloc(base->n, sizeof *p->lists))) {
            perms_unref(p);
            return NULL;
        }
        for (; p->n < base->n; p->n++) {
            if (list_copy(&base->lists[p->n], NULL, &p->lists[p->n]) != WD_OK) {
                perms_unref(p);
                return NULL;
            }
        }
    }
    return p;
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
    if (e == WD_OK && p->on_deny == DENY_UNSET && r->on_deny != DENY_UNSET) {
        p->on_deny = r->on_deny; /* the first role with a policy decides */
        p->strikes = r->strikes;
    }
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
    if (p->on_deny == DENY_UNSET)
        p->on_deny = DENY_DROP;
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
    if (p && p->scoped) /* a token session: its scope narrows the subject's rules */
        return acl_eval_scoped(&p->scope, p->scope_only, p->lists, p->n, who, action, topic,
                               tlen, qos, retain, granted) == ACL_ALLOW;
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

/* ---- per-session state and the verdict cache ---- */

struct perms_state *perms_state_new(void)
{
    return wd_calloc(1, sizeof(struct perms_state));
}

void perms_state_free(struct perms_state *st)
{
    if (!st)
        return;
    acl_cache_free(st->cache);
    wd_free(st);
}

void perms_state_reset(struct perms_state *st)
{
    if (st && st->cache)
        acl_cache_clear(st->cache);
}

bool perms_check(struct perms_state *st, const struct perms *p, bool default_allow,
                 const struct acl_subject *who, unsigned action, const char *topic, size_t tlen,
                 uint8_t qos, bool retain, uint8_t *granted)
{
    if (!st || action == RULE_SUBSCRIBE)
        return perms_allow(p, default_allow, who, action, topic, tlen, qos, retain, granted);
    if (action == RULE_RECEIVE) {
        qos = 0; /* receive is decided by the topic alone */
        retain = false;
    }
    if (granted)
        *granted = qos;
    if (!st->cache && !(st->cache = acl_cache_new()))
        return perms_allow(p, default_allow, who, action, topic, tlen, qos, retain, granted);
    int v = acl_cache_get(st->cache, action, topic, tlen, qos, retain);
    if (v >= 0)
        return v == 1;
    bool ok = perms_allow(p, default_allow, who, action, topic, tlen, qos, retain, granted);
    acl_cache_put(st->cache, action, topic, tlen, qos, retain, ok);
    return ok;
}

/* ---- explaining ---- */

const char *perms_action_name(unsigned action)
{
    switch (action) {
    case RULE_PUBLISH: return "publish";
    case RULE_SUBSCRIBE: return "subscribe";
    case RULE_RECEIVE: return "receive";
    default: return NULL;
    }
}

/* "publish,receive" or "all". */
static void actions_text(unsigned actions, char *out, size_t n)
{
    if ((actions & RULE_ALL) == RULE_ALL) {
        snprintf(out, n, "all");
        return;
    }
    out[0] = '\0';
    for (unsigned bit = RULE_PUBLISH; bit <= RULE_RECEIVE; bit <<= 1)
        if (actions & bit)
            snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? "," : "",
                     perms_action_name(bit));
}

void perms_explain(const struct perms *p, bool default_allow, bool anonymous,
                   const struct acl_subject *who, unsigned action, const char *topic,
                   size_t tlen, uint8_t qos, bool retain, struct perms_explanation *out)
{
    memset(out, 0, sizeof *out);
    struct acl_why why;
    uint8_t granted = qos;
    if (p && p->scoped &&
        acl_eval(&p->scope, 1, who, action, topic, tlen, qos, retain, &granted, NULL) !=
            ACL_ALLOW) {
        snprintf(out->list, sizeof out->list, "token scope");
        snprintf(out->reason, sizeof out->reason, "the access token's scope does not grant it");
        return;
    }
    if (p && p->scope_only) {
        out->allow = out->matched = true;
        out->granted = granted;
        snprintf(out->list, sizeof out->list, "token scope");
        snprintf(out->reason, sizeof out->reason, "the access token's scope grants it");
        return;
    }
    enum acl_result r = p ? acl_eval(p->lists, p->n, who, action, topic, tlen, qos, retain,
                                     &granted, &why)
                          : ACL_NO_MATCH;
    out->granted = granted;
    if (r == ACL_NO_MATCH) {
        out->allow = default_allow;
        out->granted = qos;
        if (default_allow)
            snprintf(out->reason, sizeof out->reason,
                     "no rule matched: allowed (anonymous_default allow on this listener)");
        else if (anonymous)
            snprintf(out->reason, sizeof out->reason,
                     "no rule matched: denied (allowed only on a listener with "
                     "anonymous_default allow)");
        else
            snprintf(out->reason, sizeof out->reason, "no rule matched: denied by default");
        return;
    }
    const struct rule *rule = &p->lists[why.list].rules[why.rule];
    out->allow = r == ACL_ALLOW;
    out->matched = true;
    snprintf(out->list, sizeof out->list, "%s", p->lists[why.list].name);
    out->index = (uint32_t)why.rule + 1;
    char act[48];
    actions_text(rule->actions, act, sizeof act);
    bool substituted = strcmp(why.filter, rule->filter) != 0;
    snprintf(out->rule, sizeof out->rule, "%s %s %s%s%s%s",
             rule->effect == RULE_ALLOW ? "allow" : "deny", act, why.filter,
             substituted ? " (from " : "", substituted ? rule->filter : "",
             substituted ? ")" : "");
    if (rule->effect == RULE_ALLOW && rule->max_qos < 2)
        snprintf(out->rule + strlen(out->rule), sizeof out->rule - strlen(out->rule),
                 " qos %u", rule->max_qos);
    if (rule->effect == RULE_ALLOW && !rule->retain)
        snprintf(out->rule + strlen(out->rule), sizeof out->rule - strlen(out->rule),
                 " no-retain");
    if (rule->effect == RULE_DENY)
        snprintf(out->reason, sizeof out->reason, "a deny rule matched");
    else if (r == ACL_DENY && qos > rule->max_qos)
        snprintf(out->reason, sizeof out->reason, "the rule allows QoS %u at most",
                 rule->max_qos);
    else if (r == ACL_DENY)
        snprintf(out->reason, sizeof out->reason, "the rule does not allow retained messages");
    else if (action == RULE_SUBSCRIBE && granted < qos)
        snprintf(out->reason, sizeof out->reason, "an allow rule matched; granted QoS %u",
                 granted);
    else
        snprintf(out->reason, sizeof out->reason, "an allow rule matched");
}

/* ---- after a denial ---- */

/*
 * The audit event of one denial (audit: within the rate limit), and always
 * the session's flight recorder entry with the deciding rule.
 */
static void note_denial(struct session *s, unsigned action, const char *topic, size_t tlen,
                        uint8_t qos, bool retain, uint32_t suppressed, bool audit)
{
    struct acl_subject who = {s->username, s->client_id, s->cn};
    struct acl_why why;
    uint8_t granted;
    enum acl_result r = s->perms ? acl_eval(s->perms->lists, s->perms->n, &who, action, topic,
                                            tlen, qos, retain, &granted, &why)
                                 : ACL_NO_MATCH;
    char target[600], result[300];
    char shown[256];
    snprintf(target, sizeof target, "client %.100s user %.100s %s %s", s->client_id,
             s->username ? s->username : "(anonymous)", perms_action_name(action),
             log_clean(shown, sizeof shown, topic, tlen));
    uint8_t g;
    if (s->perms && s->perms->scoped &&
        acl_eval(&s->perms->scope, 1, &who, action, topic, tlen, qos, retain, &g, NULL) !=
            ACL_ALLOW) {
        snprintf(result, sizeof result, "denied: outside the access token's scope");
    } else if (r == ACL_NO_MATCH) {
        snprintf(result, sizeof result, "denied: no rule");
    } else {
        const struct rule *rule = &s->perms->lists[why.list].rules[why.rule];
        const char *cause = rule->effect == RULE_DENY ? ""
                            : qos > rule->max_qos    ? " (QoS above its maximum)"
                                                     : " (retain not allowed)";
        snprintf(result, sizeof result, "denied: %s rule %zu of %s%s",
                 rule->effect == RULE_DENY ? "deny" : "allow", why.rule + 1,
                 s->perms->lists[why.list].name, cause);
    }
    flight_note(&s->flight, FL_DENY, "%s %s QoS %u%s: %s", perms_action_name(action), shown, qos,
                retain ? " retained" : "", result);
    if (!audit)
        return;
    if (suppressed)
        snprintf(result + strlen(result), sizeof result - strlen(result),
                 "; %u more denial%s not logged", suppressed, suppressed == 1 ? "" : "s");
    auth_audit(s->b->auth, "acl deny", target, result);
}

bool perms_denied(struct session *s, unsigned action, const char *topic, size_t tlen,
                  uint8_t qos, bool retain)
{
    /* Made here on a first denial (session_may makes it on a first cache use). */
    if (!s->authz)
        s->authz = perms_state_new();
    struct perms_state *st = s->authz;
    uint64_t now = loop_now_ms(s->b->loop);
    s->b->stats.denials++;
    if (st && st->audit_at_ms && now - st->audit_at_ms < PERMS_AUDIT_EVERY_MS) {
        st->suppressed++;
        /* The client's own requests each get a flight recorder entry; refused
         * deliveries (one per message routed) only within the audit's rate. */
        if (action != RULE_RECEIVE)
            note_denial(s, action, topic, tlen, qos, retain, 0, false);
    } else if (st) {
        note_denial(s, action, topic, tlen, qos, retain, st->suppressed, true);
        st->audit_at_ms = now ? now : 1;
        st->suppressed = 0;
    } else {
        note_denial(s, action, topic, tlen, qos, retain, 0, false);
    }
    struct conn *c = s->conn;
    if (action == RULE_RECEIVE || !s->perms || !c || c->state != CONN_ACTIVE)
        return false;
    bool strike_out = false;
    if (s->perms->on_deny == DENY_STRIKES && st) {
        if (!st->strikes || now - st->strike_since_ms > PERMS_STRIKE_WINDOW_MS) {
            st->strike_since_ms = now;
            st->strikes = 0;
        }
        strike_out = ++st->strikes >= s->perms->strikes;
    }
    if (s->perms->on_deny != DENY_DISCONNECT && !strike_out)
        return false;
    log_notice("disconnecting client=%s addr=%s: %s denied (on_deny %s)", s->client_id, c->addr,
               perms_action_name(action), strike_out ? "strikes" : "disconnect");
    if (strike_out) {
        st->strikes = 0;
        auth_deny_disconnect(s->b->auth, s->client_id);
    }
    conn_close(c, MQTT_RC_NOT_AUTHORIZED, true, true);
    return true;
}
