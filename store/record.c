/*
 * record.c - PURE record encoding: a growable writer and a bounds-checked
 * reader over (pointer, length). Writers assert on their own invariants and
 * report limits as WD_ETOOLARGE; readers never trust a length and return
 * WD_EMALFORMED. Records are small (a user is a few hundred bytes), so the
 * writer grows by doubling from 128 bytes.
 */
#include "record.h"

#include <stdbool.h>
#include <string.h>

#include "mem.h"

/* ------------------------------------------------------------ writer */

struct wr {
    uint8_t *p;       /* owned */
    size_t n, cap;
    enum wd_err err;  /* first failure; later writes are no-ops */
};

static void wr_reserve(struct wr *w, size_t more)
{
    if (w->err != WD_OK)
        return;
    if (more > SIZE_MAX / 2 - w->n) {
        w->err = WD_ETOOLARGE;
        return;
    }
    if (w->n + more <= w->cap)
        return;
    size_t cap = w->cap ? w->cap : 128;
    while (cap < w->n + more)
        cap *= 2;
    uint8_t *np = wd_realloc(w->p, cap);
    if (!np) {
        w->err = WD_ENOMEM;
        return;
    }
    w->p = np;
    w->cap = cap;
}

static void wr_bytes(struct wr *w, const void *b, size_t n)
{
    wr_reserve(w, n);
    if (w->err != WD_OK)
        return;
    if (n)
        memcpy(w->p + w->n, b, n);
    w->n += n;
}

static void wr_u8(struct wr *w, uint8_t v)
{
    wr_bytes(w, &v, 1);
}

static void be_put(uint8_t *out, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void wr_uint(struct wr *w, uint64_t v, int bytes)
{
    uint8_t b[8];
    be_put(b, v, bytes);
    wr_bytes(w, b, (size_t)bytes);
}

static void wr_str(struct wr *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > RECORD_MAX_STRING) {
        if (w->err == WD_OK)
            w->err = WD_ETOOLARGE;
        return;
    }
    wr_uint(w, n, 4);
    wr_bytes(w, s, n);
}

static void wr_count(struct wr *w, size_t n)
{
    if (n > RECORD_MAX_LIST) {
        if (w->err == WD_OK)
            w->err = WD_ETOOLARGE;
        return;
    }
    wr_uint(w, n, 2);
}

static void wr_rules(struct wr *w, const struct rule *r, size_t n)
{
    wr_count(w, n);
    for (size_t i = 0; i < n; i++) {
        wr_u8(w, r[i].effect);
        wr_u8(w, r[i].actions);
        wr_u8(w, r[i].max_qos);
        wr_u8(w, r[i].retain ? 1 : 0);
        wr_str(w, r[i].filter);
    }
}

/* Hand the buffer over, or free it on failure. */
static enum wd_err wr_finish(struct wr *w, uint8_t **out, size_t *len)
{
    if (w->err != WD_OK) {
        wd_free(w->p);
        return w->err;
    }
    *out = w->p;
    *len = w->n;
    return WD_OK;
}

static void wr_user_common(struct wr *w, const struct user *u, uint8_t version)
{
    wr_u8(w, version);
    wr_u8(w, u->enabled ? 1 : 0);
    wr_str(w, u->hash);
    wr_count(w, u->nroles);
    for (size_t i = 0; i < u->nroles; i++)
        wr_str(w, u->roles[i]);
    wr_rules(w, u->rules, u->nrules);
    wr_uint(w, (uint64_t)u->created, 8);
    wr_uint(w, (uint64_t)u->updated, 8);
}

enum wd_err record_encode_user(const struct user *u, uint8_t **out, size_t *len)
{
    struct wr w = {0};
    wr_user_common(&w, u, RECORD_USER_V2);
    wr_uint(&w, (uint64_t)u->last_login, 8);
    wr_str(&w, u->note);
    return wr_finish(&w, out, len);
}

enum wd_err record_encode_user_v1(const struct user *u, uint8_t **out, size_t *len)
{
    struct wr w = {0};
    wr_user_common(&w, u, RECORD_USER_V1);
    return wr_finish(&w, out, len);
}

enum wd_err record_encode_role(const struct role *r, uint8_t **out, size_t *len)
{
    struct wr w = {0};
    wr_u8(&w, RECORD_ROLE_V2);
    wr_str(&w, r->description);
    wr_rules(&w, r->rules, r->nrules);
    wr_u8(&w, r->on_deny);
    wr_uint(&w, r->strikes, 2);
    return wr_finish(&w, out, len);
}

enum wd_err record_encode_role_v1(const struct role *r, uint8_t **out, size_t *len)
{
    struct wr w = {0};
    wr_u8(&w, RECORD_ROLE_V1);
    wr_str(&w, r->description);
    wr_rules(&w, r->rules, r->nrules);
    return wr_finish(&w, out, len);
}

enum wd_err record_encode_binding(const struct binding *b, uint8_t **out, size_t *len)
{
    struct wr w = {0};
    wr_u8(&w, RECORD_BINDING_V1);
    wr_str(&w, b->user);
    wr_uint(&w, (uint64_t)b->created, 8);
    return wr_finish(&w, out, len);
}

enum wd_err record_encode_ban(const struct ban *b, uint8_t **out, size_t *len)
{
    struct wr w = {0};
    wr_u8(&w, RECORD_BAN_V1);
    wr_uint(&w, (uint64_t)b->until, 8);
    wr_str(&w, b->reason);
    wr_str(&w, b->actor);
    wr_uint(&w, (uint64_t)b->created, 8);
    return wr_finish(&w, out, len);
}

enum wd_err record_encode_audit(const struct audit_entry *a, uint8_t **out, size_t *len)
{
    struct wr w = {0};
    wr_u8(&w, RECORD_AUDIT_V1);
    wr_uint(&w, (uint64_t)a->time, 8);
    wr_str(&w, a->actor);
    wr_str(&w, a->action);
    wr_str(&w, a->target);
    wr_str(&w, a->result);
    return wr_finish(&w, out, len);
}

enum wd_err record_encode_cert(const struct cert_rec *r, uint8_t **out, size_t *len)
{
    struct wr w = {0};
    wr_u8(&w, RECORD_CERT_V1);
    wr_str(&w, r->identity);
    wr_str(&w, r->subject);
    wr_str(&w, r->issuer);
    wr_str(&w, r->reason);
    wr_str(&w, r->actor);
    wr_uint(&w, (uint64_t)r->not_after, 8);
    wr_uint(&w, (uint64_t)r->created, 8);
    wr_uint(&w, (uint64_t)r->last_seen, 8);
    return wr_finish(&w, out, len);
}

static void wr_blob(struct wr *w, const uint8_t *b, size_t n)
{
    if (n > RECORD_MAX_BLOB) {
        if (w->err == WD_OK)
            w->err = WD_ETOOLARGE;
        return;
    }
    wr_uint(w, n, 4);
    wr_bytes(w, b, n);
}

enum wd_err record_encode_issuer(const struct token_issuer *i, uint8_t **out, size_t *len)
{
    struct wr w = {0};
    wr_u8(&w, RECORD_ISSUER_V2);
    wr_str(&w, i->iss);
    wr_str(&w, i->audience);
    wr_u8(&w, i->kind);
    wr_str(&w, i->path);
    wr_blob(&w, i->mat, i->mat_len);
    wr_uint(&w, (uint64_t)i->created, 8);
    wr_uint(&w, (uint64_t)i->updated, 8);
    wr_str(&w, i->url);
    wr_str(&w, i->client_id);
    wr_uint(&w, i->cache, 4);
    return wr_finish(&w, out, len);
}

enum wd_err record_encode_signing(const struct token_signing *k, uint8_t **out, size_t *len)
{
    struct wr w = {0};
    wr_u8(&w, RECORD_SIGNING_V1);
    wr_str(&w, k->kid);
    wr_bytes(&w, k->ed_sk, sizeof k->ed_sk);
    wr_bytes(&w, k->hs, sizeof k->hs);
    wr_uint(&w, (uint64_t)k->created, 8);
    return wr_finish(&w, out, len);
}

enum wd_err record_encode_revoked(const struct token_revoked *r, uint8_t **out, size_t *len)
{
    struct wr w = {0};
    wr_u8(&w, RECORD_REVOKED_V1);
    wr_uint(&w, (uint64_t)r->until, 8);
    wr_uint(&w, (uint64_t)r->created, 8);
    wr_str(&w, r->actor);
    return wr_finish(&w, out, len);
}

void record_encode_meta(const struct record_meta *m, uint8_t out[RECORD_META_SIZE])
{
    out[0] = RECORD_META_V1;
    be_put(out + 1, m->schema, 4);
    be_put(out + 5, m->generation, 8);
    be_put(out + 13, m->audit_next, 8);
}

enum wd_err record_kind_key(uint8_t kind, const char *text, uint8_t **out, size_t *len)
{
    size_t n = strlen(text);
    if (n > RECORD_MAX_STRING)
        return WD_ETOOLARGE;
    uint8_t *k = wd_malloc(n + 1);
    if (!k)
        return WD_ENOMEM;
    k[0] = kind;
    memcpy(k + 1, text, n);
    *out = k;
    *len = n + 1;
    return WD_OK;
}

enum wd_err record_cert_key(uint8_t kind, const char *user, const uint8_t fp[CERT_FP_LEN],
                            uint8_t **out, size_t *len)
{
    if (kind > CERTREC_SEEN || (kind == CERTREC_PIN && (!user || !*user)))
        return WD_EINVAL;
    size_t un = kind == CERTREC_PIN ? strlen(user) + 1 : 0;
    if (un > RECORD_MAX_STRING)
        return WD_ETOOLARGE;
    uint8_t *k = wd_malloc(1 + un + CERT_FP_LEN);
    if (!k)
        return WD_ENOMEM;
    k[0] = kind;
    if (un)
        memcpy(k + 1, user, un); /* with its NUL: the separator */
    memcpy(k + 1 + un, fp, CERT_FP_LEN);
    *out = k;
    *len = 1 + un + CERT_FP_LEN;
    return WD_OK;
}

void record_audit_key(uint64_t seq, uint8_t out[8])
{
    be_put(out, seq, 8);
}

/* ------------------------------------------------------------ reader */

struct rd {
    const uint8_t *p;
    size_t n;          /* bytes left */
    enum wd_err err;   /* first failure */
};

static bool rd_ok(const struct rd *r)
{
    return r->err == WD_OK;
}

static void rd_fail(struct rd *r, enum wd_err e)
{
    if (r->err == WD_OK)
        r->err = e;
}

static uint64_t rd_uint(struct rd *r, int bytes)
{
    if (!rd_ok(r) || r->n < (size_t)bytes) {
        rd_fail(r, WD_EMALFORMED);
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | r->p[i];
    r->p += bytes;
    r->n -= (size_t)bytes;
    return v;
}

static uint8_t rd_u8(struct rd *r)
{
    return (uint8_t)rd_uint(r, 1);
}

/* Returns owned: a NUL-terminated copy; NULL on failure (r->err set). */
static char *rd_str(struct rd *r)
{
    uint64_t n = rd_uint(r, 4);
    if (!rd_ok(r))
        return NULL;
    if (n > RECORD_MAX_STRING || n > r->n || memchr(r->p, '\0', (size_t)n)) {
        rd_fail(r, WD_EMALFORMED);
        return NULL;
    }
    char *s = wd_strndup((const char *)r->p, (size_t)n);
    if (!s) {
        rd_fail(r, WD_ENOMEM);
        return NULL;
    }
    r->p += n;
    r->n -= (size_t)n;
    return s;
}

static size_t rd_count(struct rd *r)
{
    uint64_t n = rd_uint(r, 2);
    if (rd_ok(r) && n > RECORD_MAX_LIST)
        rd_fail(r, WD_EMALFORMED);
    return rd_ok(r) ? (size_t)n : 0;
}

/* A rules list; *out is owned and complete (filters set) when r is ok. */
static void rd_rules(struct rd *r, struct rule **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    size_t n = rd_count(r);
    if (!rd_ok(r) || n == 0)
        return;
    /* Each rule takes at least 8 bytes: refuse counts the value cannot hold. */
    if (n > r->n / 8) {
        rd_fail(r, WD_EMALFORMED);
        return;
    }
    struct rule *v = wd_calloc(n, sizeof *v);
    if (!v) {
        rd_fail(r, WD_ENOMEM);
        return;
    }
    size_t i;
    for (i = 0; i < n && rd_ok(r); i++) {
        v[i].effect = rd_u8(r);
        v[i].actions = rd_u8(r);
        v[i].max_qos = rd_u8(r);
        uint8_t ret = rd_u8(r);
        v[i].retain = ret == 1;
        v[i].filter = rd_str(r);
        if (rd_ok(r) && (v[i].effect > RULE_DENY || v[i].actions == 0 ||
                         (v[i].actions & ~RULE_ALL) || v[i].max_qos > 2 || ret > 1 ||
                         !v[i].filter[0]))
            rd_fail(r, WD_EMALFORMED);
    }
    if (!rd_ok(r)) {
        backend_rules_free(v, n);
        return;
    }
    *out = v;
    *nout = n;
}

/* Returns owned: a NUL-terminated copy of a key, which must be non-empty text. */
static char *key_str(const void *key, size_t klen, struct rd *r)
{
    if (klen == 0 || klen > RECORD_MAX_STRING || memchr(key, '\0', klen)) {
        rd_fail(r, WD_EMALFORMED);
        return NULL;
    }
    char *s = wd_strndup(key, klen);
    if (!s)
        rd_fail(r, WD_ENOMEM);
    return s;
}

uint8_t record_version(const void *val, size_t vlen)
{
    return vlen ? *(const uint8_t *)val : 0;
}

enum wd_err record_decode_user(const void *key, size_t klen, const void *val, size_t vlen,
                               struct user **out)
{
    struct rd r = {val, vlen, WD_OK};
    struct user *u = wd_calloc(1, sizeof *u);
    if (!u)
        return WD_ENOMEM;
    u->name = key_str(key, klen, &r);
    uint8_t ver = rd_u8(&r);
    if (rd_ok(&r) && ver != RECORD_USER_V1 && ver != RECORD_USER_V2)
        rd_fail(&r, WD_EMALFORMED);
    uint8_t flags = rd_u8(&r);
    if (rd_ok(&r) && flags > 1)
        rd_fail(&r, WD_EMALFORMED);
    u->enabled = flags == 1;
    u->hash = rd_str(&r);
    if (rd_ok(&r) && !u->hash[0]) {
        wd_free(u->hash);
        u->hash = NULL;
    }
    size_t nroles = rd_count(&r);
    if (rd_ok(&r) && nroles > r.n / 4)
        rd_fail(&r, WD_EMALFORMED);
    if (rd_ok(&r) && nroles) {
        u->roles = wd_calloc(nroles, sizeof *u->roles);
        if (!u->roles)
            rd_fail(&r, WD_ENOMEM);
        else
            u->nroles = nroles;
    }
    for (size_t i = 0; i < u->nroles && rd_ok(&r); i++) {
        u->roles[i] = rd_str(&r);
        if (rd_ok(&r) && !u->roles[i][0])
            rd_fail(&r, WD_EMALFORMED);
    }
    rd_rules(&r, &u->rules, &u->nrules);
    u->created = (int64_t)rd_uint(&r, 8);
    u->updated = (int64_t)rd_uint(&r, 8);
    if (ver == RECORD_USER_V2) {
        u->last_login = (int64_t)rd_uint(&r, 8);
        u->note = rd_str(&r);
    } else if (rd_ok(&r)) {
        u->note = wd_strdup("");
        if (!u->note)
            rd_fail(&r, WD_ENOMEM);
    }
    if (rd_ok(&r) && r.n != 0)
        rd_fail(&r, WD_EMALFORMED);
    if (!rd_ok(&r)) {
        backend_user_free(u);
        return r.err;
    }
    *out = u;
    return WD_OK;
}

enum wd_err record_decode_role(const void *key, size_t klen, const void *val, size_t vlen,
                               struct role **out)
{
    struct rd r = {val, vlen, WD_OK};
    struct role *ro = wd_calloc(1, sizeof *ro);
    if (!ro)
        return WD_ENOMEM;
    ro->name = key_str(key, klen, &r);
    uint8_t ver = rd_u8(&r);
    if (rd_ok(&r) && ver != RECORD_ROLE_V1 && ver != RECORD_ROLE_V2)
        rd_fail(&r, WD_EMALFORMED);
    ro->description = rd_str(&r);
    rd_rules(&r, &ro->rules, &ro->nrules);
    if (ver == RECORD_ROLE_V2) {
        ro->on_deny = rd_u8(&r);
        ro->strikes = (uint16_t)rd_uint(&r, 2);
        /* strikes only with DENY_STRIKES, and then within 1..DENY_STRIKES_MAX */
        if (rd_ok(&r) && (ro->on_deny > DENY_STRIKES ||
                          (ro->on_deny == DENY_STRIKES) != (ro->strikes != 0) ||
                          ro->strikes > DENY_STRIKES_MAX))
            rd_fail(&r, WD_EMALFORMED);
    }
    if (rd_ok(&r) && r.n != 0)
        rd_fail(&r, WD_EMALFORMED);
    if (!rd_ok(&r)) {
        backend_role_free(ro);
        return r.err;
    }
    *out = ro;
    return WD_OK;
}

/* Split a kind-prefixed key; kind must be <= maxkind. */
static char *kind_key(const void *key, size_t klen, uint8_t maxkind, uint8_t *kind, struct rd *r)
{
    if (klen < 2 || *(const uint8_t *)key > maxkind) {
        rd_fail(r, WD_EMALFORMED);
        return NULL;
    }
    *kind = *(const uint8_t *)key;
    return key_str((const uint8_t *)key + 1, klen - 1, r);
}

enum wd_err record_decode_binding(const void *key, size_t klen, const void *val, size_t vlen,
                                  struct binding *out)
{
    struct rd r = {val, vlen, WD_OK};
    struct binding b = {0};
    b.pattern = kind_key(key, klen, BIND_REGEX, &b.kind, &r);
    if (rd_ok(&r) && rd_u8(&r) != RECORD_BINDING_V1)
        rd_fail(&r, WD_EMALFORMED);
    b.user = rd_str(&r);
    b.created = (int64_t)rd_uint(&r, 8);
    if (rd_ok(&r) && (r.n != 0 || !b.user[0]))
        rd_fail(&r, WD_EMALFORMED);
    if (!rd_ok(&r)) {
        backend_binding_fini(&b);
        return r.err;
    }
    *out = b;
    return WD_OK;
}

enum wd_err record_decode_ban(const void *key, size_t klen, const void *val, size_t vlen,
                              struct ban *out)
{
    struct rd r = {val, vlen, WD_OK};
    struct ban b = {0};
    b.value = kind_key(key, klen, BAN_ADDRESS, &b.kind, &r);
    if (rd_ok(&r) && rd_u8(&r) != RECORD_BAN_V1)
        rd_fail(&r, WD_EMALFORMED);
    b.until = (int64_t)rd_uint(&r, 8);
    b.reason = rd_str(&r);
    b.actor = rd_str(&r);
    b.created = (int64_t)rd_uint(&r, 8);
    if (rd_ok(&r) && r.n != 0)
        rd_fail(&r, WD_EMALFORMED);
    if (!rd_ok(&r)) {
        backend_ban_fini(&b);
        return r.err;
    }
    *out = b;
    return WD_OK;
}

enum wd_err record_decode_audit(const void *key, size_t klen, const void *val, size_t vlen,
                                struct audit_entry *out)
{
    struct rd r = {val, vlen, WD_OK};
    struct audit_entry a = {0};
    struct rd k = {key, klen, WD_OK};
    a.seq = rd_uint(&k, 8);
    if (!rd_ok(&k) || k.n != 0)
        rd_fail(&r, WD_EMALFORMED);
    if (rd_ok(&r) && rd_u8(&r) != RECORD_AUDIT_V1)
        rd_fail(&r, WD_EMALFORMED);
    a.time = (int64_t)rd_uint(&r, 8);
    a.actor = rd_str(&r);
    a.action = rd_str(&r);
    a.target = rd_str(&r);
    a.result = rd_str(&r);
    if (rd_ok(&r) && r.n != 0)
        rd_fail(&r, WD_EMALFORMED);
    if (!rd_ok(&r)) {
        backend_audit_fini(&a);
        return r.err;
    }
    *out = a;
    return WD_OK;
}

enum wd_err record_decode_cert(const void *key, size_t klen, const void *val, size_t vlen,
                               struct cert_rec *out)
{
    struct rd r = {val, vlen, WD_OK};
    struct cert_rec c = {0};
    const uint8_t *k = key;
    if (klen < 1 + CERT_FP_LEN || k[0] > CERTREC_SEEN)
        return WD_EMALFORMED;
    c.kind = k[0];
    if (c.kind == CERTREC_PIN) {
        /* kind, user (non-empty, no 0 byte), 0, fingerprint */
        if (klen < 3 + CERT_FP_LEN || k[klen - CERT_FP_LEN - 1] != 0)
            return WD_EMALFORMED;
        c.user = key_str(k + 1, klen - CERT_FP_LEN - 2, &r);
    } else if (klen != 1 + CERT_FP_LEN) {
        return WD_EMALFORMED;
    }
    memcpy(c.fp, k + klen - CERT_FP_LEN, CERT_FP_LEN);
    if (rd_ok(&r) && rd_u8(&r) != RECORD_CERT_V1)
        rd_fail(&r, WD_EMALFORMED);
    c.identity = rd_str(&r);
    c.subject = rd_str(&r);
    c.issuer = rd_str(&r);
    c.reason = rd_str(&r);
    c.actor = rd_str(&r);
    c.not_after = (int64_t)rd_uint(&r, 8);
    c.created = (int64_t)rd_uint(&r, 8);
    c.last_seen = (int64_t)rd_uint(&r, 8);
    if (rd_ok(&r) && r.n != 0)
        rd_fail(&r, WD_EMALFORMED);
    if (!rd_ok(&r)) {
        backend_cert_fini(&c);
        return r.err;
    }
    *out = c;
    return WD_OK;
}

enum wd_err record_decode_meta(const void *val, size_t vlen, struct record_meta *out)
{
    struct rd r = {val, vlen, WD_OK};
    if (rd_u8(&r) != RECORD_META_V1)
        rd_fail(&r, WD_EMALFORMED);
    struct record_meta m;
    m.schema = (uint32_t)rd_uint(&r, 4);
    m.generation = rd_uint(&r, 8);
    m.audit_next = rd_uint(&r, 8);
    if (!rd_ok(&r) || r.n != 0 || m.schema == 0)
        return WD_EMALFORMED;
    *out = m;
    return WD_OK;
}

/* ------------------------------------------------------------ DB_TOKENS */

/* Returns owned: a copy of a binary field; NULL with r->err on failure. */
static uint8_t *rd_blob(struct rd *r, size_t *len)
{
    uint64_t n = rd_uint(r, 4);
    if (!rd_ok(r))
        return NULL;
    if (n > RECORD_MAX_BLOB || n > r->n) {
        rd_fail(r, WD_EMALFORMED);
        return NULL;
    }
    uint8_t *b = wd_malloc(n ? (size_t)n : 1);
    if (!b) {
        rd_fail(r, WD_ENOMEM);
        return NULL;
    }
    memcpy(b, r->p, (size_t)n);
    r->p += n;
    r->n -= (size_t)n;
    *len = (size_t)n;
    return b;
}

/* The text after a DB_TOKENS key's kind byte, which must be want. */
static char *token_key(const void *key, size_t klen, uint8_t want, struct rd *r)
{
    if (klen < 2 || *(const uint8_t *)key != want) {
        rd_fail(r, WD_EMALFORMED);
        return NULL;
    }
    return key_str((const uint8_t *)key + 1, klen - 1, r);
}

enum wd_err record_decode_issuer(const void *key, size_t klen, const void *val, size_t vlen,
                                 struct token_issuer *out)
{
    struct rd r = {val, vlen, WD_OK};
    struct token_issuer i = {0};
    i.name = token_key(key, klen, RECORD_TOKEN_ISSUER, &r);
    uint8_t ver = rd_ok(&r) ? rd_u8(&r) : 0;
    if (rd_ok(&r) && ver != RECORD_ISSUER_V1 && ver != RECORD_ISSUER_V2)
        rd_fail(&r, WD_EMALFORMED);
    i.iss = rd_str(&r);
    i.audience = rd_str(&r);
    i.kind = rd_u8(&r);
    i.path = rd_str(&r);
    i.mat = rd_blob(&r, &i.mat_len);
    i.created = (int64_t)rd_uint(&r, 8);
    i.updated = (int64_t)rd_uint(&r, 8);
    if (ver == RECORD_ISSUER_V2) {
        i.url = rd_str(&r);
        i.client_id = rd_str(&r);
        i.cache = (uint32_t)rd_uint(&r, 4);
    } else if (rd_ok(&r)) {
        /* V1 predates introspection: its issuers hold keys, not a service. */
        i.url = wd_strdup("");
        i.client_id = wd_strdup("");
        if (!i.url || !i.client_id)
            rd_fail(&r, WD_ENOMEM);
    }
    if (rd_ok(&r) && (r.n != 0 || i.kind > TOKEN_ISSUER_INTROSPECT || !i.iss[0] || !i.mat_len ||
                      (i.kind == TOKEN_ISSUER_INTROSPECT) != (i.url[0] != '\0')))
        rd_fail(&r, WD_EMALFORMED);
    if (!rd_ok(&r)) {
        backend_issuer_fini(&i);
        return r.err;
    }
    *out = i;
    return WD_OK;
}

enum wd_err record_decode_signing(const void *key, size_t klen, const void *val, size_t vlen,
                                  struct token_signing *out)
{
    struct rd r = {val, vlen, WD_OK};
    char *name = token_key(key, klen, RECORD_TOKEN_SIGNING, &r);
    wd_free(name);
    if (rd_ok(&r) && rd_u8(&r) != RECORD_SIGNING_V1)
        rd_fail(&r, WD_EMALFORMED);
    char *kid = rd_str(&r);
    if (rd_ok(&r) && (strlen(kid) >= sizeof out->kid || !kid[0]))
        rd_fail(&r, WD_EMALFORMED);
    if (rd_ok(&r) && r.n != sizeof out->ed_sk + sizeof out->hs + 8)
        rd_fail(&r, WD_EMALFORMED);
    if (rd_ok(&r)) {
        memset(out, 0, sizeof *out);
        memcpy(out->kid, kid, strlen(kid));
        memcpy(out->ed_sk, r.p, sizeof out->ed_sk);
        memcpy(out->hs, r.p + sizeof out->ed_sk, sizeof out->hs);
        r.p += sizeof out->ed_sk + sizeof out->hs;
        r.n -= sizeof out->ed_sk + sizeof out->hs;
        out->created = (int64_t)rd_uint(&r, 8);
    }
    wd_free(kid);
    return r.err;
}

enum wd_err record_decode_revoked(const void *key, size_t klen, const void *val, size_t vlen,
                                  struct token_revoked *out)
{
    struct rd r = {val, vlen, WD_OK};
    struct token_revoked v = {0};
    v.jti = token_key(key, klen, RECORD_TOKEN_REVOKED, &r);
    if (rd_ok(&r) && rd_u8(&r) != RECORD_REVOKED_V1)
        rd_fail(&r, WD_EMALFORMED);
    v.until = (int64_t)rd_uint(&r, 8);
    v.created = (int64_t)rd_uint(&r, 8);
    v.actor = rd_str(&r);
    if (rd_ok(&r) && (r.n != 0 || v.until < 0))
        rd_fail(&r, WD_EMALFORMED);
    if (!rd_ok(&r)) {
        backend_revoked_fini(&v);
        return r.err;
    }
    *out = v;
    return WD_OK;
}
