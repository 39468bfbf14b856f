/*
 * users.h - user records, inside the caller's transaction. Changes mark the
 * transaction (generation bump) except the login bookkeeping. Failures set a
 * one-line reason with store_txn_fail().
 */
#ifndef WD_USERS_H
#define WD_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "store.h"

#define USERS_NAME_MAX 255   /* bytes */
#define USERS_NOTE_MAX 1024  /* bytes */

/* 1..USERS_NAME_MAX bytes of UTF-8 without control characters. */
bool users_valid_name(const char *name);
/* UTF-8 without control characters, at most max bytes (notes, descriptions, reasons). */
bool users_valid_text(const char *s, size_t max);

/* Returns owned: *out (backend_user_free). WD_ENOTFOUND "unknown user 'x'". */
enum wd_err users_get(struct store_txn *t, const char *name, struct user **out);
/* A new user: name, roles (must exist, no duplicates, not "default") and rules are
 * checked. WD_EEXIST when the name is taken, WD_EINVAL, WD_ENOTFOUND (a role). */
enum wd_err users_add(struct store_txn *t, const struct user *u);
/* Replace an existing user (same checks). WD_ENOTFOUND when there is none. */
enum wd_err users_update(struct store_txn *t, const struct user *u);
/* Delete a user and its client-id bindings. out: *unbound bindings removed (may be NULL). */
enum wd_err users_del(struct store_txn *t, const char *name, size_t *unbound);
/* Returns owned: every user in name order, free with users_list_free(). */
enum wd_err users_list(struct store_txn *t, struct user ***out, size_t *n);
void users_list_free(struct user **v, size_t n);
/* Login bookkeeping: last_login, and new_hash when not NULL. No generation bump. */
enum wd_err users_login(struct store_txn *t, const char *name, int64_t when,
                        const char *new_hash);

#endif
