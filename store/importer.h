/*
 * importer.h - write what store/import.c parsed from Mosquitto's files into
 * the store, inside the caller's one write transaction (all or nothing).
 *
 * Mapping: password-file and dynsec users become users with their hash kept
 * as is (re-hashed to Argon2id at the next login); dynsec roles become roles
 * (a dynsec role named anonymous or default adds its rules to Warden's
 * built-in role); a dynsec client's clientid becomes an exact client-id
 * binding; acl_file `topic` lines before any `user` line and the
 * anonymousGroup's roles go to the role anonymous, `pattern` lines to the role
 * default, `user` sections to that user's own rules (a user named only in the
 * acl_file is created without a password: certificate or token only); the
 * dynsec defaultACLAccess grants become allow-all rules at the end of
 * default. Rules are appended in that order (dynsec roles, then acl_file
 * lines, then the default grants). A name already in the store stops the
 * whole import.
 */
#ifndef WD_IMPORTER_H
#define WD_IMPORTER_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "import.h"
#include "store.h"

struct importer_counts {
    size_t users;          /* users created */
    size_t users_acl_only; /* of them: named only by the acl_file, no password */
    size_t roles;          /* roles created */
    size_t rules;          /* rules added (to users and roles) */
    size_t bindings;       /* client-id bindings created */
};

/*
 * Apply imp in transaction t. dynsec: whether a dynamic-security file was
 * parsed (its defaultACLAccess then applies). out: *counts.
 * WD_OK, or an error with a one-line reason in t (store_txn_fail).
 */
enum wd_err importer_apply(struct store_txn *t, const struct import *imp, bool dynsec,
                           struct importer_counts *counts);

#endif
