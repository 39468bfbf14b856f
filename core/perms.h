/*
 * perms.h - one identity's topic permissions as the broker holds them: the
 * ordered rule lists (the user's own, its roles in order, then `default`;
 * or `anonymous` then `default`), loaded from the store on an auth worker and
 * shared by reference between a connection and its session.
 *
 * A session checks every SUBSCRIBE, PUBLISH and delivery against them with
 * acl_eval(); nothing matching means deny, unless default_allow (anonymous
 * clients on a listener with `anonymous_default allow`).
 */
#ifndef WD_PERMS_H
#define WD_PERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "backend.h"

struct perms {
    uint32_t refs;
    struct acl_list *lists;  /* owned: each name and rules array owned too */
    size_t n;
    uint8_t on_deny;         /* enum deny_policy of the first role that sets one, else DROP */
    uint16_t strikes;        /* DENY_STRIKES: denials within a minute before the disconnect */
    /* An access token's scope (perms_scoped): a request must be allowed by the scope
     * AND by the lists, so a token narrows what its subject may do, never widens it. */
    bool scoped;
    bool scope_only;         /* the subject is no user: the scope alone decides */
    struct acl_list scope;   /* owned: the grants as allow rules, named "token scope" */
};

/*
 * One session's authorization state beside its permissions: the verdict
 * cache and the denial counters. Owned by the session (perms_state_free);
 * the cache is dropped by perms_state_reset() whenever the permissions change.
 */
struct perms_state {
    struct acl_cache *cache;     /* owned; NULL until the first publish/receive check */
    uint64_t strike_since_ms;    /* loop time the current strike window began */
    uint32_t strikes;            /* denials in that window */
    uint64_t audit_at_ms;        /* loop time of the last denial written to the audit log */
    uint32_t suppressed;         /* denials not written since then (rate limit) */
};

#define PERMS_STRIKE_WINDOW_MS 60000  /* strikes:N counts denials within this */
#define PERMS_AUDIT_EVERY_MS 1000     /* at most one denial audit event per client per second */

/*
 * Load the lists for user (NULL: an anonymous client) from the store. A user
 * that is not in the store (a certificate identity) gets `default` only.
 * Thread: worker (store reads). Returns owned (one reference) or NULL with *err.
 */
struct perms *perms_load(const struct backend_ops *ops, const char *user, enum wd_err *err);

/*
 * A token session's permissions: a copy of base (NULL: a subject that is no
 * user, whose permissions are the scope's alone) restricted by the scope's
 * allow rules scope[0..n) (copied). n == 0 with a NULL base grants nothing.
 * Returns owned (one reference) or NULL (out of memory). Thread: any.
 */
struct perms *perms_scoped(const struct perms *base, const struct rule *scope, size_t n);

static inline struct perms *perms_ref(struct perms *p)
{
    if (p)
        p->refs++;
    return p;
}

/* Drop a reference; perms_unref(NULL) is a no-op. Thread: broker (or the owner). */
void perms_unref(struct perms *p);

/*
 * Decide one request for a subject. default_allow: the answer when no rule
 * matches. granted: for subscribe, the QoS to grant (may be NULL).
 */
bool perms_allow(const struct perms *p, bool default_allow, const struct acl_subject *who,
                 unsigned action, const char *topic, size_t tlen, uint8_t qos, bool retain,
                 uint8_t *granted);

/* Returns owned: a fresh state (perms_state_free), NULL when out of memory. */
struct perms_state *perms_state_new(void);
/* perms_state_free(NULL) is a no-op. */
void perms_state_free(struct perms_state *st);
/* The permissions changed: forget cached verdicts. st may be NULL. */
void perms_state_reset(struct perms_state *st);

/*
 * perms_allow() through st's verdict cache for publish and receive (subscribe
 * always walks the rules). st NULL: no cache.
 */
bool perms_check(struct perms_state *st, const struct perms *p, bool default_allow,
                 const struct acl_subject *who, unsigned action, const char *topic, size_t tlen,
                 uint8_t qos, bool retain, uint8_t *granted);

/* Why one request gets its verdict (for `warden acl explain` and the admin interface). */
struct perms_explanation {
    bool allow;
    bool matched;            /* a rule decided; false: nothing matched */
    uint8_t granted;         /* subscribe: the QoS that would be granted */
    char list[160];          /* which list held the rule: "user alice", "role ops" */
    uint32_t index;          /* 1-based rule number in that list */
    char rule[1200];         /* the rule after substitution: "deny publish plant/valves/#" */
    char reason[200];        /* one sentence: why that verdict */
};

/*
 * Explain one request. anonymous: the subject is an anonymous client (the
 * wording of the default). out: filled. Thread: any (pure over p).
 */
void perms_explain(const struct perms *p, bool default_allow, bool anonymous,
                   const struct acl_subject *who, unsigned action, const char *topic,
                   size_t tlen, uint8_t qos, bool retain, struct perms_explanation *out);

struct session;

/*
 * A request of session s was denied: write the audit event (at most one per
 * PERMS_AUDIT_EVERY_MS per client, on an auth worker, counting the ones
 * suppressed) and, for publish and subscribe, apply the on_deny policy.
 * Returns true when the connection is being closed: the caller sends nothing
 * more (no acknowledgement). Thread: broker.
 */
bool perms_denied(struct session *s, unsigned action, const char *topic, size_t tlen,
                  uint8_t qos, bool retain);

/* "publish", "subscribe", "receive" (one RULE_* bit) or NULL. */
const char *perms_action_name(unsigned action);

#endif
