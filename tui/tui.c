/*
 * tui.c - the console's loop: curses setup and teardown (also on signals and
 * crashes), one central input function that hands each key to the current
 * screen and then to the global actions, snapshots refreshed once a second,
 * and the frame: title bar, screen, status line, function bar.
 *
 * Drawing erases and redraws the whole frame into curses' buffer; refresh()
 * sends only the cells that changed, so a refresh every second does not flicker.
 */
#include "tui.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "screen.h"

#define TICK_MS 200      /* input wait: the loop checks signals and the clock this often */
#define REFRESH_MS 1000  /* snapshots are taken this often */

static const struct screen_ops *const screens[SCR_COUNT] = {
    [SCR_OVERVIEW] = &scr_overview, [SCR_SESSIONS] = &scr_sessions, [SCR_DETAIL] = &scr_detail,
    [SCR_LOG] = &scr_log,           [SCR_HELP] = &scr_help,         [SCR_EXPLAIN] = &scr_explain,
    [SCR_USERS] = &scr_users,       [SCR_ROLES] = &scr_roles,       [SCR_ACCESS] = &scr_access,
};

static volatile sig_atomic_t got_signal;
static volatile sig_atomic_t curses_on;

static void on_term(int sig)
{
    got_signal = sig;
}

/* A crash on the console thread: give the terminal back, then die as the signal says. */
static void on_crash(int sig)
{
    if (curses_on)
        endwin();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
}

static void restore_signals(void)
{
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void tui_status(struct tui *t, bool err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->status, sizeof t->status, fmt, ap);
    va_end(ap);
    t->status_err = err;
}

void tui_fail(struct tui *t, const char *what, enum wd_err e)
{
    if (e == WD_ECLOSED)
        t->gone = true;
    tui_status(t, true, "%s failed: %s", what, wd_strerror(e));
}

void tui_confirm(struct tui *t, const char *question, tui_confirm_fn yes, const char *arg)
{
    t->confirming = true;
    snprintf(t->question, sizeof t->question, "%s", question);
    snprintf(t->confirm_arg, sizeof t->confirm_arg, "%s", arg ? arg : "");
    t->confirm_yes = yes;
}

/* Rows of the session list on screen (draw_frame gives the screen LINES-3 rows, the
 * list two less). */
static size_t list_height(void)
{
    return LINES > 6 ? (size_t)LINES - 5 : 1;
}

enum wd_err tui_refresh_sessions(struct tui *t)
{
    size_t h = list_height();
    /* Twice at most: when the followed row moved far (a re-sort), the first window is
     * centred on it and the second one fits the screen around it. */
    for (int i = 0; i < 2; i++) {
        model_scroll(&t->model, h); /* a move past the window asks around the new position */
        struct admin_page_req req;
        model_request(&t->model, h, &req);
        struct admin_page p;
        enum wd_err e = t->ops->page(t->ops->ctx, &req, &p);
        if (e != WD_OK)
            return e;
        model_set_page(&t->model, &p);
        if (!model_stale(&t->model, h))
            break;
    }
    return WD_OK;
}

bool tui_sessions_stale(const struct tui *t)
{
    return model_stale(&t->model, list_height());
}

enum wd_err tui_refresh_session(struct tui *t, const char *client_id)
{
    struct admin_session one;
    enum wd_err e = t->ops->session(t->ops->ctx, client_id, &one);
    if (e != WD_OK && e != WD_ENOTFOUND)
        return e;
    admin_sessions_free(&t->sessions); /* a vanished session: none, and the screen says so */
    if (e == WD_OK) {
        t->sessions.v = wd_malloc(sizeof *t->sessions.v); /* freed by admin_sessions_free */
        if (!t->sessions.v) {
            admin_session_clear(&one);
            return WD_ENOMEM;
        }
        t->sessions.v[0] = one;
        t->sessions.n = 1;
    }
    return WD_OK;
}

enum wd_err tui_refresh_identities(struct tui *t)
{
    struct admin_idents fresh = {0};
    enum wd_err e = t->ops->identities(t->ops->ctx, &fresh);
    if (e != WD_OK)
        return e;
    admin_idents_free(&t->idents);
    t->idents = fresh;
    return WD_OK;
}

static const struct screen_ops *current(const struct tui *t)
{
    return screens[t->stack[t->depth - 1]];
}

/* Fresh stats (for the rates, on every screen) and the current screen's snapshots. */
static void refresh_data(struct tui *t)
{
    struct admin_stats s;
    enum wd_err e = t->ops->stats(t->ops->ctx, &s);
    if (e == WD_OK) {
        t->stats = s;
        t->have_stats = true;
        model_rates_push(&t->rates, &s, now_ms());
    } else {
        tui_fail(t, "stats", e);
        return;
    }
    /* While a form or a question is open, the screen keeps the snapshot it was asked about. */
    if (t->form.active || t->confirming)
        return;
    if (current(t)->update && (e = current(t)->update(t)) != WD_OK)
        tui_fail(t, current(t)->name, e);
}

static void draw_frame(struct tui *t)
{
    int h, w;
    getmaxyx(stdscr, h, w);
    erase();
    char title[512];
    snprintf(title, sizeof title,
             " Warden %s  %s  [%s]   1 Overview  2 Sessions  4 Users  5 Roles  6 Access  7 Log"
             "  8 Explain  ? Help",
             t->info.version, t->info.where, current(t)->name);
    widget_bar(0, w, A_REVERSE, title);
    if (h > 3)
        current(t)->draw(t, 1, h - 3, w);
    /* Status line: prompt, question, or the last message. */
    if (t->prompt.active) {
        char line[256];
        snprintf(line, sizeof line, "%s%s", t->prompt.label, t->prompt.text);
        widget_text(h - 2, 0, w, line);
    } else if (t->confirming) {
        attron(A_BOLD);
        widget_text(h - 2, 0, w, t->question);
        attroff(A_BOLD);
    } else {
        if (t->status_err)
            attron(A_BOLD);
        widget_text(h - 2, 0, w, t->status);
        if (t->status_err)
            attroff(A_BOLD);
    }
    widget_bar(h - 1, w, A_REVERSE, current(t)->hints);
    if (t->form.active) {
        form_draw(&t->form, h, w); /* leaves the cursor in the current field */
        curs_set(1);
    } else if (t->prompt.active) {
        curs_set(1);
        move(h - 2, (int)(strlen(t->prompt.label) + t->prompt.len) < w
                        ? (int)(strlen(t->prompt.label) + t->prompt.len) : w - 1);
    } else {
        curs_set(0);
    }
    refresh();
}

static void push(struct tui *t, enum screen_id id)
{
    if (t->stack[t->depth - 1] == id)
        return;
    if (t->depth < TUI_STACK)
        t->depth++;
    t->stack[t->depth - 1] = id;
    if (screens[id]->enter)
        screens[id]->enter(t);
}

/* Switch to a top-level screen: the stack becomes just that screen. */
static void go(struct tui *t, enum screen_id id)
{
    t->depth = 1;
    t->stack[0] = id;
    if (screens[id]->enter)
        screens[id]->enter(t);
}

static void quit_yes(struct tui *t, const char *arg)
{
    (void)arg;
    t->quit_confirmed = true;
}

/* Actions every screen has, when the screen did not take the key. */
static unsigned global_key(struct tui *t, enum action a)
{
    switch (a) {
    case ACT_OVERVIEW: go(t, SCR_OVERVIEW); return R_REFRESH;
    case ACT_SESSIONS: go(t, SCR_SESSIONS); return R_REFRESH;
    case ACT_LOG: go(t, SCR_LOG); return R_REFRESH;
    case ACT_EXPLAIN_SCR: go(t, SCR_EXPLAIN); return R_REFRESH;
    case ACT_USERS: go(t, SCR_USERS); return R_REFRESH;
    case ACT_ROLES: go(t, SCR_ROLES); return R_REFRESH;
    case ACT_ACCESS: go(t, SCR_ACCESS); return R_REFRESH;
    case ACT_HELP: t->push_to = SCR_HELP; return R_PUSH;
    case ACT_BACK: return t->depth > 1 ? R_POP : R_NONE;
    case ACT_REDRAW: clearok(curscr, TRUE); return R_REDRAW;
    case ACT_QUIT:
        if (!t->ops->embedded)
            return R_QUIT;
        tui_confirm(t, "Quit the console and STOP THE BROKER? (y/N)", quit_yes, NULL);
        return R_REDRAW;
    default: return R_NONE;
    }
}

/* One key: the prompt or question takes it first, then the screen, then global actions. */
static unsigned input(struct tui *t, int ch)
{
    if (ch == KEY_RESIZE)
        return R_REDRAW;
    if (t->confirming) {
        t->confirming = false;
        if (ch == 'y' || ch == 'Y') {
            t->status[0] = '\0';
            t->confirm_yes(t, t->confirm_arg);
            return t->quit_confirmed ? R_QUIT : R_REFRESH;
        }
        tui_status(t, false, "cancelled");
        return R_REDRAW;
    }
    if (t->form.active) {
        enum form_result fr = form_key(&t->form, ch);
        if (fr == FORM_CANCEL)
            tui_status(t, false, "cancelled");
        if (fr == FORM_SUBMIT && t->form_done) {
            t->form.error[0] = '\0';
            t->form_done(t); /* closes the form, or leaves it open with form.error */
            return R_REFRESH;
        }
        return fr == FORM_NONE ? R_NONE : R_REDRAW;
    }
    if (t->prompt.active) {
        enum prompt_result pr = prompt_key(&t->prompt, ch);
        if (t->prompt_fn) { /* a screen's own prompt */
            tui_prompt_fn fn = t->prompt_fn;
            if (!t->prompt.active)
                t->prompt_fn = NULL;
            return pr == PROMPT_NONE ? R_NONE : fn(t, pr);
        }
        /* Otherwise it is the session filter: applied as it is typed. */
        if (pr == PROMPT_CHANGED || pr == PROMPT_CANCEL) {
            enum wd_err e = model_set_filter(&t->model, t->prompt.text);
            if (e != WD_OK)
                tui_fail(t, "filter", e);
            return R_REFRESH; /* the broker filters: ask for a new window now */
        }
        return pr == PROMPT_NONE ? R_NONE : R_REDRAW;
    }
    enum action a = keys_lookup(ch);
    unsigned r = current(t)->key ? current(t)->key(t, a, ch) : R_UNHANDLED;
    if (r & R_UNHANDLED)
        r = (r & ~R_UNHANDLED) | global_key(t, a);
    return r;
}

static void teardown(void)
{
    if (curses_on) {
        curs_set(1);
        endwin();
        curses_on = 0;
    }
}

static void tui_fini(struct tui *t)
{
    form_close(&t->form);
    model_fini(&t->model);
    admin_sessions_free(&t->sessions);
    admin_subs_free(&t->subs);
    admin_events_free(&t->flight);
    admin_audits_free(&t->audit);
    admin_idents_free(&t->idents);
    free(t->detail_id);
    free(t->log);
    free(t->log_view);
}

enum tui_end tui_run(const struct tui_ops *ops)
{
    static struct tui t; /* large (log lines); one console per process */
    memset(&t, 0, sizeof t);
    t.ops = ops;
    t.depth = 1;
    t.stack[0] = SCR_OVERVIEW;
    model_init(&t.model);
    t.log_level = 4; /* everything down to debug */
    model_rates_init(&t.rates);
    t.log = calloc(TUI_LOG_MAX, sizeof *t.log);
    if (!t.log)
        return TUI_NO_TERMINAL;
    enum wd_err e = ops->info(ops->ctx, &t.info);
    if (e != WD_OK)
        snprintf(t.info.version, sizeof t.info.version, "?");

    setlocale(LC_ALL, "");
    t.utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
    got_signal = 0;
    install_signals();
    if (!getenv("ESCDELAY"))
        set_escdelay(25);
    if (!initscr()) {
        restore_signals();
        tui_fini(&t);
        return TUI_NO_TERMINAL;
    }
    curses_on = 1;
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    timeout(TICK_MS);
    curs_set(0);
    tui_status(&t, false, "%s", ops->embedded ? "q quits and stops the broker; ? shows the keys"
                                                : "q detaches (the broker keeps running); ? help");

    enum tui_end end = TUI_QUIT;
    uint64_t last = 0;
    bool dirty = true;
    for (;;) {
        if (got_signal) {
            end = TUI_SIGNALLED;
            break;
        }
        uint64_t now = now_ms();
        if (!last || now - last >= REFRESH_MS) {
            refresh_data(&t);
            last = now;
            dirty = true;
        }
        if (t.gone) {
            end = TUI_BROKER_GONE;
            break;
        }
        if (dirty) {
            draw_frame(&t);
            dirty = false;
        }
        int ch = getch();
        if (ch == ERR) {
            /* No key within the tick, or no terminal any more: a closed pty reads
             * as ERR at once, which would spin this loop. */
            struct pollfd pf = {.fd = STDIN_FILENO, .events = POLLIN};
            if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLHUP | POLLERR | POLLNVAL))) {
                end = TUI_HANGUP;
                break;
            }
            continue;
        }
        unsigned r = input(&t, ch);
        if (r & R_QUIT)
            break;
        if (r & R_POP && t.depth > 1) {
            t.depth--;
            r |= R_REFRESH;
        }
        if (r & R_PUSH) {
            push(&t, t.push_to);
            r |= R_REFRESH;
        }
        if (r & R_REFRESH)
            last = 0;
        if (r)
            dirty = true;
    }
    teardown();
    restore_signals();
    if (end == TUI_QUIT && ops->embedded && t.quit_confirmed) {
        e = ops->shutdown(ops->ctx);
        if (e != WD_OK && e != WD_ECLOSED)
            fprintf(stderr, "warden: shutdown: %s\n", wd_strerror(e));
    }
    tui_fini(&t);
    return end;
}
