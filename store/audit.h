/*
 * audit.h - the audit ring: who changed what, when, with what result.
 * Entries have increasing sequence numbers; past store_audit_max() entries
 * the oldest are dropped in the same transaction that appends.
 */
#ifndef WD_AUDIT_H
#define WD_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "store.h"

/* Append an entry stamped now. Does not move the generation counter. */
enum wd_err audit_append(struct store_txn *t, const char *actor, const char *action,
                         const char *target, const char *result);
/*
 * Returns owned: the last `limit` entries (0 = all) with seq > after, oldest
 * first (backend_audit_free).
 */
enum wd_err audit_list(struct store_txn *t, uint64_t after, size_t limit,
                       struct audit_entry **out, size_t *n);

#endif
