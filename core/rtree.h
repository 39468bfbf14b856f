/*
 * rtree.h - topic-name-keyed store walked by filter: the retained messages.
 *
 * Maps exact topic names to opaque values; rtree_match() visits the values
 * whose names a filter matches, following the same wildcard and '$' rules as
 * topic_match() but walking only the branches the filter can reach.
 * No sockets, no globals. Thread: one thread at a time (the broker thread).
 */
#ifndef WD_RTREE_H
#define WD_RTREE_H

#include <stddef.h>

#include "err.h"

struct rtree;

/* Called on a value the tree drops (replaced, removed, or at rtree_free). */
typedef void (*rtree_free_fn)(void *value);
/* Visitor. Borrows: topic and value are valid during the call only; do not modify the tree. */
typedef void (*rtree_visit_fn)(void *ctx, const char *topic, size_t tlen, void *value);

/* Returns owned: free with rtree_free(). free_value may be NULL. */
struct rtree *rtree_new(rtree_free_fn free_value);
void rtree_free(struct rtree *t);

/*
 * Store value under topic name (valid, no wildcards). Takes: value (on
 * failure too: it is then passed to free_value). value NULL removes the
 * topic. A replaced value is passed to free_value. WD_OK or WD_ENOMEM.
 */
enum wd_err rtree_set(struct rtree *t, const char *topic, size_t tlen, void *value);

/* Value stored under topic, or NULL. Borrows: valid until the next change. */
void *rtree_get(struct rtree *t, const char *topic, size_t tlen);

/* Visit every stored topic that filter (valid, no "$share/") matches. */
void rtree_match(struct rtree *t, const char *filter, size_t flen, rtree_visit_fn fn, void *ctx);

/* Visit every stored topic. */
void rtree_each(struct rtree *t, rtree_visit_fn fn, void *ctx);

/* Number of stored topics. */
size_t rtree_count(const struct rtree *t);

#endif
