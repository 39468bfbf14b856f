/*
 * token.h - access tokens: compact JWS/JWT parsing, signature verification,
 * claim checks, scope parsing, and issuing Warden's own tokens.
 *
 * Verifying a token is three steps, so that the caller can pick the issuer's
 * keys by the (still unverified) `iss` between the first and the second:
 *   token_parse()         PURE: bytes -> struct token (no keys, no clock)
 *   token_verify()        the key chosen by `kid` among the issuer's keys, whose
 *                         alg must equal the header's; then the signature
 *   token_check_claims()  exp, nbf, iat, iss, aud against a policy and `now`
 * and token_scope_parse() turns the `scope` claim into (actions, filter) grants.
 *
 * Each function returns an enum wd_err and, where a token is refused, an
 * enum token_reason saying why (for the audit and the log: never log the token).
 * Algorithms: EdDSA (Ed25519) and HS256 through libsodium; RS256 and ES256
 * through wolfCrypt. Signature checks cost up to ~1 ms (RSA-4096): run them on
 * an auth worker, never on the broker thread.
 * Thread: any. Nothing here has global state beyond libsodium's initialisation.
 */
#ifndef WD_TOKEN_H
#define WD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

#define TOKEN_MAX 8192             /* bytes of a compact token we accept or issue */
#define TOKEN_JWKS_MAX 65536       /* bytes of a JWKS document */
#define TOKEN_KEYS_MAX 64          /* keys in one key set */
#define TOKEN_KID_MAX 256          /* bytes of a kid */
#define TOKEN_HS256_KEY_MAX 4096   /* bytes of an HS256 secret */
#define TOKEN_GRANTS_MAX 256       /* mqtt: entries in one scope claim */
#define TOKEN_LEEWAY_DEFAULT 30    /* seconds of clock skew allowed on nbf and iat */
#define TOKEN_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z: larger NumericDates are refused */
#define TOKEN_ED25519_PK 32        /* Ed25519 public key bytes */
#define TOKEN_ED25519_SK 64        /* libsodium Ed25519 secret key bytes (seed || public key) */
#define TOKEN_RSA_MIN_BITS 2048    /* RS256 moduli outside [MIN, MAX] are refused */
#define TOKEN_RSA_MAX_BITS 4096    /* wolfCrypt's SP_INT_BITS on Debian 12 */

/* Length of the unpadded base64url encoding of n bytes. */
#define TOKEN_B64_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

enum token_alg {
    TOKEN_ALG_INVALID = 0, /* never a valid key or token alg */
    TOKEN_EDDSA,           /* "EdDSA": Ed25519 (RFC 8037) */
    TOKEN_HS256,           /* "HS256": HMAC-SHA256, secret of any length */
    TOKEN_RS256,           /* "RS256": RSASSA-PKCS1-v1_5 with SHA-256 */
    TOKEN_ES256,           /* "ES256": ECDSA P-256 with SHA-256, signature r||s */
};

/* Why a token was refused. Listed once; the enum and token_reason_str() come from it. */
#define TOKEN_REASONS(X)                                                               \
    X(TOKEN_OK, "valid")                                                              \
    X(TOKEN_E_TOOLARGE, "token too large")                                            \
    X(TOKEN_E_FORMAT, "not a compact JWS (header.payload.signature)")                 \
    X(TOKEN_E_BASE64, "malformed base64url")                                          \
    X(TOKEN_E_JSON, "header or payload is not one JSON object without duplicate keys") \
    X(TOKEN_E_HEADER, "bad or unsupported header parameter")                          \
    X(TOKEN_E_CLAIM, "claim of the wrong type or out of range")                       \
    X(TOKEN_E_ALG_NONE, "alg none refused")                                           \
    X(TOKEN_E_ALG_UNKNOWN, "unsupported alg")                                         \
    X(TOKEN_E_KID, "no key for this kid")                                             \
    X(TOKEN_E_ALG_MISMATCH, "alg differs from the key's alg")                         \
    X(TOKEN_E_SIGNATURE, "bad signature")                                             \
    X(TOKEN_E_NO_EXP, "no exp claim")                                                 \
    X(TOKEN_E_EXPIRED, "expired")                                                     \
    X(TOKEN_E_NBF, "not yet valid (nbf in the future)")                               \
    X(TOKEN_E_IAT, "issued in the future (iat)")                                      \
    X(TOKEN_E_ISSUER, "issuer not accepted")                                          \
    X(TOKEN_E_AUDIENCE, "audience not accepted")                                      \
    X(TOKEN_E_SCOPE, "malformed mqtt: scope entry")                                   \
    X(TOKEN_E_NOMEM, "out of memory")

enum token_reason {
#define TOKEN_REASON_ENUM(name, msg) name,
    TOKEN_REASONS(TOKEN_REASON_ENUM)
#undef TOKEN_REASON_ENUM
    TOKEN_REASON_COUNT
};

/* Message for a reason, and the JWS name of an alg ("EdDSA", ...; "?" if invalid).
 * Return static strings. Thread: any. */
const char *token_reason_str(enum token_reason r);
const char *token_alg_name(enum token_alg alg);

/*
 * A parsed, NOT yet verified token. Every string is owned by the token, NUL-
 * terminated, valid UTF-8 without U+0000, and NULL when the claim is absent.
 * Claims other than these are ignored.
 */
struct token {
    enum token_alg alg;      /* header alg, always a supported one */
    char *kid;               /* header kid */
    char *typ;               /* header typ (advisory, not checked) */
    char *iss, *sub, *jti, *client_id;
    char *scope;             /* space-separated; see token_scope_parse() */
    char **aud;              /* aud as a list (a string claim gives one entry) */
    size_t naud;
    int64_t exp, nbf, iat;   /* NumericDate, seconds; fractions are dropped */
    bool has_exp, has_nbf, has_iat;
    /* What the signature covers, and the signature: for token_verify(). */
    char *signing_input;     /* "HEADER.PAYLOAD" as received */
    size_t signing_len;
    uint8_t *sig;
    size_t sig_len;
};

/*
 * PURE. Parse a compact JWS s[0..len): three base64url parts (strict: no
 * padding, no characters outside [A-Za-z0-9_-], zero trailing bits), a header
 * object with a supported `alg`, optional string `kid` and `typ` and no `crit`,
 * and a claims object whose known claims have the right types.
 * out: *out on WD_OK; *why always (TOKEN_OK on success).
 * Returns WD_OK; WD_ETOOLARGE (len > TOKEN_MAX); WD_EMALFORMED (any format,
 * JSON, alg or claim-type problem: see *why); WD_ENOMEM.
 * Returns owned: *out, free with token_free(). Borrows s only during the call.
 */
enum wd_err token_parse(const char *s, size_t len, struct token **out, enum token_reason *why);

/* token_free(NULL) is a no-op. */
void token_free(struct token *t);

/*
 * One verification key. `material` depends on alg:
 *   EDDSA  mat = 32-byte Ed25519 public key
 *   HS256  mat = the shared secret (1..TOKEN_HS256_KEY_MAX bytes)
 *   RS256  mat = modulus n, mat2 = public exponent e (big-endian, unsigned)
 *   ES256  mat = x, mat2 = y (32 bytes each, big-endian)
 * A key verifies tokens of its own alg only, whatever the token's header says.
 */
struct token_key {
    char *kid;               /* owned; NULL: the key has no kid */
    enum token_alg alg;
    uint8_t *mat;            /* owned */
    size_t mat_len;
    uint8_t *mat2;           /* owned; NULL for EDDSA and HS256 */
    size_t mat2_len;
};

/* An issuer's keys. Embedded: token_keyset_init() / token_keyset_fini(). */
struct token_keyset {
    struct token_key *keys;  /* owned array of n keys */
    size_t n;
};

void token_keyset_init(struct token_keyset *ks);
/* Frees the keys (secrets are wiped) and leaves ks empty and reusable. */
void token_keyset_fini(struct token_keyset *ks);

/*
 * Add a copy of a key after checking it: lengths as above, an Ed25519 point
 * of the main subgroup, an RSA modulus of TOKEN_RSA_MIN_BITS..MAX_BITS with an
 * odd exponent >= 3, a P-256 point on the curve.
 * in: kid (NULL or a string up to TOKEN_KID_MAX bytes), alg, material.
 * Returns WD_OK; WD_EINVAL (bad key); WD_EEXIST (the kid, or "no kid", is
 * already in the set: selection by kid must be unambiguous); WD_ELIMIT
 * (TOKEN_KEYS_MAX keys); WD_ENOMEM. On failure ks is unchanged.
 */
enum wd_err token_keyset_add(struct token_keyset *ks, const char *kid, enum token_alg alg,
                             const uint8_t *mat, size_t mat_len, const uint8_t *mat2,
                             size_t mat2_len);

/*
 * Load a JWKS document ({"keys": [...]}, RFC 7517) into ks, which must be
 * empty. Usable keys: kty RSA (alg absent or RS256), kty EC crv P-256 (alg
 * absent or ES256), kty OKP crv Ed25519 (alg absent, EdDSA or Ed25519); keys
 * with "use" other than "sig", other types, curves or algs are skipped and
 * counted. Private members ("d", ...) are ignored and never kept.
 * out: *skipped (may be NULL); why[0..whylen) names the first problem on failure.
 * Returns WD_OK with at least one key; WD_ETOOLARGE (len > TOKEN_JWKS_MAX);
 * WD_EMALFORMED (bad JSON, a usable key with bad members); WD_EEXIST
 * (duplicate kid); WD_ENOTFOUND (no usable key); WD_ELIMIT; WD_ENOMEM.
 * On failure ks stays empty.
 */
enum wd_err token_jwks_load(struct token_keyset *ks, const char *text, size_t len,
                            size_t *skipped, char *why, size_t whylen);

/*
 * Choose the key for t: the key whose kid equals the header's kid; when no key
 * has it, or the header has no kid, the set's only key if it has exactly one
 * (a kid-less key only stands in for a kid when it is alone). The key's alg
 * must equal the header's alg (TOKEN_E_ALG_MISMATCH): this, not the header,
 * decides the algorithm, so an RSA public key is never used as an HMAC secret.
 * Returns the key (Borrows: valid while ks is unchanged) or NULL with *why.
 */
const struct token_key *token_keyset_find(const struct token_keyset *ks, const struct token *t,
                                          enum token_reason *why);

/*
 * Verify t's signature with the key token_keyset_find() chooses.
 * Returns WD_OK (*why = TOKEN_OK); WD_EBADAUTH with *why = TOKEN_E_KID,
 * TOKEN_E_ALG_MISMATCH or TOKEN_E_SIGNATURE; WD_ENOMEM.
 */
enum wd_err token_verify(const struct token *t, const struct token_keyset *ks,
                         enum token_reason *why);

/*
 * The primitive: does sig[0..siglen) sign msg[0..len) under key k with k's alg?
 * Signature lengths: EdDSA 64, HS256 32, ES256 64, RS256 the modulus size.
 * HMAC tags are compared in constant time.
 */
bool token_sig_verify(const struct token_key *k, const void *msg, size_t len, const uint8_t *sig,
                      size_t siglen);

/* What token_check_claims() accepts. */
struct token_policy {
    const char *const *issuers; /* accepted iss values; nissuers 0 = iss not checked */
    size_t nissuers;
    const char *audience;       /* must be in aud; NULL = aud not checked */
    int64_t leeway;             /* seconds of skew allowed on nbf and iat (TOKEN_LEEWAY_DEFAULT) */
};

/*
 * PURE. Check the claims at time now (seconds since the epoch): exp present
 * and now < exp (no leeway: the session ends at exp anyway); nbf <= now +
 * leeway; iat <= now + leeway; iss among the issuers; audience in aud.
 * Returns WD_OK, or WD_EBADAUTH with *why = TOKEN_E_NO_EXP, _EXPIRED, _NBF,
 * _IAT, _ISSUER or _AUDIENCE (checked in that order).
 */
enum wd_err token_check_claims(const struct token *t, const struct token_policy *p, int64_t now,
                               enum token_reason *why);

/* One permission a scope grants. */
struct token_grant {
    uint8_t actions;         /* RULE_PUBLISH / RULE_SUBSCRIBE / RULE_RECEIVE bits (backend.h) */
    char *filter;            /* owned; may hold %u, %c, %cn placeholders */
};

/*
 * PURE. Parse a scope claim: entries separated by spaces;
 *   mqtt:pub:FILTER  publish
 *   mqtt:sub:FILTER  subscribe and receive
 *   mqtt:rw:FILTER   publish, subscribe and receive
 * FILTER must pass topic_validate_filter(), hold no control characters, and
 * use '%' only in the placeholders %u, %c and %cn. Entries not starting with
 * "mqtt:" (OIDC's "openid", ...) are skipped and counted in *unknown; a
 * malformed "mqtt:" entry refuses the whole scope (TOKEN_E_SCOPE).
 * scope may be NULL (no grants).
 * out: *out, *n, *unknown (may be NULL), *why.
 * Returns WD_OK; WD_EINVAL (TOKEN_E_SCOPE); WD_ELIMIT (> TOKEN_GRANTS_MAX);
 * WD_ENOMEM. Returns owned: *out (NULL when *n is 0), free with token_grants_free().
 */
enum wd_err token_scope_parse(const char *scope, struct token_grant **out, size_t *n,
                              size_t *unknown, enum token_reason *why);

void token_grants_free(struct token_grant *g, size_t n);

/*
 * Initialise libsodium. Every function that needs it calls it; it aborts
 * with one line on stderr only if libsodium cannot initialise (at startup).
 */
void token_init(void);

/* A fresh Ed25519 key pair for `warden token issue`. sk holds the seed and pk. */
void token_ed25519_keypair(uint8_t pk[TOKEN_ED25519_PK], uint8_t sk[TOKEN_ED25519_SK]);

/*
 * Issue a compact token: header {"alg":..,"typ":"JWT"[,"kid":kid]}, payload
 * claims (a JSON object, serialised compactly as given: the caller sets exp,
 * iat, ...), signed with the Ed25519 secret key sk or the HS256 secret.
 * out: *out, NUL-terminated, *outlen its length.
 * Returns WD_OK; WD_EINVAL (claims not an object, empty secret, kid too
 * long); WD_ETOOLARGE (the token would exceed TOKEN_MAX, which we would
 * refuse); WD_ENOMEM. Returns owned: *out, free with wd_free().
 */
enum wd_err token_sign_eddsa(const json_t *claims, const char *kid,
                             const uint8_t sk[TOKEN_ED25519_SK], char **out, size_t *outlen);
enum wd_err token_sign_hs256(const json_t *claims, const char *kid, const uint8_t *secret,
                             size_t slen, char **out, size_t *outlen);

/*
 * PURE. Strict base64url without padding (RFC 7515 section 2): decode
 * s[0..len) into out[0..cap). Returns WD_OK with *outlen; WD_EMALFORMED (a
 * character outside the alphabet, '=', len % 4 == 1, nonzero trailing bits);
 * WD_ETOOLARGE (cap too small).
 */
enum wd_err token_b64url_decode(const char *s, size_t len, uint8_t *out, size_t cap,
                                size_t *outlen);

/* PURE. Encode in[0..len) into out, which has room for TOKEN_B64_LEN(len) + 1
 * bytes; NUL-terminates and returns TOKEN_B64_LEN(len). */
size_t token_b64url_encode(const uint8_t *in, size_t len, char *out);

#endif
