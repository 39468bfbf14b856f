/*
 * tls.c - WolfSSL behind tls.h: server contexts, non-blocking handshakes and
 * record I/O, and the facts of a client certificate.
 *
 * Certificates are read from the peer chain's DER with WolfSSL's decoder and
 * a small DER walker here, never through WolfSSL's X509 objects: for an
 * Ed25519 client certificate WolfSSL builds no peer X509, but the chain's DER
 * is always there. The same walker reads CRLs, because WolfSSL refuses to
 * load a CRL past its nextUpdate and then rejects every client; Warden makes
 * that the operator's choice (crl_expired_policy): `reject` keeps WolfSSL's
 * behaviour, `warn` enforces the expired CRL's revocations itself.
 * Workload: a handshake costs one or two signature checks; a few thousand
 * connections, each holding one WOLFSSL object (tens of KiB).
 */
#include "tls.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/memory.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "log.h"
#include "mem.h"

/* Suites offered when the configuration names none: AEAD with forward secrecy only. */
#define DEFAULT_TLS13 "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256"
#define DEFAULT_TLS12                                                                 \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                      \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                      \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                      \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

#define MAX_CRL_FILE (16u << 20)   /* larger is surely not a CRL file */
#define MAX_SERIAL 32              /* RFC 5280 allows 20 octets; some CAs add a sign byte */

/* One revoked serial of a CRL that Warden enforces itself. */
struct revoked {
    uint8_t len;
    uint8_t serial[MAX_SERIAL];
};

/* A CRL as the DER walker read it. */
struct crl {
    uint8_t *issuer;           /* owned: DER of the issuer Name */
    size_t issuer_len;
    int64_t next_update;       /* 0 when absent */
    struct revoked *rev;       /* owned array */
    size_t nrev;
};

struct tls_ctx {
    WOLFSSL_CTX *ctx;
    unsigned refs;
    enum config_cert_identity ident;
    bool verify_peer;          /* a CA is configured: client certificates are asked for */
    int64_t crl_next_update;   /* earliest nextUpdate of the loaded CRLs; 0 = none */
    struct crl *own;           /* owned array: expired CRLs enforced here (policy warn) */
    size_t nown;
};

struct tls_conn {
    WOLFSSL *ssl;
    struct tls_ctx *ctx;
    int fd;
    bool want_write;
    bool done;                 /* handshake finished */
    struct tls_info info;
    char err[512];
};

/* ---- allocation through mem.h ---- */

static void *tls_malloc(size_t n)
{
    return wd_malloc(n);
}

static void tls_free(void *p)
{
    wd_free(p);
}

static void *tls_realloc(void *p, size_t n)
{
    return wd_realloc(p, n);
}

enum wd_err tls_global_init(void)
{
    static bool done;
    if (done)
        return WD_OK;
    /* Before wolfSSL_Init: every WolfSSL block must come from, and go back to, one allocator. */
    if (wolfSSL_SetAllocators(tls_malloc, tls_free, tls_realloc) != 0 ||
        wolfSSL_Init() != WOLFSSL_SUCCESS) {
        log_error("cannot initialise WolfSSL");
        return WD_EIO;
    }
    done = true;
    return WD_OK;
}

const char *tls_identity_name(enum config_cert_identity id)
{
    static const char *const names[] = {"cn", "san_dns", "san_uri", "san_email"};
    return (unsigned)id < sizeof names / sizeof names[0] ? names[id] : "?";
}

/* WolfSSL's text for an error code, with the code. Returns a static buffer (broker thread). */
static const char *wolf_reason(int e)
{
    static char buf[WOLFSSL_MAX_ERROR_SZ + 16];
    const char *text = wolfSSL_ERR_reason_error_string((unsigned long)e);
    snprintf(buf, sizeof buf, "%s (%d)", text && *text ? text : "error", e);
    return buf;
}

/* ---- DER walking (bounds-checked: input is a peer's certificate or a file) ---- */

struct der {
    const uint8_t *p;
    size_t n;
};

/* Read one TLV off the front of *d into *tag and *val (the value). false if malformed. */
static bool der_next(struct der *d, uint8_t *tag, struct der *val)
{
    if (d->n < 2)
        return false;
    uint8_t t = d->p[0];
    if ((t & 0x1f) == 0x1f)
        return false; /* high tag numbers: nothing here uses them */
    size_t len = d->p[1], hl = 2;
    if (len & 0x80) {
        size_t nb = len & 0x7f;
        if (nb == 0 || nb > 4 || d->n < 2 + nb)
            return false;
        len = 0;
        for (size_t i = 0; i < nb; i++)
            len = (len << 8) | d->p[2 + i];
        hl += nb;
    }
    if (len > d->n - hl)
        return false;
    *tag = t;
    val->p = d->p + hl;
    val->n = len;
    d->p += hl + len;
    d->n -= hl + len;
    return true;
}

/* Like der_next, but *whole covers the TLV with its header. */
static bool der_next_whole(struct der *d, uint8_t *tag, struct der *val, struct der *whole)
{
    const uint8_t *start = d->p;
    if (!der_next(d, tag, val))
        return false;
    whole->p = start;
    whole->n = (size_t)(d->p - start);
    return true;
}

static int two(const uint8_t *s)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* UTCTime (0x17) or GeneralizedTime (0x18), "...Z" only. false if malformed. */
static bool der_time(uint8_t tag, struct der v, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const uint8_t *s = v.p;
    int year;
    if (tag == 0x17 && v.n == 13) {
        int yy = two(s);
        if (yy < 0)
            return false;
        year = yy < 50 ? 2000 + yy : 1900 + yy; /* RFC 5280 4.1.2.5.1 */
        s += 2;
    } else if (tag == 0x18 && v.n == 15) {
        int hi = two(s), lo = two(s + 2);
        if (hi < 0 || lo < 0)
            return false;
        year = hi * 100 + lo;
        s += 4;
    } else {
        return false;
    }
    int mon = two(s), day = two(s + 2), hh = two(s + 4), mm = two(s + 6), ss = two(s + 8);
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 ||
        mm > 59 || ss < 0 || ss > 60 || s[10] != 'Z')
        return false;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    *out = (int64_t)timegm(&tm);
    return true;
}

/* Append text to out (size n), never overflowing; the result stays NUL-terminated. */
static void put(char *out, size_t n, const char *text, size_t len)
{
    size_t used = strlen(out);
    if (used + 1 >= n)
        return;
    if (len > n - used - 1)
        len = n - used - 1;
    memcpy(out + used, text, len);
    out[used + len] = '\0';
}

static void puts_(char *out, size_t n, const char *text)
{
    put(out, n, text, strlen(text));
}

/* An attribute value, escaped as RFC 2253 asks; bytes outside printable ASCII as \XX. */
static void put_value(char *out, size_t n, struct der v)
{
    for (size_t i = 0; i < v.n; i++) {
        uint8_t c = v.p[i];
        char tmp[4];
        bool esc = strchr(",+\"\\<>;=", c) != NULL || (i == 0 && (c == '#' || c == ' ')) ||
                   (i + 1 == v.n && c == ' ');
        if (c < 0x20 || c >= 0x7f) {
            snprintf(tmp, sizeof tmp, "\\%02X", c);
            puts_(out, n, tmp);
        } else {
            if (esc && c)
                put(out, n, "\\", 1);
            put(out, n, (const char *)&c, 1);
        }
    }
}

static const struct {
    const char *name;
    uint8_t len;
    uint8_t oid[10];
} attr_names[] = {
    {"CN", 3, {0x55, 0x04, 0x03}},
    {"serialNumber", 3, {0x55, 0x04, 0x05}},
    {"C", 3, {0x55, 0x04, 0x06}},
    {"L", 3, {0x55, 0x04, 0x07}},
    {"ST", 3, {0x55, 0x04, 0x08}},
    {"street", 3, {0x55, 0x04, 0x09}},
    {"O", 3, {0x55, 0x04, 0x0a}},
    {"OU", 3, {0x55, 0x04, 0x0b}},
    {"emailAddress", 9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01}},
    {"DC", 10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19}},
    {"UID", 10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01}},
};

/* The dotted form of an OID we have no short name for. */
static void put_oid(char *out, size_t n, struct der oid)
{
    char tmp[24];
    uint64_t v = 0;
    bool first = true;
    for (size_t i = 0; i < oid.n; i++) {
        if (v > (UINT64_MAX >> 7))
            return;
        v = (v << 7) | (oid.p[i] & 0x7f);
        if (oid.p[i] & 0x80)
            continue;
        if (first) {
            unsigned a = v < 40 ? 0 : v < 80 ? 1 : 2;
            snprintf(tmp, sizeof tmp, "%u.%llu", a, (unsigned long long)(v - 40u * a));
            first = false;
        } else {
            snprintf(tmp, sizeof tmp, ".%llu", (unsigned long long)v);
        }
        puts_(out, n, tmp);
        v = 0;
    }
}

/*
 * An X.501 Name (DER of the SEQUENCE) as RFC 2253 text: the most specific
 * RDN first, "CN=client1,O=Example". false if malformed.
 */
static bool name_text(struct der name, char *out, size_t n)
{
    uint8_t tag;
    struct der seq = name;
    *out = '\0';
    /* WolfSSL's raw names are the SEQUENCE's contents; a whole SEQUENCE is accepted too. */
    if (name.n && name.p[0] == 0x30 && (!der_next(&name, &tag, &seq) || name.n))
        return false;
    struct der rdns[32];
    size_t nrdn = 0;
    while (seq.n) {
        struct der set;
        if (!der_next(&seq, &tag, &set) || tag != 0x31 || nrdn == 32)
            return false;
        rdns[nrdn++] = set;
    }
    for (size_t i = nrdn; i-- > 0;) {
        struct der set = rdns[i];
        bool first_in_set = true;
        while (set.n) {
            struct der atv, oid, val;
            uint8_t vt;
            if (!der_next(&set, &tag, &atv) || tag != 0x30 || !der_next(&atv, &tag, &oid) ||
                tag != 0x06 || !der_next(&atv, &vt, &val))
                return false;
            if (*out)
                puts_(out, n, first_in_set ? "," : "+");
            first_in_set = false;
            const char *an = NULL;
            for (size_t k = 0; k < sizeof attr_names / sizeof attr_names[0]; k++)
                if (attr_names[k].len == oid.n && memcmp(attr_names[k].oid, oid.p, oid.n) == 0)
                    an = attr_names[k].name;
            if (an)
                puts_(out, n, an);
            else
                put_oid(out, n, oid);
            puts_(out, n, "=");
            put_value(out, n, val);
        }
    }
    return true;
}

/* ---- CRLs ---- */

static void crl_fini(struct crl *c)
{
    wd_free(c->issuer);
    wd_free(c->rev);
    memset(c, 0, sizeof *c);
}

/*
 * Walk a DER CertificateList (RFC 5280 5.1): issuer, nextUpdate, revoked
 * serials. The signature is not checked here: WolfSSL checks it for a CRL
 * it loads. WD_OK, WD_EMALFORMED, WD_ENOMEM.
 */
static enum wd_err crl_parse(const uint8_t *der, size_t len, struct crl *out)
{
    memset(out, 0, sizeof *out);
    struct der d = {der, len}, cl, tbs, v, issuer, revs;
    uint8_t tag;
    if (!der_next(&d, &tag, &cl) || tag != 0x30 || !der_next(&cl, &tag, &tbs) || tag != 0x30)
        return WD_EMALFORMED;
    struct der probe = tbs;
    if (!der_next(&probe, &tag, &v))
        return WD_EMALFORMED;
    if (tag == 0x02)
        tbs = probe; /* version */
    if (!der_next(&tbs, &tag, &v) || tag != 0x30) /* signature algorithm */
        return WD_EMALFORMED;
    if (!der_next_whole(&tbs, &tag, &v, &issuer) || tag != 0x30)
        return WD_EMALFORMED;
    int64_t t;
    if (!der_next(&tbs, &tag, &v) || !der_time(tag, v, &t)) /* thisUpdate */
        return WD_EMALFORMED;
    probe = tbs;
    if (der_next(&probe, &tag, &v) && (tag == 0x17 || tag == 0x18)) {
        if (!der_time(tag, v, &out->next_update))
            return WD_EMALFORMED;
        tbs = probe;
    }
    revs.n = 0;
    probe = tbs;
    if (der_next(&probe, &tag, &v) && tag == 0x30)
        revs = v;
    /* Count, then copy the serials. */
    size_t count = 0;
    for (struct der r = revs; r.n; count++) {
        struct der ent;
        if (!der_next(&r, &tag, &ent) || tag != 0x30)
            return WD_EMALFORMED;
    }
    out->issuer = wd_malloc(issuer.n);
    out->rev = wd_calloc(count ? count : 1, sizeof *out->rev);
    if (!out->issuer || !out->rev) {
        crl_fini(out);
        return WD_ENOMEM;
    }
    memcpy(out->issuer, issuer.p, issuer.n);
    out->issuer_len = issuer.n;
    for (struct der r = revs; r.n;) {
        struct der ent, serial;
        if (!der_next(&r, &tag, &ent) || !der_next(&ent, &tag, &serial) || tag != 0x02 ||
            serial.n == 0 || serial.n > MAX_SERIAL) {
            crl_fini(out);
            return WD_EMALFORMED;
        }
        struct revoked *rv = &out->rev[out->nrev++];
        rv->len = (uint8_t)serial.n;
        memcpy(rv->serial, serial.p, serial.n);
    }
    return WD_OK;
}

/* Read a whole file into an owned buffer. WD_OK, WD_EIO (errno set), WD_ENOMEM, WD_ETOOLARGE. */
static enum wd_err read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return WD_EIO;
    size_t cap = 8192, n = 0;
    uint8_t *b = wd_malloc(cap);
    enum wd_err e = b ? WD_OK : WD_ENOMEM;
    while (e == WD_OK) {
        n += fread(b + n, 1, cap - n, f);
        if (ferror(f)) {
            e = WD_EIO;
        } else if (feof(f)) {
            break;
        } else if (cap >= MAX_CRL_FILE) {
            e = WD_ETOOLARGE;
        } else {
            uint8_t *nb = wd_realloc(b, cap * 2);
            if (!nb)
                e = WD_ENOMEM;
            else
                b = nb, cap *= 2;
        }
    }
    int saved = errno;
    fclose(f);
    errno = saved;
    if (e != WD_OK) {
        wd_free(b);
        return e;
    }
    *out = b;
    *len = n;
    return WD_OK;
}

/*
 * Split a CRL file into DER blobs: PEM ("-----BEGIN X509 CRL-----" blocks,
 * several allowed) or one DER CertificateList. Calls fn for each; stops at
 * its first error. Decodes in place into buf.
 */
static enum wd_err crl_each(uint8_t *buf, size_t len,
                            enum wd_err (*fn)(void *arg, const uint8_t *der, size_t n),
                            void *arg, int *count)
{
    static const char begin[] = "-----BEGIN X509 CRL-----", end[] = "-----END X509 CRL-----";
    *count = 0;
    if (len && buf[0] == 0x30) {
        *count = 1;
        return fn(arg, buf, len);
    }
    size_t off = 0;
    for (;;) {
        uint8_t *b = memmem(buf + off, len - off, begin, sizeof begin - 1);
        if (!b)
            break;
        b += sizeof begin - 1;
        uint8_t *e = memmem(b, len - (size_t)(b - buf), end, sizeof end - 1);
        if (!e)
            return WD_EMALFORMED;
        word32 outlen = (word32)(e - b);
        if (Base64_Decode(b, (word32)(e - b), b, &outlen) != 0)
            return WD_EMALFORMED;
        enum wd_err r = fn(arg, b, outlen);
        if (r != WD_OK)
            return r;
        (*count)++;
        off = (size_t)(e - buf) + sizeof end - 1;
    }
    return *count ? WD_OK : WD_EMALFORMED;
}

struct crl_load {
    struct tls_ctx *t;
    const struct config_tls *cfg;
    const char *name;
    char *why;
    size_t whylen;
    int64_t now;
    bool enabled;              /* WolfSSL's CRL checking is on */
};

/* One CRL of the file: hand it to WolfSSL, or keep it here when it has expired. */
static enum wd_err crl_one(void *arg, const uint8_t *der, size_t n)
{
    struct crl_load *L = arg;
    struct tls_ctx *t = L->t;
    struct crl c;
    enum wd_err e = crl_parse(der, n, &c);
    if (e != WD_OK) {
        snprintf(L->why, L->whylen, "crlfile %s: %s", L->cfg->crlfile,
                 e == WD_ENOMEM ? "out of memory" : "not a CRL");
        return e == WD_ENOMEM ? e : WD_ECONFIG;
    }
    if (c.next_update && c.next_update <= L->now) {
        char when[32];
        time_t nu = (time_t)c.next_update;
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&nu, &tm));
        if (L->cfg->crl_expired_policy == CRL_EXPIRED_REJECT) {
            log_error("listener %s: CRL in %s EXPIRED at %s: crl_expired_policy reject: "
                      "every client certificate from its issuer is refused until a fresh CRL "
                      "is installed (SIGHUP)", L->name, L->cfg->crlfile, when);
            crl_fini(&c);
            /* WolfSSL's CRL checking without this CRL: "CRL missing" for every client. */
            if (!L->enabled && wolfSSL_CTX_EnableCRL(t->ctx, WOLFSSL_CRL_CHECK) != WOLFSSL_SUCCESS) {
                snprintf(L->why, L->whylen, "crlfile %s: cannot enable CRL checking",
                         L->cfg->crlfile);
                return WD_ECONFIG;
            }
            L->enabled = true;
            return WD_OK;
        }
        log_error("listener %s: CRL in %s EXPIRED at %s: crl_expired_policy warn: still "
                  "enforcing its %zu revocation%s; install a fresh CRL and send SIGHUP",
                  L->name, L->cfg->crlfile, when, c.nrev, c.nrev == 1 ? "" : "s");
        struct crl *own = wd_realloc(t->own, (t->nown + 1) * sizeof *own);
        if (!own) {
            crl_fini(&c);
            return WD_ENOMEM;
        }
        t->own = own;
        t->own[t->nown++] = c;
        return WD_OK;
    }
    if (!L->enabled && wolfSSL_CTX_EnableCRL(t->ctx, WOLFSSL_CRL_CHECK) != WOLFSSL_SUCCESS) {
        crl_fini(&c);
        snprintf(L->why, L->whylen, "crlfile %s: cannot enable CRL checking", L->cfg->crlfile);
        return WD_ECONFIG;
    }
    L->enabled = true;
    int r = wolfSSL_CTX_LoadCRLBuffer(t->ctx, der, (long)n, WOLFSSL_FILETYPE_ASN1);
    if (r != WOLFSSL_SUCCESS) {
        crl_fini(&c);
        snprintf(L->why, L->whylen, "crlfile %s: %s (is it signed by a configured CA?)",
                 L->cfg->crlfile, wolf_reason(r));
        return WD_ECONFIG;
    }
    if (c.next_update && (!t->crl_next_update || c.next_update < t->crl_next_update))
        t->crl_next_update = c.next_update;
    log_info("listener %s: CRL from %s: %zu revocation%s", L->name, L->cfg->crlfile, c.nrev,
             c.nrev == 1 ? "" : "s");
    crl_fini(&c);
    return WD_OK;
}

static enum wd_err load_crl(struct tls_ctx *t, const struct config_tls *cfg, const char *name,
                            char *why, size_t whylen)
{
    uint8_t *buf;
    size_t len;
    enum wd_err e = read_file(cfg->crlfile, &buf, &len);
    if (e != WD_OK) {
        snprintf(why, whylen, "crlfile %s: %s", cfg->crlfile,
                 e == WD_EIO ? strerror(errno) : wd_strerror(e));
        return e == WD_ENOMEM ? e : WD_ECONFIG;
    }
    struct crl_load L = {t, cfg, name, why, whylen, (int64_t)time(NULL), false};
    int count = 0;
    e = crl_each(buf, len, crl_one, &L, &count);
    wd_free(buf);
    if (e == WD_EMALFORMED) {
        snprintf(why, whylen, "crlfile %s: no CRL in it (PEM \"X509 CRL\" or DER expected)",
                 cfg->crlfile);
        return WD_ECONFIG;
    }
    return e;
}

/* Is (issuer, serial) listed in one of the expired CRLs kept here? */
static bool own_revoked(const struct tls_ctx *t, struct der issuer, const uint8_t *serial,
                        size_t slen)
{
    /* The CRL keeps the whole issuer SEQUENCE; the certificate's may be its contents. */
    struct der inner = issuer, whole = issuer;
    uint8_t tag;
    if (issuer.n && issuer.p[0] == 0x30 && !der_next(&whole, &tag, &inner))
        return false;
    for (size_t i = 0; i < t->nown; i++) {
        const struct crl *c = &t->own[i];
        struct der ci = {c->issuer, c->issuer_len}, cv;
        if (!der_next(&ci, &tag, &cv) || cv.n != inner.n || memcmp(cv.p, inner.p, inner.n) != 0)
            continue;
        /* Serials compare without leading zero octets (a DER sign byte, or none). */
        while (slen > 1 && serial[0] == 0)
            serial++, slen--;
        for (size_t k = 0; k < c->nrev; k++) {
            const uint8_t *r = c->rev[k].serial;
            size_t rl = c->rev[k].len;
            while (rl > 1 && r[0] == 0)
                r++, rl--;
            if (rl == slen && memcmp(r, serial, slen) == 0)
                return true;
        }
    }
    return false;
}

/* ---- contexts ---- */

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    (void)ssl;
    struct tls_conn *t = arg;
    for (;;) {
        ssize_t n = recv(t->fd, buf, (size_t)sz, 0);
        if (n > 0)
            return (int)n;
        if (n == 0)
            return WOLFSSL_CBIO_ERR_CONN_CLOSE;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return WOLFSSL_CBIO_ERR_WANT_READ;
        return errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST : WOLFSSL_CBIO_ERR_GENERAL;
    }
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    (void)ssl;
    struct tls_conn *t = arg;
    for (;;) {
        ssize_t n = send(t->fd, buf, (size_t)sz, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return WOLFSSL_CBIO_ERR_WANT_WRITE;
        return errno == EPIPE || errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_CLOSE
                                                     : WOLFSSL_CBIO_ERR_GENERAL;
    }
}

/* A suite Warden never offers, whatever the configuration says. */
static bool weak_suite(const char *s)
{
    static const char *const bad[] = {"NULL", "RC4", "ADH", "AECDH", "anon", "EXP", "MD5",
                                      "-DES-CBC-", "DES-CBC-SHA", "PSK", "SRP", "IDEA"};
    if (strncmp(s, "DES-", 4) == 0 || strstr(s, "-DES-") != NULL)
        return !strstr(s, "DES-CBC3") && !strstr(s, "DES3");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(s, bad[i]))
            return true;
    return false;
}

/* Set the cipher list and check what WolfSSL made of it. */
static enum wd_err set_ciphers(struct tls_ctx *t, const struct config_tls *cfg, char *why,
                               size_t whylen)
{
    char list[2048] = "";
    const char *s13 = cfg->ciphersuites ? cfg->ciphersuites : DEFAULT_TLS13;
    const char *s12 = cfg->ciphers ? cfg->ciphers : DEFAULT_TLS12;
    snprintf(list, sizeof list, "%s%s%s", s13, cfg->tls_version == TLS_V12 ? ":" : "",
             cfg->tls_version == TLS_V12 ? s12 : "");
    if (wolfSSL_CTX_set_cipher_list(t->ctx, list) != WOLFSSL_SUCCESS) {
        snprintf(why, whylen, "ciphers/ciphersuites: WolfSSL accepts none of \"%s\"", list);
        return WD_ECONFIG;
    }
    WOLFSSL *probe = wolfSSL_new(t->ctx);
    if (!probe) {
        snprintf(why, whylen, "cannot create a TLS session (out of memory?)");
        return WD_ENOMEM;
    }
    enum wd_err e = WD_OK;
    WOLF_STACK_OF(WOLFSSL_CIPHER) *sk = wolfSSL_get_ciphers_compat(probe); /* owned by probe */
    int n = sk ? wolfSSL_sk_SSL_CIPHER_num(sk) : 0;
    for (int i = 0; i < n; i++) {
        const char *c = wolfSSL_CIPHER_get_name(wolfSSL_sk_SSL_CIPHER_value(sk, i));
        if (c && weak_suite(c)) {
            snprintf(why, whylen, "ciphers: refusing weak suite %s", c);
            e = WD_ECONFIG;
            break;
        }
    }
    if (e == WD_OK && n == 0) {
        snprintf(why, whylen, "ciphers/ciphersuites: no usable suite");
        e = WD_ECONFIG;
    }
    wolfSSL_free(probe);
    return e;
}

static void ctx_free(struct tls_ctx *t)
{
    if (t->ctx)
        wolfSSL_CTX_free(t->ctx);
    for (size_t i = 0; i < t->nown; i++)
        crl_fini(&t->own[i]);
    wd_free(t->own);
    wd_free(t);
}

enum wd_err tls_ctx_new(const struct config_tls *cfg, const char *name, struct tls_ctx **out,
                        char *why, size_t whylen)
{
    *out = NULL;
    *why = '\0';
    if (tls_global_init() != WD_OK) {
        snprintf(why, whylen, "cannot initialise WolfSSL");
        return WD_ECONFIG;
    }
    struct tls_ctx *t = wd_calloc(1, sizeof *t);
    if (!t) {
        snprintf(why, whylen, "out of memory");
        return WD_ENOMEM;
    }
    t->refs = 1;
    t->ident = cfg->cert_identity;
    t->ctx = wolfSSL_CTX_new(cfg->tls_version == TLS_V13 ? wolfTLSv1_3_server_method()
                                                         : wolfSSLv23_server_method());
    enum wd_err e = WD_ECONFIG;
    int r;
    if (!t->ctx) {
        snprintf(why, whylen, "cannot create a TLS context (out of memory?)");
        e = WD_ENOMEM;
        goto fail;
    }
    /* TLS 1.0 and 1.1 are refused: the minimum is 1.2 or 1.3. */
    r = wolfSSL_CTX_SetMinVersion(t->ctx, cfg->tls_version == TLS_V13 ? WOLFSSL_TLSV1_3
                                                                      : WOLFSSL_TLSV1_2);
    if (r != WOLFSSL_SUCCESS) {
        snprintf(why, whylen, "tls_version: %s", wolf_reason(r));
        goto fail;
    }
    r = wolfSSL_CTX_use_certificate_chain_file(t->ctx, cfg->certfile);
    if (r != WOLFSSL_SUCCESS) {
        snprintf(why, whylen, "certfile %s: %s", cfg->certfile,
                 access(cfg->certfile, R_OK) != 0 ? strerror(errno) : wolf_reason(r));
        goto fail;
    }
    r = wolfSSL_CTX_use_PrivateKey_file(t->ctx, cfg->keyfile, WOLFSSL_FILETYPE_PEM);
    if (r != WOLFSSL_SUCCESS) {
        snprintf(why, whylen, "keyfile %s: %s", cfg->keyfile,
                 access(cfg->keyfile, R_OK) != 0 ? strerror(errno) : wolf_reason(r));
        goto fail;
    }
    if (wolfSSL_CTX_check_private_key(t->ctx) != WOLFSSL_SUCCESS) {
        snprintf(why, whylen, "keyfile %s does not match certfile %s", cfg->keyfile,
                 cfg->certfile);
        goto fail;
    }
    if ((e = set_ciphers(t, cfg, why, whylen)) != WD_OK)
        goto fail;
    e = WD_ECONFIG;
    if (cfg->cafile) {
        r = wolfSSL_CTX_load_verify_locations(t->ctx, cfg->cafile, NULL);
        if (r != WOLFSSL_SUCCESS) {
            snprintf(why, whylen, "cafile %s: %s", cfg->cafile,
                     access(cfg->cafile, R_OK) != 0 ? strerror(errno) : wolf_reason(r));
            goto fail;
        }
    }
    if (cfg->capath) {
        r = wolfSSL_CTX_load_verify_locations_ex(t->ctx, NULL, cfg->capath,
                                                 WOLFSSL_LOAD_FLAG_IGNORE_ERR);
        if (r != WOLFSSL_SUCCESS) {
            DIR *d = opendir(cfg->capath);
            snprintf(why, whylen, "capath %s: %s", cfg->capath,
                     d ? "no CA certificate in it" : strerror(errno));
            if (d)
                closedir(d);
            goto fail;
        }
    }
    if (cfg->cafile || cfg->capath) {
        t->verify_peer = true;
        wolfSSL_CTX_set_verify(t->ctx,
                               WOLFSSL_VERIFY_PEER | (cfg->require_certificate
                                                          ? WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                                          : 0),
                               NULL);
    } else {
        wolfSSL_CTX_set_verify(t->ctx, WOLFSSL_VERIFY_NONE, NULL);
    }
    if (cfg->crlfile && (e = load_crl(t, cfg, name, why, whylen)) != WD_OK)
        goto fail;
    wolfSSL_CTX_SetIORecv(t->ctx, io_recv);
    wolfSSL_CTX_SetIOSend(t->ctx, io_send);
    wolfSSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
    /*
     * No resumption: a resumed session carries no client certificate to
     * check against today's CA, CRL and (later) the store.
     */
    wolfSSL_CTX_set_session_cache_mode(t->ctx, WOLFSSL_SESS_CACHE_OFF);
    wolfSSL_CTX_NoTicketTLSv12(t->ctx);
    wolfSSL_CTX_no_ticket_TLSv13(t->ctx);
    *out = t;
    return WD_OK;
fail:
    ctx_free(t);
    return e;
}

void tls_ctx_unref(struct tls_ctx *t)
{
    if (!t)
        return;
    assert(t->refs > 0);
    if (--t->refs == 0)
        ctx_free(t);
}

bool tls_ctx_crl_stale(const struct tls_ctx *t, int64_t now)
{
    return t->crl_next_update && now >= t->crl_next_update;
}

/* ---- connections ---- */

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd)
{
    struct tls_conn *t = wd_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ssl = wolfSSL_new(ctx->ctx);
    if (!t->ssl) {
        wd_free(t);
        return NULL;
    }
    t->fd = fd;
    t->ctx = ctx;
    ctx->refs++;
    wolfSSL_SetIOReadCtx(t->ssl, t);
    wolfSSL_SetIOWriteCtx(t->ssl, t);
    return t;
}

void tls_conn_free(struct tls_conn *t)
{
    if (!t)
        return;
    if (t->done)
        wolfSSL_shutdown(t->ssl); /* one close_notify, no waiting for the peer's */
    wolfSSL_free(t->ssl);
    tls_ctx_unref(t->ctx);
    wd_free(t);
}

static void hexify(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/*
 * Fill in from a certificate's DER: fingerprint, CN, subject, issuer, SANs,
 * the identity of kind ident, expiry. On WD_OK *dc is parsed and the caller
 * frees it (wc_FreeDecodedCert); on WD_EIO err says why and nothing is held.
 */
static enum wd_err cert_fields(const unsigned char *der, int len, enum config_cert_identity ident,
                               struct tls_info *in, DecodedCert *pdc, char *err, size_t errlen)
{
    uint8_t fp[WC_SHA256_DIGEST_SIZE];
    if (wc_Sha256Hash(der, (word32)len, fp) != 0) {
        snprintf(err, errlen, "SHA-256 of the certificate failed");
        return WD_EIO;
    }
    hexify(fp, sizeof fp, in->fingerprint);
    wc_InitDecodedCert(pdc, der, (word32)len, NULL);
    int r = wc_ParseCert(pdc, CERT_TYPE, NO_VERIFY, NULL);
    if (r != 0) {
        wc_FreeDecodedCert(pdc);
        snprintf(err, errlen, "cannot decode the certificate: %s", wolf_reason(r));
        return WD_EIO;
    }
    if (pdc->subjectCN && pdc->subjectCNLen > 0)
        log_clean(in->cn, sizeof in->cn, pdc->subjectCN, (size_t)pdc->subjectCNLen);
    struct der subj = {pdc->subjectRaw, pdc->subjectRaw ? (size_t)pdc->subjectRawLen : 0};
    struct der iss = {pdc->issuerRaw, pdc->issuerRaw ? (size_t)pdc->issuerRawLen : 0};
    if (subj.n)
        name_text(subj, in->subject, sizeof in->subject);
    if (iss.n)
        name_text(iss, in->issuer, sizeof in->issuer);
    int want_type = 0;
    switch (ident) {
    case CERT_ID_SAN_DNS: want_type = ASN_DNS_TYPE; break;
    case CERT_ID_SAN_URI: want_type = ASN_URI_TYPE; break;
    case CERT_ID_SAN_EMAIL: want_type = ASN_RFC822_TYPE; break;
    case CERT_ID_CN: break;
    }
    /* WolfSSL keeps email SANs on a list of their own. */
    const DNS_entry *lists[2] = {pdc->altNames, pdc->altEmailNames};
    for (int li = 0; li < 2; li++)
    for (const DNS_entry *a = lists[li]; a; a = a->next) {
        const char *kind = a->type == ASN_DNS_TYPE      ? "DNS:"
                           : a->type == ASN_URI_TYPE    ? "URI:"
                           : a->type == ASN_RFC822_TYPE ? "email:"
                           : a->type == ASN_IP_TYPE     ? "IP:"
                                                        : NULL;
        if (!kind || !a->name || a->len <= 0)
            continue;
        char val[256];
        if (a->type == ASN_IP_TYPE && a->ipString)
            log_clean(val, sizeof val, a->ipString, strlen(a->ipString));
        else
            log_clean(val, sizeof val, a->name, (size_t)a->len);
        if (*in->sans)
            puts_(in->sans, sizeof in->sans, ", ");
        puts_(in->sans, sizeof in->sans, kind);
        puts_(in->sans, sizeof in->sans, val);
        if (want_type && a->type == want_type && !*in->identity)
            snprintf(in->identity, sizeof in->identity, "%s", val);
    }
    if (ident == CERT_ID_CN)
        snprintf(in->identity, sizeof in->identity, "%s", in->cn);
    if (pdc->afterDate && pdc->afterDateLen > 2) {
        struct der d = {pdc->afterDate, (size_t)pdc->afterDateLen}, v;
        uint8_t tg;
        int64_t na;
        if (der_next(&d, &tg, &v) && der_time(tg, v, &na))
            in->not_after = na;
    }
    return WD_OK;
}

/*
 * Read the leaf certificate of the peer chain into t->info and apply the
 * checks WolfSSL cannot make (expired CRLs kept under policy warn).
 * WD_OK, WD_EDENIED (t->err says why), WD_EIO.
 */
static enum wd_err peer_cert(struct tls_conn *t)
{
    struct tls_info *in = &t->info;
    WOLFSSL_X509_CHAIN *ch = wolfSSL_get_peer_chain(t->ssl);
    if (!t->ctx->verify_peer || !ch || wolfSSL_get_chain_count(ch) < 1)
        return WD_OK;
    const unsigned char *der = wolfSSL_get_chain_cert(ch, 0);
    int len = wolfSSL_get_chain_length(ch, 0);
    if (!der || len <= 0) {
        snprintf(t->err, sizeof t->err, "no DER for the client certificate");
        return WD_EIO;
    }
    DecodedCert dc;
    enum wd_err e = cert_fields(der, len, t->ctx->ident, in, &dc, t->err, sizeof t->err);
    if (e != WD_OK)
        return e;
    struct der iss = {dc.issuerRaw, dc.issuerRaw ? (size_t)dc.issuerRawLen : 0};
    if (t->ctx->nown && iss.n && own_revoked(t->ctx, iss, dc.serial, (size_t)dc.serialSz)) {
        snprintf(t->err, sizeof t->err,
                 "certificate %s is revoked (by an expired CRL, crl_expired_policy warn)",
                 in->subject);
        e = WD_EDENIED;
    }
    wc_FreeDecodedCert(&dc);
    in->has_cert = e == WD_OK;
    return e;
}

enum wd_err tls_cert_file(const char *path, struct tls_info *out, char *why, size_t whylen)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t len;
    enum wd_err e = read_file(path, &buf, &len);
    if (e != WD_OK) {
        snprintf(why, whylen, "%s: %s", path,
                 e == WD_EIO ? strerror(errno) : e == WD_ETOOLARGE ? "file too large"
                                                                   : "out of memory");
        return e == WD_ENOMEM ? e : WD_EIO;
    }
    uint8_t *der = buf;
    word32 dlen = (word32)len;
    if (!(len && buf[0] == 0x30)) {
        /* PEM: the first certificate of the file. */
        uint8_t *b = memmem(buf, len, begin, sizeof begin - 1);
        uint8_t *z = b ? memmem(b, len - (size_t)(b - buf), end, sizeof end - 1) : NULL;
        if (!b || !z) {
            wd_free(buf);
            snprintf(why, whylen, "%s: not a certificate (PEM or DER)", path);
            return WD_EINVAL;
        }
        b += sizeof begin - 1;
        dlen = (word32)(z - b);
        if (Base64_Decode(b, (word32)(z - b), b, &dlen) != 0) {
            wd_free(buf);
            snprintf(why, whylen, "%s: bad PEM (base64)", path);
            return WD_EINVAL;
        }
        der = b;
    }
    DecodedCert dc;
    char err[200];
    e = cert_fields(der, (int)dlen, CERT_ID_CN, out, &dc, err, sizeof err);
    wd_free(buf);
    if (e != WD_OK) {
        snprintf(why, whylen, "%s: %s", path, err);
        return WD_EINVAL;
    }
    wc_FreeDecodedCert(&dc);
    out->has_cert = true;
    return WD_OK;
}

enum wd_err tls_handshake(struct tls_conn *t)
{
    t->want_write = false;
    t->err[0] = '\0';
    int r = wolfSSL_accept(t->ssl);
    if (r != WOLFSSL_SUCCESS) {
        int e = wolfSSL_get_error(t->ssl, r);
        if (e == WOLFSSL_ERROR_WANT_READ)
            return WD_EAGAIN;
        if (e == WOLFSSL_ERROR_WANT_WRITE) {
            t->want_write = true;
            return WD_EAGAIN;
        }
        if (e == SOCKET_PEER_CLOSED_E || e == SOCKET_ERROR_E)
            snprintf(t->err, sizeof t->err, "connection closed during the handshake");
        else
            snprintf(t->err, sizeof t->err, "%s", wolf_reason(e));
        return WD_EIO;
    }
    t->done = true;
    struct tls_info *in = &t->info;
    snprintf(in->version, sizeof in->version, "%s", wolfSSL_get_version(t->ssl));
    const char *c = wolfSSL_get_cipher_name(t->ssl);
    snprintf(in->cipher, sizeof in->cipher, "%s", c ? c : "?");
    return peer_cert(t);
}

enum wd_err tls_recv(struct tls_conn *t, void *buf, size_t cap, size_t *n)
{
    t->want_write = false;
    int r = wolfSSL_read(t->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    if (r > 0) {
        *n = (size_t)r;
        return WD_OK;
    }
    int e = wolfSSL_get_error(t->ssl, r);
    switch (e) {
    case WOLFSSL_ERROR_WANT_READ:
        return WD_EAGAIN;
    case WOLFSSL_ERROR_WANT_WRITE:
        t->want_write = true;
        return WD_EAGAIN;
    case WOLFSSL_ERROR_ZERO_RETURN:
    case SOCKET_PEER_CLOSED_E:
        return WD_ECLOSED;
    default:
        snprintf(t->err, sizeof t->err, "%s", wolf_reason(e));
        return WD_EIO;
    }
}

enum wd_err tls_send(struct tls_conn *t, const void *buf, size_t len, size_t *n)
{
    t->want_write = false;
    int r = wolfSSL_write(t->ssl, buf, len > 16384 ? 16384 : (int)len);
    if (r > 0) {
        *n = (size_t)r;
        return WD_OK;
    }
    int e = wolfSSL_get_error(t->ssl, r);
    if (e == WOLFSSL_ERROR_WANT_WRITE) {
        t->want_write = true;
        return WD_EAGAIN;
    }
    if (e == WOLFSSL_ERROR_WANT_READ)
        return WD_EAGAIN;
    if (e == SOCKET_PEER_CLOSED_E || e == WOLFSSL_ERROR_ZERO_RETURN)
        return WD_ECLOSED;
    snprintf(t->err, sizeof t->err, "%s", wolf_reason(e));
    return WD_EIO;
}

bool tls_pending(const struct tls_conn *t)
{
    return wolfSSL_pending((WOLFSSL *)t->ssl) > 0;
}

bool tls_want_write(const struct tls_conn *t)
{
    return t->want_write;
}

const struct tls_info *tls_conn_info(const struct tls_conn *t)
{
    return &t->info;
}

const char *tls_conn_error(const struct tls_conn *t)
{
    return t->err;
}
