/*
 * tokauth.h - access tokens as a way to connect: verifying a CONNECT's token
 * against the store (issuer keys, revocations, the subject's user record and
 * rules) on an auth worker, what a session keeps of it, and Warden's own
 * signing keys for `warden token issue` and any later token endpoint.
 *
 * A token is accepted when it parses, its issuer is trusted (Warden's own,
 * iss TOKAUTH_SELF_ISS, or one in the store), the key chosen by kid verifies
 * its signature, its claims hold (exp required, nbf/iat within the leeway,
 * aud when the issuer sets one), its jti is not revoked, its client_id (if
 * any) is the CONNECT's, the user name (if any) is its sub, and its sub is
 * no disabled user. Never logs or keeps the token itself.
 *
 * A token that is not a compact JWS, or a JWT whose iss is an introspection
 * issuer (TOKEN_ISSUER_INTROSPECT), is accepted when an introspection service
 * says it is active (introspect.h); its answer's sub, scope, client_id and exp
 * then count as the claims above.
 */
#ifndef WD_TOKAUTH_H
#define WD_TOKAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "backend.h"
#include "err.h"
#include "loop.h"
#include "perms.h"
#include "token.h"

#define TOKAUTH_SELF_ISS "warden"     /* iss of the tokens Warden issues */
#define TOKAUTH_METHOD "jwt"          /* MQTT 5 Authentication Method for tokens */

/* What a session keeps of its verified token (owned by its connection). */
struct tokauth {
    char *sub;                 /* owned: the identity (the session's user name) */
    char *iss;                 /* owned */
    char *jti;                 /* owned or NULL */
    char *scope;               /* owned or NULL: the scope claim as sent */
    int64_t exp;               /* Unix seconds: the session ends then */
    bool known_user;           /* sub is a user in the store: its rules narrow the scope */
    struct rule *grants;       /* owned: the scope's mqtt: entries as allow rules */
    size_t ngrants;
    bool has_scope;            /* a scope claim was present (none: the user's rules alone) */
    bool reauth;               /* connected with method "jwt": AUTH may replace the token */
    struct loop_timer expiry;  /* broker thread: fires at exp */
    void *owner;               /* the connection the timer belongs to */
};

/* tokauth_free(NULL) is a no-op; the timer must not be armed. */
void tokauth_free(struct tokauth *t);

/*
 * Does this CONNECT password look like a compact JWS (three base64url parts
 * with a JSON header)? For listeners with `auth_tokens true`, which accept
 * passwords too. PURE.
 */
bool tokauth_looks_like_token(const void *pw, size_t len);

/*
 * Verify a token (see the top). cid: the CONNECT client id; user: the CONNECT
 * user name or NULL/"" when none. leeway: seconds (token_leeway).
 * introspect_ms: the bound of one introspection call (introspect_timeout).
 * Opaque tokens go to every introspection issuer in name order until one
 * says active.
 * out: *tok and *perms (one reference: the session's permissions) on WD_OK;
 * why[0..whylen) a reason fit for the log and the audit on refusal.
 * Returns WD_OK; WD_EBADAUTH (refused like a wrong password); WD_EDENIED (the
 * subject is a disabled user); WD_EIO or WD_ETIMEOUT (an introspection
 * service could not answer: refuse as unavailable); WD_ENOMEM or a store
 * error (refuse as busy).
 * Thread: worker (store reads, signature checks).
 */
enum wd_err tokauth_check(const struct backend_ops *ops, int64_t leeway, uint32_t introspect_ms,
                          const void *token, size_t len, const char *cid, const char *user,
                          struct tokauth **tok, struct perms **perms, char *why, size_t whylen);

/* Is text[0..len) a JWKS with at least one usable key? (For reloads.) Thread: any. */
bool tokauth_jwks_valid(const uint8_t *text, size_t len);

/* The session's permissions for tok given its subject's as loaded now (NULL: no user). */
struct perms *tokauth_perms(const struct tokauth *tok, const struct perms *user_perms);

/*
 * Warden's signing keys, created (and stored, 0600 like the rest of the
 * store) on first use. out: wipe with explicit_bzero after use.
 * Thread: any one per ops (store writes on first use).
 */
enum wd_err tokauth_signing_keys(const struct backend_ops *ops, struct token_signing *out);

/* The verification keys of Warden's own issuer. ks must be empty. */
enum wd_err tokauth_self_keyset(const struct token_signing *k, struct token_keyset *ks);

/* The public Ed25519 key as a JWKS document {"keys":[{...}]}. Returns owned: json_decref. */
json_t *tokauth_public_jwks(const struct token_signing *k);

/*
 * Sign a token for sub: iss TOKAUTH_SELF_ISS, iat now, exp now + ttl, a random
 * jti (written to jti_out[0..33)), optional client_id and scope.
 * Returns owned: *out (wd_free). WD_OK, WD_EINVAL, WD_ETOOLARGE, WD_ENOMEM.
 */
enum wd_err tokauth_issue(const struct token_signing *k, enum token_alg alg, const char *sub,
                          const char *client_id, const char *scope, int64_t ttl, int64_t now,
                          char **out, char jti_out[33]);

#endif
