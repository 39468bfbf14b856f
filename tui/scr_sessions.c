/*
 * scr_sessions.c - screen 2: one row per session, connected or offline,
 * sortable by any column, filtered as you type, the selection following its
 * client id across refreshes. The broker sorts and filters and sends one
 * window (the screen and a screenful either side, model.h); moving past it
 * asks for the next one at once. Enter opens the detail; k disconnects after a
 * confirmation; b opens the ban form (edit.c) for the selected session. Cell text is shared with the detail screen (session_cell).
 */
#include "scr_sessions.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edit.h"
#include "screen.h"

static const char *proto_name(uint8_t v)
{
    return v == 5 ? "5.0" : v == 4 ? "3.1.1" : v == 3 ? "3.1" : "?";
}

void session_cell(const struct admin_session *s, enum model_col c, char *out, size_t n)
{
    uint64_t now = (uint64_t)time(NULL);
    switch (c) {
    case COL_CLIENT: snprintf(out, n, "%s", s->client_id); break;
    case COL_IDENTITY: snprintf(out, n, "%s", s->username ? s->username : "-"); break;
    case COL_AUTH: snprintf(out, n, "%s", s->connected ? s->auth_method : "offline"); break;
    case COL_ADDR: snprintf(out, n, "%s", s->addr[0] ? s->addr : "-"); break;
    case COL_PROTO: snprintf(out, n, "%s", proto_name(s->version)); break;
    case COL_TLS: snprintf(out, n, "%s", s->tls_version[0] ? s->tls_version : "-"); break;
    case COL_SINCE:
        if (s->since)
            widget_fmt_duration(out, n, now > s->since ? now - s->since : 0);
        else
            snprintf(out, n, "-");
        break;
    case COL_IN: widget_fmt_count(out, n, (double)s->msgs_in); break;
    case COL_OUT: widget_fmt_count(out, n, (double)s->msgs_out); break;
    case COL_SUBS: snprintf(out, n, "%u", s->subscriptions); break;
    case COL_INFLIGHT: snprintf(out, n, "%u", s->inflight); break;
    case COL_QUEUED: snprintf(out, n, "%u", s->queued); break;
    case MODEL_NCOLS: snprintf(out, n, "?"); break;
    }
}

static enum wd_err update(struct tui *t)
{
    return tui_refresh_sessions(t);
}

static void draw(struct tui *t, int y, int h, int w)
{
    struct model *m = &t->model;
    char buf[300];
    /* Header: the sort column is marked with ^ (ascending) or v (descending). */
    attron(A_BOLD | A_UNDERLINE);
    int x = 0;
    for (int c = 0; c < MODEL_NCOLS && x < w; c++) {
        int cw = model_col_width((enum model_col)c);
        snprintf(buf, sizeof buf, "%s%s", model_col_title((enum model_col)c),
                 (int)m->sort_col == c ? (m->sort_desc ? "v" : "^") : "");
        widget_text(y, x, cw < w - x ? cw : w - x, buf);
        x += cw;
        if (x < w) {
            mvaddch(y, x, ' ');
            x++;
        }
    }
    if (x < w)
        widget_text(y, x, w - x, "");
    attroff(A_BOLD | A_UNDERLINE);

    int list_h = h - 2;
    if (list_h < 1)
        return;
    model_scroll(m, (size_t)list_h);
    for (int i = 0; i < list_h && m->top + (size_t)i < m->nrows; i++) {
        size_t ri = m->top + (size_t)i;
        const struct admin_session *s = model_row(m, ri);
        if (!s)
            continue; /* outside the window until the next page arrives */
        bool sel = ri == m->sel;
        if (sel)
            attron(A_REVERSE);
        x = 0;
        for (int c = 0; c < MODEL_NCOLS && x < w; c++) {
            int cw = model_col_width((enum model_col)c);
            session_cell(s, (enum model_col)c, buf, sizeof buf);
            widget_text(y + 1 + i, x, cw < w - x ? cw : w - x, buf);
            x += cw;
            if (x < w) {
                mvaddch(y + 1 + i, x, ' ');
                x++;
            }
        }
        if (x < w)
            widget_text(y + 1 + i, x, w - x, "");
        if (sel)
            attroff(A_REVERSE);
    }
    size_t total = m->total;
    if (m->filter[0])
        snprintf(buf, sizeof buf, "%zu of %zu sessions match '%s'  (sorted by %s)", m->nrows,
                 total, m->filter, model_col_title(m->sort_col));
    else
        snprintf(buf, sizeof buf, "%zu sessions  (sorted by %s%s)", total,
                 model_col_title(m->sort_col), m->sort_desc ? ", descending" : "");
    widget_text(y + h - 1, 0, w, buf);
}

static void kick_yes(struct tui *t, const char *client_id)
{
    enum wd_err e = t->ops->disconnect(t->ops->ctx, client_id);
    if (e == WD_OK)
        tui_status(t, false, "disconnected client '%s'", client_id);
    else
        tui_fail(t, "disconnect", e);
}

unsigned sessions_kick(struct tui *t, const char *client_id)
{
    char q[300];
    snprintf(q, sizeof q, "Disconnect client '%.200s'? Its will is sent. (y/N)", client_id);
    tui_confirm(t, q, kick_yes, client_id);
    return R_REDRAW;
}

/* After a move: past the window, ask the broker for the rows there now. */
static unsigned moved(struct tui *t)
{
    model_scroll(&t->model, LINES > 6 ? (size_t)LINES - 5 : 1);
    return tui_sessions_stale(t) ? R_REFRESH : R_REDRAW;
}

static unsigned key(struct tui *t, enum action a, int ch)
{
    (void)ch;
    struct model *m = &t->model;
    long page = LINES - 6 > 1 ? LINES - 6 : 1;
    const struct admin_session *s = model_selected(m);
    enum wd_err e = WD_OK;
    switch (a) {
    case ACT_UP: model_move(m, -1); return moved(t);
    case ACT_DOWN: model_move(m, 1); return moved(t);
    case ACT_PGUP: model_move(m, -page); return moved(t);
    case ACT_PGDN: model_move(m, page); return moved(t);
    case ACT_HOME: model_move(m, -(long)m->nrows); return moved(t);
    case ACT_END: model_move(m, (long)m->nrows); return moved(t);
    case ACT_SORT_NEXT:
        e = model_set_sort(m, (enum model_col)((m->sort_col + 1) % MODEL_NCOLS), m->sort_desc);
        break;
    case ACT_SORT_PREV:
        e = model_set_sort(m, (enum model_col)((m->sort_col + MODEL_NCOLS - 1) % MODEL_NCOLS),
                           m->sort_desc);
        break;
    case ACT_SORT_REV: e = model_set_sort(m, m->sort_col, !m->sort_desc); break;
    case ACT_FILTER: prompt_open(&t->prompt, "Filter: ", m->filter); return R_REDRAW;
    case ACT_ENTER:
        if (!s)
            return R_NONE;
        free(t->detail_id);
        t->detail_id = strdup(s->client_id);
        if (!t->detail_id) {
            tui_fail(t, "detail", WD_ENOMEM);
            return R_REDRAW;
        }
        t->push_to = SCR_DETAIL;
        return R_PUSH;
    case ACT_KICK:
        if (!s)
            return R_NONE;
        if (!s->connected) {
            tui_status(t, true, "'%s' is not connected (an offline session)", s->client_id);
            return R_REDRAW;
        }
        return sessions_kick(t, s->client_id);
    case ACT_EXPLAIN: return s ? explain_open(t, s->client_id, s->username) : R_NONE;
    case ACT_BAN:
        if (!s)
            return R_NONE;
        edit_ban_form(t, s->client_id, s->username ? s->username : "", s->addr);
        return R_REDRAW;
    default: return R_UNHANDLED;
    }
    if (e != WD_OK)
        tui_fail(t, "sort", e);
    return R_REFRESH; /* the broker sorts: ask for a new window now */
}

const struct screen_ops scr_sessions = {
    .name = "Sessions",
    .update = update,
    .draw = draw,
    .key = key,
    .hints = " Enter Detail  k Kick  b Ban  x Explain  / Filter  < > Sort  r Reverse  7 Log"
             "  ? Help  q Quit",
};
