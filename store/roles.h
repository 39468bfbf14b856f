/*
 * roles.h - role records, inside the caller's transaction. The roles
 * "anonymous" and "default" always exist: they are created with the store,
 * recreated at open if missing, and cannot be deleted.
 */
#ifndef WD_ROLES_H
#define WD_ROLES_H

#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "err.h"
#include "store.h"

#define ROLES_NAME_MAX 64
#define ROLES_DESC_MAX 1024

/* 1..64 of [A-Za-z0-9_.:-]. */
bool roles_valid_name(const char *name);
/* "anonymous" or "default". */
bool roles_is_builtin(const char *name);

/*
 * A role's on_deny policy as written on the command line: "drop", "disconnect",
 * "strikes:N" (N 1..DENY_STRIKES_MAX) or "none" (the role sets no policy).
 * out: *policy (enum deny_policy), *strikes. WD_OK or WD_EINVAL.
 */
enum wd_err roles_parse_on_deny(const char *s, uint8_t *policy, uint16_t *strikes);
/* The same text back ("none" for DENY_UNSET) into out[0..n). */
void roles_format_on_deny(uint8_t policy, uint16_t strikes, char *out, size_t n);

/* Returns owned: *out (backend_role_free). WD_ENOTFOUND "unknown role 'x'". */
enum wd_err roles_get(struct store_txn *t, const char *name, struct role **out);
/* WD_EEXIST when taken; name, description and rules are checked. */
enum wd_err roles_add(struct store_txn *t, const struct role *r);
/* Replace an existing role. */
enum wd_err roles_update(struct store_txn *t, const struct role *r);
/*
 * Delete a role. When users hold it: without force WD_EBUSY (the reason names
 * them); with force the role is also taken from them. out: *stripped users
 * changed (may be NULL). Built-in roles: WD_EDENIED.
 */
enum wd_err roles_del(struct store_txn *t, const char *name, bool force, size_t *stripped);
/* Returns owned: every role in name order, free with roles_list_free(). */
enum wd_err roles_list(struct store_txn *t, struct role ***out, size_t *n);
void roles_list_free(struct role **v, size_t n);

/* Are both built-in roles present? */
enum wd_err roles_builtin_present(struct store_txn *t, bool *present);
/* Create missing built-in roles. out: *created whether any was. */
enum wd_err roles_ensure_builtin(struct store_txn *t, bool *created);

#endif
