/*
 * test_topic.c - unit tests for topic.c (rules), tree.c (subscriptions) and rtree.c (retained).
 *
 * Tables hold one case per row and every failing row is printed before the
 * test fails. The trees are cross-checked against topic_match() on seeded
 * random data, and rebuilt under fault injection (every allocation failing
 * once) to show that ENOMEM leaves them consistent and leak-free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "mem.h"
#include "rtree.h"
#include "topic.h"
#include "tree.h"

#define S(lit) (lit), (sizeof(lit) - 1)
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- topic.c: validation ---------------------------------------------------------------- */

struct valid_row {
    const char *s;
    bool ok;
};

static const struct valid_row names[] = {
    {"a", true},          {"a/b/c", true},       {"/", true},        {"a//b", true},
    {"/a/", true},        {"$SYS/broker", true}, {" ", true},        {"a b/c", true},
    {"", false},          {"+", false},          {"#", false},       {"a/+", false},
    {"a/#", false},       {"a+", false},         {"a#b", false},     {"sport/tennis+", false},
};

static const struct valid_row filters[] = {
    {"#", true},          {"+", true},           {"+/+", true},      {"/", true},
    {"a//b", true},       {"a/#", true},         {"a/+/c", true},    {"+/tennis/#", true},
    {"/+", true},         {"+/", true},          {"$SYS/#", true},   {"//#", true},
    {"sport/tennis/player1", true},
    {"", false},          {"a/#/c", false},      {"a#", false},      {"a/b+", false},
    {"sport+", false},    {"#/", false},         {"##", false},      {"++", false},
    {"a/+b", false},      {"a/b#", false},       {"+a", false},      {"#/a", false},
};

static void test_validate_name(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < COUNT(names); i++) {
        bool ok = topic_validate_name(names[i].s, strlen(names[i].s)) == WD_OK;
        if (ok != names[i].ok) {
            print_error("name \"%s\": want %s\n", names[i].s, names[i].ok ? "valid" : "invalid");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_validate_filter(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < COUNT(filters); i++) {
        bool ok = topic_validate_filter(filters[i].s, strlen(filters[i].s)) == WD_OK;
        if (ok != filters[i].ok) {
            print_error("filter \"%s\": want %s\n", filters[i].s,
                        filters[i].ok ? "valid" : "invalid");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

struct shared_row {
    const char *s;
    enum wd_err rc;
    bool shared;
    const char *group;  /* expected when shared */
    const char *filter; /* expected view when rc == WD_OK */
};

static const struct shared_row shared_rows[] = {
    {"a/b", WD_OK, false, NULL, "a/b"},
    {"$share", WD_OK, false, NULL, "$share"},           /* no '/': an ordinary filter */
    {"$shared/g/a", WD_OK, false, NULL, "$shared/g/a"},
    {"$SHARE/g/a", WD_OK, false, NULL, "$SHARE/g/a"},   /* case matters */
    {"$share/g/a/b", WD_OK, true, "g", "a/b"},
    {"$share/grp/#", WD_OK, true, "grp", "#"},
    {"$share/g/+/x", WD_OK, true, "g", "+/x"},
    {"$share/g//", WD_OK, true, "g", "/"},
    {"$share/g/$SYS/#", WD_OK, true, "g", "$SYS/#"},
    {"$share/g", WD_ETOPIC, false, NULL, NULL},         /* no '/' after the group */
    {"$share/", WD_ETOPIC, false, NULL, NULL},
    {"$share//a", WD_ETOPIC, false, NULL, NULL},        /* empty group */
    {"$share/g/", WD_ETOPIC, false, NULL, NULL},        /* empty filter */
    {"$share/g+/a", WD_ETOPIC, false, NULL, NULL},
    {"$share/+/a", WD_ETOPIC, false, NULL, NULL},
    {"$share/#/a", WD_ETOPIC, false, NULL, NULL},
    {"$share/g#x/a", WD_ETOPIC, false, NULL, NULL},
    {"$share/g/a/#/b", WD_ETOPIC, false, NULL, NULL},   /* invalid FILTER */
    {"a/#/b", WD_ETOPIC, false, NULL, NULL},            /* invalid ordinary filter */
    {"", WD_ETOPIC, false, NULL, NULL},
};

static bool view_is(const char *p, size_t len, const char *want)
{
    return want && len == strlen(want) && memcmp(p, want, len) == 0;
}

static void test_parse_shared(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < COUNT(shared_rows); i++) {
        const struct shared_row *r = &shared_rows[i];
        bool shared = !r->shared;
        const char *g = NULL, *f = NULL;
        size_t gl = 0, fl = 0;
        enum wd_err rc = topic_parse_shared(r->s, strlen(r->s), &shared, &g, &gl, &f, &fl);
        bool ok = rc == r->rc;
        if (ok && rc == WD_OK) {
            ok = shared == r->shared && view_is(f, fl, r->filter) &&
                 (!r->shared || view_is(g, gl, r->group));
        }
        if (!ok) {
            print_error("parse_shared \"%s\": got %s shared=%d group=%.*s filter=%.*s\n", r->s,
                        wd_errname(rc), shared, (int)gl, g ? g : "", (int)fl, f ? f : "");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_levels_wildcard(void **state)
{
    (void)state;
    assert_int_equal(topic_levels(S("a")), 1);
    assert_int_equal(topic_levels(S("/")), 2);
    assert_int_equal(topic_levels(S("a/b/c")), 3);
    assert_int_equal(topic_levels(S("a//")), 3);
    assert_int_equal(topic_levels("", 0), 1);
    assert_true(topic_has_wildcard(S("a/+")));
    assert_true(topic_has_wildcard(S("#")));
    assert_false(topic_has_wildcard(S("a/b")));
    assert_false(topic_has_wildcard("", 0));
}

/* ---- topic.c: matching ------------------------------------------------------------------ */

struct match_row {
    const char *filter;
    const char *name;
    bool match;
};

static const struct match_row matches[] = {
    /* 4.7.1.2 multi-level wildcard */
    {"sport/tennis/player1/#", "sport/tennis/player1", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
    {"sport/#", "sport", true},
    {"sport/#", "sports", false},
    {"#", "sport/tennis", true},
    {"#", "/", true},
    /* 4.7.1.3 single-level wildcard */
    {"sport/tennis/+", "sport/tennis/player1", true},
    {"sport/tennis/+", "sport/tennis/player2", true},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
    {"sport/+", "sport", false},
    {"sport/+", "sport/", true},
    {"+", "sport", true},
    {"+/+", "/finance", true},
    {"/+", "/finance", true},
    {"+", "/finance", false},
    {"+/tennis/#", "sport/tennis", true},
    {"+/tennis/#", "sport/tennis/x/y", true},
    {"+/tennis/#", "sport/golf", false},
    /* 4.7.2 topics beginning with '$' [MQTT-4.7.2-1] */
    {"#", "$SYS/x", false},
    {"#", "$SYS", false},
    {"+", "$SYS", false},
    {"+/#", "$SYS/x", false},
    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
    {"$SYS/#", "$SYS/monitor/Clients", true},
    {"$SYS/#", "$SYS/x", true},
    {"$SYS/#", "$SYS", true},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
    {"$SYS/+", "$SYS/x", true},
    {"+/x", "$SYS/x", false},
    {"#", "a/$SYS", true},     /* '$' matters only in the first level */
    {"a/+", "a/$x", true},
    {"$", "$", true},
    {"+", "$", false},
    /* exact, empty levels, leading and trailing '/' */
    {"a/b", "a/b", true},
    {"a/b", "a/bc", false},
    {"a/bc", "a/b", false},
    {"a/b", "a", false},
    {"a", "a/b", false},
    {"a", "A", false},
    {"/", "/", true},
    {"/a", "a", false},
    {"a/", "a", false},
    {"a", "a/", false},
    {"a/", "a/", true},
    {"+/+", "/", true},
    {"/+", "/", true},
    {"+", "/", false},
    {"a//b", "a//b", true},
    {"a/+/b", "a//b", true},
    {"a/+", "a//b", false},
    {"a/#", "a//b", true},
    {"//#", "//", true},
    {"//#", "/", true},
    {"//#", "a", false},
    {"+/+/+", "//", true},
    {"#", "a", true},
    {"a/#", "a", true},
    {"a/#", "a/", true},
    {"a/#", "b", false},
    {"a/+/#", "a", false},
    {"a/+/#", "a/x", true},
};

static void test_match_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < COUNT(matches); i++) {
        const struct match_row *r = &matches[i];
        bool got = topic_match(r->filter, strlen(r->filter), r->name, strlen(r->name));
        if (got != r->match) {
            print_error("match(\"%s\", \"%s\"): want %s\n", r->filter, r->name,
                        r->match ? "match" : "no match");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* ---- tree.c ----------------------------------------------------------------------------- */

#define MAX_HITS 4096

struct hit {
    void *owner;
    uint32_t sub_id;
    uint8_t qos;
    bool shared;
};

struct hits {
    size_t n;
    struct hit h[MAX_HITS];
};

static void collect(void *ctx, void *owner, const struct tree_opts *opts, bool shared)
{
    struct hits *hs = ctx;
    assert_true(hs->n < MAX_HITS);
    hs->h[hs->n++] = (struct hit){owner, opts->sub_id, opts->qos, shared};
}

static size_t match_into(struct tree *t, const char *topic, tree_eligible_fn el, struct hits *hs)
{
    hs->n = 0;
    tree_match(t, topic, strlen(topic), el, collect, hs);
    return hs->n;
}

static struct tree_opts opts_id(uint32_t id)
{
    return (struct tree_opts){.qos = 1, .sub_id = id};
}

static int owners[64]; /* owner identities: &owners[i] */
#define OWNER(i) ((void *)&owners[i])

static void sub_ok(struct tree *t, const char *filter, const char *group, int owner, uint32_t id)
{
    bool replaced = true;
    struct tree_opts o = opts_id(id);
    assert_int_equal(tree_subscribe(t, filter, strlen(filter), group, group ? strlen(group) : 0,
                                    OWNER(owner), &o, &replaced),
                     WD_OK);
    assert_false(replaced);
}

/* Does hs hold exactly these sub_ids (any order, each once)? */
static bool hits_are(const struct hits *hs, const uint32_t *ids, size_t n)
{
    if (hs->n != n)
        return false;
    bool used[MAX_HITS] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < hs->n && (used[j] || hs->h[j].sub_id != ids[i]))
            j++;
        if (j == hs->n)
            return false;
        used[j] = true;
    }
    return true;
}

struct tree_row {
    const char *topic;
    uint32_t ids[8]; /* expected sub_ids, 0-terminated */
};

static int check_tree_rows(struct tree *t, const struct tree_row *rows, size_t n)
{
    static struct hits hs;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t want = 0;
        while (want < 8 && rows[i].ids[want])
            want++;
        match_into(t, rows[i].topic, NULL, &hs);
        if (!hits_are(&hs, rows[i].ids, want)) {
            print_error("tree_match \"%s\": got %zu hits:", rows[i].topic, hs.n);
            for (size_t j = 0; j < hs.n; j++)
                print_error(" %u", hs.h[j].sub_id);
            print_error(", want %zu\n", want);
            bad++;
        }
    }
    return bad;
}

static void test_tree_overlap(void **state)
{
    (void)state;
    size_t base = mem_in_use();
    struct tree *t = tree_new();
    assert_non_null(t);
    sub_ok(t, "a/b", NULL, 0, 1);
    sub_ok(t, "a/+", NULL, 0, 2);
    sub_ok(t, "a/#", NULL, 0, 3);
    sub_ok(t, "#", NULL, 0, 4);
    sub_ok(t, "+/b", NULL, 1, 5);
    sub_ok(t, "+/+", NULL, 1, 6);
    sub_ok(t, "a", NULL, 2, 7);
    sub_ok(t, "a/", NULL, 2, 8);
    sub_ok(t, "/", NULL, 2, 9);
    sub_ok(t, "a/b/c", NULL, 2, 10);
    sub_ok(t, "+", NULL, 2, 11);
    sub_ok(t, "+/#", NULL, 3, 12);
    assert_int_equal(tree_count(t), 12);
    static const struct tree_row rows[] = {
        {"a/b", {1, 2, 3, 4, 5, 6, 12}},  /* owner 0 four times: the caller merges */
        {"a", {3, 4, 7, 11, 12}},         /* "a/#" and "+/#" match the parent */
        {"a/", {2, 3, 4, 6, 8, 12}},      /* '+' matches the empty level */
        {"/", {4, 6, 9, 12}},
        {"a/b/c", {3, 4, 10, 12}},
        {"a/c", {2, 3, 4, 6, 12}},
        {"b", {4, 11, 12}},
        {"x/b/c", {4, 12}},
    };
    assert_int_equal(check_tree_rows(t, rows, COUNT(rows)), 0);
    tree_free(t);
    assert_int_equal(mem_in_use(), base);
}

static void test_tree_unsubscribe(void **state)
{
    (void)state;
    struct tree *t = tree_new();
    assert_non_null(t);
    size_t empty = mem_in_use();
    sub_ok(t, "a/b/c", NULL, 0, 1);
    sub_ok(t, "a/b/c", NULL, 1, 2);
    sub_ok(t, "a/+/c", NULL, 0, 3);
    sub_ok(t, "a/#", "g", 0, 4);
    assert_int_equal(tree_count(t), 4);
    assert_int_equal(tree_unsubscribe(t, S("a/b"), NULL, 0, OWNER(0)), WD_ENOTFOUND);
    assert_int_equal(tree_unsubscribe(t, S("a/b/c"), NULL, 0, OWNER(2)), WD_ENOTFOUND);
    assert_int_equal(tree_unsubscribe(t, S("a/#"), NULL, 0, OWNER(0)), WD_ENOTFOUND);
    assert_int_equal(tree_unsubscribe(t, S("a/#"), S("h"), OWNER(0)), WD_ENOTFOUND);
    assert_int_equal(tree_unsubscribe(t, S("x/y/z"), NULL, 0, OWNER(0)), WD_ENOTFOUND);
    assert_int_equal(tree_unsubscribe(t, S("a/b/c"), NULL, 0, OWNER(0)), WD_OK);
    assert_int_equal(tree_unsubscribe(t, S("a/b/c"), NULL, 0, OWNER(0)), WD_ENOTFOUND);
    static const struct tree_row rows1[] = {{"a/b/c", {2, 3, 4}}, {"a", {4}}};
    assert_int_equal(check_tree_rows(t, rows1, COUNT(rows1)), 0);
    assert_int_equal(tree_unsubscribe(t, S("a/#"), S("g"), OWNER(0)), WD_OK);
    assert_int_equal(tree_unsubscribe(t, S("a/+/c"), NULL, 0, OWNER(0)), WD_OK);
    static const struct tree_row rows2[] = {{"a/b/c", {2}}, {"a", {0}}, {"a/x/c", {0}}};
    assert_int_equal(check_tree_rows(t, rows2, COUNT(rows2)), 0);
    assert_int_equal(tree_unsubscribe(t, S("a/b/c"), NULL, 0, OWNER(1)), WD_OK);
    assert_int_equal(tree_count(t), 0);
    assert_int_equal(mem_in_use(), empty); /* every node pruned */
    tree_free(t);
    tree_free(NULL);
}

static void test_tree_replace(void **state)
{
    (void)state;
    struct tree *t = tree_new();
    static struct hits hs;
    bool replaced;
    assert_non_null(t);
    sub_ok(t, "a/+", NULL, 0, 1);
    struct tree_opts o = {.qos = 2, .no_local = true, .sub_id = 2};
    assert_int_equal(tree_subscribe(t, S("a/+"), NULL, 0, OWNER(0), &o, &replaced), WD_OK);
    assert_true(replaced);
    assert_int_equal(tree_count(t), 1);
    assert_int_equal(match_into(t, "a/x", NULL, &hs), 1);
    assert_int_equal(hs.h[0].sub_id, 2);
    assert_int_equal(hs.h[0].qos, 2);
    /* The same owner in a group on the same filter is a separate subscription. */
    assert_int_equal(tree_subscribe(t, S("a/+"), S("g"), OWNER(0), &o, &replaced), WD_OK);
    assert_false(replaced);
    o.qos = 0;
    o.sub_id = 3;
    assert_int_equal(tree_subscribe(t, S("a/+"), S("g"), OWNER(0), &o, &replaced), WD_OK);
    assert_true(replaced);
    assert_int_equal(tree_count(t), 2);
    assert_int_equal(match_into(t, "a/x", NULL, &hs), 2);
    uint32_t want[] = {2, 3};
    assert_true(hits_are(&hs, want, 2));
    /* group NULL with glen 0 and a non-NULL group with glen 0 are both ordinary */
    assert_int_equal(tree_subscribe(t, S("a/+"), "g", 0, OWNER(0), &o, &replaced), WD_OK);
    assert_true(replaced);
    tree_free(t);
}

static bool eligible_not_1(void *owner)
{
    return owner != OWNER(1);
}

static bool eligible_none(void *owner)
{
    (void)owner;
    return false;
}

static bool eligible_only_2(void *owner)
{
    return owner == OWNER(2);
}

/* Publish `rounds` times to topic; write the chosen shared owners as digits into out. */
static void shared_order(struct tree *t, const char *topic, tree_eligible_fn el, int rounds,
                         char *out)
{
    static struct hits hs;
    for (int i = 0; i < rounds; i++) {
        match_into(t, topic, el, &hs);
        assert_int_equal(hs.n, 1);
        assert_true(hs.h[0].shared);
        out[i] = (char)('0' + ((int *)hs.h[0].owner - owners));
    }
    out[rounds] = '\0';
}

static void test_tree_shared(void **state)
{
    (void)state;
    char order[32];
    struct tree *t = tree_new();
    assert_non_null(t);
    sub_ok(t, "s/#", "g", 0, 1);
    sub_ok(t, "s/#", "g", 1, 2);
    sub_ok(t, "s/#", "g", 2, 3);
    assert_int_equal(tree_count(t), 3);
    shared_order(t, "s/x", NULL, 7, order);
    assert_string_equal(order, "0120120");
    shared_order(t, "s", NULL, 2, order); /* '#' on the parent, same group and cursor */
    assert_string_equal(order, "12");
    shared_order(t, "s/y", eligible_not_1, 6, order);
    assert_string_equal(order, "020202");
    shared_order(t, "s/y", eligible_none, 4, order); /* nobody eligible: turns go on anyway */
    assert_string_equal(order, "0120");
    shared_order(t, "s/y", eligible_only_2, 3, order);
    assert_string_equal(order, "222");
    shared_order(t, "s/y", NULL, 3, order);
    assert_string_equal(order, "012");
    /* Leaving keeps the turn with the member that had it. */
    shared_order(t, "s/y", NULL, 1, order); /* next is 1 */
    assert_int_equal(tree_unsubscribe(t, S("s/#"), S("g"), OWNER(0)), WD_OK);
    shared_order(t, "s/y", NULL, 4, order);
    assert_string_equal(order, "1212");
    sub_ok(t, "s/#", "g", 3, 4);
    assert_int_equal(tree_unsubscribe(t, S("s/#"), S("g"), OWNER(2)), WD_OK);
    shared_order(t, "s/y", NULL, 4, order);
    assert_string_equal(order, "1313");
    /* Two groups and an ordinary subscriber on one filter: one member per group. */
    sub_ok(t, "s/#", "h", 5, 5);
    sub_ok(t, "s/#", NULL, 6, 6);
    static struct hits hs;
    assert_int_equal(match_into(t, "s/z", NULL, &hs), 3);
    int nshared = 0;
    for (size_t i = 0; i < hs.n; i++)
        nshared += hs.h[i].shared;
    assert_int_equal(nshared, 2);
    assert_int_equal(tree_count(t), 4);
    tree_free(t);
}

static void test_tree_dollar(void **state)
{
    (void)state;
    struct tree *t = tree_new();
    assert_non_null(t);
    sub_ok(t, "#", NULL, 0, 1);
    sub_ok(t, "+", NULL, 0, 2);
    sub_ok(t, "+/monitor/Clients", NULL, 0, 3);
    sub_ok(t, "$SYS/#", NULL, 0, 4);
    sub_ok(t, "$SYS/+", NULL, 0, 5);
    sub_ok(t, "$SYS/monitor/Clients", NULL, 0, 6);
    sub_ok(t, "+/#", "g", 1, 7);
    sub_ok(t, "a/+", NULL, 0, 8);
    static const struct tree_row rows[] = {
        {"$SYS/monitor/Clients", {4, 6}},
        {"$SYS/x", {4, 5}},
        {"$SYS", {4}},
        {"$x", {0}},
        {"a/monitor/Clients", {1, 3, 7}},
        {"a/$x", {1, 7, 8}},  /* '$' only counts in the first level */
        {"a", {1, 2, 7}},
    };
    assert_int_equal(check_tree_rows(t, rows, COUNT(rows)), 0);
    tree_free(t);
}

/* One node with thousands of children: hash-table growth and backward-shift deletion. */
static void test_tree_wide(void **state)
{
    (void)state;
    enum { N = 3000 };
    static struct hits hs;
    char f[32];
    struct tree *t = tree_new();
    assert_non_null(t);
    size_t empty = mem_in_use();
    for (uint32_t i = 0; i < N; i++) {
        snprintf(f, sizeof f, "w/%u", i);
        sub_ok(t, f, NULL, 0, i + 1);
    }
    assert_int_equal(tree_count(t), N);
    /* Remove in a scrambled order (7919 is prime, so i*7919 mod N is a permutation). */
    for (uint32_t k = 0; k < N; k++) {
        uint32_t i = (uint32_t)((k * 7919u) % N);
        snprintf(f, sizeof f, "w/%u", i);
        assert_int_equal(match_into(t, f, NULL, &hs), 1);
        assert_int_equal(hs.h[0].sub_id, i + 1);
        assert_int_equal(tree_unsubscribe(t, f, strlen(f), NULL, 0, OWNER(0)), WD_OK);
        assert_int_equal(match_into(t, f, NULL, &hs), 0);
        if (k % 97 == 0) { /* everything not yet removed is still found */
            for (uint32_t k2 = k + 1; k2 < N; k2++) {
                uint32_t j = (uint32_t)((k2 * 7919u) % N);
                snprintf(f, sizeof f, "w/%u", j);
                assert_int_equal(match_into(t, f, NULL, &hs), 1);
                assert_int_equal(hs.h[0].sub_id, j + 1);
            }
        }
    }
    assert_int_equal(tree_count(t), 0);
    assert_int_equal(mem_in_use(), empty);
    tree_free(t);
}

/* A topic of 30000 levels: the walks must not recurse. */
static void test_tree_deep(void **state)
{
    (void)state;
    enum { LEVELS = 30000 };
    static char topic[2 * LEVELS], filter[2 * LEVELS];
    static struct hits hs;
    for (int i = 0; i < LEVELS; i++) {
        topic[2 * i] = 'a';
        filter[2 * i] = i % 2 ? '+' : 'a';
        topic[2 * i + 1] = filter[2 * i + 1] = '/';
    }
    size_t len = 2 * LEVELS - 1;
    topic[len] = filter[len] = '\0';
    struct tree *t = tree_new();
    assert_non_null(t);
    sub_ok(t, filter, NULL, 0, 1);
    sub_ok(t, topic, NULL, 0, 2);
    filter[len - 1] = '#';
    sub_ok(t, filter, NULL, 0, 3);
    assert_int_equal(match_into(t, topic, NULL, &hs), 3);
    assert_int_equal(tree_unsubscribe(t, topic, len, NULL, 0, OWNER(0)), WD_OK);
    assert_int_equal(match_into(t, topic, NULL, &hs), 2);
    topic[len - 2] = '\0'; /* one level short: only "a/+/.../a/#" matches, on its parent */
    assert_int_equal(match_into(t, topic, NULL, &hs), 1);
    assert_int_equal(hs.h[0].sub_id, 3);
    tree_free(t); /* frees a 30000-node chain */
}

/* ---- randomized cross-checks against topic_match() ------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *const name_levels[] = {"a", "b", "", "$x", "$SYS", "abc", "b"};
static const char *const filter_levels[] = {"a", "b", "", "$x", "$SYS", "+", "+", "#"};

/* A random valid name (wild = false) or filter into buf. */
static size_t random_topic(char *buf, bool wild)
{
    size_t len;
    do {
        len = 0;
        uint32_t levels = 1 + rnd(4);
        for (uint32_t l = 0; l < levels; l++) {
            const char *lv = wild ? filter_levels[rnd(COUNT(filter_levels))]
                                  : name_levels[rnd(COUNT(name_levels))];
            if (lv[0] == '#' && l + 1 != levels)
                lv = "+";
            if (l)
                buf[len++] = '/';
            memcpy(buf + len, lv, strlen(lv));
            len += strlen(lv);
        }
        buf[len] = '\0';
    } while (wild ? topic_validate_filter(buf, len) != WD_OK
                  : topic_validate_name(buf, len) != WD_OK);
    return len;
}

struct msub {
    char filter[64];
    const char *group; /* NULL, "g1" or "g2" */
    int owner;
    uint32_t sub_id;
    bool live;
};

#define MODEL_MAX 400

struct model {
    struct msub s[MODEL_MAX];
    size_t n;
};

static struct msub *model_find(struct model *m, const char *filter, const char *group, int owner)
{
    for (size_t i = 0; i < m->n; i++) {
        struct msub *s = &m->s[i];
        if (s->live && s->owner == owner && strcmp(s->filter, filter) == 0 &&
            (s->group == group || (s->group && group && strcmp(s->group, group) == 0)))
            return s;
    }
    return NULL;
}

static size_t model_live(const struct model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += m->s[i].live;
    return n;
}

/*
 * Check tree_match(topic) against the model: every matching ordinary
 * subscription once, one member of every matching shared group, nothing else.
 */
static bool model_check(struct tree *t, const struct model *m, const char *topic)
{
    static struct hits hs;
    static int seen[MODEL_MAX];
    match_into(t, topic, NULL, &hs);
    memset(seen, 0, sizeof seen);
    for (size_t j = 0; j < hs.n; j++) {
        size_t i = 0;
        while (i < m->n && !(m->s[i].live && m->s[i].sub_id == hs.h[j].sub_id))
            i++;
        if (i == m->n || hs.h[j].owner != OWNER(m->s[i].owner) ||
            hs.h[j].shared != (m->s[i].group != NULL)) {
            print_error("\"%s\": unexpected hit sub_id %u\n", topic, hs.h[j].sub_id);
            return false;
        }
        seen[i]++;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct msub *s = &m->s[i];
        if (!s->live)
            continue;
        bool want = topic_match(s->filter, strlen(s->filter), topic, strlen(topic));
        int got = seen[i];
        if (s->group) { /* sum over the group's members on this filter */
            got = 0;
            for (size_t k = 0; k < m->n; k++)
                if (m->s[k].live && m->s[k].group && strcmp(m->s[k].group, s->group) == 0 &&
                    strcmp(m->s[k].filter, s->filter) == 0)
                    got += seen[k];
        }
        if (got != (want ? 1 : 0)) {
            print_error("\"%s\" vs \"%s\"%s%s owner %d: %d hits, topic_match says %d\n", topic,
                        s->filter, s->group ? " group " : "", s->group ? s->group : "",
                        s->owner, got, want);
            return false;
        }
    }
    return true;
}

static void test_tree_random(void **state)
{
    (void)state;
    static struct model m;
    static const char *const groups[] = {"g1", "g2"};
    char name[64];
    uint32_t next_id = 1;
    rng_state = 0x9e3779b97f4a7c15ull;
    memset(&m, 0, sizeof m);
    size_t base = mem_in_use();
    struct tree *t = tree_new();
    assert_non_null(t);
    for (int step = 0; step < 3000; step++) {
        size_t live = model_live(&m);
        if ((rnd(2) == 0 && live < 300) || live == 0) {
            struct msub s = {.owner = (int)rnd(6), .live = true, .sub_id = next_id++};
            random_topic(s.filter, true);
            s.group = rnd(4) == 0 ? groups[rnd(2)] : NULL;
            struct msub *old = model_find(&m, s.filter, s.group, s.owner);
            struct tree_opts o = opts_id(s.sub_id);
            bool replaced;
            assert_int_equal(tree_subscribe(t, s.filter, strlen(s.filter), s.group,
                                            s.group ? strlen(s.group) : 0, OWNER(s.owner), &o,
                                            &replaced),
                             WD_OK);
            assert_int_equal(replaced, old != NULL);
            if (old) {
                old->sub_id = s.sub_id;
            } else {
                size_t i = 0;
                while (i < m.n && m.s[i].live)
                    i++;
                assert_true(i < MODEL_MAX);
                m.s[i] = s;
                m.n += i == m.n;
            }
        } else {
            size_t i;
            do
                i = rnd((uint32_t)m.n);
            while (!m.s[i].live);
            struct msub *s = &m.s[i];
            assert_int_equal(tree_unsubscribe(t, s->filter, strlen(s->filter), s->group,
                                              s->group ? strlen(s->group) : 0, OWNER(s->owner)),
                             WD_OK);
            assert_int_equal(tree_unsubscribe(t, s->filter, strlen(s->filter), s->group,
                                              s->group ? strlen(s->group) : 0, OWNER(s->owner)),
                             WD_ENOTFOUND);
            s->live = false;
        }
        assert_int_equal(tree_count(t), model_live(&m));
        for (int k = 0; k < 4; k++) {
            random_topic(name, false);
            assert_true(model_check(t, &m, name));
        }
    }
    for (size_t i = 0; i < m.n; i++) {
        struct msub *s = &m.s[i];
        if (s->live)
            assert_int_equal(tree_unsubscribe(t, s->filter, strlen(s->filter), s->group,
                                              s->group ? strlen(s->group) : 0, OWNER(s->owner)),
                             WD_OK);
    }
    assert_int_equal(tree_count(t), 0);
    tree_free(t);
    assert_int_equal(mem_in_use(), base);
}

/* ---- rtree.c ---------------------------------------------------------------------------- */

static int values_live; /* values allocated by new_value() and not yet freed */

/* Setup for rtree tests: a failed test must not leave its count to the next one. */
static int reset_values(void **state)
{
    (void)state;
    values_live = 0;
    return 0;
}

static void *new_value(uint32_t id)
{
    uint32_t *v = wd_malloc(sizeof *v);
    assert_non_null(v);
    *v = id;
    values_live++;
    return v;
}

static void free_value(void *v)
{
    values_live--;
    wd_free(v);
}

#define MAX_SEEN 512

struct seen {
    size_t n;
    char topic[MAX_SEEN][64];
    uint32_t id[MAX_SEEN];
};

static void seen_add(void *ctx, const char *topic, size_t tlen, void *value)
{
    struct seen *s = ctx;
    assert_true(s->n < MAX_SEEN);
    assert_true(tlen < 64);
    memcpy(s->topic[s->n], topic, tlen);
    s->topic[s->n][tlen] = '\0';
    s->id[s->n++] = *(uint32_t *)value;
}

static bool seen_has(const struct seen *s, const char *topic)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->topic[i], topic) == 0)
            return true;
    return false;
}

static void set_ok(struct rtree *t, const char *topic, uint32_t id)
{
    assert_int_equal(rtree_set(t, topic, strlen(topic), id ? new_value(id) : NULL), WD_OK);
}

struct rmatch_row {
    const char *filter;
    const char *want; /* stored topics expected, separated by spaces; "" = none */
};

static void test_rtree_basic(void **state)
{
    (void)state;
    static struct seen s;
    size_t base = mem_in_use();
    struct rtree *t = rtree_new(free_value);
    assert_non_null(t);
    size_t empty = mem_in_use();
    set_ok(t, "a/b", 1);
    set_ok(t, "a", 2);
    set_ok(t, "a/b/c", 3);
    set_ok(t, "/", 4);
    set_ok(t, "a/", 5);
    set_ok(t, "$SYS/x", 6);
    set_ok(t, "$SYS", 7);
    set_ok(t, "b/$x", 8);
    assert_int_equal(rtree_count(t), 8);
    assert_int_equal(*(uint32_t *)rtree_get(t, S("a/b")), 1);
    assert_null(rtree_get(t, S("a/b/c/d")));
    assert_null(rtree_get(t, S("a/c")));
    set_ok(t, "a/b", 11); /* replace: the old value goes to free_value */
    assert_int_equal(values_live, 8);
    assert_int_equal(*(uint32_t *)rtree_get(t, S("a/b")), 11);
    set_ok(t, "x/y/z", 12);
    set_ok(t, "x/y/z", 0); /* remove: the whole x/y branch is pruned */
    set_ok(t, "nothing/here", 0);
    assert_int_equal(rtree_count(t), 8);
    assert_null(rtree_get(t, S("x/y/z")));

    static const struct rmatch_row rows[] = {
        {"#", "a/b a a/b/c / a/ b/$x"},
        {"+", "a"},
        {"a/#", "a a/b a/b/c a/"},
        {"a/+", "a/b a/"},
        {"+/+", "a/b / a/ b/$x"},
        {"+/#", "a/b a a/b/c / a/ b/$x"},
        {"$SYS/#", "$SYS/x $SYS"},
        {"$SYS/+", "$SYS/x"},
        {"$SYS", "$SYS"},
        {"+/x", ""},
        {"/", "/"},
        {"/+", "/"},
        {"a/b/c/#", "a/b/c"},
        {"a/b/c/+", ""},
        {"b/+", "b/$x"},
        {"q/#", ""},
        {"+/+/+", "a/b/c"},
    };
    int bad = 0;
    for (size_t i = 0; i < COUNT(rows); i++) {
        s.n = 0;
        rtree_match(t, rows[i].filter, strlen(rows[i].filter), seen_add, &s);
        size_t want = 0;
        char w[128];
        snprintf(w, sizeof w, "%s", rows[i].want);
        bool ok = true;
        for (char *tok = strtok(w, " "); tok; tok = strtok(NULL, " ")) {
            want++;
            ok = ok && seen_has(&s, tok);
        }
        if (!ok || want != s.n) {
            print_error("rtree_match \"%s\": got %zu topics, want \"%s\"\n", rows[i].filter, s.n,
                        rows[i].want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    s.n = 0;
    rtree_each(t, seen_add, &s);
    assert_int_equal(s.n, 8);
    assert_true(seen_has(&s, "$SYS/x"));

    /* Removing everything prunes every node. */
    static const char *const all[] = {"a/b", "a", "a/b/c", "/", "a/", "$SYS/x", "$SYS", "b/$x"};
    for (size_t i = 0; i < COUNT(all); i++)
        set_ok(t, all[i], 0);
    assert_int_equal(rtree_count(t), 0);
    assert_int_equal(values_live, 0);
    assert_int_equal(mem_in_use(), empty);
    set_ok(t, "left/for/free", 1);
    rtree_free(t);
    rtree_free(NULL);
    assert_int_equal(values_live, 0);
    assert_int_equal(mem_in_use(), base);
}

struct count_ctx {
    size_t n;
};

static void count_visit(void *ctx, const char *topic, size_t tlen, void *value)
{
    (void)topic;
    (void)tlen;
    (void)value;
    ((struct count_ctx *)ctx)->n++;
}

static void test_rtree_wide_deep(void **state)
{
    (void)state;
    enum { N = 2000, LEVELS = 30000 };
    static char deep[2 * LEVELS];
    static struct seen s;
    char f[32];
    struct rtree *t = rtree_new(free_value);
    assert_non_null(t);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(f, sizeof f, "w/%u", i);
        set_ok(t, f, i + 1);
    }
    s.n = 0;
    rtree_match(t, S("w/17"), seen_add, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.id[0], 18);
    for (uint32_t k = 0; k < N; k++) {
        uint32_t i = (uint32_t)((k * 7919u) % N);
        snprintf(f, sizeof f, "w/%u", i);
        assert_non_null(rtree_get(t, f, strlen(f)));
        if (k % 2)
            set_ok(t, f, 0);
    }
    assert_int_equal(rtree_count(t), N / 2);
    for (uint32_t k = 0; k < N; k++) {
        uint32_t i = (uint32_t)((k * 7919u) % N);
        snprintf(f, sizeof f, "w/%u", i);
        assert_true((rtree_get(t, f, strlen(f)) != NULL) == (k % 2 == 0));
    }
    for (int i = 0; i < LEVELS; i++) {
        deep[2 * i] = 'd';
        deep[2 * i + 1] = '/';
    }
    deep[2 * LEVELS - 1] = '\0';
    set_ok(t, deep, 7);
    deep[2 * LEVELS - 2] = '\0'; /* "d/d/.../" : one more empty level than stored */
    set_ok(t, deep, 8);
    struct count_ctx c = {0};
    rtree_match(t, S("d/#"), count_visit, &c);
    assert_int_equal(c.n, 2);
    c.n = 0;
    rtree_match(t, S("+/+"), count_visit, &c);
    assert_int_equal(c.n, N / 2); /* the deep topics have more levels */
    rtree_free(t);
    assert_int_equal(values_live, 0);
}

static void test_rtree_deep_match(void **state)
{
    (void)state;
    enum { LEVELS = 30000 };
    static char deep[2 * LEVELS], filter[2 * LEVELS];
    struct rtree *t = rtree_new(free_value);
    assert_non_null(t);
    for (int i = 0; i < LEVELS; i++) {
        deep[2 * i] = 'd';
        filter[2 * i] = i % 3 ? '+' : 'd';
        deep[2 * i + 1] = filter[2 * i + 1] = '/';
    }
    size_t len = 2 * LEVELS - 1;
    assert_int_equal(rtree_set(t, deep, len, new_value(1)), WD_OK);
    assert_int_equal(rtree_set(t, deep, len - 2, new_value(2)), WD_OK);
    struct count_ctx c = {0};
    rtree_match(t, S("#"), count_visit, &c);
    assert_int_equal(c.n, 2);
    c.n = 0;
    rtree_match(t, filter, len, count_visit, &c);
    assert_int_equal(c.n, 1);
    c.n = 0;
    filter[len - 3] = '#';
    rtree_match(t, filter, len - 2, count_visit, &c);
    assert_int_equal(c.n, 2);
    rtree_free(t);
    assert_int_equal(values_live, 0);
}

static void test_rtree_random(void **state)
{
    (void)state;
    enum { POOL = 120 };
    static char pool[POOL][64];
    static bool stored[POOL];
    static struct seen s;
    char filter[64];
    rng_state = 0x243f6a8885a308d3ull;
    memset(stored, 0, sizeof stored);
    for (int i = 0; i < POOL; i++)
        random_topic(pool[i], false);
    size_t base = mem_in_use();
    struct rtree *t = rtree_new(free_value);
    assert_non_null(t);
    for (int step = 0; step < 3000; step++) {
        uint32_t i = rnd(POOL);
        bool set = rnd(3) != 0;
        set_ok(t, pool[i], set ? i + 1 : 0);
        for (int j = 0; j < POOL; j++) /* the pool has duplicates: keep them in step */
            if (strcmp(pool[j], pool[i]) == 0)
                stored[j] = set;
        random_topic(filter, true);
        s.n = 0;
        rtree_match(t, filter, strlen(filter), seen_add, &s);
        size_t want = 0;
        for (int j = 0; j < POOL; j++) {
            bool dup = false;
            for (int k = 0; k < j && !dup; k++)
                dup = strcmp(pool[j], pool[k]) == 0;
            if (dup || !stored[j])
                continue;
            bool m = topic_match(filter, strlen(filter), pool[j], strlen(pool[j]));
            want += m;
            if (m != seen_has(&s, pool[j])) {
                print_error("rtree_match \"%s\" vs \"%s\": topic_match says %d\n", filter,
                            pool[j], m);
                fail();
            }
        }
        assert_int_equal(s.n, want);
    }
    rtree_free(t);
    assert_int_equal(values_live, 0);
    assert_int_equal(mem_in_use(), base);
}

/* ---- out of memory ---------------------------------------------------------------------- */

static const struct {
    const char *filter;
    const char *group;
    int owner;
} oom_seq[] = {
    {"a/b/c", NULL, 0}, {"a/b/c", NULL, 1}, {"a/+/c", NULL, 0}, {"a/#", "g", 0},
    {"a/#", "g", 1},    {"a/#", "h", 2},    {"#", NULL, 3},     {"+", NULL, 3},
    {"w/0", NULL, 0},   {"w/1", NULL, 0},   {"w/2", NULL, 0},   {"w/3", NULL, 0},
    {"w/4", NULL, 0},   {"w/5", NULL, 0},   {"w/6", NULL, 0},   {"w/7", NULL, 0},
    {"w/8", NULL, 0},   {"w/9", NULL, 0},   {"w/10", NULL, 0},  {"w/11", NULL, 0},
    {"a/b/c", NULL, 0}, {"a/#", "g", 1},    {"x/y/z/#", "g", 4}, {"x/y/z", NULL, 5},
};

/*
 * Fail allocation n (n = 1, 2, ...) during tree_new + the subscribe sequence.
 * Whatever fails, the tree must hold exactly the subscriptions that
 * succeeded, and unsubscribing them must give back every byte.
 */
static void test_tree_oom(void **state)
{
    (void)state;
    static struct model m;
    size_t base = mem_in_use();
    bool failed = true;
    unsigned long n;
    for (n = 1; failed; n++) {
        failed = false;
        memset(&m, 0, sizeof m);
        mem_fail_after(n);
        struct tree *t = tree_new();
        if (!t) {
            mem_fail_after(0);
            assert_int_equal(mem_in_use(), base);
            failed = true;
            continue;
        }
        size_t empty = mem_in_use();
        for (size_t i = 0; i < COUNT(oom_seq); i++) {
            const char *f = oom_seq[i].filter, *g = oom_seq[i].group;
            struct tree_opts o = opts_id((uint32_t)i + 1);
            bool replaced;
            size_t before = tree_count(t);
            enum wd_err rc = tree_subscribe(t, f, strlen(f), g, g ? strlen(g) : 0,
                                            OWNER(oom_seq[i].owner), &o, &replaced);
            if (rc == WD_ENOMEM) {
                failed = true;
                assert_int_equal(tree_count(t), before);
                continue;
            }
            assert_int_equal(rc, WD_OK);
            struct msub *old = model_find(&m, f, g, oom_seq[i].owner);
            assert_int_equal(replaced, old != NULL);
            if (old) {
                old->sub_id = o.sub_id;
            } else {
                struct msub *s = &m.s[m.n++];
                snprintf(s->filter, sizeof s->filter, "%s", f);
                s->group = g;
                s->owner = oom_seq[i].owner;
                s->sub_id = o.sub_id;
                s->live = true;
            }
        }
        mem_fail_after(0);
        assert_int_equal(tree_count(t), model_live(&m));
        static const char *const probes[] = {"a/b/c", "a/x/c", "a", "w/3", "w/11", "x/y/z",
                                             "q", "$SYS/x"};
        for (size_t i = 0; i < COUNT(probes); i++) {
            if (!model_check(t, &m, probes[i]))
                fail_msg("inconsistent tree after failing allocation %lu", n);
        }
        for (size_t i = 0; i < m.n; i++) {
            struct msub *s = &m.s[i];
            assert_int_equal(tree_unsubscribe(t, s->filter, strlen(s->filter), s->group,
                                              s->group ? strlen(s->group) : 0, OWNER(s->owner)),
                             WD_OK);
        }
        assert_int_equal(mem_in_use(), empty);
        tree_free(t);
        assert_int_equal(mem_in_use(), base);
    }
    assert_true(n > 20); /* the loop really went through the allocations */
}

/* The same for rtree: values are allocated before the fault window opens. */
static void test_rtree_oom(void **state)
{
    (void)state;
    static const char *const topics[] = {"a/b/c", "a/b", "a", "$SYS/x", "a/b/c", "/",
                                         "w/0",   "w/1", "w/2", "w/3", "w/4", "w/5",
                                         "w/6",   "w/7", "w/8", "w/9", "w/10", "z/z/z/z"};
    enum { N = COUNT(topics) };
    void *vals[N];
    uint32_t want[N];
    size_t base = mem_in_use();
    bool failed = true;
    unsigned long n;
    for (n = 1; failed; n++) {
        failed = false;
        memset(want, 0, sizeof want);
        for (size_t i = 0; i < N; i++)
            vals[i] = new_value((uint32_t)i + 1);
        mem_fail_after(n);
        struct rtree *t = rtree_new(free_value);
        if (!t) {
            mem_fail_after(0);
            for (size_t i = 0; i < N; i++)
                free_value(vals[i]);
            assert_int_equal(mem_in_use(), base);
            failed = true;
            continue;
        }
        size_t empty = mem_in_use() - N * sizeof(uint32_t); /* without the values */
        for (size_t i = 0; i < N; i++) {
            enum wd_err rc = rtree_set(t, topics[i], strlen(topics[i]), vals[i]);
            if (rc == WD_ENOMEM) {
                failed = true; /* vals[i] went to free_value */
                continue;
            }
            assert_int_equal(rc, WD_OK);
            for (size_t k = 0; k < i; k++)
                if (strcmp(topics[k], topics[i]) == 0)
                    want[k] = 0;
            want[i] = (uint32_t)i + 1;
        }
        mem_fail_after(0);
        size_t stored = 0;
        for (size_t i = 0; i < N; i++) {
            stored += want[i] != 0;
            uint32_t w = 0; /* the last successful set of this topic */
            for (size_t k = 0; k < N; k++)
                if (strcmp(topics[k], topics[i]) == 0 && want[k])
                    w = want[k];
            uint32_t *v = rtree_get(t, topics[i], strlen(topics[i]));
            if ((v ? *v : 0) != w)
                fail_msg("\"%s\" holds %u, want %u (allocation %lu failed)", topics[i],
                         v ? *v : 0, w, n);
        }
        assert_int_equal(rtree_count(t), stored);
        assert_int_equal((size_t)values_live, stored);
        struct count_ctx c = {0};
        rtree_match(t, S("#"), count_visit, &c);
        assert_int_equal(c.n, stored - (want[3] != 0)); /* "#" skips $SYS/x */
        for (size_t i = 0; i < N; i++)
            set_ok(t, topics[i], 0);
        assert_int_equal(values_live, 0);
        assert_int_equal(mem_in_use(), empty);
        rtree_free(t);
        assert_int_equal(mem_in_use(), base);
    }
    assert_true(n > 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_name),
        cmocka_unit_test(test_validate_filter),
        cmocka_unit_test(test_parse_shared),
        cmocka_unit_test(test_levels_wildcard),
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_tree_overlap),
        cmocka_unit_test(test_tree_unsubscribe),
        cmocka_unit_test(test_tree_replace),
        cmocka_unit_test(test_tree_shared),
        cmocka_unit_test(test_tree_dollar),
        cmocka_unit_test(test_tree_wide),
        cmocka_unit_test(test_tree_deep),
        cmocka_unit_test(test_tree_random),
        cmocka_unit_test_setup(test_rtree_basic, reset_values),
        cmocka_unit_test_setup(test_rtree_wide_deep, reset_values),
        cmocka_unit_test_setup(test_rtree_deep_match, reset_values),
        cmocka_unit_test_setup(test_rtree_random, reset_values),
        cmocka_unit_test(test_tree_oom),
        cmocka_unit_test_setup(test_rtree_oom, reset_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
