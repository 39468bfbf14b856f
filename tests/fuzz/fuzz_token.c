/*
 * fuzz_token.c - libFuzzer target for token.c.
 *
 * The first byte selects what the rest is: 'J' a JWKS document, anything
 * else a compact token. A token is parsed, verified against a fixed key set
 * (one key per algorithm, with kids) and against its alg's key alone, its
 * claims checked and its scope parsed; a JWKS is loaded. Every step must
 * hold its invariants and leave nothing allocated. Each input then runs a
 * second time with one allocation (picked by the first byte) made to fail:
 * the result must be WD_ENOMEM or the first run's, again without a leak.
 * Each part of the token that decodes must re-encode to the same text.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "mem.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OOM 0xffffffffu /* a run that ended in WD_ENOMEM */

/* all_keys: one key per alg, chosen by kid ("r", "c", "e", "h"); single[alg]:
 * that alg's key alone and without kid, so the RFC vectors verify. */
static struct token_keyset all_keys, single[TOKEN_ES256 + 1];

/* RFC 7515 A.2 / A.3 and RFC 8037 A.4 public keys, and an HS256 secret. */
static const char rsa_n[] =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d"
    "4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMd"
    "bBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK"
    "-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
static const char ec_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char ec_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
static const char ed_x[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

static size_t unb64(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (token_b64url_decode(s, strlen(s), out, cap, &n) != WD_OK)
        abort();
    return n;
}

static void setup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    token_init();
    uint8_t n[512], e[3] = {1, 0, 1}, x[32], y[32], ed[32];
    size_t nl = unb64(rsa_n, n, sizeof n);
    unb64(ec_x, x, sizeof x);
    unb64(ec_y, y, sizeof y);
    unb64(ed_x, ed, sizeof ed);
    static const struct {
        const char *kid;
        enum token_alg alg;
    } keys[] = {{"r", TOKEN_RS256}, {"c", TOKEN_ES256}, {"e", TOKEN_EDDSA}, {"h", TOKEN_HS256}};
    token_keyset_init(&all_keys);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const uint8_t *m = keys[i].alg == TOKEN_RS256   ? n
                           : keys[i].alg == TOKEN_ES256 ? x
                           : keys[i].alg == TOKEN_EDDSA ? ed
                                                        : (const uint8_t *)"fuzz";
        size_t ml = keys[i].alg == TOKEN_RS256 ? nl : keys[i].alg == TOKEN_HS256 ? 4 : 32;
        const uint8_t *m2 = keys[i].alg == TOKEN_RS256 ? e : keys[i].alg == TOKEN_ES256 ? y : NULL;
        size_t m2l = keys[i].alg == TOKEN_RS256 ? 3 : keys[i].alg == TOKEN_ES256 ? 32 : 0;
        token_keyset_init(&single[keys[i].alg]);
        if (token_keyset_add(&all_keys, keys[i].kid, keys[i].alg, m, ml, m2, m2l) != WD_OK ||
            token_keyset_add(&single[keys[i].alg], NULL, keys[i].alg, m, ml, m2, m2l) != WD_OK)
            abort();
    }
}

/* Each dot-separated part that decodes must encode back to itself. */
static void check_b64(const char *s, size_t len)
{
    static uint8_t bin[TOKEN_MAX];
    static char txt[TOKEN_MAX + 1];
    size_t start = 0;
    for (size_t i = 0; i <= len && len <= TOKEN_MAX; i++) {
        if (i < len && s[i] != '.')
            continue;
        size_t n;
        if (token_b64url_decode(s + start, i - start, bin, sizeof bin, &n) == WD_OK) {
            size_t m = token_b64url_encode(bin, n, txt);
            if (m != i - start || memcmp(txt, s + start, m) != 0)
                abort();
        }
        start = i + 1;
    }
}

/* Parse, verify, check claims, parse the scope: a digest of the outcome. */
static unsigned run_token(const char *s, size_t len)
{
    struct token *t = NULL;
    enum token_reason why;
    enum wd_err e = token_parse(s, len, &t, &why);
    if ((e == WD_OK) != (why == TOKEN_OK) || (e == WD_OK) != (t != NULL))
        abort();
    if (e != WD_OK)
        return why == TOKEN_E_NOMEM ? OOM : why;
    if (t->alg == TOKEN_ALG_INVALID || !t->signing_input || !t->sig || t->sig_len == 0 ||
        t->signing_len >= len || (t->naud && !t->aud))
        abort();
    for (size_t i = 0; i < t->naud; i++)
        if (!t->aud[i])
            abort();
    unsigned digest = 100;
    enum token_reason v1, v2, c;
    if ((token_verify(t, &all_keys, &v1) == WD_OK) != (v1 == TOKEN_OK) ||
        (token_verify(t, &single[t->alg], &v2) == WD_OK) != (v2 == TOKEN_OK))
        abort();
    /* The two sets hold the same key for this alg: same signature verdict. */
    if (v1 == TOKEN_OK && v2 != TOKEN_OK)
        abort();
    digest += v1 * 3 + v2 * 50;
    static const char *const iss[] = {"warden"};
    struct token_policy p = {iss, 1, "warden", TOKEN_LEEWAY_DEFAULT};
    if ((token_check_claims(t, &p, 1700000000, &c) == WD_OK) != (c == TOKEN_OK))
        abort();
    digest += c * 7;
    struct token_grant *g = NULL;
    size_t n = 0, unknown = 0;
    e = token_scope_parse(t->scope, &g, &n, &unknown, &why);
    if (e == WD_OK) {
        if (n > TOKEN_GRANTS_MAX || (n == 0) != (g == NULL))
            abort();
        for (size_t i = 0; i < n; i++)
            if (!g[i].filter || !g[i].filter[0] || g[i].actions == 0 ||
                (g[i].actions & ~RULE_ALL))
                abort();
        token_grants_free(g, n);
        digest += 11 * (unsigned)n;
    } else if (e == WD_ENOMEM) {
        token_free(t);
        return OOM;
    }
    token_free(t);
    return digest;
}

static unsigned run_jwks(const char *s, size_t len)
{
    struct token_keyset ks;
    token_keyset_init(&ks);
    size_t skipped = 0;
    char why[200];
    enum wd_err e = token_jwks_load(&ks, s, len, &skipped, why, sizeof why);
    if (e == WD_ENOMEM)
        return OOM;
    if ((e == WD_OK) != (ks.n > 0) || ks.n > TOKEN_KEYS_MAX || (e != WD_OK && !why[0]))
        abort();
    for (size_t i = 0; i < ks.n; i++)
        if (ks.keys[i].alg == TOKEN_ALG_INVALID || ks.keys[i].alg == TOKEN_HS256 ||
            !ks.keys[i].mat)
            abort();
    token_keyset_fini(&ks);
    return (unsigned)e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1)
        return 0;
    bool jwks = data[0] == 'J';
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    size_t base = mem_in_use();
    unsigned first = jwks ? run_jwks(s, len) : run_token(s, len);
    if (first == OOM || mem_in_use() != base)
        abort();
    if (!jwks)
        check_b64(s, len);

    mem_fail_after(1 + data[0] % 16);
    unsigned again = jwks ? run_jwks(s, len) : run_token(s, len);
    mem_fail_after(0);
    if ((again != first && again != OOM) || mem_in_use() != base)
        abort();
    return 0;
}
