/*
 * tree.h - the subscription tree: filters to subscribers, matched by topic.
 *
 * One node per topic level, children found by hash, so matching a topic
 * costs in proportion to its depth (times the wildcard branches that exist),
 * not to the number of subscriptions. Shared subscriptions ($share/G/F) live
 * at F's node as groups whose members take turns (round-robin).
 * No sockets, no globals; owners are opaque pointers (the broker's sessions).
 * Thread: one thread at a time (the broker thread).
 */
#ifndef WD_TREE_H
#define WD_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tree;

/* What a subscriber asked for (MQTT 5 subscription options). */
struct tree_opts {
    uint8_t qos;             /* granted QoS 0..2 */
    bool no_local;           /* don't deliver the owner's own publishes */
    bool retain_as_published;/* keep the RETAIN flag on forwarded messages */
    uint8_t retain_handling; /* 0, 1, 2 (used at subscribe time, stored for listing) */
    uint32_t sub_id;         /* Subscription Identifier, 0 = none */
};

/*
 * Called once per matching subscription. shared: true when the match came
 * from a shared group (one member chosen per group per message).
 * Borrows: opts valid during the call only.
 */
typedef void (*tree_match_fn)(void *ctx, void *owner, const struct tree_opts *opts, bool shared);

/* May this owner take a shared-subscription message now? (e.g. it is online) */
typedef bool (*tree_eligible_fn)(void *owner);

/* Returns owned: free with tree_free(). NULL on allocation failure. */
struct tree *tree_new(void);
void tree_free(struct tree *t);

/*
 * Add or replace owner's subscription to filter (validated by the caller,
 * without "$share/"), in shared group `group` (glen > 0) or as an ordinary
 * subscription (group NULL). If owner already has that subscription its
 * options are replaced and *replaced set true. Copies what it keeps.
 * Returns WD_OK or WD_ENOMEM (tree unchanged).
 */
enum wd_err tree_subscribe(struct tree *t, const char *filter, size_t flen, const char *group,
                           size_t glen, void *owner, const struct tree_opts *opts,
                           bool *replaced);

/* Remove owner's subscription. WD_OK, or WD_ENOTFOUND. Empty nodes are freed. */
enum wd_err tree_unsubscribe(struct tree *t, const char *filter, size_t flen, const char *group,
                             size_t glen, void *owner);

/*
 * Call fn for every subscription matching topic name `topic`. Ordinary
 * subscriptions: once per subscription (an owner with two matching filters
 * is reported twice; the caller merges). Shared groups: once per matching
 * group, for the next member in turn for which eligible() is true (any
 * member if none is, or if eligible is NULL). Do not modify the tree from fn.
 */
void tree_match(struct tree *t, const char *topic, size_t tlen, tree_eligible_fn eligible,
                tree_match_fn fn, void *ctx);

/* Number of subscriptions (ordinary + shared memberships). */
size_t tree_count(const struct tree *t);

#endif
