/*
 * test_certpol.c - unit tests for certpol.c: the broker's copy of the store's
 * revocations and pins (loaded through a fake backend), the verdicts it gives,
 * and the hourly throttle on recording certificates seen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "certpol.h"
#include "err.h"
#include "mem.h"

/* The fake store: two revoked fingerprints (3, 1), pins alice->{5,4}, bob->{6}. */
static enum wd_err fake_list(void *ctx, uint8_t kind, struct cert_rec **out, size_t *n)
{
    enum wd_err *fail = ctx;
    if (*fail)
        return *fail;
    static const struct {
        uint8_t kind;
        const char *user;
        uint8_t b;
    } rows[] = {{CERTREC_REVOKED, NULL, 3}, {CERTREC_REVOKED, NULL, 1}, {CERTREC_PIN, "alice", 5},
                {CERTREC_PIN, "bob", 6}, {CERTREC_PIN, "alice", 4}};
    struct cert_rec *v = wd_calloc(5, sizeof *v);
    assert_non_null(v);
    size_t k = 0;
    for (size_t i = 0; i < 5; i++) {
        if (rows[i].kind != kind)
            continue;
        v[k].kind = kind;
        memset(v[k].fp, rows[i].b, CERT_FP_LEN);
        v[k].user = rows[i].user ? wd_strdup(rows[i].user) : NULL;
        k++;
    }
    *out = v;
    *n = k;
    return WD_OK;
}

static void fp(uint8_t out[CERT_FP_LEN], uint8_t b)
{
    memset(out, b, CERT_FP_LEN);
}

static void test_verdicts(void **state)
{
    (void)state;
    enum wd_err fail = WD_OK;
    struct backend_ops ops = {.ctx = &fail, .certs_list = fake_list};
    struct certpol *p;
    assert_int_equal(certpol_load(&ops, &p), WD_OK);
    uint8_t f[CERT_FP_LEN];
    fp(f, 1);
    assert_int_equal(certpol_check(p, NULL, f), CERT_VERDICT_REVOKED);
    assert_int_equal(certpol_check(p, "alice", f), CERT_VERDICT_REVOKED);
    fp(f, 3);
    assert_int_equal(certpol_check(p, "carol", f), CERT_VERDICT_REVOKED);
    fp(f, 4);
    assert_int_equal(certpol_check(p, "alice", f), CERT_VERDICT_OK);
    fp(f, 5);
    assert_int_equal(certpol_check(p, "alice", f), CERT_VERDICT_OK);
    fp(f, 6);
    assert_int_equal(certpol_check(p, "alice", f), CERT_VERDICT_NOT_PINNED);
    assert_int_equal(certpol_check(p, "bob", f), CERT_VERDICT_OK);
    assert_int_equal(certpol_check(p, "carol", f), CERT_VERDICT_OK);  /* pins nothing */
    assert_int_equal(certpol_check(p, "alic", f), CERT_VERDICT_OK);   /* not alice */
    assert_int_equal(certpol_check(p, NULL, f), CERT_VERDICT_OK);     /* not an identity */
    certpol_free(p);
    /* Nothing loaded yet, or no certificate ops: nothing refused. */
    assert_int_equal(certpol_check(NULL, "alice", f), CERT_VERDICT_OK);
    struct backend_ops none = {0};
    assert_int_equal(certpol_load(&none, &p), WD_OK);
    assert_int_equal(certpol_check(p, "alice", f), CERT_VERDICT_OK);
    certpol_free(p);
    /* A failing store: an error and nothing to free. */
    fail = WD_EIO;
    p = (struct certpol *)&fail;
    assert_int_equal(certpol_load(&ops, &p), WD_EIO);
    assert_null(p);
    certpol_free(NULL);
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t f[CERT_FP_LEN], g[CERT_FP_LEN];
    for (int i = 0; i < CERT_FP_LEN; i++)
        f[i] = (uint8_t)(i * 7 + 1);
    char hex[CERT_FP_HEX];
    backend_fp_hex(f, hex);
    assert_int_equal(strlen(hex), 64);
    assert_true(backend_fp_parse(hex, g));
    assert_memory_equal(f, g, CERT_FP_LEN);
    assert_false(backend_fp_parse("", g));
    hex[10] = 'x';
    assert_false(backend_fp_parse(hex, g));
    assert_string_equal(certpol_verdict_text(CERT_VERDICT_NOT_PINNED), "not pinned");
}

static void test_seen_throttle(void **state)
{
    (void)state;
    static struct certpol_seen t; /* zeroed */
    uint8_t a[CERT_FP_LEN], b[CERT_FP_LEN];
    fp(a, 0xaa);
    fp(b, 0xbb);
    uint64_t now = 1000;
    assert_true(certpol_seen_due(&t, a, now));
    assert_false(certpol_seen_due(&t, a, now + 1));                            /* reconnect */
    assert_false(certpol_seen_due(&t, a, now + CERTPOL_SEEN_EVERY_MS - 1));
    assert_true(certpol_seen_due(&t, b, now + 5));                             /* another */
    assert_true(certpol_seen_due(&t, a, now + CERTPOL_SEEN_EVERY_MS));         /* an hour on */
    assert_false(certpol_seen_due(&t, a, now + CERTPOL_SEEN_EVERY_MS + 1));
    certpol_seen_forget(&t, a);                                                /* not queued */
    assert_true(certpol_seen_due(&t, a, now + CERTPOL_SEEN_EVERY_MS + 2));
    /* Many certificates in one probe window: the table stays bounded and keeps working. */
    for (int i = 0; i < 100; i++) {
        uint8_t c[CERT_FP_LEN] = {0};
        c[CERT_FP_LEN - 1] = (uint8_t)i; /* the same slot for all */
        c[CERT_FP_LEN - 2] = 1;
        assert_true(certpol_seen_due(&t, c, now + 10));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_seen_throttle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
