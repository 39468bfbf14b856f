/*
 * test_pw.c - unit tests for pw.c: Argon2id round trips and re-hash decisions,
 * Mosquitto "$6$"/"$7$" vectors, and malformed stored strings.
 *
 * The "$6$"/"$7$" lines were made by Debian 12's mosquitto_passwd 2.0.11
 * (`-H sha512` and `-H sha512-pbkdf2`, `-b FILE USER PASSWORD`) and checked
 * against Python's hashlib; the two "iter" lines, with iteration counts
 * mosquitto_passwd cannot set, were made with hashlib.pbkdf2_hmac. Argon2id
 * tests use tiny parameters except the one that measures the defaults.
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
#include "pw.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define FAST_OPS 1ULL
#define FAST_MEM ((size_t)64 * 1024)

struct vector {
    const char *pw;     /* the password given to mosquitto_passwd */
    const char *stored; /* the hash part of the line it wrote */
};

static const struct vector mosquitto_vectors[] = {
    /* -H sha512 */
    {"correct horse", "$6$1uNX+a83zwIN38N7$726f7LHB8GLEOtbnegR8OFB32MCU37m7I4aXA/34XT61h1E3Xsfwdhy"
                      "A6q8hjWSCKkId29F3F1F/uLNQnyFT8g=="},
    {"p@ss:w0rd!", "$6$IRZKIufSYL7nuiJP$RLtMmfzJ9oaOnQDhc6j9UMyCW/tpj/PKTxtEEG3wVWWOrSWYO/9z34k2SBP"
                   "yppdlAzTdhTE4HE99Rw5Ld2jpSg=="},
    {"p\xc3\xa4ssw\xc3\xb6rd\xe2\x82\xac",
     "$6$cMtkvdXMcBeOh9tN$+pmbrgCBVdTM4R1+CCoDJuhLGiem1j+CGuVlIJmff/gQHxkmYzvK4r80VJVncce7GDyX/8S73"
     "QBTjKs1BAxC4w=="},
    {"", "$6$FHG04iOnjyId9TzF$PR7xVJWiWwo7n+1gC48dszkiymKuNi99+2yBPmFBqfAJmp9HYr+VR2/6LqlAlYudA/3PT"
         "LnVyNSE7A8Lj1mIdA=="},
    /* -H sha512-pbkdf2 (101 iterations) */
    {"Tr0ub4dor&3", "$7$101$pWxifqmXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBn"
                    "MaCdFUHQLOGZfzgI/LlEY/C/Iy02ywAA=="},
    {"x", "$7$101$/Dn8ZMffmAavRY6Y$Shxtu0SLR32jI58T5SUYaVPQ9PmRJfEvnKw2E/HjZcB1a6dr1/ja4feEweexGGOJ"
          "TRTvmerhokkJqc/vh9hzEw=="},
    {"", "$7$101$1Hph6dQ0/XGtDrD1$+KguRrfYNn4WxVAOwXOmtr+gzLsvwNtzWID/x0ts75t08nml+NG0u8mf3Ise9H"
         "+rewwSuxQGcppKXsu1zWuvzw=="},
    {"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"
     "LLLLLLLLLL", /* 100 */
     "$7$101$IIVwCN26wDRmP0yi$fWtu/fe21Wb7QI9BI9jn5p8RwUE+2OEQA5daz1UniQG3aEIWwVOiKHuqSZ5fRADhME+LG"
     "Fw8lXNrSnQJUEIPMQ=="},
    {"p\xc3\xa4ssw\xc3\xb6rd\xe2\x82\xac",
     "$7$101$2iEqgEru9J5aG/TO$4i8NJV2EZ/KQ1fMIrX2BSF1vGI/TKjvlZPih2+Lv9dALG2BDlIcz8IjM/wXJAfcUwEEiO"
     "zE4/CcFNRvLEx8cPw=="},
    /* hashlib: other iteration counts */
    {"iter test", "$7$1$AAECAwQFBgcICQoL$+gYGYiYTGRMReuOiQSLKVdXeFbKGAYyD4jY0+hcl7DOPDlQdFoIxcq6jxv"
                  "6F4ebMOx+J9xF2PI4SX8vT9829wA=="},
    {"iter test", "$7$1000$AAECAwQFBgcICQoL$DvI/V1qQC0KMiQDgSDUKwEfbbHYWhkZuS2XWe0vC1M/4SIuSvRog"
                  "WmjkJvVuXvr5kBHiWe0DALgGPiXKHEaqtQ=="},
};

static void test_mosquitto_vectors(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < COUNT(mosquitto_vectors); i++) {
        const struct vector *v = &mosquitto_vectors[i];
        size_t len = strlen(v->pw);
        enum pw_verdict right = pw_verify(v->stored, v->pw, len);
        enum pw_verdict wrong = pw_verify(v->stored, "wrong", 5);
        /* One byte more or less must not match either. */
        char more[128];
        assert_true(len + 1 < sizeof more);
        memcpy(more, v->pw, len);
        more[len] = 'e';
        enum pw_verdict longer = pw_verify(v->stored, more, len + 1);
        enum pw_verdict shorter = len ? pw_verify(v->stored, v->pw, len - 1) : PW_MISMATCH;
        if (right != PW_MATCH || wrong != PW_MISMATCH || longer != PW_MISMATCH ||
            shorter != PW_MISMATCH) {
            fprintf(stderr, "vector %zu (%.12s...): right=%d wrong=%d longer=%d shorter=%d\n", i,
                    v->stored, right, wrong, longer, shorter);
            bad++;
        }
        assert_true(pw_needs_rehash(v->stored, FAST_OPS, FAST_MEM));
        assert_true(pw_well_formed(v->stored));
    }
    assert_int_equal(bad, 0);
}

/* Each must be PW_UNSUPPORTED for any password, without crashing or hashing for long. */
static const char *const malformed[] = {
    "",
    "plain",
    "$",
    "$6$",
    "$6$$",
    "$7$",
    "$7$$",
    "$5$abc$def",
    "$1$abc$def",
    "$2y$10$abcdefghijklmnopqrstuuWcRzGq2lE1FUJ4ly0hKqT0Y6V1k0r8y",
    "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2d$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    /* $6$: truncated, bad base64, wrong digest length, extra fields */
    "$6$1uNX+a83zwIN38N7",
    "$6$1uNX+a83zwIN38N7$",
    "$6$$726f7LHB8GLEOtbnegR8OFB32MCU37m7I4aXA/34XT61h1E3XsfwdhyA6q8hjWSCKkId29F3F1F/uLNQnyFT8g==",
    "$6$1uNX+a83zwIN38N7$726f7LHB8GLEOtbnegR8OFB32MCU37m7I4aXA/34XT61h1E3XsfwdhyA6q8hjWSCKkId29F"
    "3F1F/uLNQnyFT8g=",
    "$6$1uNX+a83zwIN38N7$726f7LHB8GLEOtbnegR8OFB32MCU37m7I4aXA/34XT61h1E3XsfwdhyA6q8hjWSCKkId29F"
    "3F1F/uLNQnyFT8",
    "$6$1uNX+a83zwIN38N7$726f7LHB8GLEOtbnegR8OFB32MCU37m7I4aXA/34XT61h1E3XsfwdhyA6q8hjWSCKkId29F"
    "3F1F/uLNQnyFT8g==$",
    "$6$1uNX+a83zwIN38N7$726f7LHB8GLEOtbnegR8OFB32MCU37m7I4aXA/34XT61h1E3XsfwdhyA6q8hjWSCKkId29F"
    "3F1F/uLNQnyFT8g==x",
    "$6$1uNX*a83zwIN38N7$726f7LHB8GLEOtbnegR8OFB32MCU37m7I4aXA/34XT61h1E3XsfwdhyA6q8hjWSCKkId29F"
    "3F1F/uLNQnyFT8g==",
    "$6$1uNX+a83zwIN38N7$726f7LHB8GLEOtbnegR8OFB32MCU37m7I4aXA/34XT61h1E3Xsfwdhy A6q8hjWSCKkId2"
    "9F3F1F/uLNQnyFT8g==",
    "$6$1uNX+a83zwIN38N7$AAAA",
    "$6$" /* salt longer than 64 bytes */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$"
    "726f7LHB8GLEOtbnegR8OFB32MCU37m7I4aXA/34XT61h1E3XsfwdhyA6q8hjWSCKkId29F3F1F/uLNQnyFT8g==",
    /* $7$: iterations 0, huge, negative, missing, not a number */
    "$7$0$pWxifqmXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBnMaCdFUHQLOGZfzgI/L"
    "lEY/C/Iy02ywAA==",
    "$7$99999999999999999999999$pWxifqmXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT"
    "+UxBnMaCdFUHQLOGZfzgI/LlEY/C/Iy02ywAA==",
    "$7$18446744073709551617$pWxifqmXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT"
    "+UxBnMaCdFUHQLOGZfzgI/LlEY/C/Iy02ywAA==",
    "$7$10000001$pWxifqmXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBnMaCdFUHQ"
    "LOGZfzgI/LlEY/C/Iy02ywAA==",
    "$7$-1$pWxifqmXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBnMaCdFUHQLOGZfzgI/"
    "LlEY/C/Iy02ywAA==",
    "$7$$pWxifqmXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBnMaCdFUHQLOGZfzgI/Ll"
    "EY/C/Iy02ywAA==",
    "$7$abc$pWxifqmXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBnMaCdFUHQLOGZfzgI"
    "/LlEY/C/Iy02ywAA==",
    "$7$101pWxifqmXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBnMaCdFUHQLOGZfzgI/"
    "LlEY/C/Iy02ywAA==",
    "$7$101$pWxifqmXVPmjEkey",
    "$7$101$pWxifqmXVPmjEkey$",
    "$7$101$$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBnMaCdFUHQLOGZfzgI/LlEY/C/Iy02ywA"
    "A==",
    "$7$101$pWxifqmXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBnMaCdFUHQLOGZfzgI"
    "/LlEY/C/Iy02ywA",
    "$7$101$pWxifqmXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBnMaCdFUHQLOGZfzgI"
    "/LlEY/C/Iy02ywAA==AAAA",
    "$7$101$pWxif!mXVPmjEkey$v7Fn4t2u5qmYaZFfC3/Dgd04OCu552oqMH6liz10y0WcQr+oT+UxBnMaCdFUHQLOGZfzgI"
    "/LlEY/C/Iy02ywAA==",
    /* argon2id: truncated header, out-of-range or missing parameters, too long */
    "$argon2id$",
    "$argon2id$v=19",
    "$argon2id$v=19$m=65536",
    "$argon2id$v=19$m=65536,t=2",
    "$argon2id$v=19$m=65536,t=2,p=1",
    "$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=4294967296,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=100000,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=99$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$",
    "$argon2id$v=19$m=65536,t=2,p=1$$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=1$c29t!XNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA$x",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA=",
    "$argon2id$v=19$m=65536,t=02x,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$t=2,m=65536,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
};

static void test_malformed(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < COUNT(malformed); i++) {
        enum pw_verdict v = pw_verify(malformed[i], "correct horse", 13);
        if (v != PW_UNSUPPORTED) {
            fprintf(stderr, "malformed[%zu] \"%.40s\": verdict %d\n", i, malformed[i], v);
            bad++;
        }
        assert_true(pw_needs_rehash(malformed[i], FAST_OPS, FAST_MEM));
        assert_false(pw_well_formed(malformed[i]));
    }
    assert_int_equal(bad, 0);
    assert_int_equal(pw_verify(NULL, "x", 1), PW_UNSUPPORTED);
    assert_int_equal(pw_verify(mosquitto_vectors[0].stored, NULL, 1), PW_UNSUPPORTED);
    assert_true(pw_needs_rehash(NULL, FAST_OPS, FAST_MEM));
}

static void test_argon2_round_trip(void **state)
{
    (void)state;
    char h[PW_HASH_MAX];
    static const char pw[] = "a long and \0 binary password";
    assert_int_equal(pw_hash(pw, sizeof pw - 1, FAST_OPS, FAST_MEM, h), WD_OK);
    assert_true(strncmp(h, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
    assert_true(strlen(h) < PW_HASH_MAX);
    assert_int_equal(pw_verify(h, pw, sizeof pw - 1), PW_MATCH);
    assert_true(pw_well_formed(h));
    /* The embedded NUL is part of the password: a prefix must not match. */
    assert_int_equal(pw_verify(h, pw, strlen(pw)), PW_MISMATCH);
    assert_int_equal(pw_verify(h, "a long and ", 11), PW_MISMATCH);
    assert_int_equal(pw_verify(h, "", 0), PW_MISMATCH);

    /* Two hashes of one password differ (random salt) and both verify. */
    char h2[PW_HASH_MAX];
    assert_int_equal(pw_hash(pw, sizeof pw - 1, FAST_OPS, FAST_MEM, h2), WD_OK);
    assert_string_not_equal(h, h2);
    assert_int_equal(pw_verify(h2, pw, sizeof pw - 1), PW_MATCH);

    /* Empty password. */
    assert_int_equal(pw_hash("", 0, FAST_OPS, FAST_MEM, h), WD_OK);
    assert_int_equal(pw_verify(h, "", 0), PW_MATCH);
    assert_int_equal(pw_verify(h, "x", 1), PW_MISMATCH);

    /* A flipped hash character is a mismatch, a flipped header unsupported. */
    assert_int_equal(pw_hash("secret", 6, FAST_OPS, FAST_MEM, h), WD_OK);
    size_t n = strlen(h);
    h[n - 2] = h[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(pw_verify(h, "secret", 6), PW_MISMATCH);
    h[1] = 'x';
    assert_int_equal(pw_verify(h, "secret", 6), PW_UNSUPPORTED);
}

static void test_hash_bad_params(void **state)
{
    (void)state;
    char h[PW_HASH_MAX];
    assert_int_equal(pw_hash("x", 1, 0, FAST_MEM, h), WD_EINVAL);
    assert_string_equal(h, "");
    assert_int_equal(pw_hash("x", 1, FAST_OPS, 1024, h), WD_EINVAL);
    assert_int_equal(pw_hash(NULL, 1, FAST_OPS, FAST_MEM, h), WD_EINVAL);
    assert_int_equal(pw_hash("x", 1, FAST_OPS, FAST_MEM, NULL), WD_EINVAL);
}

static void test_needs_rehash(void **state)
{
    (void)state;
    char h[PW_HASH_MAX];
    assert_int_equal(pw_hash("pw", 2, 2, (size_t)128 * 1024, h), WD_OK);
    /* Same parameters, or a configuration weaker than the hash: keep it. */
    assert_false(pw_needs_rehash(h, 2, (size_t)128 * 1024));
    assert_false(pw_needs_rehash(h, 1, (size_t)64 * 1024));
    /* Configuration stronger in time or memory: re-hash. */
    assert_true(pw_needs_rehash(h, 3, (size_t)128 * 1024));
    assert_true(pw_needs_rehash(h, 2, (size_t)256 * 1024));
    assert_true(pw_needs_rehash(h, PW_DEFAULT_OPSLIMIT, PW_DEFAULT_MEMLIMIT));
    /* A hand-written header with another version. */
    assert_true(pw_needs_rehash("$argon2id$v=16$m=131072,t=2,p=1$c29tZXNhbHQ$"
                                "wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
                                2, (size_t)128 * 1024));
    assert_false(pw_needs_rehash("$argon2id$v=19$m=131072,t=2,p=1$c29tZXNhbHQ$"
                                 "wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
                                 2, (size_t)128 * 1024));
}

static void test_generate(void **state)
{
    (void)state;
    char a[33], b[33];
    assert_int_equal(pw_generate(a, sizeof a), WD_OK);
    assert_int_equal(pw_generate(b, sizeof b), WD_OK);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
    for (size_t i = 0; i < 32; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                               a[i]));
    char one[2];
    assert_int_equal(pw_generate(one, sizeof one), WD_OK);
    assert_int_equal(strlen(one), 1);
    assert_int_equal(pw_generate(one, 1), WD_EINVAL);
    assert_int_equal(pw_generate(NULL, 8), WD_EINVAL);

    /* A generated password survives its own hash. */
    char h[PW_HASH_MAX];
    assert_int_equal(pw_hash(a, strlen(a), FAST_OPS, FAST_MEM, h), WD_OK);
    assert_int_equal(pw_verify(h, a, strlen(a)), PW_MATCH);
}

static void test_measure_defaults(void **state)
{
    (void)state;
    pw_init();
    pw_init();
    double ms = pw_measure_ms(PW_DEFAULT_OPSLIMIT, PW_DEFAULT_MEMLIMIT);
    /* Informational: the figure for the README (this is an ASan build). */
    printf("pw_measure_ms(2, 19 MiB) = %.1f ms\n", ms);
    assert_true(ms > 0.0);
    assert_true(pw_measure_ms(0, FAST_MEM) < 0.0);
}

/* The cache key is stable within a process and separates user from password. */
static void test_cache_key(void **state)
{
    (void)state;
    uint8_t a[PW_CACHE_KEY_BYTES], b[PW_CACHE_KEY_BYTES], c[PW_CACHE_KEY_BYTES];
    pw_cache_key(a, "ab", 2, "c", 1);
    pw_cache_key(b, "ab", 2, "c", 1);
    pw_cache_key(c, "a", 1, "bc", 2);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    pw_cache_key(c, "ab", 2, "d", 1);
    assert_memory_not_equal(a, c, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mosquitto_vectors), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_argon2_round_trip), cmocka_unit_test(test_hash_bad_params),
        cmocka_unit_test(test_needs_rehash),      cmocka_unit_test(test_generate),
        cmocka_unit_test(test_measure_defaults), cmocka_unit_test(test_cache_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
