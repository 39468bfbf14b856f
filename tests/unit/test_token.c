/*
 * test_token.c - unit tests for token.c: known-answer vectors for each
 * algorithm, sign/verify round trips, every refusal reason, scopes, JWKS
 * loading, and an out-of-memory loop.
 *
 * Vectors:
 * - RFC 7515 appendix A.1 (HS256), A.2 (RS256), A.3 (ES256): tokens and keys
 *   as printed in the RFC (their exp, 1300819380, is in 2011).
 * - RFC 8037 appendix A.4 (Ed25519): its payload is not JSON, so it checks
 *   token_sig_verify() and that token_parse() refuses it.
 * - OPENSSL_RS256 / OPENSSL_ES256: made with OpenSSL 3.0 (Debian 12) by
 *     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem
 *     openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem
 *     H=$(printf '{"alg":"RS256","typ":"JWT","kid":"rsa-1"}' | b64u)  # ES256/ec-1 likewise
 *     P=$(printf '%s' "$CLAIMS" | b64u)
 *     printf '%s.%s' $H $P > in; openssl dgst -sha256 -sign rsa.pem -out sig in
 *   where b64u = `openssl base64 -A | tr '+/' '-_' | tr -d '='`; the ES256 DER
 *   signature was unpacked into r||s (32 bytes each) with a few lines of
 *   Python; n comes from `openssl rsa -noout -modulus`, x and y are the last
 *   64 bytes of `openssl pkey -pubout -outform DER`. The private keys were
 *   thrown away; `openssl dgst -verify` accepted the RS256 signature.
 * Ed25519 and HS256 tokens are also made here and checked round trip.
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
#include <jansson.h>

#include "backend.h"
#include "err.h"
#include "mem.h"
#include "token.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define assert_err(got, want) assert_string_equal(wd_errname(got), wd_errname(want))
#define assert_reason(got, want) assert_string_equal(token_reason_str(got), token_reason_str(want))

/* ---- vectors -------------------------------------------------------------- */

#define RFC_PAYLOAD \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define RFC_EXP 1300819380

static const char rfc_a1_token[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." RFC_PAYLOAD
                                   ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char rfc_a1_k[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

static const char rfc_a2_token[] =
    "eyJhbGciOiJSUzI1NiJ9." RFC_PAYLOAD
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
    "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L"
    "07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUi"
    "pUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
static const char rfc_a2_n[] =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d"
    "4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMd"
    "bBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK"
    "-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

static const char rfc_a3_token[] = "eyJhbGciOiJFUzI1NiJ9." RFC_PAYLOAD
                                   ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8"
                                   "ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
static const char rfc_a3_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char rfc_a3_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

static const char rfc8037_jws[] =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg"
    "3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
static const char rfc8037_x[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

/* Claims of both OpenSSL tokens: iss https://idp.example, sub alice, aud
 * [warden, other], exp 4102444800, iat = nbf = 1700000000, jti j-1,
 * client_id dev-1, scope "openid mqtt:pub:sensors/%c/# mqtt:sub:cmd/%u". */
#define OPENSSL_PAYLOAD                                                                         \
    "eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UiLCJhdWQiOlsid2FyZGVuIiwib3RoZXIiXS" \
    "wiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3MDAwMDAwMDAsIm5iZiI6MTcwMDAwMDAwMCwianRpIjoiai0xIiwiY2xp" \
    "ZW50X2lkIjoiZGV2LTEiLCJzY29wZSI6Im9wZW5pZCBtcXR0OnB1YjpzZW5zb3JzLyVjLyMgbXF0dDpzdWI6Y21kLy" \
    "V1In0"
static const char openssl_rs256[] =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJzYS0xIn0." OPENSSL_PAYLOAD
    ".DNG03kEAZY4S-8WRVMwATwXIWTyCX4A2xmZB0IWwtoMfoh7CVktBhqv2mezxPYk3X_s2Q9pSN1FH-1vIzWwfj7_KNkS"
    "in-s3Je5mJViqGPFB5Efi7vbhdMRH2a0IgY9cr9ZAVUTM4V2LszkIJQsdwLDAgVoGW28OBPWIQZz6cuHjKtzLe62TVCWQ"
    "_0CXMqE1dlD4CZm0AsHTQ6iQZ1MHsldb7AH3DaiQ7pZpcmyyllcneylSm6i3WOEoljpACq_fNitt2XbXs7o6dpGVuhyEB"
    "Zz_l_uAhyX59imIfd3jADxsj0HPuA-ZQPlErKMCcHAOHIGy2NGpvh9MlSojM7knJA";
static const char openssl_es256[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImVjLTEifQ." OPENSSL_PAYLOAD
    ".7y7PN7Mih0zEpMj0wuy9M73Co1BwcFdgxSmq2k_RullSMnwsO350dgu7okCseAyCRRnG9_tXM6kGeyHDa9k0mQ";
/* The public JWKS of those two keys, with keys Warden must skip around them. */
static const char openssl_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},"
    "{\"kty\":\"RSA\",\"kid\":\"rsa-1\",\"use\":\"sig\",\"alg\":\"RS256\",\"e\":\"AQAB\",\"n\":"
    "\"igeE0TKCPNiPTeOA-n2Y3RqmXjmW9tv9yQ8AdJInZnLJdEDJ5txmI9PqLYTCMlfxV3lVk-E276BmG7LR_ENdwmquuxxK"
    "DlbW_FcyWtUlCkl7e7NkcSLlnSbYVrijsjQ-Kx09BFjCV2jJ4oUgp7B3c2FLHvfZHTxXeVm1mFNxIw97tUgdAOsGDf9gKw"
    "r-v2cg4P00VVcK-gcIVGgiusN3zIIMhksgdJSSwOon3DymvCJb_m4DqDxfbibwa0IkRCS-2vNFZrevHgoeC6YvlMN8eZLF"
    "Ef64M-T95QWt8ZjeP1bWtlbQVaczZuwXPGLFHo4p_X-cHtNd7m-_lwyasArrtQ\"},"
    "{\"kty\":\"RSA\",\"kid\":\"enc-1\",\"use\":\"enc\",\"e\":\"AQAB\",\"n\":\"AQAB\"},"
    "{\"kty\":\"RSA\",\"kid\":\"ps-1\",\"alg\":\"PS256\",\"e\":\"AQAB\",\"n\":\"AQAB\"},"
    "{\"kty\":\"EC\",\"kid\":\"ec-1\",\"crv\":\"P-256\","
    "\"x\":\"hcom0ibZWap9nUogIT1_-XpgILxmW5i-lNlHALSYDXk\","
    "\"y\":\"MW8zottXUTQOszPAZ1K4Ur0xw1yhZPonxSbl_tkdU8U\"},"
    "{\"kty\":\"EC\",\"kid\":\"p384\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"},"
    "{\"kty\":\"OKP\",\"kid\":\"ed-1\",\"crv\":\"Ed25519\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
    "{\"kty\":\"OKP\",\"kid\":\"x-1\",\"crv\":\"X25519\",\"x\":\"AA\"}"
    "]}";
#define OPENSSL_NOW 1750000000

/* ---- helpers -------------------------------------------------------------- */

/* Decode base64url test data; fails the test on error. */
static size_t unb64(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    assert_err(token_b64url_decode(s, strlen(s), out, cap, &n), WD_OK);
    return n;
}

/* "B64(hdr).B64(payload).sig" into a static buffer. */
static const char *compose(const char *hdr, const char *payload, const char *sig)
{
    static char buf[3 * TOKEN_MAX];
    size_t o = token_b64url_encode((const uint8_t *)hdr, strlen(hdr), buf);
    buf[o++] = '.';
    o += token_b64url_encode((const uint8_t *)payload, strlen(payload), buf + o);
    buf[o++] = '.';
    strcpy(buf + o, sig);
    return buf;
}

/* tok with its payload replaced by B64(payload): a well-formed token whose
 * signature no longer matches. Returns a static buffer. */
static const char *swap_payload(const char *tok, const char *payload)
{
    static char buf[3 * TOKEN_MAX];
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    size_t o = (size_t)(d1 + 1 - tok);
    memcpy(buf, tok, o);
    o += token_b64url_encode((const uint8_t *)payload, strlen(payload), buf + o);
    strcpy(buf + o, d2);
    return buf;
}

/* Parse s, expecting success. */
static struct token *parse_ok(const char *s)
{
    struct token *t = NULL;
    enum token_reason why;
    enum wd_err e = token_parse(s, strlen(s), &t, &why);
    if (e != WD_OK)
        fail_msg("parse: %s (%s) for %.80s", wd_errname(e), token_reason_str(why), s);
    assert_reason(why, TOKEN_OK);
    return t;
}

/* Parse then verify s against ks; returns the reason (TOKEN_OK if valid). */
static enum token_reason parse_verify(const char *s, const struct token_keyset *ks)
{
    struct token *t = NULL;
    enum token_reason why;
    if (token_parse(s, strlen(s), &t, &why) != WD_OK)
        return why;
    enum wd_err e = token_verify(t, ks, &why);
    assert_true((e == WD_OK) == (why == TOKEN_OK));
    token_free(t);
    return why;
}

static void add_hs256(struct token_keyset *ks, const char *kid, const char *secret)
{
    assert_err(token_keyset_add(ks, kid, TOKEN_HS256, (const uint8_t *)secret, strlen(secret), NULL,
                                0),
               WD_OK);
}

static int no_leaks(void **state)
{
    (void)state;
    mem_fail_after(0);
    if (mem_in_use() != 0) {
        fprintf(stderr, "leak: %zu bytes\n", mem_in_use());
        return -1;
    }
    return 0;
}

/* ---- base64url ------------------------------------------------------------ */

static void test_b64url(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum wd_err want;
        const char *out;
    } rows[] = {
        {"", WD_OK, ""},
        {"QQ", WD_OK, "A"},
        {"QUI", WD_OK, "AB"},
        {"QUJD", WD_OK, "ABC"},
        {"Pz8-", WD_OK, "?\?>"},
        {"Pz8_", WD_OK, "???"},
        {"QQ==", WD_EMALFORMED, NULL},  /* padding */
        {"QUI=", WD_EMALFORMED, NULL},
        {"Pz8+", WD_EMALFORMED, NULL},  /* standard alphabet */
        {"Pz8/", WD_EMALFORMED, NULL},
        {"Q", WD_EMALFORMED, NULL},     /* length % 4 == 1 */
        {"QUJDR", WD_EMALFORMED, NULL},
        {"QR", WD_EMALFORMED, NULL},    /* nonzero trailing bits */
        {"QUJ", WD_EMALFORMED, NULL},
        {"QU I", WD_EMALFORMED, NULL},
        {"QU\nI", WD_EMALFORMED, NULL},
        {"QUI\x80", WD_EMALFORMED, NULL},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        uint8_t out[16];
        size_t n = 99;
        enum wd_err e = token_b64url_decode(rows[i].in, strlen(rows[i].in), out, sizeof out, &n);
        if (e != rows[i].want)
            fail_msg("decode '%s': want %s got %s", rows[i].in, wd_errname(rows[i].want),
                     wd_errname(e));
        if (e == WD_OK) {
            assert_int_equal(n, strlen(rows[i].out));
            assert_memory_equal(out, rows[i].out, n);
        }
    }
    uint8_t small[2];
    size_t n;
    assert_err(token_b64url_decode("QUJD", 4, small, sizeof small, &n), WD_ETOOLARGE);

    /* Round trip of every length 0..40 and every byte value. */
    uint8_t in[40], back[40];
    char enc[TOKEN_B64_LEN(40) + 1];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 201);
    for (size_t len = 0; len <= sizeof in; len++) {
        size_t el = token_b64url_encode(in, len, enc);
        assert_int_equal(el, TOKEN_B64_LEN(len));
        assert_int_equal(strlen(enc), el);
        assert_err(token_b64url_decode(enc, el, back, sizeof back, &n), WD_OK);
        assert_int_equal(n, len);
        assert_memory_equal(back, in, len);
    }
}

/* ---- known answers ---------------------------------------------------------- */

static void test_rfc7515_hs256(void **state)
{
    (void)state;
    uint8_t k[64];
    size_t kl = unb64(rfc_a1_k, k, sizeof k);
    struct token_keyset ks;
    token_keyset_init(&ks);
    assert_err(token_keyset_add(&ks, NULL, TOKEN_HS256, k, kl, NULL, 0), WD_OK);

    struct token *t = parse_ok(rfc_a1_token);
    assert_int_equal(t->alg, TOKEN_HS256);
    assert_string_equal(t->typ, "JWT");
    assert_null(t->kid);
    assert_string_equal(t->iss, "joe");
    assert_true(t->has_exp);
    assert_int_equal(t->exp, RFC_EXP);
    assert_false(t->has_nbf);
    enum token_reason why;
    assert_err(token_verify(t, &ks, &why), WD_OK);

    const char *iss[] = {"joe"};
    struct token_policy p = {iss, 1, NULL, TOKEN_LEEWAY_DEFAULT};
    assert_err(token_check_claims(t, &p, RFC_EXP - 1, &why), WD_OK);
    assert_err(token_check_claims(t, &p, RFC_EXP, &why), WD_EBADAUTH);
    assert_reason(why, TOKEN_E_EXPIRED);
    token_free(t);

    /* A signature character changed; a claim changed. */
    char bad[sizeof rfc_a1_token];
    memcpy(bad, rfc_a1_token, sizeof bad);
    bad[sizeof bad - 10] = bad[sizeof bad - 10] == 'k' ? 'l' : 'k';
    assert_reason(parse_verify(bad, &ks), TOKEN_E_SIGNATURE);
    assert_reason(parse_verify(swap_payload(rfc_a1_token, "{\"iss\":\"joe\",\"exp\":1300819380,"
                                                          "\"http://example.com/is_root\":true}"),
                               &ks),
                  TOKEN_E_SIGNATURE);
    token_keyset_fini(&ks);
}

/* RFC 4231 test cases 2 (a 4-byte key) and 6 (131 bytes, hashed first):
 * HS256 keys shorter and longer than the block. */
static void test_rfc4231_hmac(void **state)
{
    (void)state;
    static const uint8_t mac2[32] = {
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
        0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    static const uint8_t mac6[32] = {
        0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f, 0x0d, 0x8a, 0x26, 0xaa, 0xcb, 0xf5, 0xb7, 0x7f,
        0x8e, 0x0b, 0xc6, 0x21, 0x37, 0x28, 0xc5, 0x14, 0x05, 0x46, 0x04, 0x0f, 0x0e, 0xe3, 0x7f, 0x54};
    uint8_t key6[131];
    memset(key6, 0xaa, sizeof key6);
    struct token_key k2 = {NULL, TOKEN_HS256, (uint8_t *)"Jefe", 4, NULL, 0};
    struct token_key k6 = {NULL, TOKEN_HS256, key6, sizeof key6, NULL, 0};
    const char *m2 = "what do ya want for nothing?";
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    assert_true(token_sig_verify(&k2, m2, strlen(m2), mac2, 32));
    assert_true(token_sig_verify(&k6, m6, strlen(m6), mac6, 32));
    assert_false(token_sig_verify(&k6, m2, strlen(m2), mac2, 32));
    assert_false(token_sig_verify(&k2, m2, strlen(m2), mac2, 31));
}

static void test_rfc7515_rs256(void **state)
{
    (void)state;
    uint8_t n[512], e[4] = {1, 0, 1};
    size_t nl = unb64(rfc_a2_n, n, sizeof n);
    assert_int_equal(nl, 256);
    struct token_keyset ks;
    token_keyset_init(&ks);
    assert_err(token_keyset_add(&ks, "2011-04-29", TOKEN_RS256, n, nl, e, 3), WD_OK);
    assert_reason(parse_verify(rfc_a2_token, &ks), TOKEN_OK);

    /* A changed claim: the signature no longer matches. */
    assert_reason(parse_verify(swap_payload(rfc_a2_token, "{\"iss\":\"joe\",\r\n \"exp\":1300819381,"
                                                          "\r\n \"http://example.com/is_root\":true}"),
                               &ks),
                  TOKEN_E_SIGNATURE);
    /* A signature one byte short of the modulus size. */
    struct token *t = parse_ok(rfc_a2_token);
    assert_false(token_sig_verify(&ks.keys[0], t->signing_input, t->signing_len, t->sig,
                                  t->sig_len - 1));
    token_free(t);
    token_keyset_fini(&ks);
}

static void test_rfc7515_es256(void **state)
{
    (void)state;
    uint8_t x[32], y[32];
    assert_int_equal(unb64(rfc_a3_x, x, sizeof x), 32);
    assert_int_equal(unb64(rfc_a3_y, y, sizeof y), 32);
    struct token_keyset ks;
    token_keyset_init(&ks);
    assert_err(token_keyset_add(&ks, NULL, TOKEN_ES256, x, 32, y, 32), WD_OK);
    assert_reason(parse_verify(rfc_a3_token, &ks), TOKEN_OK);

    struct token *t = parse_ok(rfc_a3_token);
    uint8_t sig[64];
    memcpy(sig, t->sig, 64);
    sig[40] ^= 0x80; /* s changed */
    assert_false(token_sig_verify(&ks.keys[0], t->signing_input, t->signing_len, sig, 64));
    memset(sig, 0, sizeof sig); /* r = s = 0 */
    assert_false(token_sig_verify(&ks.keys[0], t->signing_input, t->signing_len, sig, 64));
    memset(sig, 0xff, sizeof sig); /* r, s >= the group order */
    assert_false(token_sig_verify(&ks.keys[0], t->signing_input, t->signing_len, sig, 64));
    assert_false(token_sig_verify(&ks.keys[0], t->signing_input, t->signing_len, t->sig, 63));
    token_free(t);
    token_keyset_fini(&ks);
}

static void test_rfc8037_ed25519(void **state)
{
    (void)state;
    uint8_t x[32];
    assert_int_equal(unb64(rfc8037_x, x, sizeof x), 32);
    struct token_keyset ks;
    token_keyset_init(&ks);
    assert_err(token_keyset_add(&ks, NULL, TOKEN_EDDSA, x, 32, NULL, 0), WD_OK);

    const char *d2 = strrchr(rfc8037_jws, '.');
    uint8_t sig[64];
    assert_int_equal(unb64(d2 + 1, sig, sizeof sig), 64);
    size_t inlen = (size_t)(d2 - rfc8037_jws);
    assert_true(token_sig_verify(&ks.keys[0], rfc8037_jws, inlen, sig, 64));
    assert_false(token_sig_verify(&ks.keys[0], rfc8037_jws, inlen - 1, sig, 64));
    sig[0] ^= 1;
    assert_false(token_sig_verify(&ks.keys[0], rfc8037_jws, inlen, sig, 64));

    /* The RFC's payload is plain text, not a claims object. */
    struct token *t = NULL;
    enum token_reason why;
    assert_err(token_parse(rfc8037_jws, strlen(rfc8037_jws), &t, &why), WD_EMALFORMED);
    assert_reason(why, TOKEN_E_JSON);
    token_keyset_fini(&ks);
}

static void test_openssl_jwks(void **state)
{
    (void)state;
    struct token_keyset ks;
    token_keyset_init(&ks);
    size_t skipped = 0;
    char why_s[160];
    enum wd_err e = token_jwks_load(&ks, openssl_jwks, strlen(openssl_jwks), &skipped, why_s,
                                    sizeof why_s);
    if (e != WD_OK)
        fail_msg("jwks: %s: %s", wd_errname(e), why_s);
    assert_int_equal(ks.n, 3);
    assert_int_equal(skipped, 5);
    assert_string_equal(ks.keys[0].kid, "rsa-1");
    assert_int_equal(ks.keys[0].alg, TOKEN_RS256);
    assert_int_equal(ks.keys[1].alg, TOKEN_ES256);
    assert_int_equal(ks.keys[2].alg, TOKEN_EDDSA);

    const char *toks[] = {openssl_rs256, openssl_es256};
    for (size_t i = 0; i < COUNT(toks); i++) {
        struct token *t = parse_ok(toks[i]);
        enum token_reason why;
        assert_err(token_verify(t, &ks, &why), WD_OK);
        assert_string_equal(t->sub, "alice");
        assert_string_equal(t->jti, "j-1");
        assert_string_equal(t->client_id, "dev-1");
        assert_int_equal(t->naud, 2);
        assert_string_equal(t->aud[1], "other");
        assert_int_equal(t->nbf, 1700000000);
        const char *iss[] = {"https://other.example", "https://idp.example"};
        struct token_policy p = {iss, 2, "warden", TOKEN_LEEWAY_DEFAULT};
        assert_err(token_check_claims(t, &p, OPENSSL_NOW, &why), WD_OK);

        struct token_grant *g;
        size_t n, unknown;
        assert_err(token_scope_parse(t->scope, &g, &n, &unknown, &why), WD_OK);
        assert_int_equal(n, 2);
        assert_int_equal(unknown, 1);
        assert_int_equal(g[0].actions, RULE_PUBLISH);
        assert_string_equal(g[0].filter, "sensors/%c/#");
        assert_int_equal(g[1].actions, RULE_SUBSCRIBE | RULE_RECEIVE);
        assert_string_equal(g[1].filter, "cmd/%u");
        token_grants_free(g, n);
        token_free(t);
    }
    /* Each token's kid names a key of the other alg: refused, not verified. */
    char swapped[sizeof openssl_es256];
    snprintf(swapped, sizeof swapped, "%s", openssl_es256);
    struct token *t = parse_ok(swapped);
    wd_free(t->kid);
    t->kid = wd_strdup("rsa-1");
    enum token_reason why;
    assert_err(token_verify(t, &ks, &why), WD_EBADAUTH);
    assert_reason(why, TOKEN_E_ALG_MISMATCH);
    token_free(t);
    token_keyset_fini(&ks);
}

/* ---- round trips ------------------------------------------------------------- */

static json_t *claims_now(const char *sub, long long exp)
{
    json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:s}", "iss", "warden", "sub", sub, "exp", exp,
                          "iat", (long long)1700000000, "scope", "mqtt:rw:devices/%c/#");
    assert_non_null(c);
    return c;
}

static void test_roundtrip_eddsa(void **state)
{
    (void)state;
    uint8_t pk[TOKEN_ED25519_PK], sk[TOKEN_ED25519_SK];
    token_ed25519_keypair(pk, sk);
    struct token_keyset ks;
    token_keyset_init(&ks);
    assert_err(token_keyset_add(&ks, "w1", TOKEN_EDDSA, pk, sizeof pk, NULL, 0), WD_OK);

    json_t *c = claims_now("bob", 1800000000);
    char *tok;
    size_t len;
    assert_err(token_sign_eddsa(c, "w1", sk, &tok, &len), WD_OK);
    assert_int_equal(strlen(tok), len);
    struct token *t = parse_ok(tok);
    assert_int_equal(t->alg, TOKEN_EDDSA);
    assert_string_equal(t->kid, "w1");
    assert_string_equal(t->sub, "bob");
    enum token_reason why;
    assert_err(token_verify(t, &ks, &why), WD_OK);
    struct token_policy p = {NULL, 0, NULL, TOKEN_LEEWAY_DEFAULT};
    assert_err(token_check_claims(t, &p, 1700000000, &why), WD_OK);
    token_free(t);

    /* Tampered payload: a wider scope under the same signature. */
    assert_reason(parse_verify(swap_payload(tok, "{\"iss\":\"warden\",\"sub\":\"bob\",\"exp\":"
                                                 "1800000000,\"scope\":\"mqtt:rw:#\"}"),
                               &ks),
                  TOKEN_E_SIGNATURE);
    assert_reason(parse_verify(tok, &ks), TOKEN_OK);
    /* Tampered signature. */
    char *sig = strrchr(tok, '.') + 1;
    sig[3] = sig[3] == 'A' ? 'B' : 'A';
    assert_reason(parse_verify(tok, &ks), TOKEN_E_SIGNATURE);
    wd_free(tok);

    /* Another key pair under the same kid does not verify. */
    uint8_t pk2[TOKEN_ED25519_PK], sk2[TOKEN_ED25519_SK];
    token_ed25519_keypair(pk2, sk2);
    assert_err(token_sign_eddsa(c, "w1", sk2, &tok, &len), WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_E_SIGNATURE);
    wd_free(tok);
    json_decref(c);
    token_keyset_fini(&ks);
}

static void test_roundtrip_hs256(void **state)
{
    (void)state;
    /* Keys of any length: short, one block, longer than a block (hashed). */
    static const size_t lens[] = {1, 3, 32, 64, 65, 200, TOKEN_HS256_KEY_MAX};
    static uint8_t secret[TOKEN_HS256_KEY_MAX];
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (uint8_t)(i * 7 + 1);
    json_t *c = claims_now("carol", 1800000000);
    for (size_t i = 0; i < COUNT(lens); i++) {
        struct token_keyset ks;
        token_keyset_init(&ks);
        assert_err(token_keyset_add(&ks, NULL, TOKEN_HS256, secret, lens[i], NULL, 0), WD_OK);
        char *tok;
        size_t len;
        assert_err(token_sign_hs256(c, NULL, secret, lens[i], &tok, &len), WD_OK);
        assert_reason(parse_verify(tok, &ks), TOKEN_OK);
        wd_free(tok);
        /* Same key with one more byte: refused. */
        if (lens[i] < sizeof secret) {
            assert_err(token_sign_hs256(c, NULL, secret, lens[i] + 1, &tok, &len), WD_OK);
            assert_reason(parse_verify(tok, &ks), TOKEN_E_SIGNATURE);
            wd_free(tok);
        }
        token_keyset_fini(&ks);
    }
    json_decref(c);
}

static void test_sign_errors(void **state)
{
    (void)state;
    char *tok = NULL;
    size_t len;
    uint8_t pk[TOKEN_ED25519_PK], sk[TOKEN_ED25519_SK];
    token_ed25519_keypair(pk, sk);
    json_t *arr = json_array();
    assert_err(token_sign_eddsa(arr, NULL, sk, &tok, &len), WD_EINVAL);
    json_decref(arr);
    json_t *c = claims_now("d", 1800000000);
    assert_err(token_sign_hs256(c, NULL, (const uint8_t *)"", 0, &tok, &len), WD_EINVAL);
    char kid[TOKEN_KID_MAX + 2];
    memset(kid, 'k', sizeof kid - 1);
    kid[sizeof kid - 1] = '\0';
    assert_err(token_sign_eddsa(c, kid, sk, &tok, &len), WD_EINVAL);
    assert_err(token_sign_eddsa(c, "\xff", sk, &tok, &len), WD_EINVAL);
    /* Claims too big for a token we would accept. */
    char big[TOKEN_MAX];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_object_set_new(c, "pad", json_string(big));
    assert_err(token_sign_eddsa(c, NULL, sk, &tok, &len), WD_ETOOLARGE);
    json_decref(c);
    assert_null(tok);
}

/* ---- refusals ------------------------------------------------------------------ */

static void test_alg_none_and_unknown(void **state)
{
    (void)state;
    static const struct {
        const char *hdr;
        const char *sig;
        enum token_reason want;
    } rows[] = {
        {"{\"alg\":\"none\"}", "", TOKEN_E_ALG_NONE},
        {"{\"alg\":\"none\"}", "c2ln", TOKEN_E_ALG_NONE},
        {"{\"alg\":\"None\",\"typ\":\"JWT\"}", "", TOKEN_E_ALG_NONE},
        {"{\"alg\":\"NONE\"}", "c2ln", TOKEN_E_ALG_NONE},
        {"{\"alg\":\"HS512\"}", "c2ln", TOKEN_E_ALG_UNKNOWN},
        {"{\"alg\":\"PS256\"}", "c2ln", TOKEN_E_ALG_UNKNOWN},
        {"{\"alg\":\"hs256\"}", "c2ln", TOKEN_E_ALG_UNKNOWN},
        {"{\"alg\":\"Ed25519\"}", "c2ln", TOKEN_E_ALG_UNKNOWN},
        {"{\"alg\":\"\"}", "c2ln", TOKEN_E_ALG_UNKNOWN},
        {"{\"typ\":\"JWT\"}", "c2ln", TOKEN_E_HEADER},
        {"{\"alg\":256}", "c2ln", TOKEN_E_HEADER},
        {"{\"alg\":null}", "c2ln", TOKEN_E_HEADER},
        {"{\"alg\":[\"HS256\"]}", "c2ln", TOKEN_E_HEADER},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        const char *s = compose(rows[i].hdr, "{\"exp\":1800000000}", rows[i].sig);
        struct token *t = NULL;
        enum token_reason why;
        enum wd_err e = token_parse(s, strlen(s), &t, &why);
        if (e != WD_EMALFORMED || why != rows[i].want)
            fail_msg("%s: want %s got %s (%s)", rows[i].hdr, token_reason_str(rows[i].want),
                     token_reason_str(why), wd_errname(e));
        assert_null(t);
    }
}

static void test_alg_confusion(void **state)
{
    (void)state;
    /* The issuer publishes an RSA key; an attacker signs an HS256 token with
     * the public modulus (and, in a second try, with "n" as text) as the secret. */
    uint8_t n[512], e[3] = {1, 0, 1};
    size_t nl = unb64(rfc_a2_n, n, sizeof n);
    struct token_keyset ks;
    token_keyset_init(&ks);
    assert_err(token_keyset_add(&ks, "rsa", TOKEN_RS256, n, nl, e, 3), WD_OK);
    json_t *c = claims_now("mallory", 1800000000);
    char *tok;
    size_t len;
    assert_err(token_sign_hs256(c, "rsa", n, nl, &tok, &len), WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_E_ALG_MISMATCH);
    wd_free(tok);
    assert_err(token_sign_hs256(c, NULL, (const uint8_t *)rfc_a2_n, strlen(rfc_a2_n), &tok, &len),
               WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_E_ALG_MISMATCH);
    wd_free(tok);
    token_keyset_fini(&ks);

    /* An Ed25519 issuer: an HS256 token keyed with its public key. */
    uint8_t pk[TOKEN_ED25519_PK], sk[TOKEN_ED25519_SK];
    token_ed25519_keypair(pk, sk);
    token_keyset_init(&ks);
    assert_err(token_keyset_add(&ks, "ed", TOKEN_EDDSA, pk, sizeof pk, NULL, 0), WD_OK);
    assert_err(token_sign_hs256(c, "ed", pk, sizeof pk, &tok, &len), WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_E_ALG_MISMATCH);
    wd_free(tok);
    /* The key's alg is checked even when the primitive is called directly. */
    struct token_key hk = {NULL, TOKEN_HS256, pk, sizeof pk, NULL, 0};
    uint8_t zero[64] = {0};
    assert_false(token_sig_verify(&hk, "x", 1, zero, 64));
    token_keyset_fini(&ks);
    json_decref(c);
}

static void test_kid_selection(void **state)
{
    (void)state;
    json_t *c = claims_now("k", 1800000000);
    char *tok;
    size_t len;
    struct token_keyset ks;

    /* Two keys: the kid chooses; an unknown or missing kid is refused. */
    token_keyset_init(&ks);
    add_hs256(&ks, "a", "secret-a");
    add_hs256(&ks, "b", "secret-b");
    assert_err(token_sign_hs256(c, "b", (const uint8_t *)"secret-b", 8, &tok, &len), WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_OK);
    wd_free(tok);
    assert_err(token_sign_hs256(c, "a", (const uint8_t *)"secret-b", 8, &tok, &len), WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_E_SIGNATURE);
    wd_free(tok);
    assert_err(token_sign_hs256(c, "c", (const uint8_t *)"secret-b", 8, &tok, &len), WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_E_KID);
    wd_free(tok);
    assert_err(token_sign_hs256(c, NULL, (const uint8_t *)"secret-b", 8, &tok, &len), WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_E_KID);
    wd_free(tok);
    token_keyset_fini(&ks);

    /* One key with a kid: a token without kid uses it, a different kid does not. */
    token_keyset_init(&ks);
    add_hs256(&ks, "a", "secret-a");
    assert_err(token_sign_hs256(c, NULL, (const uint8_t *)"secret-a", 8, &tok, &len), WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_OK);
    wd_free(tok);
    assert_err(token_sign_hs256(c, "z", (const uint8_t *)"secret-a", 8, &tok, &len), WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_E_KID);
    wd_free(tok);
    token_keyset_fini(&ks);

    /* One key without kid stands in for any kid. */
    token_keyset_init(&ks);
    add_hs256(&ks, NULL, "secret-a");
    assert_err(token_sign_hs256(c, "whatever", (const uint8_t *)"secret-a", 8, &tok, &len), WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_OK);
    wd_free(tok);
    token_keyset_fini(&ks);

    /* No keys at all. */
    token_keyset_init(&ks);
    assert_err(token_sign_hs256(c, NULL, (const uint8_t *)"secret-a", 8, &tok, &len), WD_OK);
    assert_reason(parse_verify(tok, &ks), TOKEN_E_KID);
    wd_free(tok);
    json_decref(c);
}

static void test_claims(void **state)
{
    (void)state;
    const long long now = 1700000000;
    static const char *const iss[] = {"warden", "https://idp.example"};
    static const struct {
        const char *payload;
        const char *aud;    /* policy audience */
        size_t nissuers;    /* how many of iss[] the policy accepts */
        enum token_reason want;
    } rows[] = {
        {"{\"iss\":\"warden\",\"exp\":1700000001}", NULL, 2, TOKEN_OK},
        {"{\"iss\":\"warden\"}", NULL, 2, TOKEN_E_NO_EXP},
        {"{\"iss\":\"warden\",\"exp\":1700000000}", NULL, 2, TOKEN_E_EXPIRED},
        {"{\"iss\":\"warden\",\"exp\":1699999999}", NULL, 2, TOKEN_E_EXPIRED},
        {"{\"iss\":\"warden\",\"exp\":1700000000.9}", NULL, 2, TOKEN_E_EXPIRED},
        {"{\"iss\":\"warden\",\"exp\":1700000001.5}", NULL, 2, TOKEN_OK},
        {"{\"exp\":1800000000,\"nbf\":1700000030}", NULL, 0, TOKEN_OK},
        {"{\"exp\":1800000000,\"nbf\":1700000031}", NULL, 0, TOKEN_E_NBF},
        {"{\"exp\":1800000000,\"nbf\":1600000000}", NULL, 0, TOKEN_OK},
        {"{\"exp\":1800000000,\"iat\":1700000030}", NULL, 0, TOKEN_OK},
        {"{\"exp\":1800000000,\"iat\":1700000031}", NULL, 0, TOKEN_E_IAT},
        {"{\"exp\":1800000000,\"iat\":1800000031}", NULL, 0, TOKEN_E_IAT},
        {"{\"exp\":1800000000,\"iss\":\"https://idp.example\"}", NULL, 2, TOKEN_OK},
        {"{\"exp\":1800000000,\"iss\":\"https://idp.example\"}", NULL, 1, TOKEN_E_ISSUER},
        {"{\"exp\":1800000000,\"iss\":\"wardenx\"}", NULL, 2, TOKEN_E_ISSUER},
        {"{\"exp\":1800000000,\"iss\":\"Warden\"}", NULL, 2, TOKEN_E_ISSUER},
        {"{\"exp\":1800000000}", NULL, 2, TOKEN_E_ISSUER},
        {"{\"exp\":1800000000}", NULL, 0, TOKEN_OK},
        {"{\"exp\":1800000000,\"aud\":\"warden\"}", "warden", 0, TOKEN_OK},
        {"{\"exp\":1800000000,\"aud\":[\"x\",\"warden\"]}", "warden", 0, TOKEN_OK},
        {"{\"exp\":1800000000,\"aud\":[\"x\",\"y\"]}", "warden", 0, TOKEN_E_AUDIENCE},
        {"{\"exp\":1800000000,\"aud\":[]}", "warden", 0, TOKEN_E_AUDIENCE},
        {"{\"exp\":1800000000,\"aud\":\"wardens\"}", "warden", 0, TOKEN_E_AUDIENCE},
        {"{\"exp\":1800000000}", "warden", 0, TOKEN_E_AUDIENCE},
        {"{\"exp\":1800000000,\"aud\":\"other\"}", NULL, 0, TOKEN_OK},
        /* The first failure in the documented order is the one reported. */
        {"{\"exp\":1600000000,\"iss\":\"nobody\",\"aud\":\"x\"}", "warden", 2, TOKEN_E_EXPIRED},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        struct token *t = parse_ok(compose("{\"alg\":\"HS256\"}", rows[i].payload, "c2ln"));
        struct token_policy p = {iss, rows[i].nissuers, rows[i].aud, TOKEN_LEEWAY_DEFAULT};
        enum token_reason why;
        enum wd_err e = token_check_claims(t, &p, now, &why);
        if (why != rows[i].want || (e == WD_OK) != (why == TOKEN_OK))
            fail_msg("row %zu %s: want %s got %s", i, rows[i].payload,
                     token_reason_str(rows[i].want), token_reason_str(why));
        token_free(t);
    }
}

static void test_malformed(void **state)
{
    (void)state;
    /* Raw rows: header {"alg":"HS256"}, payload {"exp":1800000000}, then
     * one part changed; the others are composed from JSON text. */
    static const struct {
        const char *raw;     /* used as is when hdr is NULL */
        const char *hdr, *payload;
        enum token_reason want;
    } rows[] = {
        {"", NULL, NULL, TOKEN_E_FORMAT},
        {"abc", NULL, NULL, TOKEN_E_FORMAT},
        {"a.b", NULL, NULL, TOKEN_E_FORMAT},
        {"a.b.c.d", NULL, NULL, TOKEN_E_FORMAT},
        {"..", NULL, NULL, TOKEN_E_FORMAT},
        {".eyJ9.c2ln", NULL, NULL, TOKEN_E_FORMAT},
        {"eyJhbGciOiJIUzI1NiJ9..c2ln", NULL, NULL, TOKEN_E_FORMAT},
        {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.", NULL, NULL, TOKEN_E_FORMAT},
        {"eyJhbGciOiJIUzI1NiJ9=.eyJleHAiOjE4MDAwMDAwMDB9.c2ln", NULL, NULL, TOKEN_E_BASE64},
        {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.c2ln=", NULL, NULL, TOKEN_E_BASE64},
        {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.c2ln+", NULL, NULL, TOKEN_E_BASE64},
        {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.c2lo", NULL, NULL, TOKEN_OK},
        {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.c2lp", NULL, NULL, TOKEN_OK},
        {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.cw", NULL, NULL, TOKEN_OK},
        {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.cx", NULL, NULL, TOKEN_E_BASE64},
        {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.c2", NULL, NULL, TOKEN_E_BASE64},
        {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.c", NULL, NULL, TOKEN_E_BASE64},
        {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9 .c2ln", NULL, NULL, TOKEN_E_BASE64},
        {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.c2ln\n", NULL, NULL, TOKEN_E_BASE64},
        {"eyJhbGciOiJIUzI1NiJ8.eyJleHAiOjE4MDAwMDAwMDB9.c2ln", NULL, NULL, TOKEN_E_JSON},
        {NULL, "{\"alg\":\"HS256\"", "{}", TOKEN_E_JSON},
        {NULL, "[\"HS256\"]", "{}", TOKEN_E_JSON},
        {NULL, "\"HS256\"", "{}", TOKEN_E_JSON},
        {NULL, "{\"alg\":\"HS256\"} x", "{}", TOKEN_E_JSON},
        {NULL, "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", "{}", TOKEN_E_JSON},
        {NULL, "{\"alg\":\"HS256\",\"kid\":\"a\",\"kid\":\"b\"}", "{}", TOKEN_E_JSON},
        {NULL, "{\"alg\":\"HS256\"}", "{\"exp\":1,\"exp\":1800000000}", TOKEN_E_JSON},
        {NULL, "{\"alg\":\"HS256\"}", "{\"sub\":\"a\",\"sub\":\"root\"}", TOKEN_E_JSON},
        {NULL, "{\"alg\":\"HS256\"}", "[1]", TOKEN_E_JSON},
        {NULL, "{\"alg\":\"HS256\"}", "{\"sub\":\"a\\u0000b\"}", TOKEN_E_JSON},
        {NULL, "{\"alg\":\"HS256\"}", "{\"sub\":\"\xc3\x28\"}", TOKEN_E_JSON},
        {NULL, "{\"alg\":\"HS256\",\"kid\":7}", "{}", TOKEN_E_HEADER},
        {NULL, "{\"alg\":\"HS256\",\"typ\":null}", "{}", TOKEN_E_HEADER},
        {NULL, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{}", TOKEN_E_HEADER},
        {NULL, "{\"alg\":\"HS256\"}", "{\"exp\":\"1800000000\"}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"exp\":-1}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"exp\":253402300800}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"nbf\":true}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"iat\":1e300}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"iss\":7}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"sub\":null}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"scope\":[\"mqtt:pub:a\"]}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"client_id\":{}}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"jti\":1}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"aud\":5}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"aud\":[\"a\",5]}", TOKEN_E_CLAIM},
        {NULL, "{\"alg\":\"HS256\"}", "{\"aud\":[\"a\",\"b\"],\"x\":{\"y\":[1]}}", TOKEN_OK},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        const char *s = rows[i].raw ? rows[i].raw : compose(rows[i].hdr, rows[i].payload, "c2ln");
        struct token *t = NULL;
        enum token_reason why;
        enum wd_err e = token_parse(s, strlen(s), &t, &why);
        if (why != rows[i].want || (e == WD_OK) != (why == TOKEN_OK))
            fail_msg("row %zu '%s': want %s got %s (%s)", i, s, token_reason_str(rows[i].want),
                     token_reason_str(why), wd_errname(e));
        assert_true(e == WD_OK || t == NULL);
        token_free(t);
    }

    /* Size: exactly TOKEN_MAX parses as far as the format goes; one more is refused. */
    static char big[TOKEN_MAX + 2];
    memset(big, 'A', sizeof big);
    big[10] = '.';
    big[20] = '.';
    struct token *t = NULL;
    enum token_reason why;
    assert_err(token_parse(big, TOKEN_MAX + 1, &t, &why), WD_ETOOLARGE);
    assert_reason(why, TOKEN_E_TOOLARGE);
    assert_err(token_parse(big, TOKEN_MAX, &t, &why), WD_EMALFORMED);
    assert_reason(why, TOKEN_E_JSON);
}

/* ---- scopes -------------------------------------------------------------------- */

static void test_scope(void **state)
{
    (void)state;
    enum { P = RULE_PUBLISH, SR = RULE_SUBSCRIBE | RULE_RECEIVE, ALL = RULE_ALL };
    static const struct {
        const char *scope;
        enum wd_err want;
        size_t n, unknown;
        uint8_t a0;          /* actions of the first grant */
        const char *f0;      /* its filter */
    } rows[] = {
        {NULL, WD_OK, 0, 0, 0, NULL},
        {"", WD_OK, 0, 0, 0, NULL},
        {"   ", WD_OK, 0, 0, 0, NULL},
        {"openid profile email", WD_OK, 0, 3, 0, NULL},
        {"mqtt:pub:a/b", WD_OK, 1, 0, P, "a/b"},
        {"mqtt:sub:a/+", WD_OK, 1, 0, SR, "a/+"},
        {"mqtt:rw:#", WD_OK, 1, 0, ALL, "#"},
        {"  mqtt:pub:x   mqtt:sub:y ", WD_OK, 2, 0, P, "x"},
        {"openid mqtt:sub:$SYS/# offline_access", WD_OK, 1, 2, SR, "$SYS/#"},
        {"mqtt:pub:sensors/%u/%c/%cn", WD_OK, 1, 0, P, "sensors/%u/%c/%cn"},
        {"mqtt:pub:a:b/c", WD_OK, 1, 0, P, "a:b/c"},
        {"mqttx:pub:a", WD_OK, 0, 1, 0, NULL},
        {"MQTT:pub:a", WD_OK, 0, 1, 0, NULL},
        {"mqtt", WD_OK, 0, 1, 0, NULL},
        {"mqtt:pub:", WD_EINVAL, 0, 0, 0, NULL},
        {"mqtt:", WD_EINVAL, 0, 0, 0, NULL},
        {"mqtt:pub", WD_EINVAL, 0, 0, 0, NULL},
        {"mqtt:admin:a", WD_EINVAL, 0, 0, 0, NULL},
        {"mqtt:Pub:a", WD_EINVAL, 0, 0, 0, NULL},
        {"mqtt:pub:a/#/b", WD_EINVAL, 0, 0, 0, NULL},
        {"mqtt:pub:a+", WD_EINVAL, 0, 0, 0, NULL},
        {"mqtt:sub:a/b# ok", WD_EINVAL, 0, 0, 0, NULL},
        {"mqtt:pub:a/%x", WD_EINVAL, 0, 0, 0, NULL},
        {"mqtt:pub:a/%", WD_EINVAL, 0, 0, 0, NULL},
        {"mqtt:pub:a\tb", WD_EINVAL, 0, 0, 0, NULL},
        {"mqtt:pub:ok mqtt:pub:bad/#/x", WD_EINVAL, 0, 0, 0, NULL},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        struct token_grant *g = (void *)1;
        size_t n = 99, unknown = 99;
        enum token_reason why;
        enum wd_err e = token_scope_parse(rows[i].scope, &g, &n, &unknown, &why);
        if (e != rows[i].want)
            fail_msg("scope '%s': want %s got %s", rows[i].scope ? rows[i].scope : "(null)",
                     wd_errname(rows[i].want), wd_errname(e));
        if (e != WD_OK) {
            assert_reason(why, TOKEN_E_SCOPE);
            continue;
        }
        if (n != rows[i].n || unknown != rows[i].unknown)
            fail_msg("scope '%s': want n=%zu unknown=%zu got %zu %zu", rows[i].scope,
                     rows[i].n, rows[i].unknown, n, unknown);
        if (n) {
            assert_int_equal(g[0].actions, rows[i].a0);
            assert_string_equal(g[0].filter, rows[i].f0);
        } else {
            assert_null(g);
        }
        token_grants_free(g, n);
    }

    /* TOKEN_GRANTS_MAX entries are fine, one more is refused. */
    static char many[(TOKEN_GRANTS_MAX + 1) * 16];
    size_t o = 0;
    for (int i = 0; i <= TOKEN_GRANTS_MAX; i++)
        o += (size_t)sprintf(many + o, "mqtt:pub:%d ", i);
    struct token_grant *g;
    size_t n;
    enum token_reason why;
    assert_err(token_scope_parse(many, &g, &n, NULL, &why), WD_ELIMIT);
    *strrchr(many, 'm') = '\0';
    assert_err(token_scope_parse(many, &g, &n, NULL, &why), WD_OK);
    assert_int_equal(n, TOKEN_GRANTS_MAX);
    token_grants_free(g, n);
}

/* ---- keys and JWKS ---------------------------------------------------------------- */

static void test_keyset_add(void **state)
{
    (void)state;
    struct token_keyset ks;
    token_keyset_init(&ks);
    uint8_t k32[32] = {0}, n[512], e[3] = {1, 0, 1};
    size_t nl = unb64(rfc_a2_n, n, sizeof n);
    uint8_t x[32], y[32];
    unb64(rfc_a3_x, x, sizeof x);
    unb64(rfc_a3_y, y, sizeof y);

    assert_err(token_keyset_add(&ks, NULL, TOKEN_HS256, k32, 0, NULL, 0), WD_EINVAL);
    assert_err(token_keyset_add(&ks, NULL, TOKEN_HS256, k32, TOKEN_HS256_KEY_MAX + 1, NULL, 0),
               WD_EINVAL);
    assert_err(token_keyset_add(&ks, NULL, TOKEN_ALG_INVALID, k32, 32, NULL, 0), WD_EINVAL);
    assert_err(token_keyset_add(&ks, NULL, TOKEN_EDDSA, k32, 31, NULL, 0), WD_EINVAL);
    /* All-zero and the identity are small-order Ed25519 points. */
    assert_err(token_keyset_add(&ks, NULL, TOKEN_EDDSA, k32, 32, NULL, 0), WD_EINVAL);
    k32[0] = 1;
    assert_err(token_keyset_add(&ks, NULL, TOKEN_EDDSA, k32, 32, NULL, 0), WD_EINVAL);
    /* RSA: too small, even exponent, exponent 1, no exponent. */
    assert_err(token_keyset_add(&ks, NULL, TOKEN_RS256, n, 128, e, 3), WD_EINVAL);
    uint8_t e2[1] = {2}, e1[1] = {1};
    assert_err(token_keyset_add(&ks, NULL, TOKEN_RS256, n, nl, e2, 1), WD_EINVAL);
    assert_err(token_keyset_add(&ks, NULL, TOKEN_RS256, n, nl, e1, 1), WD_EINVAL);
    assert_err(token_keyset_add(&ks, NULL, TOKEN_RS256, n, nl, NULL, 0), WD_EINVAL);
    /* EC: a point off the curve, wrong lengths. */
    uint8_t y2[32];
    memcpy(y2, y, 32);
    y2[31] ^= 1;
    assert_err(token_keyset_add(&ks, NULL, TOKEN_ES256, x, 32, y2, 32), WD_EINVAL);
    assert_err(token_keyset_add(&ks, NULL, TOKEN_ES256, x, 31, y, 32), WD_EINVAL);
    assert_int_equal(ks.n, 0);

    /* kid: unique, "no kid" counts as one value, bounded length. */
    assert_err(token_keyset_add(&ks, "a", TOKEN_ES256, x, 32, y, 32), WD_OK);
    assert_err(token_keyset_add(&ks, "a", TOKEN_HS256, k32, 32, NULL, 0), WD_EEXIST);
    assert_err(token_keyset_add(&ks, NULL, TOKEN_HS256, k32, 32, NULL, 0), WD_OK);
    assert_err(token_keyset_add(&ks, NULL, TOKEN_RS256, n, nl, e, 3), WD_EEXIST);
    char kid[TOKEN_KID_MAX + 2];
    memset(kid, 'k', sizeof kid - 1);
    kid[sizeof kid - 1] = '\0';
    assert_err(token_keyset_add(&ks, kid, TOKEN_HS256, k32, 32, NULL, 0), WD_EINVAL);
    kid[TOKEN_KID_MAX] = '\0';
    assert_err(token_keyset_add(&ks, kid, TOKEN_HS256, k32, 32, NULL, 0), WD_OK);
    for (size_t i = ks.n; i < TOKEN_KEYS_MAX; i++) {
        snprintf(kid, sizeof kid, "k%zu", i);
        assert_err(token_keyset_add(&ks, kid, TOKEN_HS256, k32, 32, NULL, 0), WD_OK);
    }
    assert_err(token_keyset_add(&ks, "one-more", TOKEN_HS256, k32, 32, NULL, 0), WD_ELIMIT);
    token_keyset_fini(&ks);
    assert_int_equal(ks.n, 0);
    token_keyset_fini(&ks);
}

static void test_jwks_errors(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        enum wd_err want;
    } rows[] = {
        {"", WD_EMALFORMED},
        {"[]", WD_EMALFORMED},
        {"{}", WD_EMALFORMED},
        {"{\"keys\":{}}", WD_EMALFORMED},
        {"{\"keys\":[]}", WD_ENOTFOUND},
        {"{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"}]}", WD_ENOTFOUND},
        {"{\"keys\":[1]}", WD_EMALFORMED},
        {"{\"keys\":[],\"keys\":[]}", WD_EMALFORMED},
        {"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}]}", WD_EMALFORMED},
        {"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qY=\"}]}", WD_EMALFORMED},
        {"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}]}", WD_EMALFORMED},
        {"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":1,"
         "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}",
         WD_EMALFORMED},
        {"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\","
         "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
         "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\","
         "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}",
         WD_EEXIST},
        {"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9"
         "uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1\"}]}",
         WD_EMALFORMED}, /* y changed: off the curve (and non-canonical) */
        {"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9"
         "uPHvRVEU\"}]}",
         WD_EMALFORMED},
        {"{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"AQAB\"}]}", WD_EMALFORMED},
        {"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\"}]}", WD_EMALFORMED},
        {"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"use\":\"sig\",\"alg\":\"EdDSA\","
         "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}",
         WD_OK},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        struct token_keyset ks;
        token_keyset_init(&ks);
        char why[160];
        enum wd_err e = token_jwks_load(&ks, rows[i].doc, strlen(rows[i].doc), NULL, why,
                                        sizeof why);
        if (e != rows[i].want)
            fail_msg("jwks row %zu: want %s got %s (%s)", i, wd_errname(rows[i].want),
                     wd_errname(e), why);
        if (e != WD_OK) {
            assert_int_equal(ks.n, 0);
            assert_true(why[0] != '\0');
        }
        token_keyset_fini(&ks);
    }
    static char huge[TOKEN_JWKS_MAX + 1];
    memset(huge, ' ', sizeof huge);
    struct token_keyset ks;
    token_keyset_init(&ks);
    char why[160];
    assert_err(token_jwks_load(&ks, huge, sizeof huge, NULL, why, sizeof why), WD_ETOOLARGE);
}

/* ---- out of memory ------------------------------------------------------------------ */

/* Everything a verifying broker and an issuing CLI do, as one sequence that
 * stops at the first error. */
static enum wd_err oom_sequence(void)
{
    struct token_keyset ks;
    token_keyset_init(&ks);
    char why_s[160];
    enum wd_err e = token_jwks_load(&ks, openssl_jwks, strlen(openssl_jwks), NULL, why_s,
                                    sizeof why_s);
    struct token *t = NULL;
    enum token_reason why = TOKEN_OK;
    struct token_grant *g = NULL;
    size_t n = 0;
    if (e == WD_OK)
        e = token_parse(openssl_es256, strlen(openssl_es256), &t, &why);
    if (e == WD_OK)
        e = token_verify(t, &ks, &why);
    if (e == WD_OK)
        e = token_scope_parse(t->scope, &g, &n, NULL, &why);
    token_grants_free(g, n);
    token_free(t);
    t = NULL;
    token_keyset_fini(&ks);

    static const uint8_t secret[] = "a shared secret";
    if (e == WD_OK)
        e = token_keyset_add(&ks, "h", TOKEN_HS256, secret, sizeof secret, NULL, 0);
    json_t *c = json_pack("{s:s, s:I}", "sub", "x", "exp", (json_int_t)1800000000);
    char *tok = NULL;
    size_t len;
    if (e == WD_OK)
        e = token_sign_hs256(c, "h", secret, sizeof secret, &tok, &len);
    if (e == WD_OK)
        e = token_parse(tok, len, &t, &why);
    if (e == WD_OK)
        e = token_verify(t, &ks, &why);
    json_decref(c);
    wd_free(tok);
    token_free(t);
    token_keyset_fini(&ks);
    return e;
}

static void test_oom(void **state)
{
    (void)state;
    assert_err(oom_sequence(), WD_OK);
    size_t base = mem_in_use();
    unsigned long n;
    for (n = 1; n < 1000; n++) {
        mem_fail_after(n);
        enum wd_err e = oom_sequence();
        mem_fail_after(0);
        if (mem_in_use() != base)
            fail_msg("allocation %lu failed: %zu bytes leaked", n, mem_in_use() - base);
        if (e == WD_OK)
            break;
        if (e != WD_ENOMEM)
            fail_msg("allocation %lu failed: got %s, want WD_ENOMEM", n, wd_errname(e));
    }
    assert_true(n > 10 && n < 1000);
}

int main(void)
{
    token_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_b64url, no_leaks),
        cmocka_unit_test_teardown(test_rfc7515_hs256, no_leaks),
        cmocka_unit_test_teardown(test_rfc4231_hmac, no_leaks),
        cmocka_unit_test_teardown(test_rfc7515_rs256, no_leaks),
        cmocka_unit_test_teardown(test_rfc7515_es256, no_leaks),
        cmocka_unit_test_teardown(test_rfc8037_ed25519, no_leaks),
        cmocka_unit_test_teardown(test_openssl_jwks, no_leaks),
        cmocka_unit_test_teardown(test_roundtrip_eddsa, no_leaks),
        cmocka_unit_test_teardown(test_roundtrip_hs256, no_leaks),
        cmocka_unit_test_teardown(test_sign_errors, no_leaks),
        cmocka_unit_test_teardown(test_alg_none_and_unknown, no_leaks),
        cmocka_unit_test_teardown(test_alg_confusion, no_leaks),
        cmocka_unit_test_teardown(test_kid_selection, no_leaks),
        cmocka_unit_test_teardown(test_claims, no_leaks),
        cmocka_unit_test_teardown(test_malformed, no_leaks),
        cmocka_unit_test_teardown(test_scope, no_leaks),
        cmocka_unit_test_teardown(test_keyset_add, no_leaks),
        cmocka_unit_test_teardown(test_jwks_errors, no_leaks),
        cmocka_unit_test_teardown(test_oom, no_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
