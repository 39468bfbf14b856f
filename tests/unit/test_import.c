/*
 * test_import.c - unit tests for store/import.c: Mosquitto password file,
 * acl_file and dynamic-security JSON, written by hand as strings.
 *
 * Every malformed case is one table row (file text, the line or path the
 * message must name, a word of the reason) and runs twice: strict (fails with
 * WD_EMALFORMED naming FILE:LINE) and with IMPORT_SKIP_BAD (the bad line is
 * counted and the good ones around it still arrive). Each test ends with
 * mem_in_use() == 0, and the valid files are re-imported with every
 * allocation failing once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "../../store/import.h"
#include "mem.h"
#include "pw.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Lines from Debian 12's mosquitto_passwd 2.0.11 (see test_pw.c). */
#define H6_ALICE                                                                                   \
    "$6$1uNX+a83zwIN38N7$726f7LHB8GLEOtbnegR8OFB32MCU37m7I4aXA/34XT61h1E3XsfwdhyA6q8hjWSCKkId29F"  \
    "3F1F/uLNQnyFT8g=="
#define H7_CAROL_SALT "pWxifqmXVPmjEkey"
#define H7_CAROL_HASH                                                                              \
    "v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBnMaCdFUHQLOGZfzgI/LlEY/C/Iy02ywAA=="
#define H7_CAROL "$7$101$" H7_CAROL_SALT "$" H7_CAROL_HASH
#define ARGON2                                                                                     \
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"                                       \
    "wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA"

static int check_clean(void **state)
{
    (void)state;
    assert_int_equal(mem_in_use(), 0);
    return 0;
}

/* ---- password file --------------------------------------------------------------------- */

static const char passwd_ok[] = "# made by mosquitto_passwd\n"
                                "\n"
                                "alice:" H6_ALICE "\n"
                                "  carol  :  " H7_CAROL "  \r\n"
                                "\t# indented comment\n"
                                "dev ice:" ARGON2; /* no final newline */

static void test_passwd_ok(void **state)
{
    (void)state;
    struct import imp;
    import_init(&imp);
    assert_int_equal(import_passwd(&imp, "pw", passwd_ok, sizeof passwd_ok - 1, 0), WD_OK);
    assert_int_equal(imp.nusers, 3);
    assert_string_equal(imp.users[0].name, "alice");
    assert_string_equal(imp.users[0].hash, H6_ALICE);
    assert_int_equal(imp.users[0].line, 3);
    assert_string_equal(imp.users[1].name, "carol");
    assert_string_equal(imp.users[1].hash, H7_CAROL);
    assert_int_equal(imp.users[1].line, 4);
    assert_string_equal(imp.users[2].name, "dev ice");
    assert_string_equal(imp.users[2].hash, ARGON2);
    assert_int_equal(imp.users[2].nroles, 0);
    assert_null(imp.users[2].textname);
    assert_int_equal(imp.skipped, 0);
    assert_string_equal(imp.err, "");
    /* The imported hashes verify with the original passwords. */
    assert_int_equal(pw_verify(imp.users[0].hash, "correct horse", 13), PW_MATCH);
    assert_int_equal(pw_verify(imp.users[1].hash, "Tr0ub4dor&3", 11), PW_MATCH);
    import_fini(&imp);

    /* Empty file and comments only. */
    assert_int_equal(import_passwd(&imp, "pw", "", 0, 0), WD_OK);
    assert_int_equal(import_passwd(&imp, "pw", "#x\n\n   \n", 8, 0), WD_OK);
    assert_int_equal(imp.nusers, 0);
    import_fini(&imp);
}

struct bad_row {
    const char *text; /* the file */
    const char *where; /* expected start of imp->err */
    const char *why;  /* a word of the reason */
    size_t good;      /* users (or rules) that survive with IMPORT_SKIP_BAD */
};

static const struct bad_row passwd_bad[] = {
    {"alice:" H6_ALICE "\nbob\n", "pw:2:", "no ':'", 1},
    {":" H6_ALICE "\n", "pw:1:", "empty user name", 0},
    {"   :" H6_ALICE "\n", "pw:1:", "empty user name", 0},
    {"bob:\n", "pw:1:", "empty password hash", 0},
    {"bob:   \nalice:" H6_ALICE "\n", "pw:1:", "empty password hash", 1},
    {"bob:" H6_ALICE ":x\n", "pw:1:", "more than one", 0},
    {"bob:secretpassword\n", "pw:1:", "not a Mosquitto", 0},
    {"bob:$6$abc$def\n", "pw:1:", "not a Mosquitto", 0},
    {"bob:$7$0$" H7_CAROL_SALT "$" H7_CAROL_HASH "\n", "pw:1:", "not a Mosquitto", 0},
    {"bob:$7$101$" H7_CAROL_SALT "$" H7_CAROL_HASH "x\n", "pw:1:", "not a Mosquitto", 0},
    {"bob:$argon2id$v=19$m=19456\n", "pw:1:", "not a Mosquitto", 0},
    {"alice:" H6_ALICE "\n#\nalice:" H7_CAROL "\n", "pw:3:",
     "duplicate user 'alice' (first on line 1)", 1},
    {"\xff\xfe:" H6_ALICE "\n", "pw:1:", "UTF-8", 0},
    {"a\xc0\x80:" H6_ALICE "\n", "pw:1:", "UTF-8", 0},
};

/* Run one bad row strictly and with IMPORT_SKIP_BAD through parse. */
static void run_bad(const struct bad_row *r, size_t i,
                    enum wd_err (*parse)(struct import *, const char *, const char *, size_t,
                                         unsigned),
                    const char *file, bool count_rules)
{
    struct import imp;
    import_init(&imp);
    size_t len = strlen(r->text);
    enum wd_err rc = parse(&imp, file, r->text, len, 0);
    if (rc != WD_EMALFORMED || strncmp(imp.err, r->where, strlen(r->where)) != 0 ||
        !strstr(imp.err, r->why)) {
        fprintf(stderr, "row %zu: rc %s, err \"%s\", want \"%s ... %s\"\n", i, wd_errname(rc),
                imp.err, r->where, r->why);
        fail();
    }
    import_fini(&imp);

    rc = parse(&imp, file, r->text, len, IMPORT_SKIP_BAD);
    size_t got = count_rules ? imp.nrules + imp.nroles : imp.nusers;
    if (rc != WD_OK || imp.skipped < 1 || got != r->good ||
        strncmp(imp.err, r->where, strlen(r->where)) != 0) {
        fprintf(stderr, "row %zu (skip): rc %s, skipped %zu, kept %zu (want %zu), err \"%s\"\n",
                i, wd_errname(rc), imp.skipped, got, r->good, imp.err);
        fail();
    }
    import_fini(&imp);
}

static void test_passwd_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(passwd_bad); i++)
        run_bad(&passwd_bad[i], i, import_passwd, "pw", false);

    /* A plain-text password never reaches the message. */
    struct import imp;
    import_init(&imp);
    static const char plain[] = "bob:hunter2-very-secret\n";
    assert_int_equal(import_passwd(&imp, "pw", plain, sizeof plain - 1, 0), WD_EMALFORMED);
    assert_null(strstr(imp.err, "hunter2"));
    import_fini(&imp);

    /* A NUL byte inside a hash. */
    static const char nul[] = "bob:" H6_ALICE "\0x\n";
    assert_int_equal(import_passwd(&imp, "pw", nul, sizeof nul - 1, 0), WD_EMALFORMED);
    import_fini(&imp);

    /* Skipping counts every bad line and keeps the first message. */
    static const char many[] = "a\nb:" H6_ALICE "\nc:x\nd\n";
    assert_int_equal(import_passwd(&imp, "pw", many, sizeof many - 1, IMPORT_SKIP_BAD), WD_OK);
    assert_int_equal(imp.skipped, 3);
    assert_int_equal(imp.nusers, 1);
    assert_string_equal(imp.users[0].name, "b");
    assert_true(strncmp(imp.err, "pw:1:", 5) == 0);
    import_fini(&imp);
}

/* Names are unique across files: a second file repeating a user fails. */
static void test_passwd_across_files(void **state)
{
    (void)state;
    struct import imp;
    import_init(&imp);
    static const char a[] = "alice:" H6_ALICE "\n";
    assert_int_equal(import_passwd(&imp, "one", a, sizeof a - 1, 0), WD_OK);
    assert_int_equal(import_passwd(&imp, "two", a, sizeof a - 1, 0), WD_EMALFORMED);
    assert_true(strncmp(imp.err, "two:1: duplicate user", 21) == 0);
    import_fini(&imp);

    /* Many users: the index grows and still finds every duplicate. */
    size_t n = 3000, cap = n * 120;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(big + len, cap - len, "user%zu:%s\n", i, H6_ALICE);
    assert_int_equal(import_passwd(&imp, "big", big, len, 0), WD_OK);
    assert_int_equal(imp.nusers, n);
    len = (size_t)snprintf(big, cap, "x:%s\nuser2999:%s\n", H6_ALICE, H6_ALICE);
    assert_int_equal(import_passwd(&imp, "again", big, len, 0), WD_EMALFORMED);
    assert_string_equal(imp.err, "again:2: duplicate user 'user2999' (first on line 3000)");
    free(big);
    import_fini(&imp);
}

/* ---- acl_file -------------------------------------------------------------------------- */

static const char acl_ok[] = "# anonymous clients\n"
                             "topic read public/#\n"
                             "topic deny public/secret\n"
                             "\n"
                             "user alice\n"
                             "topic write alice/out\n"
                             "topic alice/both\n"
                             "topic readwrite   with spaces/in it  \n"
                             "topic read\n"
                             "pattern write devices/%u/%c/status\n"
                             "pattern deny $SYS/#\n"
                             "user bob smith\r\n"
                             "  topic  deny  +/private\n"
                             "topic read $SYS/broker/load/#\n"
                             "user alice\n"
                             "topic deny alice/#\n";

struct want_rule {
    enum import_scope scope;
    const char *user;
    bool allow;
    unsigned actions;
    const char *filter;
    unsigned line;
};

static void check_rules(const struct import *imp, const struct want_rule *w, size_t n)
{
    assert_int_equal(imp->nrules, n);
    for (size_t i = 0; i < n; i++) {
        const struct import_rule *r = &imp->rules[i];
        if (r->scope != w[i].scope || (w[i].user ? !r->user || strcmp(r->user, w[i].user) != 0
                                                 : r->user != NULL) ||
            r->allow != w[i].allow || r->actions != w[i].actions ||
            strcmp(r->filter, w[i].filter) != 0 || r->line != w[i].line || r->priority != 0) {
            fprintf(stderr, "rule %zu: scope %d user %s allow %d actions %u filter '%s' line %u\n",
                    i, r->scope, r->user ? r->user : "-", r->allow, r->actions, r->filter,
                    r->line);
            fail();
        }
    }
}

static void test_acl_ok(void **state)
{
    (void)state;
    struct import imp;
    import_init(&imp);
    assert_int_equal(import_acl(&imp, "acl", acl_ok, sizeof acl_ok - 1, 0), WD_OK);
    const unsigned RD = IMPORT_SUBSCRIBE | IMPORT_RECEIVE;
    /* Deny rules first, each class in file order. */
    const struct want_rule want[] = {
        {IMPORT_SCOPE_ANON, NULL, false, IMPORT_ALL, "public/secret", 3},
        {IMPORT_SCOPE_PATTERN, NULL, false, IMPORT_ALL, "$SYS/#", 11},
        {IMPORT_SCOPE_USER, "bob smith", false, IMPORT_ALL, "+/private", 13},
        {IMPORT_SCOPE_USER, "alice", false, IMPORT_ALL, "alice/#", 16},
        {IMPORT_SCOPE_ANON, NULL, true, RD, "public/#", 2},
        {IMPORT_SCOPE_USER, "alice", true, IMPORT_PUBLISH, "alice/out", 6},
        {IMPORT_SCOPE_USER, "alice", true, IMPORT_ALL, "alice/both", 7},
        {IMPORT_SCOPE_USER, "alice", true, IMPORT_ALL, "with spaces/in it", 8},
        {IMPORT_SCOPE_USER, "alice", true, IMPORT_ALL, "read", 9}, /* Mosquitto's reading */
        {IMPORT_SCOPE_PATTERN, NULL, true, IMPORT_PUBLISH, "devices/%u/%c/status", 10},
        {IMPORT_SCOPE_USER, "bob smith", true, RD, "$SYS/broker/load/#", 14},
    };
    check_rules(&imp, want, COUNT(want));
    assert_int_equal(imp.nusers, 0); /* acl_file users are not created here */
    import_fini(&imp);
}

static const struct bad_row acl_bad[] = {
    {"topic read a\nfoo bar\n", "acl:2:", "unknown keyword 'foo'", 1},
    {"Topic read a\n", "acl:1:", "unknown keyword", 0},
    {"topic\n", "acl:1:", "missing topic filter", 0},
    {"topic   \t \n", "acl:1:", "missing topic filter", 0},
    {"pattern\n", "acl:1:", "missing topic filter", 0},
    {"topic rw a/b\n", "acl:1:", "unknown access 'rw'", 0},
    {"topic READ a/b\n", "acl:1:", "unknown access", 0},
    {"topic read a/#/b\n", "acl:1:", "invalid topic filter", 0},
    {"topic read a+\n", "acl:1:", "invalid topic filter", 0},
    {"topic a/b#\n", "acl:1:", "invalid topic filter", 0},
    {"pattern read a/%u+\n", "acl:1:", "invalid topic filter", 0},
    {"topic read a/%u\n", "acl:1:", "use `pattern`", 0},
    {"topic read a/%c/x\n", "acl:1:", "use `pattern`", 0},
    {"pattern read a/%cn\n", "acl:1:", "%cn", 0},
    {"topic read a/\xc3\n", "acl:1:", "UTF-8", 0},
    {"topic read a/\xed\xa0\x80\n", "acl:1:", "UTF-8", 0},
    {"user\ntopic a\n", "acl:1:", "missing user name", 0},
    {"user   \n", "acl:1:", "missing user name", 0},
    {"user \xff\n", "acl:1:", "UTF-8", 0},
    /* The rules of a skipped user line are dropped, not given to someone else. */
    {"user alice\ntopic a\nuser \xff\ntopic b\npattern c/%u\nuser bob\ntopic d\n", "acl:3:",
     "UTF-8", 3},
};

static void test_acl_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(acl_bad); i++)
        run_bad(&acl_bad[i], i, import_acl, "acl", true);

    struct import imp;
    import_init(&imp);
    static const char skip[] =
        "user alice\ntopic a\nuser \xff\ntopic b\ntopic c\nuser bob\ntopic d\n";
    assert_int_equal(import_acl(&imp, "acl", skip, sizeof skip - 1, IMPORT_SKIP_BAD), WD_OK);
    assert_int_equal(imp.skipped, 3); /* the user line and its two rules */
    assert_int_equal(imp.nrules, 2);
    assert_string_equal(imp.rules[0].user, "alice");
    assert_string_equal(imp.rules[1].user, "bob");
    import_fini(&imp);

    static const char nul[] = "topic read a\0b\n";
    assert_int_equal(import_acl(&imp, "acl", nul, sizeof nul - 1, 0), WD_EMALFORMED);
    assert_string_equal(imp.err, "acl:1: NUL byte");
    import_fini(&imp);

    /* A very long filter is refused, not truncated. */
    size_t n = 70000;
    char *big = malloc(n + 16);
    assert_non_null(big);
    memcpy(big, "topic read ", 11);
    memset(big + 11, 'a', n);
    assert_int_equal(import_acl(&imp, "acl", big, n + 11, 0), WD_EMALFORMED);
    assert_non_null(strstr(imp.err, "too long"));
    free(big);
    import_fini(&imp);
}

/* ---- dynamic-security JSON ------------------------------------------------------------- */

static const char dynsec_ok[] =
    "{\n"
    "  \"defaultACLAccess\": {\"publishClientSend\": false, \"publishClientReceive\": true,\n"
    "                       \"subscribe\": false, \"unsubscribe\": true},\n"
    "  \"clients\": [\n"
    "    {\"username\": \"carol\", \"textname\": \"Carol\", \"textdescription\": \"ops\",\n"
    "     \"clientid\": \"carol-1\",\n"
    "     \"password\": \"" H7_CAROL_HASH "\", \"salt\": \"" H7_CAROL_SALT "\",\n"
    "     \"iterations\": 101,\n"
    "     \"roles\": [{\"rolename\": \"low\", \"priority\": 1}, {\"rolename\": \"high\","
    " \"priority\": 5}]},\n"
    "    {\"username\": \"dev\", \"textName\": \"Dev Box\", \"disabled\": true},\n"
    "    {\"username\": \"eve\", \"roles\": []}\n"
    "  ],\n"
    "  \"groups\": [\n"
    "    {\"groupname\": \"g1\", \"roles\": [{\"rolename\": \"low\"}, {\"rolename\": \"mid\","
    " \"priority\": 3}],\n"
    "     \"clients\": [{\"username\": \"carol\"}, {\"username\": \"dev\", \"priority\": 2}]},\n"
    "    {\"groupname\": \"g2\", \"roles\": [{\"rolename\": \"anon\"}],\n"
    "     \"clients\": [{\"username\": \"dev\", \"priority\": 9}]},\n"
    "    {\"groupname\": \"anonymous\", \"roles\": [{\"rolename\": \"anon\"}]}\n"
    "  ],\n"
    "  \"anonymousGroup\": \"anonymous\",\n"
    "  \"roles\": [\n"
    "    {\"rolename\": \"low\", \"textname\": \"Low\", \"acls\": [\n"
    "      {\"acltype\": \"publishClientSend\", \"topic\": \"a/#\", \"priority\": 1, \"allow\": "
    "true},\n"
    "      {\"acltype\": \"subscribePattern\", \"topic\": \"a/+/%u\", \"priority\": 7, \"allow\": "
    "true},\n"
    "      {\"acltype\": \"PUBLISHCLIENTRECEIVE\", \"topic\": \"a/x\", \"allow\": false},\n"
    "      {\"acltype\": \"subscribeLiteral\", \"topic\": \"a/lit\", \"priority\": 1},\n"
    "      {\"acltype\": \"unsubscribePattern\", \"topic\": \"a/#\", \"allow\": true}]},\n"
    "    {\"rolename\": \"mid\"},\n"
    "    {\"rolename\": \"high\", \"acls\": []},\n"
    "    {\"rolename\": \"anon\", \"acls\": [{\"acltype\": \"publishClientReceive\","
    " \"topic\": \"pub/#\", \"allow\": true}]}\n"
    "  ]\n"
    "}\n";

static void check_strv(char **v, size_t n, const char *const *want, size_t wn)
{
    assert_int_equal(n, wn);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i], want[i]);
}

static void test_dynsec_ok(void **state)
{
    (void)state;
    struct import imp;
    import_init(&imp);
    assert_int_equal(import_dynsec(&imp, "ds", dynsec_ok, sizeof dynsec_ok - 1, 0), WD_OK);
    assert_string_equal(imp.err, "");
    assert_true(imp.default_acl.present);
    assert_false(imp.default_acl.publish_send);
    assert_true(imp.default_acl.publish_receive);
    assert_false(imp.default_acl.subscribe);
    assert_true(imp.default_acl.unsubscribe);
    assert_int_equal(imp.ignored, 1); /* the unsubscribe acl */

    assert_int_equal(imp.nroles, 4);
    const struct import_role *low = &imp.roles[0];
    assert_string_equal(low->name, "low");
    assert_string_equal(low->textname, "Low");
    assert_null(low->textdescription);
    assert_int_equal(low->nrules, 4);
    /* Priority descending; publishClientSend (1) before subscribeLiteral (1): file order. */
    const struct {
        const char *filter;
        unsigned actions;
        bool allow;
        int prio;
    } want[] = {
        {"a/+/%u", IMPORT_SUBSCRIBE, true, 7},
        {"a/#", IMPORT_PUBLISH, true, 1},
        {"a/lit", IMPORT_SUBSCRIBE, false, 1}, /* allow defaults to false */
        {"a/x", IMPORT_RECEIVE, false, 0},     /* priority defaults to 0 */
    };
    for (size_t i = 0; i < COUNT(want); i++) {
        assert_string_equal(low->rules[i].filter, want[i].filter);
        assert_int_equal(low->rules[i].actions, want[i].actions);
        assert_int_equal(low->rules[i].allow, want[i].allow);
        assert_int_equal(low->rules[i].priority, want[i].prio);
        assert_int_equal(low->rules[i].scope, IMPORT_SCOPE_ROLE);
        assert_null(low->rules[i].user);
    }
    assert_int_equal(imp.roles[1].nrules, 0);
    assert_int_equal(imp.roles[3].nrules, 1);

    assert_int_equal(imp.nusers, 3);
    const struct import_user *carol = &imp.users[0], *dev = &imp.users[1], *eve = &imp.users[2];
    assert_string_equal(carol->name, "carol");
    assert_string_equal(carol->hash, H7_CAROL);
    assert_int_equal(pw_verify(carol->hash, "Tr0ub4dor&3", 11), PW_MATCH);
    assert_string_equal(carol->textname, "Carol");
    assert_string_equal(carol->textdescription, "ops");
    assert_string_equal(carol->clientid, "carol-1");
    assert_false(carol->disabled);
    /* Own roles by priority (high 5, low 1), then g1's (mid 3, low -1: already there). */
    const char *const carol_roles[] = {"high", "low", "mid"};
    check_strv(carol->roles, carol->nroles, carol_roles, COUNT(carol_roles));
    assert_null(dev->hash);
    assert_true(dev->disabled);
    assert_string_equal(dev->textname, "Dev Box"); /* Mosquitto 2.0 writes camelCase */
    /* Groups by membership priority: g2 (9) before g1 (2). */
    const char *const dev_roles[] = {"anon", "mid", "low"};
    check_strv(dev->roles, dev->nroles, dev_roles, COUNT(dev_roles));
    assert_int_equal(eve->nroles, 0);
    const char *const anon[] = {"anon"};
    check_strv(imp.anon_roles, imp.nanon_roles, anon, COUNT(anon));
    import_fini(&imp);

    /* Minimal files. */
    assert_int_equal(import_dynsec(&imp, "ds", "{}", 2, 0), WD_OK);
    assert_false(imp.default_acl.present);
    assert_true(imp.default_acl.publish_receive); /* Mosquitto's defaults */
    assert_false(imp.default_acl.subscribe);
    import_fini(&imp);
    static const char partial[] = "{\"defaultACLAccess\": {\"subscribe\": true}}";
    assert_int_equal(import_dynsec(&imp, "ds", partial, sizeof partial - 1, 0), WD_OK);
    assert_true(imp.default_acl.subscribe);
    assert_false(imp.default_acl.publish_receive); /* a missing member is false */
    import_fini(&imp);
}

#define PWD "\"password\": \"" H7_CAROL_HASH "\", \"salt\": \"" H7_CAROL_SALT "\""
#define ROLE_R "{\"rolename\": \"r\"}"

static const struct bad_row dynsec_bad[] = {
    {"{\"clients\": [}", "ds:1:", "", 0},
    {"{\"clients\": []\n\n", "ds:3:", "", 0},
    {"", "ds:", "", 0},
    {"[]", "ds: ", "top level is not an object", 0},
    {"{\"a\": 1, \"a\": 2}", "ds:1:", "duplicate", 0},
    {"{\"roles\": {}}", "ds: roles:", "not an array", 0},
    {"{\"clients\": 3}", "ds: clients:", "not an array", 0},
    {"{\"roles\": [" ROLE_R ", 3]}", "ds: roles[1]:", "not an object", 1},
    {"{\"roles\": [" ROLE_R ", {}]}", "ds: roles[1]:", "rolename", 1},
    {"{\"roles\": [" ROLE_R ", {\"rolename\": \"\"}]}", "ds: roles[1]:", "rolename", 1},
    {"{\"roles\": [" ROLE_R ", " ROLE_R "]}", "ds: roles[1]:", "duplicate role 'r'", 1},
    {"{\"roles\": [{\"rolename\": \"r\", \"textname\": 1}]}", "ds: roles[0]:", "textname", 0},
    {"{\"roles\": [{\"rolename\": \"r\", \"acls\": {}}]}", "ds: roles[0]:", "acls", 0},
    {"{\"roles\": [{\"rolename\": \"r\", \"acls\": [1]}]}", "ds: roles[0]: acls[0]:", "object", 0},
    {"{\"roles\": [{\"rolename\": \"r\", \"acls\": [{\"topic\": \"a\"}]}]}", "ds: roles[0]:",
     "acltype", 0},
    {"{\"roles\": [{\"rolename\": \"r\", \"acls\": [{\"acltype\": \"publish\", "
     "\"topic\": \"a\"}]}]}",
     "ds: roles[0]: acls[0]:", "unknown acltype 'publish'", 0},
    {"{\"roles\": [{\"rolename\": \"r\", \"acls\": [{\"acltype\": \"subscribePattern\"}]}]}",
     "ds: roles[0]: acls[0]:", "topic is missing", 0},
    {"{\"roles\": [{\"rolename\": \"r\", \"acls\": [{\"acltype\": \"subscribePattern\", "
     "\"topic\": \"a/#/b\"}]}]}",
     "ds: roles[0]: acls[0]:", "invalid topic filter", 0},
    {"{\"roles\": [{\"rolename\": \"r\", \"acls\": [{\"acltype\": \"subscribePattern\", "
     "\"topic\": \"\"}]}]}",
     "ds: roles[0]: acls[0]:", "empty topic filter", 0},
    {"{\"roles\": [{\"rolename\": \"r\", \"acls\": [{\"acltype\": \"subscribePattern\", "
     "\"topic\": \"a\", \"priority\": \"1\"}]}]}",
     "ds: roles[0]: acls[0]:", "priority", 0},
    {"{\"roles\": [{\"rolename\": \"r\", \"acls\": [{\"acltype\": \"subscribePattern\", "
     "\"topic\": \"a\", \"priority\": 99999999999}]}]}",
     "ds: roles[0]: acls[0]:", "priority", 0},
    {"{\"roles\": [{\"rolename\": \"r\", \"acls\": [{\"acltype\": \"subscribePattern\", "
     "\"topic\": \"a\", \"allow\": 1}]}]}",
     "ds: roles[0]: acls[0]:", "allow", 0},
    {"{\"clients\": [{\"username\": \"a\"}, {}]}", "ds: clients[1]:", "username", 0},
    {"{\"clients\": [{\"username\": \"a\"}, {\"username\": \"a\"}]}", "ds: clients[1]:",
     "duplicate user 'a'", 0},
    {"{\"clients\": [{\"username\": \"a\", \"roles\": [{\"rolename\": \"nope\"}]}]}",
     "ds: clients[0]: roles[0]:", "unknown rolename 'nope'", 0},
    {"{\"clients\": [{\"username\": \"a\", \"roles\": [\"r\"]}]}", "ds: clients[0]: roles[0]",
     "not an object", 0},
    {"{\"clients\": [{\"username\": \"a\", \"password\": \"x\"}]}", "ds: clients[0]:",
     "password needs", 0},
    {"{\"clients\": [{\"username\": \"a\", " PWD ", \"iterations\": 0}]}", "ds: clients[0]:",
     "iterations out of range", 0},
    {"{\"clients\": [{\"username\": \"a\", " PWD ", \"iterations\": \"101\"}]}",
     "ds: clients[0]:", "password needs", 0},
    {"{\"clients\": [{\"username\": \"a\", \"password\": \"!!\", \"salt\": \"" H7_CAROL_SALT
     "\", \"iterations\": 101}]}",
     "ds: clients[0]:", "not a base64", 0},
    {"{\"clients\": [{\"username\": \"a\", \"password\": \"" H7_CAROL_HASH "\", \"salt\": \"a$b\", "
     "\"iterations\": 101}]}",
     "ds: clients[0]:", "not a base64", 0},
    {"{\"clients\": [{\"username\": \"a\", \"disabled\": \"yes\"}]}", "ds: clients[0]:",
     "disabled", 0},
    {"{\"clients\": [{\"username\": \"a\", \"clientid\": \"\"}]}", "ds: clients[0]:", "clientid",
     0},
    {"{\"groups\": [{\"groupname\": \"g\", \"clients\": [{\"username\": \"ghost\"}]}]}",
     "ds: groups[0]: clients[0]:", "unknown username 'ghost'", 0},
    {"{\"groups\": [{\"groupname\": \"g\", \"roles\": [{\"rolename\": \"ghost\"}]}]}",
     "ds: groups[0]: roles[0]:", "unknown rolename", 0},
    {"{\"groups\": [{\"groupname\": \"g\"}, {\"groupname\": \"g\"}]}", "ds: groups[1]:",
     "duplicate group", 0},
    {"{\"groups\": [{}]}", "ds: groups[0]:", "groupname", 0},
    {"{\"anonymousGroup\": \"none\"}", "ds: anonymousGroup:", "names no group", 0},
    {"{\"anonymousGroup\": 1}", "ds: anonymousGroup:", "names no group", 0},
    {"{\"defaultACLAccess\": []}", "ds: defaultACLAccess:", "not an object", 0},
    {"{\"defaultACLAccess\": {\"subscribe\": 1}}", "ds: defaultACLAccess:", "subscribe", 0},
};

static void test_dynsec_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(dynsec_bad); i++) {
        const struct bad_row *r = &dynsec_bad[i];
        struct import imp;
        import_init(&imp);
        enum wd_err rc = import_dynsec(&imp, "ds", r->text, strlen(r->text), 0);
        if (rc != WD_EMALFORMED || strncmp(imp.err, r->where, strlen(r->where)) != 0 ||
            !strstr(imp.err, r->why)) {
            fprintf(stderr, "dynsec row %zu: rc %s, err \"%s\", want \"%s ... %s\"\n", i,
                    wd_errname(rc), imp.err, r->where, r->why);
            fail();
        }
        import_fini(&imp);
    }

    /* With IMPORT_SKIP_BAD a bad entry goes whole; the rest arrives and refers to it not. */
    static const char skip[] =
        "{\"roles\": [{\"rolename\": \"ok\"}, {\"rolename\": \"bad\", \"acls\": [{\"acltype\": "
        "\"publishClientSend\", \"topic\": \"a+\"}]}],\n"
        " \"clients\": [{\"username\": \"u1\", \"roles\": [{\"rolename\": \"ok\"}]},\n"
        "             {\"username\": \"u2\", \"roles\": [{\"rolename\": \"bad\"}]},\n"
        "             {\"username\": \"u3\"}],\n"
        " \"groups\": [{\"groupname\": \"g\", \"roles\": [{\"rolename\": \"ok\"}],\n"
        "             \"clients\": [{\"username\": \"u3\"}]},\n"
        "            {\"groupname\": \"h\", \"clients\": [{\"username\": \"u2\"}]}]}";
    struct import imp;
    import_init(&imp);
    assert_int_equal(import_dynsec(&imp, "ds", skip, sizeof skip - 1, IMPORT_SKIP_BAD), WD_OK);
    assert_int_equal(imp.skipped, 3); /* role bad, client u2, group h */
    assert_int_equal(imp.nroles, 1);
    assert_int_equal(imp.nusers, 2);
    assert_string_equal(imp.users[0].name, "u1");
    assert_string_equal(imp.users[1].name, "u3");
    assert_int_equal(imp.users[1].nroles, 1);
    assert_string_equal(imp.users[1].roles[0], "ok");
    assert_true(strncmp(imp.err, "ds: roles[1]: acls[0]:", 22) == 0);
    import_fini(&imp);

    /* A syntax error cannot be skipped. */
    assert_int_equal(import_dynsec(&imp, "ds", "{", 1, IMPORT_SKIP_BAD), WD_EMALFORMED);
    import_fini(&imp);

    /* A dynsec client may not repeat a password-file user. */
    static const char pw[] = "carol:" H7_CAROL "\n";
    static const char ds[] = "{\"clients\": [{\"username\": \"carol\"}]}";
    assert_int_equal(import_passwd(&imp, "pw", pw, sizeof pw - 1, 0), WD_OK);
    assert_int_equal(import_dynsec(&imp, "ds", ds, sizeof ds - 1, 0), WD_EMALFORMED);
    assert_string_equal(imp.err, "ds: clients[0]: duplicate user 'carol'");
    import_fini(&imp);
}

/* ---- out of memory --------------------------------------------------------------------- */

/* Every allocation of a valid import fails once: a clean WD_ENOMEM, no leak, then success. */
static void test_oom(void **state)
{
    (void)state;
    static const struct {
        enum wd_err (*parse)(struct import *, const char *, const char *, size_t, unsigned);
        const char *text;
        size_t len;
    } files[] = {
        {import_passwd, passwd_ok, sizeof passwd_ok - 1},
        {import_acl, acl_ok, sizeof acl_ok - 1},
        {import_dynsec, dynsec_ok, sizeof dynsec_ok - 1},
    };
    for (size_t f = 0; f < COUNT(files); f++) {
        unsigned long n;
        for (n = 1; n < 10000; n++) {
            struct import imp;
            import_init(&imp);
            mem_fail_after(n);
            enum wd_err rc = files[f].parse(&imp, "f", files[f].text, files[f].len, 0);
            mem_fail_after(0);
            import_fini(&imp);
            assert_int_equal(mem_in_use(), 0);
            if (rc == WD_OK)
                break;
            if (rc != WD_ENOMEM) {
                fprintf(stderr, "file %zu, allocation %lu: %s\n", f, n, wd_errname(rc));
                fail();
            }
        }
        assert_true(n > 1 && n < 10000);
    }
}

/* ---- import_read_file ------------------------------------------------------------------ */

static void test_read_file(void **state)
{
    (void)state;
    char path[] = "/tmp/warden-import-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "alice:" H6_ALICE "\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);

    char *data;
    size_t len;
    char err[IMPORT_ERR_MAX];
    assert_int_equal(import_read_file(path, 0, &data, &len, err), WD_OK);
    assert_int_equal(len, sizeof text - 1);
    assert_memory_equal(data, text, len);
    assert_int_equal(data[len], '\0');
    wd_free(data);

    assert_int_equal(import_read_file(path, sizeof text - 1, &data, &len, err), WD_OK);
    wd_free(data);
    assert_int_equal(import_read_file(path, sizeof text - 2, &data, &len, err), WD_ETOOLARGE);
    assert_null(data);
    assert_non_null(strstr(err, "larger than"));
    unlink(path);

    assert_int_equal(import_read_file(path, 0, &data, &len, err), WD_EIO);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file"));

    /* An empty file is an empty, NUL-terminated buffer. */
    memcpy(path + strlen(path) - 6, "XXXXXX", 6);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(import_read_file(path, 0, &data, &len, err), WD_OK);
    assert_int_equal(len, 0);
    assert_int_equal(data[0], '\0');
    wd_free(data);
    unlink(path);
}

int main(void)
{
    pw_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_passwd_ok, check_clean),
        cmocka_unit_test_teardown(test_passwd_bad, check_clean),
        cmocka_unit_test_teardown(test_passwd_across_files, check_clean),
        cmocka_unit_test_teardown(test_acl_ok, check_clean),
        cmocka_unit_test_teardown(test_acl_bad, check_clean),
        cmocka_unit_test_teardown(test_dynsec_ok, check_clean),
        cmocka_unit_test_teardown(test_dynsec_bad, check_clean),
        cmocka_unit_test_teardown(test_oom, check_clean),
        cmocka_unit_test_teardown(test_read_file, check_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
