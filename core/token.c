/*
 * token.c - JWT (compact JWS) parsing, verification, claim checks, scopes and
 * issuing.
 *
 * Parsing is PURE (libc + jansson): every part of the token is untrusted, so
 * it is bounded (TOKEN_MAX) before decoding, decoded strictly, and anything
 * unexpected refuses the token with a reason; nothing here asserts on input.
 * The algorithm that checks a signature is the KEY's, chosen by kid, never the
 * header's alone (RFC 8725 section 3.1): a header alg that differs is refused.
 * Ed25519 and HMAC-SHA256 use libsodium, RS256 and ES256 wolfCrypt; keys are
 * stored as raw material and imported into wolfCrypt per verification (tens
 * of microseconds next to the signature check itself).
 * Workload: one parse + verify per CONNECT or AUTH carrying a token.
 */
#include "token.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "backend.h"
#include "mem.h"
#include "topic.h"

static const char *const reason_msgs[] = {
#define TOKEN_REASON_MSG(name, msg) msg,
    TOKEN_REASONS(TOKEN_REASON_MSG)
#undef TOKEN_REASON_MSG
};

const char *token_reason_str(enum token_reason r)
{
    if ((unsigned)r >= TOKEN_REASON_COUNT)
        return "unknown reason";
    return reason_msgs[r];
}

/* JWS alg names, indexed by enum token_alg. */
static const char *const alg_names[] = {"?", "EdDSA", "HS256", "RS256", "ES256"};

const char *token_alg_name(enum token_alg alg)
{
    if ((unsigned)alg >= sizeof alg_names / sizeof alg_names[0])
        return "?";
    return alg_names[alg];
}

static enum token_alg alg_from_name(const char *s)
{
    for (size_t i = 1; i < sizeof alg_names / sizeof alg_names[0]; i++)
        if (strcmp(s, alg_names[i]) == 0)
            return (enum token_alg)i;
    return TOKEN_ALG_INVALID;
}

void token_init(void)
{
    if (sodium_init() < 0) {
        fputs("warden: libsodium failed to initialise\n", stderr);
        abort();
    }
}

/* ---- base64url ---------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of a base64url character, or -1. */
static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

enum wd_err token_b64url_decode(const char *s, size_t len, uint8_t *out, size_t cap,
                                size_t *outlen)
{
    if (len % 4 == 1)
        return WD_EMALFORMED;
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need > cap)
        return WD_ETOOLARGE;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_val((unsigned char)s[i]);
        if (v < 0)
            return WD_EMALFORMED;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero, so that each byte string has exactly one
     * encoding (RFC 4648 section 3.5: a decoder MAY reject otherwise). */
    if (acc != 0)
        return WD_EMALFORMED;
    *outlen = o;
    return WD_OK;
}

size_t token_b64url_encode(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

/* Decode one base64url part into a fresh buffer (NUL-terminated for JSON
 * convenience). Returns WD_OK, WD_EMALFORMED or WD_ENOMEM. */
static enum wd_err b64_part(const char *s, size_t len, uint8_t **out, size_t *outlen)
{
    size_t cap = len / 4 * 3 + 3;
    uint8_t *b = wd_malloc(cap + 1);
    if (!b)
        return WD_ENOMEM;
    enum wd_err e = token_b64url_decode(s, len, b, cap, outlen);
    if (e != WD_OK) {
        wd_free(b);
        return WD_EMALFORMED;
    }
    b[*outlen] = '\0';
    *out = b;
    return WD_OK;
}

/* ---- parsing ------------------------------------------------------------ */

void token_free(struct token *t)
{
    if (!t)
        return;
    wd_free(t->kid);
    wd_free(t->typ);
    wd_free(t->iss);
    wd_free(t->sub);
    wd_free(t->jti);
    wd_free(t->client_id);
    wd_free(t->scope);
    for (size_t i = 0; i < t->naud; i++)
        wd_free(t->aud[i]);
    wd_free(t->aud);
    wd_free(t->signing_input);
    wd_free(t->sig);
    wd_free(t);
}

/* Parse a JSON object from buf[0..len); NULL if it is not exactly one object
 * without duplicate keys. Returns owned: json_decref(). */
static json_t *load_object(const uint8_t *buf, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Copy an optional string member of o into *dst. Returns TOKEN_OK,
 * TOKEN_E_NOMEM, or bad (the member is not a string). */
static enum token_reason opt_string(json_t *o, const char *key, char **dst, enum token_reason bad)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return TOKEN_OK;
    if (!json_is_string(v))
        return bad;
    *dst = wd_strndup(json_string_value(v), json_string_length(v));
    return *dst ? TOKEN_OK : TOKEN_E_NOMEM;
}

/* A NumericDate (RFC 7519 section 2): a JSON number of seconds, fractions
 * allowed and dropped, within 0..TOKEN_TIME_MAX. */
static enum token_reason opt_time(json_t *o, const char *key, int64_t *dst, bool *has)
{
    json_t *v = json_object_get(o, key);
    *has = false;
    if (!v)
        return TOKEN_OK;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > TOKEN_TIME_MAX)
            return TOKEN_E_CLAIM;
        *dst = (int64_t)i;
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d < 0 || d > (double)TOKEN_TIME_MAX)
            return TOKEN_E_CLAIM;
        *dst = (int64_t)floor(d);
    } else {
        return TOKEN_E_CLAIM;
    }
    *has = true;
    return TOKEN_OK;
}

/* aud: a string or an array of strings (RFC 7519 section 4.1.3). */
static enum token_reason parse_aud(json_t *o, struct token *t)
{
    json_t *v = json_object_get(o, "aud");
    if (!v)
        return TOKEN_OK;
    size_t n = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_string(v) && !json_is_array(v))
        return TOKEN_E_CLAIM;
    if (n == 0)
        return TOKEN_OK;
    t->aud = wd_calloc(n, sizeof *t->aud);
    if (!t->aud)
        return TOKEN_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_string(v) ? v : json_array_get(v, i);
        if (!json_is_string(s))
            return TOKEN_E_CLAIM;
        t->aud[i] = wd_strndup(json_string_value(s), json_string_length(s));
        if (!t->aud[i])
            return TOKEN_E_NOMEM;
        t->naud = i + 1;
    }
    return TOKEN_OK;
}

static enum token_reason parse_header(const uint8_t *buf, size_t len, struct token *t)
{
    json_t *h = load_object(buf, len);
    if (!h)
        return TOKEN_E_JSON;
    enum token_reason r = TOKEN_OK;
    json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg)) {
        r = TOKEN_E_HEADER;
    } else {
        const char *a = json_string_value(alg);
        t->alg = alg_from_name(a);
        if (strcasecmp(a, "none") == 0)
            r = TOKEN_E_ALG_NONE;
        else if (t->alg == TOKEN_ALG_INVALID)
            r = TOKEN_E_ALG_UNKNOWN;
    }
    /* crit names extensions the recipient MUST understand (RFC 7515 section
     * 4.1.11); we understand none, so any crit refuses the token. */
    if (r == TOKEN_OK && json_object_get(h, "crit"))
        r = TOKEN_E_HEADER;
    if (r == TOKEN_OK)
        r = opt_string(h, "kid", &t->kid, TOKEN_E_HEADER);
    if (r == TOKEN_OK && t->kid && strlen(t->kid) > TOKEN_KID_MAX)
        r = TOKEN_E_HEADER;
    if (r == TOKEN_OK)
        r = opt_string(h, "typ", &t->typ, TOKEN_E_HEADER);
    json_decref(h);
    return r;
}

static enum token_reason parse_claims(const uint8_t *buf, size_t len, struct token *t)
{
    json_t *c = load_object(buf, len);
    if (!c)
        return TOKEN_E_JSON;
    static const struct {
        const char *name;
        size_t off;
    } strs[] = {
        {"iss", offsetof(struct token, iss)},
        {"sub", offsetof(struct token, sub)},
        {"jti", offsetof(struct token, jti)},
        {"client_id", offsetof(struct token, client_id)},
        {"scope", offsetof(struct token, scope)},
    };
    enum token_reason r = TOKEN_OK;
    for (size_t i = 0; r == TOKEN_OK && i < sizeof strs / sizeof strs[0]; i++)
        r = opt_string(c, strs[i].name, (char **)((char *)t + strs[i].off), TOKEN_E_CLAIM);
    if (r == TOKEN_OK)
        r = parse_aud(c, t);
    if (r == TOKEN_OK)
        r = opt_time(c, "exp", &t->exp, &t->has_exp);
    if (r == TOKEN_OK)
        r = opt_time(c, "nbf", &t->nbf, &t->has_nbf);
    if (r == TOKEN_OK)
        r = opt_time(c, "iat", &t->iat, &t->has_iat);
    json_decref(c);
    return r;
}

/* The wd_err a parse failure maps to. */
static enum wd_err parse_err(enum token_reason r)
{
    switch (r) {
    case TOKEN_OK: return WD_OK;
    case TOKEN_E_NOMEM: return WD_ENOMEM;
    case TOKEN_E_TOOLARGE: return WD_ETOOLARGE;
    default: return WD_EMALFORMED;
    }
}

/* Fill t from s[0..len); the header first, so that "alg":"none" is reported
 * as such even though its signature part is empty. */
static enum token_reason parse_into(const char *s, size_t len, struct token *t)
{
    const char *d1 = memchr(s, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - s)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - s)))
        return TOKEN_E_FORMAT;
    size_t hlen = (size_t)(d1 - s), plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - s);
    if (hlen == 0 || plen == 0)
        return TOKEN_E_FORMAT;

    uint8_t *buf;
    size_t n;
    enum wd_err e = b64_part(s, hlen, &buf, &n);
    if (e != WD_OK)
        return e == WD_ENOMEM ? TOKEN_E_NOMEM : TOKEN_E_BASE64;
    enum token_reason r = parse_header(buf, n, t);
    wd_free(buf);
    if (r != TOKEN_OK)
        return r;

    e = b64_part(d1 + 1, plen, &buf, &n);
    if (e != WD_OK)
        return e == WD_ENOMEM ? TOKEN_E_NOMEM : TOKEN_E_BASE64;
    r = parse_claims(buf, n, t);
    wd_free(buf);
    if (r != TOKEN_OK)
        return r;

    if (slen == 0)
        return TOKEN_E_FORMAT;
    e = b64_part(d2 + 1, slen, &t->sig, &t->sig_len);
    if (e != WD_OK)
        return e == WD_ENOMEM ? TOKEN_E_NOMEM : TOKEN_E_BASE64;
    t->signing_len = hlen + 1 + plen;
    t->signing_input = wd_strndup(s, t->signing_len);
    return t->signing_input ? TOKEN_OK : TOKEN_E_NOMEM;
}

enum wd_err token_parse(const char *s, size_t len, struct token **out, enum token_reason *why)
{
    *why = TOKEN_OK;
    if (len > TOKEN_MAX) {
        *why = TOKEN_E_TOOLARGE;
        return WD_ETOOLARGE;
    }
    struct token *t = wd_calloc(1, sizeof *t);
    if (!t) {
        *why = TOKEN_E_NOMEM;
        return WD_ENOMEM;
    }
    enum token_reason r = parse_into(s, len, t);
    if (r != TOKEN_OK) {
        token_free(t);
        *why = r;
        return parse_err(r);
    }
    *out = t;
    return WD_OK;
}

/* ---- keys --------------------------------------------------------------- */

void token_keyset_init(struct token_keyset *ks)
{
    ks->keys = NULL;
    ks->n = 0;
}

static void key_fini(struct token_key *k)
{
    if (k->mat)
        sodium_memzero(k->mat, k->mat_len);
    wd_free(k->kid);
    wd_free(k->mat);
    wd_free(k->mat2);
}

void token_keyset_fini(struct token_keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        key_fini(&ks->keys[i]);
    wd_free(ks->keys);
    token_keyset_init(ks);
}

/* Is (n, e) an RSA public key wolfCrypt takes, of an accepted size? */
static bool rsa_key_ok(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen)
{
    while (nlen > 0 && n[0] == 0) {
        n++;
        nlen--;
    }
    while (elen > 0 && e[0] == 0) {
        e++;
        elen--;
    }
    if (nlen == 0 || elen == 0 || elen > 8 || !(e[elen - 1] & 1) || (elen == 1 && e[0] < 3))
        return false;
    size_t bits = nlen * 8;
    for (uint8_t top = n[0]; !(top & 0x80); top <<= 1)
        bits--;
    if (bits < TOKEN_RSA_MIN_BITS || bits > TOKEN_RSA_MAX_BITS || !(n[nlen - 1] & 1))
        return false;
    RsaKey rsa;
    if (wc_InitRsaKey(&rsa, NULL) != 0)
        return false;
    bool ok = wc_RsaPublicKeyDecodeRaw(n, (word32)nlen, e, (word32)elen, &rsa) == 0;
    wc_FreeRsaKey(&rsa);
    return ok;
}

/*
 * Free an imported key and this thread's fixed-point cache: Debian's wolfSSL
 * is built with FP_ECC, whose per-thread cache is only freed by
 * wc_ecc_fp_free() on that thread, so an auth worker that verified ES256 would
 * leak it at exit. Tokens of one issuer rarely share a point worth caching.
 */
static void ec_free(ecc_key *ec)
{
    wc_ecc_free(ec);
    wc_ecc_fp_free();
}

/* Import a P-256 public point; the caller frees *ec with ec_free()
 * whether or not this succeeds. */
static bool ec_import(ecc_key *ec, const uint8_t *x, const uint8_t *y)
{
    if (wc_ecc_init(ec) != 0)
        return false;
    return wc_ecc_import_unsigned(ec, x, y, NULL, ECC_SECP256R1) == 0 && wc_ecc_check_key(ec) == 0;
}

/* Check key material for alg (see token_keyset_add()). */
static bool key_material_ok(enum token_alg alg, const uint8_t *mat, size_t mat_len,
                            const uint8_t *mat2, size_t mat2_len)
{
    switch (alg) {
    case TOKEN_EDDSA:
        return mat_len == TOKEN_ED25519_PK && mat2_len == 0 &&
               crypto_core_ed25519_is_valid_point(mat) == 1;
    case TOKEN_HS256:
        return mat_len >= 1 && mat_len <= TOKEN_HS256_KEY_MAX && mat2_len == 0;
    case TOKEN_RS256:
        return mat2 && rsa_key_ok(mat, mat_len, mat2, mat2_len);
    case TOKEN_ES256: {
        if (mat_len != 32 || mat2_len != 32 || !mat2)
            return false;
        ecc_key ec;
        bool ok = ec_import(&ec, mat, mat2);
        ec_free(&ec);
        return ok;
    }
    default:
        return false;
    }
}

enum wd_err token_keyset_add(struct token_keyset *ks, const char *kid, enum token_alg alg,
                             const uint8_t *mat, size_t mat_len, const uint8_t *mat2,
                             size_t mat2_len)
{
    token_init();
    if (!mat || (kid && strlen(kid) > TOKEN_KID_MAX) ||
        !key_material_ok(alg, mat, mat_len, mat2, mat2_len))
        return WD_EINVAL;
    for (size_t i = 0; i < ks->n; i++) {
        const char *o = ks->keys[i].kid;
        if ((!o && !kid) || (o && kid && strcmp(o, kid) == 0))
            return WD_EEXIST;
    }
    if (ks->n >= TOKEN_KEYS_MAX)
        return WD_ELIMIT;
    struct token_key k = {.alg = alg, .mat_len = mat_len, .mat2_len = mat2_len};
    k.mat = wd_malloc(mat_len);
    k.kid = kid ? wd_strdup(kid) : NULL;
    k.mat2 = mat2_len ? wd_malloc(mat2_len) : NULL;
    struct token_key *nk = wd_realloc(ks->keys, (ks->n + 1) * sizeof *nk);
    if (nk)
        ks->keys = nk;
    if (!k.mat || (kid && !k.kid) || (mat2_len && !k.mat2) || !nk) {
        wd_free(k.mat);
        wd_free(k.kid);
        wd_free(k.mat2);
        return WD_ENOMEM;
    }
    memcpy(k.mat, mat, mat_len);
    if (mat2_len)
        memcpy(k.mat2, mat2, mat2_len);
    ks->keys[ks->n++] = k;
    return WD_OK;
}

const struct token_key *token_keyset_find(const struct token_keyset *ks, const struct token *t,
                                          enum token_reason *why)
{
    const struct token_key *k = NULL;
    for (size_t i = 0; t->kid && i < ks->n; i++)
        if (ks->keys[i].kid && strcmp(ks->keys[i].kid, t->kid) == 0)
            k = &ks->keys[i];
    if (!k && ks->n == 1 && (!t->kid || !ks->keys[0].kid))
        k = &ks->keys[0];
    if (!k) {
        *why = TOKEN_E_KID;
        return NULL;
    }
    if (k->alg != t->alg) {
        *why = TOKEN_E_ALG_MISMATCH;
        return NULL;
    }
    *why = TOKEN_OK;
    return k;
}

/* ---- signatures --------------------------------------------------------- */

/* DER DigestInfo prefix for SHA-256 (RFC 8017 section 9.2, note 1). */
static const uint8_t sha256_digest_info[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                               0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                               0x01, 0x05, 0x00, 0x04, 0x20};

static bool rs256_verify(const struct token_key *k, const uint8_t hash[32], const uint8_t *sig,
                         size_t siglen)
{
    RsaKey rsa;
    if (wc_InitRsaKey(&rsa, NULL) != 0)
        return false;
    bool ok = false;
    uint8_t em[TOKEN_RSA_MAX_BITS / 8];
    if (wc_RsaPublicKeyDecodeRaw(k->mat, (word32)k->mat_len, k->mat2, (word32)k->mat2_len,
                                 &rsa) == 0 &&
        wc_RsaEncryptSize(&rsa) > 0 && siglen == (size_t)wc_RsaEncryptSize(&rsa)) {
        int n = wc_RsaSSL_Verify(sig, (word32)siglen, em, sizeof em, &rsa);
        ok = n == (int)(sizeof sha256_digest_info + 32) &&
             memcmp(em, sha256_digest_info, sizeof sha256_digest_info) == 0 &&
             memcmp(em + sizeof sha256_digest_info, hash, 32) == 0;
    }
    wc_FreeRsaKey(&rsa);
    return ok;
}

static bool es256_verify(const struct token_key *k, const uint8_t hash[32], const uint8_t *sig,
                         size_t siglen)
{
    if (siglen != 64)
        return false;
    ecc_key ec;
    bool ok = false;
    uint8_t der[80];
    word32 derlen = sizeof der;
    int res = 0;
    /* JWS carries r||s (RFC 7518 section 3.4); wolfCrypt verifies DER. */
    if (ec_import(&ec, k->mat, k->mat2) &&
        wc_ecc_rs_raw_to_sig(sig, 32, sig + 32, 32, der, &derlen) == 0 &&
        wc_ecc_verify_hash(der, derlen, hash, 32, &res, &ec) == 0)
        ok = res == 1;
    ec_free(&ec);
    return ok;
}

static void hmac_sha256(const uint8_t *key, size_t klen, const void *msg, size_t len,
                        uint8_t mac[32])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, klen);
    crypto_auth_hmacsha256_update(&st, msg, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

bool token_sig_verify(const struct token_key *k, const void *msg, size_t len, const uint8_t *sig,
                      size_t siglen)
{
    token_init();
    uint8_t h[32];
    switch (k->alg) {
    case TOKEN_EDDSA:
        return siglen == crypto_sign_BYTES &&
               crypto_sign_verify_detached(sig, msg, len, k->mat) == 0;
    case TOKEN_HS256: {
        if (siglen != 32)
            return false;
        hmac_sha256(k->mat, k->mat_len, msg, len, h);
        bool ok = sodium_memcmp(h, sig, 32) == 0;
        sodium_memzero(h, sizeof h);
        return ok;
    }
    case TOKEN_RS256:
        crypto_hash_sha256(h, msg, len);
        return rs256_verify(k, h, sig, siglen);
    case TOKEN_ES256:
        crypto_hash_sha256(h, msg, len);
        return es256_verify(k, h, sig, siglen);
    default:
        return false;
    }
}

enum wd_err token_verify(const struct token *t, const struct token_keyset *ks,
                         enum token_reason *why)
{
    const struct token_key *k = token_keyset_find(ks, t, why);
    if (!k)
        return WD_EBADAUTH;
    if (!token_sig_verify(k, t->signing_input, t->signing_len, t->sig, t->sig_len)) {
        *why = TOKEN_E_SIGNATURE;
        return WD_EBADAUTH;
    }
    *why = TOKEN_OK;
    return WD_OK;
}

/* ---- claims ------------------------------------------------------------- */

enum wd_err token_check_claims(const struct token *t, const struct token_policy *p, int64_t now,
                               enum token_reason *why)
{
    int64_t leeway = p->leeway < 0 ? 0 : p->leeway;
    enum token_reason r = TOKEN_OK;
    if (!t->has_exp)
        r = TOKEN_E_NO_EXP;
    else if (now >= t->exp)
        r = TOKEN_E_EXPIRED;
    else if (t->has_nbf && t->nbf > now && t->nbf - now > leeway)
        r = TOKEN_E_NBF; /* nbf, iat <= TOKEN_TIME_MAX and now > exp >= 0: no overflow */
    else if (t->has_iat && t->iat > now && t->iat - now > leeway)
        r = TOKEN_E_IAT;
    if (r == TOKEN_OK && p->nissuers > 0) {
        r = TOKEN_E_ISSUER;
        for (size_t i = 0; t->iss && i < p->nissuers; i++)
            if (strcmp(t->iss, p->issuers[i]) == 0)
                r = TOKEN_OK;
    }
    if (r == TOKEN_OK && p->audience) {
        r = TOKEN_E_AUDIENCE;
        for (size_t i = 0; i < t->naud; i++)
            if (strcmp(t->aud[i], p->audience) == 0)
                r = TOKEN_OK;
    }
    *why = r;
    return r == TOKEN_OK ? WD_OK : WD_EBADAUTH;
}

/* ---- scopes ------------------------------------------------------------- */

void token_grants_free(struct token_grant *g, size_t n)
{
    for (size_t i = 0; g && i < n; i++)
        wd_free(g[i].filter);
    wd_free(g);
}

/* A scope filter: a valid topic filter, no control characters, '%' only in
 * %u, %c, %cn (the substitutions rules use; store/rules.c applies the same). */
static bool scope_filter_ok(const char *f, size_t n)
{
    if (n == 0 || topic_validate_filter(f, n) != WD_OK)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)f[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c == '%' && (i + 1 >= n || (f[i + 1] != 'u' && f[i + 1] != 'c')))
            return false;
    }
    return true;
}

/* The actions of a "mqtt:ACTION:" entry. */
static const struct {
    const char *prefix;
    uint8_t actions;
} scope_actions[] = {
    {"mqtt:pub:", RULE_PUBLISH},
    {"mqtt:sub:", RULE_SUBSCRIBE | RULE_RECEIVE},
    {"mqtt:rw:", RULE_PUBLISH | RULE_SUBSCRIBE | RULE_RECEIVE},
};

enum wd_err token_scope_parse(const char *scope, struct token_grant **out, size_t *n,
                              size_t *unknown, enum token_reason *why)
{
    struct token_grant *g = NULL;
    size_t ng = 0, nu = 0;
    enum wd_err e = WD_OK;
    *why = TOKEN_OK;
    for (const char *p = scope; p && *p && e == WD_OK;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len < 5 || memcmp(p, "mqtt:", 5) != 0) {
            nu++;
            p += len;
            continue;
        }
        size_t i = 0, plen = 0;
        for (; i < sizeof scope_actions / sizeof scope_actions[0]; i++) {
            plen = strlen(scope_actions[i].prefix);
            if (len >= plen && memcmp(p, scope_actions[i].prefix, plen) == 0)
                break;
        }
        if (i == sizeof scope_actions / sizeof scope_actions[0] ||
            !scope_filter_ok(p + plen, len - plen)) {
            *why = TOKEN_E_SCOPE;
            e = WD_EINVAL;
        } else if (ng >= TOKEN_GRANTS_MAX) {
            *why = TOKEN_E_SCOPE;
            e = WD_ELIMIT;
        } else {
            struct token_grant *ngv = wd_realloc(g, (ng + 1) * sizeof *ngv);
            char *f = ngv ? wd_strndup(p + plen, len - plen) : NULL;
            if (ngv)
                g = ngv;
            if (!f) {
                *why = TOKEN_E_NOMEM;
                e = WD_ENOMEM;
            } else {
                g[ng].actions = scope_actions[i].actions;
                g[ng].filter = f;
                ng++;
            }
        }
        p += len;
    }
    if (e != WD_OK) {
        token_grants_free(g, ng);
        return e;
    }
    if (ng == 0) {
        wd_free(g);
        g = NULL;
    }
    *out = g;
    *n = ng;
    if (unknown)
        *unknown = nu;
    return WD_OK;
}

/* ---- issuing ------------------------------------------------------------ */

void token_ed25519_keypair(uint8_t pk[TOKEN_ED25519_PK], uint8_t sk[TOKEN_ED25519_SK])
{
    token_init();
    crypto_sign_keypair(pk, sk);
}

/* Serialise j compactly into a fresh buffer. Returns owned (wd_free) or NULL. */
static char *dump_json(const json_t *j, size_t *len)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    if (n == 0)
        return NULL;
    char *b = wd_malloc(n);
    if (!b)
        return NULL;
    if (json_dumpb(j, b, n, JSON_COMPACT) != n) {
        wd_free(b);
        return NULL;
    }
    *len = n;
    return b;
}

/* Build "B64(header).B64(claims)" for alg into a fresh buffer with room for
 * ".B64(signature)" of sig_len bytes after it. Returns owned: *out (wd_free). */
static enum wd_err signing_input(const json_t *claims, const char *kid, enum token_alg alg,
                                 size_t sig_len, char **out, size_t *inlen)
{
    if (!json_is_object(claims) || (kid && strlen(kid) > TOKEN_KID_MAX))
        return WD_EINVAL;
    char hdr[TOKEN_KID_MAX * 6 + 64];
    json_t *jkid = kid ? json_string(kid) : NULL;
    if (kid && !jkid)
        return WD_EINVAL; /* not UTF-8 */
    json_t *h = json_pack("{s:s, s:s}", "alg", token_alg_name(alg), "typ", "JWT");
    if (!h || (jkid && json_object_set_new(h, "kid", jkid) != 0)) {
        if (!h)
            json_decref(jkid);
        json_decref(h);
        return WD_ENOMEM;
    }
    size_t hlen = json_dumpb(h, hdr, sizeof hdr, JSON_COMPACT);
    json_decref(h);
    if (hlen == 0 || hlen > sizeof hdr)
        return WD_EINVAL;
    size_t plen;
    char *payload = dump_json(claims, &plen);
    if (!payload)
        return WD_ENOMEM;
    size_t total = TOKEN_B64_LEN(hlen) + 1 + TOKEN_B64_LEN(plen) + 1 + TOKEN_B64_LEN(sig_len);
    if (plen > TOKEN_MAX || total > TOKEN_MAX) {
        wd_free(payload);
        return WD_ETOOLARGE;
    }
    char *b = wd_malloc(total + 1);
    if (!b) {
        wd_free(payload);
        return WD_ENOMEM;
    }
    size_t o = token_b64url_encode((const uint8_t *)hdr, hlen, b);
    b[o++] = '.';
    o += token_b64url_encode((const uint8_t *)payload, plen, b + o);
    wd_free(payload);
    *out = b;
    *inlen = o;
    return WD_OK;
}

/* Append ".B64(sig)" to the signing input b[0..inlen). */
static void append_sig(char *b, size_t inlen, const uint8_t *sig, size_t sig_len, size_t *outlen)
{
    b[inlen] = '.';
    *outlen = inlen + 1 + token_b64url_encode(sig, sig_len, b + inlen + 1);
}

enum wd_err token_sign_eddsa(const json_t *claims, const char *kid,
                             const uint8_t sk[TOKEN_ED25519_SK], char **out, size_t *outlen)
{
    token_init();
    char *b;
    size_t inlen;
    enum wd_err e = signing_input(claims, kid, TOKEN_EDDSA, crypto_sign_BYTES, &b, &inlen);
    if (e != WD_OK)
        return e;
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const uint8_t *)b, inlen, sk);
    append_sig(b, inlen, sig, sizeof sig, outlen);
    *out = b;
    return WD_OK;
}

enum wd_err token_sign_hs256(const json_t *claims, const char *kid, const uint8_t *secret,
                             size_t slen, char **out, size_t *outlen)
{
    token_init();
    if (!secret || slen == 0 || slen > TOKEN_HS256_KEY_MAX)
        return WD_EINVAL;
    char *b;
    size_t inlen;
    enum wd_err e = signing_input(claims, kid, TOKEN_HS256, 32, &b, &inlen);
    if (e != WD_OK)
        return e;
    uint8_t mac[32];
    hmac_sha256(secret, slen, b, inlen, mac);
    append_sig(b, inlen, mac, sizeof mac, outlen);
    *out = b;
    return WD_OK;
}

/* ---- JWKS --------------------------------------------------------------- */

/* Decode the base64url string member `name` of key object o into a fresh
 * buffer. Returns WD_OK, WD_EMALFORMED (missing, not a string, bad base64url)
 * or WD_ENOMEM. */
static enum wd_err jwk_bytes(json_t *o, const char *name, uint8_t **out, size_t *len)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v))
        return WD_EMALFORMED;
    return b64_part(json_string_value(v), json_string_length(v), out, len);
}

/* A member that must be absent or the string want. */
static bool member_is(json_t *o, const char *name, const char *want)
{
    json_t *v = json_object_get(o, name);
    return !v || (json_is_string(v) && strcmp(json_string_value(v), want) == 0);
}

/* Which alg a JWK is for, or TOKEN_ALG_INVALID when we cannot use it. */
static enum token_alg jwk_alg(json_t *k)
{
    json_t *kty = json_object_get(k, "kty");
    json_t *crv = json_object_get(k, "crv");
    const char *ty = json_is_string(kty) ? json_string_value(kty) : "";
    const char *cv = json_is_string(crv) ? json_string_value(crv) : "";
    if (!member_is(k, "use", "sig"))
        return TOKEN_ALG_INVALID;
    if (strcmp(ty, "RSA") == 0 && member_is(k, "alg", "RS256"))
        return TOKEN_RS256;
    if (strcmp(ty, "EC") == 0 && strcmp(cv, "P-256") == 0 && member_is(k, "alg", "ES256"))
        return TOKEN_ES256;
    if (strcmp(ty, "OKP") == 0 && strcmp(cv, "Ed25519") == 0 &&
        (member_is(k, "alg", "EdDSA") || member_is(k, "alg", "Ed25519")))
        return TOKEN_EDDSA;
    return TOKEN_ALG_INVALID;
}

/* Add JWK k (for alg) to ks. */
static enum wd_err jwk_add(struct token_keyset *ks, json_t *k, enum token_alg alg, char *why,
                           size_t whylen, size_t idx)
{
    static const char *const members[][2] = {
        [TOKEN_EDDSA] = {"x", NULL},
        [TOKEN_RS256] = {"n", "e"},
        [TOKEN_ES256] = {"x", "y"},
    };
    json_t *kid = json_object_get(k, "kid");
    if (kid && !json_is_string(kid)) {
        snprintf(why, whylen, "key %zu: kid is not a string", idx);
        return WD_EMALFORMED;
    }
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    enum wd_err e = jwk_bytes(k, members[alg][0], &a, &alen);
    if (e == WD_OK && members[alg][1])
        e = jwk_bytes(k, members[alg][1], &b, &blen);
    if (e == WD_EMALFORMED)
        snprintf(why, whylen, "key %zu: %s or %s missing or not base64url", idx,
                 members[alg][0], members[alg][1] ? members[alg][1] : members[alg][0]);
    if (e == WD_OK) {
        e = token_keyset_add(ks, kid ? json_string_value(kid) : NULL, alg, a, alen, b, blen);
        if (e == WD_EINVAL) {
            snprintf(why, whylen, "key %zu: not a valid %s public key", idx, token_alg_name(alg));
            e = WD_EMALFORMED;
        } else if (e == WD_EEXIST) {
            snprintf(why, whylen, "key %zu: duplicate kid", idx);
        }
    }
    wd_free(a);
    wd_free(b);
    return e;
}

enum wd_err token_jwks_load(struct token_keyset *ks, const char *text, size_t len,
                            size_t *skipped, char *why, size_t whylen)
{
    if (whylen)
        why[0] = '\0';
    if (skipped)
        *skipped = 0;
    if (len > TOKEN_JWKS_MAX) {
        snprintf(why, whylen, "JWKS larger than %d bytes", TOKEN_JWKS_MAX);
        return WD_ETOOLARGE;
    }
    json_t *root = load_object((const uint8_t *)text, len);
    json_t *keys = root ? json_object_get(root, "keys") : NULL;
    if (!json_is_array(keys)) {
        snprintf(why, whylen, root ? "no \"keys\" array" : "not one JSON object "
                                                           "without duplicate keys");
        json_decref(root);
        return WD_EMALFORMED;
    }
    enum wd_err e = WD_OK;
    size_t skip = 0;
    for (size_t i = 0; e == WD_OK && i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i);
        if (!json_is_object(k)) {
            snprintf(why, whylen, "key %zu: not an object", i);
            e = WD_EMALFORMED;
            break;
        }
        enum token_alg alg = jwk_alg(k);
        if (alg == TOKEN_ALG_INVALID)
            skip++;
        else
            e = jwk_add(ks, k, alg, why, whylen, i);
        if (e == WD_ELIMIT)
            snprintf(why, whylen, "more than %d keys", TOKEN_KEYS_MAX);
        else if (e == WD_ENOMEM)
            snprintf(why, whylen, "out of memory");
    }
    json_decref(root);
    if (e == WD_OK && ks->n == 0) {
        snprintf(why, whylen, "no usable key (RS256, ES256 P-256 or Ed25519 for signing)");
        e = WD_ENOTFOUND;
    }
    if (e != WD_OK) {
        token_keyset_fini(ks);
        return e;
    }
    if (skipped)
        *skipped = skip;
    return WD_OK;
}
