/*
 * tokens.h - DB_TOKENS: trusted token issuers (their keys kept in the store,
 * a JWKS document re-readable from its file), Warden's own signing keys, and
 * revoked token ids. Inside the caller's transaction.
 *
 * Revocations and issuer changes move the generation counter, so that the
 * broker re-checks live token sessions within a second; the signing keys do
 * not (creating them changes nobody's permissions).
 */
#ifndef WD_TOKENS_H
#define WD_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "store.h"

#define TOKENS_JTI_MAX 256     /* bytes of a revoked token id */
#define TOKENS_ISS_MAX 1024    /* bytes of an iss or aud value */

/* Add an issuer (name and iss unique). WD_EEXIST, WD_EINVAL (reason in t). */
enum wd_err tokens_issuer_add(struct store_txn *t, const struct token_issuer *i);
/* Replace an existing issuer's record (reload). WD_ENOTFOUND. */
enum wd_err tokens_issuer_put(struct store_txn *t, const struct token_issuer *i);
enum wd_err tokens_issuer_del(struct store_txn *t, const char *name);
/* Returns owned: *out fields (backend_issuer_fini). WD_ENOTFOUND. */
enum wd_err tokens_issuer_get(struct store_txn *t, const char *name, struct token_issuer *out);
/* The issuer whose iss is iss. Returns owned as above. WD_ENOTFOUND. */
enum wd_err tokens_issuer_find(struct store_txn *t, const char *iss, struct token_issuer *out);
/* Returns owned: every issuer, free each with backend_issuer_fini then wd_free(*out). */
enum wd_err tokens_issuers_list(struct store_txn *t, struct token_issuer **out, size_t *n);

/* Revoke r->jti until r->until (0 = for ever), replacing an earlier revocation of it;
 * revocations that ended before r->created are dropped in the same transaction. */
enum wd_err tokens_revoke(struct store_txn *t, const struct token_revoked *r);
/* Is jti revoked at now? */
enum wd_err tokens_is_revoked(struct store_txn *t, const char *jti, int64_t now, bool *out);
/* Returns owned: revocations still in force at now (backend_revoked_fini each, wd_free). */
enum wd_err tokens_revoked_list(struct store_txn *t, int64_t now, struct token_revoked **out,
                                size_t *n);

/* Warden's signing keys: WD_OK with *out, or WD_ENOTFOUND. */
enum wd_err tokens_signing_get(struct store_txn *t, struct token_signing *out);
/* Store k unless keys exist (then *out is the stored ones). Write transaction. */
enum wd_err tokens_signing_ensure(struct store_txn *t, const struct token_signing *k,
                                  struct token_signing *out);

#endif
