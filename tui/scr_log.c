/*
 * scr_log.c - screen 7, log and audit: the broker's recent log lines (its
 * in-memory ring) and the store's recent audit entries (who changed what),
 * merged by time, newest at the bottom. Filtered by level (v), source (A)
 * and text (/), scrollable, and pausable (Z): a paused view keeps its lines
 * while the broker goes on. Following the end by default; scrolling back
 * holds the view on the same lines until End.
 */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "screen.h"

#define STAMP_LEN 20 /* "2026-01-02T03:04:05Z" */

static const char *const levels[] = {"error", "warning", "notice", "info", "debug"};
static const char *const sources[] = {"log and audit", "log only", "audit only"};

/* The level of a log line ("STAMP LEVEL text"), 0..4; -1 for an audit line; 4 if unknown. */
static int line_level(const char *l)
{
    const char *p = strchr(l, ' ');
    if (!p)
        return 4;
    p++;
    if (!strncmp(p, "audit ", 6))
        return -1;
    for (int i = 0; i < 5; i++) {
        size_t n = strlen(levels[i]);
        if (!strncmp(p, levels[i], n) && p[n] == ' ')
            return i;
    }
    return 4;
}

static void audit_line(const struct admin_audit *a, char *out, size_t n)
{
    time_t secs = (time_t)a->time;
    struct tm tm;
    char stamp[32];
    gmtime_r(&secs, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(out, n, "%s audit %s: %s %s -> %s", stamp, a->actor ? a->actor : "?",
             a->action ? a->action : "?", a->target ? a->target : "",
             a->result ? a->result : "");
}

static enum wd_err update(struct tui *t)
{
    if (t->log_paused)
        return WD_OK;
    size_t n = 0;
    enum wd_err e = t->ops->log_recent(t->ops->ctx, t->log, TUI_LOG_MAX, &n);
    if (e != WD_OK)
        return e;
    t->nlog = n;
    admin_audits_free(&t->audit);
    t->audit_err = t->ops->audit(t->ops->ctx, TUI_AUDIT_MAX, &t->audit);
    if (!t->log_view && !(t->log_view = calloc(TUI_LOG_MAX + TUI_AUDIT_MAX, TUI_LOG_LINE)))
        return WD_ENOMEM;
    /* Merge by time stamp (both oldest first); on a tie the log line goes first. */
    size_t before = t->nview, i = 0, j = 0;
    t->nview = 0;
    while (i < t->nlog || j < t->audit.n) {
        char a[TUI_LOG_LINE] = "";
        if (j < t->audit.n)
            audit_line(&t->audit.v[j], a, sizeof a);
        if (i < t->nlog && (j >= t->audit.n || strncmp(t->log[i], a, STAMP_LEN) <= 0)) {
            memcpy(t->log_view[t->nview++], t->log[i++], TUI_LOG_LINE);
        } else {
            memcpy(t->log_view[t->nview++], a, TUI_LOG_LINE);
            j++;
        }
    }
    /* Scrolled back: keep the same lines in view as new ones arrive. */
    if (t->log_back && t->nview > before)
        t->log_back += t->nview - before;
    /* No store (WD_ENOTFOUND): log lines only, nothing to report. */
    return t->audit_err == WD_ENOTFOUND ? WD_OK : t->audit_err;
}

static void enter(struct tui *t)
{
    t->log_back = 0;
}

static bool shown(const struct tui *t, const char *l)
{
    int lv = line_level(l);
    if ((t->log_source == 1 && lv < 0) || (t->log_source == 2 && lv >= 0))
        return false;
    if (lv > t->log_level)
        return false;
    if (!t->log_filter[0])
        return true;
    size_t n = strlen(t->log_filter);
    for (const char *p = l; *p; p++)
        if (!strncasecmp(p, t->log_filter, n))
            return true;
    return false;
}

/* Indexes of the lines shown, into idx (room for t->nview); returns how many. */
static size_t visible(const struct tui *t, size_t *idx)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nview; i++)
        if (shown(t, t->log_view[i]))
            idx[n++] = i;
    return n;
}

static void draw(struct tui *t, int y, int h, int w)
{
    static size_t idx[TUI_LOG_MAX + TUI_AUDIT_MAX];
    size_t n = t->log_view ? visible(t, idx) : 0;
    char info[300];
    int list_h = h - 1;
    if (t->log_back >= n)
        t->log_back = n ? n - 1 : 0;
    snprintf(info, sizeof info, "%s%zu lines  (level: %s and above; %s%s%s%s)%s",
             t->log_paused ? "PAUSED  " : "", n, levels[t->log_level], sources[t->log_source],
             t->log_filter[0] ? "; matching '" : "", t->log_filter,
             t->log_filter[0] ? "'" : "", t->log_back ? "  scrolled back: End follows" : "");
    attron(A_BOLD);
    widget_text(y + h - 1, 0, w, info);
    attroff(A_BOLD);
    if (!n) {
        widget_text(y, 0, w, t->nview ? "(no line matches)" : "(no log lines yet)");
        return;
    }
    size_t last = n - t->log_back; /* one past the newest line shown */
    size_t first = last > (size_t)list_h ? last - (size_t)list_h : 0;
    int r = y;
    for (size_t i = first; i < last; i++)
        widget_text(r++, 0, w, t->log_view[idx[i]]);
}

static unsigned prompt_done(struct tui *t, enum prompt_result pr)
{
    (void)pr; /* applied as it is typed; Esc has emptied the text */
    snprintf(t->log_filter, sizeof t->log_filter, "%s", t->prompt.text);
    t->log_back = 0;
    return R_REDRAW;
}

static unsigned key(struct tui *t, enum action a, int ch)
{
    (void)ch;
    int h = LINES - 4;
    size_t page = h > 1 ? (size_t)h - 1 : 1;
    size_t max = t->nview ? t->nview - 1 : 0; /* draw clamps to the lines shown */
    switch (a) {
    case ACT_UP: t->log_back = t->log_back < max ? t->log_back + 1 : max; return R_REDRAW;
    case ACT_DOWN: if (t->log_back) t->log_back--; return R_REDRAW;
    case ACT_PGUP:
        t->log_back = t->log_back + page < max ? t->log_back + page : max;
        return R_REDRAW;
    case ACT_PGDN: t->log_back = t->log_back > page ? t->log_back - page : 0; return R_REDRAW;
    case ACT_HOME: t->log_back = max; return R_REDRAW;
    case ACT_END: t->log_back = 0; return R_REDRAW;
    case ACT_PAUSE:
        t->log_paused = !t->log_paused;
        tui_status(t, false, "%s", t->log_paused ? "log paused (Z resumes)" : "log resumed");
        return R_REFRESH;
    case ACT_LEVEL: t->log_level = t->log_level ? t->log_level - 1 : 4; return R_REDRAW;
    case ACT_SOURCE: t->log_source = (t->log_source + 1) % 3; return R_REDRAW;
    case ACT_FILTER:
        prompt_open(&t->prompt, "Log filter: ", t->log_filter);
        t->prompt_fn = prompt_done;
        return R_REDRAW;
    default: return R_UNHANDLED;
    }
}

const struct screen_ops scr_log = {
    .name = "Log",
    .enter = enter,
    .update = update,
    .draw = draw,
    .key = key,
    .hints = " / Filter  v Level  A Source  Z Pause  Up/Down PgUp/PgDn Scroll  End Follow"
             "  ? Help  q Quit",
};
