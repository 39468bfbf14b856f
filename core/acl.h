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
 * No globals, no allocation beyond a stack buffer, no I/O.
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

#endif
