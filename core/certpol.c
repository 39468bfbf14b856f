/*
 * certpol.c - certificate revocations and pins as sorted arrays (see
 * certpol.h). Both lists are small (one entry per device at most) and
 * change rarely; they are rebuilt whole on a store change, never edited.
 */
#include "certpol.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

struct pin {
    char *user;                /* owned */
    uint8_t fp[CERT_FP_LEN];
};

struct certpol {
    uint8_t (*revoked)[CERT_FP_LEN];   /* owned, sorted */
    size_t nrevoked;
    struct pin *pins;                  /* owned, sorted by user, then fp */
    size_t npins;
};

static int cmp_fp(const void *x, const void *y)
{
    return memcmp(x, y, CERT_FP_LEN);
}

static int cmp_pin(const void *x, const void *y)
{
    const struct pin *a = x, *b = y;
    int c = strcmp(a->user, b->user);
    return c ? c : memcmp(a->fp, b->fp, CERT_FP_LEN);
}

void certpol_free(struct certpol *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->npins; i++)
        wd_free(p->pins[i].user);
    wd_free(p->pins);
    wd_free(p->revoked);
    wd_free(p);
}

enum wd_err certpol_load(const struct backend_ops *ops, struct certpol **out)
{
    struct certpol *p = wd_calloc(1, sizeof *p);
    if (!p)
        return WD_ENOMEM;
    *out = p;
    if (!ops || !ops->certs_list)
        return WD_OK;
    struct cert_rec *v = NULL;
    size_t n = 0;
    enum wd_err e = ops->certs_list(ops->ctx, CERTREC_REVOKED, &v, &n);
    if (e == WD_OK && n && !(p->revoked = wd_calloc(n, CERT_FP_LEN)))
        e = WD_ENOMEM;
    for (size_t i = 0; e == WD_OK && i < n; i++)
        memcpy(p->revoked[p->nrevoked++], v[i].fp, CERT_FP_LEN);
    backend_certs_free(v, n);
    v = NULL;
    n = 0;
    if (e == WD_OK)
        e = ops->certs_list(ops->ctx, CERTREC_PIN, &v, &n);
    if (e == WD_OK && n && !(p->pins = wd_calloc(n, sizeof *p->pins)))
        e = WD_ENOMEM;
    for (size_t i = 0; e == WD_OK && i < n; i++) {
        p->pins[i].user = v[i].user; /* moves ownership */
        v[i].user = NULL;
        memcpy(p->pins[i].fp, v[i].fp, CERT_FP_LEN);
        p->npins++;
    }
    backend_certs_free(v, n);
    if (e != WD_OK) {
        certpol_free(p);
        *out = NULL;
        return e;
    }
    if (p->nrevoked)
        qsort(p->revoked, p->nrevoked, CERT_FP_LEN, cmp_fp);
    if (p->npins)
        qsort(p->pins, p->npins, sizeof *p->pins, cmp_pin);
    return WD_OK;
}

/* Does user pin anything? The first pin of user, by binary search on the name. */
static bool has_pins(const struct certpol *p, const char *user)
{
    size_t lo = 0, hi = p->npins;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->pins[mid].user, user);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

enum cert_verdict certpol_check(const struct certpol *p, const char *user,
                                const uint8_t fp[CERT_FP_LEN])
{
    if (!p)
        return CERT_VERDICT_OK;
    if (p->nrevoked && bsearch(fp, p->revoked, p->nrevoked, CERT_FP_LEN, cmp_fp))
        return CERT_VERDICT_REVOKED;
    if (!user || !has_pins(p, user))
        return CERT_VERDICT_OK;
    struct pin key = {(char *)user, {0}};
    memcpy(key.fp, fp, CERT_FP_LEN);
    return bsearch(&key, p->pins, p->npins, sizeof *p->pins, cmp_pin) ? CERT_VERDICT_OK
                                                                      : CERT_VERDICT_NOT_PINNED;
}

const char *certpol_verdict_text(enum cert_verdict v)
{
    switch (v) {
    case CERT_VERDICT_REVOKED: return "revoked";
    case CERT_VERDICT_NOT_PINNED: return "not pinned";
    case CERT_VERDICT_OK: break;
    }
    return "ok";
}

static size_t slot_of(const uint8_t fp[CERT_FP_LEN])
{
    uint64_t h;
    memcpy(&h, fp, sizeof h); /* a SHA-256: already uniform */
    return (size_t)h;
}

bool certpol_seen_due(struct certpol_seen *t, const uint8_t fp[CERT_FP_LEN], uint64_t now_ms)
{
    size_t h = slot_of(fp);
    struct certpol_seen_slot *victim = NULL;
    for (size_t i = 0; i < 8; i++) {
        struct certpol_seen_slot *s = &t->slot[(h + i) & (CERTPOL_SEEN_SLOTS - 1)];
        if (s->written_ms && memcmp(s->fp, fp, CERT_FP_LEN) == 0) {
            if (now_ms - s->written_ms < CERTPOL_SEEN_EVERY_MS)
                return false;
            s->written_ms = now_ms ? now_ms : 1;
            return true;
        }
        if (!victim || s->written_ms < victim->written_ms)
            victim = s;
    }
    memcpy(victim->fp, fp, CERT_FP_LEN);
    victim->written_ms = now_ms ? now_ms : 1;
    return true;
}

void certpol_seen_forget(struct certpol_seen *t, const uint8_t fp[CERT_FP_LEN])
{
    size_t h = slot_of(fp);
    for (size_t i = 0; i < 8; i++) {
        struct certpol_seen_slot *s = &t->slot[(h + i) & (CERTPOL_SEEN_SLOTS - 1)];
        if (s->written_ms && memcmp(s->fp, fp, CERT_FP_LEN) == 0)
            s->written_ms = 0;
    }
}
