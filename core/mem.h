/*
 * mem.h - allocation wrappers: every allocation in Warden goes through here.
 *
 * They count bytes in use (for the console, $SYS and the memory-per-connection
 * benchmark), enforce an optional limit, and let tests make the Nth allocation
 * fail (fault injection, as SQLite's tests do). A failed allocation returns
 * NULL; callers turn that into WD_ENOMEM and never abort on it.
 * Thread: any (per-thread counters; see mem.c).
 */
#ifndef WD_MEM_H
#define WD_MEM_H

#include <stddef.h>

/* Returns owned: free with wd_free(). NULL on failure or when over the limit. */
void *wd_malloc(size_t n);
void *wd_calloc(size_t count, size_t size);
/* Like realloc(); on failure the old block stays valid and NULL is returned. */
void *wd_realloc(void *p, size_t n);
/* wd_free(NULL) is a no-op. */
void wd_free(void *p);
/* Returns owned: a NUL-terminated copy of s[0..len). */
char *wd_strndup(const char *s, size_t len);
char *wd_strdup(const char *s);

/*
 * Bytes currently allocated through these wrappers: the usable size of each
 * block (malloc_usable_size(), the request rounded up by malloc). Exact: it
 * returns to the same value once everything allocated since has been freed.
 * Sums every thread's counters under a mutex: for $SYS, the console and
 * tests, not for a hot path.
 */
size_t mem_in_use(void);
/* Highest value mem_in_use() has returned (sampled when read, not per allocation). */
size_t mem_peak(void);
/* Refuse allocations that would take mem_in_use() above limit; 0 = no limit. */
void mem_set_limit(size_t limit);
/* Fault injection: the nth allocation from now fails (1 = the next); 0 = off. */
void mem_fail_after(unsigned long nth);
/* Number of allocations made so far (for fault-injection loops). */
unsigned long mem_alloc_count(void);

#endif
