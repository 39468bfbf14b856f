/*
 * scr_log.c - the broker's recent log lines (its in-memory ring), newest at
 * the bottom. Following the end by default; scrolling back holds the view
 * on the same lines until End.
 */
#include <curses.h>

#include "screen.h"

static enum wd_err update(struct tui *t)
{
    size_t before = t->nlog;
    size_t n = 0;
    enum wd_err e = t->ops->log_recent(t->ops->ctx, t->log, TUI_LOG_MAX, &n);
    if (e != WD_OK)
        return e;
    t->nlog = n;
    /* Scrolled back: keep the same lines in view as new ones arrive (ring not yet full). */
    if (t->log_back && n > before)
        t->log_back += n - before;
    if (t->log_back >= t->nlog)
        t->log_back = t->nlog ? t->nlog - 1 : 0;
    return WD_OK;
}

static void enter(struct tui *t)
{
    t->log_back = 0;
}

static void draw(struct tui *t, int y, int h, int w)
{
    if (!t->nlog) {
        widget_text(y, 0, w, "(no log lines yet)");
        return;
    }
    size_t last = t->nlog - t->log_back; /* one past the newest line shown */
    size_t first = last > (size_t)h ? last - (size_t)h : 0;
    int r = y;
    for (size_t i = first; i < last; i++)
        widget_text(r++, 0, w, t->log[i]);
}

static unsigned key(struct tui *t, enum action a, int ch)
{
    (void)ch;
    int h = LINES - 3;
    size_t page = h > 1 ? (size_t)h - 1 : 1;
    size_t max = t->nlog ? t->nlog - 1 : 0;
    switch (a) {
    case ACT_UP: t->log_back = t->log_back < max ? t->log_back + 1 : max; return R_REDRAW;
    case ACT_DOWN: if (t->log_back) t->log_back--; return R_REDRAW;
    case ACT_PGUP:
        t->log_back = t->log_back + page < max ? t->log_back + page : max;
        return R_REDRAW;
    case ACT_PGDN: t->log_back = t->log_back > page ? t->log_back - page : 0; return R_REDRAW;
    case ACT_HOME: t->log_back = max; return R_REDRAW;
    case ACT_END: t->log_back = 0; return R_REDRAW;
    default: return R_UNHANDLED;
    }
}

const struct screen_ops scr_log = {
    .name = "Log",
    .enter = enter,
    .update = update,
    .draw = draw,
    .key = key,
    .hints = " Up/Down PgUp/PgDn Scroll  End Follow  1 Overview  2 Sessions  ? Help  q Quit",
};
