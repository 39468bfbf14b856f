/*
 * model.c - view-model of the console: filtered, sorted rows over a borrowed
 * admin snapshot, the selection kept by client id, and traffic rates.
 *
 * Workload: a snapshot of up to some 10,000 sessions once a second; rebuilding
 * is a filter pass and one qsort, well under a millisecond at that size.
 * Memory comes from libc, not mem.c: the console's own allocations must not
 * count as the broker's "memory in use" in embedded mode.
 */
#include "model.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const col_titles[] = {
#define MODEL_COL_TITLE(id, title, width) title,
    MODEL_COLUMNS(MODEL_COL_TITLE)
#undef MODEL_COL_TITLE
};
static const int col_widths[] = {
#define MODEL_COL_WIDTH(id, title, width) width,
    MODEL_COLUMNS(MODEL_COL_WIDTH)
#undef MODEL_COL_WIDTH
};

const char *model_col_title(enum model_col c)
{
    return c < MODEL_NCOLS ? col_titles[c] : "?";
}

int model_col_width(enum model_col c)
{
    return c < MODEL_NCOLS ? col_widths[c] : 0;
}

void model_init(struct model *m)
{
    memset(m, 0, sizeof *m);
    m->sort_col = COL_CLIENT;
}

void model_fini(struct model *m)
{
    free(m->rows);
    free(m->sel_key);
    memset(m, 0, sizeof *m);
}

/* Case-insensitive substring test; an empty needle matches. */
static bool contains(const char *hay, const char *needle)
{
    if (!*needle)
        return true;
    if (!hay)
        return false;
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return true;
    return false;
}

bool model_matches(const struct admin_session *s, const char *f)
{
    return !*f || contains(s->client_id, f) || contains(s->username, f) ||
           contains(s->auth_method, f) || contains(s->addr, f);
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int cmp_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* Compare two sessions on column c; ties are broken by client id. */
static int cmp_col(const struct admin_session *a, const struct admin_session *b, enum model_col c)
{
    int r = 0;
    switch (c) {
    case COL_CLIENT: break;
    case COL_IDENTITY: r = cmp_str(a->username, b->username); break;
    case COL_AUTH: r = cmp_str(a->auth_method, b->auth_method); break;
    case COL_ADDR: r = cmp_str(a->addr, b->addr); break;
    case COL_PROTO: r = cmp_u64(a->version, b->version); break;
    case COL_TLS: r = cmp_str(a->tls_version, b->tls_version); break;
    case COL_SINCE: r = cmp_u64(a->since, b->since); break;
    case COL_IN: r = cmp_u64(a->msgs_in, b->msgs_in); break;
    case COL_OUT: r = cmp_u64(a->msgs_out, b->msgs_out); break;
    case COL_SUBS: r = cmp_u64(a->subscriptions, b->subscriptions); break;
    case COL_INFLIGHT: r = cmp_u64(a->inflight, b->inflight); break;
    case COL_QUEUED: r = cmp_u64(a->queued, b->queued); break;
    case MODEL_NCOLS: break;
    }
    return r ? r : cmp_str(a->client_id, b->client_id);
}

static int cmp_rows(const void *x, const void *y, void *ctx)
{
    const struct model *m = ctx;
    int r = cmp_col(&m->snap->v[*(const size_t *)x], &m->snap->v[*(const size_t *)y], m->sort_col);
    return m->sort_desc ? -r : r;
}

static enum wd_err set_key(struct model *m, const char *key)
{
    if (m->sel_key && key && !strcmp(m->sel_key, key))
        return WD_OK;
    char *k = key ? strdup(key) : NULL;
    if (key && !k)
        return WD_ENOMEM;
    free(m->sel_key);
    m->sel_key = k;
    return WD_OK;
}

/* Rebuild rows from the snapshot; then select the key, or the same position. */
static enum wd_err rebuild(struct model *m)
{
    size_t n = m->snap ? m->snap->n : 0;
    m->nrows = 0;
    if (n > m->cap) {
        size_t *r = realloc(m->rows, n * sizeof *r);
        if (!r) {
            m->sel = m->top = 0;
            return WD_ENOMEM;
        }
        m->rows = r;
        m->cap = n;
    }
    for (size_t i = 0; i < n; i++)
        if (model_matches(&m->snap->v[i], m->filter))
            m->rows[m->nrows++] = i;
    if (m->nrows > 1)
        qsort_r(m->rows, m->nrows, sizeof *m->rows, cmp_rows, m);
    if (!m->nrows) {
        m->sel = m->top = 0;
        return WD_OK; /* keep sel_key: the row may come back */
    }
    if (m->sel_key && model_select_key(m, m->sel_key))
        return WD_OK;
    if (m->sel >= m->nrows)
        m->sel = m->nrows - 1;
    return set_key(m, model_row(m, m->sel)->client_id);
}

enum wd_err model_set_sessions(struct model *m, const struct admin_sessions *snap)
{
    m->snap = snap;
    return rebuild(m);
}

enum wd_err model_set_filter(struct model *m, const char *text)
{
    size_t n = strlen(text);
    if (n >= sizeof m->filter)
        n = sizeof m->filter - 1;
    memcpy(m->filter, text, n);
    m->filter[n] = '\0';
    return rebuild(m);
}

enum wd_err model_set_sort(struct model *m, enum model_col col, bool desc)
{
    m->sort_col = col < MODEL_NCOLS ? col : COL_CLIENT;
    m->sort_desc = desc;
    return rebuild(m);
}

void model_move(struct model *m, long delta)
{
    if (!m->nrows)
        return;
    long s = (long)m->sel + delta;
    if (s < 0)
        s = 0;
    if ((size_t)s >= m->nrows)
        s = (long)m->nrows - 1;
    m->sel = (size_t)s;
    (void)set_key(m, model_row(m, m->sel)->client_id); /* on ENOMEM the old key stays */
}

bool model_select_key(struct model *m, const char *key)
{
    for (size_t i = 0; i < m->nrows; i++) {
        if (!strcmp(model_row(m, i)->client_id, key)) {
            m->sel = i;
            (void)set_key(m, key);
            return true;
        }
    }
    return false;
}

const struct admin_session *model_row(const struct model *m, size_t i)
{
    return &m->snap->v[m->rows[i]];
}

const struct admin_session *model_selected(const struct model *m)
{
    return m->nrows ? model_row(m, m->sel) : NULL;
}

void model_scroll(struct model *m, size_t height)
{
    if (!height)
        return;
    if (m->sel < m->top)
        m->top = m->sel;
    if (m->sel >= m->top + height)
        m->top = m->sel - height + 1;
    if (m->nrows <= height)
        m->top = 0;
    else if (m->top > m->nrows - height)
        m->top = m->nrows - height;
}

/* ---- rates ---- */

void model_rates_init(struct model_rates *r)
{
    memset(r, 0, sizeof *r);
}

/* Per-second rate of a counter; a counter that went backwards (restart) counts 0. */
static double rate(uint64_t now, uint64_t before, double secs)
{
    return now >= before ? (double)(now - before) / secs : 0;
}

void model_rates_push(struct model_rates *r, const struct admin_stats *s, uint64_t now_ms)
{
    if (r->have_last && now_ms > r->last_ms) {
        double secs = (double)(now_ms - r->last_ms) / 1000.0;
        r->now[SER_MSGS_IN] = rate(s->msgs_received, r->last.msgs_received, secs);
        r->now[SER_MSGS_OUT] = rate(s->msgs_sent, r->last.msgs_sent, secs);
        r->now[SER_BYTES_IN] = rate(s->bytes_received, r->last.bytes_received, secs);
        r->now[SER_BYTES_OUT] = rate(s->bytes_sent, r->last.bytes_sent, secs);
        r->now[SER_CONNECTS] = rate(s->connects_total, r->last.connects_total, secs);
        r->now[SER_AUTH_FAIL] = rate(s->auth_failures, r->last.auth_failures, secs);
        r->now[SER_DENIALS] = rate(s->denials, r->last.denials, secs);
        const uint64_t cur[SER_N] = {s->msgs_received, s->msgs_sent,   s->bytes_received,
                                     s->bytes_sent,    s->connects_total, s->auth_failures,
                                     s->denials};
        const uint64_t prev[SER_N] = {r->last.msgs_received,  r->last.msgs_sent,
                                      r->last.bytes_received, r->last.bytes_sent,
                                      r->last.connects_total, r->last.auth_failures,
                                      r->last.denials};
        for (int k = 0; k < SER_N; k++) {
            r->hist[k][r->hist_next] = (float)r->now[k];
            r->delta[k][r->hist_next] = cur[k] >= prev[k] ? cur[k] - prev[k] : 0;
        }
        r->at_ms[r->hist_next] = now_ms;
        r->hist_next = (r->hist_next + 1) % MODEL_HIST;
        if (r->hist_n < MODEL_HIST)
            r->hist_n++;
    } else if (r->have_last) {
        return; /* same instant: keep the older baseline */
    }
    r->last = *s;
    r->last_ms = now_ms;
    r->have_last = true;
}

size_t model_rates_buckets(const struct model_rates *r, enum model_series k, size_t per,
                           double *out, size_t n)
{
    if (!per || !n || k >= SER_N)
        return 0;
    size_t avail = r->hist_n / per; /* whole buckets of history */
    size_t nb = avail < n ? avail : n;
    /* The newest sample is at hist_next-1; bucket nb-1 ends there. */
    for (size_t b = 0; b < nb; b++) {
        double sum = 0;
        size_t back0 = (nb - 1 - b) * per; /* samples between this bucket's end and now */
        for (size_t j = 0; j < per; j++) {
            size_t back = back0 + j + 1;
            sum += r->hist[k][(r->hist_next + MODEL_HIST - back) % MODEL_HIST];
        }
        out[b] = sum / (double)per;
    }
    return nb;
}

uint64_t model_rates_window(const struct model_rates *r, enum model_series k, uint64_t window_ms)
{
    if (k >= SER_N || !r->hist_n)
        return 0;
    size_t newest = (r->hist_next + MODEL_HIST - 1) % MODEL_HIST;
    uint64_t sum = 0;
    for (size_t back = 0; back < r->hist_n; back++) {
        size_t i = (newest + MODEL_HIST - back) % MODEL_HIST;
        if (r->at_ms[newest] - r->at_ms[i] >= window_ms)
            break;
        sum += r->delta[k][i];
    }
    return sum;
}
