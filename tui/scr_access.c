/*
 * scr_access.c - screen 6: client-id bindings and bans with the time left;
 * `a` binds a client id, `b` bans (the same form as `b` on the sessions
 * screen), `d` unbinds or lifts the selected one after a confirmation.
 */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edit.h"
#include "screen.h"

static struct {
    json_t *binds, *bans;  /* owned: `client list`, `ban list` */
    size_t sel, top;
} A;

static size_t nrows(void)
{
    return json_array_size(A.binds) + json_array_size(A.bans);
}

static enum wd_err update(struct tui *t)
{
    const char *b[] = {"client", "list"}, *n[] = {"ban", "list"};
    bool ok1, ok2;
    json_t *binds = tui_edit_json(t, NULL, 2, b, &ok1);
    json_t *bans = tui_edit_json(t, NULL, 2, n, &ok2);
    if (binds && ok1 && json_is_array(binds)) {
        json_decref(A.binds);
        A.binds = binds;
    } else {
        json_decref(binds);
    }
    if (bans && ok2 && json_is_array(bans)) {
        json_decref(A.bans);
        A.bans = bans;
    } else {
        json_decref(bans);
    }
    if (A.sel >= nrows())
        A.sel = nrows() ? nrows() - 1 : 0;
    return WD_OK;
}

/* "2h13m left", "permanent", "expired" from an RFC 3339 UTC time (or null). */
static void time_left(json_t *until, char *out, size_t n)
{
    const char *s = json_string_value(until);
    if (!s) {
        snprintf(out, n, "permanent");
        return;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
        snprintf(out, n, "%s", s);
        return;
    }
    time_t end = timegm(&tm), now = time(NULL);
    if (end <= now) {
        snprintf(out, n, "expired");
        return;
    }
    char d[32];
    widget_fmt_duration(d, sizeof d, (uint64_t)(end - now));
    snprintf(out, n, "%s left", d);
}

static void draw(struct tui *t, int y, int h, int w)
{
    (void)t;
    size_t nb = json_array_size(A.binds), nbans = json_array_size(A.bans);
    /* Lines: a heading, the bindings, a heading, the bans; the selection skips headings. */
    size_t nlines = nb + nbans + 2, sel_line = A.sel < nb ? A.sel + 1 : A.sel + 2;
    int list_h = h - 1;
    if (list_h < 1)
        return;
    if (sel_line < A.top)
        A.top = sel_line;
    if (sel_line >= A.top + (size_t)list_h)
        A.top = sel_line - (size_t)list_h + 1;
    char line[800];
    for (int r = 0; r < list_h && A.top + (size_t)r < nlines; r++) {
        size_t li = A.top + (size_t)r;
        if (li == 0 || li == nb + 1) {
            attron(A_BOLD | A_UNDERLINE);
            widget_text(y + r, 0, w, li == 0
                            ? "CLIENT-ID BINDINGS  KIND     PATTERN                          USER"
                            : "BANS  KIND     VALUE                          TIME LEFT        "
                              "REASON (ACTOR)");
            attroff(A_BOLD | A_UNDERLINE);
            continue;
        }
        if (li <= nb) {
            json_t *b = json_array_get(A.binds, li - 1);
            snprintf(line, sizeof line, "                    %-8s %-32s %s",
                     edit_str(b, "kind"), edit_str(b, "pattern"), edit_str(b, "user"));
        } else {
            json_t *b = json_array_get(A.bans, li - nb - 2);
            char left[48];
            time_left(json_object_get(b, "until"), left, sizeof left);
            snprintf(line, sizeof line, "      %-8s %-30s %-16s %s (%s)", edit_str(b, "kind"),
                     edit_str(b, "value"), left, edit_str(b, "reason"), edit_str(b, "actor"));
        }
        if (li == sel_line && nb + nbans)
            attron(A_REVERSE);
        widget_text(y + r, 0, w, line);
        attroff(A_REVERSE);
    }
    snprintf(line, sizeof line, "%zu bindings, %zu bans", nb, nbans);
    widget_text(y + h - 1, 0, w, line);
}

static const char *const bind_kinds[] = {"exact", "prefix", "regex"};

static void bind_done(struct tui *t)
{
    const char *kind = form_value(&t->form, 0), *pat = form_value(&t->form, 1),
               *user = form_value(&t->form, 2);
    if (!pat[0] || !user[0]) {
        snprintf(t->form.error, sizeof t->form.error, "a binding needs a client id and a user");
        return;
    }
    const char *argv[6] = {"client", "bind"};
    int n = 2;
    if (strcmp(kind, "exact"))
        argv[n++] = !strcmp(kind, "prefix") ? "--prefix" : "--regex";
    argv[n++] = pat;
    argv[n++] = user;
    if (tui_edit_run(t, NULL, n, argv, true))
        form_close(&t->form);
}

/* arg: "KIND\tVALUE" of the selected row, kept by tui_confirm. */
static void unbind_yes(struct tui *t, const char *arg)
{
    char kind[16];
    const char *tab = strchr(arg, '\t');
    if (!tab)
        return;
    snprintf(kind, sizeof kind, "%.*s", (int)(tab - arg), arg);
    const char *argv[4] = {"client", "unbind"};
    int n = 2;
    if (strcmp(kind, "exact"))
        argv[n++] = !strcmp(kind, "prefix") ? "--prefix" : "--regex";
    argv[n++] = tab + 1;
    tui_edit_run(t, NULL, n, argv, false);
}

static void lift_yes(struct tui *t, const char *arg)
{
    char kind[16];
    const char *tab = strchr(arg, '\t');
    if (!tab)
        return;
    snprintf(kind, sizeof kind, "%.*s", (int)(tab - arg), arg);
    const char *argv[] = {"ban", "del", !strcmp(kind, "client") ? "--client"
                                        : !strcmp(kind, "user") ? "--user" : "--address", tab + 1};
    tui_edit_run(t, NULL, 4, argv, false);
}

static unsigned key(struct tui *t, enum action a, int ch)
{
    (void)ch;
    size_t n = nrows(), nb = json_array_size(A.binds);
    char q[300], arg[256];
    switch (a) {
    case ACT_UP: A.sel = A.sel ? A.sel - 1 : 0; return R_REDRAW;
    case ACT_DOWN: A.sel = A.sel + 1 < n ? A.sel + 1 : A.sel; return R_REDRAW;
    case ACT_PGUP: A.sel = A.sel > 10 ? A.sel - 10 : 0; return R_REDRAW;
    case ACT_PGDN: A.sel = A.sel + 10 < n ? A.sel + 10 : (n ? n - 1 : 0); return R_REDRAW;
    case ACT_HOME: A.sel = 0; return R_REDRAW;
    case ACT_END: A.sel = n ? n - 1 : 0; return R_REDRAW;
    case ACT_ADD:
        form_open(&t->form, "Bind a client id to a user (nobody else may use it)");
        form_choice(&t->form, "Match", bind_kinds, 3, 0);
        form_text(&t->form, "Client id", "", false);
        form_text(&t->form, "User", "", false);
        t->form_done = bind_done;
        return R_REDRAW;
    case ACT_BAN: edit_ban_form(t, "", "", ""); return R_REDRAW;
    case ACT_DELETE:
        if (A.sel >= n)
            return R_NONE;
        if (A.sel < nb) {
            json_t *b = json_array_get(A.binds, A.sel);
            snprintf(arg, sizeof arg, "%s\t%s", edit_str(b, "kind"), edit_str(b, "pattern"));
            snprintf(q, sizeof q, "Remove the binding of '%.150s' to '%.60s'? (y/N)",
                     edit_str(b, "pattern"), edit_str(b, "user"));
            tui_confirm(t, q, unbind_yes, arg);
        } else {
            json_t *b = json_array_get(A.bans, A.sel - nb);
            snprintf(arg, sizeof arg, "%s\t%s", edit_str(b, "kind"), edit_str(b, "value"));
            snprintf(q, sizeof q, "Lift the ban of %s '%.150s'? (y/N)", edit_str(b, "kind"),
                     edit_str(b, "value"));
            tui_confirm(t, q, lift_yes, arg);
        }
        return R_REDRAW;
    default: return R_UNHANDLED;
    }
}

const struct screen_ops scr_access = {
    .name = "Bindings and bans",
    .update = update,
    .draw = draw,
    .key = key,
    .hints = " a Bind client id  b Ban  d Unbind/lift  1 2 4 5 6 7 Screens  ? Help  q Quit",
};
