/*
 * admin_page.c - one window of the session list: filter, sort, follow a row,
 * clamp the window. The broker runs it over its own sessions (admin.c
 * op_page, with getters that read struct session in place), tests and
 * whole-list snapshots over struct admin_session; both share this code so
 * that the order the console shows is the same whatever the source.
 *
 * Why a window: at 10,000 sessions copying and encoding the whole list every
 * second costs the broker milliseconds and the socket a megabyte; a console
 * shows a screenful. Sorting an index array is cheap next to copying.
 */
#include "admin.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

/* Case-insensitive substring test; an empty needle matches. */
static bool contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (!n)
        return true;
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return true;
    return false;
}

bool admin_page_matches(const void *row, const struct admin_page_keys *k, const char *f)
{
    return !f || !*f || contains(k->text(row, ADMIN_COL_CLIENT), f) ||
           contains(k->text(row, ADMIN_COL_IDENTITY), f) ||
           contains(k->text(row, ADMIN_COL_AUTH), f) || contains(k->text(row, ADMIN_COL_ADDR), f);
}

static bool is_text(enum admin_col c)
{
    return c == ADMIN_COL_CLIENT || c == ADMIN_COL_IDENTITY || c == ADMIN_COL_AUTH ||
           c == ADMIN_COL_ADDR || c == ADMIN_COL_TLS;
}

struct sort_ctx {
    const struct admin_page_keys *k;
    enum admin_col col;
    bool desc;
};

static int cmp_rows(const void *x, const void *y, void *arg)
{
    const struct sort_ctx *c = arg;
    const void *a = *(const void *const *)x, *b = *(const void *const *)y;
    int r = 0;
    if (c->col == ADMIN_COL_CLIENT) {
        /* the tie-break below */
    } else if (is_text(c->col)) {
        r = strcmp(c->k->text(a, c->col), c->k->text(b, c->col));
    } else {
        uint64_t u = c->k->num(a, c->col), v = c->k->num(b, c->col);
        r = u < v ? -1 : u > v;
    }
    if (!r)
        r = strcmp(c->k->text(a, ADMIN_COL_CLIENT), c->k->text(b, ADMIN_COL_CLIENT));
    return c->desc ? -r : r;
}

void admin_page_select(const void **rows, size_t n, const struct admin_page_keys *k,
                       const struct admin_page_req *req, struct admin_page *out, size_t *count)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (admin_page_matches(rows[i], k, req->filter))
            rows[m++] = rows[i];
    struct sort_ctx c = {.k = k, .col = req->sort, .desc = req->desc};
    if (m > 1)
        qsort_r(rows, m, sizeof *rows, cmp_rows, &c);
    out->total = n;
    out->matched = m;
    out->follow = -1;
    size_t limit = req->limit, off = req->offset;
    if (req->follow) {
        for (size_t i = 0; i < m; i++) {
            if (!strcmp(k->text(rows[i], ADMIN_COL_CLIENT), req->follow)) {
                out->follow = (int64_t)i;
                /* Outside the window asked for: centre the window on it. */
                if (limit && (i < off || i - off >= limit))
                    off = i > limit / 2 ? i - limit / 2 : 0;
                break;
            }
        }
    }
    /* A full window when enough rows match: near the end it starts earlier. */
    if (off > m || m - off < limit)
        off = m > limit ? m - limit : 0;
    out->offset = off;
    *count = m - off < limit ? m - off : limit;
}

/* ---- over a snapshot ---- */

static const char *snap_text(const void *row, enum admin_col c)
{
    const struct admin_session *s = row;
    switch (c) {
    case ADMIN_COL_CLIENT: return s->client_id;
    case ADMIN_COL_IDENTITY: return s->username ? s->username : "";
    case ADMIN_COL_AUTH: return s->auth_method;
    case ADMIN_COL_ADDR: return s->addr;
    case ADMIN_COL_TLS: return s->tls_version;
    default: return "";
    }
}

static uint64_t snap_num(const void *row, enum admin_col c)
{
    const struct admin_session *s = row;
    switch (c) {
    case ADMIN_COL_PROTO: return s->version;
    case ADMIN_COL_SINCE: return s->since;
    case ADMIN_COL_IN: return s->msgs_in;
    case ADMIN_COL_OUT: return s->msgs_out;
    case ADMIN_COL_SUBS: return s->subscriptions;
    case ADMIN_COL_INFLIGHT: return s->inflight;
    case ADMIN_COL_QUEUED: return s->queued;
    default: return 0;
    }
}

static bool dup_str(char **dst, const char *src)
{
    return !src || (*dst = wd_strdup(src)) != NULL;
}

enum wd_err admin_session_copy(struct admin_session *dst, const struct admin_session *src)
{
    *dst = *src;
    dst->client_id = dst->username = dst->token_sub = dst->token_iss = dst->token_scope = NULL;
    dst->cert_subject = dst->cert_issuer = dst->cert_sans = dst->roles = NULL;
    if (!dup_str(&dst->client_id, src->client_id) || !dup_str(&dst->username, src->username) ||
        !dup_str(&dst->token_sub, src->token_sub) || !dup_str(&dst->token_iss, src->token_iss) ||
        !dup_str(&dst->token_scope, src->token_scope) ||
        !dup_str(&dst->cert_subject, src->cert_subject) ||
        !dup_str(&dst->cert_issuer, src->cert_issuer) ||
        !dup_str(&dst->cert_sans, src->cert_sans) || !dup_str(&dst->roles, src->roles))
        return WD_ENOMEM;
    return WD_OK;
}

const struct admin_page_keys admin_session_keys = {snap_text, snap_num};

enum wd_err admin_page_of(const struct admin_sessions *all, const struct admin_page_req *req,
                          struct admin_page *out)
{
    memset(out, 0, sizeof *out);
    out->follow = -1;
    if (req->sort >= ADMIN_NCOLS || req->limit > ADMIN_PAGE_MAX)
        return WD_EINVAL;
    const void **rows = wd_malloc((all->n ? all->n : 1) * sizeof *rows);
    if (!rows)
        return WD_ENOMEM;
    for (size_t i = 0; i < all->n; i++)
        rows[i] = &all->v[i];
    size_t count;
    admin_page_select(rows, all->n, &admin_session_keys, req, out, &count);
    enum wd_err e = WD_OK;
    out->rows.v = wd_calloc(count ? count : 1, sizeof *out->rows.v);
    if (!out->rows.v)
        e = WD_ENOMEM;
    for (size_t i = 0; !e && i < count; i++) {
        out->rows.n++;
        e = admin_session_copy(&out->rows.v[i], rows[out->offset + i]);
    }
    wd_free(rows);
    if (e)
        admin_page_free(out);
    return e;
}

void admin_session_clear(struct admin_session *s)
{
    wd_free(s->client_id);
    wd_free(s->username);
    wd_free(s->cert_subject);
    wd_free(s->cert_issuer);
    wd_free(s->cert_sans);
    wd_free(s->token_sub);
    wd_free(s->token_iss);
    wd_free(s->token_scope);
    wd_free(s->roles);
    memset(s, 0, sizeof *s);
}

void admin_sessions_free(struct admin_sessions *s)
{
    for (size_t i = 0; i < s->n; i++)
        admin_session_clear(&s->v[i]);
    wd_free(s->v);
    s->v = NULL;
    s->n = 0;
}

void admin_page_free(struct admin_page *p)
{
    admin_sessions_free(&p->rows);
}
