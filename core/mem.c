/*
 * mem.c - counted allocation with a limit and fault injection.
 *
 * The broker thread allocates and frees on every message, so counting must
 * cost next to nothing: each thread keeps its own counters (bytes it
 * allocated minus bytes it freed, allocations made) in a block of its own,
 * updated with plain relaxed loads and stores, no locked instruction. Readers
 * sum the blocks under a mutex; a block whose thread exits is folded into
 * `retired`. A block freed on another thread than the one that allocated it
 * is fine: only the sum is meaningful, and the sum is exact.
 *
 * Sizes come from malloc_usable_size(), so blocks carry no header of ours;
 * mem_in_use() counts usable bytes (the request rounded up by malloc).
 * Only an armed limit or fault injection (tests) takes the slow path.
 */
#include "mem.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct counters {
    _Atomic long long net;        /* bytes allocated minus bytes freed by this thread */
    _Atomic unsigned long count;  /* allocations made by this thread */
    struct counters *next;        /* all live threads' blocks, under lock */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t key;             /* folds a thread's block into retired at exit */
static struct counters *live;         /* under lock */
static long long retired_net;         /* under lock: exited threads' totals */
static unsigned long retired_count;   /* under lock */
static _Thread_local struct counters *mine;

static atomic_size_t peak;
static atomic_size_t limit;
static atomic_bool armed;              /* fault injection on: take the slow path */
static atomic_ulong fail_seq;          /* allocations since mem_fail_after() */
static atomic_ulong fail_at;           /* the one that fails; 0 = never */

static void retire(void *p)
{
    struct counters *c = p;
    pthread_mutex_lock(&lock);
    for (struct counters **pp = &live; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    retired_net += atomic_load_explicit(&c->net, memory_order_relaxed);
    retired_count += atomic_load_explicit(&c->count, memory_order_relaxed);
    pthread_mutex_unlock(&lock);
    if (mine == c)
        mine = NULL;
    free(c);
}

static void make_key(void)
{
    pthread_key_create(&key, retire);
}

/* This thread's block, made on its first allocation. NULL only if malloc fails. */
static struct counters *counters(void)
{
    if (mine)
        return mine;
    struct counters *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_once(&once, make_key);
    pthread_mutex_lock(&lock);
    c->next = live;
    live = c;
    pthread_mutex_unlock(&lock);
    pthread_setspecific(key, c);
    return mine = c;
}

/* Single-writer add: the owning thread alone stores, readers only load. */
static inline void add_net(struct counters *c, long long d)
{
    atomic_store_explicit(&c->net, atomic_load_explicit(&c->net, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

static void sum(long long *net, unsigned long *count)
{
    pthread_mutex_lock(&lock);
    long long n = retired_net;
    unsigned long k = retired_count;
    for (struct counters *c = live; c; c = c->next) {
        n += atomic_load_explicit(&c->net, memory_order_relaxed);
        k += atomic_load_explicit(&c->count, memory_order_relaxed);
    }
    pthread_mutex_unlock(&lock);
    *net = n;
    *count = k;
}

size_t mem_in_use(void)
{
    long long n;
    unsigned long k;
    sum(&n, &k);
    size_t v = n > 0 ? (size_t)n : 0;
    size_t p = atomic_load_explicit(&peak, memory_order_relaxed);
    while (v > p && !atomic_compare_exchange_weak(&peak, &p, v))
        ;
    return v;
}

/* Decide whether an allocation of n more bytes may proceed; counts it. */
static inline int admit(struct counters *c, size_t n)
{
    atomic_store_explicit(&c->count, atomic_load_explicit(&c->count, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (__builtin_expect(atomic_load_explicit(&armed, memory_order_relaxed), 0)) {
        unsigned long f = atomic_load(&fail_at);
        if (f && atomic_fetch_add(&fail_seq, 1) + 1 == f)
            return 0;
    }
    size_t lim = atomic_load_explicit(&limit, memory_order_relaxed);
    if (__builtin_expect(lim != 0, 0) && mem_in_use() + n > lim)
        return 0;
    return 1;
}

void *wd_malloc(size_t n)
{
    struct counters *c = counters();
    if (!c || !admit(c, n))
        return NULL;
    void *p = malloc(n ? n : 1);
    if (p)
        add_net(c, (long long)malloc_usable_size(p));
    return p;
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
    struct counters *c = counters();
    size_t old = malloc_usable_size(p);
    if (!c || (n > old && !admit(c, n - old)))
        return NULL;
    void *np = realloc(p, n ? n : 1);
    if (!np)
        return NULL;
    add_net(c, (long long)malloc_usable_size(np) - (long long)old);
    return np;
}

void wd_free(void *p)
{
    if (!p)
        return;
    struct counters *c = counters();
    size_t n = malloc_usable_size(p);
    free(p);
    if (c)
        add_net(c, -(long long)n);
    /* else: no block and none can be made; this thread never allocated through us */
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

size_t mem_peak(void)
{
    mem_in_use(); /* folds the current value in */
    return atomic_load(&peak);
}

void mem_set_limit(size_t l) { atomic_store(&limit, l); }

unsigned long mem_alloc_count(void)
{
    long long n;
    unsigned long k;
    sum(&n, &k);
    return k;
}

void mem_fail_after(unsigned long nth)
{
    atomic_store(&armed, false);
    atomic_store(&fail_seq, 0);
    atomic_store(&fail_at, nth);
    atomic_store(&armed, nth != 0);
}
