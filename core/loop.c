/*
 * loop.c - epoll + timer heap + before-sleep hook (see loop.h).
 *
 * Workload: thousands of sockets, one timer per connection (keepalive) and a
 * few per session (will delay, expiry). Timers live in a binary min-heap of
 * pointers; each timer knows its heap slot, so cancel and re-arm are O(log n).
 */
#include "loop.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

#define MAX_EVENTS 256

struct loop {
    int epfd;
    bool stop;
    uint64_t now_ms;
    struct loop_timer **heap; /* min-heap on when_ms */
    size_t nheap, capheap;
    loop_hook_fn before_sleep;
    void *before_sleep_ctx;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct loop *loop_new(void)
{
    struct loop *l = wd_calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        log_error("epoll_create1: %s", strerror(errno));
        wd_free(l);
        return NULL;
    }
    l->now_ms = mono_ms();
    return l;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    close(l->epfd);
    wd_free(l->heap);
    wd_free(l);
}

static uint32_t to_epoll(unsigned ev)
{
    return (ev & LOOP_READABLE ? EPOLLIN : 0) | (ev & LOOP_WRITABLE ? EPOLLOUT : 0);
}

enum wd_err loop_add(struct loop *l, struct loop_io *io, int fd, unsigned events, loop_io_fn fn)
{
    io->fd = fd;
    io->events = events;
    io->fn = fn;
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_error("epoll_ctl add fd %d: %s", fd, strerror(errno));
        return WD_EIO;
    }
    return WD_OK;
}

enum wd_err loop_set(struct loop *l, struct loop_io *io, unsigned events)
{
    if (io->events == events)
        return WD_OK;
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0) {
        log_error("epoll_ctl mod fd %d: %s", io->fd, strerror(errno));
        return WD_EIO;
    }
    io->events = events;
    return WD_OK;
}

void loop_del(struct loop *l, struct loop_io *io)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

/* Heap helpers: keep heap[i]->heap_idx == i. */
static void heap_place(struct loop *l, size_t i, struct loop_timer *t)
{
    l->heap[i] = t;
    t->heap_idx = i;
}

static void sift_up(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (l->heap[p]->when_ms <= t->when_ms)
            break;
        heap_place(l, i, l->heap[p]);
        i = p;
    }
    heap_place(l, i, t);
}

static void sift_down(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && l->heap[c + 1]->when_ms < l->heap[c]->when_ms)
            c++;
        if (l->heap[c]->when_ms >= t->when_ms)
            break;
        heap_place(l, i, l->heap[c]);
        i = c;
    }
    heap_place(l, i, t);
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn)
{
    t->when_ms = 0;
    t->heap_idx = SIZE_MAX;
    t->fn = fn;
}

enum wd_err loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t ms)
{
    uint64_t when = l->now_ms + ms;
    if (loop_timer_armed(t)) {
        uint64_t old = t->when_ms;
        t->when_ms = when;
        if (when < old)
            sift_up(l, t->heap_idx);
        else
            sift_down(l, t->heap_idx);
        return WD_OK;
    }
    if (l->nheap == l->capheap) {
        size_t cap = l->capheap ? l->capheap * 2 : 64;
        struct loop_timer **h = wd_realloc(l->heap, cap * sizeof *h);
        if (!h)
            return WD_ENOMEM;
        l->heap = h;
        l->capheap = cap;
    }
    t->when_ms = when;
    heap_place(l, l->nheap++, t);
    sift_up(l, t->heap_idx);
    return WD_OK;
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
    if (!loop_timer_armed(t))
        return;
    size_t i = t->heap_idx;
    t->heap_idx = SIZE_MAX;
    l->nheap--;
    if (i == l->nheap)
        return;
    struct loop_timer *last = l->heap[l->nheap];
    heap_place(l, i, last);
    if (i > 0 && l->heap[(i - 1) / 2]->when_ms > last->when_ms)
        sift_up(l, i);
    else
        sift_down(l, i);
}

void loop_set_before_sleep(struct loop *l, loop_hook_fn fn, void *ctx)
{
    l->before_sleep = fn;
    l->before_sleep_ctx = ctx;
}

uint64_t loop_now_ms(const struct loop *l)
{
    return l->now_ms;
}

uint64_t loop_update_time(struct loop *l)
{
    l->now_ms = mono_ms();
    return l->now_ms;
}

static void run_timers(struct loop *l)
{
    /* Bounded: a timer re-armed for "now" waits for the next iteration. */
    size_t budget = l->nheap;
    while (budget-- && l->nheap && l->heap[0]->when_ms <= l->now_ms) {
        struct loop_timer *t = l->heap[0];
        loop_timer_cancel(l, t);
        t->fn(t);
    }
}

void loop_stop(struct loop *l)
{
    l->stop = true;
}

void loop_run_once(struct loop *l, int max_wait_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    if (l->before_sleep)
        l->before_sleep(l->before_sleep_ctx);
    if (l->stop)
        return;
    int timeout = max_wait_ms;
    if (l->nheap) {
        uint64_t now = mono_ms();
        uint64_t when = l->heap[0]->when_ms;
        int t = when <= now ? 0 : (int)(when - now > 60000 ? 60000 : when - now);
        if (timeout < 0 || t < timeout)
            timeout = t;
    }
    int n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout);
    if (n < 0 && errno != EINTR) {
        log_error("epoll_wait: %s", strerror(errno));
        l->stop = true;
        return;
    }
    loop_update_time(l);
    for (int i = 0; i < n; i++) {
        struct loop_io *io = evs[i].data.ptr;
        unsigned ev = 0;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            ev |= LOOP_READABLE;
        if (evs[i].events & EPOLLOUT)
            ev |= LOOP_WRITABLE;
        io->fn(io, ev);
    }
    run_timers(l);
}

void loop_run(struct loop *l)
{
    l->stop = false;
    while (!l->stop)
        loop_run_once(l, -1);
}
