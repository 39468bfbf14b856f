/*
 * auth.h - who is this client, and is it really them: the connect pipeline's
 * checks between CONNECT and CONNACK.
 *
 *   1. bans (address CIDR, client id, user name), from a cache of the store
 *   2. the listener's client-id policy (pattern, length)
 *   3. credentials: a short-lived cache of verified credentials, else an
 *      Argon2id verification on an auth worker, behind brute-force counters
 *   4. client-id ownership: a bound id only for its identity
 *
 * Steps 1, 2 and 4 are cheap and run on the broker thread from caches that
 * a worker refreshes when the store's generation counter moves (polled once
 * a second); step 3 may complete later through a callback. No password is
 * kept: the cache holds keyed hashes. Thread: broker (unless noted).
 */
#ifndef WD_AUTH_H
#define WD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "perms.h"
#include "err.h"

struct broker;
struct listener;
struct auth;
struct auth_ticket;

/* How a session authenticated, for logs and the admin interface. */
enum auth_method { AUTH_NONE = 0, AUTH_ANONYMOUS, AUTH_PASSWORD, AUTH_CERTIFICATE, AUTH_TOKEN };
const char *auth_method_name(enum auth_method m);

/* Why a connect is refused. auth_reason() maps it to the wire. */
enum auth_refusal {
    AR_NONE = 0,             /* not refused */
    AR_BANNED,               /* 5.0 0x8A, 3.1.1 5 */
    AR_ID_REJECTED,          /* client-id policy or ownership: 0x85, 2 */
    AR_BAD_CREDENTIALS,      /* 0x86, 4 */
    AR_NOT_AUTHORIZED,       /* 0x87, 5 */
    AR_BUSY,                 /* auth queue full: 0x89, 3 */
    AR_BAD_METHOD,           /* 0x8C, 5 */
    AR_UNAVAILABLE,          /* a service auth needs cannot answer: 0x88, 3 */
    AR_COUNT
};
/* The CONNACK code for a refusal: the 5.0 reason, or the 3.1.x return code. */
uint8_t auth_reason(enum auth_refusal r, uint8_t version);
const char *auth_refusal_text(enum auth_refusal r);

/* Returns owned: free with auth_free(). ops NULL: no identity store (every
 * credential is wrong). NULL with the reason logged. */
struct auth *auth_new(struct broker *b, const struct backend_ops *ops);
void auth_free(struct auth *a);

/* Steps 1 and 2. ip: the peer address without port. user NULL when none. */
enum auth_refusal auth_precheck(struct auth *a, const struct listener *l, const char *ip,
                                const char *cid, size_t cidlen, const char *user, size_t ulen);

/*
 * Step 3 for a user name and password. Returns AR_NONE with *ticket NULL when
 * settled now and accepted (cache hit; *perms then holds a reference), a refusal when settled now and
 * refused (AR_BUSY when the queue is full, AR_BAD_CREDENTIALS without a
 * store), or AR_NONE with *ticket set: done(ctx, refusal) is called later on
 * the broker thread unless auth_cancel(ticket) is called first. Copies what it
 * needs; the password copy is wiped after use.
 */
typedef void (*auth_done_fn)(void *ctx, enum auth_refusal r, struct perms *perms);
enum auth_refusal auth_password(struct auth *a, const char *ip, const char *cid,
                                const char *user, size_t ulen, const void *pw, size_t plen,
                                auth_done_fn done, void *ctx, struct auth_ticket **ticket,
                                struct perms **perms);

/*
 * Step 3 for an access token (tokauth.h): like auth_password (same back-off
 * and failure counting, no cache), with user the CONNECT user name ("" or
 * NULL when none). In done(), auth_ticket_token() hands over the verified
 * token (r == AR_NONE) or says why it was refused.
 */
enum auth_refusal auth_token(struct auth *a, const char *ip, const char *cid, const char *user,
                             size_t ulen, const void *token, size_t len, auth_done_fn done,
                             void *ctx, struct auth_ticket **ticket);
struct tokauth;
/* Only inside done() for t. Returns owned: the verified token (tokauth_free) or NULL;
 * *why (may be NULL): the refusal reason, or NULL. */
struct tokauth *auth_ticket_token(struct auth_ticket *t, const char **why);

/*
 * A certificate identity: no password to check, but the store decides its
 * permissions (a user of that name, or `default` only) and a disabled user
 * is refused (AR_NOT_AUTHORIZED), and so is an identity that is no user when
 * require_user (cert_requires_user). With *ticket set it completes through
 * done() (Takes: perms in the callback); AR_NONE with *ticket NULL means
 * settled now with no permissions (no store); else a refusal now.
 */
/* fp: the certificate's fingerprint (NULL: none); cid, ip: for the refusal log. */
enum auth_refusal auth_identity(struct auth *a, const char *user, bool require_user,
                                const char *fp, const char *cid, const char *ip,
                                auth_done_fn done, void *ctx, struct auth_ticket **ticket);

/*
 * Certificates (fp: tls_info.fingerprint). auth_identity() above also asks the
 * store itself whether fp is revoked or, when user pins certificates, not one of
 * them (AR_NOT_AUTHORIZED), so that a change counts at once.
 * auth_cert_check: the same question answered from the cache of the last store
 * refresh, for every certificate client (user NULL when the certificate is not
 * the identity: pins then do not apply). Refusals are logged and audited with
 * the fingerprint. AR_NONE or AR_NOT_AUTHORIZED.
 */
enum auth_refusal auth_cert_check(struct auth *a, const char *user, const char *fp,
                                  const char *cid, const char *addr);
struct tls_info;
/* Record that ti's certificate was seen: a store write on a worker, at most once an
 * hour per certificate (warden cert list-seen). Never blocks. */
void auth_cert_seen(struct auth *a, const struct tls_info *ti);

/* The permissions of anonymous clients as of the last store check (NULL without a
 * store). Borrows: take a reference to keep them. */
struct perms *auth_anonymous_perms(struct auth *a);
/* The connection went away: done() will not be called for this ticket. */
void auth_cancel(struct auth_ticket *t);

/* Step 4: may identity (NULL = anonymous) use this client id on this listener? */
enum auth_refusal auth_owns(struct auth *a, const struct listener *l, const char *cid,
                            size_t cidlen, const char *identity, const char *ip);

/* Is this identity (user name) still allowed (not deleted, disabled or banned)?
 * Answers from the caches of the last refresh. */
bool auth_identity_banned(const struct auth *a, const char *user, const char *cid,
                          const char *ip);

/*
 * A new socket from ip: within max_connections_per_address and
 * connect_rate_per_address? true counts it (auth_release() when it closes).
 */
bool auth_accept(struct auth *a, const char *ip);
void auth_release(struct auth *a, const char *ip);

/*
 * Append an audit entry (actor "broker") on an auth worker: the broker thread
 * never writes the store. Copies its arguments. Returns false when it was
 * dropped (no store, out of memory, worker queue full).
 */
bool auth_audit(struct auth *a, const char *action, const char *target, const char *result);

/*
 * Client cid was disconnected by an on_deny strikes policy. The third time
 * within ten minutes its client id is banned for auth_ban_duration (written
 * on a worker; the ban cache has it after the next refresh).
 */
void auth_deny_disconnect(struct auth *a, const char *cid);

/* Run j on an auth worker (for the broker thread's other slow work: oauth.c).
 * WD_EBUSY when max_pending_auth jobs already wait. */
struct worker_job;
enum wd_err auth_submit(struct auth *a, struct worker_job *j);
/* The identity store's operations, NULL without a store. Thread: workers may call them. */
const struct backend_ops *auth_backend(const struct auth *a);
/* SIGHUP: re-read the JWKS files of the store's token issuers (on a worker; logged). */
void auth_tokens_reload(struct auth *a);

/* Store generation last seen (0 before the first refresh or without a store). */
uint64_t auth_generation(const struct auth *a);

#endif
