/*
 * loop.h - the broker thread's event loop: epoll for file descriptors, a
 * min-heap of timers, and a before-sleep hook that runs once per iteration
 * (where output is flushed and closed connections are reaped).
 * Thread: broker (everything here runs on the thread that calls loop_run).
 */
#ifndef WD_LOOP_H
#define WD_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct loop;

#define LOOP_READABLE 1u /* EPOLLIN */
#define LOOP_WRITABLE 2u /* EPOLLOUT */

struct loop_io;
/* events: LOOP_READABLE/LOOP_WRITABLE bits, plus LOOP_READABLE on hang-up/error. */
typedef void (*loop_io_fn)(struct loop_io *io, unsigned events);

/* A registered descriptor; embed it in the owner and find the owner with container_of. */
struct loop_io {
    int fd;
    unsigned events;   /* what we currently wait for */
    loop_io_fn fn;
};

struct loop_timer;
typedef void (*loop_timer_fn)(struct loop_timer *t);

/* A timer; embed it in the owner. Inactive when heap_idx == SIZE_MAX. */
struct loop_timer {
    uint64_t when_ms;  /* loop_now_ms() deadline */
    size_t heap_idx;   /* position in the heap, SIZE_MAX when not armed */
    loop_timer_fn fn;
};

typedef void (*loop_hook_fn)(void *ctx);

/* Returns owned: free with loop_free(). NULL on failure (errno logged). */
struct loop *loop_new(void);
void loop_free(struct loop *l);

enum wd_err loop_add(struct loop *l, struct loop_io *io, int fd, unsigned events, loop_io_fn fn);
enum wd_err loop_set(struct loop *l, struct loop_io *io, unsigned events);
void loop_del(struct loop *l, struct loop_io *io);

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn);
/* Arm (or re-arm) t to fire after ms milliseconds. */
enum wd_err loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t ms);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t) { return t->heap_idx != SIZE_MAX; }

void loop_set_before_sleep(struct loop *l, loop_hook_fn fn, void *ctx);

/* Milliseconds on the monotonic clock, as of the start of this iteration. */
uint64_t loop_now_ms(const struct loop *l);
/* Read the clock now and update loop_now_ms(). */
uint64_t loop_update_time(struct loop *l);

/* One iteration: before-sleep hook, wait (at most max_wait_ms, -1 = until a timer), dispatch. */
void loop_run_once(struct loop *l, int max_wait_ms);

/* Run until loop_stop(). */
void loop_run(struct loop *l);
void loop_stop(struct loop *l);

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
