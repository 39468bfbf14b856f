/*
 * test_store.c - unit tests for store/: record encoding (pure) and the LMDB
 * store in a mkdtemp directory: every record type round trip, the
 * generation counter, all-or-nothing writes, permissions, map growth from a
 * tiny map, migration from schema 1, corrupt records, backup and verify.
 * Every test checks that mem_in_use() is back where it started.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../store/audit.h"
#include "../../store/bans.h"
#include "../../store/certs.h"
#include "../../store/bindings.h"
#include "../../store/importer.h"
#include "err.h"
#include "mem.h"
#include "../../store/record.h"
#include "../../store/roles.h"
#include "../../store/rules.h"
#include "../../store/schema.h"
#include "../../store/store.h"
#include "../../store/tokens.h"
#include "../../store/users.h"

static size_t mem_base;
static char dir[256];

static int setup(void **state)
{
    (void)state;
    mem_base = mem_in_use();
    snprintf(dir, sizeof dir, "/tmp/warden-test-store.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(mem_in_use(), mem_base);
    return 0;
}

/* Open (creating) the store in dir/s with opts. */
static struct store *open_store(const struct store_opts *o)
{
    char path[300], why[256];
    snprintf(path, sizeof path, "%s/s", dir);
    struct store_opts def = {.create = true};
    struct store *s = NULL;
    enum wd_err e = store_open(path, o ? o : &def, &s, why, sizeof why);
    if (e != WD_OK)
        fail_msg("store_open: %s (%s)", wd_errname(e), why);
    return s;
}

static uint64_t generation(struct store *s)
{
    uint64_t g = 0;
    assert_int_equal(store_generation(s, &g), WD_OK);
    return g;
}

/* ---------------------------------------------------------------- txn bodies */

static enum wd_err tx_user_add(struct store_txn *t, void *arg)
{
    return users_add(t, arg);
}

static enum wd_err tx_role_add(struct store_txn *t, void *arg)
{
    return roles_add(t, arg);
}

struct get_arg {
    const char *name;
    struct user *u;
    struct role *r;
};

static enum wd_err tx_user_get(struct store_txn *t, void *arg)
{
    struct get_arg *g = arg;
    return users_get(t, g->name, &g->u);
}

static enum wd_err tx_role_get(struct store_txn *t, void *arg)
{
    struct get_arg *g = arg;
    return roles_get(t, g->name, &g->r);
}

static struct user *get_user(struct store *s, const char *name)
{
    struct get_arg g = {.name = name};
    enum wd_err e = store_read(s, tx_user_get, &g);
    return e == WD_OK ? g.u : NULL;
}

static struct role *get_role(struct store *s, const char *name)
{
    struct get_arg g = {.name = name};
    enum wd_err e = store_read(s, tx_role_get, &g);
    return e == WD_OK ? g.r : NULL;
}

static struct rule rule(uint8_t effect, uint8_t actions, const char *filter)
{
    return (struct rule){.effect = effect, .actions = actions, .max_qos = 2, .retain = true,
                         .filter = (char *)filter};
}

/* ---------------------------------------------------------------- pure records */

static void test_record_roundtrip(void **state)
{
    (void)state;
    char *roles[] = {"ops", "sensors"};
    struct rule rules[] = {rule(RULE_ALLOW, RULE_PUBLISH | RULE_SUBSCRIBE, "sensors/%u/#"),
                           {RULE_DENY, RULE_RECEIVE, 1, false, "secret/+"}};
    struct user u = {.name = "alice", .hash = "$argon2id$v=19$m=19456,t=2,p=1$x$y",
                     .enabled = true, .roles = roles, .nroles = 2, .rules = rules, .nrules = 2,
                     .created = 1700000000, .updated = 1700000001, .last_login = 1700000002,
                     .note = "lab gateway"};
    uint8_t *b;
    size_t n;
    assert_int_equal(record_encode_user(&u, &b, &n), WD_OK);
    assert_int_equal(record_version(b, n), RECORD_USER_V2);
    struct user *d;
    assert_int_equal(record_decode_user("alice", 5, b, n, &d), WD_OK);
    assert_string_equal(d->name, "alice");
    assert_string_equal(d->hash, u.hash);
    assert_true(d->enabled);
    assert_int_equal(d->nroles, 2);
    assert_string_equal(d->roles[1], "sensors");
    assert_int_equal(d->nrules, 2);
    assert_string_equal(d->rules[0].filter, "sensors/%u/#");
    assert_int_equal(d->rules[1].effect, RULE_DENY);
    assert_int_equal(d->rules[1].actions, RULE_RECEIVE);
    assert_int_equal(d->rules[1].max_qos, 1);
    assert_false(d->rules[1].retain);
    assert_int_equal(d->created, 1700000000);
    assert_int_equal(d->last_login, 1700000002);
    assert_string_equal(d->note, "lab gateway");
    backend_user_free(d);

    /* Every truncation and one trailing byte are malformed, never a crash. */
    for (size_t cut = 0; cut < n; cut++) {
        assert_int_equal(record_decode_user("alice", 5, b, cut, &d), WD_EMALFORMED);
    }
    uint8_t *longer = wd_malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 0;
    assert_int_equal(record_decode_user("alice", 5, longer, n + 1, &d), WD_EMALFORMED);
    wd_free(longer);
    /* Unknown version, bad enum values. */
    b[0] = 9;
    assert_int_equal(record_decode_user("alice", 5, b, n, &d), WD_EMALFORMED);
    wd_free(b);
    struct user nohash = {.name = "bob", .enabled = false, .note = ""};
    assert_int_equal(record_encode_user(&nohash, &b, &n), WD_OK);
    assert_int_equal(record_decode_user("bob", 3, b, n, &d), WD_OK);
    assert_null(d->hash);
    assert_false(d->enabled);
    backend_user_free(d);
    wd_free(b);

    struct role r = {.name = "ops", .description = "operators", .rules = rules, .nrules = 2};
    assert_int_equal(record_encode_role(&r, &b, &n), WD_OK);
    struct role *dr;
    assert_int_equal(record_decode_role("ops", 3, b, n, &dr), WD_OK);
    assert_string_equal(dr->description, "operators");
    assert_int_equal(dr->nrules, 2);
    backend_role_free(dr);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(record_decode_role("ops", 3, b, cut, &dr), WD_EMALFORMED);
    /* A rule with actions 0 is refused. */
    b[1 + 4 + strlen("operators") + 2 + 1] = 0;
    assert_int_equal(record_decode_role("ops", 3, b, n, &dr), WD_EMALFORMED);
    wd_free(b);

    struct binding bi = {.kind = BIND_PREFIX, .pattern = "gw-", .user = "alice", .created = 5};
    uint8_t *k;
    size_t kn;
    assert_int_equal(record_kind_key(bi.kind, bi.pattern, &k, &kn), WD_OK);
    assert_int_equal(record_encode_binding(&bi, &b, &n), WD_OK);
    struct binding db;
    assert_int_equal(record_decode_binding(k, kn, b, n, &db), WD_OK);
    assert_int_equal(db.kind, BIND_PREFIX);
    assert_string_equal(db.pattern, "gw-");
    assert_string_equal(db.user, "alice");
    backend_binding_fini(&db);
    k[0] = 7; /* unknown kind */
    assert_int_equal(record_decode_binding(k, kn, b, n, &db), WD_EMALFORMED);
    wd_free(k);
    wd_free(b);

    struct ban ba = {.kind = BAN_ADDRESS, .value = "10.0.0.0/8", .until = 99, .reason = "scan",
                     .actor = "root", .created = 7};
    assert_int_equal(record_kind_key(ba.kind, ba.value, &k, &kn), WD_OK);
    assert_int_equal(record_encode_ban(&ba, &b, &n), WD_OK);
    struct ban dba;
    assert_int_equal(record_decode_ban(k, kn, b, n, &dba), WD_OK);
    assert_string_equal(dba.value, "10.0.0.0/8");
    assert_int_equal(dba.until, 99);
    assert_string_equal(dba.reason, "scan");
    assert_string_equal(dba.actor, "root");
    backend_ban_fini(&dba);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(record_decode_ban(k, kn, b, cut, &dba), WD_EMALFORMED);
    wd_free(k);
    wd_free(b);

    struct audit_entry a = {.seq = 3, .time = 11, .actor = "root", .action = "user add",
                            .target = "alice", .result = "ok"};
    uint8_t ak[8];
    record_audit_key(3, ak);
    assert_int_equal(record_encode_audit(&a, &b, &n), WD_OK);
    struct audit_entry da;
    assert_int_equal(record_decode_audit(ak, 8, b, n, &da), WD_OK);
    assert_int_equal(da.seq, 3);
    assert_string_equal(da.action, "user add");
    backend_audit_fini(&da);
    assert_int_equal(record_decode_audit(ak, 7, b, n, &da), WD_EMALFORMED);
    wd_free(b);

    struct record_meta m = {2, 42, 7}, dm;
    uint8_t mb[RECORD_META_SIZE];
    record_encode_meta(&m, mb);
    assert_int_equal(record_decode_meta(mb, sizeof mb, &dm), WD_OK);
    assert_int_equal(dm.generation, 42);
    assert_int_equal(record_decode_meta(mb, sizeof mb - 1, &dm), WD_EMALFORMED);
    /* A string with a NUL inside is malformed. */
    uint8_t bad[] = {RECORD_ROLE_V1, 0, 0, 0, 2, 'a', 0, 0, 0};
    assert_int_equal(record_decode_role("r", 1, bad, sizeof bad, &dr), WD_EMALFORMED);
    /* A huge count in few bytes is malformed, not a huge allocation. */
    uint8_t big[] = {RECORD_ROLE_V1, 0, 0, 0, 0, 0x0f, 0xff};
    assert_int_equal(record_decode_role("r", 1, big, sizeof big, &dr), WD_EMALFORMED);
}

static void test_rules_helpers(void **state)
{
    (void)state;
    uint8_t a;
    assert_int_equal(rules_parse_actions("publish,subscribe", &a), WD_OK);
    assert_int_equal(a, RULE_PUBLISH | RULE_SUBSCRIBE);
    assert_int_equal(rules_parse_actions("all", &a), WD_OK);
    assert_int_equal(a, RULE_ALL);
    assert_int_equal(rules_parse_actions("publish,", &a), WD_EINVAL);
    assert_int_equal(rules_parse_actions("read", &a), WD_EINVAL);
    char buf[64];
    rules_format_actions(RULE_SUBSCRIBE | RULE_RECEIVE, buf, sizeof buf);
    assert_string_equal(buf, "subscribe,receive");

    static const struct {
        const char *filter;
        enum wd_err want;
    } rows[] = {
        {"a/b", WD_OK},          {"a/+/c", WD_OK},        {"#", WD_OK},
        {"sensors/%u/#", WD_OK}, {"dev/%c/%cn", WD_OK},   {"a/#/b", WD_EINVAL},
        {"a+/b", WD_EINVAL},     {"", WD_EINVAL},         {"a/%x", WD_EINVAL},
        {"a/%", WD_EINVAL},      {"a/b#", WD_EINVAL},
    };
    char why[200];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct rule r = rule(RULE_ALLOW, RULE_ALL, rows[i].filter);
        enum wd_err e = rules_validate(&r, why, sizeof why);
        if (e != rows[i].want)
            fail_msg("filter '%s': got %s, want %s", rows[i].filter, wd_errname(e),
                     wd_errname(rows[i].want));
    }
    struct rule q = rule(RULE_ALLOW, RULE_ALL, "a");
    q.max_qos = 3;
    assert_int_equal(rules_validate(&q, why, sizeof why), WD_EINVAL);

    struct rule *v = NULL;
    size_t n = 0;
    struct rule r1 = rule(RULE_ALLOW, RULE_ALL, "one"), r2 = rule(RULE_ALLOW, RULE_ALL, "two"),
                r0 = rule(RULE_DENY, RULE_ALL, "zero");
    assert_int_equal(rules_insert(&v, &n, &r1, 0), WD_OK);
    assert_int_equal(rules_insert(&v, &n, &r2, 0), WD_OK);
    assert_int_equal(rules_insert(&v, &n, &r0, 1), WD_OK);
    assert_int_equal(rules_insert(&v, &n, &r0, 5), WD_EINVAL);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].filter, "zero");
    assert_string_equal(v[2].filter, "two");
    assert_int_equal(rules_remove(v, &n, 2), WD_OK);
    assert_string_equal(v[1].filter, "two");
    assert_int_equal(rules_remove(v, &n, 3), WD_ENOTFOUND);
    assert_int_equal(rules_remove(v, &n, 0), WD_ENOTFOUND);
    backend_rules_free(v, n);
}

static void test_cidr(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"10.1.2.3/8", "10.0.0.0/8"},         {"192.168.1.7", "192.168.1.7/32"},
        {"0.0.0.0/0", "0.0.0.0/0"},           {"2001:db8::1/32", "2001:db8::/32"},
        {"::1", "::1/128"},                    {"fe80::abcd/10", "fe80::/10"},
    };
    static const char *const bad[] = {"", "10.0.0.0/33", "10.0.0/8", "10.0.0.0/", "::1/129",
                                      "1.2.3.4/-1", "host", "1.2.3.4/8x", "1.2.3.256"};
    char out[BANS_CIDR_MAX];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(bans_parse_cidr(ok[i].in, out), WD_OK);
        assert_string_equal(out, ok[i].out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (bans_parse_cidr(bad[i], out) != WD_EINVAL)
            fail_msg("'%s' accepted as CIDR", bad[i]);
}

/* ---------------------------------------------------------------- LMDB */

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_open_permissions(void **state)
{
    (void)state;
    mode_t old = umask(0);  /* even with a permissive umask */
    struct store *s = open_store(NULL);
    umask(old);
    char p[400];
    snprintf(p, sizeof p, "%s/s", dir);
    assert_int_equal(mode_of(p), 0700);
    snprintf(p, sizeof p, "%s/s/data.mdb", dir);
    assert_int_equal(mode_of(p), 0600);
    snprintf(p, sizeof p, "%s/s/lock.mdb", dir);
    assert_int_equal(mode_of(p), 0600);
    struct role *r = get_role(s, ROLE_ANONYMOUS);
    assert_non_null(r);
    backend_role_free(r);
    r = get_role(s, ROLE_DEFAULT);
    assert_non_null(r);
    backend_role_free(r);
    struct store_info in;
    assert_int_equal(store_info(s, &in), WD_OK);
    assert_int_equal(in.schema, SCHEMA_VERSION);
    assert_int_equal(in.counts[DB_ROLES], 2);
    store_close(s);

    /* Without create, a missing store is not made. */
    char why[256];
    snprintf(p, sizeof p, "%s/none", dir);
    struct store_opts o = {.create = false};
    assert_int_equal(store_open(p, &o, &s, why, sizeof why), WD_ENOTFOUND);
    assert_int_equal(access(p, F_OK), -1);
}

static void test_user_role_roundtrip(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    uint64_t g0 = generation(s);
    struct rule rr[] = {rule(RULE_ALLOW, RULE_SUBSCRIBE | RULE_RECEIVE, "plant/#")};
    struct role ops = {.name = "ops", .description = "operators", .rules = rr, .nrules = 1};
    assert_int_equal(store_write(s, tx_role_add, &ops), WD_OK);
    assert_int_equal(generation(s), g0 + 1);
    assert_int_equal(store_write(s, tx_role_add, &ops), WD_EEXIST);
    assert_string_equal(store_errmsg(s), "role 'ops' already exists");
    assert_int_equal(generation(s), g0 + 1);

    char *roles[] = {"ops"};
    struct rule ur[] = {rule(RULE_ALLOW, RULE_PUBLISH, "sensors/%u/#")};
    struct user u = {.name = "alice", .hash = "$argon2id$v=19$m=19456,t=2,p=1$aa$bb",
                     .enabled = true, .roles = roles, .nroles = 1, .rules = ur, .nrules = 1,
                     .created = 10, .updated = 10, .note = "n"};
    assert_int_equal(store_write(s, tx_user_add, &u), WD_OK);
    assert_int_equal(generation(s), g0 + 2);
    assert_int_equal(store_write(s, tx_user_add, &u), WD_EEXIST);
    assert_string_equal(store_errmsg(s), "user 'alice' already exists");

    struct user *d = get_user(s, "alice");
    assert_non_null(d);
    assert_string_equal(d->hash, u.hash);
    assert_int_equal(d->nroles, 1);
    assert_string_equal(d->roles[0], "ops");
    assert_string_equal(d->rules[0].filter, "sensors/%u/#");
    backend_user_free(d);
    assert_null(get_user(s, "nobody"));
    assert_string_equal(store_errmsg(s), "unknown user 'nobody'");

    /* Unknown role, duplicate role, "default" role, bad rule: refused. */
    char *bad_roles[] = {"nope"};
    struct user b = {.name = "bob", .roles = bad_roles, .nroles = 1, .note = ""};
    assert_int_equal(store_write(s, tx_user_add, &b), WD_ENOTFOUND);
    assert_string_equal(store_errmsg(s), "unknown role 'nope'");
    char *dup_roles[] = {"ops", "ops"};
    b.roles = dup_roles;
    b.nroles = 2;
    assert_int_equal(store_write(s, tx_user_add, &b), WD_EEXIST);
    char *def_roles[] = {"default"};
    b.roles = def_roles;
    b.nroles = 1;
    assert_int_equal(store_write(s, tx_user_add, &b), WD_EINVAL);
    struct rule badr[] = {rule(RULE_ALLOW, RULE_ALL, "a/#/b")};
    b.nroles = 0;
    b.rules = badr;
    b.nrules = 1;
    assert_int_equal(store_write(s, tx_user_add, &b), WD_EINVAL);
    b.nrules = 0;
    b.name = "bad\nname";
    assert_int_equal(store_write(s, tx_user_add, &b), WD_EINVAL);
    assert_int_equal(generation(s), g0 + 2);

    struct role *r = get_role(s, "ops");
    assert_non_null(r);
    assert_string_equal(r->description, "operators");
    assert_int_equal(r->nrules, 1);
    assert_int_equal(r->rules[0].actions, RULE_SUBSCRIBE | RULE_RECEIVE);
    backend_role_free(r);
    store_close(s);
}

struct del_arg {
    const char *name;
    bool force;
    size_t n;
};

static enum wd_err tx_role_del(struct store_txn *t, void *arg)
{
    struct del_arg *d = arg;
    return roles_del(t, d->name, d->force, &d->n);
}

static enum wd_err tx_user_del(struct store_txn *t, void *arg)
{
    struct del_arg *d = arg;
    return users_del(t, d->name, &d->n);
}

static void test_role_delete(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    struct role ops = {.name = "ops", .description = ""};
    assert_int_equal(store_write(s, tx_role_add, &ops), WD_OK);
    char *roles[] = {"ops"};
    struct user u = {.name = "alice", .enabled = true, .roles = roles, .nroles = 1, .note = ""};
    assert_int_equal(store_write(s, tx_user_add, &u), WD_OK);
    uint64_t g = generation(s);
    struct del_arg d = {.name = "ops"};
    assert_int_equal(store_write(s, tx_role_del, &d), WD_EBUSY);
    assert_non_null(strstr(store_errmsg(s), "alice"));
    assert_non_null(strstr(store_errmsg(s), "--force"));
    assert_int_equal(generation(s), g);
    d.force = true;
    assert_int_equal(store_write(s, tx_role_del, &d), WD_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(generation(s), g + 1);
    struct user *a = get_user(s, "alice");
    assert_int_equal(a->nroles, 0);
    backend_user_free(a);
    d.name = ROLE_DEFAULT;
    assert_int_equal(store_write(s, tx_role_del, &d), WD_EDENIED);
    d.name = "ops";
    assert_int_equal(store_write(s, tx_role_del, &d), WD_ENOTFOUND);
    store_close(s);
}

static enum wd_err tx_bind(struct store_txn *t, void *arg)
{
    return bindings_add(t, arg);
}

struct list_arg {
    struct binding *b;
    struct ban *ban;
    struct audit_entry *a;
    size_t n;
    uint64_t after;
    size_t limit;
};

static enum wd_err tx_bind_list(struct store_txn *t, void *arg)
{
    struct list_arg *l = arg;
    return bindings_list(t, &l->b, &l->n);
}

static void test_bindings(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    struct user u = {.name = "alice", .enabled = true, .note = ""};
    assert_int_equal(store_write(s, tx_user_add, &u), WD_OK);
    struct binding b[] = {{BIND_EXACT, "gw-1", "alice", 1},
                          {BIND_PREFIX, "plant-", "alice", 2},
                          {BIND_REGEX, "mac-[0-9a-f]{12}", "alice", 3}};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(store_write(s, tx_bind, &b[i]), WD_OK);
    assert_int_equal(store_write(s, tx_bind, &b[0]), WD_EEXIST);
    assert_string_equal(store_errmsg(s), "client id 'gw-1' is already bound to 'alice'");
    struct binding bad = {BIND_REGEX, "mac-[", "alice", 0};
    assert_int_equal(store_write(s, tx_bind, &bad), WD_EINVAL);
    struct binding nouser = {BIND_EXACT, "x", "nobody", 0};
    assert_int_equal(store_write(s, tx_bind, &nouser), WD_ENOTFOUND);

    assert_true(bindings_match(&b[0], "gw-1"));
    assert_false(bindings_match(&b[0], "gw-10"));
    assert_true(bindings_match(&b[1], "plant-7"));
    assert_true(bindings_match(&b[2], "mac-0123456789ab"));
    assert_false(bindings_match(&b[2], "xmac-0123456789ab")); /* whole id */
    assert_false(bindings_match(&b[2], "mac-0123456789abc"));

    struct list_arg l = {0};
    assert_int_equal(store_read(s, tx_bind_list, &l), WD_OK);
    assert_int_equal(l.n, 3);
    backend_bindings_free(l.b, l.n);

    /* Deleting the user deletes its bindings in the same transaction. */
    struct del_arg d = {.name = "alice"};
    assert_int_equal(store_write(s, tx_user_del, &d), WD_OK);
    assert_int_equal(d.n, 3);
    assert_int_equal(store_read(s, tx_bind_list, &l), WD_OK);
    assert_int_equal(l.n, 0);
    backend_bindings_free(l.b, l.n);
    store_close(s);
}

static enum wd_err tx_ban(struct store_txn *t, void *arg)
{
    return bans_add(t, arg);
}

static enum wd_err tx_ban_list(struct store_txn *t, void *arg)
{
    struct list_arg *l = arg;
    return bans_list(t, &l->ban, &l->n);
}

static enum wd_err tx_unban(struct store_txn *t, void *arg)
{
    struct ban *b = arg;
    return bans_del(t, b->kind, b->value);
}

static void test_bans(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    uint64_t g = generation(s);
    struct ban b = {.kind = BAN_ADDRESS, .value = "10.9.8.7/8", .until = 0, .reason = "scan",
                    .actor = "root", .created = 1};
    assert_int_equal(store_write(s, tx_ban, &b), WD_OK);
    assert_int_equal(generation(s), g + 1);
    struct ban same = b;
    same.value = "10.0.0.0/8";
    assert_int_equal(store_write(s, tx_ban, &same), WD_EEXIST);
    struct ban bad = b;
    bad.value = "10.0.0.0/40";
    assert_int_equal(store_write(s, tx_ban, &bad), WD_EINVAL);
    struct ban user = {.kind = BAN_USER, .value = "mallory", .until = 2000000000, .reason = "",
                       .actor = "root"};
    assert_int_equal(store_write(s, tx_ban, &user), WD_OK);
    struct list_arg l = {0};
    assert_int_equal(store_read(s, tx_ban_list, &l), WD_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ban[0].value, "mallory");   /* kind 1 sorts before kind 2 */
    assert_int_equal(l.ban[0].until, 2000000000);
    assert_string_equal(l.ban[1].value, "10.0.0.0/8");
    backend_bans_free(l.ban, l.n);
    struct ban del = {.kind = BAN_ADDRESS, .value = "10.1.1.1/8"};
    assert_int_equal(store_write(s, tx_unban, &del), WD_OK);
    assert_int_equal(store_write(s, tx_unban, &del), WD_ENOTFOUND);
    store_close(s);
}

static enum wd_err tx_audit(struct store_txn *t, void *arg)
{
    char target[32];
    snprintf(target, sizeof target, "t%d", *(int *)arg);
    return audit_append(t, "root", "test", target, "ok");
}

static enum wd_err tx_audit_list(struct store_txn *t, void *arg)
{
    struct list_arg *l = arg;
    return audit_list(t, l->after, l->limit, &l->a, &l->n);
}

static void test_audit_ring(void **state)
{
    (void)state;
    struct store_opts o = {.create = true, .audit_max = 5};
    struct store *s = open_store(&o);
    uint64_t g = generation(s);
    for (int i = 1; i <= 12; i++)
        assert_int_equal(store_write(s, tx_audit, &i), WD_OK);
    assert_int_equal(generation(s), g);  /* bookkeeping does not move it */
    struct list_arg l = {0};
    assert_int_equal(store_read(s, tx_audit_list, &l), WD_OK);
    assert_int_equal(l.n, 5);
    assert_int_equal(l.a[0].seq, 8);
    assert_string_equal(l.a[0].target, "t8");
    assert_int_equal(l.a[4].seq, 12);
    backend_audit_free(l.a, l.n);
    l = (struct list_arg){.limit = 2};
    assert_int_equal(store_read(s, tx_audit_list, &l), WD_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.a[0].seq, 11);
    backend_audit_free(l.a, l.n);
    l = (struct list_arg){.after = 10};
    assert_int_equal(store_read(s, tx_audit_list, &l), WD_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.a[0].seq, 11);
    backend_audit_free(l.a, l.n);
    store_close(s);
}

/* Adds a role, then a user holding a role that does not exist: must fail whole. */
static enum wd_err tx_half(struct store_txn *t, void *arg)
{
    (void)arg;
    struct role r = {.name = "half", .description = ""};
    enum wd_err e = roles_add(t, &r);
    assert_int_equal(e, WD_OK);
    e = audit_append(t, "root", "test", "half", "ok");
    assert_int_equal(e, WD_OK);
    char *roles[] = {"missing"};
    struct user u = {.name = "h", .roles = roles, .nroles = 1, .note = ""};
    return users_add(t, &u);
}

static void test_failed_write_changes_nothing(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    struct store_info before, after;
    assert_int_equal(store_info(s, &before), WD_OK);
    assert_int_equal(store_write(s, tx_half, NULL), WD_ENOTFOUND);
    assert_string_equal(store_errmsg(s), "unknown role 'missing'");
    assert_int_equal(store_info(s, &after), WD_OK);
    assert_int_equal(after.generation, before.generation);
    assert_null(get_role(s, "half"));
    for (int i = 0; i < DB_COUNT; i++)
        assert_int_equal(after.counts[i], before.counts[i]);
    store_close(s);
}

static void test_map_full_growth(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    struct store_opts o = {.create = true, .map_size = (size_t)page * 16};
    struct store *s = open_store(&o);
    struct store_info in;
    assert_int_equal(store_info(s, &in), WD_OK);
    size_t initial = in.map_size;
    char note[1001];
    memset(note, 'n', 1000);
    note[1000] = '\0';
    uint64_t g = generation(s);
    for (int i = 0; i < 400; i++) {
        char name[32];
        snprintf(name, sizeof name, "user%04d", i);
        struct user u = {.name = name, .enabled = true, .note = note};
        enum wd_err e = store_write(s, tx_user_add, &u);
        if (e != WD_OK)
            fail_msg("user %d: %s (%s)", i, wd_errname(e), store_errmsg(s));
    }
    assert_int_equal(generation(s), g + 400);
    assert_int_equal(store_info(s, &in), WD_OK);
    assert_true(in.map_size > initial);
    assert_int_equal(in.counts[DB_USERS], 400);
    struct user *u = get_user(s, "user0399");
    assert_non_null(u);
    backend_user_free(u);
    store_close(s);

    /* A growth limit turns into a clean WD_ELIMIT that changes nothing. */
    o.map_max = (size_t)page * 16;
    o.map_size = 0;
    s = open_store(&o);
    struct user big = {.name = "toobig", .enabled = true, .note = note};
    enum wd_err e = WD_OK;
    for (int i = 0; i < 2000 && e == WD_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "more%05d", i);
        big.name = name;
        e = store_write(s, tx_user_add, &big);
    }
    assert_int_equal(e, WD_ELIMIT);
    assert_non_null(strstr(store_errmsg(s), "full"));
    store_close(s);
}

/* Another process grows the map while this one has the store open: the next
 * transaction here gets MDB_MAP_RESIZED, adopts the new size and goes on. */
static void test_map_resized_by_other_process(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    struct store_opts o = {.create = true, .map_size = (size_t)page * 16};
    struct store *s = open_store(&o);
    struct store_info before;
    assert_int_equal(store_info(s, &before), WD_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child never touches the parent's environment. */
        struct store *cs = open_store(&o);
        char note[1001];
        memset(note, 'c', 1000);
        note[1000] = '\0';
        int rc = 0;
        for (int i = 0; i < 300 && rc == 0; i++) {
            char name[32];
            snprintf(name, sizeof name, "child%04d", i);
            struct user u = {.name = name, .enabled = true, .note = note};
            rc = store_write(cs, tx_user_add, &u) != WD_OK;
        }
        store_close(cs);
        _exit(rc);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    struct user u = {.name = "parent", .enabled = true, .note = ""};
    assert_int_equal(store_write(s, tx_user_add, &u), WD_OK);
    struct user *d = get_user(s, "child0299");
    assert_non_null(d);
    backend_user_free(d);
    struct store_info after;
    assert_int_equal(store_info(s, &after), WD_OK);
    assert_true(after.map_size > before.map_size);
    assert_int_equal(after.counts[DB_USERS], 301);
    store_close(s);
}

struct v1_arg {
    const struct user *u;
};

static enum wd_err tx_write_v1(struct store_txn *t, void *arg)
{
    const struct user *u = arg;
    uint8_t *b;
    size_t n;
    enum wd_err e = record_encode_user_v1(u, &b, &n);
    if (e != WD_OK)
        return e;
    e = store_put(t, DB_USERS, u->name, strlen(u->name), b, n, false);
    wd_free(b);
    struct record_meta m;
    if (e == WD_OK)
        e = store_meta_get(t, &m);
    m.schema = 1;
    if (e == WD_OK)
        e = store_meta_put(t, &m);
    return e;
}

struct raw_arg {
    const char *key;
    uint8_t ver;
};

static enum wd_err tx_raw_version(struct store_txn *t, void *arg)
{
    struct raw_arg *r = arg;
    const void *v;
    size_t n;
    enum wd_err e = store_get(t, DB_USERS, r->key, strlen(r->key), &v, &n);
    if (e == WD_OK)
        r->ver = record_version(v, n);
    return e;
}

static void test_migration_from_v1(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    char *roles[] = {"anonymous"};
    struct rule rr[] = {rule(RULE_ALLOW, RULE_ALL, "old/#")};
    struct user u = {.name = "legacy", .hash = "$6$salt$hash", .enabled = true, .roles = roles,
                     .nroles = 1, .rules = rr, .nrules = 1, .created = 5, .updated = 6,
                     .last_login = 99, .note = "dropped by v1"};
    assert_int_equal(store_write(s, tx_write_v1, &u), WD_OK);
    store_close(s);

    /* The schema-1 store opens with today's code: users rewritten, schema bumped. */
    s = open_store(NULL);
    struct store_info in;
    assert_int_equal(store_info(s, &in), WD_OK);
    assert_int_equal(in.schema, SCHEMA_VERSION);
    struct raw_arg r = {.key = "legacy"};
    assert_int_equal(store_read(s, tx_raw_version, &r), WD_OK);
    assert_int_equal(r.ver, RECORD_USER_V2);
    struct user *d = get_user(s, "legacy");
    assert_non_null(d);
    assert_string_equal(d->hash, "$6$salt$hash");
    assert_int_equal(d->nroles, 1);
    assert_string_equal(d->rules[0].filter, "old/#");
    assert_int_equal(d->created, 5);
    assert_int_equal(d->updated, 6);
    assert_int_equal(d->last_login, 0);
    assert_string_equal(d->note, "");
    backend_user_free(d);
    size_t problems = 99;
    assert_int_equal(store_verify(s, NULL, NULL, &problems), WD_OK);
    assert_int_equal(problems, 0);
    store_close(s);
}

/* A schema-2 store: role "ops" in the version-1 role format. */
static enum wd_err tx_write_role_v1(struct store_txn *t, void *arg)
{
    const struct role *r = arg;
    uint8_t *b;
    size_t n;
    enum wd_err e = record_encode_role_v1(r, &b, &n);
    if (e != WD_OK)
        return e;
    e = store_put(t, DB_ROLES, r->name, strlen(r->name), b, n, false);
    wd_free(b);
    struct record_meta m;
    if (e == WD_OK)
        e = store_meta_get(t, &m);
    m.schema = 2;
    if (e == WD_OK)
        e = store_meta_put(t, &m);
    return e;
}

static enum wd_err tx_raw_role_version(struct store_txn *t, void *arg)
{
    struct raw_arg *r = arg;
    const void *v;
    size_t n;
    enum wd_err e = store_get(t, DB_ROLES, r->key, strlen(r->key), &v, &n);
    if (e == WD_OK)
        r->ver = record_version(v, n);
    return e;
}

static void test_migration_from_v2(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    struct rule rr[] = {rule(RULE_ALLOW, RULE_PUBLISH, "plant/#")};
    struct role r = {.name = "ops", .description = "operators", .rules = rr, .nrules = 1,
                     .on_deny = DENY_DISCONNECT /* dropped by the v1 format */};
    assert_int_equal(store_write(s, tx_write_role_v1, &r), WD_OK);
    struct raw_arg raw = {.key = "ops"};
    assert_int_equal(store_read(s, tx_raw_role_version, &raw), WD_OK);
    assert_int_equal(raw.ver, RECORD_ROLE_V1);
    store_close(s);

    /* The schema-2 store opens with current code: roles rewritten with no policy. */
    s = open_store(NULL);
    struct store_info in;
    assert_int_equal(store_info(s, &in), WD_OK);
    assert_int_equal(in.schema, SCHEMA_VERSION);
    assert_int_equal(store_read(s, tx_raw_role_version, &raw), WD_OK);
    assert_int_equal(raw.ver, RECORD_ROLE_V2);
    struct role *d = get_role(s, "ops");
    assert_non_null(d);
    assert_string_equal(d->description, "operators");
    assert_int_equal(d->nrules, 1);
    assert_string_equal(d->rules[0].filter, "plant/#");
    assert_int_equal(d->on_deny, DENY_UNSET);
    assert_int_equal(d->strikes, 0);
    backend_role_free(d);
    size_t problems = 99;
    assert_int_equal(store_verify(s, NULL, NULL, &problems), WD_OK);
    assert_int_equal(problems, 0);
    store_close(s);
}

static void test_role_on_deny(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum wd_err want;
        uint8_t policy;
        uint16_t strikes;
    } rows[] = {
        {"drop", WD_OK, DENY_DROP, 0},           {"disconnect", WD_OK, DENY_DISCONNECT, 0},
        {"strikes:3", WD_OK, DENY_STRIKES, 3},   {"none", WD_OK, DENY_UNSET, 0},
        {"strikes:0", WD_EINVAL, 0, 0},          {"strikes:", WD_EINVAL, 0, 0},
        {"strikes:10001", WD_EINVAL, 0, 0},      {"strikes:99999999999999", WD_EINVAL, 0, 0},
        {"strikes:-1", WD_EINVAL, 0, 0},         {"kick", WD_EINVAL, 0, 0},
        {"", WD_EINVAL, 0, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t p = 99;
        uint16_t n = 99;
        enum wd_err e = roles_parse_on_deny(rows[i].text, &p, &n);
        if (e != rows[i].want || (e == WD_OK && (p != rows[i].policy || n != rows[i].strikes)))
            fail_msg("on_deny '%s': got %s %u %u", rows[i].text, wd_errname(e), p, n);
        char back[32];
        if (e == WD_OK) {
            roles_format_on_deny(p, n, back, sizeof back);
            assert_string_equal(back, rows[i].text);
        }
    }
    /* Stored with the role; refused when inconsistent. */
    struct store *s = open_store(NULL);
    struct role r = {.name = "strict", .description = "", .on_deny = DENY_STRIKES, .strikes = 5};
    assert_int_equal(store_write(s, tx_role_add, &r), WD_OK);
    struct role *d = get_role(s, "strict");
    assert_non_null(d);
    assert_int_equal(d->on_deny, DENY_STRIKES);
    assert_int_equal(d->strikes, 5);
    backend_role_free(d);
    struct role bad = {.name = "bad", .description = "", .on_deny = DENY_DROP, .strikes = 5};
    assert_int_equal(store_write(s, tx_role_add, &bad), WD_EINVAL);
    store_close(s);
    /* The record refuses a policy out of range and strikes without DENY_STRIKES. */
    uint8_t *b;
    size_t n;
    assert_int_equal(record_encode_role(&r, &b, &n), WD_OK);
    assert_int_equal(b[0], RECORD_ROLE_V2);
    b[n - 3] = 4;
    assert_int_equal(record_decode_role("x", 1, b, n, &d), WD_EMALFORMED);
    b[n - 3] = DENY_DROP;
    assert_int_equal(record_decode_role("x", 1, b, n, &d), WD_EMALFORMED);
    wd_free(b);
}

static enum wd_err tx_meta_schema(struct store_txn *t, void *arg)
{
    struct record_meta m;
    enum wd_err e = store_meta_get(t, &m);
    m.schema = *(uint32_t *)arg;
    return e == WD_OK ? store_meta_put(t, &m) : e;
}

static void test_newer_schema_refused(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    uint32_t v = SCHEMA_VERSION + 1;
    assert_int_equal(store_write(s, tx_meta_schema, &v), WD_OK);
    store_close(s);
    char p[300], why[256];
    snprintf(p, sizeof p, "%s/s", dir);
    struct store_opts o = {.create = true};
    assert_int_equal(store_open(p, &o, &s, why, sizeof why), WD_EVERSION);
    assert_non_null(strstr(why, "newer"));
}

static enum wd_err tx_corrupt(struct store_txn *t, void *arg)
{
    (void)arg;
    static const uint8_t junk[] = {RECORD_USER_V2, 1, 0xff, 0xff, 0xff, 0xff};
    return store_put(t, DB_USERS, "broken", 6, junk, sizeof junk, false);
}

struct seen {
    int n;
    char last[300];
};

static void on_problem(void *ctx, const char *db, const char *key, const char *what)
{
    struct seen *s = ctx;
    s->n++;
    snprintf(s->last, sizeof s->last, "%s/%s: %s", db, key, what);
}

static void test_corrupt_record(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    assert_int_equal(store_write(s, tx_corrupt, NULL), WD_OK);
    struct get_arg g = {.name = "broken"};
    assert_int_equal(store_read(s, tx_user_get, &g), WD_EMALFORMED);
    struct seen seen = {0};
    size_t problems = 0;
    assert_int_equal(store_verify(s, on_problem, &seen, &problems), WD_OK);
    assert_int_equal(problems, 1);
    assert_string_equal(seen.last, "users/broken: record does not decode");
    store_close(s);
}

static void test_backup(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    struct user u = {.name = "alice", .enabled = true, .note = ""};
    assert_int_equal(store_write(s, tx_user_add, &u), WD_OK);
    char file[300];
    snprintf(file, sizeof file, "%s/backup.mdb", dir);
    assert_int_equal(store_backup(s, file), WD_OK);
    assert_int_equal(mode_of(file), 0600);
    assert_int_equal(store_backup(s, file), WD_EIO); /* never overwrites */
    store_close(s);

    /* The copy is a working store: put it in a directory as data.mdb. */
    char d2[300], cmd[1000], why[256];
    snprintf(d2, sizeof d2, "%s/restored", dir);
    snprintf(cmd, sizeof cmd, "mkdir -m 700 '%s' && cp '%s' '%s/data.mdb'", d2, file, d2);
    assert_int_equal(system(cmd), 0);
    struct store_opts o = {.create = false};
    assert_int_equal(store_open(d2, &o, &s, why, sizeof why), WD_OK);
    struct user *d = get_user(s, "alice");
    assert_non_null(d);
    backend_user_free(d);
    store_close(s);
}

/* Certificate records: every kind round-trips; the key carries kind, user and
 * fingerprint; any truncation, a bad key or a bad version is malformed. */
static void test_record_cert(void **state)
{
    (void)state;
    uint8_t fp[CERT_FP_LEN];
    for (int i = 0; i < CERT_FP_LEN; i++)
        fp[i] = (uint8_t)(0xa0 + i);
    struct cert_rec in[] = {
        {.kind = CERTREC_PIN, .user = "alice", .identity = "", .subject = "CN=alice,O=X",
         .issuer = "CN=CA", .reason = "", .actor = "root", .not_after = 2000000000,
         .created = 5},
        {.kind = CERTREC_REVOKED, .identity = "", .subject = "", .issuer = "", .reason = "lost",
         .actor = "ops", .created = 6},
        {.kind = CERTREC_SEEN, .identity = "dev1", .subject = "CN=dev1", .issuer = "CN=CA",
         .reason = "", .actor = "", .not_after = 1900000000, .created = 7, .last_seen = 9},
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        memcpy(in[i].fp, fp, sizeof fp);
        uint8_t *k, *b;
        size_t kn, n;
        assert_int_equal(record_cert_key(in[i].kind, in[i].user, fp, &k, &kn), WD_OK);
        assert_int_equal(kn, 1 + CERT_FP_LEN + (in[i].kind == CERTREC_PIN ? 6 : 0));
        assert_int_equal(record_encode_cert(&in[i], &b, &n), WD_OK);
        assert_int_equal(record_version(b, n), RECORD_CERT_V1);
        struct cert_rec d;
        assert_int_equal(record_decode_cert(k, kn, b, n, &d), WD_OK);
        assert_int_equal(d.kind, in[i].kind);
        assert_memory_equal(d.fp, fp, CERT_FP_LEN);
        if (in[i].kind == CERTREC_PIN)
            assert_string_equal(d.user, "alice");
        else
            assert_null(d.user);
        assert_string_equal(d.identity, in[i].identity);
        assert_string_equal(d.subject, in[i].subject);
        assert_string_equal(d.issuer, in[i].issuer);
        assert_string_equal(d.reason, in[i].reason);
        assert_string_equal(d.actor, in[i].actor);
        assert_int_equal(d.not_after, in[i].not_after);
        assert_int_equal(d.created, in[i].created);
        assert_int_equal(d.last_seen, in[i].last_seen);
        backend_cert_fini(&d);
        for (size_t cut = 0; cut < n; cut++)
            assert_int_equal(record_decode_cert(k, kn, b, cut, &d), WD_EMALFORMED);
        for (size_t cut = 0; cut < kn; cut++)
            assert_int_equal(record_decode_cert(k, cut, b, n, &d), WD_EMALFORMED);
        b[0] = RECORD_CERT_V1 + 1; /* a version from the future */
        assert_int_equal(record_decode_cert(k, kn, b, n, &d), WD_EMALFORMED);
        b[0] = RECORD_CERT_V1;
        k[0] = CERTREC_SEEN + 1; /* unknown kind */
        assert_int_equal(record_decode_cert(k, kn, b, n, &d), WD_EMALFORMED);
        wd_free(k);
        wd_free(b);
    }
    /* Pin keys: the 0 byte must separate user and fingerprint; the user is non-empty. */
    uint8_t *k, *b;
    size_t kn, n;
    assert_int_equal(record_cert_key(CERTREC_PIN, "al", fp, &k, &kn), WD_OK);
    assert_int_equal(record_encode_cert(&in[0], &b, &n), WD_OK);
    struct cert_rec d;
    k[3] = 'x'; /* no 0 byte between user and fingerprint */
    assert_int_equal(record_decode_cert(k, kn, b, n, &d), WD_EMALFORMED);
    k[3] = 0;
    k[1] = 0; /* a user with a 0 byte inside */
    assert_int_equal(record_decode_cert(k, kn, b, n, &d), WD_EMALFORMED);
    uint8_t empty[2 + CERT_FP_LEN] = {CERTREC_PIN, 0}; /* user "" */
    assert_int_equal(record_decode_cert(empty, sizeof empty, b, n, &d), WD_EMALFORMED);
    wd_free(k);
    wd_free(b);
    /* Keys: a pin needs a user; kinds are bounded. */
    assert_int_equal(record_cert_key(CERTREC_PIN, NULL, fp, &k, &kn), WD_EINVAL);
    assert_int_equal(record_cert_key(CERTREC_PIN, "", fp, &k, &kn), WD_EINVAL);
    assert_int_equal(record_cert_key(CERTREC_SEEN + 1, NULL, fp, &k, &kn), WD_EINVAL);
    /* Fingerprint text: plain or colon-separated hex, either case; nothing else. */
    uint8_t out[CERT_FP_LEN];
    char hex[CERT_FP_HEX], colons[3 * CERT_FP_LEN];
    backend_fp_hex(fp, hex);
    assert_string_equal(hex, "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
    assert_true(backend_fp_parse(hex, out));
    assert_memory_equal(out, fp, CERT_FP_LEN);
    for (int i = 0; i < CERT_FP_LEN; i++)
        snprintf(colons + 3 * i, 4, "%02X%s", fp[i], i + 1 < CERT_FP_LEN ? ":" : "");
    assert_true(backend_fp_parse(colons, out));
    assert_memory_equal(out, fp, CERT_FP_LEN);
    const char *bad[] = {
        "", "a0", "zz", "a0:a1",
        "g0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(backend_fp_parse(bad[i], out));
    colons[2] = '-';
    assert_false(backend_fp_parse(colons, out));
}

struct cert_op {
    struct cert_rec r;
    uint8_t kind;
    const char *user;
    enum cert_verdict v;
    struct cert_rec *list;
    size_t n;
};

static enum wd_err tx_pin(struct store_txn *t, void *arg)
{
    return certs_pin_add(t, &((struct cert_op *)arg)->r);
}

static enum wd_err tx_unpin(struct store_txn *t, void *arg)
{
    struct cert_op *o = arg;
    return certs_pin_del(t, o->r.user, o->r.fp);
}

static enum wd_err tx_revoke(struct store_txn *t, void *arg)
{
    return certs_revoke(t, &((struct cert_op *)arg)->r);
}

static enum wd_err tx_unrevoke(struct store_txn *t, void *arg)
{
    return certs_unrevoke(t, ((struct cert_op *)arg)->r.fp);
}

static enum wd_err tx_check(struct store_txn *t, void *arg)
{
    struct cert_op *o = arg;
    return certs_check(t, o->user, o->r.fp, &o->v);
}

static enum wd_err tx_certs(struct store_txn *t, void *arg)
{
    struct cert_op *o = arg;
    return certs_list(t, o->kind, o->user, &o->list, &o->n);
}

/* Pins and revocations move the generation and decide the connect-time
 * verdict; sightings keep their first-seen time and move nothing. */
static void test_certs(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    struct user u = {.name = "alice", .enabled = true, .note = ""};
    assert_int_equal(store_write(s, tx_user_add, &u), WD_OK);
    struct cert_op a = {.r = {.kind = CERTREC_PIN, .user = "alice", .subject = "CN=alice",
                              .actor = "root", .created = 1}};
    struct cert_op other = a;
    memset(a.r.fp, 1, CERT_FP_LEN);
    memset(other.r.fp, 2, CERT_FP_LEN);
    /* No pins: any certificate of the identity will do. */
    a.user = "alice";
    assert_int_equal(store_read(s, tx_check, &a), WD_OK);
    assert_int_equal(a.v, CERT_VERDICT_OK);
    uint64_t g = generation(s);
    assert_int_equal(store_write(s, tx_pin, &a), WD_OK);
    assert_true(generation(s) > g);
    assert_int_equal(store_write(s, tx_pin, &a), WD_EEXIST);
    struct cert_op nobody = a;
    nobody.r.user = "bob";
    assert_int_equal(store_write(s, tx_pin, &nobody), WD_ENOTFOUND);
    assert_non_null(strstr(store_errmsg(s), "unknown user 'bob'"));
    /* Pinned: that certificate passes, another is refused; other users are not affected. */
    assert_int_equal(store_read(s, tx_check, &a), WD_OK);
    assert_int_equal(a.v, CERT_VERDICT_OK);
    other.user = "alice";
    assert_int_equal(store_read(s, tx_check, &other), WD_OK);
    assert_int_equal(other.v, CERT_VERDICT_NOT_PINNED);
    /* Users sorting before, inside and after alice's pins pin nothing. */
    const char *nopins[] = {"alic", "alicea", "al", "bob", "a"};
    for (size_t i = 0; i < sizeof nopins / sizeof nopins[0]; i++) {
        other.user = nopins[i];
        assert_int_equal(store_read(s, tx_check, &other), WD_OK);
        assert_int_equal(other.v, CERT_VERDICT_OK);
    }
    other.user = NULL;
    assert_int_equal(store_read(s, tx_check, &other), WD_OK);
    assert_int_equal(other.v, CERT_VERDICT_OK);
    /* Revoked beats pinned. */
    struct cert_op rv = {.r = {.kind = CERTREC_REVOKED, .reason = "lost", .actor = "root"}};
    memcpy(rv.r.fp, a.r.fp, CERT_FP_LEN);
    g = generation(s);
    assert_int_equal(store_write(s, tx_revoke, &rv), WD_OK);
    assert_true(generation(s) > g);
    assert_int_equal(store_write(s, tx_revoke, &rv), WD_EEXIST);
    assert_int_equal(store_read(s, tx_check, &a), WD_OK);
    assert_int_equal(a.v, CERT_VERDICT_REVOKED);
    struct cert_op bad = rv;
    bad.r.reason = "a\nb";
    memset(bad.r.fp, 9, CERT_FP_LEN);
    assert_int_equal(store_write(s, tx_revoke, &bad), WD_EINVAL);
    assert_int_equal(store_write(s, tx_unrevoke, &rv), WD_OK);
    assert_int_equal(store_write(s, tx_unrevoke, &rv), WD_ENOTFOUND);
    assert_int_equal(store_read(s, tx_check, &a), WD_OK);
    assert_int_equal(a.v, CERT_VERDICT_OK);
    /* Sightings: no generation move; first seen kept, the rest updated. */
    struct cert_op seen = {.r = {.kind = CERTREC_SEEN, .identity = "alice", .subject = "CN=alice",
                                 .issuer = "CN=CA", .not_after = 50, .created = 10,
                                 .last_seen = 10}};
    memcpy(seen.r.fp, a.r.fp, CERT_FP_LEN);
    g = generation(s);
    struct backend_ops ops;
    store_backend_ops(s, &ops);
    assert_int_equal(ops.cert_seen(ops.ctx, &seen.r), WD_OK);
    seen.r.created = seen.r.last_seen = 20;
    seen.r.not_after = 60;
    assert_int_equal(ops.cert_seen(ops.ctx, &seen.r), WD_OK);
    assert_int_equal(generation(s), g);
    struct cert_rec *v;
    size_t n;
    assert_int_equal(ops.certs_list(ops.ctx, CERTREC_SEEN, &v, &n), WD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].created, 10);
    assert_int_equal(v[0].last_seen, 20);
    assert_int_equal(v[0].not_after, 60);
    backend_certs_free(v, n);
    enum cert_verdict verdict;
    assert_int_equal(ops.cert_check(ops.ctx, "alice", other.r.fp, &verdict), WD_OK);
    assert_int_equal(verdict, CERT_VERDICT_NOT_PINNED);
    /* Lists by kind and user. */
    struct cert_op l = {.kind = CERTREC_PIN, .user = "alice"};
    assert_int_equal(store_read(s, tx_certs, &l), WD_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.list[0].user, "alice");
    backend_certs_free(l.list, l.n);
    /* The store checks out; a pin of a user that is gone does not. */
    size_t problems = 0;
    assert_int_equal(store_verify(s, NULL, NULL, &problems), WD_OK);
    assert_int_equal(problems, 0);
    assert_int_equal(store_write(s, tx_unpin, &a), WD_OK);
    assert_int_equal(store_write(s, tx_unpin, &a), WD_ENOTFOUND);
    assert_int_equal(store_write(s, tx_pin, &a), WD_OK);
    struct del_arg del = {.name = "alice"};
    assert_int_equal(store_write(s, tx_user_del, &del), WD_OK);
    struct seen rep = {0};
    assert_int_equal(store_verify(s, on_problem, &rep, &problems), WD_OK);
    assert_int_equal(problems, 1);
    assert_non_null(strstr(rep.last, "pin of unknown user 'alice'"));
    store_close(s);
}

static void test_backend_ops(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    struct backend_ops ops;
    store_backend_ops(s, &ops);
    struct user u = {.name = "alice", .hash = "$6$a$b", .enabled = true, .note = ""};
    assert_int_equal(store_write(s, tx_user_add, &u), WD_OK);
    uint64_t g;
    assert_int_equal(ops.generation(ops.ctx, &g), WD_OK);
    struct user *d;
    assert_int_equal(ops.user_get(ops.ctx, "alice", &d), WD_OK);
    backend_user_free(d);
    assert_int_equal(ops.user_get(ops.ctx, "bob", &d), WD_ENOTFOUND);
    struct role *r;
    assert_int_equal(ops.role_get(ops.ctx, ROLE_DEFAULT, &r), WD_OK);
    backend_role_free(r);
    /* Login bookkeeping (re-hash) does not move the generation. */
    assert_int_equal(ops.user_login(ops.ctx, "alice", 1234, "$argon2id$new"), WD_OK);
    uint64_t g2;
    assert_int_equal(ops.generation(ops.ctx, &g2), WD_OK);
    assert_int_equal(g2, g);
    assert_int_equal(ops.user_get(ops.ctx, "alice", &d), WD_OK);
    assert_int_equal(d->last_login, 1234);
    assert_string_equal(d->hash, "$argon2id$new");
    backend_user_free(d);
    struct binding *b;
    struct ban *bn;
    size_t n;
    assert_int_equal(ops.bindings_list(ops.ctx, &b, &n), WD_OK);
    assert_int_equal(n, 0);
    backend_bindings_free(b, n);
    assert_int_equal(ops.bans_list(ops.ctx, &bn, &n), WD_OK);
    backend_bans_free(bn, n);
    assert_int_equal(ops.audit(ops.ctx, "broker", "login", "alice", "ok"), WD_OK);
    store_close(s);
}

/* ---------------------------------------------------------------- DB_TOKENS */

static enum wd_err tx_issuer_add(struct store_txn *t, void *arg)
{
    return tokens_issuer_add(t, arg);
}

static enum wd_err tx_token_revoke(struct store_txn *t, void *arg)
{
    return tokens_revoke(t, arg);
}

static enum wd_err tx_issuer_del(struct store_txn *t, void *arg)
{
    return tokens_issuer_del(t, arg);
}

static bool never_valid(const uint8_t *text, size_t len)
{
    (void)text;
    (void)len;
    return false;
}

/* Issuers, revocations and signing keys: records, rules, the backend ops. */
static void test_tokens(void **state)
{
    (void)state;
    /* Records round trip; a truncated or trailing byte is malformed. */
    uint8_t secret[] = {0, 1, 2, 0, 255};
    struct token_issuer is = {.name = "idp", .iss = "https://idp", .audience = "mqtt",
                              .kind = TOKEN_ISSUER_HS256, .path = "", .mat = secret,
                              .mat_len = sizeof secret, .created = 5, .updated = 6};
    uint8_t *enc;
    size_t len;
    assert_int_equal(record_encode_issuer(&is, &enc, &len), WD_OK);
    uint8_t key[] = {RECORD_TOKEN_ISSUER, 'i', 'd', 'p'};
    struct token_issuer d;
    assert_int_equal(record_decode_issuer(key, sizeof key, enc, len, &d), WD_OK);
    assert_string_equal(d.name, "idp");
    assert_string_equal(d.iss, "https://idp");
    assert_int_equal(d.mat_len, sizeof secret);
    assert_memory_equal(d.mat, secret, sizeof secret);
    assert_int_equal(d.updated, 6);
    backend_issuer_fini(&d);
    assert_int_equal(record_decode_issuer(key, sizeof key, enc, len - 1, &d), WD_EMALFORMED);
    key[0] = RECORD_TOKEN_REVOKED;
    assert_int_equal(record_decode_issuer(key, sizeof key, enc, len, &d), WD_EMALFORMED);
    wd_free(enc);

    struct store *s = open_store(NULL);
    struct backend_ops ops;
    store_backend_ops(s, &ops);
    uint64_t g0 = generation(s);
    assert_int_equal(store_write(s, tx_issuer_add, &is), WD_OK);
    assert_true(generation(s) > g0);
    /* A second issuer with the same iss, or the same name, is refused. */
    struct token_issuer dup = is;
    dup.name = "other";
    assert_int_equal(store_write(s, tx_issuer_add, &dup), WD_EEXIST);
    dup.name = "idp";
    dup.iss = "https://elsewhere";
    assert_int_equal(store_write(s, tx_issuer_add, &dup), WD_EEXIST);
    dup.name = "";
    assert_int_equal(store_write(s, tx_issuer_add, &dup), WD_EINVAL);
    struct token_issuer *found;
    assert_int_equal(ops.token_issuer_find(ops.ctx, "https://idp", &found), WD_OK);
    assert_string_equal(found->name, "idp");
    backend_issuer_free(found);
    assert_int_equal(ops.token_issuer_find(ops.ctx, "https://nope", &found), WD_ENOTFOUND);
    /* The SIGHUP reload leaves non-JWKS issuers (and invalid files) alone. */
    size_t n = 99;
    assert_int_equal(ops.token_issuers_reload(ops.ctx, never_valid, &n), WD_OK);
    assert_int_equal(n, 0);

    /* Revocations: in force until `until`, for ever with 0; ended ones are dropped. */
    struct token_revoked r1 = {"jti-1", 2000, 1000, "admin"};
    struct token_revoked r2 = {"jti-2", 0, 1000, "admin"};
    assert_int_equal(store_write(s, tx_token_revoke, &r1), WD_OK);
    assert_int_equal(store_write(s, tx_token_revoke, &r2), WD_OK);
    bool rv;
    assert_int_equal(ops.token_revoked(ops.ctx, "jti-1", 1999, &rv), WD_OK);
    assert_true(rv);
    assert_int_equal(ops.token_revoked(ops.ctx, "jti-1", 2000, &rv), WD_OK);
    assert_false(rv);
    assert_int_equal(ops.token_revoked(ops.ctx, "jti-2", INT64_MAX, &rv), WD_OK);
    assert_true(rv);
    assert_int_equal(ops.token_revoked(ops.ctx, "jti-3", 0, &rv), WD_OK);
    assert_false(rv);
    struct token_revoked r3 = {"jti-3", 3000, 2500, "admin"}; /* purges jti-1 (ended) */
    assert_int_equal(store_write(s, tx_token_revoke, &r3), WD_OK);
    struct token_revoked bad = {"", 0, 1, "admin"};
    assert_int_equal(store_write(s, tx_token_revoke, &bad), WD_EINVAL);
    bad = (struct token_revoked){"x", 5, 10, "admin"}; /* until before now */
    assert_int_equal(store_write(s, tx_token_revoke, &bad), WD_EINVAL);

    /* Signing keys: the first candidate is kept, later ones are ignored. */
    struct token_signing k1 = {.kid = "k1", .created = 7}, k2 = {.kid = "k2"}, out;
    memset(k1.ed_sk, 0xAB, sizeof k1.ed_sk);
    assert_int_equal(ops.token_signing(ops.ctx, NULL, &out), WD_ENOTFOUND);
    assert_int_equal(ops.token_signing(ops.ctx, &k1, &out), WD_OK);
    assert_string_equal(out.kid, "k1");
    assert_int_equal(ops.token_signing(ops.ctx, &k2, &out), WD_OK);
    assert_string_equal(out.kid, "k1");
    assert_memory_equal(out.ed_sk, k1.ed_sk, sizeof k1.ed_sk);

    /* Every record decodes; then delete the issuer. */
    size_t problems = 9;
    assert_int_equal(store_verify(s, on_problem, NULL, &problems), WD_OK);
    assert_int_equal(problems, 0);
    assert_int_equal(store_write(s, tx_issuer_del, "idp"), WD_OK);
    assert_int_equal(store_write(s, tx_issuer_del, "idp"), WD_ENOTFOUND);
    store_close(s);
}

/* Introspection issuers: the V2 record's fields, V1 records still read, the rules. */
static void test_introspect_issuer(void **state)
{
    (void)state;
    uint8_t secret[] = {'s', 'e', 'c'};
    struct token_issuer is = {.name = "idp", .iss = "https://as/introspect", .audience = "",
                              .kind = TOKEN_ISSUER_INTROSPECT, .path = "/ca.pem", .mat = secret,
                              .mat_len = sizeof secret, .created = 5, .updated = 6,
                              .url = "https://as/introspect", .client_id = "warden",
                              .cache = 300};
    uint8_t *enc;
    size_t len;
    assert_int_equal(record_encode_issuer(&is, &enc, &len), WD_OK);
    assert_int_equal(enc[0], RECORD_ISSUER_V2);
    uint8_t key[] = {RECORD_TOKEN_ISSUER, 'i', 'd', 'p'};
    struct token_issuer d;
    assert_int_equal(record_decode_issuer(key, sizeof key, enc, len, &d), WD_OK);
    assert_int_equal(d.kind, TOKEN_ISSUER_INTROSPECT);
    assert_string_equal(d.url, "https://as/introspect");
    assert_string_equal(d.client_id, "warden");
    assert_int_equal(d.cache, 300);
    assert_string_equal(d.path, "/ca.pem");
    assert_memory_equal(d.mat, secret, sizeof secret);
    backend_issuer_fini(&d);
    wd_free(enc);

    /* A V1 record (before introspection) is the V2 one without its last three fields. */
    struct token_issuer old = {.name = "old", .iss = "https://old", .audience = "",
                               .kind = TOKEN_ISSUER_HS256, .path = "", .mat = secret,
                               .mat_len = sizeof secret, .created = 1, .updated = 2};
    assert_int_equal(record_encode_issuer(&old, &enc, &len), WD_OK);
    enc[0] = RECORD_ISSUER_V1;
    assert_int_equal(record_decode_issuer(key, sizeof key, enc, len - 12, &d), WD_OK);
    assert_string_equal(d.iss, "https://old");
    assert_string_equal(d.url, "");
    assert_int_equal(d.cache, 0);
    backend_issuer_fini(&d);
    /* An introspection kind without a URL, or a URL on another kind: malformed. */
    enc[0] = RECORD_ISSUER_V2;
    assert_int_equal(record_decode_issuer(key, sizeof key, enc, len, &d), WD_OK);
    backend_issuer_fini(&d);
    wd_free(enc);
    old.kind = TOKEN_ISSUER_INTROSPECT;
    assert_int_equal(record_encode_issuer(&old, &enc, &len), WD_OK);
    assert_int_equal(record_decode_issuer(key, sizeof key, enc, len, &d), WD_EMALFORMED);
    wd_free(enc);

    struct store *s = open_store(NULL);
    struct backend_ops ops;
    store_backend_ops(s, &ops);
    /* Only https, with a client id and a cache duration. */
    struct token_issuer bad = is;
    bad.url = "http://as/introspect";
    assert_int_equal(store_write(s, tx_issuer_add, &bad), WD_EINVAL);
    bad = is;
    bad.client_id = "";
    assert_int_equal(store_write(s, tx_issuer_add, &bad), WD_EINVAL);
    bad = is;
    bad.cache = 0;
    assert_int_equal(store_write(s, tx_issuer_add, &bad), WD_EINVAL);
    assert_int_equal(store_write(s, tx_issuer_add, &is), WD_OK);
    old.kind = TOKEN_ISSUER_HS256;
    old.name = "a-old";
    assert_int_equal(store_write(s, tx_issuer_add, &old), WD_OK);
    /* The list op: every issuer, in name order. */
    struct token_issuer *v;
    size_t n;
    assert_int_equal(ops.token_issuers_list(ops.ctx, &v, &n), WD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "a-old");
    assert_string_equal(v[1].name, "idp");
    assert_string_equal(v[1].client_id, "warden");
    for (size_t i = 0; i < n; i++)
        backend_issuer_fini(&v[i]);
    wd_free(v);
    size_t problems = 9;
    assert_int_equal(store_verify(s, on_problem, NULL, &problems), WD_OK);
    assert_int_equal(problems, 0);
    store_close(s);
}

static enum wd_err tx_import(struct store_txn *t, void *arg)
{
    struct importer_counts c;
    enum wd_err e = importer_apply(t, arg, true, &c);
    if (e == WD_OK) {
        assert_int_equal(c.users, 3);
        assert_int_equal(c.users_acl_only, 1);
        assert_int_equal(c.roles, 1);
        assert_int_equal(c.bindings, 1);
    }
    return e;
}

/* A hand-built struct import (what store/import.c produces) lands as issue 3 maps it. */
static void test_importer(void **state)
{
    (void)state;
    struct store *s = open_store(NULL);
    struct import_rule role_rules[] = {
        {IMPORT_SCOPE_ROLE, NULL, true, IMPORT_PUBLISH, "plant/#", 5, 0}};
    char *alice_roles[] = {"sensors", "default"};
    struct import_role roles[] = {{"sensors", NULL, "sensor devices", role_rules, 1}};
    struct import_user users[] = {
        {"alice", "$7$101$c2FsdA==$aGFzaA==", "Alice", NULL, "gw-1", false, alice_roles, 2, 1},
        {"bob", "$6$salt$hash", NULL, NULL, NULL, true, NULL, 0, 2}};
    struct import_rule acl[] = {
        {IMPORT_SCOPE_ANON, NULL, true, IMPORT_SUBSCRIBE | IMPORT_RECEIVE, "public/#", 0, 1},
        {IMPORT_SCOPE_USER, "alice", false, IMPORT_ALL, "home/secret", 0, 3},
        {IMPORT_SCOPE_USER, "carol", true, IMPORT_PUBLISH, "carol/out", 0, 5},
        {IMPORT_SCOPE_PATTERN, NULL, true, IMPORT_RECEIVE, "devices/%u/#", 0, 7}};
    char *anon_roles[] = {"sensors"};
    struct import imp;
    memset(&imp, 0, sizeof imp);
    imp.users = users;
    imp.nusers = 2;
    imp.roles = roles;
    imp.nroles = 1;
    imp.rules = acl;
    imp.nrules = 4;
    imp.anon_roles = anon_roles;
    imp.nanon_roles = 1;
    imp.default_acl = (struct import_default_acl){true, false, true, false, true};
    assert_int_equal(store_write(s, tx_import, &imp), WD_OK);

    struct user *a = get_user(s, "alice");
    assert_non_null(a);
    assert_string_equal(a->hash, users[0].hash);
    assert_int_equal(a->nroles, 1);          /* "default" is implicit */
    assert_string_equal(a->roles[0], "sensors");
    assert_string_equal(a->note, "Alice");
    assert_int_equal(a->nrules, 1);
    assert_int_equal(a->rules[0].effect, RULE_DENY);
    backend_user_free(a);
    struct user *b = get_user(s, "bob");
    assert_false(b->enabled);
    backend_user_free(b);
    struct user *c = get_user(s, "carol");
    assert_null(c->hash);
    assert_string_equal(c->rules[0].filter, "carol/out");
    backend_user_free(c);
    struct role *r = get_role(s, ROLE_ANONYMOUS);
    assert_int_equal(r->nrules, 2);            /* the anonymousGroup's role, then the acl_file */
    assert_string_equal(r->rules[0].filter, "plant/#");
    assert_string_equal(r->rules[1].filter, "public/#");
    backend_role_free(r);
    r = get_role(s, ROLE_DEFAULT);
    assert_int_equal(r->nrules, 2);            /* the pattern, then "allow receive #" */
    assert_string_equal(r->rules[0].filter, "devices/%u/#");
    assert_int_equal(r->rules[1].actions, RULE_RECEIVE);
    assert_string_equal(r->rules[1].filter, "#");
    backend_role_free(r);
    struct list_arg l = {0};
    assert_int_equal(store_read(s, tx_bind_list, &l), WD_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.b[0].pattern, "gw-1");
    backend_bindings_free(l.b, l.n);

    /* Again: every name collides, and nothing of the second attempt stays. */
    uint64_t g = generation(s);
    assert_int_equal(store_write(s, tx_import, &imp), WD_EEXIST);
    assert_non_null(strstr(store_errmsg(s), "already exists"));
    assert_int_equal(generation(s), g);
    store_close(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_record_roundtrip),
        T(test_rules_helpers),
        T(test_cidr),
        T(test_open_permissions),
        T(test_user_role_roundtrip),
        T(test_role_delete),
        T(test_bindings),
        T(test_bans),
        T(test_audit_ring),
        T(test_failed_write_changes_nothing),
        T(test_map_full_growth),
        T(test_map_resized_by_other_process),
        T(test_migration_from_v1),
        T(test_newer_schema_refused),
        T(test_migration_from_v2),
        T(test_role_on_deny),
        T(test_corrupt_record),
        T(test_backup),
        T(test_record_cert),
        T(test_certs),
        T(test_backend_ops),
        T(test_importer),
        T(test_tokens),
        T(test_introspect_issuer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
