/*
 * oauth.c - the token endpoint. A request goes: parse and check the form
 * (broker thread, cheap) -> the client's password through auth_password()
 * (brute-force counters, credential cache, Argon2id on a worker) -> its
 * scope against the user's rules (pure) -> the signing key from the store
 * and the signature (a worker) -> the JSON answer. The connection may go
 * away at any step: the request state then waits for its worker job to come
 * back before it is freed (struct oreq.in_worker).
 */
#include "oauth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "auth.h"
#include "backend.h"
#include "broker.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "oauth_form.h"
#include "perms.h"
#include "tokauth.h"
#include "token.h"
#include "worker.h"

#define FORM_MAX 4096          /* an urlencoded value, decoded */
#define CRED_MAX OAUTH_CRED_MAX

struct oreq {
    struct worker_job w;
    struct http_conn *c;       /* NULL once the connection went away */
    struct broker *b;
    const struct backend_ops *ops;
    struct auth_ticket *ticket;
    bool in_worker;            /* the worker job owns the memory until it is back */
    bool jwks;                 /* the job builds the key set, not a token */
    char *user;                /* owned */
    char *scope;               /* owned; NULL = none requested */
    uint32_t ttl;
    char *answer;              /* owned, out of the worker: the JSON to send */
    int status;
};

static void oreq_free(struct oreq *q)
{
    wd_free(q->user);
    wd_free(q->scope);
    wd_free(q->answer);
    wd_free(q);
}

/* http_set_pending callbacks: the connection ended before the answer. */
static void oreq_cancel(void *st)
{
    struct oreq *q = st;
    auth_cancel(q->ticket);
    q->ticket = NULL;
    q->c = NULL;
}

static void oreq_release(void *st)
{
    struct oreq *q = st;
    if (!q->in_worker)
        oreq_free(q);
}

/* Answer and forget q. */
static void finish(struct oreq *q, int status, const char *headers, const char *json)
{
    struct http_conn *c = q->c;
    if (c) {
        http_set_pending(c, NULL, NULL, NULL);
        http_respond(c, status, headers, json);
    }
    oreq_free(q);
}

static void error_answer(struct http_conn *c, int status, const char *error, const char *desc)
{
    char body[300];
    snprintf(body, sizeof body, "{\"error\":\"%s\",\"error_description\":\"%s\"}", error, desc);
    http_respond(c, status, status == 401 ? "WWW-Authenticate: Basic realm=\"warden\"\r\n" : NULL,
                 body);
}

/* ---- scope against the user's rules ---- */

/*
 * May p's rules do `action` on every topic filter f can match? The answer of
 * a subscribe check, with each rule's actions narrowed to `action`: an allow
 * rule must cover f and no earlier deny rule may overlap it.
 */
static bool covers(const struct perms *p, const struct acl_subject *who, unsigned action,
                   const char *f)
{
    size_t total = 0;
    for (size_t i = 0; i < p->n; i++)
        total += p->lists[i].n;
    struct rule *rules = wd_calloc(total ? total : 1, sizeof *rules);
    struct acl_list *lists = wd_calloc(p->n ? p->n : 1, sizeof *lists);
    bool ok = false;
    if (rules && lists) {
        size_t k = 0;
        for (size_t i = 0; i < p->n; i++) {
            lists[i] = (struct acl_list){.name = p->lists[i].name, .rules = rules + k};
            for (size_t j = 0; j < p->lists[i].n; j++) {
                const struct rule *r = &p->lists[i].rules[j];
                if (!(r->actions & action))
                    continue;
                rules[k] = *r;
                rules[k].actions = RULE_SUBSCRIBE;
                rules[k].max_qos = 2;
                k++;
                lists[i].n++;
            }
        }
        ok = acl_eval(lists, p->n, who, RULE_SUBSCRIBE, f, strlen(f), 0, false, NULL, NULL) ==
             ACL_ALLOW;
    }
    wd_free(rules);
    wd_free(lists);
    return ok;
}

bool oauth_scope_allowed(const struct perms *p, const char *user, const char *scope, char *why,
                         size_t n)
{
    struct token_grant *g = NULL;
    size_t ng = 0, unknown = 0;
    enum token_reason tr;
    if (token_scope_parse(scope, &g, &ng, &unknown, &tr) != WD_OK) {
        snprintf(why, n, "malformed scope");
        return false;
    }
    bool ok = unknown == 0;
    if (!ok)
        snprintf(why, n, "only mqtt:pub:, mqtt:sub: and mqtt:rw: scopes are issued");
    struct acl_subject who = {.user = user};
    static const unsigned actions[] = {RULE_PUBLISH, RULE_SUBSCRIBE, RULE_RECEIVE};
    for (size_t i = 0; ok && i < ng; i++) {
        char f[1024];
        size_t flen;
        if (!acl_substitute(g[i].filter, &who, f, sizeof f, &flen)) {
            snprintf(why, n, "a scope filter uses %%c or %%cn, unknown before connecting");
            ok = false;
            break;
        }
        for (size_t k = 0; ok && k < 3; k++) {
            if ((g[i].actions & actions[k]) && !(p && covers(p, &who, actions[k], f))) {
                snprintf(why, n, "the client may not %s every topic of '%.200s'",
                         perms_action_name(actions[k]), f);
                ok = false;
            }
        }
    }
    token_grants_free(g, ng);
    return ok;
}

/* ---- the worker job: key from the store, then a signature or the key set ---- */

static char *dup_json(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    char *out = s ? wd_strdup(s) : NULL;
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
    json_decref(o);
    return out;
}

static char *token_json(const struct oreq *q, const struct token_signing *k)
{
    char *tok = NULL;
    char jti[33];
    if (tokauth_issue(k, TOKEN_EDDSA, q->user, NULL, q->scope, q->ttl, (int64_t)broker_wall(),
                      &tok, jti) != WD_OK)
        return NULL;
    json_t *a = json_pack("{s:s, s:s, s:I}", "access_token", tok, "token_type", "Bearer",
                          "expires_in", (json_int_t)q->ttl);
    if (a && q->scope)
        json_object_set_new(a, "scope", json_string(q->scope));
    sodium_memzero(tok, strlen(tok));
    wd_free(tok);
    return dup_json(a);
}

static void job_run(struct worker_job *w)
{
    struct oreq *q = container_of(w, struct oreq, w);
    struct token_signing k;
    q->status = 500;
    enum wd_err e = tokauth_signing_keys(q->ops, &k);
    if (e != WD_OK) {
        log_error("oauth: cannot read the signing keys: %s", wd_strerror(e));
        return;
    }
    q->answer = q->jwks ? dup_json(tokauth_public_jwks(&k)) : token_json(q, &k);
    sodium_memzero(&k, sizeof k);
    if (q->answer)
        q->status = 200;
}

static void job_done(struct worker_job *w)
{
    struct oreq *q = container_of(w, struct oreq, w);
    q->in_worker = false;
    if (q->status == 200 && !q->jwks) {
        log_notice("oauth: token issued to %s%s%s (expires in %u s)", q->user,
                   q->scope ? " scope=" : "", q->scope ? q->scope : "", q->ttl);
        auth_audit(q->b->auth, "oauth.token", q->user, "ok");
    }
    if (q->status == 200)
        finish(q, 200, NULL, q->answer);
    else
        finish(q, 500, NULL, "{\"error\":\"server_error\"}");
}

static void submit(struct oreq *q)
{
    q->w.run = job_run;
    q->w.done = job_done;
    q->in_worker = true;
    if (auth_submit(q->b->auth, &q->w) != WD_OK) {
        q->in_worker = false;
        finish(q, 503, "Retry-After: 1\r\n",
               "{\"error\":\"temporarily_unavailable\",\"error_description\":\"busy\"}");
    }
}

/* The client is who it says: check the scope, then sign. Takes: p. */
static void authenticated(struct oreq *q, struct perms *p)
{
    char why[300];
    if (q->scope && !oauth_scope_allowed(p, q->user, q->scope, why, sizeof why)) {
        perms_unref(p);
        log_info("oauth: %s asked for scope '%s': refused: %s", q->user, q->scope, why);
        auth_audit(q->b->auth, "oauth.token", q->user, "invalid_scope");
        char body[400];
        json_t *o = json_pack("{s:s, s:s}", "error", "invalid_scope", "error_description", why);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        snprintf(body, sizeof body, "%s", s ? s : "{\"error\":\"invalid_scope\"}");
        free(s);
        json_decref(o);
        finish(q, 400, NULL, body);
        return;
    }
    perms_unref(p);
    submit(q);
}

static void refused(struct oreq *q, enum auth_refusal r)
{
    log_info("oauth: client authentication of %s failed: %s", q->user, auth_refusal_text(r));
    if (r == AR_BUSY)
        finish(q, 503, "Retry-After: 1\r\n",
               "{\"error\":\"temporarily_unavailable\",\"error_description\":\"busy\"}");
    else
        finish(q, 401, "WWW-Authenticate: Basic realm=\"warden\"\r\n",
               "{\"error\":\"invalid_client\","
               "\"error_description\":\"client authentication failed\"}");
}

static void password_done(void *ctx, enum auth_refusal r, struct perms *p)
{
    struct oreq *q = ctx;
    q->ticket = NULL;
    if (r != AR_NONE) {
        perms_unref(p);
        refused(q, r);
        return;
    }
    authenticated(q, p);
}

static void token_endpoint(struct http_conn *c, const struct http_request *r)
{
    struct broker *b = http_broker(c);
    if (r->method != HTTP_M_POST) {
        http_respond(c, 405, "Allow: POST\r\n",
                     "{\"error\":\"invalid_request\",\"error_description\":\"use POST\"}");
        return;
    }
    const char *ct = r->content_type;
    size_t ctn = ct ? strcspn(ct, "; ") : 0;
    if (!ct || ctn != strlen("application/x-www-form-urlencoded") ||
        strncasecmp(ct, "application/x-www-form-urlencoded", ctn)) {
        error_answer(c, 400, "invalid_request",
                     "the body must be application/x-www-form-urlencoded");
        return;
    }
    char grant[64];
    char *scope = wd_malloc(FORM_MAX);
    bool have_scope;
    if (!scope) {
        error_answer(c, 500, "server_error", "out of memory");
        return;
    }
    const char *bad =
        oauth_parse_form(r->body, r->bodylen, grant, sizeof grant, scope, FORM_MAX, &have_scope);
    if (bad) {
        wd_free(scope);
        error_answer(c, 400, "invalid_request", bad);
        return;
    }
    if (strcmp(grant, "client_credentials")) {
        wd_free(scope);
        error_answer(c, 400, "unsupported_grant_type", "only client_credentials is supported");
        return;
    }
    char id[CRED_MAX], secret[CRED_MAX];
    if (!oauth_parse_basic(r->authorization, id, secret)) {
        wd_free(scope);
        sodium_memzero(secret, sizeof secret);
        error_answer(c, 401, "invalid_client", "HTTP Basic client authentication required");
        return;
    }
    struct oreq *q = wd_calloc(1, sizeof *q);
    if (!q || !(q->user = wd_strdup(id))) {
        wd_free(q);
        wd_free(scope);
        sodium_memzero(secret, sizeof secret);
        error_answer(c, 500, "server_error", "out of memory");
        return;
    }
    q->c = c;
    q->b = b;
    q->ops = auth_backend(b->auth);
    q->ttl = b->cfg.oauth_token_ttl;
    q->scope = have_scope && scope[0] ? scope : NULL;
    if (!q->scope)
        wd_free(scope);
    if (!q->ops) {
        sodium_memzero(secret, sizeof secret);
        finish(q, 503, NULL, "{\"error\":\"temporarily_unavailable\"}");
        return;
    }
    http_set_pending(c, q, oreq_cancel, oreq_release);
    struct perms *p = NULL;
    enum auth_refusal ar = auth_password(b->auth, r->ip, "oauth2", id, strlen(id), secret,
                                         strlen(secret), password_done, q, &q->ticket, &p);
    sodium_memzero(secret, sizeof secret);
    if (ar != AR_NONE)
        refused(q, ar);
    else if (!q->ticket)
        authenticated(q, p);
}

static void jwks_endpoint(struct http_conn *c, const struct http_request *r)
{
    struct broker *b = http_broker(c);
    if (r->method != HTTP_M_GET) {
        http_respond(c, 405, "Allow: GET\r\n",
                     "{\"error\":\"invalid_request\",\"error_description\":\"use GET\"}");
        return;
    }
    struct oreq *q = wd_calloc(1, sizeof *q);
    if (!q) {
        error_answer(c, 500, "server_error", "out of memory");
        return;
    }
    q->c = c;
    q->b = b;
    q->jwks = true;
    q->ops = auth_backend(b->auth);
    if (!q->ops) {
        finish(q, 503, NULL, "{\"error\":\"temporarily_unavailable\"}");
        return;
    }
    http_set_pending(c, q, oreq_cancel, oreq_release);
    submit(q);
}

void oauth_request(struct http_conn *c, const struct http_request *r)
{
    if (!strcmp(r->path, "/oauth2/token"))
        token_endpoint(c, r);
    else if (!strcmp(r->path, "/.well-known/jwks.json"))
        jwks_endpoint(c, r);
    else
        error_answer(c, 404, "not_found", "no such endpoint");
}
