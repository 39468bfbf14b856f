/*
 * model.c - view-model of the console: one window of the filtered, sorted
 * session list, the selection kept by client id, and traffic rates.
 *
 * Workload: one window of the session list a second (the broker sorts and
 * filters: admin_page.c), a few screenfuls of rows however many sessions
 * there are. The model's own memory comes from libc, not mem.c: the console's
 * allocations must not count as the broker's "memory in use" in embedded
 * mode (the windows themselves are admin snapshots, from mem.c as before).
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
    m->page.follow = -1;
}

void model_fini(struct model *m)
{
    admin_page_free(&m->page);
    free(m->sel_key);
    memset(m, 0, sizeof *m);
}

bool model_matches(const struct admin_session *s, const char *f)
{
    return admin_page_matches(s, &admin_session_keys, f);
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

/* Is row i of the list in the window? */
static bool in_window(const struct model *m, size_t i)
{
    return i >= m->page.offset && i - m->page.offset < m->page.rows.n;
}

void model_request(const struct model *m, size_t height, struct admin_page_req *req)
{
    if (!height)
        height = 1;
    size_t limit = 3 * height;
    if (limit > ADMIN_PAGE_MAX)
        limit = ADMIN_PAGE_MAX;
    *req = (struct admin_page_req){
        .sort = (enum admin_col)m->sort_col,
        .desc = m->sort_desc,
        .filter = m->filter,
        .follow = m->sel_key,
        /* A screenful above what is shown: small moves need no new window. */
        .offset = m->top > height ? m->top - height : 0,
        .limit = limit,
    };
}

void model_set_page(struct model *m, struct admin_page *p)
{
    size_t rel = m->sel >= m->top ? m->sel - m->top : 0; /* screen line of the selection */
    admin_page_free(&m->page);
    m->page = *p;
    memset(p, 0, sizeof *p);
    p->follow = -1;
    m->nrows = m->page.matched;
    m->total = m->page.total;
    m->stale = false;
    if (!m->nrows) {
        m->sel = m->top = 0;
        return; /* keep sel_key: the row may come back */
    }
    if (m->page.follow >= 0) {
        m->sel = (size_t)m->page.follow;
    } else {
        if (m->sel >= m->nrows)
            m->sel = m->nrows - 1;
        if (!in_window(m, m->sel)) /* cannot happen with a window asked for around it */
            m->sel = m->sel < m->page.offset ? m->page.offset
                                             : m->page.offset + m->page.rows.n - 1;
    }
    m->top = m->sel >= rel ? m->sel - rel : 0;
    const struct admin_session *s = model_row(m, m->sel);
    if (s)
        (void)set_key(m, s->client_id); /* on ENOMEM the old key stays */
}

bool model_stale(const struct model *m, size_t height)
{
    if (m->stale)
        return true;
    if (!m->nrows)
        return false;
    size_t end = m->top + height < m->nrows ? m->top + height : m->nrows;
    return !in_window(m, m->sel) || !in_window(m, m->top) || !in_window(m, end - 1);
}

/* Whole-list mode: page the borrowed snapshot as the broker would. */
static enum wd_err repage(struct model *m)
{
    struct admin_page_req req;
    model_request(m, ADMIN_PAGE_MAX / 3, &req);
    req.offset = 0;
    struct admin_page p;
    enum wd_err e = admin_page_of(m->snap, &req, &p);
    if (e) {
        admin_page_free(&m->page);
        m->nrows = m->sel = m->top = 0;
        return e;
    }
    model_set_page(m, &p);
    return WD_OK;
}

enum wd_err model_set_sessions(struct model *m, const struct admin_sessions *snap)
{
    static const struct admin_sessions none;
    m->snap = snap ? snap : &none;
    return repage(m);
}

enum wd_err model_set_filter(struct model *m, const char *text)
{
    size_t n = strlen(text);
    if (n >= sizeof m->filter)
        n = sizeof m->filter - 1;
    memcpy(m->filter, text, n);
    m->filter[n] = '\0';
    m->stale = true;
    return m->snap ? repage(m) : WD_OK;
}

enum wd_err model_set_sort(struct model *m, enum model_col col, bool desc)
{
    m->sort_col = col < MODEL_NCOLS ? col : COL_CLIENT;
    m->sort_desc = desc;
    m->stale = true;
    return m->snap ? repage(m) : WD_OK;
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
    const struct admin_session *r = model_row(m, m->sel);
    if (r) {
        (void)set_key(m, r->client_id); /* on ENOMEM the old key stays */
    } else {
        free(m->sel_key); /* past the window: the next page says which row is there */
        m->sel_key = NULL;
    }
}

bool model_select_key(struct model *m, const char *key)
{
    for (size_t i = 0; i < m->page.rows.n; i++) {
        if (!strcmp(m->page.rows.v[i].client_id, key)) {
            m->sel = m->page.offset + i;
            (void)set_key(m, key);
            return true;
        }
    }
    return false;
}

const struct admin_session *model_row(const struct model *m, size_t i)
{
    return in_window(m, i) ? &m->page.rows.v[i - m->page.offset] : NULL;
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
