/*
 * bindings.h - client-id bindings: a client id, a prefix or a POSIX extended
 * regular expression (matched against the whole client id) bound to the one
 * identity allowed to use it. Inside the caller's transaction.
 */
#ifndef WD_BINDINGS_H
#define WD_BINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "store.h"

#define BINDINGS_PATTERN_MAX 1024

/* "exact", "prefix", "regex". */
const char *bindings_kind_name(uint8_t kind);
/* Is pattern acceptable for kind (a regex must compile)? WD_OK or WD_EINVAL + why. */
enum wd_err bindings_validate(uint8_t kind, const char *pattern, char *why, size_t whylen);
/* Does client_id match binding b? (for the broker and tests) */
bool bindings_match(const struct binding *b, const char *client_id);

/* Add a binding; the user must exist. WD_EEXIST when the pattern is bound already. */
enum wd_err bindings_add(struct store_txn *t, const struct binding *b);
/* WD_ENOTFOUND when there is no such binding. */
enum wd_err bindings_del(struct store_txn *t, uint8_t kind, const char *pattern);
/* Returns owned: every binding (backend_bindings_free). */
enum wd_err bindings_list(struct store_txn *t, struct binding **out, size_t *n);
/* Delete every binding of user. out: *n deleted. */
enum wd_err bindings_del_user(struct store_txn *t, const char *user, size_t *n);

#endif
