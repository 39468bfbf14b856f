/*
 * worker.h - the auth workers: a few threads, below the broker thread's
 * priority, that run slow work (Argon2id, store lookups) off the broker
 * thread, fed through a bounded queue.
 *
 * The broker thread submits a job; a worker runs job->run(); the job comes
 * back through an eventfd the broker's loop watches, and job->done() runs on
 * the broker thread. A job is owned by the pool from submit until done() is
 * called; done() owns it again (and usually frees it).
 * Thread: worker_submit/worker_free on the broker thread; run() on a worker.
 */
#ifndef WD_WORKER_H
#define WD_WORKER_H

#include <stddef.h>

#include "err.h"

struct loop;
struct worker_pool;
struct worker_job;

typedef void (*worker_fn)(struct worker_job *j);

/* Embed in the job's own struct and recover it with container_of. */
struct worker_job {
    worker_fn run;              /* on a worker thread */
    worker_fn done;             /* back on the broker thread */
    struct worker_job *next;    /* queue link, the pool's */
};

/*
 * Start nthreads workers (at least 1) with at most max_pending jobs waiting
 * (not counting those running). Returns NULL with the reason logged.
 */
struct worker_pool *worker_new(struct loop *l, unsigned nthreads, unsigned max_pending);

/* Stop the workers after the jobs they are running; queued jobs are not run.
 * done() is called for every job not yet returned (run or not). */
void worker_free(struct worker_pool *p);

/* Queue j. WD_EBUSY when max_pending jobs already wait (j untouched). */
enum wd_err worker_submit(struct worker_pool *p, struct worker_job *j);

/* Jobs waiting (not running). */
size_t worker_pending(const struct worker_pool *p);

#endif
