/*
 * schema.h - the store's schema version and the migrations between versions.
 *
 * The meta record holds the schema version. Opening a store written by an
 * older Warden runs every migration from its version to SCHEMA_VERSION in one
 * write transaction; a store written by a newer Warden is refused, never
 * rewritten. History:
 *   1  users without last_login and note (user record version 1)
 *   2  users carry last_login and note (user record version 2)
 *   3  roles carry an on_deny policy (role record version 2)
 */
#ifndef WD_SCHEMA_H
#define WD_SCHEMA_H

#include <stdbool.h>

#include "err.h"
#include "store.h"

#define SCHEMA_VERSION 4

/*
 * In a read transaction: does the store need schema_upgrade()? (no meta yet,
 * an older schema, a built-in role missing). out: *(bool *)needs_write.
 * WD_OK, WD_EVERSION (newer than this Warden), WD_EMALFORMED.
 */
enum wd_err schema_check(struct store_txn *t, bool *needs_write);

/* In a write transaction: initialise, migrate, create the built-in roles. */
enum wd_err schema_upgrade(struct store_txn *t);

#endif
