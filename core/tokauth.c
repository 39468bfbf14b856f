/*
 * tokauth.c - verifying a CONNECT's access token against the store, and
 * Warden's own signing keys (see tokauth.h). Every store read and signature
 * check here runs on an auth worker (or in `warden token ...`), never on the
 * broker thread. The reasons written to `why` name the check that failed and
 * never include the token.
 */
#include "tokauth.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "introspect.h"
#include "log.h"
#include "mem.h"

void tokauth_free(struct tokauth *t)
{
    if (!t)
        return;
    wd_free(t->sub);
    wd_free(t->iss);
    wd_free(t->jti);
    wd_free(t->scope);
    backend_rules_free(t->grants, t->ngrants);
    wd_free(t);
}

bool tokauth_looks_like_token(const void *pw, size_t len)
{
    const char *s = pw;
    /* base64url of '{"' is "eyJ"; a compact JWS has exactly two dots. */
    if (len < 10 || len > TOKEN_MAX || memcmp(s, "eyJ", 3) != 0)
        return false;
    size_t dots = 0;
    for (size_t i = 0; i < len; i++)
        dots += s[i] == '.';
    return dots == 2;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static enum wd_err refuse(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return WD_EBADAUTH;
}

static void random_bytes(uint8_t *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
    }
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- Warden's own keys ---- */

enum wd_err tokauth_signing_keys(const struct backend_ops *ops, struct token_signing *out)
{
    struct token_signing fresh = {0};
    uint8_t pk[TOKEN_ED25519_PK], id[8];
    token_ed25519_keypair(pk, fresh.ed_sk);
    random_bytes(fresh.hs, sizeof fresh.hs);
    random_bytes(id, sizeof id);
    hex(id, sizeof id, fresh.kid);
    fresh.created = (int64_t)time(NULL);
    enum wd_err e = ops->token_signing(ops->ctx, &fresh, out);
    explicit_bzero(&fresh, sizeof fresh);
    return e;
}

/* The HS256 key's kid: the Ed25519 key's with "-hs". */
static void hs_kid(const struct token_signing *k, char out[40])
{
    snprintf(out, 40, "%s-hs", k->kid);
}

enum wd_err tokauth_self_keyset(const struct token_signing *k, struct token_keyset *ks)
{
    char kid[40];
    hs_kid(k, kid);
    enum wd_err e = token_keyset_add(ks, k->kid, TOKEN_EDDSA, k->ed_sk + 32, TOKEN_ED25519_PK,
                                     NULL, 0);
    if (e == WD_OK)
        e = token_keyset_add(ks, kid, TOKEN_HS256, k->hs, sizeof k->hs, NULL, 0);
    if (e != WD_OK)
        token_keyset_fini(ks);
    return e;
}

json_t *tokauth_public_jwks(const struct token_signing *k)
{
    char x[TOKEN_B64_LEN(TOKEN_ED25519_PK) + 1];
    token_b64url_encode(k->ed_sk + 32, TOKEN_ED25519_PK, x);
    return json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s}]}", "keys", "kty", "OKP", "crv",
                     "Ed25519", "x", x, "kid", k->kid, "alg", "EdDSA", "use", "sig");
}

enum wd_err tokauth_issue(const struct token_signing *k, enum token_alg alg, const char *sub,
                          const char *client_id, const char *scope, int64_t ttl, int64_t now,
                          char **out, char jti_out[33])
{
    uint8_t id[16];
    random_bytes(id, sizeof id);
    hex(id, sizeof id, jti_out);
    json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:s}", "iss", TOKAUTH_SELF_ISS, "sub", sub,
                          "iat", (json_int_t)now, "exp", (json_int_t)(now + ttl), "jti", jti_out);
    if (!c)
        return WD_ENOMEM;
    if ((client_id && json_object_set_new(c, "client_id", json_string(client_id))) ||
        (scope && json_object_set_new(c, "scope", json_string(scope)))) {
        json_decref(c);
        return WD_EINVAL; /* not UTF-8 */
    }
    enum wd_err e;
    if (alg == TOKEN_HS256) {
        char kid[40];
        hs_kid(k, kid);
        e = token_sign_hs256(c, kid, k->hs, sizeof k->hs, out, &(size_t){0});
    } else {
        e = token_sign_eddsa(c, k->kid, k->ed_sk, out, &(size_t){0});
    }
    json_decref(c);
    return e;
}

/* ---- verifying ---- */

bool tokauth_jwks_valid(const uint8_t *text, size_t len)
{
    struct token_keyset ks;
    token_keyset_init(&ks);
    char why[160];
    bool ok = token_jwks_load(&ks, (const char *)text, len, NULL, why, sizeof why) == WD_OK;
    token_keyset_fini(&ks);
    return ok;
}

/* The keys of the token's issuer, and the audience it requires (owned or NULL); or, for an
 * introspection issuer, no keys and *intro (owned: backend_issuer_free). */
static enum wd_err issuer_keys(const struct backend_ops *ops, const char *iss,
                               struct token_keyset *ks, char **audience,
                               struct token_issuer **intro, char *why, size_t n)
{
    *audience = NULL;
    *intro = NULL;
    enum wd_err e;
    if (strcmp(iss, TOKAUTH_SELF_ISS) == 0) {
        struct token_signing k;
        if ((e = ops->token_signing(ops->ctx, NULL, &k)) == WD_ENOTFOUND)
            return refuse(why, n, "issuer %s has no keys yet (no token issued)", TOKAUTH_SELF_ISS);
        if (e == WD_OK)
            e = tokauth_self_keyset(&k, ks);
        explicit_bzero(&k, sizeof k);
        return e;
    }
    struct token_issuer *is = NULL;
    if ((e = ops->token_issuer_find(ops->ctx, iss, &is)) == WD_ENOTFOUND)
        return refuse(why, n, "unknown issuer");
    if (e != WD_OK)
        return e;
    if (is->kind == TOKEN_ISSUER_INTROSPECT) {
        *intro = is;
        return WD_OK;
    }
    char jwhy[200] = "";
    switch (is->kind) {
    case TOKEN_ISSUER_JWKS:
        e = token_jwks_load(ks, (const char *)is->mat, is->mat_len, NULL, jwhy, sizeof jwhy);
        break;
    case TOKEN_ISSUER_HS256:
        e = token_keyset_add(ks, NULL, TOKEN_HS256, is->mat, is->mat_len, NULL, 0);
        break;
    default:
        e = token_keyset_add(ks, NULL, TOKEN_EDDSA, is->mat, is->mat_len, NULL, 0);
        break;
    }
    if (e != WD_OK && e != WD_ENOMEM)
        e = refuse(why, n, "issuer %.60s: its stored keys do not load (%.100s)", is->name,
                   jwhy[0] ? jwhy : wd_strerror(e));
    if (e == WD_OK && is->audience[0] && !(*audience = wd_strdup(is->audience)))
        e = WD_ENOMEM;
    backend_issuer_free(is);
    return e;
}

/* The grants of a scope claim as allow rules. */
static enum wd_err grants_to_rules(const struct token_grant *g, size_t n, struct rule **out)
{
    *out = NULL;
    if (!n)
        return WD_OK;
    struct rule *r = wd_calloc(n, sizeof *r);
    if (!r)
        return WD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        r[i] = (struct rule){RULE_ALLOW, g[i].actions, 2, true, wd_strdup(g[i].filter)};
        if (!r[i].filter) {
            backend_rules_free(r, i);
            return WD_ENOMEM;
        }
    }
    *out = r;
    return WD_OK;
}

struct perms *tokauth_perms(const struct tokauth *tok, const struct perms *user_perms)
{
    if (tok->known_user && !user_perms)
        return NULL; /* unknown rules: never fall back to the scope alone */
    if (!tok->has_scope) {
        if (tok->known_user)
            return perms_ref((struct perms *)user_perms);
        return perms_scoped(NULL, NULL, 0); /* an unknown subject without scope: nothing */
    }
    return perms_scoped(tok->known_user ? user_perms : NULL, tok->grants, tok->ngrants);
}

/* The checks after the signature; t verified. Fills tok. */
static enum wd_err check_claims(const struct backend_ops *ops, const struct token *t,
                                const char *cid, const char *user, struct tokauth *tok,
                                char *why, size_t n)
{
    if (t->client_id && strcmp(t->client_id, cid) != 0)
        return refuse(why, n, "client id is not the token's client_id");
    if (!t->sub || !t->sub[0])
        return refuse(why, n, "no sub claim");
    if (user && user[0] && strcmp(user, t->sub) != 0)
        return refuse(why, n, "user name is not the token's subject");
    enum wd_err e;
    if (t->jti) {
        bool revoked = false;
        if ((e = ops->token_revoked(ops->ctx, t->jti, (int64_t)time(NULL), &revoked)) != WD_OK)
            return e;
        if (revoked)
            return refuse(why, n, "token revoked (jti)");
    }
    struct user *u = NULL;
    e = ops->user_get(ops->ctx, t->sub, &u);
    if (e == WD_OK && !u->enabled) {
        backend_user_free(u);
        snprintf(why, n, "subject is a disabled user");
        return WD_EDENIED;
    }
    backend_user_free(u);
    if (e != WD_OK && e != WD_ENOTFOUND)
        return e;
    tok->known_user = e == WD_OK;
    struct token_grant *g = NULL;
    size_t ng = 0;
    enum token_reason r = TOKEN_OK;
    if ((e = token_scope_parse(t->scope, &g, &ng, NULL, &r)) != WD_OK)
        return e == WD_ENOMEM ? e : refuse(why, n, "%s", token_reason_str(r));
    tok->has_scope = t->scope != NULL;
    e = grants_to_rules(g, ng, &tok->grants);
    if (e == WD_OK)
        tok->ngrants = ng;
    token_grants_free(g, ng);
    if (e != WD_OK)
        return e;
    tok->exp = t->exp;
    if (!(tok->sub = wd_strdup(t->sub)) || !(tok->iss = wd_strdup(t->iss)) ||
        (t->jti && !(tok->jti = wd_strdup(t->jti))) ||
        (t->scope && !(tok->scope = wd_strdup(t->scope))))
        return WD_ENOMEM;
    return WD_OK;
}

/* The session's permissions for a checked tok: its subject's rules now, narrowed. */
static enum wd_err session_perms(const struct backend_ops *ops, const struct tokauth *tok,
                                 struct perms **perms)
{
    enum wd_err e = WD_OK;
    struct perms *base = NULL;
    if (tok->known_user && !(base = perms_load(ops, tok->sub, &e)))
        return e;
    *perms = tokauth_perms(tok, base);
    perms_unref(base);
    return *perms ? WD_OK : WD_ENOMEM;
}

/* Does the newline-separated list have want? */
static bool aud_has(const char *list, const char *want)
{
    size_t wl = strlen(want);
    for (const char *p = list; p && *p;) {
        size_t l = strcspn(p, "\n");
        if (l == wl && memcmp(p, want, wl) == 0)
            return true;
        p += l + (p[l] == '\n');
    }
    return false;
}

/* The checks of an active introspection answer from is; fills tok like check_claims. */
static enum wd_err answer_claims(const struct backend_ops *ops, const struct token_issuer *is,
                                 const struct introspect_answer *a, const char *cid,
                                 const char *user, struct tokauth *tok, char *why, size_t n)
{
    int64_t now = (int64_t)time(NULL);
    if (a->exp && a->exp <= now)
        return refuse(why, n, "token expired (introspection exp)");
    if (is->audience[0] && !aud_has(a->aud, is->audience))
        return refuse(why, n, "audience mismatch (introspection aud)");
    /* An issuer added with its own --iss names the service's iss; the URL default does not. */
    if (strcmp(is->iss, is->url) != 0 && a->iss && strcmp(a->iss, is->iss) != 0)
        return refuse(why, n, "issuer mismatch (introspection iss)");
    /* Without exp the session lasts as long as the answer may be reused. */
    struct token t = {.iss = is->iss, .sub = a->sub, .client_id = a->client_id,
                      .scope = a->scope, .exp = a->exp ? a->exp : now + (int64_t)is->cache,
                      .has_exp = true};
    return check_claims(ops, &t, cid, user, tok, why, n);
}

/*
 * An opaque token (or a JWT of an introspection issuer): ask the introspection
 * issuers of v[0..nv) in order until one says active. Inactive everywhere:
 * refused like a wrong password; no active answer and a service that could not
 * be asked: WD_EIO (fail closed, as "server unavailable").
 */
static enum wd_err introspect_check(const struct backend_ops *ops, uint32_t ms,
                                    const void *token, size_t len, const char *cid,
                                    const char *user, const struct token_issuer *v, size_t nv,
                                    struct tokauth *tok, char *why, size_t n)
{
    enum wd_err e = WD_OK, down = WD_OK;
    size_t asked = 0;
    char w[200] = "";
    for (size_t i = 0; i < nv; i++) {
        if (v[i].kind != TOKEN_ISSUER_INTROSPECT)
            continue;
        asked++;
        struct introspect_answer a;
        e = introspect_lookup(&v[i], token, len, cid, ms, &a, w, sizeof w);
        if (e == WD_ENOMEM)
            return e;
        if (e != WD_OK) {
            log_warning("token introspection at issuer %s failed: %s", v[i].name, w);
            down = e;
            snprintf(why, n, "issuer %.40s: %.110s", v[i].name, w);
            continue;
        }
        if (a.active) {
            e = answer_claims(ops, &v[i], &a, cid, user, tok, why, n);
            introspect_answer_fini(&a);
            return e;
        }
        introspect_answer_fini(&a);
    }
    if (!asked)
        return refuse(why, n, "not a JWT, and no introspection issuer is configured");
    if (down != WD_OK)
        return WD_EIO; /* why: the last failure */
    return refuse(why, n, "token not active (introspection)");
}

/* An opaque token: every introspection issuer, in name order. */
static enum wd_err introspect_all(const struct backend_ops *ops, uint32_t ms, const void *token,
                                  size_t len, const char *cid, const char *user,
                                  struct tokauth **out, struct perms **perms, char *why,
                                  size_t whylen)
{
    if (len == 0 || len > TOKEN_MAX)
        return refuse(why, whylen, "token empty or too long");
    struct token_issuer *v = NULL;
    size_t nv = 0;
    enum wd_err e = ops->token_issuers_list ? ops->token_issuers_list(ops->ctx, &v, &nv)
                                            : WD_OK;
    struct tokauth *tok = NULL;
    if (e == WD_OK && !(tok = wd_calloc(1, sizeof *tok)))
        e = WD_ENOMEM;
    if (e == WD_OK)
        e = introspect_check(ops, ms, token, len, cid, user, v, nv, tok, why, whylen);
    if (e == WD_OK)
        e = session_perms(ops, tok, perms);
    if (e == WD_OK) {
        *out = tok;
        tok = NULL;
    }
    for (size_t i = 0; i < nv; i++)
        backend_issuer_fini(&v[i]);
    wd_free(v);
    tokauth_free(tok);
    if (e != WD_OK && !why[0])
        snprintf(why, whylen, "%s", wd_strerror(e));
    return e;
}

enum wd_err tokauth_check(const struct backend_ops *ops, int64_t leeway, uint32_t introspect_ms,
                          const void *token, size_t len, const char *cid, const char *user,
                          struct tokauth **out, struct perms **perms, char *why, size_t whylen)
{
    *out = NULL;
    *perms = NULL;
    why[0] = '\0';
    if (!tokauth_looks_like_token(token, len))
        return introspect_all(ops, introspect_ms, token, len, cid, user, out, perms, why,
                              whylen);
    token_init();
    struct token *t = NULL;
    enum token_reason r = TOKEN_OK;
    enum wd_err e = token_parse(token, len, &t, &r);
    if (e != WD_OK)
        return e == WD_ENOMEM ? e : refuse(why, whylen, "%s", token_reason_str(r));
    if (!t->iss) {
        token_free(t);
        return refuse(why, whylen, "no iss claim");
    }
    struct token_keyset ks;
    token_keyset_init(&ks);
    char *aud = NULL;
    struct tokauth *tok = NULL;
    struct token_issuer *intro = NULL;
    if ((e = issuer_keys(ops, t->iss, &ks, &aud, &intro, why, whylen)) != WD_OK)
        goto done;
    if (intro) {
        /* A JWT of an introspection-only issuer: its service decides, not a signature. */
        if (!(tok = wd_calloc(1, sizeof *tok)))
            e = WD_ENOMEM;
        else
            e = introspect_check(ops, introspect_ms, token, len, cid, user, intro, 1, tok, why,
                                 whylen);
        backend_issuer_free(intro);
        if (e == WD_OK)
            e = session_perms(ops, tok, perms);
        if (e == WD_OK) {
            *out = tok;
            tok = NULL;
        }
        goto done;
    }
    if ((e = token_verify(t, &ks, &r)) != WD_OK) {
        if (e != WD_ENOMEM)
            e = refuse(why, whylen, "%s", token_reason_str(r));
        goto done;
    }
    const char *issuers[1] = {t->iss};
    struct token_policy pol = {issuers, 1, aud, leeway};
    if (token_check_claims(t, &pol, (int64_t)time(NULL), &r) != WD_OK) {
        e = refuse(why, whylen, "%s", token_reason_str(r));
        goto done;
    }
    if (!(tok = wd_calloc(1, sizeof *tok))) {
        e = WD_ENOMEM;
        goto done;
    }
    if ((e = check_claims(ops, t, cid, user, tok, why, whylen)) != WD_OK ||
        (e = session_perms(ops, tok, perms)) != WD_OK)
        goto done;
    *out = tok;
    tok = NULL;
done:
    if (e != WD_OK && !why[0])
        snprintf(why, whylen, "%s", wd_strerror(e));
    tokauth_free(tok);
    wd_free(aud);
    token_keyset_fini(&ks);
    token_free(t);
    return e;
}
