/*
 * test_config.c - unit tests for core/config.c.
 *
 * Errors are caught by a collecting report callback and checked by exact
 * file, line and message. Every test checks that mem_in_use() is back to its
 * starting value, and the out-of-memory tests fail each allocation in turn.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "err.h"
#include "mem.h"

#define MAX_ERRS 32

struct err_rec {
    char file[256];
    int line;
    char msg[512];
};

struct errs {
    int n;
    struct err_rec e[MAX_ERRS];
};

static struct errs errs;
static size_t mem_base;

static void collect(void *ctx, const char *file, int line, const char *msg)
{
    struct errs *c = ctx;
    assert_true(c->n < MAX_ERRS);
    struct err_rec *r = &c->e[c->n++];
    snprintf(r->file, sizeof r->file, "%s", file ? file : "(null)");
    r->line = line;
    snprintf(r->msg, sizeof r->msg, "%s", msg);
}

static int setup(void **state)
{
    (void)state;
    memset(&errs, 0, sizeof errs);
    mem_fail_after(0);
    mem_base = mem_in_use();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mem_fail_after(0);
    assert_int_equal(mem_in_use(), mem_base);
    return 0;
}

/* Parse text as "t.conf" into cfg (set to defaults first), collecting errors. */
static enum wd_err parse(struct config *cfg, const char *text)
{
    config_defaults(cfg);
    memset(&errs, 0, sizeof errs);
    return config_parse(cfg, "t.conf", text, strlen(text), collect, &errs);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_null(c.path);
    assert_int_equal(c.nlisteners, 0);
    assert_string_equal(c.store_dir, "./warden-data");
    assert_int_equal(c.max_connections, 2048);
    assert_int_equal(c.max_packet_size, 1048576);
    assert_int_equal(c.max_inflight_messages, 20);
    assert_int_equal(c.max_queued_messages, 1000);
    assert_int_equal(c.max_queued_bytes, 16u << 20);
    assert_int_equal(c.max_topic_length, 1024);
    assert_int_equal(c.max_topic_levels, 64);
    assert_int_equal(c.max_subscriptions_per_client, 256);
    assert_int_equal(c.max_keepalive, 65535);
    assert_int_equal(c.topic_alias_maximum, 10);
    assert_int_equal(c.max_qos, 2);
    assert_true(c.retain_available);
    assert_int_equal(c.connect_timeout, 10);
    assert_int_equal(c.sys_interval, 10);
    assert_int_equal(c.log_level, LOG_LVL_INFO);
    assert_int_equal(c.log_dest, LOG_DEST_STDERR);
    config_fini(&c);
    assert_null(c.store_dir);
}

static void test_embedded(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(config_embedded(&c, 1883), WD_OK);
    assert_null(c.path);
    assert_int_equal(c.nlisteners, 1);
    assert_int_equal(c.listeners[0].port, 1883);
    assert_string_equal(c.listeners[0].address, "127.0.0.1");
    assert_true(c.listeners[0].allow_anonymous);
    assert_int_equal(c.listeners[0].line, 0);
    assert_int_equal(c.max_qos, 2);
    config_fini(&c);
    assert_int_equal(config_embedded(&c, 0), WD_OK);
    assert_int_equal(c.listeners[0].port, 0);
    config_fini(&c);
}

static void test_every_key(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(parse(&c, "store_dir /var/lib/warden\n"
                               "max_connections 0\n"
                               "max_packet_size 268435455\n"
                               "max_inflight_messages 65535\n"
                               "max_queued_messages 4294967295\n"
                               "max_queued_bytes 18446744073709551615\n"
                               "max_topic_length 1\n"
                               "max_topic_levels 65535\n"
                               "max_subscriptions_per_client 7\n"
                               "max_keepalive 10\n"
                               "topic_alias_maximum 0\n"
                               "max_qos 1\n"
                               "retain_available false\n"
                               "connect_timeout 3600\n"
                               "sys_interval 0\n"
                               "log_level debug\n"
                               "log_dest syslog\n"
                               "listener 1884 10.0.0.1\n"
                               "allow_anonymous true\n"),
                     WD_OK);
    assert_int_equal(errs.n, 0);
    assert_string_equal(c.store_dir, "/var/lib/warden");
    assert_int_equal(c.max_connections, 0);
    assert_int_equal(c.max_packet_size, 268435455);
    assert_int_equal(c.max_inflight_messages, 65535);
    assert_int_equal(c.max_queued_messages, UINT32_MAX);
    assert_true(c.max_queued_bytes == UINT64_MAX);
    assert_int_equal(c.max_topic_length, 1);
    assert_int_equal(c.max_topic_levels, 65535);
    assert_int_equal(c.max_subscriptions_per_client, 7);
    assert_int_equal(c.max_keepalive, 10);
    assert_int_equal(c.topic_alias_maximum, 0);
    assert_int_equal(c.max_qos, 1);
    assert_false(c.retain_available);
    assert_int_equal(c.connect_timeout, 3600);
    assert_int_equal(c.sys_interval, 0);
    assert_int_equal(c.log_level, LOG_LVL_DEBUG);
    assert_int_equal(c.log_dest, LOG_DEST_SYSLOG);
    assert_int_equal(c.nlisteners, 1);
    assert_true(c.listeners[0].allow_anonymous);
    assert_true(c.listeners[0].allow_anonymous_set);
    config_fini(&c);
}

/* The password and audit keys of the store (issue 3): defaults, values, ranges. */
/* Authentication and per-listener identity keys (issue 4) and anonymous_default. */
static void test_auth_keys(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_int_equal(c.auth_workers, 1);
    assert_int_equal(c.max_pending_auth, 256);
    assert_int_equal(c.auth_cache_seconds, 300);
    assert_int_equal(c.auth_fail_delay_after, 3);
    assert_int_equal(c.auth_fail_ban_after, 10);
    assert_int_equal(c.auth_fail_window, 300);
    assert_int_equal(c.auth_ban_duration, 600);
    assert_int_equal(c.max_connections_per_address, 0);
    assert_int_equal(c.connect_rate_per_address, 0);
    config_fini(&c);

    assert_int_equal(parse(&c, "auth_workers 2\nmax_pending_auth 9\nauth_cache_seconds 0\n"
                               "auth_fail_delay_after 1\nauth_fail_ban_after 4\n"
                               "auth_fail_window 30\nauth_ban_duration 60\n"
                               "max_connections_per_address 5\nconnect_rate_per_address 7\n"
                               "listener 1883 127.0.0.1\n"
                               "clientid_pattern ^[0-9a-f]{12}$\nmax_clientid_length 12\n"
                               "clientid_bound_only true\nanonymous_default allow\n"
                               "listener 1884 127.0.0.1\n"),
                     WD_OK);
    assert_int_equal(errs.n, 0);
    assert_int_equal(c.auth_workers, 2);
    assert_int_equal(c.max_pending_auth, 9);
    assert_int_equal(c.auth_cache_seconds, 0);
    assert_int_equal(c.auth_fail_ban_after, 4);
    assert_int_equal(c.max_connections_per_address, 5);
    assert_int_equal(c.connect_rate_per_address, 7);
    assert_string_equal(c.listeners[0].clientid_pattern, "^[0-9a-f]{12}$");
    assert_int_equal(c.listeners[0].max_clientid_length, 12);
    assert_true(c.listeners[0].clientid_bound_only);
    assert_int_equal(c.listeners[0].anonymous_default, ANON_DEFAULT_ALLOW);
    /* Listener keys stay with their section; a new listener has the defaults. */
    assert_null(c.listeners[1].clientid_pattern);
    assert_false(c.listeners[1].clientid_bound_only);
    assert_int_equal(c.listeners[1].anonymous_default, ANON_DEFAULT_DENY);
    assert_false(c.listeners[1].allow_anonymous);
    config_fini(&c);

    assert_int_equal(parse(&c, "auth_workers 0\nlistener 1883\nclientid_pattern a(b\n"
                               "anonymous_default maybe\n"),
                     WD_ECONFIG);
    assert_int_equal(errs.n, 3);
    assert_string_equal(errs.e[0].msg, "auth_workers: 0 is out of range 1..16");
    assert_non_null(strstr(errs.e[1].msg, "anonymous_default"));
    assert_non_null(strstr(errs.e[2].msg, "clientid_pattern: not a valid POSIX extended"));
    config_fini(&c);
}

/* Access tokens (issue 9): auth_tokens per listener, token_leeway. */
static void test_token_keys(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_int_equal(c.token_leeway, 30);
    config_fini(&c);
    assert_int_equal(parse(&c, "token_leeway 0\nlistener 1883 127.0.0.1\nauth_tokens only\n"
                               "listener 1884 127.0.0.1\nauth_tokens true\n"
                               "listener 1885 127.0.0.1\n"),
                     WD_OK);
    assert_int_equal(errs.n, 0);
    assert_int_equal(c.token_leeway, 0);
    assert_int_equal(c.listeners[0].auth_tokens, AUTH_TOKENS_ONLY);
    assert_int_equal(c.listeners[1].auth_tokens, AUTH_TOKENS_TRUE);
    assert_int_equal(c.listeners[2].auth_tokens, AUTH_TOKENS_FALSE);
    config_fini(&c);
    assert_int_equal(parse(&c, "token_leeway 3601\nlistener 1883\nauth_tokens sometimes\n"),
                     WD_ECONFIG);
    assert_int_equal(errs.n, 2);
    assert_non_null(strstr(errs.e[0].msg, "token_leeway"));
    assert_non_null(strstr(errs.e[1].msg, "auth_tokens"));
    config_fini(&c);
}

static void test_store_keys(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_int_equal(c.password_opslimit, 2);
    assert_true(c.password_memlimit == 19u << 20);
    assert_int_equal(c.password_min_length, 12);
    assert_int_equal(c.audit_max_entries, 10000);
    config_fini(&c);

    assert_int_equal(parse(&c, "password_opslimit 3\n"
                               "password_memlimit 64m\n"
                               "password_min_length 16\n"
                               "audit_max_entries 500\n"),
                     WD_OK);
    assert_int_equal(errs.n, 0);
    assert_int_equal(c.password_opslimit, 3);
    assert_true(c.password_memlimit == 64u << 20);
    assert_int_equal(c.password_min_length, 16);
    assert_int_equal(c.audit_max_entries, 500);
    config_fini(&c);

    assert_int_equal(parse(&c, "password_opslimit 0\n"
                               "password_memlimit 4k\n"
                               "password_min_length 0\n"
                               "audit_max_entries 0\n"
                               "password_memlimit 2g\n"),
                     WD_ECONFIG);
    assert_int_equal(errs.n, 5);
    assert_string_equal(errs.e[0].msg, "password_opslimit: 0 is out of range 1..1000");
    assert_int_equal(errs.e[0].line, 1);
    assert_string_equal(errs.e[1].msg, "password_memlimit: 4k is out of range 8192..1073741824");
    assert_string_equal(errs.e[2].msg, "password_min_length: 0 is out of range 1..1024");
    assert_string_equal(errs.e[3].msg, "audit_max_entries: 0 is out of range 1..10000000");
    assert_int_equal(errs.e[4].line, 5);
    config_fini(&c);
}

/* Each enum name maps to its value. */
static void test_enum_values(void **state)
{
    (void)state;
    static const struct { const char *text; enum config_log_level lvl; } rows[] = {
        {"log_level error", LOG_LVL_ERROR},   {"log_level warning", LOG_LVL_WARNING},
        {"log_level notice", LOG_LVL_NOTICE}, {"log_level info", LOG_LVL_INFO},
        {"log_level debug", LOG_LVL_DEBUG},
    };
    struct config c;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_int_equal(parse(&c, rows[i].text), WD_OK);
        assert_int_equal(c.log_level, rows[i].lvl);
        config_fini(&c);
    }
    assert_int_equal(parse(&c, "log_dest syslog\nlog_dest stderr\n"), WD_OK);
    assert_int_equal(c.log_dest, LOG_DEST_STDERR);
    config_fini(&c);
}

static void test_listener_sections(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(parse(&c, "max_qos 1\n"
                               "listener 1883\n"              /* 2: 0.0.0.0, anonymous off */
                               "max_connections 5\n"         /* global inside a section */
                               "listener 1884 127.0.0.1\n"    /* 4: loopback, anonymous on */
                               "listener 1885 ::1\n"          /* 5 */
                               "allow_anonymous false\n"
                               "listener 8883 0.0.0.0\n"      /* 7 */
                               "allow_anonymous true\n"
                               "listener 1886 localhost\n"    /* 9 */
                               "listener 1887 127.9.8.7\n"    /* 10 */
                               "listener 0\n"                 /* 11: two port-0 listeners */
                               "listener 0\n"),               /* 12: do not clash */
                     WD_OK);
    assert_int_equal(errs.n, 0);
    assert_int_equal(c.max_qos, 1);
    assert_int_equal(c.max_connections, 5);
    assert_int_equal(c.nlisteners, 8);
    static const struct {
        uint16_t port;
        const char *addr;
        bool anon, set;
        int line;
    } want[] = {
        /* Default deny: loopback or not, anonymous only where allowed explicitly. */
        {1883, "0.0.0.0", false, false, 2},   {1884, "127.0.0.1", false, false, 4},
        {1885, "::1", false, true, 5},        {8883, "0.0.0.0", true, true, 7},
        {1886, "localhost", false, false, 9}, {1887, "127.9.8.7", false, false, 10},
        {0, "0.0.0.0", false, false, 11},    {0, "0.0.0.0", false, false, 12},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct config_listener *l = &c.listeners[i];
        assert_int_equal(l->port, want[i].port);
        assert_string_equal(l->address, want[i].addr);
        assert_int_equal(l->allow_anonymous, want[i].anon);
        assert_int_equal(l->allow_anonymous_set, want[i].set);
        assert_int_equal(l->line, want[i].line);
    }
    config_fini(&c);
}

/* A file without `listener` gets the embedded default listener. */
static void test_default_listener(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(parse(&c, "max_qos 0\n"), WD_OK);
    assert_int_equal(c.nlisteners, 1);
    assert_int_equal(c.listeners[0].port, 1883);
    assert_string_equal(c.listeners[0].address, "127.0.0.1");
    assert_true(c.listeners[0].allow_anonymous);
    assert_int_equal(c.listeners[0].line, 0);
    config_fini(&c);
    assert_int_equal(parse(&c, ""), WD_OK);
    assert_int_equal(c.nlisteners, 1);
    config_fini(&c);
}

/* One row per error kind: the text, the line the error is on, the message. */
static const struct {
    const char *text;
    int line;
    const char *msg;
} error_rows[] = {
    {"max_conections 5", 1, "unknown key 'max_conections'"},
    {"Max_qos 1", 1, "unknown key 'Max_qos'"},
    {"store_dir", 1, "missing value for 'store_dir'"},
    {"max_qos   \r", 1, "missing value for 'max_qos'"},
    {"listener", 1, "missing value for 'listener'"},
    {"max_packet_size 12x", 1, "max_packet_size: '12x' is not a number"},
    {"max_packet_size 1kb", 1, "max_packet_size: '1kb' is not a number"},
    {"max_packet_size k", 1, "max_packet_size: 'k' is not a number"},
    {"max_connections 10k", 1, "max_connections: '10k' is not a number"},
    {"max_connections -1", 1, "max_connections: '-1' is not a number"},
    {"max_connections +1", 1, "max_connections: '+1' is not a number"},
    {"max_connections 0x10", 1, "max_connections: '0x10' is not a number"},
    {"max_connections 1.5", 1, "max_connections: '1.5' is not a number"},
    {"max_connections 4294967296", 1, "max_connections: 4294967296 is out of range 0..4294967295"},
    {"max_qos 3", 1, "max_qos: 3 is out of range 0..2"},
    {"max_qos 1 2", 1, "max_qos: extra argument '2'"},
    {"max_qos 1 # two", 1, "max_qos: extra argument '#'"},
    {"max_packet_size 19", 1, "max_packet_size: 19 is out of range 20..268435455"},
    {"max_packet_size 256m", 1, "max_packet_size: 256m is out of range 20..268435455"},
    {"max_inflight_messages 0", 1, "max_inflight_messages: 0 is out of range 1..65535"},
    {"max_inflight_messages 65536", 1, "max_inflight_messages: 65536 is out of range 1..65535"},
    {"max_topic_length 0", 1, "max_topic_length: 0 is out of range 1..65535"},
    {"max_topic_levels 65536", 1, "max_topic_levels: 65536 is out of range 1..65535"},
    {"max_keepalive 0", 1, "max_keepalive: 0 is out of range 10..65535"},
    {"max_keepalive 9", 1, "max_keepalive: 9 is out of range 10..65535"},
    {"max_keepalive 65536", 1, "max_keepalive: 65536 is out of range 10..65535"},
    {"topic_alias_maximum 65536", 1, "topic_alias_maximum: 65536 is out of range 0..65535"},
    {"connect_timeout 0", 1, "connect_timeout: 0 is out of range 1..3600"},
    {"connect_timeout 3601", 1, "connect_timeout: 3601 is out of range 1..3600"},
    {"sys_interval 86401", 1, "sys_interval: 86401 is out of range 0..86400"},
    {"max_queued_bytes 18446744073709551616", 1,
     "max_queued_bytes: 18446744073709551616 is out of range 0..18446744073709551615"},
    {"max_queued_bytes 17179869184G", 1,
     "max_queued_bytes: 17179869184G is out of range 0..18446744073709551615"},
    {"max_queued_messages 99999999999999999999999", 1,
     "max_queued_messages: 99999999999999999999999 is out of range 0..4294967295"},
    {"retain_available yes", 1, "retain_available: 'yes' is not true or false"},
    {"retain_available TRUE", 1, "retain_available: 'TRUE' is not true or false"},
    {"log_level verbose", 1,
     "log_level: 'verbose' is not one of error, warning, notice, info, debug"},
    {"log_dest file", 1, "log_dest: 'file' is not one of stderr, syslog"},
    {"allow_anonymous true", 1, "allow_anonymous: only valid inside a listener section"},
    {"listener 1883\nallow_anonymous maybe", 2, "allow_anonymous: 'maybe' is not true or false"},
    {"listener 1883 0.0.0.0 foo", 1, "listener: extra argument 'foo'"},
    {"listener abc", 1, "listener: port 'abc' is not a number"},
    {"listener 1883k", 1, "listener: port '1883k' is not a number"},
    {"listener 65536", 1, "listener: port 65536 is out of range 0..65535"},
    {"\n# c\nlistener 1883 127.0.0.1\n\nlistener 1883 127.0.0.1", 5,
     "listener: duplicate listener 127.0.0.1:1883 (first at line 3)"},
    {"listener 1883\nlistener 1883 0.0.0.0", 2,
     "listener: duplicate listener 0.0.0.0:1883 (first at line 1)"},
    {"listener 1883 ::1\nlistener 1883 ::1", 2,
     "listener: duplicate listener [::1]:1883 (first at line 1)"},
    {"max_qos 1\nmax_qos\0 1", 2, "line contains a NUL byte"},
    {"\x01\xff 1", 1, "unknown key '?\?'"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1,
     "unknown key 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'"},
    /* TLS keys: values, and what cannot work together (reported at the listener line) */
    {"certfile /a.pem", 1, "certfile: only valid inside a listener section"},
    {"listener 8883\ntls_version tlsv1.1", 2, "tls_version: 'tlsv1.1' is not one of tlsv1.2, tlsv1.3"},
    {"listener 8883\ncert_identity dn", 2,
     "cert_identity: 'dn' is not one of cn, san_dns, san_uri, san_email"},
    {"listener 8883\ncrl_expired_policy ignore", 2,
     "crl_expired_policy: 'ignore' is not one of reject, warn"},
    {"listener 8883\ntls_handshake_timeout 0", 2, "tls_handshake_timeout: 0 is out of range 1..3600"},
    {"listener 8883\nrequire_certificate yes", 2, "require_certificate: 'yes' is not true or false"},
    {"listener 8883\ncertfile /s.pem", 1, "listener 8883: certfile without keyfile"},
    {"# x\nlistener 8883\nkeyfile /s.key", 2, "listener 8883: keyfile without certfile"},
    {"listener 1883\nlistener 8883\ncafile /ca.pem", 2,
     "listener 8883: TLS keys without certfile and keyfile"},
    {"listener 8883\ncertfile /s.pem\nkeyfile /s.key\nrequire_certificate true", 1,
     "listener 8883: require_certificate, use_identity_as_username, use_subject_as_username, "
     "cert_requires_user and crlfile need cafile or capath"},
    {"listener 8883\ncertfile /s.pem\nkeyfile /s.key\ncert_requires_user true", 1,
     "listener 8883: require_certificate, use_identity_as_username, use_subject_as_username, "
     "cert_requires_user and crlfile need cafile or capath"},
    {"listener 8883\ncertfile /s.pem\nkeyfile /s.key\ncapath /ca\n"
     "use_identity_as_username true\nuse_subject_as_username true", 1,
     "listener 8883: use_identity_as_username and use_subject_as_username exclude each other"},
    {"listener 88883\ncertfile /s.pem", 1, "listener: port 88883 is out of range 0..65535"},
};

static void test_error_kinds(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof error_rows / sizeof error_rows[0]; i++) {
        struct config c;
        /* Rows may hold a NUL byte: the NUL row's length is written out. */
        const char *t = error_rows[i].text;
        size_t len = strlen(t);
        if (strcmp(error_rows[i].msg, "line contains a NUL byte") == 0)
            len = sizeof "max_qos 1\nmax_qos\0 1" - 1;
        config_defaults(&c);
        memset(&errs, 0, sizeof errs);
        enum wd_err e = config_parse(&c, "t.conf", t, len, collect, &errs);
        if (e != WD_ECONFIG || errs.n != 1 || errs.e[0].line != error_rows[i].line ||
            strcmp(errs.e[0].msg, error_rows[i].msg) != 0)
            fail_msg("row %zu: %s: got %d error(s), first %d '%s'", i, error_rows[i].msg, errs.n,
                     errs.e[0].line, errs.e[0].msg);
        assert_string_equal(errs.e[0].file, "t.conf");
        config_fini(&c);
    }
}

/* A NULL file name (command line) reaches the callback as NULL. */
static void test_null_file(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_int_equal(config_parse(&c, NULL, "bogus 1", 7, collect, &errs), WD_ECONFIG);
    assert_string_equal(errs.e[0].file, "(null)");
    config_fini(&c);
    /* And a NULL callback only counts. */
    config_defaults(&c);
    assert_int_equal(config_parse(&c, "x", "bogus 1", 7, NULL, NULL), WD_ECONFIG);
    config_fini(&c);
}

static void test_multiple_errors(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(parse(&c, "max_qos 3\n"                 /* 1 */
                               "allow_anonymous true\n"      /* 2 */
                               "max_topic_levels 5\n"        /* good, still applied */
                               "listener 1883 127.0.0.1\n"   /* 4 */
                               "listener 1883 127.0.0.1\n"   /* 5: duplicate */
                               "allow_anonymous nope\n"      /* 6: checked, then dropped */
                               "allow_anonymous false\n"     /* dropped silently */
                               "listener x\n"                /* 8 */
                               "frobnicate\n"                /* 9 */
                               "store_dir\n"                 /* 10 */
                               "sys_interval 1 2\n"),        /* 11 */
                     WD_ECONFIG);
    static const struct { int line; const char *msg; } want[] = {
        {1, "max_qos: 3 is out of range 0..2"},
        {2, "allow_anonymous: only valid inside a listener section"},
        {5, "listener: duplicate listener 127.0.0.1:1883 (first at line 4)"},
        {6, "allow_anonymous: 'nope' is not true or false"},
        {8, "listener: port 'x' is not a number"},
        {9, "unknown key 'frobnicate'"},
        {10, "missing value for 'store_dir'"},
        {11, "sys_interval: extra argument '2'"},
    };
    assert_int_equal(errs.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(errs.e[i].line, want[i].line);
        assert_string_equal(errs.e[i].msg, want[i].msg);
    }
    assert_int_equal(c.max_qos, 2);
    assert_int_equal(c.max_topic_levels, 5);
    assert_int_equal(c.nlisteners, 1);
    assert_false(c.listeners[0].allow_anonymous); /* line 7 went to the rejected section */
    assert_false(c.listeners[0].allow_anonymous_set);
    config_fini(&c);
}

/* A rejected `listener` line does not add the embedded default either. */
static void test_bad_listener_no_default(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(parse(&c, "listener 99999\nallow_anonymous true\n"), WD_ECONFIG);
    assert_int_equal(errs.n, 1);
    assert_int_equal(c.nlisteners, 0);
    config_fini(&c);
}

static void test_comments_blank_crlf(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(parse(&c, "# a comment\r\n"
                               "   # indented comment with bad stuff = 1\r\n"
                               "\r\n"
                               "\t \r\n"
                               "  max_qos\t 1  \r\n"
                               "listener 1884 127.0.0.1\r\n"
                               "\tallow_anonymous false\r\n"
                               "store_dir /srv/my data\r\n"
                               "log_level warning"), /* no final newline */
                     WD_OK);
    assert_int_equal(errs.n, 0);
    assert_int_equal(c.max_qos, 1);
    assert_int_equal(c.nlisteners, 1);
    assert_string_equal(c.listeners[0].address, "127.0.0.1");
    assert_false(c.listeners[0].allow_anonymous);
    assert_string_equal(c.store_dir, "/srv/my data");
    assert_int_equal(c.log_level, LOG_LVL_WARNING);
    config_fini(&c);

    /* Line numbers count CRLF lines once. */
    assert_int_equal(parse(&c, "# x\r\n\r\nbad 1\r\n"), WD_ECONFIG);
    assert_int_equal(errs.e[0].line, 3);
    config_fini(&c);
}

static void test_size_suffixes(void **state)
{
    (void)state;
    static const struct { const char *v; uint64_t want; } rows[] = {
        {"0", 0},
        {"1k", 1024},
        {"1K", 1024},
        {"3m", 3u << 20},
        {"3M", 3u << 20},
        {"2g", 2ull << 30},
        {"2G", 2ull << 30},
        {"007", 7},
        {"17179869183G", UINT64_MAX - (1ull << 30) + 1},
    };
    struct config c;
    char text[128];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        snprintf(text, sizeof text, "max_queued_bytes %s\n", rows[i].v);
        assert_int_equal(parse(&c, text), WD_OK);
        assert_true(c.max_queued_bytes == rows[i].want);
        config_fini(&c);
    }
    assert_int_equal(parse(&c, "max_packet_size 255M\n"), WD_OK);
    assert_int_equal(c.max_packet_size, 255u << 20);
    config_fini(&c);
    /* 1g fits in 32 bits but not in max_packet_size's range. */
    assert_int_equal(parse(&c, "max_packet_size 1g\n"), WD_ECONFIG);
    assert_string_equal(errs.e[0].msg, "max_packet_size: 1g is out of range 20..268435455");
    assert_int_equal(c.max_packet_size, 1048576);
    config_fini(&c);
}

/* A key given twice: the last value wins, and the first string is freed. */
static void test_last_wins(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(parse(&c, "store_dir /a\nmax_qos 0\nstore_dir /b\nmax_qos 1\n"
                               "listener 1883\nallow_anonymous true\nallow_anonymous false\n"),
                     WD_OK);
    assert_string_equal(c.store_dir, "/b");
    assert_int_equal(c.max_qos, 1);
    assert_false(c.listeners[0].allow_anonymous);
    assert_true(c.listeners[0].allow_anonymous_set);
    config_fini(&c);
}

static void test_load_missing(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    const char *p = "/nonexistent/warden-test.conf";
    assert_int_equal(config_load(&c, p, collect, &errs), WD_ECONFIG);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.e[0].file, p);
    assert_int_equal(errs.e[0].line, 0);
    assert_string_equal(errs.e[0].msg,
                        "cannot read /nonexistent/warden-test.conf: No such file or directory");
    assert_string_equal(c.path, p);
    config_fini(&c);

    config_defaults(&c);
    memset(&errs, 0, sizeof errs);
    assert_int_equal(config_load(&c, "/", collect, &errs), WD_ECONFIG);
    assert_string_equal(errs.e[0].msg, "cannot read /: Is a directory");
    config_fini(&c);
}

/* Write text to a new temporary file; returns its path in buf. */
static void write_temp(char *buf, size_t size, const char *text, size_t len)
{
    snprintf(buf, size, "%s/warden-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(buf);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[256];
    const char *text = "max_qos 1\nlistener 1890 127.0.0.1\nallow_anonymous false\nmax_qos 5\n";
    write_temp(path, sizeof path, text, strlen(text));
    struct config c;
    config_defaults(&c);
    assert_int_equal(config_load(&c, path, collect, &errs), WD_ECONFIG);
    assert_string_equal(c.path, path);
    assert_int_equal(c.max_qos, 1);
    assert_int_equal(c.nlisteners, 1);
    assert_int_equal(c.listeners[0].port, 1890);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.e[0].file, path);
    assert_int_equal(errs.e[0].line, 4);
    config_fini(&c);
    unlink(path);

    /* A file larger than the first read buffer. */
    size_t big = 20000;
    char *b = malloc(big);
    assert_non_null(b);
    memset(b, '\n', big);
    memcpy(b + big - 10, "max_qos 0\n", 10);
    write_temp(path, sizeof path, b, big);
    free(b);
    config_defaults(&c);
    assert_int_equal(config_load(&c, path, collect, &errs), WD_OK);
    assert_int_equal(c.max_qos, 0);
    config_fini(&c);
    unlink(path);
}

/* Fail allocation n = 1, 2, ... until the call succeeds; each failure is clean. */
static void oom_loop(enum wd_err (*run)(struct config *, const void *), const void *arg,
                     enum wd_err ok)
{
    unsigned long n;
    for (n = 1; n < 1000; n++) {
        struct config c;
        config_defaults(&c);
        memset(&errs, 0, sizeof errs);
        size_t before = mem_in_use();
        mem_fail_after(n);
        enum wd_err e = run(&c, arg);
        mem_fail_after(0);
        config_fini(&c);
        assert_int_equal(mem_in_use(), before);
        if (e == ok)
            break;
        assert_int_equal(e, WD_ENOMEM);
    }
    assert_true(n > 1 && n < 1000); /* at least one allocation failed, then it succeeded */
}

static const char oom_text[] = "store_dir /a\nlistener 1883\nstore_dir /b\nlistener 1884 ::1\n"
                               "allow_anonymous true\nlistener 1885 127.0.0.1\nmax_qos 7\n";

static enum wd_err run_parse(struct config *c, const void *arg)
{
    const char *t = arg;
    return config_parse(c, "t.conf", t, strlen(t), collect, &errs);
}

static enum wd_err run_load(struct config *c, const void *arg)
{
    return config_load(c, arg, collect, &errs);
}

static enum wd_err run_embedded(struct config *c, const void *arg)
{
    (void)arg;
    config_fini(c);
    return config_embedded(c, 1883);
}

static void test_oom(void **state)
{
    (void)state;
    oom_loop(run_parse, oom_text, WD_ECONFIG);
    oom_loop(run_parse, "max_qos 1\n", WD_OK); /* the embedded listener's allocations */
    oom_loop(run_embedded, NULL, WD_OK);
    char path[256];
    write_temp(path, sizeof path, oom_text, strlen(oom_text));
    oom_loop(run_load, path, WD_ECONFIG);
    unlink(path);
    oom_loop(run_load, "/nonexistent/x.conf", WD_ECONFIG);
}

static void test_is_loopback(void **state)
{
    (void)state;
    static const struct { const char *a; bool want; } rows[] = {
        {"127.0.0.1", true},    {"127.255.255.254", true}, {"127.1.2.3", true},
        {"::1", true},          {"localhost", true},       {"0.0.0.0", false},
        {"::", false},          {"10.0.0.1", false},       {"128.0.0.1", false},
        {"127.0.0", false},     {"127.0.0.1.", false},     {"127.0.0.256", false},
        {"127.0.0.1x", false},  {"127..0.1", false},       {"", false},
        {"LOCALHOST2", false},  {"1127.0.0.1", false},     {"::2", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (config_is_loopback(rows[i].a) != rows[i].want)
            fail_msg("config_is_loopback(\"%s\") != %d", rows[i].a, rows[i].want);
    assert_false(config_is_loopback(NULL));
}

/* TLS listener keys: defaults, values, paths with spaces; freed by config_fini (leak check). */
static void test_tls_keys(void **state)
{
    (void)state;
    struct config c;
    const char *text = "listener 8883\n"
                       "certfile /etc/warden/my server.pem\n"
                       "keyfile /k.pem\ncafile /ca.pem\ncapath /cas\ncrlfile /crl.der\n"
                       "ciphers ECDHE-ECDSA-AES128-GCM-SHA256\n"
                       "ciphersuites TLS13-AES128-GCM-SHA256\n"
                       "certfile /s.pem\n"
                       "require_certificate true\nuse_identity_as_username true\n"
                       "tls_version tlsv1.3\ntls_handshake_timeout 3\ncert_identity san_uri\n"
                       "crl_expired_policy reject\n"
                       "listener 1883\n";
    assert_int_equal(parse(&c, text), WD_OK);
    assert_int_equal(c.nlisteners, 2);
    const struct config_tls *t = &c.listeners[0].tls;
    assert_string_equal(t->certfile, "/s.pem"); /* the last one wins */
    assert_string_equal(t->keyfile, "/k.pem");
    assert_string_equal(t->cafile, "/ca.pem");
    assert_string_equal(t->capath, "/cas");
    assert_string_equal(t->crlfile, "/crl.der");
    assert_string_equal(t->ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_string_equal(t->ciphersuites, "TLS13-AES128-GCM-SHA256");
    assert_true(t->require_certificate);
    assert_true(t->use_identity_as_username);
    assert_false(t->use_subject_as_username);
    assert_int_equal(t->tls_version, TLS_V13);
    assert_int_equal(t->handshake_timeout, 3);
    assert_int_equal(t->cert_identity, CERT_ID_SAN_URI);
    assert_int_equal(t->crl_expired_policy, CRL_EXPIRED_REJECT);
    /* the plain listener: TLS off, defaults */
    const struct config_tls *p = &c.listeners[1].tls;
    assert_null(p->certfile);
    assert_int_equal(p->tls_version, TLS_V12);
    assert_int_equal(p->handshake_timeout, 10);
    assert_int_equal(p->cert_identity, CERT_ID_CN);
    assert_int_equal(p->crl_expired_policy, CRL_EXPIRED_WARN);
    config_fini(&c);
    /* keys of a rejected listener are checked and dropped, never leaked */
    assert_int_equal(parse(&c, "listener x\ncertfile /a\nkeyfile /b\n"), WD_ECONFIG);
    assert_int_equal(errs.n, 1);
    config_fini(&c);
}

static void test_log_level_name(void **state)
{
    (void)state;
    assert_string_equal(config_log_level_name(LOG_LVL_ERROR), "error");
    assert_string_equal(config_log_level_name(LOG_LVL_WARNING), "warning");
    assert_string_equal(config_log_level_name(LOG_LVL_NOTICE), "notice");
    assert_string_equal(config_log_level_name(LOG_LVL_INFO), "info");
    assert_string_equal(config_log_level_name(LOG_LVL_DEBUG), "debug");
    assert_string_equal(config_log_level_name((enum config_log_level)99), "unknown");
}

/* An http_listener section: its own keys only; it is not an MQTT listener, so a
 * file with no `listener` still gets the embedded default beside it. */
static void test_http_listener(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(parse(&c, "http_listener 8443 127.0.0.1\n"
                               "certfile /s.pem\nkeyfile /s.key\n"
                               "tls_version tlsv1.3\n"
                               "oauth_token_ttl 600\n"),
                     WD_OK);
    assert_int_equal(errs.n, 0);
    assert_int_equal(c.nlisteners, 2);
    assert_true(c.listeners[0].http);
    assert_int_equal(c.listeners[0].port, 8443);
    assert_string_equal(c.listeners[0].tls.certfile, "/s.pem");
    assert_int_equal(c.listeners[0].tls.tls_version, TLS_V13);
    assert_false(c.listeners[1].http);
    assert_int_equal(c.listeners[1].port, 1883);
    assert_true(c.listeners[1].allow_anonymous);
    assert_int_equal(c.oauth_token_ttl, 600);
    config_fini(&c);

    assert_int_equal(parse(&c, "listener 1883 127.0.0.1\n"
                               "http_listener 1883 127.0.0.1\n"   /* 2: same address */
                               "http_listener 8080\n"             /* 3 */
                               "allow_anonymous true\n"           /* 4: MQTT only */
                               "cafile /ca.pem\n"                 /* 5: no client certs */
                               "http_listener x\n"                /* 6 */
                               "oauth_token_ttl 10\n"),           /* 7: below a minute */
                     WD_ECONFIG);
    assert_int_equal(errs.n, 5);
    assert_int_equal(errs.e[0].line, 2);
    assert_non_null(strstr(errs.e[0].msg, "http_listener: duplicate listener"));
    assert_int_equal(errs.e[1].line, 4);
    assert_non_null(strstr(errs.e[1].msg, "allow_anonymous: not valid in an http_listener"));
    assert_int_equal(errs.e[2].line, 5);
    assert_int_equal(errs.e[3].line, 6);
    assert_non_null(strstr(errs.e[3].msg, "http_listener: port 'x' is not a number"));
    assert_int_equal(errs.e[4].line, 7);
    assert_int_equal(c.nlisteners, 2);
    assert_false(c.listeners[0].http);
    assert_true(c.listeners[1].http);
    config_fini(&c);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_embedded),
        T(test_every_key),
        T(test_store_keys),
        T(test_auth_keys),
        T(test_token_keys),
    T(test_enum_values),
        T(test_listener_sections),
        T(test_default_listener),
        T(test_error_kinds),
        T(test_null_file),
        T(test_multiple_errors),
        T(test_bad_listener_no_default),
        T(test_comments_blank_crlf),
        T(test_size_suffixes),
        T(test_last_wins),
        T(test_load_missing),
        T(test_load_file),
        T(test_oom),
        T(test_is_loopback),
        T(test_log_level_name),
        T(test_tls_keys),
        T(test_http_listener),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
