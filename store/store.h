/*
 * store.h - the LMDB environment: open (create, permissions, stale readers,
 * schema migration), named databases, and transactions run as callbacks.
 *
 * Every change is one callback run inside one write transaction by
 * store_write(): when the callback fails, nothing is committed; when the map
 * is full, the transaction is thrown away, the map doubled and the callback
 * run again from the start (so a callback must have no effect outside its
 * transaction). A map grown by another process is picked up on the next
 * transaction. A callback that changes identities, roles, rules, bindings or
 * bans calls store_txn_changed(), and the generation counter moves in the same
 * transaction. Thread: one struct store may be shared by threads; a
 * transaction stays on the thread that runs its callback.
 */
#ifndef WD_STORE_H
#define WD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "backend.h"
#include "err.h"
#include "record.h"

#define STORE_MAP_DEFAULT (8u << 20)          /* initial map: 8 MiB */
#define STORE_MAP_MAX ((size_t)4 << 30)       /* growth stops here: 4 GiB */
#define STORE_AUDIT_DEFAULT 10000u            /* audit ring size */
#define STORE_MSG_MAX 256

enum store_db {
    DB_META,
    DB_USERS,
    DB_ROLES,
    DB_BINDINGS,
    DB_BANS,
    DB_AUDIT,
    DB_CERTS,  /* pinned and revoked certificate fingerprints, certificates seen */
    DB_TOKENS, /* token issuers and keys, revoked token ids */
    DB_COUNT
};

struct store_opts {
    size_t map_size;       /* initial map size, 0 = STORE_MAP_DEFAULT */
    size_t map_max;        /* growth limit, 0 = STORE_MAP_MAX */
    uint32_t audit_max;    /* audit ring size, 0 = STORE_AUDIT_DEFAULT */
    bool create;           /* create the directory and the store when missing */
};

struct store;

struct store_txn {
    struct store *s;
    MDB_txn *txn;
    bool write;
    bool changed;          /* store_txn_changed(): bump the generation at commit */
    bool map_full;         /* a put hit MDB_MAP_FULL: store_write grows and retries */
    char msg[STORE_MSG_MAX]; /* one-line reason set by store_txn_fail() */
};

/* A transaction body. Returns WD_OK to commit (write) or any error to abort. */
typedef enum wd_err (*store_txn_fn)(struct store_txn *t, void *arg);

/*
 * Open (and with o->create, create) the store in dir: directory 0700, files
 * 0600, stale reader slots cleared, schema initialised or migrated.
 * out: *s, free with store_close(). why: a one-line reason on failure.
 * WD_OK, WD_ENOTFOUND (no store and !create), WD_EVERSION (written by a newer
 * Warden), WD_EMALFORMED (meta record unreadable), WD_EIO, WD_ENOMEM.
 */
enum wd_err store_open(const char *dir, const struct store_opts *o, struct store **out,
                       char *why, size_t whylen);
/* store_close(NULL) is a no-op. No transaction may be running. */
void store_close(struct store *s);

/* Run fn in a read transaction. Returns what fn returned, or an LMDB failure. */
enum wd_err store_read(struct store *s, store_txn_fn fn, void *arg);
/* Run fn in a write transaction and commit when it returns WD_OK (see the top). */
enum wd_err store_write(struct store *s, store_txn_fn fn, void *arg);
/* The reason for the last failed store_read/store_write on this thread's call: the
 * callback's store_txn_fail() text, or a description of the LMDB failure. */
const char *store_errmsg(const struct store *s);

/* Inside a write callback: this transaction changes identity data. */
void store_txn_changed(struct store_txn *t);
/* Record a one-line reason and return e (for `return store_txn_fail(...)`). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
enum wd_err store_txn_fail(struct store_txn *t, enum wd_err e, const char *fmt, ...);

/*
 * Record access inside a transaction. store_get: WD_OK with *val borrowed
 * until the transaction ends or the next write in it; WD_ENOTFOUND.
 * store_put with noovwr: WD_EEXIST when the key exists.
 */
enum wd_err store_get(struct store_txn *t, enum store_db db, const void *key, size_t klen,
                      const void **val, size_t *vlen);
enum wd_err store_put(struct store_txn *t, enum store_db db, const void *key, size_t klen,
                      const void *val, size_t vlen, bool noovwr);
enum wd_err store_del(struct store_txn *t, enum store_db db, const void *key, size_t klen);

/* Iterate: WD_OK goes on, WD_ELIMIT stops (store_each then returns WD_OK), anything
 * else stops and is returned. key/val borrowed for the call. */
typedef enum wd_err (*store_each_fn)(void *ctx, const void *key, size_t klen, const void *val,
                                     size_t vlen);
enum wd_err store_each(struct store_txn *t, enum store_db db, bool reverse, store_each_fn fn,
                       void *ctx);
/* Number of records in db. */
enum wd_err store_count(struct store_txn *t, enum store_db db, size_t *n);

/* The meta record (schema, generation, audit sequence). */
enum wd_err store_meta_get(struct store_txn *t, struct record_meta *m);
enum wd_err store_meta_put(struct store_txn *t, const struct record_meta *m);

/* The generation counter in one read transaction. */
enum wd_err store_generation(struct store *s, uint64_t *out);
/* Size of the audit ring. */
uint32_t store_audit_max(const struct store *s);

struct store_info {
    char path[512];
    uint32_t schema;
    uint64_t generation;
    size_t map_size;       /* bytes */
    size_t used;           /* bytes in use (last page number x page size) */
    unsigned page_size;
    unsigned max_readers, readers;
    size_t last_txn;
    unsigned stale_readers_cleared; /* slots of killed readers cleared when this process opened */
    size_t counts[DB_COUNT];
};
enum wd_err store_info(struct store *s, struct store_info *out);

/* Consistent compacted copy to file (created 0600, must not exist). */
enum wd_err store_backup(struct store *s, const char *file);

/* One problem found by store_verify: database name, key as text, what is wrong. */
typedef void (*store_verify_fn)(void *ctx, const char *db, const char *key, const char *problem);
/* Decode every record and check references. *problems: how many were reported. */
enum wd_err store_verify(struct store *s, store_verify_fn fn, void *ctx, size_t *problems);

/* Name of a database ("users"), for messages. */
const char *store_db_name(enum store_db db);

/* The backend_ops for the broker (backend.c). The store must outlive ops. */
void store_backend_ops(struct store *s, struct backend_ops *ops);

#endif
