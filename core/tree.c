/*
 * tree.c - the subscription tree: one node per filter level, walked by topic name.
 *
 * Invariants: every node but the root holds a subscriber, a shared group or a
 * child (so rollback after ENOMEM is "prune from the deepest node"); '+' and
 * '#' children sit in `single`/`multi`, never in `kids`.
 * Workload: rare subscribes, one tree_match per PUBLISH. Matching allocates
 * nothing and never recurses (it climbs back through parent pointers), so a
 * 30000-level topic costs time, not stack. Owners are found by a linear scan
 * of one node's subscribers: fine until one filter has ~10^5 subscribers.
 */
#include "tree.h"

#include <assert.h>
#include <string.h>

#include "mem.h"

/* Children up to this count sit in an unsorted array; above it, a hash table. */
#define LINEAR_MAX 8
#define TABLE_MIN 16 /* first table size: 9 children at load 0.56 */

struct sub {
    void *owner;
    struct tree_opts opts;
};

struct group {
    struct sub *mem;  /* members in subscription order, the round-robin order */
    uint32_t nmem;
    uint32_t cap;
    uint32_t cursor;  /* index of the member whose turn is next; < nmem */
    uint32_t nlen;
    char name[];      /* not NUL-terminated */
};

struct node {
    struct node *parent;  /* NULL only for the root */
    struct node **kids;   /* exact-level children: array (kcap <= LINEAR_MAX) or table */
    struct node *single;  /* the '+' child */
    struct node *multi;   /* the '#' child */
    struct sub *subs;     /* ordinary subscriptions to this node's filter */
    struct group **groups;/* shared groups on this node's filter */
    uint32_t nkids;
    uint32_t kcap;        /* 0, 1..LINEAR_MAX (array), or a power of two > LINEAR_MAX */
    uint32_t nsubs;
    uint32_t scap;
    uint32_t ngroups;
    uint32_t gcap;
    uint32_t hash;        /* level_hash() of level */
    uint32_t slot;        /* index in parent->kids, kept current across moves */
    uint32_t llen;
    char level[];         /* not NUL-terminated */
};

struct tree {
    struct node *root;    /* no level, no parent; lives until tree_free */
    size_t count;         /* ordinary subscriptions + shared memberships */
};

/* FNV-1a: cheap, and good enough for level strings chosen by clients. */
static inline uint32_t hash_step(uint32_t h, unsigned char c)
{
    return (h ^ c) * 16777619u;
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

/* Start of the level that ends at `end` (the level before a '/' at `end`, or the last). */
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

/* Place c in a table that has room (linear probing). */
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
            return true; /* load factor stays <= 0.75 */
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

/* Add c to n's exact children; kid_reserve() must have succeeded. */
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

/*
 * Remove c from n's exact children. Tables use backward-shift deletion, so
 * there are no tombstones and lookups stay short after churn. Tables never
 * shrink except to nothing: unsubscribe must not fail on allocation.
 */
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

static bool node_empty(const struct node *n)
{
    return !n->nkids && !n->single && !n->multi && !n->nsubs && !n->ngroups;
}

static void node_free(struct node *n)
{
    for (uint32_t i = 0; i < n->ngroups; i++) {
        wd_free(n->groups[i]->mem);
        wd_free(n->groups[i]);
    }
    wd_free(n->groups);
    wd_free(n->subs);
    wd_free(n->kids);
    wd_free(n);
}

/* Free n and its ancestors while they are empty; the root stays. */
static void prune(struct node *n)
{
    while (n->parent && node_empty(n)) {
        struct node *p = n->parent;
        if (p->single == n)
            p->single = NULL;
        else if (p->multi == n)
            p->multi = NULL;
        else
            kid_del(p, n);
        node_free(n);
        n = p;
    }
}

/* Child of n for level s[0..len), created if absent. NULL on ENOMEM (n unchanged). */
static struct node *child_get(struct node *n, const char *s, size_t len, uint32_t h)
{
    bool single = len == 1 && s[0] == '+', multi = len == 1 && s[0] == '#';
    struct node *c = single ? n->single : multi ? n->multi : kid_find(n, s, len, h);
    if (c)
        return c;
    if (len > UINT32_MAX || (!single && !multi && !kid_reserve(n)))
        return NULL;
    c = wd_malloc(sizeof *c + len);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->parent = n;
    c->hash = h;
    c->llen = (uint32_t)len;
    if (len)
        memcpy(c->level, s, len);
    if (single)
        n->single = c;
    else if (multi)
        n->multi = c;
    else
        kid_put(n, c);
    return c;
}

/* Node for filter, created if create is true. NULL when absent or on ENOMEM (pruned). */
static struct node *node_walk(struct tree *t, const char *f, size_t flen, bool create)
{
    struct node *n = t->root;
    for (size_t p = 0; p <= flen;) {
        uint32_t h;
        size_t e = level_scan(f, flen, p, &h);
        const char *s = f + p;
        size_t len = e - p;
        struct node *c;
        if (create) {
            c = child_get(n, s, len, h);
            if (!c) {
                prune(n);
                return NULL;
            }
        } else {
            bool single = len == 1 && s[0] == '+', multi = len == 1 && s[0] == '#';
            c = single ? n->single : multi ? n->multi : kid_find(n, s, len, h);
            if (!c)
                return NULL;
        }
        n = c;
        p = e + 1;
    }
    return n;
}

/* Grow an array of `size`-byte elements so that one more fits. false on ENOMEM. */
static bool array_reserve(void **arr, uint32_t n, uint32_t *cap, size_t size)
{
    if (n < *cap)
        return true;
    if (*cap > UINT32_MAX / 2)
        return false;
    uint32_t ncap = *cap ? *cap * 2 : 1;
    void *a = wd_realloc(*arr, (size_t)ncap * size);
    if (!a)
        return false;
    *arr = a;
    *cap = ncap;
    return true;
}

static struct sub *sub_find(struct sub *s, uint32_t n, const void *owner)
{
    for (uint32_t i = 0; i < n; i++)
        if (s[i].owner == owner)
            return &s[i];
    return NULL;
}

static struct group *group_find(const struct node *n, const char *g, size_t glen)
{
    for (uint32_t i = 0; i < n->ngroups; i++) {
        struct group *gr = n->groups[i];
        if (gr->nlen == glen && memcmp(gr->name, g, glen) == 0)
            return gr;
    }
    return NULL;
}

/* Add owner to n's group g, creating the group. WD_ENOMEM leaves n as it was. */
static enum wd_err group_join(struct node *n, const char *g, size_t glen, void *owner,
                              const struct tree_opts *opts, bool *replaced)
{
    struct group *gr = group_find(n, g, glen);
    if (gr) {
        struct sub *m = sub_find(gr->mem, gr->nmem, owner);
        if (m) {
            m->opts = *opts;
            *replaced = true;
            return WD_OK;
        }
        if (!array_reserve((void **)&gr->mem, gr->nmem, &gr->cap, sizeof *gr->mem))
            return WD_ENOMEM;
        gr->mem[gr->nmem++] = (struct sub){owner, *opts};
        return WD_OK;
    }
    if (glen > UINT32_MAX ||
        !array_reserve((void **)&n->groups, n->ngroups, &n->gcap, sizeof *n->groups))
        return WD_ENOMEM;
    gr = wd_malloc(sizeof *gr + glen);
    if (!gr)
        return WD_ENOMEM;
    gr->mem = wd_malloc(sizeof *gr->mem);
    if (!gr->mem) {
        wd_free(gr);
        return WD_ENOMEM;
    }
    gr->mem[0] = (struct sub){owner, *opts};
    gr->nmem = gr->cap = 1;
    gr->cursor = 0;
    gr->nlen = (uint32_t)glen;
    memcpy(gr->name, g, glen);
    n->groups[n->ngroups++] = gr;
    return WD_OK;
}

struct tree *tree_new(void)
{
    struct tree *t = wd_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->root = wd_calloc(1, sizeof *t->root);
    if (!t->root) {
        wd_free(t);
        return NULL;
    }
    return t;
}

/*
 * Post-order walk through parent pointers: descend to any remaining child,
 * free a node once it has none, climb. No recursion, so a 30000-level chain
 * is freed like any other. Kids are taken from the end so that removing one
 * from a small array is a pop.
 */
void tree_free(struct tree *t)
{
    if (!t)
        return;
    struct node *n = t->root;
    for (;;) {
        struct node *c = n->single ? n->single : n->multi;
        if (!c && n->nkids) {
            for (uint32_t i = n->kcap; i-- > 0;)
                if ((c = n->kids[i]) != NULL)
                    break;
        }
        if (c) {
            n = c;
            continue;
        }
        if (!n->parent)
            break;
        struct node *p = n->parent;
        if (p->single == n)
            p->single = NULL;
        else if (p->multi == n)
            p->multi = NULL;
        else
            kid_del(p, n);
        node_free(n);
        n = p;
    }
    node_free(t->root);
    wd_free(t);
}

enum wd_err tree_subscribe(struct tree *t, const char *filter, size_t flen, const char *group,
                           size_t glen, void *owner, const struct tree_opts *opts,
                           bool *replaced)
{
    assert(t);
    assert(opts);
    assert(replaced);
    *replaced = false;
    struct node *n = node_walk(t, filter, flen, true);
    if (!n)
        return WD_ENOMEM;
    if (group && glen > 0) {
        if (group_join(n, group, glen, owner, opts, replaced) != WD_OK) {
            prune(n);
            return WD_ENOMEM;
        }
    } else {
        struct sub *s = sub_find(n->subs, n->nsubs, owner);
        if (s) {
            s->opts = *opts;
            *replaced = true;
        } else if (array_reserve((void **)&n->subs, n->nsubs, &n->scap, sizeof *n->subs)) {
            n->subs[n->nsubs++] = (struct sub){owner, *opts};
        } else {
            prune(n);
            return WD_ENOMEM;
        }
    }
    if (!*replaced)
        t->count++;
    return WD_OK;
}

/* Remove member i of group gr, keeping the turn with the member that had it. */
static void group_leave(struct group *gr, uint32_t i)
{
    memmove(&gr->mem[i], &gr->mem[i + 1], (gr->nmem - i - 1) * sizeof *gr->mem);
    gr->nmem--;
    if (i < gr->cursor)
        gr->cursor--;
    if (gr->cursor >= gr->nmem)
        gr->cursor = 0;
}

enum wd_err tree_unsubscribe(struct tree *t, const char *filter, size_t flen, const char *group,
                             size_t glen, void *owner)
{
    assert(t);
    struct node *n = node_walk(t, filter, flen, false);
    if (!n)
        return WD_ENOTFOUND;
    if (group && glen > 0) {
        struct group *gr = group_find(n, group, glen);
        struct sub *m = gr ? sub_find(gr->mem, gr->nmem, owner) : NULL;
        if (!m)
            return WD_ENOTFOUND;
        group_leave(gr, (uint32_t)(m - gr->mem));
        if (gr->nmem == 0) {
            uint32_t gi = 0;
            while (n->groups[gi] != gr)
                gi++;
            n->groups[gi] = n->groups[--n->ngroups];
            wd_free(gr->mem);
            wd_free(gr);
            if (n->ngroups == 0) {
                wd_free(n->groups);
                n->groups = NULL;
                n->gcap = 0;
            }
        }
    } else {
        struct sub *s = sub_find(n->subs, n->nsubs, owner);
        if (!s)
            return WD_ENOTFOUND;
        *s = n->subs[--n->nsubs];
        if (n->nsubs == 0) {
            wd_free(n->subs);
            n->subs = NULL;
            n->scap = 0;
        }
    }
    t->count--;
    prune(n);
    return WD_OK;
}

/* Report n's ordinary subscribers and one member of each shared group. */
static void report(struct node *n, tree_eligible_fn eligible, tree_match_fn fn, void *ctx)
{
    for (uint32_t i = 0; i < n->nsubs; i++)
        fn(ctx, n->subs[i].owner, &n->subs[i].opts, false);
    for (uint32_t g = 0; g < n->ngroups; g++) {
        struct group *gr = n->groups[g];
        uint32_t pick = gr->cursor;
        if (eligible) {
            for (uint32_t k = 0; k < gr->nmem; k++) {
                uint32_t i = gr->cursor + k;
                if (i >= gr->nmem)
                    i -= gr->nmem;
                if (eligible(gr->mem[i].owner)) {
                    pick = i;
                    break;
                }
            }
        }
        gr->cursor = pick + 1 < gr->nmem ? pick + 1 : 0;
        fn(ctx, gr->mem[pick].owner, &gr->mem[pick].opts, true);
    }
}

/*
 * Depth-first over the nodes whose path matches the topic, exact child before
 * '+' child. State is (n, p): n has matched the levels before position p of
 * the topic; p == tlen + 1 means every level is matched. Climbing back to
 * the parent recovers the parent's p by scanning back over one level, so no
 * stack is needed.
 */
void tree_match(struct tree *t, const char *topic, size_t tlen, tree_eligible_fn eligible,
                tree_match_fn fn, void *ctx)
{
    assert(t);
    assert(fn);
    struct node *root = t->root, *n = root, *c;
    bool dollar = tlen > 0 && topic[0] == '$'; /* [MQTT-4.7.2-1], first level only */
    size_t p = 0, e;
    uint32_t h;

enter:
    if (p > tlen) {
        report(n, eligible, fn, ctx);
        if (n->multi)
            report(n->multi, eligible, fn, ctx); /* "a/#" matches "a" */
        goto climb;
    }
    if (n->multi && !(dollar && n == root))
        report(n->multi, eligible, fn, ctx);
    e = level_scan(topic, tlen, p, &h);
    if (n->nkids && (c = kid_find(n, topic + p, e - p, h)) != NULL) {
        n = c;
        p = e + 1;
        goto enter;
    }
try_single:
    if (n->single && !(dollar && n == root)) {
        n = n->single;
        p = e + 1;
        goto enter;
    }
climb:
    if (n == root)
        return;
    c = n;
    n = n->parent;
    e = p - 1;
    p = level_back(topic, e);
    if (c != n->single)
        goto try_single;
    goto climb;
}

size_t tree_count(const struct tree *t)
{
    return t->count;
}
