/*
 * rtree.c - topic name -> value store (retained messages), walked by filter.
 *
 * One node per level with children found by hash, as in tree.c (the child
 * table is repeated here rather than shared so each file stands alone).
 * Invariants: every node but the root holds a value or a child; a node with
 * a value also holds a copy of its full topic name, which the visitor gets.
 * Workload: a set per retained PUBLISH, a filter walk per SUBSCRIBE. Walks
 * climb back through parent pointers instead of recursing, so topics with
 * tens of thousands of levels cost time, never stack.
 */
#include "rtree.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

#define LINEAR_MAX 8  /* children up to this count: unsorted array; above: hash table */
#define TABLE_MIN 16  /* first table size: 9 children at load 0.56 */

struct node {
    struct node *parent;  /* NULL only for the root */
    struct node **kids;   /* array (kcap <= LINEAR_MAX) or linear-probing table */
    void *value;          /* NULL: no value stored here */
    char *topic;          /* owned full name, set iff value is */
    size_t tlen;
    uint32_t nkids;
    uint32_t kcap;        /* 0, 1..LINEAR_MAX (array), or a power of two > LINEAR_MAX */
    uint32_t hash;        /* level_hash() of level */
    uint32_t slot;        /* index in parent->kids, kept current across moves */
    uint32_t llen;
    char level[];         /* not NUL-terminated */
};

struct rtree {
    struct node *root;     /* no level, never a value; lives until rtree_free */
    rtree_free_fn free_value;
    size_t count;          /* nodes holding a value */
};

static inline uint32_t hash_step(uint32_t h, unsigned char c)
{
    return (h ^ c) * 16777619u; /* FNV-1a */
}
#define HASH_INIT 2166136261u

/* End of the level starting at `from`; *h gets the level's hash, in the same pass. */
static inline size_t level_scan(const char *s, size_t len, size_t from, uint32_t *h)
{
    uint32_t x = HASH_INIT;
    size_t i = from;
    while (i < len && s[i] != '/')
        x = hash_step(x, (unsigned char)s[i++]);
    *h = x;
    return i;
}

/* Start of the level that ends at `end`. */
static inline size_t level_back(const char *s, size_t end)
{
    while (end > 0 && s[end - 1] != '/')
        end--;
    return end;
}

static inline bool level_is(const struct node *n, const char *s, size_t len, uint32_t h)
{
    return n->hash == h && n->llen == len && (len == 0 || memcmp(n->level, s, len) == 0);
}

static struct node *kid_find(const struct node *n, const char *s, size_t len, uint32_t h)
{
    if (n->kcap <= LINEAR_MAX) {
        for (uint32_t i = 0; i < n->nkids; i++)
            if (level_is(n->kids[i], s, len, h))
                return n->kids[i];
        return NULL;
    }
    uint32_t mask = n->kcap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        struct node *k = n->kids[i];
        if (!k || level_is(k, s, len, h))
            return k;
    }
}

/* First child of n in a slot >= from, or NULL. Slots are stable during a walk. */
static struct node *kid_next(const struct node *n, uint32_t from)
{
    for (uint32_t i = from; i < n->kcap; i++)
        if (n->kids[i])
            return n->kids[i];
    return NULL;
}

static void table_put(struct node **tab, uint32_t cap, struct node *c)
{
    uint32_t mask = cap - 1, i = c->hash & mask;
    while (tab[i])
        i = (i + 1) & mask;
    tab[i] = c;
    c->slot = i;
}

/* Make room for one more child of n. false on ENOMEM, n unchanged. */
static bool kid_reserve(struct node *n)
{
    uint32_t ncap;
    if (n->kcap <= LINEAR_MAX) {
        if (n->nkids < n->kcap)
            return true;
        if (n->kcap < LINEAR_MAX) {
            ncap = n->kcap ? n->kcap * 2 : 1;
            struct node **k = wd_realloc(n->kids, ncap * sizeof *k);
            if (!k)
                return false;
            memset(k + n->kcap, 0, (ncap - n->kcap) * sizeof *k);
            n->kids = k;
            n->kcap = ncap;
            return true;
        }
        ncap = TABLE_MIN;
    } else {
        if ((n->nkids + 1) * 4 <= n->kcap * 3)
            return true;
        ncap = n->kcap * 2;
    }
    struct node **tab = wd_calloc(ncap, sizeof *tab);
    if (!tab)
        return false;
    for (uint32_t i = 0; i < n->kcap; i++)
        if (n->kids[i])
            table_put(tab, ncap, n->kids[i]);
    wd_free(n->kids);
    n->kids = tab;
    n->kcap = ncap;
    return true;
}

static void kid_put(struct node *n, struct node *c)
{
    if (n->kcap <= LINEAR_MAX) {
        assert(n->nkids < n->kcap);
        c->slot = n->nkids;
        n->kids[n->nkids] = c;
    } else {
        table_put(n->kids, n->kcap, c);
    }
    n->nkids++;
}

/* Remove c from n's children (backward-shift deletion; tables shrink only to nothing). */
static void kid_del(struct node *n, struct node *c)
{
    uint32_t i = c->slot;
    assert(n->kids[i] == c);
    if (n->kcap <= LINEAR_MAX) {
        uint32_t last = n->nkids - 1;
        n->kids[i] = n->kids[last];
        n->kids[i]->slot = i;
        n->kids[last] = NULL;
    } else {
        uint32_t mask = n->kcap - 1;
        n->kids[i] = NULL;
        for (uint32_t j = (i + 1) & mask; n->kids[j]; j = (j + 1) & mask) {
            struct node *k = n->kids[j];
            uint32_t home = k->hash & mask;
            bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (stays)
                continue;
            n->kids[i] = k;
            k->slot = i;
            n->kids[j] = NULL;
            i = j;
        }
    }
    if (--n->nkids == 0) {
        wd_free(n->kids);
        n->kids = NULL;
        n->kcap = 0;
    }
}

/* Free n and its ancestors while they hold nothing; the root stays. */
static void prune(struct node *n)
{
    while (n->parent && !n->value && !n->nkids) {
        struct node *p = n->parent;
        kid_del(p, n);
        wd_free(n->kids);
        wd_free(n);
        n = p;
    }
}

struct rtree *rtree_new(rtree_free_fn free_value)
{
    struct rtree *t = wd_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->root = wd_calloc(1, sizeof *t->root);
    if (!t->root) {
        wd_free(t);
        return NULL;
    }
    t->free_value = free_value;
    return t;
}

static void drop_value(struct rtree *t, void *value)
{
    if (value && t->free_value)
        t->free_value(value);
}

/* Post-order through parent pointers, taking children from the end. */
void rtree_free(struct rtree *t)
{
    if (!t)
        return;
    struct node *n = t->root;
    for (;;) {
        struct node *c = NULL;
        for (uint32_t i = n->kcap; i-- > 0;)
            if ((c = n->kids[i]) != NULL)
                break;
        if (c) {
            n = c;
            continue;
        }
        if (!n->parent)
            break;
        struct node *p = n->parent;
        kid_del(p, n);
        drop_value(t, n->value);
        wd_free(n->topic);
        wd_free(n->kids);
        wd_free(n);
        n = p;
    }
    wd_free(t->root->kids);
    wd_free(t->root);
    wd_free(t);
}

/* Node for topic, or NULL. */
static struct node *node_find(struct rtree *t, const char *topic, size_t tlen)
{
    struct node *n = t->root;
    for (size_t p = 0; n && p <= tlen;) {
        uint32_t h;
        size_t e = level_scan(topic, tlen, p, &h);
        n = kid_find(n, topic + p, e - p, h);
        p = e + 1;
    }
    return n;
}

enum wd_err rtree_set(struct rtree *t, const char *topic, size_t tlen, void *value)
{
    assert(t);
    if (!value) {
        struct node *n = node_find(t, topic, tlen);
        if (n && n->value) {
            drop_value(t, n->value);
            wd_free(n->topic);
            n->value = NULL;
            n->topic = NULL;
            t->count--;
            prune(n);
        }
        return WD_OK;
    }
    struct node *n = t->root;
    for (size_t p = 0; p <= tlen;) {
        uint32_t h;
        size_t e = level_scan(topic, tlen, p, &h);
        size_t len = e - p;
        struct node *c = kid_find(n, topic + p, len, h);
        if (!c) {
            if (len > UINT32_MAX || !kid_reserve(n) || !(c = wd_malloc(sizeof *c + len)))
                goto nomem;
            memset(c, 0, sizeof *c);
            c->parent = n;
            c->hash = h;
            c->llen = (uint32_t)len;
            if (len)
                memcpy(c->level, topic + p, len);
            kid_put(n, c);
        }
        n = c;
        p = e + 1;
    }
    if (n->value) {
        if (n->value != value) /* storing the same value again must not free it */
            drop_value(t, n->value);
        n->value = value;
        return WD_OK;
    }
    n->topic = wd_strndup(topic, tlen);
    if (!n->topic)
        goto nomem;
    n->tlen = tlen;
    n->value = value;
    t->count++;
    return WD_OK;

nomem:
    prune(n);
    drop_value(t, value);
    return WD_ENOMEM;
}

void *rtree_get(struct rtree *t, const char *topic, size_t tlen)
{
    assert(t);
    struct node *n = node_find(t, topic, tlen);
    return n ? n->value : NULL;
}

static inline void visit(const struct node *n, rtree_visit_fn fn, void *ctx)
{
    if (n->value)
        fn(ctx, n->topic, n->tlen, n->value);
}

/*
 * Visit top and everything below it, pre-order. skip_dollar: leave out top's
 * children whose level starts with '$' (a root '#' [MQTT-4.7.2-1]).
 */
static void visit_subtree(const struct node *top, bool skip_dollar, rtree_visit_fn fn, void *ctx)
{
    const struct node *n = top;
    uint32_t from = 0;
    visit(n, fn, ctx);
    for (;;) {
        struct node *c = kid_next(n, from);
        if (c && n == top && skip_dollar && c->llen > 0 && c->level[0] == '$') {
            from = c->slot + 1;
            continue;
        }
        if (c) {
            visit(c, fn, ctx);
            n = c;
            from = 0;
            continue;
        }
        if (n == top)
            return;
        from = n->slot + 1;
        n = n->parent;
    }
}

void rtree_each(struct rtree *t, rtree_visit_fn fn, void *ctx)
{
    assert(t);
    assert(fn);
    visit_subtree(t->root, false, fn, ctx);
}

/*
 * Depth-first over the nodes the filter reaches. State is (n, p): n matched
 * the filter levels before position p; p == flen + 1 means all of them. A
 * '+' level iterates n's children by slot; climbing back recovers the
 * parent's level by scanning back over one level of the filter.
 */
void rtree_match(struct rtree *t, const char *filter, size_t flen, rtree_visit_fn fn, void *ctx)
{
    assert(t);
    assert(fn);
    struct node *root = t->root, *n = root, *c;
    size_t p = 0, e;
    uint32_t h, from;

enter:
    if (p > flen) {
        visit(n, fn, ctx);
        goto climb;
    }
    e = level_scan(filter, flen, p, &h);
    if (e - p == 1 && filter[p] == '#') {
        visit_subtree(n, n == root, fn, ctx); /* includes n: "a/#" matches "a" */
        goto climb;
    }
    if (e - p == 1 && filter[p] == '+') {
        from = 0;
        goto next_single;
    }
    if ((c = kid_find(n, filter + p, e - p, h)) != NULL) {
        n = c;
        p = e + 1;
        goto enter;
    }
    goto climb;
next_single:
    while ((c = kid_next(n, from)) != NULL) {
        if (n == root && c->llen > 0 && c->level[0] == '$') {
            from = c->slot + 1; /* [MQTT-4.7.2-1] */
            continue;
        }
        n = c;
        p = e + 1;
        goto enter;
    }
climb:
    if (n == root)
        return;
    c = n;
    n = n->parent;
    e = p - 1;
    p = level_back(filter, e);
    if (e - p == 1 && filter[p] == '+') {
        from = c->slot + 1;
        goto next_single;
    }
    goto climb;
}

size_t rtree_count(const struct rtree *t)
{
    return t->count;
}
