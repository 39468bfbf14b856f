/*
 * store.c - the LMDB environment and its transactions.
 *
 * Identity data is small and changes rarely; it is written by short
 * transactions of admin commands (possibly from several processes at once)
 * and read at connect time. Invariants: a write commits all of one
 * callback's work or nothing; the generation counter moves in the same
 * transaction as the change it announces; mdb_env_set_mapsize() runs only
 * while this process holds no transaction (the rwlock: transactions hold it
 * shared, resizing holds it exclusive).
 */
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "schema.h"

#define MAX_ATTEMPTS 12        /* grow/retry rounds per transaction */
#define MAX_DBS 16             /* room for tokens, retained, sessions, queues */

struct store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    pthread_rwlock_t lock;     /* shared: a transaction runs; exclusive: resizing the map */
    size_t map_max;
    uint32_t audit_max;
    unsigned slow_ms;          /* WARDEN_TEST_SLOW_TXN: hold each write this long (tests) */
    unsigned slow_read_ms;     /* WARDEN_TEST_SLOW_READ: hold each read this long (tests) */
    unsigned stale_cleared;    /* reader slots of dead processes cleared at open */
    char path[512];
};

static const char *const db_names[DB_COUNT] = {"meta",  "users", "roles",  "bindings",
                                               "bans",  "audit", "certs",  "tokens"};

static _Thread_local char last_msg[STORE_MSG_MAX];

const char *store_db_name(enum store_db db)
{
    return (unsigned)db < DB_COUNT ? db_names[db] : "?";
}

const char *store_errmsg(const struct store *s)
{
    (void)s;
    return last_msg;
}

uint32_t store_audit_max(const struct store *s)
{
    return s->audit_max;
}

void store_txn_changed(struct store_txn *t)
{
    assert(t->write);
    t->changed = true;
}

enum wd_err store_txn_fail(struct store_txn *t, enum wd_err e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    va_end(ap);
    return e;
}

/* Map an LMDB failure to an error code and a message in t. */
static enum wd_err mdb_fail(struct store_txn *t, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL) {
        t->map_full = true;
        return store_txn_fail(t, WD_ELIMIT, "%s: the store is full", what);
    }
    if (rc == MDB_TXN_FULL)
        return store_txn_fail(t, WD_ELIMIT, "%s: transaction too large", what);
    if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID)
        return store_txn_fail(t, WD_EMALFORMED, "%s: %s", what, mdb_strerror(rc));
    if (rc == ENOMEM)
        return store_txn_fail(t, WD_ENOMEM, "%s: out of memory", what);
    return store_txn_fail(t, WD_EIO, "%s: %s", what, mdb_strerror(rc));
}

enum wd_err store_get(struct store_txn *t, enum store_db db, const void *key, size_t klen,
                      const void **val, size_t *vlen)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[db], &k, &v);
    if (rc == MDB_NOTFOUND)
        return WD_ENOTFOUND;
    if (rc)
        return mdb_fail(t, rc, "read");
    *val = v.mv_data;
    *vlen = v.mv_size;
    return WD_OK;
}

enum wd_err store_put(struct store_txn *t, enum store_db db, const void *key, size_t klen,
                      const void *val, size_t vlen, bool noovwr)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int rc = mdb_put(t->txn, t->s->dbi[db], &k, &v, noovwr ? MDB_NOOVERWRITE : 0);
    if (rc == MDB_KEYEXIST)
        return WD_EEXIST;
    if (rc)
        return mdb_fail(t, rc, "write");
    return WD_OK;
}

enum wd_err store_del(struct store_txn *t, enum store_db db, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(t->txn, t->s->dbi[db], &k, NULL);
    if (rc == MDB_NOTFOUND)
        return WD_ENOTFOUND;
    if (rc)
        return mdb_fail(t, rc, "delete");
    return WD_OK;
}

enum wd_err store_each(struct store_txn *t, enum store_db db, bool reverse, store_each_fn fn,
                       void *ctx)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc)
        return mdb_fail(t, rc, "cursor");
    MDB_val k, v;
    enum wd_err e = WD_OK;
    rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_LAST : MDB_FIRST);
    while (rc == 0) {
        e = fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
        if (e != WD_OK)
            break;
        rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (e == WD_ELIMIT)
        return WD_OK;
    if (e != WD_OK)
        return e;
    if (rc != MDB_NOTFOUND)
        return mdb_fail(t, rc, "cursor");
    return WD_OK;
}

enum wd_err store_count(struct store_txn *t, enum store_db db, size_t *n)
{
    MDB_stat st;
    int rc = mdb_stat(t->txn, t->s->dbi[db], &st);
    if (rc)
        return mdb_fail(t, rc, "stat");
    *n = st.ms_entries;
    return WD_OK;
}

enum wd_err store_meta_get(struct store_txn *t, struct record_meta *m)
{
    const void *v = NULL;
    size_t n = 0;
    enum wd_err e = store_get(t, DB_META, RECORD_META_KEY, strlen(RECORD_META_KEY), &v, &n);
    if (e == WD_ENOTFOUND)
        return store_txn_fail(t, WD_EMALFORMED, "the meta record is missing");
    if (e != WD_OK)
        return e;
    e = record_decode_meta(v, n, m);
    if (e != WD_OK)
        return store_txn_fail(t, e, "the meta record does not decode");
    return WD_OK;
}

enum wd_err store_meta_put(struct store_txn *t, const struct record_meta *m)
{
    uint8_t b[RECORD_META_SIZE];
    record_encode_meta(m, b);
    return store_put(t, DB_META, RECORD_META_KEY, strlen(RECORD_META_KEY), b, sizeof b, false);
}

/* Another process grew the map: adopt its size. */
static void pickup_resize(struct store *s)
{
    pthread_rwlock_wrlock(&s->lock);
    mdb_env_set_mapsize(s->env, 0);
    pthread_rwlock_unlock(&s->lock);
}

/* Double the map, up to map_max. WD_OK or WD_ELIMIT. */
static enum wd_err grow(struct store *s)
{
    enum wd_err e = WD_OK;
    pthread_rwlock_wrlock(&s->lock);
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    size_t cur = info.me_mapsize;
    if (cur >= s->map_max) {
        e = WD_ELIMIT;
    } else {
        size_t next = cur > s->map_max / 2 ? s->map_max : cur * 2;
        if (mdb_env_set_mapsize(s->env, next) != 0)
            e = WD_ELIMIT;
    }
    pthread_rwlock_unlock(&s->lock);
    return e;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* One transaction attempt. *retry: grow or pick up the map and run again. */
static enum wd_err run_txn(struct store *s, bool write, store_txn_fn fn, void *arg, bool *retry)
{
    struct store_txn t = {.s = s, .write = write};
    *retry = false;
    pthread_rwlock_rdlock(&s->lock);
    int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t.txn);
    if (rc == MDB_MAP_RESIZED) {
        pthread_rwlock_unlock(&s->lock);
        pickup_resize(s);
        *retry = true;
        return WD_EAGAIN;
    }
    if (rc) {
        pthread_rwlock_unlock(&s->lock);
        enum wd_err e = mdb_fail(&t, rc, "begin transaction");
        snprintf(last_msg, sizeof last_msg, "%s", t.msg);
        return e;
    }
    enum wd_err e = fn(&t, arg);
    if (e == WD_OK && write && t.changed) {
        struct record_meta m;
        e = store_meta_get(&t, &m);
        if (e == WD_OK) {
            m.generation++;
            e = store_meta_put(&t, &m);
        }
    }
    if (e == WD_OK && write) {
        if (s->slow_ms) {
            fprintf(stderr, "warden: test: holding the write transaction for %u ms\n",
                    s->slow_ms);
            sleep_ms(s->slow_ms);
        }
        rc = mdb_txn_commit(t.txn);
        if (rc)
            e = mdb_fail(&t, rc, "commit");
    } else if (write) {
        mdb_txn_abort(t.txn);
    } else {
        if (s->slow_read_ms && e == WD_OK) {
            fprintf(stderr, "warden: test: holding a read transaction for %u ms\n",
                    s->slow_read_ms);
            sleep_ms(s->slow_read_ms);
        }
        mdb_txn_commit(t.txn); /* read-only: keeps dbi handles opened inside it */
    }
    pthread_rwlock_unlock(&s->lock);
    if (e != WD_OK && t.map_full) {
        if (grow(s) == WD_OK) {
            *retry = true;
            return WD_EAGAIN;
        }
        snprintf(last_msg, sizeof last_msg, "the store is full (map limit %zu MiB reached)",
                 s->map_max >> 20);
        return WD_ELIMIT;
    }
    if (e != WD_OK)
        snprintf(last_msg, sizeof last_msg, "%s", t.msg[0] ? t.msg : wd_strerror(e));
    return e;
}

static enum wd_err txn_loop(struct store *s, bool write, store_txn_fn fn, void *arg)
{
    last_msg[0] = '\0';
    for (int i = 0; i < MAX_ATTEMPTS; i++) {
        bool retry;
        enum wd_err e = run_txn(s, write, fn, arg, &retry);
        if (!retry)
            return e;
    }
    snprintf(last_msg, sizeof last_msg, "transaction retried %d times, giving up", MAX_ATTEMPTS);
    return WD_EBUSY;
}

enum wd_err store_read(struct store *s, store_txn_fn fn, void *arg)
{
    return txn_loop(s, false, fn, arg);
}

enum wd_err store_write(struct store *s, store_txn_fn fn, void *arg)
{
    return txn_loop(s, true, fn, arg);
}

/* Open every named database; with create, in a write transaction. */
static enum wd_err open_dbis(struct store_txn *t, void *arg)
{
    bool create = *(bool *)arg;
    for (int i = 0; i < DB_COUNT; i++) {
        int rc = mdb_dbi_open(t->txn, db_names[i], create ? MDB_CREATE : 0, &t->s->dbi[i]);
        if (rc == MDB_NOTFOUND)
            return WD_ENOTFOUND;
        if (rc)
            return mdb_fail(t, rc, "open database");
    }
    return WD_OK;
}

static enum wd_err check_schema(struct store_txn *t, void *arg)
{
    return schema_check(t, arg);
}

static enum wd_err upgrade_schema(struct store_txn *t, void *arg)
{
    (void)arg;
    enum wd_err e = open_dbis(t, &(bool){true});
    if (e == WD_OK)
        e = schema_upgrade(t);
    return e;
}

/* Create dir (0700) when missing; it must be a directory. */
static enum wd_err make_dir(const char *dir, bool create, char *why, size_t whylen)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(why, whylen, "%s is not a directory", dir);
            return WD_EIO;
        }
        char data[600];
        snprintf(data, sizeof data, "%s/data.mdb", dir);
        if (!create && access(data, F_OK) != 0) {
            snprintf(why, whylen, "no store in %s", dir);
            return WD_ENOTFOUND;
        }
        return WD_OK;
    }
    if (errno != ENOENT || !create) {
        snprintf(why, whylen, errno == ENOENT ? "no store in %s" : "%s: %s", dir,
                 strerror(errno));
        return errno == ENOENT ? WD_ENOTFOUND : WD_EIO;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "cannot create %s: %s", dir, strerror(errno));
        return WD_EIO;
    }
    return WD_OK;
}

enum wd_err store_open(const char *dir, const struct store_opts *o, struct store **out,
                       char *why, size_t whylen)
{
    static const struct store_opts none;
    if (!o)
        o = &none;
    why[0] = '\0';
    if (strlen(dir) >= sizeof ((struct store *)0)->path - 16) {
        snprintf(why, whylen, "store path too long");
        return WD_EINVAL;
    }
    enum wd_err e = make_dir(dir, o->create, why, whylen);
    if (e != WD_OK)
        return e;
    struct store *s = wd_calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, whylen, "out of memory");
        return WD_ENOMEM;
    }
    snprintf(s->path, sizeof s->path, "%s", dir);
    s->map_max = o->map_max ? o->map_max : STORE_MAP_MAX;
    size_t map_size = o->map_size ? o->map_size : STORE_MAP_DEFAULT;
    if (map_size > s->map_max)
        map_size = s->map_max;
    s->audit_max = o->audit_max ? o->audit_max : STORE_AUDIT_DEFAULT;
    const char *slow = getenv("WARDEN_TEST_SLOW_TXN");
    if (slow)
        s->slow_ms = (unsigned)strtoul(slow, NULL, 10);
    slow = getenv("WARDEN_TEST_SLOW_READ");
    if (slow)
        s->slow_read_ms = (unsigned)strtoul(slow, NULL, 10);
    pthread_rwlock_init(&s->lock, NULL);

    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, MAX_DBS);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, map_size);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600);
    if (rc) {
        snprintf(why, whylen, "cannot open the store in %s: %s", dir, mdb_strerror(rc));
        store_close(s);
        return rc == ENOMEM ? WD_ENOMEM : WD_EIO;
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* clear slots of readers that were killed */
    s->stale_cleared = dead > 0 ? (unsigned)dead : 0;

    /* Read first, so that opening does not wait for a writer in another process. */
    bool needs_write = false;
    e = store_read(s, open_dbis, &(bool){false});
    if (e == WD_OK)
        e = store_read(s, check_schema, &needs_write);
    if (e == WD_ENOTFOUND || (e == WD_OK && needs_write))
        e = store_write(s, upgrade_schema, NULL);
    if (e != WD_OK) {
        snprintf(why, whylen, "%s: %s", dir, store_errmsg(s)[0] ? store_errmsg(s)
                                                               : wd_strerror(e));
        store_close(s);
        return e;
    }
    *out = s;
    return WD_OK;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->env)
        mdb_env_close(s->env);
    pthread_rwlock_destroy(&s->lock);
    wd_free(s);
}

static enum wd_err read_generation(struct store_txn *t, void *arg)
{
    struct record_meta m;
    enum wd_err e = store_meta_get(t, &m);
    if (e == WD_OK)
        *(uint64_t *)arg = m.generation;
    return e;
}

enum wd_err store_generation(struct store *s, uint64_t *out)
{
    return store_read(s, read_generation, out);
}

static enum wd_err read_info(struct store_txn *t, void *arg)
{
    struct store_info *in = arg;
    struct record_meta m;
    enum wd_err e = store_meta_get(t, &m);
    if (e != WD_OK)
        return e;
    in->schema = m.schema;
    in->generation = m.generation;
    for (int i = 0; i < DB_COUNT && e == WD_OK; i++)
        e = store_count(t, (enum store_db)i, &in->counts[i]);
    return e;
}

enum wd_err store_info(struct store *s, struct store_info *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", s->path);
    enum wd_err e = store_read(s, read_info, out);
    if (e != WD_OK)
        return e;
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &st);
    out->map_size = info.me_mapsize;
    out->page_size = st.ms_psize;
    out->used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    out->max_readers = info.me_maxreaders;
    out->readers = info.me_numreaders;
    out->last_txn = info.me_last_txnid;
    out->stale_readers_cleared = s->stale_cleared;
    return WD_OK;
}

enum wd_err store_backup(struct store *s, const char *file)
{
    last_msg[0] = '\0';
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(last_msg, sizeof last_msg, "cannot create %s: %s", file, strerror(errno));
        return WD_EIO;
    }
    pthread_rwlock_rdlock(&s->lock);
    int rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
    pthread_rwlock_unlock(&s->lock);
    if (rc == 0 && fsync(fd) != 0)
        rc = errno;
    if (close(fd) != 0 && rc == 0)
        rc = errno;
    if (rc) {
        snprintf(last_msg, sizeof last_msg, "backup to %s failed: %s", file, mdb_strerror(rc));
        unlink(file);
        return WD_EIO;
    }
    return WD_OK;
}
