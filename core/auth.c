/*
 * auth.c - the connect pipeline's identity checks (see auth.h).
 *
 * State on the broker thread: caches of bans and client-id bindings from the
 * store (replaced wholesale by a refresh job when the generation counter
 * moves), a cache of verified credentials keyed by a keyed hash of user name
 * and password, and failure counters per address, user name and client id in
 * a fixed-size table (old entries are evicted: an attacker cannot grow it).
 * The workers do every store lookup and every hash.
 */
#include "auth.h"

#include <arpa/inet.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "certpol.h"
#include "conn.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"
#include "pw.h"
#include "session.h"
#include "tls.h"
#include "tokauth.h"
#include "worker.h"

#define COUNTERS 4096          /* failure/limit counter slots (power of two) */
#define CREDS 4096             /* verified-credential cache slots (power of two) */
#define PROBE 16               /* open-addressing probe window */
#define DELAY_BASE_MS 250      /* first back-off step */
#define DELAY_MAX_MS 8000      /* back-off cap */
#define LOGIN_STAMP_EVERY 60   /* seconds between last-login writes per user (flash wear) */

static const struct {
    uint8_t v5, v3;
    const char *text;
} refusals[AR_COUNT] = {
    [AR_NONE] = {0x00, 0, "accepted"},
    [AR_BANNED] = {0x8A, 5, "banned"},
    [AR_ID_REJECTED] = {0x85, 2, "client identifier not valid"},
    [AR_BAD_CREDENTIALS] = {0x86, 4, "bad user name or password"},
    [AR_NOT_AUTHORIZED] = {0x87, 5, "not authorized"},
    [AR_BUSY] = {0x89, 3, "server busy"},
    [AR_BAD_METHOD] = {0x8C, 5, "bad authentication method"},
    [AR_UNAVAILABLE] = {0x88, 3, "server unavailable"},
};

uint8_t auth_reason(enum auth_refusal r, uint8_t version)
{
    return version == 5 ? refusals[r].v5 : refusals[r].v3;
}

const char *auth_refusal_text(enum auth_refusal r)
{
    return refusals[r].text;
}

const char *auth_method_name(enum auth_method m)
{
    static const char *const names[] = {"none", "anonymous", "password", "certificate", "token"};
    return names[m];
}

/* A failure or rate counter. */
struct counter {
    uint64_t hash;             /* 0 = free slot */
    char key[80];              /* "a:IP", "u:USER", "c:CLIENTID", "n:IP" */
    uint32_t count;
    uint64_t since_ms;         /* window start */
    uint64_t banned_until_ms;  /* a brute-force ban we wrote: refuse until the store says so */
};

/* A verified credential. */
struct cred {
    uint8_t key[32];           /* pw_cache_key(user, password) */
    uint64_t expires_ms;       /* 0 = free slot */
    uint64_t gen;              /* store generation it was verified at */
    struct perms *perms;       /* holds a reference: the user's permissions then */
};

struct ban_c {
    struct ban b;              /* owned copy */
    int family;                /* BAN_ADDRESS: AF_INET or AF_INET6 */
    uint8_t net[16];
    unsigned prefix;
};

struct bind_c {
    struct binding b;          /* owned copy */
    regex_t re;                /* BIND_REGEX, compiled */
    bool re_ok;
};

#define GONE_DISABLED 1
#define GONE_MISSING 2

struct refresh_job {
    struct worker_job w;
    struct auth *a;
    uint64_t seen;             /* generation the broker has */
    uint64_t gen;              /* out */
    bool changed;              /* out: caches below are new */
    enum wd_err err;
    struct ban_c *bans;
    size_t nbans;
    struct bind_c *binds;
    size_t nbinds;
    char **users;              /* in: identities of live sessions */
    uint8_t *gone;             /* out: 0 still there, GONE_DISABLED, GONE_MISSING */
    struct perms **perms;      /* out: their permissions now (owned references) */
    size_t nusers;
    struct perms *anon;        /* out: anonymous clients' permissions */
    struct certpol *certs;     /* out: revoked certificates and pins */
    char **jtis;               /* in: token ids of live token sessions */
    bool *revoked;             /* out: revoked now */
    size_t njtis;
};

struct auth_ticket {
    struct worker_job w;
    struct auth *a;
    auth_done_fn done;
    void *ctx;
    bool cancelled;            /* the connection went away */
    bool submitted;
    struct loop_timer delay;   /* brute-force back-off before the hash */
    char ip[64];
    char cid[80];
    char *user;                /* owned */
    char *pw;                  /* owned, wiped; NULL: a certificate identity */
    bool require_user;         /* cert_requires_user: the identity must be a user */
    bool have_fp;              /* a certificate identity: fp is its certificate */
    uint8_t fp[CERT_FP_LEN];
    bool token;                /* pw is an access token (tokauth_check) */
    struct tokauth *tok;       /* out of the worker: the verified token */
    char why[160];             /* out of the worker: a token's refusal reason */
    size_t plen;
    uint8_t key[32];           /* credential cache key */
    enum auth_refusal result;  /* out of the worker */
    struct perms *perms;       /* out of the worker: the identity's permissions */
    struct auth_ticket *next;  /* live tickets (for auth_free) */
};

struct auth {
    struct broker *b;
    struct backend_ops ops;
    bool have_store;
    struct worker_pool *pool;
    char dummy[PW_HASH_MAX];   /* verified against for unknown users: same time, same answer */
    bool have_dummy;
    uint64_t gen;
    struct ban_c *bans;
    size_t nbans;
    struct bind_c *binds;
    size_t nbinds;
    struct counter counters[COUNTERS];
    struct cred creds[CREDS];
    struct loop_timer poll;
    bool refreshing;
    struct auth_ticket *tickets;
    struct perms *anon;        /* anonymous clients' permissions (holds a reference) */
    struct certpol *certs;     /* owned: revoked certificates and pins, as of the last refresh */
    struct certpol_seen seen;  /* certificates whose sighting was written lately */
};

enum wd_err auth_submit(struct auth *a, struct worker_job *j)
{
    return worker_submit(a->pool, j);
}

const struct backend_ops *auth_backend(const struct auth *a)
{
    return a->have_store ? &a->ops : NULL;
}

struct perms *auth_anonymous_perms(struct auth *a)
{
    return a->anon;
}

static uint64_t now_ms(const struct auth *a)
{
    return loop_now_ms(a->b->loop);
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

/* ---- counters ---- */

/* The counter for key, created if absent (evicting the stalest in its window). */
static struct counter *counter_get(struct auth *a, const char *prefix, const char *v, size_t vlen)
{
    /* "a:1.2.3.4": the prefix, then at most 70 bytes of the value (no printf: this runs
     * for every new connection). */
    char key[80];
    size_t plen = strlen(prefix), k = vlen < 70 ? vlen : 70;
    memcpy(key, prefix, plen);
    memcpy(key + plen, v, k);
    size_t n = plen + k;
    key[n] = '\0';
    uint64_t h = fnv(key, n);
    struct counter *victim = NULL;
    for (unsigned i = 0; i < PROBE; i++) {
        struct counter *c = &a->counters[(h + i) & (COUNTERS - 1)];
        if (c->hash == h && strcmp(c->key, key) == 0)
            return c;
        if (!c->hash) {
            victim = c;
            break;
        }
        if (!victim || c->since_ms < victim->since_ms)
            victim = c;
    }
    memset(victim, 0, sizeof *victim);
    victim->hash = h;
    memcpy(victim->key, key, n + 1);
    victim->since_ms = now_ms(a);
    return victim;
}

/* Failures in the current window (the window restarts when it has passed). */
static uint32_t failures(struct auth *a, struct counter *c)
{
    uint64_t window = (uint64_t)a->b->cfg.auth_fail_window * 1000;
    if (now_ms(a) - c->since_ms > window) {
        c->count = 0;
        c->since_ms = now_ms(a);
    }
    return c->count;
}

/* ---- the credential cache ---- */

static struct cred *cred_find(struct auth *a, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    for (unsigned i = 0; i < PROBE; i++) {
        struct cred *c = &a->creds[(h + i) & (CREDS - 1)];
        if (c->expires_ms && memcmp(c->key, key, 32) == 0)
            return c;
    }
    return NULL;
}

static void creds_clear(struct auth *a)
{
    for (size_t i = 0; i < CREDS; i++)
        perms_unref(a->creds[i].perms);
    memset(a->creds, 0, sizeof a->creds);
}

static void cred_put(struct auth *a, const uint8_t key[32], struct perms *perms)
{
    if (!a->b->cfg.auth_cache_seconds)
        return;
    uint64_t h;
    memcpy(&h, key, sizeof h);
    struct cred *victim = NULL;
    for (unsigned i = 0; i < PROBE; i++) {
        struct cred *c = &a->creds[(h + i) & (CREDS - 1)];
        if (!c->expires_ms || memcmp(c->key, key, 32) == 0) {
            victim = c;
            break;
        }
        if (!victim || c->expires_ms < victim->expires_ms)
            victim = c;
    }
    perms_unref(victim->perms);
    memcpy(victim->key, key, 32);
    victim->expires_ms = now_ms(a) + (uint64_t)a->b->cfg.auth_cache_seconds * 1000;
    victim->gen = a->gen;
    victim->perms = perms_ref(perms);
}

/* ---- caches from the store ---- */

static bool parse_cidr(const char *s, int *family, uint8_t net[16], unsigned *prefix)
{
    char host[64];
    const char *slash = strchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    if (hl >= sizeof host)
        return false;
    memcpy(host, s, hl);
    host[hl] = '\0';
    memset(net, 0, 16);
    if (inet_pton(AF_INET, host, net) == 1)
        *family = AF_INET, *prefix = 32;
    else if (inet_pton(AF_INET6, host, net) == 1)
        *family = AF_INET6, *prefix = 128;
    else
        return false;
    if (slash) {
        char *end;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (*end || p > *prefix)
            return false;
        *prefix = (unsigned)p;
    }
    return true;
}

static bool cidr_contains(const struct ban_c *bc, const char *ip)
{
    uint8_t addr[16] = {0};
    int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
    if (fam != bc->family || inet_pton(fam, ip, addr) != 1)
        return false;
    unsigned full = bc->prefix / 8, rest = bc->prefix % 8;
    if (memcmp(addr, bc->net, full) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (addr[full] & mask) == (bc->net[full] & mask);
}

static void bans_free(struct ban_c *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        backend_ban_fini(&v[i].b);
    wd_free(v);
}

static void binds_free(struct bind_c *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].re_ok)
            regfree(&v[i].re);
        backend_binding_fini(&v[i].b);
    }
    wd_free(v);
}

static const struct ban_c *find_ban(const struct auth *a, enum ban_kind kind, const char *v,
                                    size_t len)
{
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < a->nbans; i++) {
        const struct ban_c *bc = &a->bans[i];
        if (bc->b.kind != kind || (bc->b.until && bc->b.until <= now))
            continue;
        if (kind == BAN_ADDRESS ? cidr_contains(bc, v)
                                : strlen(bc->b.value) == len && memcmp(bc->b.value, v, len) == 0)
            return bc;
    }
    return NULL;
}

bool auth_identity_banned(const struct auth *a, const char *user, const char *cid,
                          const char *ip)
{
    return (ip && find_ban(a, BAN_ADDRESS, ip, strlen(ip))) ||
           (cid && find_ban(a, BAN_CLIENT, cid, strlen(cid))) ||
           (user && find_ban(a, BAN_USER, user, strlen(user)));
}

uint64_t auth_generation(const struct auth *a)
{
    return a->gen;
}

/* ---- refresh: on a worker, then applied on the broker thread ---- */

static void refresh_run(struct worker_job *w)
{
    struct refresh_job *j = container_of(w, struct refresh_job, w);
    const struct backend_ops *ops = &j->a->ops;
    j->err = ops->generation(ops->ctx, &j->gen);
    if (j->err || j->gen == j->seen)
        return;
    struct ban *bans = NULL;
    struct binding *binds = NULL;
    size_t nb = 0, nbd = 0;
    if ((j->err = ops->bans_list(ops->ctx, &bans, &nb)) != WD_OK)
        return;
    if ((j->err = ops->bindings_list(ops->ctx, &binds, &nbd)) != WD_OK) {
        backend_bans_free(bans, nb);
        return;
    }
    j->bans = wd_calloc(nb ? nb : 1, sizeof *j->bans);
    j->binds = wd_calloc(nbd ? nbd : 1, sizeof *j->binds);
    if (!j->bans || !j->binds) {
        wd_free(j->bans);
        wd_free(j->binds);
        j->bans = NULL;
        j->binds = NULL;
        backend_bans_free(bans, nb);
        backend_bindings_free(binds, nbd);
        j->err = WD_ENOMEM;
        return;
    }
    for (size_t i = 0; i < nb; i++) {
        j->bans[i].b = bans[i]; /* moves ownership */
        if (bans[i].kind == BAN_ADDRESS &&
            !parse_cidr(bans[i].value, &j->bans[i].family, j->bans[i].net, &j->bans[i].prefix))
            j->bans[i].family = -1;
    }
    wd_free(bans);
    j->nbans = nb;
    for (size_t i = 0; i < nbd; i++) {
        j->binds[i].b = binds[i];
        if (binds[i].kind == BIND_REGEX) {
            char anchored[600];
            snprintf(anchored, sizeof anchored, "^(%s)$", binds[i].pattern);
            j->binds[i].re_ok = regcomp(&j->binds[i].re, anchored, REG_EXTENDED | REG_NOSUB) == 0;
        }
    }
    wd_free(binds);
    j->nbinds = nbd;
    /* Live identities: still there and enabled? With which permissions now? */
    for (size_t i = 0; i < j->nusers; i++) {
        struct user *u = NULL;
        enum wd_err e = ops->user_get(ops->ctx, j->users[i], &u);
        j->gone[i] = e == WD_ENOTFOUND ? GONE_MISSING : e == WD_OK && !u->enabled ? GONE_DISABLED : 0;
        backend_user_free(u);
        /* A missing user may be a certificate identity: it keeps `default`'s rules. */
        if (j->gone[i] != GONE_DISABLED && !(j->perms[i] = perms_load(ops, j->users[i], &e)))
            log_warning("store refresh: permissions of %s: %s", j->users[i], wd_strerror(e));
    }
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < j->njtis; i++)
        if (ops->token_revoked(ops->ctx, j->jtis[i], now, &j->revoked[i]) != WD_OK)
            j->revoked[i] = false; /* unknown: keep the session; asked again next change */
    enum wd_err e;
    if ((e = certpol_load(ops, &j->certs)) != WD_OK)
        log_warning("store refresh: certificate revocations and pins: %s", wd_strerror(e));
    if (!(j->anon = perms_load(ops, NULL, &e)))
        log_warning("store refresh: anonymous permissions: %s", wd_strerror(e));
    j->changed = true;
}

static void refresh_free(struct refresh_job *j)
{
    bans_free(j->bans, j->nbans);
    binds_free(j->binds, j->nbinds);
    for (size_t i = 0; i < j->nusers; i++) {
        wd_free(j->users[i]);
        if (j->perms)
            perms_unref(j->perms[i]);
    }
    wd_free(j->users);
    for (size_t i = 0; i < j->njtis; i++)
        wd_free(j->jtis[i]);
    wd_free(j->jtis);
    wd_free(j->revoked);
    wd_free(j->gone);
    wd_free(j->perms);
    perms_unref(j->anon);
    certpol_free(j->certs);
    wd_free(j);
}

/*
 * Offline persistent sessions get their identity's permissions as they are
 * now too, so that what they queue, and what they are sent when they come
 * back, follows the rules of today (session_pump asks again per message).
 * A disabled identity's session queues nothing more.
 */
static void refresh_offline(struct auth *a, const struct refresh_job *j)
{
    struct broker *b = a->b;
    for (size_t k = 0; k < b->sess_nbuckets; k++) {
        for (struct session *s = b->sess_buckets[k]; s; s = s->hnext) {
            if (s->conn)
                continue;
            size_t i = 0;
            while (s->username && i < j->nusers && strcmp(j->users[i], s->username) != 0)
                i++;
            if (!s->username) {
                if (a->anon)
                    session_set_perms(s, a->anon, s->default_allow);
            } else if (i < j->nusers && j->gone[i] == GONE_DISABLED) {
                session_set_perms(s, NULL, false);
            } else if (i < j->nusers && j->perms[i] && s->perms && s->perms->scoped) {
                /* Held by a token with a scope: the scope still narrows the rules of now. */
                struct perms *p = perms_scoped(s->perms->scope_only ? NULL : j->perms[i],
                                               s->perms->scope.rules, s->perms->scope.n);
                if (p)
                    session_set_perms(s, p, false);
                perms_unref(p);
            } else if (i < j->nusers && j->perms[i]) {
                session_set_perms(s, j->perms[i], s->default_allow);
            } else {
                continue; /* not looked up (or failed): keep the last good */
            }
            session_recheck(s);
        }
    }
}

/* Log and audit a refused client certificate: its fingerprint, never key material. */
static void cert_refusal(struct auth *a, const char *what, const char *user, const char *fp,
                         const char *cid, const char *addr, enum cert_verdict v)
{
    log_notice("%s client=%s addr=%s user=%s: certificate %s %s", what, cid, addr,
               user ? user : "-", fp, certpol_verdict_text(v));
    char target[300];
    snprintf(target, sizeof target, "%.100s certificate %s client %.80s", user ? user : "-", fp,
             cid);
    auth_audit(a, "cert refused", target, certpol_verdict_text(v));
}

/* A live session whose certificate is revoked, or no longer pinned to its user:
 * disconnected (true). */
static bool cert_refused(struct auth *a, struct conn *c)
{
    const struct tls_info *ti = c->tls ? tls_conn_info(c->tls) : NULL;
    uint8_t fp[CERT_FP_LEN];
    if (!ti || !ti->has_cert || !backend_fp_parse(ti->fingerprint, fp))
        return false;
    const char *user = c->auth_method == AUTH_CERTIFICATE ? c->username : NULL;
    enum cert_verdict v = certpol_check(a->certs, user, fp);
    if (v == CERT_VERDICT_OK)
        return false;
    cert_refusal(a, "disconnecting", user, ti->fingerprint, c->s->client_id, c->addr, v);
    conn_close(c, MQTT_RC_ADMIN_ACTION, true, false);
    return true;
}

enum auth_refusal auth_cert_check(struct auth *a, const char *user, const char *fp_hex,
                                  const char *cid, const char *addr)
{
    uint8_t fp[CERT_FP_LEN];
    if (!backend_fp_parse(fp_hex, fp))
        return AR_NOT_AUTHORIZED; /* tls.c always writes 64 hex digits */
    enum cert_verdict v = certpol_check(a->certs, user, fp);
    if (v == CERT_VERDICT_OK)
        return AR_NONE;
    cert_refusal(a, "refused", user, fp_hex, cid, addr, v);
    return AR_NOT_AUTHORIZED;
}

static void refresh_done(struct worker_job *w)
{
    struct refresh_job *j = container_of(w, struct refresh_job, w);
    struct auth *a = j->a;
    a->refreshing = false;
    if (j->err)
        log_error("store refresh failed (%s): keeping the last good bans, bindings and "
                  "permissions", wd_strerror(j->err));
    if (j->err || !j->changed || a->b->stopping) {
        refresh_free(j);
        return;
    }
    bans_free(a->bans, a->nbans);
    binds_free(a->binds, a->nbinds);
    a->bans = j->bans;
    a->nbans = j->nbans;
    a->binds = j->binds;
    a->nbinds = j->nbinds;
    j->bans = NULL;
    j->binds = NULL;
    j->nbans = j->nbinds = 0;
    bool first = a->gen == 0;
    a->gen = j->gen;
    creds_clear(a); /* verified credentials and their permissions may be stale now */
    if (!first)
        log_info("store changed (generation %llu): re-checking live sessions",
                 (unsigned long long)a->gen);
    perms_unref(a->anon);
    a->anon = j->anon;
    j->anon = NULL;
    if (j->certs) { /* a failed load keeps the last good */
        certpol_free(a->certs);
        a->certs = j->certs;
        j->certs = NULL;
    }
    /* Disconnect sessions whose identity went away or is banned now; give the
     * others their permissions as they are now. */
    for (struct conn *c = a->b->conns; c; c = c->next) {
        if (c->state != CONN_ACTIVE || !c->s)
            continue;
        size_t i = 0;
        while (c->username && i < j->nusers && strcmp(j->users[i], c->username) != 0)
            i++;
        bool known = c->username && i < j->nusers;
        /* A certificate identity need not be a user; a password user must stay one, and
         * so must a token's subject that was a user when it connected. */
        bool gone = known && (j->gone[i] == GONE_DISABLED ||
                              (j->gone[i] == GONE_MISSING &&
                               (c->auth_method == AUTH_PASSWORD ||
                                (c->token && c->token->known_user))));
        bool revoked = false;
        for (size_t k = 0; c->token && c->token->jti && k < j->njtis; k++)
            if (strcmp(j->jtis[k], c->token->jti) == 0)
                revoked = j->revoked[k];
        if (!gone && !revoked && cert_refused(a, c))
            continue;
        if (gone || revoked || auth_identity_banned(a, c->username, c->s->client_id, c->ip)) {
            log_notice("disconnecting client=%s addr=%s: %s", c->s->client_id, c->addr,
                       gone ? "identity removed or disabled" : revoked ? "token revoked"
                                                                       : "banned");
            conn_close(c, MQTT_RC_ADMIN_ACTION, true, false);
            continue;
        }
        if (c->token && known) {
            /* The token's scope narrows the subject's rules as they are now. */
            struct perms *p = tokauth_perms(c->token, j->perms[i]);
            if (p)
                session_set_perms(c->s, p, false);
            perms_unref(p);
        } else if (known && j->perms[i])
            session_set_perms(c->s, j->perms[i], c->s->default_allow);
        else if (c->auth_method == AUTH_ANONYMOUS && a->anon)
            session_set_perms(c->s, a->anon, c->s->default_allow);
        session_recheck(c->s);
    }
    refresh_offline(a, j);
    refresh_free(j);
}

static void poll_fired(struct loop_timer *t)
{
    struct auth *a = container_of(t, struct auth, poll);
    loop_timer_arm(a->b->loop, &a->poll, 1000);
    if (a->refreshing)
        return;
    struct refresh_job *j = wd_calloc(1, sizeof *j);
    if (!j)
        return;
    j->w.run = refresh_run;
    j->w.done = refresh_done;
    j->a = a;
    j->seen = a->gen;
    size_t n = 0;
    for (struct conn *c = a->b->conns; c; c = c->next)
        n += c->state == CONN_ACTIVE && c->username;
    for (size_t k = 0; k < a->b->sess_nbuckets; k++)
        for (struct session *s = a->b->sess_buckets[k]; s; s = s->hnext)
            n += !s->conn && s->username;
    size_t nj = 0;
    for (struct conn *c = a->b->conns; c; c = c->next)
        nj += c->state == CONN_ACTIVE && c->token && c->token->jti;
    j->jtis = wd_calloc(nj ? nj : 1, sizeof *j->jtis);
    j->revoked = wd_calloc(nj ? nj : 1, sizeof *j->revoked);
    for (struct conn *c = a->b->conns; c && j->jtis && j->revoked && j->njtis < nj; c = c->next)
        if (c->state == CONN_ACTIVE && c->token && c->token->jti &&
            (j->jtis[j->njtis] = wd_strdup(c->token->jti)))
            j->njtis++;
    j->users = wd_calloc(n ? n : 1, sizeof *j->users);
    j->gone = wd_calloc(n ? n : 1, sizeof *j->gone);
    j->perms = wd_calloc(n ? n : 1, sizeof *j->perms);
    if (!j->users || !j->gone || !j->perms || !j->jtis || !j->revoked) {
        refresh_free(j);
        return;
    }
    for (struct conn *c = a->b->conns; c && j->nusers < n; c = c->next)
        if (c->state == CONN_ACTIVE && c->username &&
            (j->users[j->nusers] = wd_strdup(c->username)))
            j->nusers++;
    /* Offline persistent sessions too (refresh_offline). */
    for (size_t k = 0; k < a->b->sess_nbuckets; k++)
        for (struct session *s = a->b->sess_buckets[k]; s && j->nusers < n; s = s->hnext)
            if (!s->conn && s->username && (j->users[j->nusers] = wd_strdup(s->username)))
                j->nusers++;
    /* The refresh waits behind logins when the queue is full: try again next second. */
    if (worker_submit(a->pool, &j->w) != WD_OK) {
        refresh_free(j);
        return;
    }
    a->refreshing = true;
}

/* ---- password verification ---- */

static void ticket_unlink(struct auth_ticket *t)
{
    struct auth_ticket **pp = &t->a->tickets;
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
}

static void ticket_free(struct auth_ticket *t)
{
    perms_unref(t->perms);
    tokauth_free(t->tok);
    if (t->pw) {
        explicit_bzero(t->pw, t->plen);
        wd_free(t->pw);
    }
    wd_free(t->user);
    wd_free(t);
}

/* A certificate identity: no password; disabled users refused; permissions loaded. */
static void identity_run(struct auth_ticket *t)
{
    const struct backend_ops *ops = &t->a->ops;
    struct user *u = NULL;
    enum wd_err e = ops->user_get(ops->ctx, t->user, &u);
    if ((e == WD_OK && !u->enabled) || (e == WD_ENOTFOUND && t->require_user)) {
        t->result = AR_NOT_AUTHORIZED;
    } else if (e == WD_OK || e == WD_ENOTFOUND) {
        /* The store's word, not the cache's: a revocation or pin counts at once. */
        enum cert_verdict v = CERT_VERDICT_OK;
        if (t->have_fp && ops->cert_check)
            e = ops->cert_check(ops->ctx, t->user, t->fp, &v);
        else
            e = WD_OK;
        if (e != WD_OK) {
            t->result = AR_BUSY;
        } else if (v != CERT_VERDICT_OK) {
            char hex[CERT_FP_HEX], target[300];
            backend_fp_hex(t->fp, hex);
            log_notice("refused client=%s addr=%s user=%s: certificate %s %s", t->cid, t->ip,
                       t->user, hex, certpol_verdict_text(v));
            snprintf(target, sizeof target, "%.100s certificate %s client %.80s", t->user, hex,
                     t->cid);
            ops->audit(ops->ctx, "broker", "cert refused", target, certpol_verdict_text(v));
            t->result = AR_NOT_AUTHORIZED;
        } else {
            t->perms = perms_load(ops, t->user, &e);
            t->result = t->perms ? AR_NONE : AR_BUSY;
        }
    } else {
        t->result = AR_BUSY;
    }
    backend_user_free(u);
}

/* An access token: verified against the store; the reason is audited, never the token. */
static void token_run(struct auth_ticket *t)
{
    const struct backend_ops *ops = &t->a->ops;
    enum wd_err e = tokauth_check(ops, t->a->b->cfg.token_leeway,
                                  t->a->b->cfg.introspect_timeout * 1000, t->pw, t->plen,
                                  t->cid, t->user, &t->tok, &t->perms, t->why, sizeof t->why);
    explicit_bzero(t->pw, t->plen);
    /* An introspection service that cannot answer fails closed, as unavailable. */
    t->result = e == WD_OK           ? AR_NONE
                : e == WD_EBADAUTH   ? AR_BAD_CREDENTIALS
                : e == WD_EDENIED    ? AR_NOT_AUTHORIZED
                : e == WD_EIO || e == WD_ETIMEOUT ? AR_UNAVAILABLE
                                     : AR_BUSY;
    char target[300];
    snprintf(target, sizeof target, "%.100s from %s client %s",
             t->tok ? t->tok->sub : t->user[0] ? t->user : "(token)", t->ip, t->cid);
    ops->audit(ops->ctx, "broker", e == WD_OK ? "token login" : "token login failed", target,
               e == WD_OK ? "ok" : t->why);
}

static void ticket_run(struct worker_job *w)
{
    struct auth_ticket *t = container_of(w, struct auth_ticket, w);
    if (t->token) {
        token_run(t);
        return;
    }
    if (!t->pw) {
        identity_run(t);
        return;
    }
    struct auth *a = t->a;
    const struct backend_ops *ops = &a->ops;
    const struct config *cfg = &a->b->cfg;
    struct user *u = NULL;
    enum wd_err e = ops->user_get(ops->ctx, t->user, &u);
    bool ok = false;
    char fresh[PW_HASH_MAX];
    const char *new_hash = NULL;
    if (e == WD_OK && u->enabled && u->hash) {
        ok = pw_verify(u->hash, t->pw, t->plen) == PW_MATCH;
        if (ok && pw_needs_rehash(u->hash, cfg->password_opslimit, cfg->password_memlimit) &&
            pw_hash(t->pw, t->plen, cfg->password_opslimit, cfg->password_memlimit, fresh) ==
                WD_OK)
            new_hash = fresh;
    } else if (a->have_dummy) {
        /* Unknown, disabled or password-less: spend the same time, give the same answer. */
        pw_verify(a->dummy, t->pw, t->plen);
    }
    explicit_bzero(t->pw, t->plen);
    int64_t now = (int64_t)time(NULL);
    if (ok && (new_hash || now - u->last_login >= LOGIN_STAMP_EVERY))
        ops->user_login(ops->ctx, t->user, now, new_hash);
    char target[200];
    snprintf(target, sizeof target, "%s from %s client %s", t->user, t->ip, t->cid);
    const char *why = ok ? "ok" : e == WD_ENOTFOUND ? "unknown user" : e ? wd_strerror(e)
                              : !u->enabled        ? "user disabled"
                              : !u->hash           ? "no password set"
                                                   : "wrong password";
    ops->audit(ops->ctx, "broker", ok ? "login" : "login failed", target, why);
    if (new_hash)
        ops->audit(ops->ctx, "broker", "password rehash", t->user, "ok");
    backend_user_free(u);
    t->result = ok ? AR_NONE : AR_BAD_CREDENTIALS;
    if (ok && !(t->perms = perms_load(ops, t->user, &e)))
        t->result = AR_BUSY; /* cannot know what it may do: refuse rather than guess */
}

static void write_ban(struct auth *a, enum ban_kind kind, const char *value,
                      const char *reason);

static void ticket_done(struct worker_job *w)
{
    struct auth_ticket *t = container_of(w, struct auth_ticket, w);
    struct auth *a = t->a;
    ticket_unlink(t);
    if (!t->cancelled && !a->b->stopping) {
        if (t->result == AR_NONE && t->token) {
            /* no credential cache for tokens: each one is verified (revocation, exp) */
        } else if (t->result == AR_NONE && t->pw) {
            cred_put(a, t->key, t->perms);
            counter_get(a, "u:", t->user, strlen(t->user))->count = 0;
        } else if (t->result == AR_BAD_CREDENTIALS) {
            /* Count the failure per address, user name and client id; ban past the limit. */
            static const struct {
                const char *prefix;
                enum ban_kind kind;
            } keys[] = {{"a:", BAN_ADDRESS}, {"u:", BAN_USER}, {"c:", BAN_CLIENT}};
            const char *vals[] = {t->ip, t->user, t->cid};
            for (int i = 0; i < 3; i++) {
                struct counter *c = counter_get(a, keys[i].prefix, vals[i], strlen(vals[i]));
                failures(a, c);
                if (++c->count == a->b->cfg.auth_fail_ban_after && *vals[i]) {
                    write_ban(a, keys[i].kind, vals[i], "brute force");
                    c->count = 0; /* counting starts again when the ban ends */
                    c->banned_until_ms =
                        now_ms(a) + (uint64_t)a->b->cfg.auth_ban_duration * 1000;
                }
            }
        }
        t->done(t->ctx, t->result, t->perms);
        t->perms = NULL;
    }
    ticket_free(t);
}

static void delay_fired(struct loop_timer *timer)
{
    struct auth_ticket *t = container_of(timer, struct auth_ticket, delay);
    if (t->cancelled) {
        ticket_unlink(t);
        ticket_free(t);
        return;
    }
    if (worker_submit(t->a->pool, &t->w) != WD_OK) {
        ticket_unlink(t);
        t->done(t->ctx, AR_BUSY, NULL);
        ticket_free(t);
        return;
    }
    t->submitted = true;
}

static enum auth_refusal submit_secret(struct auth *a, const char *ip, const char *cid,
                                       const char *user, size_t ulen, const void *pw,
                                       size_t plen, const uint8_t key[32], bool token,
                                       auth_done_fn done, void *ctx,
                                       struct auth_ticket **ticket);

enum auth_refusal auth_password(struct auth *a, const char *ip, const char *cid,
                                const char *user, size_t ulen, const void *pw, size_t plen,
                                auth_done_fn done, void *ctx, struct auth_ticket **ticket,
                                struct perms **perms)
{
    *ticket = NULL;
    *perms = NULL;
    if (!a->have_store)
        return AR_BAD_CREDENTIALS;
    uint8_t key[32];
    pw_cache_key(key, user, ulen, pw, plen);
    struct cred *cr = cred_find(a, key);
    if (cr && cr->expires_ms > now_ms(a) && cr->gen == a->gen) {
        *perms = perms_ref(cr->perms);
        return AR_NONE;
    }
    return submit_secret(a, ip, cid, user, ulen, pw, plen, key, false, done, ctx, ticket);
}

enum auth_refusal auth_token(struct auth *a, const char *ip, const char *cid, const char *user,
                             size_t ulen, const void *token, size_t len, auth_done_fn done,
                             void *ctx, struct auth_ticket **ticket)
{
    *ticket = NULL;
    if (!a->have_store)
        return AR_BAD_CREDENTIALS;
    static const uint8_t nokey[32];
    return submit_secret(a, ip, cid, user, ulen, token, len, nokey, true, done, ctx, ticket);
}

struct tokauth *auth_ticket_token(struct auth_ticket *t, const char **why)
{
    struct tokauth *tok = t->tok;
    t->tok = NULL;
    if (why)
        *why = t->why[0] ? t->why : NULL;
    return tok;
}

/* A password or token check on a worker, after the brute-force back-off. */
static enum auth_refusal submit_secret(struct auth *a, const char *ip, const char *cid,
                                       const char *user, size_t ulen, const void *pw,
                                       size_t plen, const uint8_t key[32], bool token,
                                       auth_done_fn done, void *ctx,
                                       struct auth_ticket **ticket)
{
    /* Brute-force counters come before any hashing. */
    const struct config *cfg = &a->b->cfg;
    struct counter *ca = counter_get(a, "a:", ip, strlen(ip));
    /* No user name (a token without one): the address alone counts, or every such
     * client would share one counter and one client's failures would delay all. */
    struct counter *cu = ulen ? counter_get(a, "u:", user, ulen) : ca;
    if (ca->banned_until_ms > now_ms(a) || cu->banned_until_ms > now_ms(a))
        return AR_BANNED; /* written to the store; the ban cache may not have it yet */
    uint32_t n = failures(a, ca);
    uint32_t nu = failures(a, cu);
    if (nu > n)
        n = nu;
    uint64_t delay = 0;
    if (cfg->auth_fail_delay_after && n >= cfg->auth_fail_delay_after) {
        unsigned steps = n - cfg->auth_fail_delay_after;
        delay = steps >= 5 ? DELAY_MAX_MS : (uint64_t)DELAY_BASE_MS << steps;
        if (delay > DELAY_MAX_MS)
            delay = DELAY_MAX_MS;
    }
    struct auth_ticket *t = wd_calloc(1, sizeof *t);
    if (!t)
        return AR_BUSY;
    t->w.run = ticket_run;
    t->w.done = ticket_done;
    t->a = a;
    t->done = done;
    t->ctx = ctx;
    t->result = AR_BAD_CREDENTIALS; /* if the job never runs */
    t->token = token;
    memcpy(t->key, key, sizeof t->key);
    snprintf(t->ip, sizeof t->ip, "%s", ip);
    snprintf(t->cid, sizeof t->cid, "%s", cid);
    t->user = wd_strndup(user, ulen);
    t->pw = wd_malloc(plen ? plen : 1);
    t->plen = plen;
    if (!t->user || !t->pw) {
        ticket_free(t);
        return AR_BUSY;
    }
    if (plen)
        memcpy(t->pw, pw, plen);
    loop_timer_init(&t->delay, delay_fired);
    if (delay) {
        loop_timer_arm(a->b->loop, &t->delay, delay);
    } else if (worker_submit(a->pool, &t->w) != WD_OK) {
        ticket_free(t);
        return AR_BUSY;
    } else {
        t->submitted = true;
    }
    t->next = a->tickets;
    a->tickets = t;
    *ticket = t;
    return AR_NONE;
}

enum auth_refusal auth_identity(struct auth *a, const char *user, bool require_user,
                                const char *fp, const char *cid, const char *ip,
                                auth_done_fn done, void *ctx, struct auth_ticket **ticket)
{
    *ticket = NULL;
    if (!a->have_store)
        return require_user ? AR_NOT_AUTHORIZED : AR_NONE; /* settled now, no permissions */
    struct auth_ticket *t = wd_calloc(1, sizeof *t);
    if (!t || !(t->user = wd_strdup(user))) {
        wd_free(t);
        return AR_BUSY;
    }
    t->w.run = ticket_run;
    t->w.done = ticket_done;
    t->a = a;
    t->done = done;
    t->ctx = ctx;
    t->result = AR_BUSY; /* if the job never runs */
    t->require_user = require_user;
    t->have_fp = fp && backend_fp_parse(fp, t->fp);
    snprintf(t->ip, sizeof t->ip, "%s", ip ? ip : "");
    snprintf(t->cid, sizeof t->cid, "%s", cid ? cid : "");
    loop_timer_init(&t->delay, delay_fired);
    if (worker_submit(a->pool, &t->w) != WD_OK) {
        ticket_free(t);
        return AR_BUSY;
    }
    t->submitted = true;
    t->next = a->tickets;
    a->tickets = t;
    *ticket = t;
    return AR_NONE;
}

void auth_cancel(struct auth_ticket *t)
{
    if (!t)
        return;
    t->cancelled = true;
    if (!t->submitted) {
        loop_timer_cancel(t->a->b->loop, &t->delay);
        ticket_unlink(t);
        ticket_free(t);
    }
}

/* ---- bans written by the broker ---- */

struct ban_job {
    struct worker_job w;
    struct auth *a;
    uint8_t kind;
    char value[80];
    int64_t until;
    const char *reason;        /* static text */
};

static void ban_run(struct worker_job *w)
{
    struct ban_job *j = container_of(w, struct ban_job, w);
    const struct backend_ops *ops = &j->a->ops;
    enum wd_err e = ops->ban_add(ops->ctx, j->kind, j->value, j->until, j->reason, "broker");
    ops->audit(ops->ctx, "broker", "ban add", j->value, e == WD_OK ? "ok" : wd_strerror(e));
}

static void ban_done(struct worker_job *w)
{
    wd_free(container_of(w, struct ban_job, w));
}

static void write_ban(struct auth *a, enum ban_kind kind, const char *value, const char *reason)
{
    struct ban_job *j = wd_calloc(1, sizeof *j);
    if (!j)
        return;
    j->w.run = ban_run;
    j->w.done = ban_done;
    j->a = a;
    j->kind = (uint8_t)kind;
    j->reason = reason;
    snprintf(j->value, sizeof j->value, "%s", value);
    j->until = (int64_t)time(NULL) + a->b->cfg.auth_ban_duration;
    log_notice("%s: banning %s %s for %u s", reason,
               kind == BAN_ADDRESS ? "address" : kind == BAN_USER ? "user" : "client id", value,
               a->b->cfg.auth_ban_duration);
    if (worker_submit(a->pool, &j->w) != WD_OK)
        wd_free(j);
}

/* ---- denials: audit events and bans, written on a worker ---- */

struct audit_job {
    struct worker_job w;
    struct auth *a;
    char action[48];
    char target[600];
    char result[300];
};

static void audit_run(struct worker_job *w)
{
    struct audit_job *j = container_of(w, struct audit_job, w);
    const struct backend_ops *ops = &j->a->ops;
    enum wd_err e = ops->audit(ops->ctx, "broker", j->action, j->target, j->result);
    if (e != WD_OK)
        log_warning("audit %s: %s", j->action, wd_strerror(e));
}

static void audit_done(struct worker_job *w)
{
    wd_free(container_of(w, struct audit_job, w));
}

bool auth_audit(struct auth *a, const char *action, const char *target, const char *result)
{
    if (!a || !a->have_store)
        return false;
    struct audit_job *j = wd_calloc(1, sizeof *j);
    if (!j)
        return false;
    j->w.run = audit_run;
    j->w.done = audit_done;
    j->a = a;
    snprintf(j->action, sizeof j->action, "%s", action);
    snprintf(j->target, sizeof j->target, "%s", target);
    snprintf(j->result, sizeof j->result, "%s", result);
    if (worker_submit(a->pool, &j->w) != WD_OK) {
        wd_free(j); /* the queue is full of logins: this event is lost, not the broker */
        return false;
    }
    return true;
}

#define DENY_BAN_AFTER 3               /* strike-outs ... */
#define DENY_BAN_WINDOW_MS 600000      /* ... within ten minutes ban the client id */

void auth_deny_disconnect(struct auth *a, const char *cid)
{
    if (!a || !a->have_store || !*cid)
        return;
    struct counter *c = counter_get(a, "d:", cid, strlen(cid));
    if (now_ms(a) - c->since_ms > DENY_BAN_WINDOW_MS) {
        c->count = 0;
        c->since_ms = now_ms(a);
    }
    if (++c->count >= DENY_BAN_AFTER) {
        c->count = 0;
        write_ban(a, BAN_CLIENT, cid, "repeated denials");
    }
}

/* ---- token issuers' JWKS files (SIGHUP) ---- */

struct reload_job {
    struct worker_job w;
    struct auth *a;
    enum wd_err err;
    size_t n;
};

static void reload_run(struct worker_job *w)
{
    struct reload_job *j = container_of(w, struct reload_job, w);
    const struct backend_ops *ops = &j->a->ops;
    j->err = ops->token_issuers_reload(ops->ctx, tokauth_jwks_valid, &j->n);
}

static void reload_done(struct worker_job *w)
{
    struct reload_job *j = container_of(w, struct reload_job, w);
    if (j->err)
        log_error("SIGHUP: token issuers' JWKS files: %s", wd_strerror(j->err));
    else
        log_notice("SIGHUP: %zu token issuer%s re-read from changed JWKS files", j->n,
                   j->n == 1 ? "" : "s");
    wd_free(j);
}

void auth_tokens_reload(struct auth *a)
{
    if (!a || !a->have_store)
        return;
    struct reload_job *j = wd_calloc(1, sizeof *j);
    if (!j)
        return;
    j->w.run = reload_run;
    j->w.done = reload_done;
    j->a = a;
    if (worker_submit(a->pool, &j->w) != WD_OK) {
        log_warning("SIGHUP: auth queue full: token issuers not re-read");
        wd_free(j);
    }
}

/* ---- per-address limits ---- */

bool auth_accept(struct auth *a, const char *ip)
{
    const struct config *cfg = &a->b->cfg;
    size_t len = strlen(ip);
    if (cfg->connect_rate_per_address) {
        /* A fixed one-second window: cheap, and enough to stop a reconnect flood. */
        struct counter *r = counter_get(a, "r:", ip, len);
        if (now_ms(a) - r->since_ms >= 1000) {
            r->since_ms = now_ms(a);
            r->count = 0;
        }
        if (r->count >= cfg->connect_rate_per_address)
            return false;
        r->count++;
    }
    struct counter *n = counter_get(a, "n:", ip, len);
    if (cfg->max_connections_per_address && n->count >= cfg->max_connections_per_address)
        return false;
    n->count++;
    return true;
}

void auth_release(struct auth *a, const char *ip)
{
    struct counter *n = counter_get(a, "n:", ip, strlen(ip));
    if (n->count)
        n->count--;
}

/* ---- pre-checks and ownership ---- */

enum auth_refusal auth_precheck(struct auth *a, const struct listener *l, const char *ip,
                                const char *cid, size_t cidlen, const char *user, size_t ulen)
{
    if (find_ban(a, BAN_ADDRESS, ip, strlen(ip)) || find_ban(a, BAN_CLIENT, cid, cidlen) ||
        (user && find_ban(a, BAN_USER, user, ulen)))
        return AR_BANNED;
    const struct config_listener *lc = l->cfg;
    if (lc->max_clientid_length && cidlen > lc->max_clientid_length)
        return AR_ID_REJECTED;
    if (l->clientid_re_ok) {
        char buf[512];
        if (cidlen >= sizeof buf)
            return AR_ID_REJECTED;
        memcpy(buf, cid, cidlen);
        buf[cidlen] = '\0';
        if (regexec(&l->clientid_re, buf, 0, NULL, 0) != 0)
            return AR_ID_REJECTED;
    }
    return AR_NONE;
}

static bool binding_matches(const struct bind_c *bc, const char *cid, size_t len)
{
    const char *p = bc->b.pattern;
    size_t pl = strlen(p);
    switch (bc->b.kind) {
    case BIND_EXACT: return pl == len && memcmp(p, cid, len) == 0;
    case BIND_PREFIX: return pl <= len && memcmp(p, cid, pl) == 0;
    default: {
        char buf[512];
        if (!bc->re_ok || len >= sizeof buf)
            return false;
        memcpy(buf, cid, len);
        buf[len] = '\0';
        return regexec(&bc->re, buf, 0, NULL, 0) == 0;
    }
    }
}

enum auth_refusal auth_owns(struct auth *a, const struct listener *l, const char *cid,
                            size_t cidlen, const char *identity, const char *ip)
{
    bool bound = false;
    for (size_t i = 0; i < a->nbinds; i++) {
        const struct bind_c *bc = &a->binds[i];
        if (!binding_matches(bc, cid, cidlen))
            continue;
        bound = true;
        if (identity && strcmp(identity, bc->b.user) == 0)
            return AR_NONE;
    }
    if (bound) {
        char shown[80];
        log_notice("client id %s is bound to another identity: refused %s from %s",
                   log_clean(shown, sizeof shown, cid, cidlen), identity ? identity : "anonymous",
                   ip);
        if (a->have_store) {
            char target[200];
            snprintf(target, sizeof target, "%s by %s from %s", shown,
                     identity ? identity : "anonymous", ip);
            a->ops.audit(a->ops.ctx, "broker", "client id taken", target, "refused");
        }
        return AR_ID_REJECTED;
    }
    return l->cfg->clientid_bound_only ? AR_ID_REJECTED : AR_NONE;
}

/* ---- lifetime ---- */

struct auth *auth_new(struct broker *b, const struct backend_ops *ops)
{
    struct auth *a = wd_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->b = b;
    if (ops) {
        a->ops = *ops;
        a->have_store = true;
    }
    a->pool = worker_new(b->loop, b->cfg.auth_workers, b->cfg.max_pending_auth);
    if (!a->pool) {
        wd_free(a);
        return NULL;
    }
    loop_timer_init(&a->poll, poll_fired);
    /* Token introspection makes TLS calls from the workers: WolfSSL is set up here, once,
     * before any worker runs (tls_global_init is not thread-safe). */
    if (a->have_store && tls_global_init() != WD_OK)
        log_warning("WolfSSL did not start: token introspection will fail closed");
    if (a->have_store) {
        /* The hash unknown users are verified against: the configured cost. */
        pw_init();
        a->have_dummy = pw_hash("warden-dummy-password", 21, b->cfg.password_opslimit,
                                b->cfg.password_memlimit, a->dummy) == WD_OK;
        loop_timer_arm(b->loop, &a->poll, 0);
    }
    return a;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    for (struct auth_ticket *t = a->tickets; t; t = t->next)
        t->cancelled = true;
    /* Tickets still delayed never reached the pool. */
    struct auth_ticket **pp = &a->tickets;
    while (*pp) {
        struct auth_ticket *t = *pp;
        if (!t->submitted) {
            *pp = t->next;
            loop_timer_cancel(a->b->loop, &t->delay);
            ticket_free(t);
        } else {
            pp = &t->next;
        }
    }
    worker_free(a->pool); /* returns the submitted ones through ticket_done */
    loop_timer_cancel(a->b->loop, &a->poll);
    creds_clear(a);
    introspect_cache_clear(); /* the workers are gone: nobody else uses it */
    perms_unref(a->anon);
    bans_free(a->bans, a->nbans);
    binds_free(a->binds, a->nbinds);
    certpol_free(a->certs);
    wd_free(a);
}

/* ---- certificates seen ---- */

struct seen_job {
    struct worker_job w;
    struct auth *a;
    struct cert_rec r;         /* owned strings */
};

static void seen_run(struct worker_job *w)
{
    struct seen_job *j = container_of(w, struct seen_job, w);
    const struct backend_ops *ops = &j->a->ops;
    enum wd_err e = ops->cert_seen(ops->ctx, &j->r);
    if (e != WD_OK)
        log_warning("recording a certificate seen: %s", wd_strerror(e));
}

static void seen_done(struct worker_job *w)
{
    struct seen_job *j = container_of(w, struct seen_job, w);
    backend_cert_fini(&j->r);
    wd_free(j);
}

void auth_cert_seen(struct auth *a, const struct tls_info *ti)
{
    uint8_t fp[CERT_FP_LEN];
    /* Logins come first: with the worker queue half full (a reconnect storm), the
     * sighting waits for a later connect of that certificate. */
    if (!a || !a->have_store || !a->ops.cert_seen || !ti || !ti->has_cert ||
        worker_pending(a->pool) * 2 >= a->b->cfg.max_pending_auth ||
        !backend_fp_parse(ti->fingerprint, fp) || !certpol_seen_due(&a->seen, fp, now_ms(a)))
        return;
    struct seen_job *j = wd_calloc(1, sizeof *j);
    if (!j) {
        certpol_seen_forget(&a->seen, fp);
        return;
    }
    j->w.run = seen_run;
    j->w.done = seen_done;
    j->a = a;
    int64_t now = (int64_t)time(NULL);
    j->r = (struct cert_rec){.kind = CERTREC_SEEN, .not_after = ti->not_after, .created = now,
                             .last_seen = now, .identity = wd_strdup(ti->identity),
                             .subject = wd_strdup(ti->subject), .issuer = wd_strdup(ti->issuer)};
    memcpy(j->r.fp, fp, CERT_FP_LEN);
    if (!j->r.identity || !j->r.subject || !j->r.issuer ||
        worker_submit(a->pool, &j->w) != WD_OK) {
        /* Out of memory or the queue is full of logins: try again on the next connect. */
        certpol_seen_forget(&a->seen, fp);
        seen_done(&j->w);
    }
}
