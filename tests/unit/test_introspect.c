/*
 * test_introspect.c - unit tests for introspect.c's pure parts: the https URL
 * split and the HTTP response / RFC 7662 answer parser (every refusal), fed
 * whole and one byte at a time. The network call and the cache are covered by
 * tests/integ/09-introspect.py against a real TLS service.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "introspect.h"
#include "mem.h"

static int no_leaks(void **state)
{
    (void)state;
    if (mem_in_use() != 0) {
        fprintf(stderr, "leak: %zu bytes\n", mem_in_use());
        return -1;
    }
    return 0;
}

static void test_url(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        enum wd_err want;
        const char *host;
        uint16_t port;
        const char *path;
    } rows[] = {
        {"https://as.example/oauth2/introspect", WD_OK, "as.example", 443, "/oauth2/introspect"},
        {"https://127.0.0.1:8443/i", WD_OK, "127.0.0.1", 8443, "/i"},
        {"https://[::1]:9000/x?realm=a", WD_OK, "::1", 9000, "/x?realm=a"},
        {"https://[::1]", WD_OK, "::1", 443, "/"},
        {"https://as.example", WD_OK, "as.example", 443, "/"},
        {"https://as.example?x=1", WD_OK, "as.example", 443, "/?x=1"},
        {"http://as.example/i", WD_EINVAL, NULL, 0, NULL},
        {"HTTPS://as.example/i", WD_EINVAL, NULL, 0, NULL},
        {"https:///i", WD_EINVAL, NULL, 0, NULL},
        {"https://as.example:0/i", WD_EINVAL, NULL, 0, NULL},
        {"https://as.example:65536/i", WD_EINVAL, NULL, 0, NULL},
        {"https://as.example:44a/i", WD_EINVAL, NULL, 0, NULL},
        {"https://as.example:/i", WD_EINVAL, NULL, 0, NULL},
        {"https://user:pw@as.example/i", WD_EINVAL, NULL, 0, NULL},
        {"https://as.example/i#frag", WD_EINVAL, NULL, 0, NULL},
        {"https://as.example/a b", WD_EINVAL, NULL, 0, NULL},
        {"https://[::1/i", WD_EINVAL, NULL, 0, NULL},
        {"https://[::1]x/i", WD_EINVAL, NULL, 0, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char host[INTROSPECT_HOST_MAX], path[INTROSPECT_PATH_MAX];
        uint16_t port = 0;
        enum wd_err e = introspect_parse_url(rows[i].url, host, &port, path);
        if (e != rows[i].want)
            fail_msg("%s: got %s", rows[i].url, wd_errname(e));
        if (e == WD_OK) {
            assert_string_equal(host, rows[i].host);
            assert_int_equal(port, rows[i].port);
            assert_string_equal(path, rows[i].path);
        }
    }
    char longhost[400] = "https://";
    memset(longhost + 8, 'a', 300);
    char host[INTROSPECT_HOST_MAX], path[INTROSPECT_PATH_MAX];
    uint16_t port;
    assert_int_equal(introspect_parse_url(longhost, host, &port, path), WD_EINVAL);
}

#define HDR200 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"

/* An answer with Content-Length for body. Returns a static buffer. */
static const char *resp(const char *status_and_headers, const char *body)
{
    static char buf[INTROSPECT_MAX_RESPONSE + 512];
    snprintf(buf, sizeof buf, "%sContent-Length: %zu\r\n\r\n%s", status_and_headers,
             strlen(body), body);
    return buf;
}

static enum wd_err parse(const char *r, struct introspect_answer *a, char *why)
{
    return introspect_parse_response(r, strlen(r), true, a, why, 200);
}

static void test_active_answer(void **state)
{
    (void)state;
    struct introspect_answer a;
    char why[200];
    const char *r = resp(HDR200, "{\"active\":true,\"sub\":\"alice\",\"scope\":\"mqtt:rw:a/#\","
                                 "\"exp\":2000000000,\"client_id\":\"dev-1\",\"iss\":\"https://as\","
                                 "\"aud\":[\"mqtt\",\"other\"],\"username\":\"x\",\"nbf\":1}");
    assert_int_equal(parse(r, &a, why), WD_OK);
    assert_true(a.active);
    assert_string_equal(a.sub, "alice");
    assert_string_equal(a.scope, "mqtt:rw:a/#");
    assert_string_equal(a.client_id, "dev-1");
    assert_string_equal(a.iss, "https://as");
    assert_string_equal(a.aud, "mqtt\nother");
    assert_int_equal(a.exp, 2000000000);
    introspect_answer_fini(&a);
    /* Byte by byte: incomplete until the last one. */
    size_t n = strlen(r);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(introspect_parse_response(r, i, false, &a, why, sizeof why), WD_EAGAIN);
    assert_int_equal(introspect_parse_response(r, n, false, &a, why, sizeof why), WD_OK);
    introspect_answer_fini(&a);
    /* Minimal, aud as a string, nulls ignored. */
    assert_int_equal(parse(resp(HDR200, "{\"active\":true,\"aud\":\"mqtt\",\"sub\":null}"), &a,
                           why), WD_OK);
    assert_true(a.active && !a.sub && !a.scope && a.exp == 0);
    assert_string_equal(a.aud, "mqtt");
    introspect_answer_fini(&a);
    /* A body that ends when the peer closes (no length). */
    const char *close = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"active\":true}";
    assert_int_equal(introspect_parse_response(close, strlen(close), false, &a, why, sizeof why),
                     WD_EAGAIN);
    assert_int_equal(parse(close, &a, why), WD_OK);
    assert_true(a.active);
    introspect_answer_fini(&a);
    /* Chunked, in two chunks. */
    const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "a\r\n{\"active\":\r\n11\r\ntrue,\"sub\":\"bob\"}\r\n0\r\n\r\n";
    assert_int_equal(parse(chunked, &a, why), WD_OK);
    assert_true(a.active);
    assert_string_equal(a.sub, "bob");
    introspect_answer_fini(&a);
}

static void test_inactive_answer(void **state)
{
    (void)state;
    struct introspect_answer a;
    char why[200];
    /* RFC 7662 2.2: an inactive answer's other members do not count, even wrong ones. */
    assert_int_equal(parse(resp(HDR200, "{\"active\":false,\"sub\":7}"), &a, why), WD_OK);
    assert_false(a.active);
    assert_null(a.sub);
    introspect_answer_fini(&a);
}

static void test_refused_answers(void **state)
{
    (void)state;
    static const struct {
        const char *head, *body, *why;
        enum wd_err want;
    } rows[] = {
        {"HTTP/1.1 500 Internal Server Error\r\n", "{\"active\":true}", "HTTP 500", WD_EIO},
        {"HTTP/1.1 401 Unauthorized\r\n", "{\"error\":\"invalid_client\"}", "HTTP 401", WD_EIO},
        {"HTTP/1.1 302 Found\r\n", "", "HTTP 302", WD_EIO},
        {HDR200, "{not json", "not a JSON object", WD_EIO},
        {HDR200, "[true]", "not a JSON object", WD_EIO},
        {HDR200, "", "not a JSON object", WD_EIO},
        {HDR200, "{}", "no boolean \"active\"", WD_EIO},
        {HDR200, "{\"active\":\"true\"}", "no boolean \"active\"", WD_EIO},
        {HDR200, "{\"active\":1}", "no boolean \"active\"", WD_EIO},
        {HDR200, "{\"active\":true,\"sub\":5}", "not a string", WD_EIO},
        {HDR200, "{\"active\":true,\"scope\":[\"a\"]}", "not a string", WD_EIO},
        {HDR200, "{\"active\":true,\"client_id\":{}}", "not a string", WD_EIO},
        {HDR200, "{\"active\":true,\"sub\":\"a\\u0000b\"}", "not a JSON object", WD_EIO},
        {HDR200, "{\"active\":true,\"exp\":\"soon\"}", "exp is not a time", WD_EIO},
        {HDR200, "{\"active\":true,\"exp\":-5}", "exp is not a time", WD_EIO},
        {HDR200, "{\"active\":true,\"aud\":[\"a\",1]}", "aud is not", WD_EIO},
        {HDR200, "{\"active\":true,\"aud\":5}", "aud is not", WD_EIO},
        {HDR200, "{\"active\":true,\"active\":false}", "not a JSON object", WD_EIO},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct introspect_answer a;
        char why[200] = "";
        enum wd_err e = parse(resp(rows[i].head, rows[i].body), &a, why);
        if (e != rows[i].want || !strstr(why, rows[i].why))
            fail_msg("row %zu: %s, why \"%s\"", i, wd_errname(e), why);
        assert_null(a.sub);
    }
    struct introspect_answer a;
    char why[200];
    /* Not HTTP; cut short; too large. */
    assert_int_equal(parse("SSH-2.0-OpenSSH\r\n", &a, why), WD_EIO);
    assert_non_null(strstr(why, "not HTTP"));
    const char *cut = HDR200 "Content-Length: 50\r\n\r\n{\"active\":";
    assert_int_equal(parse(cut, &a, why), WD_EIO);
    assert_non_null(strstr(why, "cut short"));
    assert_int_equal(introspect_parse_response(cut, strlen(cut), false, &a, why, sizeof why),
                     WD_EAGAIN);
    char *big = wd_malloc(INTROSPECT_MAX_RESPONSE + 2);
    assert_non_null(big);
    memset(big, ' ', INTROSPECT_MAX_RESPONSE + 1);
    big[INTROSPECT_MAX_RESPONSE + 1] = '\0';
    assert_int_equal(introspect_parse_response(big, INTROSPECT_MAX_RESPONSE + 1, true, &a, why,
                                               sizeof why), WD_ETOOLARGE);
    wd_free(big);
}

/* Out of memory at each allocation: a clean error, nothing leaked. */
static void test_oom(void **state)
{
    (void)state;
    const char *r = resp(HDR200, "{\"active\":true,\"sub\":\"alice\",\"scope\":\"s\","
                                 "\"client_id\":\"c\",\"iss\":\"i\",\"aud\":[\"a\",\"b\"]}");
    for (unsigned n = 1; n < 50; n++) {
        mem_fail_after(n);
        struct introspect_answer a;
        char why[200];
        enum wd_err e = parse(r, &a, why);
        mem_fail_after(0);
        if (e == WD_OK) {
            introspect_answer_fini(&a);
            continue;
        }
        assert_true(e == WD_ENOMEM || e == WD_EIO); /* jansson's own failure reads as garbled */
        assert_int_equal(mem_in_use(), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_url, no_leaks),
        cmocka_unit_test_teardown(test_active_answer, no_leaks),
        cmocka_unit_test_teardown(test_inactive_answer, no_leaks),
        cmocka_unit_test_teardown(test_refused_answers, no_leaks),
        cmocka_unit_test_teardown(test_oom, no_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
