/*
 * certs.c - pin, revocation and sighting records of client certificates,
 * keyed by kind byte (+ user name and a 0 byte for pins) + the SHA-256 of
 * the certificate's DER (record.h). A fingerprint names a certificate
 * exactly, so no key material is ever stored. The lists are small (a pin per
 * device at most), so listing walks the database up to the end of its kind;
 * the connect-time check is two point lookups and, when the certificate is
 * not one of the user's pins, a walk of the pins that sort before the user's.
 */
#include "certs.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mem.h"
#include "record.h"
#include "users.h"

const char *certs_kind_name(uint8_t kind)
{
    switch (kind) {
    case CERTREC_PIN: return "pin";
    case CERTREC_REVOKED: return "revoked";
    case CERTREC_SEEN: return "seen";
    default: return "?";
    }
}

/* Put r under its key; noovwr: WD_EEXIST when present. */
static enum wd_err put(struct store_txn *t, const struct cert_rec *r, bool noovwr)
{
    uint8_t *key, *val;
    size_t klen, vlen;
    enum wd_err e = record_cert_key(r->kind, r->user, r->fp, &key, &klen);
    if (e != WD_OK)
        return e;
    e = record_encode_cert(r, &val, &vlen);
    if (e == WD_OK) {
        e = store_put(t, DB_CERTS, key, klen, val, vlen, noovwr);
        wd_free(val);
    }
    wd_free(key);
    return e;
}

static enum wd_err del(struct store_txn *t, uint8_t kind, const char *user,
                       const uint8_t fp[CERT_FP_LEN])
{
    uint8_t *key;
    size_t klen;
    enum wd_err e = record_cert_key(kind, user, fp, &key, &klen);
    if (e != WD_OK)
        return e;
    e = store_del(t, DB_CERTS, key, klen);
    wd_free(key);
    return e;
}

static bool exists(struct store_txn *t, uint8_t kind, const char *user,
                   const uint8_t fp[CERT_FP_LEN], enum wd_err *err)
{
    uint8_t *key;
    size_t klen;
    const void *v;
    size_t vlen;
    *err = record_cert_key(kind, user, fp, &key, &klen);
    if (*err != WD_OK)
        return false;
    *err = store_get(t, DB_CERTS, key, klen, &v, &vlen);
    wd_free(key);
    if (*err == WD_ENOTFOUND) {
        *err = WD_OK;
        return false;
    }
    return *err == WD_OK;
}

/* Text fields an admin may set: no control characters. */
static bool valid_fields(const struct cert_rec *r)
{
    const char *f[] = {r->identity, r->subject, r->issuer, r->reason, r->actor};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i] && !users_valid_text(f[i], CERTS_REASON_MAX))
            return false;
    return true;
}

static enum wd_err user_exists(struct store_txn *t, const char *user)
{
    if (!user || !users_valid_name(user))
        return store_txn_fail(t, WD_EINVAL, "invalid user name '%.100s'", user ? user : "");
    const void *v;
    size_t n;
    enum wd_err e = store_get(t, DB_USERS, user, strlen(user), &v, &n);
    if (e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "unknown user '%.100s'", user);
    return e;
}

enum wd_err certs_pin_add(struct store_txn *t, const struct cert_rec *r)
{
    if (r->kind != CERTREC_PIN)
        return store_txn_fail(t, WD_EINVAL, "not a pin record");
    enum wd_err e = user_exists(t, r->user);
    if (e != WD_OK)
        return e;
    if (!valid_fields(r))
        return store_txn_fail(t, WD_EINVAL, "invalid certificate text (control characters)");
    e = put(t, r, true);
    char hex[CERT_FP_HEX];
    backend_fp_hex(r->fp, hex);
    if (e == WD_EEXIST)
        return store_txn_fail(t, e, "user '%.100s' already pins certificate %s", r->user, hex);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

enum wd_err certs_pin_del(struct store_txn *t, const char *user, const uint8_t fp[CERT_FP_LEN])
{
    enum wd_err e = user_exists(t, user);
    if (e != WD_OK)
        return e;
    e = del(t, CERTREC_PIN, user, fp);
    char hex[CERT_FP_HEX];
    backend_fp_hex(fp, hex);
    if (e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "user '%.100s' does not pin certificate %s", user, hex);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

enum wd_err certs_pin_del_user(struct store_txn *t, const char *user, size_t *n)
{
    struct cert_rec *v = NULL;
    size_t nv = 0;
    *n = 0;
    enum wd_err e = certs_list(t, CERTREC_PIN, user, &v, &nv);
    for (size_t i = 0; i < nv && e == WD_OK; i++) {
        e = del(t, CERTREC_PIN, user, v[i].fp);
        if (e == WD_OK)
            (*n)++;
    }
    backend_certs_free(v, nv);
    if (e == WD_OK && *n)
        store_txn_changed(t);
    return e;
}

enum wd_err certs_revoke(struct store_txn *t, const struct cert_rec *r)
{
    if (r->kind != CERTREC_REVOKED)
        return store_txn_fail(t, WD_EINVAL, "not a revocation record");
    if (!valid_fields(r))
        return store_txn_fail(t, WD_EINVAL, "invalid reason (no control characters, at most "
                                            "%d bytes)", CERTS_REASON_MAX);
    enum wd_err e = put(t, r, true);
    char hex[CERT_FP_HEX];
    backend_fp_hex(r->fp, hex);
    if (e == WD_EEXIST)
        return store_txn_fail(t, e, "certificate %s is already revoked", hex);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

enum wd_err certs_unrevoke(struct store_txn *t, const uint8_t fp[CERT_FP_LEN])
{
    enum wd_err e = del(t, CERTREC_REVOKED, NULL, fp);
    char hex[CERT_FP_HEX];
    backend_fp_hex(fp, hex);
    if (e == WD_ENOTFOUND)
        return store_txn_fail(t, e, "certificate %s is not revoked", hex);
    if (e == WD_OK)
        store_txn_changed(t);
    return e;
}

enum wd_err certs_seen(struct store_txn *t, const struct cert_rec *r)
{
    if (r->kind != CERTREC_SEEN)
        return WD_EINVAL;
    uint8_t *key;
    size_t klen;
    enum wd_err e = record_cert_key(CERTREC_SEEN, NULL, r->fp, &key, &klen);
    if (e != WD_OK)
        return e;
    const void *v;
    size_t vlen;
    struct cert_rec w = *r;
    e = store_get(t, DB_CERTS, key, klen, &v, &vlen);
    if (e == WD_OK) {
        struct cert_rec old;
        /* An old record that does not decode is replaced: it is only bookkeeping. */
        if (record_decode_cert(key, klen, v, vlen, &old) == WD_OK) {
            if (old.created > 0 && old.created < w.created)
                w.created = old.created;
            backend_cert_fini(&old);
        }
    }
    wd_free(key);
    if (e != WD_OK && e != WD_ENOTFOUND)
        return e;
    return put(t, &w, false);
}

struct clist {
    struct cert_rec *v;
    size_t n, cap;
    uint8_t kind;
    const char *user;
};

static enum wd_err collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct clist *l = ctx;
    if (klen && *(const uint8_t *)key > l->kind)
        return WD_ELIMIT; /* keys sort by kind first: no more of this kind */
    if (klen == 0 || *(const uint8_t *)key != l->kind)
        return WD_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct cert_rec *nv = wd_realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return WD_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    enum wd_err e = record_decode_cert(key, klen, val, vlen, &l->v[l->n]);
    if (e != WD_OK)
        return e;
    if (l->user && strcmp(l->v[l->n].user, l->user)) {
        backend_cert_fini(&l->v[l->n]);
        return WD_OK;
    }
    l->n++;
    return WD_OK;
}

enum wd_err certs_list(struct store_txn *t, uint8_t kind, const char *user,
                       struct cert_rec **out, size_t *n)
{
    struct clist l = {.kind = kind, .user = kind == CERTREC_PIN ? user : NULL};
    enum wd_err e = store_each(t, DB_CERTS, false, collect, &l);
    if (e != WD_OK) {
        backend_certs_free(l.v, l.n);
        if (e == WD_EMALFORMED)
            return store_txn_fail(t, e, "a certificate record does not decode (run warden "
                                        "store verify)");
        return e;
    }
    *out = l.v;
    *n = l.n;
    return WD_OK;
}

/*
 * Does user pin anything? Keys sort as 0, user, 0, fingerprint, so one user's
 * pins are contiguous and every pin sorts before every other kind: the walk
 * stops at the user's first pin or at the first key past where it would be.
 */
struct anypin {
    uint8_t prefix[USERS_NAME_MAX + 2];   /* CERTREC_PIN, user, 0 */
    size_t plen;
    bool found;
};

static enum wd_err find_pin(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)val;
    (void)vlen;
    struct anypin *a = ctx;
    size_t m = klen < a->plen ? klen : a->plen;
    int c = memcmp(key, a->prefix, m);
    if (c == 0 && klen > a->plen)
        a->found = true;
    return c > 0 || a->found ? WD_ELIMIT : WD_OK;
}

enum wd_err certs_check(struct store_txn *t, const char *user, const uint8_t fp[CERT_FP_LEN],
                        enum cert_verdict *out)
{
    enum wd_err e;
    *out = CERT_VERDICT_OK;
    if (exists(t, CERTREC_REVOKED, NULL, fp, &e)) {
        *out = CERT_VERDICT_REVOKED;
        return WD_OK;
    }
    if (e != WD_OK || !user || !*user)
        return e;
    if (exists(t, CERTREC_PIN, user, fp, &e) || e != WD_OK)
        return e;
    size_t ulen = strlen(user);
    if (ulen > USERS_NAME_MAX)
        return WD_OK; /* no user has such a name: nothing pinned */
    struct anypin a = {.plen = ulen + 2};
    a.prefix[0] = CERTREC_PIN;
    memcpy(a.prefix + 1, user, ulen);
    a.prefix[ulen + 1] = 0;
    e = store_each(t, DB_CERTS, false, find_pin, &a);
    if (e == WD_OK && a.found)
        *out = CERT_VERDICT_NOT_PINNED;
    return e;
}
