/*
 * test_acl.c - rule evaluation from tables: filter containment and overlap,
 * substitutions (hostile values too), the '$' rules, QoS and retain limits,
 * first match in order, and no match (the caller's default deny).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "acl.h"
#include "mem.h"

#define S(x) x, sizeof(x) - 1

static void test_covers(void **state)
{
    (void)state;
    static const struct {
        const char *r, *f;
        bool want;
    } rows[] = {
        {"sensors/#", "sensors/+/temp", true},
        {"sensors/+/temp", "sensors/#", false},
        {"sensors/#", "sensors", true},
        {"sensors/#", "sensors/#", true},
        {"sensors/+", "sensors/a", true},
        {"sensors/+", "sensors/+", true},
        {"sensors/+", "sensors/#", false},
        {"sensors/+", "sensors/a/b", false},
        {"sensors/a", "sensors/+", false},
        {"sensors/a", "sensors/a", true},
        {"sensors/a", "sensors/b", false},
        {"a", "a/b", false},
        {"a/b", "a", false},
        {"#", "a/b/c", true},
        {"#", "#", true},
        {"#", "+/x", true},
        {"#", "$SYS/broker", false},
        {"#", "$SYS/#", false},
        {"+/broker", "$SYS/broker", false},
        {"$SYS/#", "$SYS/broker/uptime", true},
        {"$SYS/#", "$SYS/#", true},
        {"+/#", "+/+", true},
        {"a/+/c", "a/b/c", true},
        {"a/+/c", "a/+/c", true},
        {"a/+/c", "a/+/+", false},
        {"a//b", "a//b", true},
        {"a/+/b", "a//b", true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool got = acl_covers(rows[i].r, strlen(rows[i].r), rows[i].f, strlen(rows[i].f));
        if (got != rows[i].want)
            fail_msg("covers(%s, %s): want %d got %d", rows[i].r, rows[i].f, rows[i].want, got);
    }
}

static void test_overlaps(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        bool want;
    } rows[] = {
        {"a/b", "a/b", true},
        {"a/b", "a/c", false},
        {"a/+", "a/b", true},
        {"a/#", "a", true},
        {"a", "a/#", true},
        {"a", "a/+", false},
        {"a/+/c", "a/b/+", true},
        {"a/+/c", "a/b/d", false},
        {"#", "$SYS/x", false},
        {"+/x", "$SYS/x", false},
        {"#", "+", true},
        {"$SYS/#", "$SYS/x", true},
        {"secret/#", "#", true},
        {"secret/#", "public/#", false},
        {"x/y/z", "x/#", true},
        {"x/y", "x/y/z", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool got = acl_overlaps(rows[i].a, strlen(rows[i].a), rows[i].b, strlen(rows[i].b));
        bool rev = acl_overlaps(rows[i].b, strlen(rows[i].b), rows[i].a, strlen(rows[i].a));
        if (got != rows[i].want || rev != rows[i].want)
            fail_msg("overlaps(%s, %s): want %d got %d/%d", rows[i].a, rows[i].b, rows[i].want,
                     got, rev);
    }
}

static void test_substitute(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *user, *cid, *cn, *want; /* want NULL: the rule cannot match */
    } rows[] = {
        {"devices/%c/#", "u", "dev1", NULL, "devices/dev1/#"},
        {"users/%u/in", "alice", "c", NULL, "users/alice/in"},
        {"certs/%cn", "u", "c", "client1", "certs/client1"},
        {"%u/%c/%cn", "a", "b", "c", "a/b/c"},
        {"devices/%c/#", "u", "dev/1", NULL, NULL},
        {"devices/%c/#", "u", "+", NULL, NULL},
        {"devices/%c/#", "u", "#", NULL, NULL},
        {"users/%u", NULL, "c", NULL, NULL},
        {"users/%u", "", "c", NULL, NULL},
        {"certs/%cn", "u", "c", NULL, NULL},
        {"plain/topic", NULL, NULL, NULL, "plain/topic"},
        {"100%", NULL, NULL, NULL, "100%"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct acl_subject who = {rows[i].user, rows[i].cid, rows[i].cn};
        char out[128];
        size_t len = 0;
        bool ok = acl_substitute(rows[i].pattern, &who, out, sizeof out, &len);
        if (ok != (rows[i].want != NULL) || (ok && strcmp(out, rows[i].want) != 0))
            fail_msg("substitute(%s): want %s got %s", rows[i].pattern,
                     rows[i].want ? rows[i].want : "(no match)", ok ? out : "(no match)");
    }
    char small[4];
    size_t len;
    struct acl_subject who = {"alice", NULL, NULL};
    assert_false(acl_substitute("%u/x", &who, small, sizeof small, &len));
}

#define ALLOW(act, f, q, ret) {RULE_ALLOW, act, q, ret, (char *)f}
#define DENY(act, f) {RULE_DENY, act, 2, true, (char *)f}

static void test_eval(void **state)
{
    (void)state;
    static const struct rule user_rules[] = {
        DENY(RULE_ALL, "devices/%c/secret"),
        ALLOW(RULE_ALL, "devices/%c/#", 1, false),
    };
    static const struct rule role_rules[] = {
        ALLOW(RULE_SUBSCRIBE | RULE_RECEIVE, "sensors/#", 2, true),
        DENY(RULE_SUBSCRIBE | RULE_RECEIVE, "sensors/private/#"),
        ALLOW(RULE_PUBLISH, "cmd/+", 2, true),
        ALLOW(RULE_SUBSCRIBE | RULE_RECEIVE, "$SYS/broker/uptime", 0, true),
    };
    static const struct rule default_rules[] = {
        DENY(RULE_ALL, "#"),
    };
    const struct acl_list lists[] = {
        {"user alice", user_rules, 2},
        {"role ops", role_rules, 4},
        {"role default", default_rules, 1},
    };
    struct acl_subject who = {"alice", "dev1", NULL};
    static const struct {
        unsigned action;
        const char *topic;
        uint8_t qos;
        bool retain;
        enum acl_result want;
        uint8_t granted;
        size_t list, rule;
    } rows[] = {
        {RULE_PUBLISH, "devices/dev1/temp", 1, false, ACL_ALLOW, 1, 0, 1},
        {RULE_PUBLISH, "devices/dev1/temp", 2, false, ACL_DENY, 0, 0, 1},   /* above max QoS */
        {RULE_PUBLISH, "devices/dev1/temp", 0, true, ACL_DENY, 0, 0, 1},    /* retain refused */
        {RULE_PUBLISH, "devices/dev1/secret", 0, false, ACL_DENY, 0, 0, 0}, /* first match */
        {RULE_PUBLISH, "devices/dev2/temp", 0, false, ACL_DENY, 0, 2, 0},   /* not %c */
        {RULE_SUBSCRIBE, "devices/dev1/#", 2, false, ACL_DENY, 0, 0, 0},    /* overlaps deny */
        {RULE_SUBSCRIBE, "devices/dev1/+", 2, false, ACL_DENY, 0, 0, 0},
        {RULE_SUBSCRIBE, "devices/dev1/a/+", 2, false, ACL_ALLOW, 1, 0, 1}, /* granted 1 */
        {RULE_SUBSCRIBE, "sensors/+/temp", 2, false, ACL_ALLOW, 2, 1, 0},
        {RULE_SUBSCRIBE, "sensors/private/x", 1, false, ACL_ALLOW, 1, 1, 0}, /* allow first */
        {RULE_SUBSCRIBE, "#", 0, false, ACL_DENY, 0, 0, 0}, /* meets the first deny */
        {RULE_RECEIVE, "sensors/private/x", 0, false, ACL_ALLOW, 0, 1, 0},
        {RULE_PUBLISH, "cmd/reboot", 2, true, ACL_ALLOW, 2, 1, 2},
        {RULE_PUBLISH, "cmd/reboot/now", 0, false, ACL_DENY, 0, 2, 0},
        {RULE_SUBSCRIBE, "$SYS/broker/uptime", 1, false, ACL_ALLOW, 0, 1, 3},
        {RULE_SUBSCRIBE, "$SYS/#", 0, false, ACL_NO_MATCH, 0, 0, 0}, /* '#' deny: not '$' */
        {RULE_RECEIVE, "$SYS/broker/load", 0, false, ACL_NO_MATCH, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t granted = 99;
        struct acl_why why;
        memset(&why, 0, sizeof why);
        enum acl_result got = acl_eval(lists, 3, &who, rows[i].action, rows[i].topic,
                                       strlen(rows[i].topic), rows[i].qos, rows[i].retain,
                                       &granted, &why);
        if (got != rows[i].want)
            fail_msg("row %zu %s: want %d got %d", i, rows[i].topic, rows[i].want, got);
        if (got == ACL_ALLOW && granted != rows[i].granted)
            fail_msg("row %zu %s: granted %u", i, rows[i].topic, granted);
        if (got != ACL_NO_MATCH && (why.list != rows[i].list || why.rule != rows[i].rule))
            fail_msg("row %zu %s: decided by %zu/%zu", i, rows[i].topic, why.list, why.rule);
    }
    /* The substituted filter is reported. */
    struct acl_why why;
    acl_eval(lists, 3, &who, RULE_PUBLISH, S("devices/dev1/x"), 0, false, NULL, &why);
    assert_string_equal(why.filter, "devices/dev1/#");
    /* No lists at all: no match, which callers treat as deny. */
    assert_int_equal(acl_eval(NULL, 0, &who, RULE_PUBLISH, S("a"), 0, false, NULL, NULL),
                     ACL_NO_MATCH);
}

/* A token's scope intersected with the subject's rules: narrows, never widens. */
static void test_scoped(void **state)
{
    (void)state;
    static const struct rule user_rules[] = {
        ALLOW(RULE_ALL, "plant/#", 1, true),
        DENY(RULE_ALL, "#"),
    };
    static const struct rule scope_rules[] = { /* mqtt:rw:plant/line1/# mqtt:sub:u/%u/# */
        ALLOW(RULE_ALL, "plant/line1/#", 2, true),
        ALLOW(RULE_SUBSCRIBE | RULE_RECEIVE, "u/%u/#", 2, true),
    };
    const struct acl_list lists[] = {{"user bob", user_rules, 2}};
    const struct acl_list scope = {"token scope", scope_rules, 2};
    const struct acl_list empty = {"token scope", NULL, 0};
    struct acl_subject who = {"bob", "dev1", NULL};
    static const struct {
        unsigned action;
        const char *topic;
        uint8_t qos;
        bool scope_only;
        enum acl_result want;
        uint8_t granted;
    } rows[] = {
        {RULE_PUBLISH, "plant/line1/temp", 1, false, ACL_ALLOW, 1},   /* both allow */
        {RULE_PUBLISH, "plant/line1/temp", 2, false, ACL_DENY, 0},    /* rules cap QoS 1 */
        {RULE_PUBLISH, "plant/line2/temp", 0, false, ACL_DENY, 0},    /* rules yes, scope no */
        {RULE_PUBLISH, "office/x", 0, false, ACL_DENY, 0},            /* neither */
        {RULE_SUBSCRIBE, "plant/line1/+", 2, false, ACL_ALLOW, 1},    /* lower of the grants */
        {RULE_SUBSCRIBE, "plant/#", 0, false, ACL_DENY, 0},           /* scope does not cover */
        {RULE_SUBSCRIBE, "u/bob/#", 0, false, ACL_DENY, 0},           /* scope yes, rules no */
        {RULE_SUBSCRIBE, "u/bob/#", 2, true, ACL_ALLOW, 2},           /* unknown subject */
        {RULE_PUBLISH, "u/bob/x", 0, true, ACL_DENY, 0},              /* sub only */
        {RULE_SUBSCRIBE, "u/eve/#", 0, true, ACL_DENY, 0},            /* %u is bob */
        {RULE_PUBLISH, "plant/line1/x", 2, true, ACL_ALLOW, 2},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t granted = 99;
        enum acl_result got = acl_eval_scoped(&scope, rows[i].scope_only, lists, 1, &who,
                                              rows[i].action, rows[i].topic,
                                              strlen(rows[i].topic), rows[i].qos, false, &granted);
        if (got != rows[i].want)
            fail_msg("row %zu %s: want %d got %d", i, rows[i].topic, rows[i].want, got);
        if (got == ACL_ALLOW && granted != rows[i].granted)
            fail_msg("row %zu %s: granted %u", i, rows[i].topic, granted);
    }
    /* An empty scope grants nothing, whatever the rules say. */
    assert_int_equal(acl_eval_scoped(&empty, false, lists, 1, &who, RULE_PUBLISH,
                                     S("plant/a"), 0, false, NULL), ACL_DENY);
    assert_int_equal(acl_eval_scoped(&empty, true, NULL, 0, &who, RULE_SUBSCRIBE, S("a"), 0,
                                     false, NULL), ACL_DENY);
}

/* The verdict cache: hits, keys kept apart, full-topic compare, bounded, cleared. */
static void test_cache(void **state)
{
    (void)state;
    size_t base = mem_in_use();
    struct acl_cache *c = acl_cache_new();
    assert_non_null(c);
    assert_int_equal(acl_cache_get(c, RULE_PUBLISH, S("a/b"), 1, false), -1);
    acl_cache_put(c, RULE_PUBLISH, S("a/b"), 1, false, true);
    acl_cache_put(c, RULE_PUBLISH, S("a/b"), 2, false, false);
    acl_cache_put(c, RULE_PUBLISH, S("a/b"), 1, true, false);
    acl_cache_put(c, RULE_RECEIVE, S("a/b"), 0, false, false);
    assert_int_equal(acl_cache_get(c, RULE_PUBLISH, S("a/b"), 1, false), 1);
    assert_int_equal(acl_cache_get(c, RULE_PUBLISH, S("a/b"), 2, false), 0);
    assert_int_equal(acl_cache_get(c, RULE_PUBLISH, S("a/b"), 1, true), 0);
    assert_int_equal(acl_cache_get(c, RULE_RECEIVE, S("a/b"), 0, false), 0);
    assert_int_equal(acl_cache_get(c, RULE_PUBLISH, S("a/bc"), 1, false), -1);
    assert_int_equal(acl_cache_get(c, RULE_PUBLISH, "a/b", 2, 1, false), -1); /* prefix */
    /* A verdict is replaced in place. */
    acl_cache_put(c, RULE_PUBLISH, S("a/b"), 1, false, false);
    assert_int_equal(acl_cache_get(c, RULE_PUBLISH, S("a/b"), 1, false), 0);
    /* Many topics: never more than the slots, and every hit is the right topic's verdict. */
    char t[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(t, sizeof t, "dev/%d/x", i);
        acl_cache_put(c, RULE_PUBLISH, t, (size_t)n, 0, false, i % 3 == 0);
    }
    size_t cached = 0;
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(t, sizeof t, "dev/%d/x", i);
        int v = acl_cache_get(c, RULE_PUBLISH, t, (size_t)n, 0, false);
        if (v >= 0) {
            cached++;
            assert_int_equal(v, i % 3 == 0);
        }
    }
    assert_true(cached > 0 && cached <= ACL_CACHE_SLOTS);
    /* Too long to cache: skipped. */
    char longt[ACL_CACHE_TOPIC_MAX + 2];
    memset(longt, 'x', sizeof longt);
    acl_cache_put(c, RULE_PUBLISH, longt, sizeof longt, 0, false, true);
    assert_int_equal(acl_cache_get(c, RULE_PUBLISH, longt, sizeof longt, 0, false), -1);
    acl_cache_clear(c);
    assert_int_equal(acl_cache_get(c, RULE_RECEIVE, S("a/b"), 0, false), -1);
    assert_true(c->hits > 0 && c->misses > 0);
    acl_cache_free(c);
    acl_cache_free(NULL);
    assert_int_equal(mem_in_use(), base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_covers),
        cmocka_unit_test(test_overlaps),
        cmocka_unit_test(test_substitute),
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_scoped),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
