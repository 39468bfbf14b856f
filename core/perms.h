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
};

/*
 * Load the lists for user (NULL: an anonymous client) from the store. A user
 * that is not in the store (a certificate identity) gets `default` only.
 * Thread: worker (store reads). Returns owned (one reference) or NULL with *err.
 */
struct perms *perms_load(const struct backend_ops *ops, const char *user, enum wd_err *err);

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

#endif
