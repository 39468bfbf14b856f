/*
 * backend.h - what the broker needs from the identity store, as data types
 * plus a table of function pointers (struct backend_ops) that store/
 * implements on LMDB and that core's tests can implement in memory.
 *
 * Identity data is small and read at connect time and when the store's
 * generation counter moves (about once a second), never per message. Every
 * lookup returns an owned copy, so nothing the broker keeps points into the
 * store; free it with the backend_*_free() helpers below.
 * Thread: every op may be called from any one thread at a time per ctx
 * (the auth workers and the broker thread each use their own calls; the
 * LMDB implementation opens a transaction per call).
 */
#ifndef WD_BACKEND_H
#define WD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "mem.h"

/* Rule actions: bit flags. */
#define RULE_PUBLISH 0x01u
#define RULE_SUBSCRIBE 0x02u
#define RULE_RECEIVE 0x04u
#define RULE_ALL (RULE_PUBLISH | RULE_SUBSCRIBE | RULE_RECEIVE)

enum rule_effect { RULE_ALLOW = 0, RULE_DENY = 1 };

struct rule {
    uint8_t effect;        /* enum rule_effect */
    uint8_t actions;       /* RULE_* bits, never 0 */
    uint8_t max_qos;       /* 0..2: publishes above it are refused, grants are capped */
    bool retain;           /* retained publishes allowed */
    char *filter;          /* owned; MQTT filter pattern, may hold %u, %c, %cn */
};

/* The two roles that always exist. */
#define ROLE_ANONYMOUS "anonymous" /* clients without credentials */
#define ROLE_DEFAULT "default"     /* everyone, held implicitly */

struct user {
    char *name;            /* owned */
    char *hash;            /* owned; crypto_pwhash_str form ($argon2id$...), or an imported
                              $6$/$7$ hash; NULL = no password (certificate or token only) */
    bool enabled;
    char **roles;          /* owned array of owned names, in order; never holds "default" */
    size_t nroles;
    struct rule *rules;    /* owned array: the user's own rules, evaluated first, in order */
    size_t nrules;
    int64_t created;       /* Unix seconds */
    int64_t updated;       /* Unix seconds: last change by an admin */
    int64_t last_login;    /* Unix seconds, 0 = never; bookkeeping, no generation bump */
    char *note;            /* owned, "" when none */
};

/* What happens to a client after a denied PUBLISH or SUBSCRIBE (a role's on_deny). */
enum deny_policy {
    DENY_UNSET = 0,        /* the role sets none: the next role's decides, else drop */
    DENY_DROP = 1,         /* refuse that packet only (the protocol's answer) */
    DENY_DISCONNECT = 2,   /* 5.0 DISCONNECT 0x87, then close (3.1.x: close) */
    DENY_STRIKES = 3,      /* drop; disconnect after `strikes` denials within a minute */
};
#define DENY_STRIKES_MAX 10000

struct role {
    char *name;            /* owned */
    char *description;     /* owned, "" when none */
    struct rule *rules;    /* owned array, in order */
    size_t nrules;
    uint8_t on_deny;       /* enum deny_policy */
    uint16_t strikes;      /* DENY_STRIKES: 1..DENY_STRIKES_MAX, else 0 */
};

enum binding_kind { BIND_EXACT = 0, BIND_PREFIX = 1, BIND_REGEX = 2 };

/* A client id (or pattern) that only one identity may use. */
struct binding {
    uint8_t kind;          /* enum binding_kind */
    char *pattern;         /* owned; REGEX: POSIX ERE matched against the whole client id */
    char *user;            /* owned; the identity allowed to use it */
    int64_t created;       /* Unix seconds */
};

enum ban_kind { BAN_CLIENT = 0, BAN_USER = 1, BAN_ADDRESS = 2 };

struct ban {
    uint8_t kind;          /* enum ban_kind */
    char *value;           /* owned; client id, user name, or canonical CIDR "10.0.0.0/8" */
    int64_t until;         /* Unix seconds, 0 = permanent */
    char *reason;          /* owned, "" when none */
    char *actor;           /* owned; who made it (OS user, or "broker") */
    int64_t created;       /* Unix seconds */
};

/* Certificate records (the certs database), keyed by the SHA-256 of the DER. */
enum cert_kind { CERTREC_PIN = 0, CERTREC_REVOKED = 1, CERTREC_SEEN = 2 };
#define CERT_FP_LEN 32     /* SHA-256 */
#define CERT_FP_HEX 65     /* lower-case hex + NUL */

/* A hex digit's value, or -1. */
static inline int backend_hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* A SHA-256 fingerprint in hex, either case, plain or with colons between the
 * bytes (as openssl prints it). false when it is not exactly that. */
static inline bool backend_fp_parse(const char *hex, uint8_t out[CERT_FP_LEN])
{
    size_t n = strlen(hex);
    bool colons = n == CERT_FP_LEN * 3 - 1;
    if (n != CERT_FP_LEN * 2 && !colons)
        return false;
    const char *p = hex;
    for (size_t i = 0; i < CERT_FP_LEN; i++) {
        int hi = backend_hexval(p[0]), lo = backend_hexval(p[1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
        p += 2;
        if (colons && i + 1 < CERT_FP_LEN && *p++ != ':')
            return false;
    }
    return true;
}

/* Lower-case hex of a fingerprint, NUL-terminated. */
static inline void backend_fp_hex(const uint8_t fp[CERT_FP_LEN], char out[CERT_FP_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < CERT_FP_LEN; i++) {
        out[2 * i] = digits[fp[i] >> 4];
        out[2 * i + 1] = digits[fp[i] & 15];
    }
    out[2 * CERT_FP_LEN] = '\0';
}

struct cert_rec {
    uint8_t kind;          /* enum cert_kind */
    uint8_t fp[CERT_FP_LEN];
    char *user;            /* owned; PIN: the user it authenticates, else NULL */
    char *identity;        /* owned, "" when unknown; SEEN: the identity it presented */
    char *subject;         /* owned, "" when unknown (RFC 2253) */
    char *issuer;          /* owned, "" when unknown */
    char *reason;          /* owned, ""; REVOKED: why */
    char *actor;           /* owned, ""; PIN, REVOKED: who made it */
    int64_t not_after;     /* expiry, Unix seconds, 0 = unknown */
    int64_t created;       /* PIN, REVOKED: when made; SEEN: first seen */
    int64_t last_seen;     /* SEEN: last seen (updated at most hourly), else 0 */
};

/* What the store says about a client certificate at connect time. */
enum cert_verdict {
    CERT_VERDICT_OK = 0,       /* not revoked; pinned, or the user pins nothing */
    CERT_VERDICT_REVOKED,      /* on the store's revocation list */
    CERT_VERDICT_NOT_PINNED,   /* the user pins other certificates only */
};

struct audit_entry {
    uint64_t seq;          /* increasing, never reused */
    int64_t time;          /* Unix seconds */
    char *actor;           /* owned; OS user, or "broker" */
    char *action;          /* owned; "user add", "ban add", ... */
    char *target;          /* owned */
    char *result;          /* owned; "ok" or a reason */
};

/* Access tokens (DB_TOKENS). How a trusted external issuer's keys are given. */
enum token_issuer_kind {
    TOKEN_ISSUER_JWKS = 0,    /* mat: the JWKS document (RS256, ES256, EdDSA keys) */
    TOKEN_ISSUER_HS256 = 1,   /* mat: the shared secret */
    TOKEN_ISSUER_ED25519 = 2, /* mat: a 32-byte Ed25519 public key */
    TOKEN_ISSUER_INTROSPECT = 3, /* RFC 7662 service at url; mat: its client secret,
                                  * path: the CA file that signs it ("" = system CAs) */
};

struct token_issuer {
    char *name;            /* owned; the admin's name for it */
    char *iss;             /* owned; the `iss` claim its tokens carry */
    char *audience;        /* owned, "" = aud not checked */
    uint8_t kind;          /* enum token_issuer_kind */
    char *path;            /* owned; the file the keys came from ("" for a secret) */
    uint8_t *mat;          /* owned; see the kind; wiped when freed */
    size_t mat_len;
    int64_t created, updated; /* Unix seconds; updated: last reload */
    char *url;             /* owned; INTROSPECT: the https:// endpoint, else "" */
    char *client_id;       /* owned; INTROSPECT: our client id at the service, else "" */
    uint32_t cache;        /* INTROSPECT: seconds an answer is reused at most */
};

#define TOKEN_SIGNING_SK 64    /* Ed25519 secret key (seed || public key), as libsodium */
#define TOKEN_SIGNING_PK 32
#define TOKEN_SIGNING_HS 32    /* HS256 secret */

/* Warden's own signing keys: created on first use, never leave the store but for signing. */
struct token_signing {
    char kid[32];          /* key id in tokens and the exported JWK */
    uint8_t ed_sk[TOKEN_SIGNING_SK];
    uint8_t hs[TOKEN_SIGNING_HS];
    int64_t created;
};

/* A revoked token id: refused until `until` (0 = for ever), then dropped. */
struct token_revoked {
    char *jti;             /* owned */
    int64_t until;
    int64_t created;
    char *actor;           /* owned */
};

/*
 * The store as the broker sees it. ctx is passed back to every op.
 * Lookups: WD_OK with *out owned by the caller, WD_ENOTFOUND, WD_ENOMEM,
 * WD_EMALFORMED (a record that does not decode) or WD_EIO.
 */
struct backend_ops {
    void *ctx;
    /* Returns owned: *out, free with backend_user_free(). */
    enum wd_err (*user_get)(void *ctx, const char *name, struct user **out);
    /* Returns owned: *out, free with backend_role_free(). */
    enum wd_err (*role_get)(void *ctx, const char *name, struct role **out);
    /* Returns owned: every binding, free with backend_bindings_free(). */
    enum wd_err (*bindings_list)(void *ctx, struct binding **out, size_t *n);
    /* Returns owned: every ban (expired ones too), free with backend_bans_free(). */
    enum wd_err (*bans_list)(void *ctx, struct ban **out, size_t *n);
    /* The generation counter: moves on every identity or permission change. */
    enum wd_err (*generation)(void *ctx, uint64_t *out);
    /* Bookkeeping after a successful login: last_login, and a re-hashed password
     * (new_hash NULL = keep). Does not move the generation counter. */
    enum wd_err (*user_login)(void *ctx, const char *name, int64_t when, const char *new_hash);
    /* A ban made by the broker itself (brute-force protection): kind is enum ban_kind,
     * until Unix seconds (0 = permanent). Moves the generation counter. An existing ban
     * of the same value is replaced (extended). */
    enum wd_err (*ban_add)(void *ctx, uint8_t kind, const char *value, int64_t until,
                           const char *reason, const char *actor);
    /* Certificates (each may be NULL: no checks, nothing recorded). For a certificate
     * fp presented by user (NULL: not a certificate identity, pins not asked). */
    enum wd_err (*cert_check)(void *ctx, const char *user, const uint8_t fp[CERT_FP_LEN],
                              enum cert_verdict *out);
    /* Returns owned: every record of kind (enum cert_kind), free with backend_certs_free(). */
    enum wd_err (*certs_list)(void *ctx, uint8_t kind, struct cert_rec **out, size_t *n);
    /* Record a certificate seen (kind CERTREC_SEEN; first seen kept). Bookkeeping: does
     * not move the generation counter. */
    enum wd_err (*cert_seen)(void *ctx, const struct cert_rec *r);
    /* Append to the audit ring (actor "broker" for the broker's own entries). */
    enum wd_err (*audit)(void *ctx, const char *actor, const char *action, const char *target,
                         const char *result);
    /* The trusted issuer whose `iss` is iss. Returns owned: backend_issuer_free(). */
    enum wd_err (*token_issuer_find)(void *ctx, const char *iss, struct token_issuer **out);
    /* Every issuer, in name order. Returns owned: backend_issuer_fini each, wd_free(*out). */
    enum wd_err (*token_issuers_list)(void *ctx, struct token_issuer **out, size_t *n);
    /* Is jti revoked (now)? WD_OK with *out. */
    enum wd_err (*token_revoked)(void *ctx, const char *jti, int64_t now, bool *out);
    /* Warden's signing keys; when the store has none, fresh (made by the caller) is
     * stored and returned. out: a copy (wipe it after use). */
    enum wd_err (*token_signing)(void *ctx, const struct token_signing *fresh,
                                 struct token_signing *out);
    /* Re-read every JWKS issuer's file into the store (SIGHUP); a file that cannot be
     * read or that valid() refuses keeps the stored keys. *n: issuers reloaded. */
    enum wd_err (*token_issuers_reload)(void *ctx, bool (*valid)(const uint8_t *, size_t),
                                        size_t *n);
    /* Optional (NULL: none). Returns owned: the last limit audit entries, oldest first,
     * free with backend_audit_free(). */
    enum wd_err (*audit_recent)(void *ctx, size_t limit, struct audit_entry **out, size_t *n);
    /* Optional (NULL: none). The generation counter and the bytes the store uses. */
    enum wd_err (*store_stat)(void *ctx, uint64_t *generation, uint64_t *bytes);
};

/* Free what r owns (not r itself). */
static inline void backend_rule_fini(struct rule *r)
{
    wd_free(r->filter);
    r->filter = NULL;
}

static inline void backend_rules_free(struct rule *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        backend_rule_fini(&v[i]);
    wd_free(v);
}

/* backend_user_free(NULL) is a no-op. */
static inline void backend_user_free(struct user *u)
{
    if (!u)
        return;
    wd_free(u->name);
    wd_free(u->hash);
    for (size_t i = 0; u->roles && i < u->nroles; i++)
        wd_free(u->roles[i]);
    wd_free(u->roles);
    backend_rules_free(u->rules, u->nrules);
    wd_free(u->note);
    wd_free(u);
}

static inline void backend_role_free(struct role *r)
{
    if (!r)
        return;
    wd_free(r->name);
    wd_free(r->description);
    backend_rules_free(r->rules, r->nrules);
    wd_free(r);
}

static inline void backend_binding_fini(struct binding *b)
{
    wd_free(b->pattern);
    wd_free(b->user);
}

static inline void backend_bindings_free(struct binding *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        backend_binding_fini(&v[i]);
    wd_free(v);
}

static inline void backend_ban_fini(struct ban *b)
{
    wd_free(b->value);
    wd_free(b->reason);
    wd_free(b->actor);
}

static inline void backend_bans_free(struct ban *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        backend_ban_fini(&v[i]);
    wd_free(v);
}

static inline void backend_cert_fini(struct cert_rec *r)
{
    wd_free(r->user);
    wd_free(r->identity);
    wd_free(r->subject);
    wd_free(r->issuer);
    wd_free(r->reason);
    wd_free(r->actor);
}

static inline void backend_certs_free(struct cert_rec *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        backend_cert_fini(&v[i]);
    wd_free(v);
}

static inline void backend_issuer_fini(struct token_issuer *i)
{
    wd_free(i->name);
    wd_free(i->iss);
    wd_free(i->audience);
    wd_free(i->path);
    wd_free(i->url);
    wd_free(i->client_id);
    if (i->mat)
        explicit_bzero(i->mat, i->mat_len);
    wd_free(i->mat);
}

static inline void backend_issuer_free(struct token_issuer *i)
{
    if (!i)
        return;
    backend_issuer_fini(i);
    wd_free(i);
}

static inline void backend_revoked_fini(struct token_revoked *r)
{
    wd_free(r->jti);
    wd_free(r->actor);
}

static inline void backend_audit_fini(struct audit_entry *a)
{
    wd_free(a->actor);
    wd_free(a->action);
    wd_free(a->target);
    wd_free(a->result);
}

static inline void backend_audit_free(struct audit_entry *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        backend_audit_fini(&v[i]);
    wd_free(v);
}

#endif
