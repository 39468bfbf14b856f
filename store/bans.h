/*
 * bans.h - bans of a client id, a user name or an address range (IPv4/IPv6
 * CIDR), permanent or until a time. Inside the caller's transaction.
 */
#ifndef WD_BANS_H
#define WD_BANS_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "store.h"

#define BANS_VALUE_MAX 1024
#define BANS_CIDR_MAX 64   /* "ffff:...:ffff/128" fits */

/* "client", "user", "address". */
const char *bans_kind_name(uint8_t kind);
/*
 * Canonical CIDR: "10.1.2.3/8" -> "10.0.0.0/8", "2001:db8::1" -> "2001:db8::1/128".
 * WD_OK or WD_EINVAL.
 */
enum wd_err bans_parse_cidr(const char *in, char out[BANS_CIDR_MAX]);

/* Add a ban (an address value is made canonical first). WD_EEXIST, WD_EINVAL. */
enum wd_err bans_add(struct store_txn *t, const struct ban *b);
/* WD_ENOTFOUND when there is no such ban. */
enum wd_err bans_del(struct store_txn *t, uint8_t kind, const char *value);
/* Returns owned: every ban, expired ones too (backend_bans_free). */
enum wd_err bans_list(struct store_txn *t, struct ban **out, size_t *n);

#endif
