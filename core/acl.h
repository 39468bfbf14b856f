/*
 * acl.h - PURE evaluation of topic rules: may this subject publish to,
 * subscribe to, or receive from this topic?
 *
 * Rules come in ordered lists (the user's own, then each role's, then the
 * `default` role's); the first rule that matches the action and the topic
 * decides, and nothing matching is ACL_NO_MATCH (the caller's default: deny).
 * Matching: publish and receive test the rule's filter against the topic
 * name; subscribe asks whether an allow rule's filter COVERS every topic the
 * requested filter can match, and whether a deny rule's filter OVERLAPS it.
 * %u, %c and %cn in a rule's filter are replaced by the user name, client id
 * and certificate identity; a value that is missing or holds '+', '#' or '/'
 * makes the rule not match, so it can never widen a rule.
 * No globals, no I/O; evaluation allocates nothing beyond a stack buffer.
 *
 * The verdict cache (struct acl_cache) remembers final publish and receive
 * verdicts of one session, so the hot path costs a hash lookup instead of a
 * rule walk: 64 slots, two probe positions per key, each slot holding its own
 * copy of the topic (compared in full: a hash collision never returns another
 * topic's verdict). Its owner clears it whenever the rules or the subject change.
 */
#ifndef WD_ACL_H
#define WD_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

enum acl_result { ACL_ALLOW, ACL_DENY, ACL_NO_MATCH };

/* The values substituted into rule filters; NULL = not known. */
struct acl_subject {
    const char *user;        /* %u */
    const char *client_id;   /* %c */
    const char *cn;          /* %cn */
};

/* One ordered list of rules and what to call it in an explanation. */
struct acl_list {
    const char *name;        /* e.g. "user alice", "role sensors", "role default" */
    const struct rule *rules;
    size_t n;
};

/* Which rule decided. */
struct acl_why {
    size_t list;             /* index into the lists given */
    size_t rule;             /* 0-based index in that list */
    char filter[1024];       /* the rule's filter after substitution */
};

/*
 * Decide one request. action: RULE_PUBLISH, RULE_SUBSCRIBE or RULE_RECEIVE.
 * topic: a topic name (publish, receive) or a filter without "$share/G/"
 * (subscribe). qos: the publish's QoS, or the requested subscription QoS.
 * retain: a publish with RETAIN set.
 * out: *granted (subscribe: the QoS to grant, min(qos, rule max)), *why (may
 * be NULL) when a rule decided.
 * A matching allow rule denies a publish above its max QoS or a retained
 * publish it does not allow retain for.
 */
enum acl_result acl_eval(const struct acl_list *lists, size_t nlists,
                         const struct acl_subject *who, unsigned action, const char *topic,
                         size_t tlen, uint8_t qos, bool retain, uint8_t *granted,
                         struct acl_why *why);

/*
 * Decide one request of an access-token session: the token's scope (one list
 * of allow rules) must allow it AND, unless scope_only (the subject is no
 * user), the subject's rule lists must allow it too, so a scope narrows what
 * the rules grant and never widens it. Nothing matching is ACL_DENY here (a
 * token session has no default). granted: the lower of the two grants.
 */
enum acl_result acl_eval_scoped(const struct acl_list *scope, bool scope_only,
                                const struct acl_list *lists, size_t nlists,
                                const struct acl_subject *who, unsigned action, const char *topic,
                                size_t tlen, uint8_t qos, bool retain, uint8_t *granted);

/* Does filter r cover every topic that filter f can match ('$' rule included)? */
bool acl_covers(const char *r, size_t rlen, const char *f, size_t flen);

/* Is there a topic that both filters match? */
bool acl_overlaps(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Substitute %u, %c, %cn in pattern into out (size n). Returns false when a
 * needed value is missing or contains '+', '#' or '/', or out is too small.
 */
bool acl_substitute(const char *pattern, const struct acl_subject *who, char *out, size_t n,
                    size_t *outlen);

/* ---- verdict cache ---- */

#define ACL_CACHE_SLOTS 64       /* power of two */
#define ACL_CACHE_TOPIC_MAX 256  /* longer topics are not cached */

struct acl_cache_slot {
    char *topic;             /* owned (wd_malloc), NUL-terminated; NULL = empty slot */
    uint64_t hash;           /* of key and topic */
    uint16_t tlen;
    uint8_t key;             /* action | qos << 3 | retain << 5 */
    bool allow;
};

struct acl_cache {
    struct acl_cache_slot slot[ACL_CACHE_SLOTS];
    uint32_t next_victim;    /* alternates the probe position evicted */
    uint64_t hits, misses;   /* for tests and statistics */
};

/* Returns owned: an empty cache (acl_cache_free), or NULL (out of memory). */
struct acl_cache *acl_cache_new(void);
/* acl_cache_free(NULL) is a no-op. */
void acl_cache_free(struct acl_cache *c);
/* Forget every verdict (rules or subject changed). */
void acl_cache_clear(struct acl_cache *c);
/* A cached verdict: 1 allow, 0 deny, -1 not cached (counted as a miss). */
int acl_cache_get(struct acl_cache *c, unsigned action, const char *topic, size_t tlen,
                  uint8_t qos, bool retain);
/* Remember a verdict (copies topic; silently skipped when too long or out of memory). */
void acl_cache_put(struct acl_cache *c, unsigned action, const char *topic, size_t tlen,
                   uint8_t qos, bool retain, bool allow);

#endif
