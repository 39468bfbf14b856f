/*
 * certpol.h - the broker's copy of the store's certificate policy: revoked
 * fingerprints and pins (certificates that alone authenticate as a user),
 * loaded on an auth worker when the store generation moves and consulted on
 * the broker thread for live sessions and as the fast path at CONNECT; plus
 * the throttle that keeps the "seen" bookkeeping to one store write per
 * certificate per hour, however often a device reconnects.
 *
 * A snapshot is immutable once loaded. Lookups are binary searches over
 * sorted arrays. Thread: certpol_load on a worker; the rest on the broker.
 */
#ifndef WD_CERTPOL_H
#define WD_CERTPOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"

#define CERTPOL_SEEN_SLOTS 1024          /* throttle entries (power of two) */
#define CERTPOL_SEEN_EVERY_MS 3600000u   /* one sighting write per certificate per hour */

struct certpol;

/* Returns owned: *out, the revocations and pins in the store now (certpol_free).
 * Without the certificate ops: an empty policy. WD_OK, WD_ENOMEM or the store's error. */
enum wd_err certpol_load(const struct backend_ops *ops, struct certpol **out);
/* certpol_free(NULL) is a no-op. */
void certpol_free(struct certpol *p);
/* p NULL: nothing known, CERT_VERDICT_OK. user NULL: not a certificate identity. */
enum cert_verdict certpol_check(const struct certpol *p, const char *user,
                                const uint8_t fp[CERT_FP_LEN]);
/* "revoked" / "not pinned" / "ok". */
const char *certpol_verdict_text(enum cert_verdict v);

struct certpol_seen_slot {
    uint8_t fp[CERT_FP_LEN];
    uint64_t written_ms;       /* 0 = free slot */
};

struct certpol_seen {
    struct certpol_seen_slot slot[CERTPOL_SEEN_SLOTS];
};

/* Is a sighting write of fp due at now_ms? true marks it written (a slot is
 * taken, evicting the oldest in its window); certpol_seen_forget() undoes it
 * when the write could not be queued. */
bool certpol_seen_due(struct certpol_seen *t, const uint8_t fp[CERT_FP_LEN], uint64_t now_ms);
void certpol_seen_forget(struct certpol_seen *t, const uint8_t fp[CERT_FP_LEN]);

#endif
