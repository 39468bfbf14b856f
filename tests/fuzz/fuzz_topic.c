/*
 * fuzz_topic.c - libFuzzer target for topic.c, tree.c and rtree.c.
 *
 * The input is "FILTER\0NAME". Validation must never crash; when both parts
 * are valid, a tree holding only FILTER and an rtree holding only NAME must
 * agree with topic_match() (including the '$' rule and "$share/" parsing).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtree.h"
#include "topic.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_sub(void *ctx, void *owner, const struct tree_opts *opts, bool shared)
{
    (void)owner;
    (void)opts;
    (void)shared;
    (*(int *)ctx)++;
}

static void count_topic(void *ctx, const char *topic, size_t tlen, void *value)
{
    (void)topic;
    (void)tlen;
    (void)value;
    (*(int *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t flen = nul ? (size_t)(nul - s) : size;
    const char *name = nul ? nul + 1 : s + size;
    size_t nlen = nul ? size - flen - 1 : 0;

    bool shared;
    const char *group, *f;
    size_t glen, fl;
    bool fok = topic_parse_shared(s, flen, &shared, &group, &glen, &f, &fl) == WD_OK;
    bool nok = topic_validate_name(name, nlen) == WD_OK;
    (void)topic_levels(s, flen);
    if (!fok || !nok)
        return 0;
    if (topic_has_wildcard(group, glen) || topic_validate_filter(f, fl) != WD_OK)
        abort();
    bool want = topic_match(f, fl, name, nlen);

    struct tree *t = tree_new();
    struct rtree *r = rtree_new(NULL);
    static int owner;
    struct tree_opts o = {0};
    bool replaced;
    if (!t || !r || tree_subscribe(t, f, fl, group, glen, &owner, &o, &replaced) != WD_OK ||
        rtree_set(r, name, nlen, &owner) != WD_OK)
        abort();
    int hits = 0, seen = 0;
    tree_match(t, name, nlen, NULL, count_sub, &hits);
    rtree_match(r, f, fl, count_topic, &seen);
    if (hits != want || seen != want || tree_count(t) != 1 || rtree_count(r) != 1)
        abort();
    if (tree_unsubscribe(t, f, fl, group, glen, &owner) != WD_OK || tree_count(t) != 0)
        abort();
    tree_free(t);
    rtree_free(r);
    return 0;
}
