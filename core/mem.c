/*
 * mem.c - counted allocation with a limit and fault injection.
 *
 * Each block carries a 16-byte header holding its size, so that wd_free()
 * can keep the count exact and the payload stays 16-byte aligned.
 */
#include "mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HDR 16

static atomic_size_t in_use;
static atomic_size_t peak;
static atomic_size_t limit;
static atomic_ulong fail_at;   /* allocation number that fails; 0 = never */
static atomic_ulong count;     /* allocations made */

/* Decide whether this allocation of n more bytes may proceed. */
static int admit(size_t n)
{
    unsigned long c = atomic_fetch_add(&count, 1) + 1;
    unsigned long f = atomic_load(&fail_at);
    if (f && c == f)
        return 0;
    size_t lim = atomic_load(&limit);
    if (lim && atomic_load(&in_use) + n > lim)
        return 0;
    return 1;
}

static void account(size_t add, size_t sub)
{
    size_t now = atomic_fetch_add(&in_use, add) + add;
    atomic_fetch_sub(&in_use, sub);
    now -= sub;
    size_t p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
        ;
}

void *wd_malloc(size_t n)
{
    if (n > SIZE_MAX - HDR || !admit(n))
        return NULL;
    unsigned char *b = malloc(n + HDR);
    if (!b)
        return NULL;
    memcpy(b, &n, sizeof n);
    account(n, 0);
    return b + HDR;
}

void *wd_calloc(size_t nmemb, size_t size)
{
    if (size && nmemb > SIZE_MAX / size)
        return NULL;
    void *p = wd_malloc(nmemb * size);
    if (p)
        memset(p, 0, nmemb * size);
    return p;
}

void *wd_realloc(void *p, size_t n)
{
    if (!p)
        return wd_malloc(n);
    unsigned char *b = (unsigned char *)p - HDR;
    size_t old;
    memcpy(&old, b, sizeof old);
    if (n > SIZE_MAX - HDR || (n > old && !admit(n - old)))
        return NULL;
    unsigned char *nb = realloc(b, n + HDR);
    if (!nb)
        return NULL;
    memcpy(nb, &n, sizeof n);
    account(n, old);
    return nb + HDR;
}

void wd_free(void *p)
{
    if (!p)
        return;
    unsigned char *b = (unsigned char *)p - HDR;
    size_t n;
    memcpy(&n, b, sizeof n);
    atomic_fetch_sub(&in_use, n);
    free(b);
}

char *wd_strndup(const char *s, size_t len)
{
    char *d = wd_malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *wd_strdup(const char *s)
{
    return wd_strndup(s, strlen(s));
}

size_t mem_in_use(void) { return atomic_load(&in_use); }
size_t mem_peak(void) { return atomic_load(&peak); }
void mem_set_limit(size_t l) { atomic_store(&limit, l); }
unsigned long mem_alloc_count(void) { return atomic_load(&count); }

void mem_fail_after(unsigned long nth)
{
    atomic_store(&fail_at, nth ? atomic_load(&count) + nth : 0);
}
