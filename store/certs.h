/*
 * certs.h - the certs database, inside the caller's transaction: pins
 * (certificates that alone authenticate as a user), the store's revocation
 * list, and the certificates the broker has seen. Pins and revocations move
 * the generation counter (the broker re-checks live sessions); sightings are
 * bookkeeping and do not. Failures set a one-line reason with store_txn_fail().
 */
#ifndef WD_CERTS_H
#define WD_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "store.h"

#define CERTS_REASON_MAX 1024   /* bytes of a revocation reason */

/* "pin", "revoked", "seen". */
const char *certs_kind_name(uint8_t kind);

/* Pin r->fp to r->user (which must exist). WD_EEXIST, WD_ENOTFOUND, WD_EINVAL. */
enum wd_err certs_pin_add(struct store_txn *t, const struct cert_rec *r);
/* WD_ENOTFOUND when the user does not exist or does not pin fp. */
enum wd_err certs_pin_del(struct store_txn *t, const char *user, const uint8_t fp[CERT_FP_LEN]);
/* Delete every pin of user (user del). out: *n pins removed. */
enum wd_err certs_pin_del_user(struct store_txn *t, const char *user, size_t *n);

/* Revoke r->fp. WD_EEXIST when it is already revoked, WD_EINVAL (reason). */
enum wd_err certs_revoke(struct store_txn *t, const struct cert_rec *r);
/* WD_ENOTFOUND when fp is not revoked. */
enum wd_err certs_unrevoke(struct store_txn *t, const uint8_t fp[CERT_FP_LEN]);

/* Record a sighting: a new record, or the old one with last_seen and the
 * certificate's fields updated (first seen kept). No generation bump. */
enum wd_err certs_seen(struct store_txn *t, const struct cert_rec *r);

/* Returns owned: every record of kind; user (CERTREC_PIN only, NULL = all) narrows it.
 * Free with backend_certs_free(). */
enum wd_err certs_list(struct store_txn *t, uint8_t kind, const char *user,
                       struct cert_rec **out, size_t *n);

/* The connect-time verdict on certificate fp (user NULL: pins not asked). */
enum wd_err certs_check(struct store_txn *t, const char *user, const uint8_t fp[CERT_FP_LEN],
                        enum cert_verdict *out);

#endif
