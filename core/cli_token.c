/*
 * cli_token.c - `warden token ...`: issuing Warden's own access tokens,
 * revoking token ids, exporting the public key, and the trusted external
 * issuers (their keys are copied into the store, so the broker never reads
 * a key file at connect time; `issuer reload` and SIGHUP re-read a JWKS file).
 * Key material is checked with token.c before anything is written, and an
 * HS256 secret or an introspection client secret is never printed back.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "backend.h"
#include "cli_int.h"
#include "err.h"
#include "introspect.h"
#include "mem.h"
#include "token.h"
#include "tokauth.h"
#include "../store/store.h"
#include "../store/tokens.h"
#include "../store/users.h"

#define TTL_DEFAULT 3600

/* What one token command works on (one command per process, like struct cli). */
static struct {
    struct token_issuer is;        /* issuer add / reload: borrows name, iss, audience, path */
    struct token_revoked rv;       /* revoke: borrows jti */
    struct token_issuer *list;     /* issuer list: owned */
    size_t nlist;
    struct token_revoked *revoked; /* list-revoked: owned */
    size_t nrevoked;
    struct user *user;             /* issue --user: owned */
} tc;

/* ---------------------------------------------------------------- reading keys */

/* A whole file of at most max bytes, NUL-terminated. Returns owned: wd_free. */
static char *read_file(const char *path, size_t max, size_t *len, const char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = "cannot open";
        return NULL;
    }
    char *b = wd_malloc(max + 2);
    size_t n = b ? fread(b, 1, max + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!b || bad || n > max || n == 0) {
        *err = !b ? "out of memory" : bad ? "cannot read" : n ? "too large" : "empty";
        wd_free(b);
        return NULL;
    }
    b[n] = '\0';
    *len = n;
    return b;
}

/*
 * An Ed25519 public key file: PEM "PUBLIC KEY" (what `openssl pkey -pubout`
 * writes: the fixed 12-byte SubjectPublicKeyInfo prefix, then the key) or
 * the bare key in base64url (a JWK's "x").
 */
static bool ed25519_from_text(const char *text, uint8_t pk[TOKEN_ED25519_PK])
{
    static const uint8_t spki[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                     0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    char b64[128];
    size_t n = 0;
    const char *p = text;
    bool pem = strstr(text, "-----BEGIN PUBLIC KEY-----") != NULL;
    if (pem) {
        p = strstr(text, "-----BEGIN PUBLIC KEY-----") + 26;
        const char *end = strstr(p, "-----END PUBLIC KEY-----");
        if (!end)
            return false;
        for (; p < end; p++) {
            char ch = *p == '+' ? '-' : *p == '/' ? '_' : *p;
            if (ch == '\n' || ch == '\r' || ch == ' ' || ch == '=')
                continue;
            if (n + 1 >= sizeof b64)
                return false;
            b64[n++] = ch;
        }
    } else {
        for (; *p && *p != '\n' && *p != '\r'; p++) {
            if (n + 1 >= sizeof b64)
                return false;
            b64[n++] = *p;
        }
    }
    uint8_t der[64];
    size_t dlen;
    if (token_b64url_decode(b64, n, der, sizeof der, &dlen) != WD_OK)
        return false;
    if (pem) {
        if (dlen != sizeof spki + TOKEN_ED25519_PK || memcmp(der, spki, sizeof spki) != 0)
            return false;
        memcpy(pk, der + sizeof spki, TOKEN_ED25519_PK);
        return true;
    }
    if (dlen != TOKEN_ED25519_PK)
        return false;
    memcpy(pk, der, TOKEN_ED25519_PK);
    return true;
}

/* The secret on stdin (one trailing newline dropped). Returns owned, wiped by the caller. */
static uint8_t *read_secret(size_t *len)
{
    uint8_t *b = wd_malloc(TOKEN_HS256_KEY_MAX + 2);
    if (!b)
        return NULL;
    size_t n = fread(b, 1, TOKEN_HS256_KEY_MAX + 2, stdin);
    if (n && b[n - 1] == '\n')
        n--;
    if (n && b[n - 1] == '\r')
        n--;
    if (n == 0 || n > TOKEN_HS256_KEY_MAX) {
        explicit_bzero(b, TOKEN_HS256_KEY_MAX + 2);
        wd_free(b);
        return NULL;
    }
    *len = n;
    return b;
}

/* Load an issuer's stored material into ks (to check it, or to show its keys). */
static enum wd_err issuer_keyset(const struct token_issuer *is, struct token_keyset *ks,
                                 char *why, size_t n)
{
    why[0] = '\0';
    switch (is->kind) {
    case TOKEN_ISSUER_INTROSPECT:
        return WD_OK; /* no keys: the service decides */
    case TOKEN_ISSUER_JWKS:
        return token_jwks_load(ks, (const char *)is->mat, is->mat_len, NULL, why, n);
    case TOKEN_ISSUER_HS256:
        return token_keyset_add(ks, NULL, TOKEN_HS256, is->mat, is->mat_len, NULL, 0);
    default:
        return token_keyset_add(ks, NULL, TOKEN_EDDSA, is->mat, is->mat_len, NULL, 0);
    }
}

static const char *kind_name(uint8_t kind)
{
    return kind == TOKEN_ISSUER_JWKS        ? "jwks"
           : kind == TOKEN_ISSUER_HS256     ? "hs256"
           : kind == TOKEN_ISSUER_INTROSPECT ? "introspect"
                                            : "ed25519";
}

/* ---------------------------------------------------------------- issue */

static enum wd_err body_user(struct store_txn *t, struct cli *c)
{
    (void)c;
    return users_get(t, c->opt[CLI_OPT_USER], &tc.user);
}

static enum wd_err body_nothing(struct store_txn *t, struct cli *c)
{
    (void)t;
    (void)c;
    return WD_OK; /* the audit entry is the write */
}

int cli_cmd_token_issue(struct cli *c)
{
    const char *user = c->opt[CLI_OPT_USER], *subject = c->opt[CLI_OPT_SUBJECT];
    if (!!user == !!subject)
        return cli_usage_error(c, "give exactly one of --user NAME, --subject SUB");
    const char *sub = user ? user : subject;
    if (!sub[0] || !users_valid_text(sub, 1024))
        return cli_usage_error(c, "invalid subject (1..1024 characters, no control characters)");
    int64_t ttl = TTL_DEFAULT;
    if (c->opt[CLI_OPT_TTL] && !cli_parse_duration(c->opt[CLI_OPT_TTL], &ttl))
        return cli_usage_error(c, "invalid --ttl '%.40s' (e.g. 30s, 10m, 1h, 7d)",
                               c->opt[CLI_OPT_TTL]);
    enum token_alg alg = TOKEN_EDDSA;
    const char *a = c->opt[CLI_OPT_ALG];
    if (a && !strcmp(a, "hs256"))
        alg = TOKEN_HS256;
    else if (a && strcmp(a, "eddsa") != 0)
        return cli_usage_error(c, "invalid --alg '%.40s' (eddsa or hs256)", a);
    const char *cid = c->opt[CLI_OPT_CLIENT_ID];
    if (cid && (!cid[0] || !users_valid_text(cid, 65535)))
        return cli_usage_error(c, "invalid --client-id");
    const char *scope = c->opt[CLI_OPT_SCOPE];
    if (scope) {
        struct token_grant *g = NULL;
        size_t ng = 0;
        enum token_reason r = TOKEN_OK;
        enum wd_err e = token_scope_parse(scope, &g, &ng, NULL, &r);
        token_grants_free(g, ng);
        if (e != WD_OK)
            return cli_failed(c, "invalid --scope: %s (entries: mqtt:pub:FILTER, mqtt:sub:FILTER, "
                                 "mqtt:rw:FILTER)", e == WD_ELIMIT ? "too many entries"
                                                                   : token_reason_str(r));
    }
    if (user) {
        /* A token for a user carries that user's name; a disabled user gets none. */
        if (cli_read_txn(c, body_user))
            return 1;
        bool enabled = tc.user->enabled;
        backend_user_free(tc.user);
        tc.user = NULL;
        if (!enabled)
            return cli_failed(c, "user '%s' is disabled", user);
    }
    struct backend_ops ops;
    store_backend_ops(c->st, &ops);
    struct token_signing k;
    enum wd_err e = tokauth_signing_keys(&ops, &k);
    if (e != WD_OK)
        return cli_failed(c, "signing keys: %s", store_errmsg(c->st)[0] ? store_errmsg(c->st)
                                                                        : wd_strerror(e));
    int64_t now = (int64_t)time(NULL);
    char *tok = NULL, jti[33];
    e = tokauth_issue(&k, alg, sub, cid, scope, ttl, now, &tok, jti);
    explicit_bzero(&k, sizeof k);
    if (e != WD_OK)
        return cli_failed(c, "cannot issue: %s", wd_strerror(e));
    snprintf(c->target, sizeof c->target, "%.200s jti=%s", sub, jti);
    if (cli_run_write(c, body_nothing)) {
        wd_free(tok);
        return 1;
    }
    int rc = 0;
    if (c->json) {
        json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:I}", "ok", 1, "token", tok, "jti", jti,
                              "sub", sub, "ttl", (json_int_t)ttl);
        if (o)
            json_object_set_new(o, "expires", cli_json_time(now + ttl));
        rc = cli_emit_json(o);
    } else {
        printf("%s\n", tok);
    }
    explicit_bzero(tok, strlen(tok));
    wd_free(tok);
    return rc;
}

int cli_cmd_token_key_export(struct cli *c)
{
    struct backend_ops ops;
    store_backend_ops(c->st, &ops);
    struct token_signing k;
    enum wd_err e = tokauth_signing_keys(&ops, &k);
    if (e != WD_OK)
        return cli_failed(c, "signing keys: %s", wd_strerror(e));
    json_t *j = tokauth_public_jwks(&k);
    explicit_bzero(&k, sizeof k);
    return cli_emit_json(j);
}

/* ---------------------------------------------------------------- revocation */

static enum wd_err body_revoke(struct store_txn *t, struct cli *c)
{
    (void)c;
    return tokens_revoke(t, &tc.rv);
}

/*
 * --token-stdin: the token itself, from which the jti and exp are read (its
 * signature is not checked: a revocation can only take rights away), so that
 * the revocation ends when the token would have. *jti: owned.
 */
static int revoke_from_token(struct cli *c, char **jti, int64_t *until)
{
    char *b = wd_malloc(TOKEN_MAX + 2);
    if (!b)
        return cli_failed(c, "out of memory");
    size_t n = fread(b, 1, TOKEN_MAX + 2, stdin);
    while (n && (b[n - 1] == '\n' || b[n - 1] == '\r'))
        n--;
    struct token *t = NULL;
    enum token_reason why = TOKEN_OK;
    enum wd_err e = n && n <= TOKEN_MAX ? token_parse(b, n, &t, &why) : WD_EMALFORMED;
    explicit_bzero(b, TOKEN_MAX + 2);
    wd_free(b);
    if (e != WD_OK)
        return cli_failed(c, "the token on standard input does not parse: %s",
                          e == WD_EMALFORMED ? token_reason_str(why) : wd_strerror(e));
    int rc = 0;
    if (!t->jti || !t->has_exp)
        rc = cli_failed(c, "the token has no %s claim: it cannot be revoked by id",
                        !t->jti ? "jti" : "exp");
    else if (!(*jti = wd_strdup(t->jti)))
        rc = cli_failed(c, "out of memory");
    *until = t->has_exp ? t->exp : 0;
    token_free(t);
    return rc;
}

int cli_cmd_token_revoke(struct cli *c)
{
    int64_t now = (int64_t)time(NULL), until = 0;
    const char *u = c->opt[CLI_OPT_UNTIL];
    if (c->opt[CLI_OPT_TOKEN_STDIN]) {
        if (c->npos || u)
            return cli_usage_error(c, "--token-stdin takes no JTI and no --until (both come "
                                      "from the token)");
        char *jti = NULL;
        if (revoke_from_token(c, &jti, &until))
            return 1;
        if (until <= now) {
            wd_free(jti);
            return cli_failed(c, "the token has expired already: nothing to revoke");
        }
        tc.rv = (struct token_revoked){jti, until, now, c->actor};
        int rc = cli_run_write(c, body_revoke);
        char t[32];
        cli_fmt_time(until, t, sizeof t);
        if (!rc)
            rc = cli_done(c, "token %s revoked until its expiry (%s); sessions holding it end "
                          "within a second", jti, t);
        wd_free(jti);
        return rc ? 1 : 0;
    }
    if (c->npos != 1)
        return cli_usage_error(c, "give a JTI or --token-stdin");
    if (u) {
        int64_t d;
        if (cli_parse_duration(u, &d))
            until = now + d;
        else if (cli_parse_rfc3339(u, &d))
            until = d;
        else
            return cli_usage_error(c, "invalid --until '%.60s' (a duration such as 2h, or an "
                                      "RFC 3339 time)", u);
    }
    tc.rv = (struct token_revoked){(char *)c->pos[0], until, now, c->actor};
    if (cli_run_write(c, body_revoke))
        return 1;
    char when[48] = "for good";
    if (until) {
        char t[32];
        cli_fmt_time(until, t, sizeof t);
        snprintf(when, sizeof when, "until %s", t);
    }
    return cli_done(c, "token %s revoked %s; sessions holding it end within a second", c->pos[0],
                    when);
}

static enum wd_err body_revoked(struct store_txn *t, struct cli *c)
{
    (void)c;
    return tokens_revoked_list(t, (int64_t)time(NULL), &tc.revoked, &tc.nrevoked);
}

int cli_cmd_token_list_revoked(struct cli *c)
{
    if (cli_read_txn(c, body_revoked))
        return 1;
    int rc = 0;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < tc.nrevoked; i++) {
            json_t *o = json_pack("{s:s, s:s}", "jti", tc.revoked[i].jti, "actor",
                                  tc.revoked[i].actor);
            if (o) {
                json_object_set_new(o, "until", cli_json_time(tc.revoked[i].until));
                json_object_set_new(o, "created", cli_json_time(tc.revoked[i].created));
            }
            json_array_append_new(a, o);
        }
        rc = cli_emit_json(a);
    } else {
        struct cli_table t = {4, {"JTI", "UNTIL", "BY", "CREATED"}, NULL, 0, 0, 0};
        for (size_t i = 0; i < tc.nrevoked; i++) {
            char until[32] = "permanent", created[32];
            if (tc.revoked[i].until)
                cli_fmt_time(tc.revoked[i].until, until, sizeof until);
            cli_fmt_time(tc.revoked[i].created, created, sizeof created);
            cli_table_row(&t, tc.revoked[i].jti, until, tc.revoked[i].actor, created);
        }
        cli_table_print(&t, "");
        cli_table_free(&t);
    }
    for (size_t i = 0; i < tc.nrevoked; i++)
        backend_revoked_fini(&tc.revoked[i]);
    wd_free(tc.revoked);
    return rc;
}

/* ---------------------------------------------------------------- issuers */

static enum wd_err body_issuer_add(struct store_txn *t, struct cli *c)
{
    (void)c;
    return tokens_issuer_add(t, &tc.is);
}

#define CACHE_MAX 86400 /* --cache: at most a day */

/* `issuer add NAME --introspect URL ...`: checked here, the secret read last. */
static int introspect_issuer_add(struct cli *c)
{
    const char *url = c->opt[CLI_OPT_INTROSPECT], *cid = c->opt[CLI_OPT_CLIENT_ID];
    const char *ca = c->opt[CLI_OPT_CAFILE];
    if (c->opt[CLI_OPT_JWKS] || c->opt[CLI_OPT_HS256_STDIN] || c->opt[CLI_OPT_ED25519_PUBLIC])
        return cli_usage_error(c, "--introspect takes no keys (--jwks, --hs256-secret-stdin, "
                                  "--ed25519-public)");
    char host[INTROSPECT_HOST_MAX], path[INTROSPECT_PATH_MAX];
    uint16_t port;
    if (introspect_parse_url(url, host, &port, path) != WD_OK)
        return cli_usage_error(c, "invalid --introspect URL '%.200s' (https://HOST[:PORT]/PATH)",
                               url);
    if (!cid || !cid[0] || !users_valid_text(cid, 1024))
        return cli_usage_error(c, "--introspect needs --client-id ID (Warden's client id at "
                                  "the service)");
    if (!c->opt[CLI_OPT_SECRET_STDIN])
        return cli_usage_error(c, "--introspect needs --secret-stdin (the client secret)");
    int64_t cache = INTROSPECT_CACHE_DEFAULT;
    if (c->opt[CLI_OPT_CACHE] &&
        (!cli_parse_duration(c->opt[CLI_OPT_CACHE], &cache) || cache < 1 || cache > CACHE_MAX))
        return cli_usage_error(c, "invalid --cache '%.40s' (1s .. 1d, e.g. 30s, 5m)",
                               c->opt[CLI_OPT_CACHE]);
    char abs[PATH_MAX] = "";
    if (ca) {
        const char *err = "cannot open";
        size_t n;
        bool found = realpath(ca, abs) != NULL;
        char *text = found ? read_file(abs, 1 << 20, &n, &err) : NULL;
        bool read = text != NULL, pem = text && strstr(text, "-----BEGIN CERTIFICATE-----");
        wd_free(text);
        if (!pem)
            return cli_failed(c, "%s: %s", ca, read ? "no PEM certificate in it" : err);
    }
    struct token_issuer *is = &tc.is;
    *is = (struct token_issuer){.name = (char *)c->pos[0],
                                .iss = (char *)(c->opt[CLI_OPT_ISS] ? c->opt[CLI_OPT_ISS] : url),
                                .audience = (char *)(c->opt[CLI_OPT_AUDIENCE]
                                                         ? c->opt[CLI_OPT_AUDIENCE] : ""),
                                .kind = TOKEN_ISSUER_INTROSPECT, .path = abs,
                                .url = (char *)url, .client_id = (char *)cid,
                                .cache = (uint32_t)cache, .created = (int64_t)time(NULL)};
    is->updated = is->created;
    if (!strcmp(is->iss, TOKAUTH_SELF_ISS))
        return cli_failed(c, "iss '%s' is Warden's own issuer", TOKAUTH_SELF_ISS);
    if (!(is->mat = read_secret(&is->mat_len)))
        return cli_failed(c, "no secret on stdin (1..%d bytes)", TOKEN_HS256_KEY_MAX);
    int rc = cli_run_write(c, body_issuer_add);
    explicit_bzero(is->mat, is->mat_len);
    wd_free(is->mat);
    is->mat = NULL;
    if (rc == 0)
        rc = cli_done(c, "issuer %s added (introspection at %s, cache %llds)", is->name, url,
                      (long long)cache);
    return rc;
}

int cli_cmd_token_issuer_add(struct cli *c)
{
    if (c->opt[CLI_OPT_INTROSPECT])
        return introspect_issuer_add(c);
    if (c->opt[CLI_OPT_SECRET_STDIN] || c->opt[CLI_OPT_CACHE] || c->opt[CLI_OPT_CAFILE] ||
        c->opt[CLI_OPT_CLIENT_ID])
        return cli_usage_error(c, "--client-id, --secret-stdin, --cache and --cafile go with "
                                  "--introspect URL");
    const char *iss = c->opt[CLI_OPT_ISS], *jwks = c->opt[CLI_OPT_JWKS];
    const char *edpub = c->opt[CLI_OPT_ED25519_PUBLIC];
    bool hs = c->opt[CLI_OPT_HS256_STDIN] != NULL;
    if (!iss)
        return cli_usage_error(c, "--iss ISS is required");
    if (!!jwks + !!edpub + hs != 1)
        return cli_usage_error(c, "give exactly one of --jwks FILE, --hs256-secret-stdin, "
                                  "--ed25519-public FILE");
    if (!strcmp(iss, TOKAUTH_SELF_ISS))
        return cli_failed(c, "iss '%s' is Warden's own issuer", TOKAUTH_SELF_ISS);
    struct token_issuer *is = &tc.is;
    *is = (struct token_issuer){.name = (char *)c->pos[0], .iss = (char *)iss,
                                .audience = (char *)(c->opt[CLI_OPT_AUDIENCE]
                                                         ? c->opt[CLI_OPT_AUDIENCE] : ""),
                                .path = "", .created = (int64_t)time(NULL)};
    is->updated = is->created;
    const char *err = NULL;
    char abs[PATH_MAX];
    uint8_t pk[TOKEN_ED25519_PK];
    if (jwks) {
        if (!realpath(jwks, abs))
            return cli_failed(c, "%s: cannot open", jwks);
        is->kind = TOKEN_ISSUER_JWKS;
        is->path = abs;
        if (!(is->mat = (uint8_t *)read_file(abs, TOKEN_JWKS_MAX, &is->mat_len, &err)))
            return cli_failed(c, "%s: %s", jwks, err);
    } else if (edpub) {
        size_t n;
        char *text = read_file(edpub, 4096, &n, &err);
        if (!text)
            return cli_failed(c, "%s: %s", edpub, err);
        bool ok = ed25519_from_text(text, pk);
        wd_free(text);
        if (!ok)
            return cli_failed(c, "%s: not an Ed25519 public key (PEM, or the key in base64url)",
                              edpub);
        is->kind = TOKEN_ISSUER_ED25519;
        is->mat = pk;
        is->mat_len = sizeof pk;
    } else {
        is->kind = TOKEN_ISSUER_HS256;
        if (!(is->mat = read_secret(&is->mat_len)))
            return cli_failed(c, "no secret on stdin (1..%d bytes)", TOKEN_HS256_KEY_MAX);
    }
    struct token_keyset ks;
    token_keyset_init(&ks);
    char why[200];
    enum wd_err e = issuer_keyset(is, &ks, why, sizeof why);
    size_t nkeys = ks.n;
    token_keyset_fini(&ks);
    int rc;
    if (e != WD_OK)
        rc = cli_failed(c, "unusable keys: %s", why[0] ? why : wd_strerror(e));
    else if ((rc = cli_run_write(c, body_issuer_add)) == 0)
        rc = cli_done(c, "issuer %s added (iss %s, %s, %zu key%s)", is->name, is->iss,
                      kind_name(is->kind), nkeys, nkeys == 1 ? "" : "s");
    if (is->mat != pk) {
        explicit_bzero(is->mat, is->mat_len);
        wd_free(is->mat);
    }
    explicit_bzero(pk, sizeof pk);
    return rc;
}

static enum wd_err body_issuer_del(struct store_txn *t, struct cli *c)
{
    return tokens_issuer_del(t, c->pos[0]);
}

int cli_cmd_token_issuer_del(struct cli *c)
{
    if (cli_run_write(c, body_issuer_del))
        return 1;
    return cli_done(c, "issuer %s deleted; its tokens are refused from now on", c->pos[0]);
}

static enum wd_err body_issuers(struct store_txn *t, struct cli *c)
{
    (void)c;
    return tokens_issuers_list(t, &tc.list, &tc.nlist);
}

static enum wd_err body_issuer_get(struct store_txn *t, struct cli *c)
{
    tc.list = wd_calloc(1, sizeof *tc.list);
    if (!tc.list)
        return WD_ENOMEM;
    enum wd_err e = tokens_issuer_get(t, c->pos[0], tc.list);
    tc.nlist = e == WD_OK;
    return e;
}

static void free_list(void)
{
    for (size_t i = 0; i < tc.nlist; i++)
        backend_issuer_fini(&tc.list[i]);
    wd_free(tc.list);
    tc.list = NULL;
    tc.nlist = 0;
}

/* One issuer as JSON, with its keys (kid and alg; never key material). */
static json_t *issuer_json(const struct token_issuer *is)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", is->name, "iss", is->iss,
                          "audience", is->audience, "kind", kind_name(is->kind), "path", is->path);
    json_t *keys = json_array();
    struct token_keyset ks;
    token_keyset_init(&ks);
    char why[200];
    if (issuer_keyset(is, &ks, why, sizeof why) == WD_OK)
        for (size_t i = 0; keys && i < ks.n; i++)
            json_array_append_new(keys, json_pack("{s:s?, s:s}", "kid", ks.keys[i].kid, "alg",
                                                  token_alg_name(ks.keys[i].alg)));
    token_keyset_fini(&ks);
    if (o && is->kind == TOKEN_ISSUER_INTROSPECT) {
        /* Never the client secret. */
        json_object_set_new(o, "introspect", json_string(is->url));
        json_object_set_new(o, "client_id", json_string(is->client_id));
        json_object_set_new(o, "cache", json_integer(is->cache));
        json_object_set_new(o, "cafile", json_string(is->path[0] ? is->path : "system"));
    }
    if (o) {
        json_object_set_new(o, "keys", keys);
        json_object_set_new(o, "created", cli_json_time(is->created));
        json_object_set_new(o, "updated", cli_json_time(is->updated));
    } else {
        json_decref(keys);
    }
    return o;
}

int cli_cmd_token_issuer_list(struct cli *c)
{
    if (cli_read_txn(c, body_issuers))
        return 1;
    int rc = 0;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < tc.nlist; i++)
            json_array_append_new(a, issuer_json(&tc.list[i]));
        rc = cli_emit_json(a);
    } else {
        struct cli_table t = {4, {"NAME", "ISS", "KEYS", "AUDIENCE"}, NULL, 0, 0, 0};
        for (size_t i = 0; i < tc.nlist; i++)
            cli_table_row(&t, tc.list[i].name, tc.list[i].iss, kind_name(tc.list[i].kind),
                          tc.list[i].audience[0] ? tc.list[i].audience : "-");
        cli_table_print(&t, "");
        cli_table_free(&t);
    }
    free_list();
    return rc;
}

int cli_cmd_token_issuer_show(struct cli *c)
{
    if (cli_read_txn(c, body_issuer_get))
        return 1;
    json_t *o = issuer_json(&tc.list[0]);
    int rc = 0;
    if (c->json) {
        rc = cli_emit_json(o);
    } else if (!o) {
        rc = cli_failed(c, "out of memory");
    } else {
        const struct token_issuer *is = &tc.list[0];
        char created[32], updated[32];
        cli_fmt_time(is->created, created, sizeof created);
        cli_fmt_time(is->updated, updated, sizeof updated);
        if (is->kind == TOKEN_ISSUER_INTROSPECT)
            printf("issuer:    %s\niss:       %s\naudience:  %s\nintrospect: %s\n"
                   "client id: %s\nsecret:    (stored, not shown)\ncache:     %us\n"
                   "cafile:    %s\ncreated:   %s\n", is->name, is->iss,
                   is->audience[0] ? is->audience : "-", is->url, is->client_id, is->cache,
                   is->path[0] ? is->path : "system CAs", created);
        else
            printf("issuer:   %s\niss:      %s\naudience: %s\nkeys:     %s%s%s\ncreated:  %s\n"
                   "updated:  %s\n", is->name, is->iss, is->audience[0] ? is->audience : "-",
                   kind_name(is->kind), is->path[0] ? " from " : "", is->path, created, updated);
        json_t *keys = json_object_get(o, "keys");
        size_t i;
        json_t *k;
        json_array_foreach(keys, i, k) {
            const char *kid = json_string_value(json_object_get(k, "kid"));
            printf("  key %zu: %s kid %s\n", i + 1,
                   json_string_value(json_object_get(k, "alg")), kid ? kid : "(none)");
        }
        json_decref(o);
    }
    free_list();
    return rc;
}

static enum wd_err body_issuer_reload(struct store_txn *t, struct cli *c)
{
    struct token_issuer old;
    enum wd_err e = tokens_issuer_get(t, c->pos[0], &old);
    if (e != WD_OK)
        return e;
    if (old.kind != TOKEN_ISSUER_JWKS || !old.path[0]) {
        backend_issuer_fini(&old);
        return store_txn_fail(t, WD_EINVAL, "issuer '%.100s' has no JWKS file to re-read",
                              c->pos[0]);
    }
    const char *err = NULL;
    size_t len;
    uint8_t *mat = (uint8_t *)read_file(old.path, TOKEN_JWKS_MAX, &len, &err);
    if (!mat) {
        e = store_txn_fail(t, WD_EIO, "%.200s: %s", old.path, err);
        backend_issuer_fini(&old);
        return e;
    }
    struct token_keyset ks;
    token_keyset_init(&ks);
    char why[200] = "";
    e = token_jwks_load(&ks, (const char *)mat, len, NULL, why, sizeof why);
    c->count = ks.n;
    token_keyset_fini(&ks);
    if (e != WD_OK) {
        store_txn_fail(t, WD_EINVAL, "%.200s: unusable keys: %.200s (the stored keys stay)",
                       old.path, why[0] ? why : wd_strerror(e));
        wd_free(mat);
        backend_issuer_fini(&old);
        return WD_EINVAL;
    }
    wd_free(old.mat);
    old.mat = mat;
    old.mat_len = len;
    old.updated = (int64_t)time(NULL);
    e = tokens_issuer_put(t, &old);
    backend_issuer_fini(&old);
    return e;
}

int cli_cmd_token_issuer_reload(struct cli *c)
{
    if (cli_run_write(c, body_issuer_reload))
        return 1;
    return cli_done(c, "issuer %s reloaded (%zu key%s)", c->pos[0], c->count,
                    c->count == 1 ? "" : "s");
}
