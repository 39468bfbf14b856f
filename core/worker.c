/*
 * worker.c - auth worker threads (see worker.h).
 *
 * One mutex guards both lists: the input queue (broker -> workers) and the
 * output list (workers -> broker). Jobs are few (one per connect that needs
 * a hash) and each takes milliseconds, so one lock is no contention. The
 * workers lower their own priority (nice 10) so that a storm of logins
 * slows logins, not message traffic.
 */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "mem.h"

struct worker_pool {
    struct loop *loop;
    struct loop_io io;          /* the eventfd that signals finished jobs */
    int efd;
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* jobs queued or stopping */
    struct worker_job *in_head, *in_tail;
    size_t in_count, max_pending;
    struct worker_job *out;     /* finished, in any order */
    bool stopping;
    unsigned nthreads;
    pthread_t *threads;         /* owned, nthreads */
};

static void *worker_main(void *arg)
{
    struct worker_pool *p = arg;
    /* Per-thread nice value on Linux: logins yield to traffic. */
    setpriority(PRIO_PROCESS, 0, 10);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->in_head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->stopping)
            break;
        struct worker_job *j = p->in_head;
        p->in_head = j->next;
        if (!p->in_head)
            p->in_tail = NULL;
        p->in_count--;
        pthread_mutex_unlock(&p->lock);
        j->run(j);
        pthread_mutex_lock(&p->lock);
        j->next = p->out;
        p->out = j;
        uint64_t one = 1;
        if (write(p->efd, &one, sizeof one) < 0 && errno != EAGAIN)
            log_warning("worker eventfd: %s", strerror(errno));
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void deliver(struct worker_pool *p)
{
    pthread_mutex_lock(&p->lock);
    struct worker_job *j = p->out;
    p->out = NULL;
    pthread_mutex_unlock(&p->lock);
    while (j) {
        struct worker_job *next = j->next;
        j->done(j);
        j = next;
    }
}

static void on_done(struct loop_io *io, unsigned events)
{
    (void)events;
    struct worker_pool *p = container_of(io, struct worker_pool, io);
    uint64_t v;
    if (read(p->efd, &v, sizeof v) < 0 && errno != EAGAIN)
        log_warning("worker eventfd: %s", strerror(errno));
    deliver(p);
}

struct worker_pool *worker_new(struct loop *l, unsigned nthreads, unsigned max_pending)
{
    struct worker_pool *p = wd_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = l;
    p->max_pending = max_pending;
    p->nthreads = nthreads ? nthreads : 1;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->threads = wd_calloc(p->nthreads, sizeof *p->threads);
    if (p->efd < 0 || !p->threads) {
        log_error("auth workers: %s", p->efd < 0 ? strerror(errno) : "out of memory");
        if (p->efd >= 0)
            close(p->efd);
        wd_free(p->threads);
        wd_free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    if (loop_add(l, &p->io, p->efd, LOOP_READABLE, on_done) != WD_OK) {
        close(p->efd);
        wd_free(p->threads);
        wd_free(p);
        return NULL;
    }
    for (unsigned i = 0; i < p->nthreads; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (rc != 0) {
            log_error("auth worker thread: %s", strerror(rc));
            p->nthreads = i;
            worker_free(p);
            return NULL;
        }
    }
    return p;
}

void worker_free(struct worker_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* Queued jobs never ran: hand them back with the finished ones. */
    struct worker_job *j = p->in_head;
    while (j) {
        struct worker_job *next = j->next;
        j->next = p->out;
        p->out = j;
        j = next;
    }
    p->in_head = p->in_tail = NULL;
    deliver(p);
    loop_del(p->loop, &p->io);
    close(p->efd);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    wd_free(p->threads);
    wd_free(p);
}

enum wd_err worker_submit(struct worker_pool *p, struct worker_job *j)
{
    pthread_mutex_lock(&p->lock);
    if (p->in_count >= p->max_pending) {
        pthread_mutex_unlock(&p->lock);
        return WD_EBUSY;
    }
    j->next = NULL;
    if (p->in_tail)
        p->in_tail->next = j;
    else
        p->in_head = j;
    p->in_tail = j;
    p->in_count++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return WD_OK;
}

size_t worker_pending(const struct worker_pool *p)
{
    return p->in_count;
}
