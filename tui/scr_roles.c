/*
 * scr_roles.c - screen 5: the roles in order with their rules and on_deny,
 * or one user's own rules (opened with `u` from the users screen). Rules are
 * added, edited, moved and deleted with a form; before a rule change is
 * saved, the broker evaluates the proposed list against the live sessions'
 * subscriptions (the "preview" edit, admin_edit.c) and the operator sees
 * which would be removed, then confirms or cancels.
 *
 * A change is one rule command (`role|user rule add|set|move|del`): one
 * store transaction and one audit entry each.
 */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"
#include "screen.h"

#define ROWS_MAX 4096

/* A row is a list header (rule = -1) or one rule of a list. */
struct row {
    size_t list;
    long rule;
};

enum change_kind { CH_ADD, CH_EDIT, CH_DEL, CH_UP, CH_DOWN };

static struct {
    char user[256];        /* "" = the roles; else this user's own rules */
    char next_user[256];   /* roles_show_user(): what the next enter() shows */
    json_t *lists;         /* owned array of {"kind","name","rules","on_deny","description"} */
    struct row rows[ROWS_MAX];
    size_t nrows, sel, top;
    char sel_list[256];    /* the selection follows (list, rule) across refreshes */
    long sel_rule;
    /* The change waiting for confirmation. */
    enum change_kind ch;
    size_t ch_list;
    long ch_rule;          /* 0-based rule it applies to; CH_ADD: insert position */
    char ch_effect[8], ch_actions[64], ch_filter[FORM_TEXT], ch_qos[4];
    bool ch_retain;
} S;

void roles_show_user(struct tui *t, const char *user)
{
    (void)t;
    snprintf(S.next_user, sizeof S.next_user, "%s", user ? user : "");
}

/* Entered from the users screen (`u`): that user's rules; from `5`: the roles. */
static void enter(struct tui *t)
{
    (void)t;
    if (strcmp(S.user, S.next_user)) {
        S.sel = S.top = 0;
        S.sel_list[0] = '\0';
        S.sel_rule = -1;
    }
    snprintf(S.user, sizeof S.user, "%s", S.next_user);
    S.next_user[0] = '\0';
}

static json_t *list_at(size_t i)
{
    return json_array_get(S.lists, i);
}

static const char *kind_of(json_t *l)
{
    return edit_str(l, "kind");
}

static void rebuild_rows(void)
{
    S.nrows = 0;
    size_t sel = 0;
    for (size_t i = 0; i < json_array_size(S.lists) && S.nrows < ROWS_MAX; i++) {
        json_t *l = list_at(i);
        if (!strcmp(edit_str(l, "name"), S.sel_list) && S.sel_rule < 0)
            sel = S.nrows;
        S.rows[S.nrows++] = (struct row){i, -1};
        json_t *r = json_object_get(l, "rules");
        for (size_t k = 0; k < json_array_size(r) && S.nrows < ROWS_MAX; k++) {
            if (!strcmp(edit_str(l, "name"), S.sel_list) && S.sel_rule == (long)k)
                sel = S.nrows;
            S.rows[S.nrows++] = (struct row){i, (long)k};
        }
    }
    S.sel = sel;
}

static enum wd_err update(struct tui *t)
{
    bool ok;
    json_t *lists = json_array();
    if (!lists)
        return WD_ENOMEM;
    if (S.user[0]) {
        const char *argv[] = {"user", "show", S.user};
        json_t *u = tui_edit_json(t, NULL, 3, argv, &ok);
        if (u && ok) {
            json_object_set_new(u, "kind", json_string("user"));
            json_array_append_new(lists, u);
        } else {
            if (u)
                tui_status(t, true, "user show: %s", edit_str(u, "error"));
            json_decref(u);
        }
    } else {
        const char *argv[] = {"role", "list"};
        json_t *names = tui_edit_json(t, NULL, 2, argv, &ok);
        for (size_t i = 0; names && ok && i < json_array_size(names); i++) {
            const char *show[] = {"role", "show", edit_str(json_array_get(names, i), "name")};
            bool ok2;
            json_t *r = tui_edit_json(t, NULL, 3, show, &ok2);
            if (r && ok2) {
                json_object_set_new(r, "kind", json_string("role"));
                json_array_append_new(lists, r);
            } else {
                json_decref(r);
            }
        }
        json_decref(names);
    }
    json_decref(S.lists);
    S.lists = lists;
    rebuild_rows();
    return WD_OK;
}

static void rule_text(json_t *r, char *out, size_t n)
{
    snprintf(out, n, "%3lld. %-5s %-26s %-30s qos %lld%s",
             (long long)json_integer_value(json_object_get(r, "index")), edit_str(r, "effect"),
             edit_str(r, "actions"), edit_str(r, "filter"),
             (long long)json_integer_value(json_object_get(r, "qos")),
             json_is_true(json_object_get(r, "retain")) ? "  retain" : "  no-retain");
}

static void draw(struct tui *t, int y, int h, int w)
{
    (void)t;
    int list_h = h - 1;
    if (list_h < 1)
        return;
    if (S.sel < S.top)
        S.top = S.sel;
    if (S.sel >= S.top + (size_t)list_h)
        S.top = S.sel - (size_t)list_h + 1;
    char line[1400];
    for (int i = 0; i < list_h && S.top + (size_t)i < S.nrows; i++) {
        const struct row *rw = &S.rows[S.top + (size_t)i];
        json_t *l = list_at(rw->list);
        bool sel = S.top + (size_t)i == S.sel;
        if (rw->rule < 0) {
            if (!strcmp(kind_of(l), "user"))
                snprintf(line, sizeof line, "user %s  (own rules, evaluated before its roles)",
                         edit_str(l, "name"));
            else
                snprintf(line, sizeof line, "role %s  on_deny: %s  %s", edit_str(l, "name"),
                         edit_str(l, "on_deny")[0] ? edit_str(l, "on_deny") : "none",
                         edit_str(l, "description"));
            attron(A_BOLD);
        } else {
            rule_text(json_array_get(json_object_get(l, "rules"), (size_t)rw->rule), line,
                      sizeof line);
            memmove(line + 4, line, strlen(line) + 1);
            memset(line, ' ', 4);
        }
        if (sel)
            attron(A_REVERSE);
        widget_text(y + i, 0, w, line);
        attroff(A_REVERSE | A_BOLD);
    }
    snprintf(line, sizeof line, "%s", S.user[0] ? "Esc: back to the users" :
             "Rules are evaluated in order, the first match decides; nothing matched = deny");
    widget_text(y + h - 1, 0, w, line);
}

/* ---------------------------------------------------------------- changes */

/* argv words of rule r (json) into dst[5]: effect actions filter qos retain. */
static void rule_words(json_t *r, const char **dst, char *qos)
{
    snprintf(qos, 4, "%lld", (long long)json_integer_value(json_object_get(r, "qos")));
    dst[0] = edit_str(r, "effect");
    dst[1] = edit_str(r, "actions");
    dst[2] = edit_str(r, "filter");
    dst[3] = qos;
    dst[4] = json_is_true(json_object_get(r, "retain")) ? "1" : "0";
}

/* The list after the pending change, as preview words (5 per rule). n: words. */
static size_t proposed(const char **w, size_t max, char (*qos)[4])
{
    json_t *rules = json_object_get(list_at(S.ch_list), "rules");
    size_t nr = json_array_size(rules), n = 0, k = 0;
    const char *mine[5] = {S.ch_effect, S.ch_actions, S.ch_filter, S.ch_qos,
                           S.ch_retain ? "1" : "0"};
    json_t *order[256 + 1];
    bool is_new[256 + 1];
    size_t m = 0;
    for (size_t i = 0; i < nr && m < 256; i++) {
        if (S.ch == CH_ADD && (long)i == S.ch_rule)
            is_new[m] = true, order[m++] = NULL;
        if ((S.ch == CH_DEL) && (long)i == S.ch_rule)
            continue;
        if (S.ch == CH_EDIT && (long)i == S.ch_rule) {
            is_new[m] = true, order[m++] = NULL;
            continue;
        }
        is_new[m] = false, order[m++] = json_array_get(rules, i);
    }
    if (S.ch == CH_ADD && S.ch_rule >= (long)nr)
        is_new[m] = true, order[m++] = NULL;
    if ((S.ch == CH_UP || S.ch == CH_DOWN) && m > 1) {
        size_t a = (size_t)S.ch_rule, b = S.ch == CH_UP ? a - 1 : a + 1;
        json_t *tmp = order[a];
        order[a] = order[b];
        order[b] = tmp;
    }
    for (size_t i = 0; i < m && n + 5 <= max; i++, k++) {
        if (is_new[i])
            for (int j = 0; j < 5; j++)
                w[n + (size_t)j] = mine[j];
        else
            rule_words(order[i], w + n, qos[k]);
        n += 5;
    }
    return n;
}

/*
 * Run `KIND rule VERB NAME [INDEX] [rule words w[0..5)] [extra]`: add (index = --at,
 * 0 = the end), set (replace rule index), move (index to extra), del (index).
 */
static bool rule_cmd(struct tui *t, const char *verb, size_t index, const char *const *w,
                     size_t extra)
{
    json_t *l = list_at(S.ch_list);
    char idx[24], ex[24];
    snprintf(idx, sizeof idx, "%zu", index);
    snprintf(ex, sizeof ex, "%zu", extra);
    const char *argv[16] = {kind_of(l), "rule", verb, edit_str(l, "name")};
    int n = 4;
    bool add = !strcmp(verb, "add");
    if (!add)
        argv[n++] = idx;
    if (w) {
        argv[n++] = w[0];
        argv[n++] = w[1];
        argv[n++] = w[2];
        argv[n++] = "--qos";
        argv[n++] = w[3];
        if (strcmp(w[4], "1"))
            argv[n++] = "--no-retain";
    }
    if (add && index) {
        argv[n++] = "--at";
        argv[n++] = idx;
    }
    if (!strcmp(verb, "move"))
        argv[n++] = ex;
    return tui_edit_run(t, NULL, n, argv, false);
}

static void apply_yes(struct tui *t, const char *arg)
{
    (void)arg;
    size_t nr = json_array_size(json_object_get(list_at(S.ch_list), "rules"));
    size_t i = S.ch_rule >= 0 ? (size_t)S.ch_rule : 0; /* 0-based */
    const char *mine[5] = {S.ch_effect, S.ch_actions, S.ch_filter, S.ch_qos,
                           S.ch_retain ? "1" : "0"};
    switch (S.ch) {
    case CH_ADD: rule_cmd(t, "add", i < nr ? i + 1 : 0, mine, 0); break;
    case CH_DEL: rule_cmd(t, "del", i + 1, NULL, 0); break;
    case CH_EDIT: rule_cmd(t, "set", i + 1, mine, 0); break;
    case CH_UP:
        if (rule_cmd(t, "move", i + 1, NULL, i))
            S.sel_rule = (long)i - 1;
        break;
    case CH_DOWN:
        if (rule_cmd(t, "move", i + 1, NULL, i + 2))
            S.sel_rule = (long)i + 1;
        break;
    }
}

/* Ask the broker what the change would do to live sessions, then ask the operator. */
static void preview_then_confirm(struct tui *t)
{
    static const char *w[ADMIN_EDIT_ARGS_MAX];
    static char qos[256][4];
    json_t *l = list_at(S.ch_list);
    w[0] = "preview";
    w[1] = kind_of(l);
    w[2] = edit_str(l, "name");
    size_t n = proposed(w + 3, ADMIN_EDIT_ARGS_MAX - 3, qos);
    bool ok;
    json_t *v = tui_edit_json(t, NULL, (int)n + 3, w, &ok);
    char q[256];
    if (!v) {
        snprintf(q, sizeof q, "No preview (%.180s). Save anyway? (y/N)", t->status);
    } else {
        json_t *lost = json_object_get(v, "lost");
        size_t nl = json_array_size(lost);
        if (!ok)
            snprintf(q, sizeof q, "No preview (%.180s). Save anyway? (y/N)", edit_str(v, "error"));
        else if (!nl)
            snprintf(q, sizeof q, "No live subscription is affected (%lld sessions use this "
                     "list). Save? (y/N)", (long long)json_integer_value(json_object_get(v,
                                                                                   "sessions")));
        else {
            json_t *f = json_array_get(lost, 0);
            snprintf(q, sizeof q, "Removes %zu live subscription%s: %.60s loses %.60s%s. Save? "
                     "(y/N)", nl, nl == 1 ? "" : "s", edit_str(f, "client"),
                     edit_str(f, "filter"), nl > 1 ? ", ..." : "");
        }
        json_decref(v);
    }
    tui_confirm(t, q, apply_yes, NULL);
}

static const char *const effects[] = {"allow", "deny"};
static const char *const qoses[] = {"2", "1", "0"};
static const char *const yesno[] = {"yes", "no"};
enum { RF_EFFECT, RF_ACTIONS, RF_FILTER, RF_QOS, RF_RETAIN };

static void rule_form_done(struct tui *t)
{
    const char *filter = form_value(&t->form, RF_FILTER);
    const char *actions = form_value(&t->form, RF_ACTIONS);
    if (!filter[0] || !actions[0]) {
        snprintf(t->form.error, sizeof t->form.error, "actions and filter are needed");
        return;
    }
    snprintf(S.ch_effect, sizeof S.ch_effect, "%s", form_value(&t->form, RF_EFFECT));
    snprintf(S.ch_actions, sizeof S.ch_actions, "%s", actions);
    snprintf(S.ch_filter, sizeof S.ch_filter, "%s", filter);
    snprintf(S.ch_qos, sizeof S.ch_qos, "%s", form_value(&t->form, RF_QOS));
    S.ch_retain = !strcmp(form_value(&t->form, RF_RETAIN), "yes");
    form_close(&t->form);
    preview_then_confirm(t);
}

static void rule_form(struct tui *t, const char *title, json_t *r)
{
    form_open(&t->form, title);
    form_choice(&t->form, "Effect", effects, 2, r && !strcmp(edit_str(r, "effect"), "deny"));
    form_text(&t->form, "Actions", r ? edit_str(r, "actions") : "publish,subscribe", false);
    form_text(&t->form, "Filter", r ? edit_str(r, "filter") : "", false);
    form_choice(&t->form, "Max QoS", qoses, 3,
                r ? 2 - (size_t)json_integer_value(json_object_get(r, "qos")) : 0);
    form_choice(&t->form, "Retain", yesno, 2,
                r && !json_is_true(json_object_get(r, "retain")) ? 1 : 0);
    t->form_done = rule_form_done;
}

static const char *const policies[] = {"none", "drop", "disconnect", "strikes"};

static void on_deny_done(struct tui *t)
{
    char pol[48];
    const char *p = form_value(&t->form, 0);
    if (!strcmp(p, "strikes"))
        snprintf(pol, sizeof pol, "strikes:%s", form_value(&t->form, 1));
    else
        snprintf(pol, sizeof pol, "%s", p);
    const char *argv[] = {"role", "set", edit_str(list_at(S.ch_list), "name"), "--on-deny", pol};
    if (tui_edit_run(t, NULL, 5, argv, true))
        form_close(&t->form);
}

static void new_role_done(struct tui *t)
{
    const char *argv[] = {"role", "add", form_value(&t->form, 0), "--description",
                          form_value(&t->form, 1)};
    if (tui_edit_run(t, NULL, 5, argv, true)) {
        snprintf(S.sel_list, sizeof S.sel_list, "%s", form_value(&t->form, 0));
        S.sel_rule = -1;
        form_close(&t->form);
    }
}

static void del_role_yes(struct tui *t, const char *name)
{
    const char *argv[] = {"role", "del", name};
    tui_edit_run(t, NULL, 3, argv, false);
}

static unsigned key(struct tui *t, enum action a, int ch)
{
    (void)ch;
    const struct row *rw = S.nrows ? &S.rows[S.sel] : NULL;
    json_t *l = rw ? list_at(rw->list) : NULL;
    json_t *rules = l ? json_object_get(l, "rules") : NULL;
    size_t nr = json_array_size(rules);
    char title[320];
    switch (a) {
    case ACT_UP: S.sel = S.sel ? S.sel - 1 : 0; break;
    case ACT_DOWN: S.sel = S.sel + 1 < S.nrows ? S.sel + 1 : S.sel; break;
    case ACT_PGUP: S.sel = S.sel > 10 ? S.sel - 10 : 0; break;
    case ACT_PGDN: S.sel = S.sel + 10 < S.nrows ? S.sel + 10 : (S.nrows ? S.nrows - 1 : 0); break;
    case ACT_HOME: S.sel = 0; break;
    case ACT_END: S.sel = S.nrows ? S.nrows - 1 : 0; break;
    case ACT_NEW_ROLE:
        if (S.user[0])
            return R_UNHANDLED;
        form_open(&t->form, "Add a role");
        form_text(&t->form, "Name", "", false);
        form_text(&t->form, "Description", "", false);
        t->form_done = new_role_done;
        return R_REDRAW;
    case ACT_BACK:
        if (!S.user[0])
            return R_UNHANDLED;
        S.user[0] = '\0';
        return t->depth > 1 ? R_POP : (R_UNHANDLED);
    default:
        if (!rw)
            return R_UNHANDLED;
        S.ch_list = rw->list;
        switch (a) {
        case ACT_ADD:
            S.ch = CH_ADD;
            S.ch_rule = rw->rule < 0 ? (long)nr : rw->rule + 1;
            snprintf(title, sizeof title, "New rule in %s %.200s, at %ld", kind_of(l),
                     edit_str(l, "name"), S.ch_rule + 1);
            rule_form(t, title, NULL);
            return R_REDRAW;
        case ACT_EDIT:
        case ACT_ENTER:
            if (rw->rule < 0)
                return R_NONE;
            S.ch = CH_EDIT;
            S.ch_rule = rw->rule;
            snprintf(title, sizeof title, "Rule %ld of %s %.200s", rw->rule + 1, kind_of(l),
                     edit_str(l, "name"));
            rule_form(t, title, json_array_get(rules, (size_t)rw->rule));
            return R_REDRAW;
        case ACT_DELETE:
            if (rw->rule < 0) {
                if (strcmp(kind_of(l), "role"))
                    return R_NONE;
                snprintf(title, sizeof title, "Delete role '%.200s'? (y/N)", edit_str(l, "name"));
                tui_confirm(t, title, del_role_yes, edit_str(l, "name"));
                return R_REDRAW;
            }
            S.ch = CH_DEL;
            S.ch_rule = rw->rule;
            preview_then_confirm(t);
            return R_REDRAW;
        case ACT_MOVE_UP:
        case ACT_MOVE_DOWN:
            if (rw->rule < 0 || (a == ACT_MOVE_UP && rw->rule == 0) ||
                (a == ACT_MOVE_DOWN && (size_t)rw->rule + 1 >= nr))
                return R_NONE;
            S.ch = a == ACT_MOVE_UP ? CH_UP : CH_DOWN;
            S.ch_rule = rw->rule;
            snprintf(S.sel_list, sizeof S.sel_list, "%s", edit_str(l, "name"));
            preview_then_confirm(t);
            return R_REDRAW;
        case ACT_ON_DENY: {
            if (strcmp(kind_of(l), "role"))
                return R_NONE;
            const char *cur = edit_str(l, "on_deny");
            size_t pi = !strncmp(cur, "strikes", 7) ? 3 : !strcmp(cur, "disconnect") ? 2
                        : !strcmp(cur, "drop") ? 1 : 0;
            snprintf(title, sizeof title, "on_deny of role '%.200s'", edit_str(l, "name"));
            form_open(&t->form, title);
            form_choice(&t->form, "Policy", policies, 4, pi);
            form_text(&t->form, "Strikes (N)", pi == 3 ? cur + 8 : "3", false);
            t->form_done = on_deny_done;
            return R_REDRAW;
        }
        default: return R_UNHANDLED;
        }
    }
    if (S.nrows) {
        snprintf(S.sel_list, sizeof S.sel_list, "%s",
                 edit_str(list_at(S.rows[S.sel].list), "name"));
        S.sel_rule = S.rows[S.sel].rule;
    }
    return R_REDRAW;
}

const struct screen_ops scr_roles = {
    .name = "Roles and rules",
    .enter = enter,
    .update = update,
    .draw = draw,
    .key = key,
    .hints = " a Add rule  e Edit  d Delete  K/J Move  o on_deny  n New role  1 2 4 5 6 7 Screens"
             "  ? Help",
};
