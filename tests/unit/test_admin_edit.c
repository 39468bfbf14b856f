/*
 * test_admin_edit.c - core/admin_edit.c against a real broker thread: which
 * commands a console may run and what reaches the command runner (a stub
 * here standing in for cli_exec: actor, words, password, exit status, JSON),
 * and the rule-change preview, which evaluates a proposed rule list against
 * a live client's subscriptions with rules from an in-memory backend.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "admin.h"
#include "backend.h"
#include "broker.h"
#include "config.h"
#include "log.h"
#include "mem.h"

/* ---------------------------------------------------------------- the stub runner */

static struct {
    int calls;
    char actor[64];
    char words[512];
    char password[64];
    bool had_password;
} ran;

static int stub_exec(struct store *st, const struct config *cfg, const char *actor,
                     const char *password, int argc, char **argv, FILE *out)
{
    (void)st;
    (void)cfg;
    ran.calls++;
    snprintf(ran.actor, sizeof ran.actor, "%s", actor);
    ran.words[0] = '\0';
    for (int i = 0; i < argc; i++)
        snprintf(ran.words + strlen(ran.words), sizeof ran.words - strlen(ran.words), "%s%s",
                 i ? " " : "", argv[i]);
    ran.had_password = password != NULL;
    snprintf(ran.password, sizeof ran.password, "%s", password ? password : "");
    if (argc >= 3 && !strcmp(argv[2], "fail")) {
        fputs("{\"ok\":false,\"error\":\"no such user\"}\n", out);
        return 1;
    }
    fputs("{\"ok\":true,\"message\":\"done\"}\n", out);
    return 0;
}

/* ---------------------------------------------------------------- in-memory roles */

static struct rule anon_rules[] = {{RULE_ALLOW, RULE_ALL, 2, true, (char *)"a/#"}};

static enum wd_err mem_role_get(void *ctx, const char *name, struct role **out)
{
    (void)ctx;
    if (strcmp(name, ROLE_ANONYMOUS))
        return WD_ENOTFOUND;
    struct role *r = wd_calloc(1, sizeof *r);
    r->name = wd_strdup(name);
    r->description = wd_strdup("");
    r->rules = wd_calloc(1, sizeof *r->rules);
    r->rules[0] = anon_rules[0];
    r->rules[0].filter = wd_strdup(anon_rules[0].filter);
    r->nrules = 1;
    *out = r;
    return WD_OK;
}

static enum wd_err mem_user_get(void *ctx, const char *name, struct user **out)
{
    (void)ctx;
    (void)name;
    (void)out;
    return WD_ENOTFOUND;
}

/* ---------------------------------------------------------------- the broker */

struct fixture {
    struct broker *b;
    struct admin *a;
    pthread_t thread;
    uint16_t port;
    struct config cfg;
    struct backend_ops ops;
};

static void *run(void *arg)
{
    broker_run(arg);
    return NULL;
}

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    memset(&ran, 0, sizeof ran);
    log_setup(LOG_LVL_ERROR, LOG_DEST_STDERR);
    config_defaults(&f.cfg);
    if (config_embedded(&f.cfg, 0) != WD_OK)
        return -1;
    f.cfg.sys_interval = 0;
    f.b = broker_new(&f.cfg, NULL);
    if (!f.b)
        return -1;
    f.a = admin_of(f.b);
    f.port = f.b->listeners[0].port;
    f.ops.role_get = mem_role_get;
    f.ops.user_get = mem_user_get;
    admin_edit_setup(stub_exec, NULL, &f.b->cfg, &f.ops);
    pthread_create(&f.thread, NULL, run, f.b);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    admin_edit_setup(NULL, NULL, NULL, NULL);
    admin_shutdown(f->a);
    pthread_join(f->thread, NULL);
    broker_free(f->b);
    return 0;
}

static void read_n(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        assert_true(r > 0);
        p += r;
        n -= (size_t)r;
    }
}

/* An anonymous 3.1.1 client "ed1" subscribed to a/b/# at QoS 1. */
static int connect_and_subscribe(uint16_t port)
{
    static const uint8_t conn[] = {0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60,
                                   0,    3,  'e', 'd', '1'};
    static const uint8_t subscribe[] = {0x82, 10, 0, 1, 0, 5, 'a', '/', 'b', '/', '#', 1};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(send(fd, conn, sizeof conn, 0), (ssize_t)sizeof conn);
    uint8_t connack[4];
    read_n(fd, connack, sizeof connack);
    assert_int_equal(connack[3], 0);
    assert_int_equal(send(fd, subscribe, sizeof subscribe, 0), (ssize_t)sizeof subscribe);
    uint8_t suback[5];
    read_n(fd, suback, sizeof suback);
    assert_int_equal(suback[0], 0x90);
    assert_int_equal(suback[4], 1);
    return fd;
}

static char *edit(struct fixture *f, const char *pw, int *status, int argc, ...)
{
    const char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, const char *);
    va_end(ap);
    char *json = NULL;
    assert_int_equal(admin_edit(f->a, "alice", argc, argv, pw, &json, status), WD_OK);
    assert_non_null(json);
    return json;
}

/* ---------------------------------------------------------------- tests */

static void test_commands_gate_and_runner(void **state)
{
    struct fixture *f = *state;
    int st;
    char *j = edit(f, "pw-typed-here", &st, 3, "user", "add", "bob");
    assert_int_equal(st, 0);
    assert_string_equal(j, "{\"ok\":true,\"message\":\"done\"}");
    free(j);
    assert_int_equal(ran.calls, 1);
    assert_string_equal(ran.actor, "alice");
    assert_string_equal(ran.words, "user add bob");
    assert_true(ran.had_password);
    assert_string_equal(ran.password, "pw-typed-here");
    /* A failure comes back as the command's JSON and exit status. */
    j = edit(f, NULL, &st, 3, "user", "show", "fail");
    assert_int_equal(st, 1);
    assert_non_null(strstr(j, "no such user"));
    free(j);
    assert_false(ran.had_password);
    /* Not identity commands: refused before the runner. */
    static const char *const refused[][2] = {{"store", "backup"}, {"import", "mosquitto"},
                                             {"audit", "--follow"}, {"acl", "nothing"}};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        j = edit(f, NULL, &st, 2, refused[i][0], refused[i][1]);
        assert_int_equal(st, 1);
        assert_non_null(strstr(j, "\"ok\":false"));
        free(j);
    }
    j = edit(f, NULL, &st, 1, "user");
    assert_int_equal(st, 1);
    free(j);
    assert_int_equal(ran.calls, 2);
    char *json = NULL;
    assert_int_equal(admin_edit(f->a, "alice", 0, NULL, NULL, &json, &st), WD_EINVAL);
    j = edit(f, NULL, &st, 3, "acl", "explain", "x");
    assert_int_equal(ran.calls, 3);
    free(j);
}

static void test_preview(void **state)
{
    struct fixture *f = *state;
    int fd = connect_and_subscribe(f->port);
    int st;
    /* Denying a/# in the anonymous role removes ed1's a/b/#. */
    char *j = edit(f, NULL, &st, 8, "preview", "role", "anonymous", "deny", "subscribe", "a/#",
                   "0", "0");
    assert_int_equal(st, 0);
    assert_non_null(strstr(j, "\"sessions\":1"));
    assert_non_null(strstr(j, "\"client\":\"ed1\""));
    assert_non_null(strstr(j, "\"filter\":\"a/b/#\""));
    free(j);
    /* Narrowing to a/b/c/# no longer covers a/b/#: nothing matches, and an anonymous
     * client's unmatched request counts as allowed (anonymous_default allow). */
    j = edit(f, NULL, &st, 13, "preview", "role", "anonymous", "allow", "publish", "a/#", "2",
             "1", "deny", "receive", "x/#", "2", "1");
    assert_int_equal(st, 0);
    assert_non_null(strstr(j, "\"lost\":[]"));
    free(j);
    /* A role that ed1 does not hold: no session uses it. */
    j = edit(f, NULL, &st, 8, "preview", "role", "ops", "deny", "all", "#", "0", "0");
    assert_non_null(strstr(j, "\"sessions\":0"));
    assert_non_null(strstr(j, "\"lost\":[]"));
    free(j);
    /* The default role is in everyone's chain, after anonymous: a/# allowed there first. */
    j = edit(f, NULL, &st, 8, "preview", "role", "default", "deny", "all", "#", "0", "0");
    assert_non_null(strstr(j, "\"sessions\":1"));
    assert_non_null(strstr(j, "\"lost\":[]"));
    free(j);
    /* Malformed: a bad effect, a bad action, a QoS of 3, words missing. */
    static const char *const bad[][5] = {{"permit", "all", "#", "0", "0"},
                                         {"allow", "write", "#", "0", "0"},
                                         {"allow", "all", "#", "3", "0"},
                                         {"allow", "all", "", "0", "0"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = edit(f, NULL, &st, 8, "preview", "role", "x", bad[i][0], bad[i][1], bad[i][2],
                 bad[i][3], bad[i][4]);
        assert_int_equal(st, 1);
        assert_non_null(strstr(j, "malformed preview request"));
        free(j);
    }
    j = edit(f, NULL, &st, 4, "preview", "role", "x", "allow");
    assert_int_equal(st, 1);
    free(j);
    j = edit(f, NULL, &st, 3, "preview", "group", "x");
    assert_int_equal(st, 1);
    free(j);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commands_gate_and_runner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preview, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
