/*
 * scr_users.c - screen 4: the users, with roles, enabled, last login and
 * live session count; add (password typed twice or generated and shown
 * once), set a password, enable/disable, delete, set roles, bind a client id,
 * `C` to pin a certificate from a PEM file or unpin one (the PINS column
 * counts them), and `u` for the user's own rules on screen 5. Every change is one identity
 * command through tui_ops.edit (edit.c): the store's own checks and audit.
 */
#include <curses.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"
#include "screen.h"

static struct {
    json_t *list;          /* owned: `user list` */
    size_t sel, top;
    char sel_name[256];    /* the selection follows the name across refreshes */
} U;

static json_t *selected(void)
{
    return json_array_get(U.list, U.sel);
}

static enum wd_err update(struct tui *t)
{
    const char *argv[] = {"user", "list"};
    bool ok;
    json_t *v = tui_edit_json(t, NULL, 2, argv, &ok);
    if (!v)
        return WD_OK; /* the status line says why */
    if (!ok || !json_is_array(v)) {
        tui_status(t, true, "user list: %s", edit_str(v, "error"));
        json_decref(v);
        return WD_OK;
    }
    json_decref(U.list);
    U.list = v;
    U.sel = 0;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!strcmp(edit_str(json_array_get(v, i), "name"), U.sel_name))
            U.sel = i;
    return tui_refresh_identities(t); /* for the live session counts */
}

static unsigned live_sessions(const struct tui *t, const char *user)
{
    for (size_t i = 0; i < t->idents.n; i++)
        if (!strcmp(t->idents.v[i].user, user))
            return t->idents.v[i].sessions;
    return 0;
}

static void roles_text(json_t *u, char *out, size_t n)
{
    out[0] = '\0';
    json_t *r = json_object_get(u, "roles");
    for (size_t i = 0; i < json_array_size(r); i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "",
                 json_string_value(json_array_get(r, i)));
}

static void draw(struct tui *t, int y, int h, int w)
{
    /* The columns that matter most first: at 80 columns, the password scheme drops. */
    enum { NCOL = 8 };
    static const int cw[NCOL] = {16, 7, 18, 5, 4, 8, 20, 9};
    static const char *const head[NCOL] = {"NAME", "ENABLED", "ROLES", "RULES", "PINS",
                                           "SESSIONS", "LAST LOGIN", "PASSWORD"};
    attron(A_BOLD | A_UNDERLINE);
    int x = 0;
    for (int c = 0; c < NCOL && x < w; c++) {
        widget_text(y, x, cw[c] < w - x ? cw[c] : w - x, head[c]);
        x += cw[c] + 1;
    }
    if (x < w)
        widget_text(y, x, w - x, "");
    attroff(A_BOLD | A_UNDERLINE);
    size_t n = json_array_size(U.list);
    int list_h = h - 2;
    if (list_h < 1)
        return;
    if (U.sel < U.top)
        U.top = U.sel;
    if (U.sel >= U.top + (size_t)list_h)
        U.top = U.sel - (size_t)list_h + 1;
    for (int i = 0; i < list_h && U.top + (size_t)i < n; i++) {
        json_t *u = json_array_get(U.list, U.top + (size_t)i);
        char cells[NCOL][256];
        snprintf(cells[0], sizeof cells[0], "%s", edit_str(u, "name"));
        snprintf(cells[1], sizeof cells[1], "%s",
                 json_is_true(json_object_get(u, "enabled")) ? "yes" : "NO");
        roles_text(u, cells[2], sizeof cells[2]);
        if (!cells[2][0])
            snprintf(cells[2], sizeof cells[2], "-");
        snprintf(cells[3], sizeof cells[3], "%lld",
                 (long long)json_integer_value(json_object_get(u, "rules")));
        snprintf(cells[4], sizeof cells[4], "%lld",
                 (long long)json_integer_value(json_object_get(u, "pins")));
        snprintf(cells[5], sizeof cells[5], "%u", live_sessions(t, edit_str(u, "name")));
        snprintf(cells[6], sizeof cells[6], "%s",
                 edit_str(u, "last_login")[0] ? edit_str(u, "last_login") : "never");
        snprintf(cells[7], sizeof cells[7], "%s",
                 edit_str(u, "password")[0] ? edit_str(u, "password") : "none");
        bool sel = U.top + (size_t)i == U.sel;
        if (sel)
            attron(A_REVERSE);
        x = 0;
        for (int c = 0; c < NCOL && x < w; c++) {
            widget_text(y + 1 + i, x, cw[c] + 1 < w - x ? cw[c] + 1 : w - x, cells[c]);
            x += cw[c] + 1;
        }
        if (x < w)
            widget_text(y + 1 + i, x, w - x, "");
        if (sel)
            attroff(A_REVERSE);
    }
    char foot[128];
    snprintf(foot, sizeof foot, "%zu users", n);
    widget_text(y + h - 1, 0, w, foot);
}

/* ---------------------------------------------------------------- add, password */

static const char *const pw_modes[] = {"typed", "generated", "none"};
enum { ADD_NAME, ADD_ROLES, ADD_MODE, ADD_PW, ADD_PW2 };
enum { PW_MODE, PW_PW, PW_PW2 };

/* Status line after a change that may have generated a password (shown once, here only). */
static bool run_with_password(struct tui *t, const char *pw, int argc, const char *const *argv)
{
    bool ok;
    json_t *v = tui_edit_json(t, pw, argc, argv, &ok);
    if (!v) {
        snprintf(t->form.error, sizeof t->form.error, "%s", t->status);
        return false;
    }
    if (!ok) {
        snprintf(t->form.error, sizeof t->form.error, "%s", edit_str(v, "error"));
        tui_status(t, true, "%s", edit_str(v, "error"));
    } else if (edit_str(v, "password")[0]) {
        tui_status(t, false, "%s; generated password (shown once): %s", edit_str(v, "message"),
                   edit_str(v, "password"));
    } else {
        tui_status(t, false, "%s", edit_str(v, "message"));
    }
    json_t *p = json_object_get(v, "password");
    if (json_is_string(p)) /* wipe our copy of a generated password */
        explicit_bzero((char *)json_string_value(p), strlen(json_string_value(p)));
    json_decref(v);
    return ok;
}

/* The password fields agree? Sets form.error when not. */
static bool passwords_ok(struct tui *t, size_t mode, size_t pw, size_t pw2)
{
    if (strcmp(form_value(&t->form, mode), "typed"))
        return true;
    if (!form_value(&t->form, pw)[0]) {
        snprintf(t->form.error, sizeof t->form.error, "type the password (or choose generated)");
        return false;
    }
    if (strcmp(form_value(&t->form, pw), form_value(&t->form, pw2))) {
        snprintf(t->form.error, sizeof t->form.error, "the passwords do not match");
        return false;
    }
    return true;
}

static void add_done(struct tui *t)
{
    const char *name = form_value(&t->form, ADD_NAME);
    if (!name[0]) {
        snprintf(t->form.error, sizeof t->form.error, "a user needs a name");
        return;
    }
    if (!passwords_ok(t, ADD_MODE, ADD_PW, ADD_PW2))
        return;
    const char *argv[EDIT_ARGV_MAX];
    int n = 0;
    argv[n++] = "user";
    argv[n++] = "add";
    argv[n++] = name;
    char roles[FORM_TEXT];
    snprintf(roles, sizeof roles, "%s", form_value(&t->form, ADD_ROLES));
    char *save = NULL;
    for (char *r = strtok_r(roles, ", ", &save); r && n < EDIT_ARGV_MAX - 3;
         r = strtok_r(NULL, ", ", &save)) {
        argv[n++] = "--role";
        argv[n++] = r;
    }
    const char *mode = form_value(&t->form, ADD_MODE);
    if (!strcmp(mode, "generated"))
        argv[n++] = "--generate-password";
    else if (!strcmp(mode, "none"))
        argv[n++] = "--no-password";
    snprintf(U.sel_name, sizeof U.sel_name, "%s", name);
    if (run_with_password(t, !strcmp(mode, "typed") ? form_value(&t->form, ADD_PW) : NULL, n,
                          argv))
        form_close(&t->form);
}

static void passwd_done(struct tui *t)
{
    if (!passwords_ok(t, PW_MODE, PW_PW, PW_PW2))
        return;
    const char *argv[5] = {"user", "passwd", U.sel_name};
    int n = 3;
    const char *mode = form_value(&t->form, PW_MODE);
    if (!strcmp(mode, "generated"))
        argv[n++] = "--generate-password";
    else if (!strcmp(mode, "none"))
        argv[n++] = "--no-password";
    if (run_with_password(t, !strcmp(mode, "typed") ? form_value(&t->form, PW_PW) : NULL, n, argv))
        form_close(&t->form);
}

/* ---------------------------------------------------------------- roles, bind */

static bool in_list(const char *list, const char *word)
{
    char buf[FORM_TEXT];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *r = strtok_r(buf, ", ", &save); r; r = strtok_r(NULL, ", ", &save))
        if (!strcmp(r, word))
            return true;
    return false;
}

/* The roles typed, against the roles held: `user role add` and `user role del` for each change. */
static void roles_done(struct tui *t)
{
    json_t *u = selected();
    char held[FORM_TEXT];
    roles_text(u, held, sizeof held);
    char want[FORM_TEXT];
    snprintf(want, sizeof want, "%s", form_value(&t->form, 0));
    int changes = 0;
    char *save = NULL;
    for (char *r = strtok_r(want, ", ", &save); r; r = strtok_r(NULL, ", ", &save)) {
        if (in_list(held, r))
            continue;
        const char *argv[] = {"user", "role", "add", U.sel_name, r};
        if (!tui_edit_run(t, NULL, 5, argv, true))
            return;
        changes++;
    }
    json_t *r = json_object_get(u, "roles");
    for (size_t i = 0; i < json_array_size(r); i++) {
        const char *role = json_string_value(json_array_get(r, i));
        if (in_list(form_value(&t->form, 0), role))
            continue;
        const char *argv[] = {"user", "role", "del", U.sel_name, role};
        if (!tui_edit_run(t, NULL, 5, argv, true))
            return;
        changes++;
    }
    if (!changes)
        tui_status(t, false, "roles of '%s' unchanged", U.sel_name);
    else
        tui_status(t, false, "roles of '%s' set", U.sel_name);
    form_close(&t->form);
}

static const char *const bind_kinds[] = {"exact", "prefix", "regex"};

static void bind_done(struct tui *t)
{
    const char *kind = form_value(&t->form, 0), *pat = form_value(&t->form, 1);
    if (!pat[0]) {
        snprintf(t->form.error, sizeof t->form.error, "the client id (or pattern) is empty");
        return;
    }
    const char *argv[6] = {"client", "bind"};
    int n = 2;
    if (!strcmp(kind, "prefix"))
        argv[n++] = "--prefix";
    else if (!strcmp(kind, "regex"))
        argv[n++] = "--regex";
    argv[n++] = pat;
    argv[n++] = U.sel_name;
    if (tui_edit_run(t, NULL, n, argv, true))
        form_close(&t->form);
}

/* ---------------------------------------------------------------- certificate pins */

/* The pin form: "pin a PEM file", or one of the user's pins to unpin (FORM_CHOICES - 1 shown). */
#define PIN_SHOWN (FORM_CHOICES - 1)
static struct {
    char label[PIN_SHOWN][64];     /* "unpin 3F2A9C01B4E5D6F7 CN=meter-1" */
    char fp[PIN_SHOWN][72];        /* the fingerprint, as `user cert list` gives it */
    const char *choices[FORM_CHOICES];
} P;
enum { PIN_WHAT, PIN_FILE };

static void unpin_yes(struct tui *t, const char *fp)
{
    const char *argv[] = {"user", "cert", "del", U.sel_name, "--fingerprint", fp};
    tui_edit_run(t, NULL, 6, argv, false);
}

static void pin_done(struct tui *t)
{
    size_t what = t->form.f[PIN_WHAT].choice;
    if (what == 0) {
        const char *file = form_value(&t->form, PIN_FILE);
        if (!file[0]) {
            snprintf(t->form.error, sizeof t->form.error,
                     "the PEM file of the certificate to pin (or choose a pin to remove)");
            return;
        }
        /* The broker reads the file: a relative path means the console's directory, which
         * an attached console does not share. A path that does not resolve goes as typed,
         * and the command says why it cannot read it. */
        char abs[PATH_MAX];
        const char *path = realpath(file, abs) ? abs : file;
        const char *argv[] = {"user", "cert", "add", U.sel_name, "--cert", path};
        if (tui_edit_run(t, NULL, 6, argv, true))
            form_close(&t->form);
        return;
    }
    char q[200], fp[72];
    snprintf(fp, sizeof fp, "%s", P.fp[what - 1]);
    snprintf(q, sizeof q, "Unpin certificate %.16s... from '%.60s'? (y/N)", fp, U.sel_name);
    form_close(&t->form);
    tui_confirm(t, q, unpin_yes, fp);
}

/* `C`: the user's pins (`user cert list NAME`), then the form. */
static unsigned pin_form(struct tui *t)
{
    const char *argv[] = {"user", "cert", "list", U.sel_name};
    bool ok;
    json_t *v = tui_edit_json(t, NULL, 4, argv, &ok);
    if (!v)
        return R_REDRAW; /* the status line says why */
    if (!ok || !json_is_array(v)) {
        tui_status(t, true, "user cert list: %s", edit_str(v, "error"));
        json_decref(v);
        return R_REDRAW;
    }
    size_t n = json_array_size(v), shown = n < PIN_SHOWN ? n : PIN_SHOWN;
    P.choices[0] = "pin a PEM file";
    for (size_t i = 0; i < shown; i++) {
        json_t *c = json_array_get(v, i);
        snprintf(P.fp[i], sizeof P.fp[i], "%s", edit_str(c, "fingerprint"));
        const char *cn = strstr(edit_str(c, "subject"), "CN=");
        snprintf(P.label[i], sizeof P.label[i], "unpin %.16s %.30s", P.fp[i], cn ? cn : "");
        P.choices[i + 1] = P.label[i];
    }
    json_decref(v);
    char title[96];
    snprintf(title, sizeof title, "Certificates of '%.40s': %zu pinned", U.sel_name, n);
    form_open(&t->form, title);
    form_choice(&t->form, "Action", P.choices, shown + 1, 0);
    form_text(&t->form, "PEM file", "", false);
    t->form_done = pin_done;
    if (n > shown)
        tui_status(t, false, "%zu pins; the form lists the first %d (warden user cert list %s)",
                   n, PIN_SHOWN, U.sel_name);
    return R_REDRAW;
}

static void del_yes(struct tui *t, const char *name)
{
    const char *argv[] = {"user", "del", name};
    tui_edit_run(t, NULL, 3, argv, false);
}

/* ---------------------------------------------------------------- keys */

static unsigned key(struct tui *t, enum action a, int ch)
{
    (void)ch;
    size_t n = json_array_size(U.list);
    json_t *u = selected();
    if (u)
        snprintf(U.sel_name, sizeof U.sel_name, "%s", edit_str(u, "name"));
    switch (a) {
    case ACT_UP: U.sel = U.sel ? U.sel - 1 : 0; break;
    case ACT_DOWN: U.sel = U.sel + 1 < n ? U.sel + 1 : U.sel; break;
    case ACT_PGUP: U.sel = U.sel > 10 ? U.sel - 10 : 0; break;
    case ACT_PGDN: U.sel = U.sel + 10 < n ? U.sel + 10 : (n ? n - 1 : 0); break;
    case ACT_HOME: U.sel = 0; break;
    case ACT_END: U.sel = n ? n - 1 : 0; break;
    case ACT_ADD:
        form_open(&t->form, "Add a user");
        form_text(&t->form, "Name", "", false);
        form_text(&t->form, "Roles (a,b)", "", false);
        form_choice(&t->form, "Password", pw_modes, 3, 0);
        form_text(&t->form, "Type it", "", true);
        form_text(&t->form, "Again", "", true);
        t->form_done = add_done;
        return R_REDRAW;
    default:
        if (!u)
            return R_UNHANDLED;
        break;
    }
    if (a == ACT_UP || a == ACT_DOWN || a == ACT_PGUP || a == ACT_PGDN || a == ACT_HOME ||
        a == ACT_END) {
        u = selected();
        if (u)
            snprintf(U.sel_name, sizeof U.sel_name, "%s", edit_str(u, "name"));
        return R_REDRAW;
    }
    char title[320];
    switch (a) {
    case ACT_PASSWD:
        snprintf(title, sizeof title, "Password of '%.200s'", U.sel_name);
        form_open(&t->form, title);
        form_choice(&t->form, "Password", pw_modes, 3, 0);
        form_text(&t->form, "Type it", "", true);
        form_text(&t->form, "Again", "", true);
        t->form_done = passwd_done;
        return R_REDRAW;
    case ACT_EDIT: {
        bool enabled = json_is_true(json_object_get(u, "enabled"));
        const char *argv[] = {"user", enabled ? "disable" : "enable", U.sel_name};
        tui_edit_run(t, NULL, 3, argv, false);
        return R_REFRESH;
    }
    case ACT_DELETE:
        snprintf(title, sizeof title,
                 "Delete user '%.200s' and its client-id bindings? (y/N)", U.sel_name);
        tui_confirm(t, title, del_yes, U.sel_name);
        return R_REDRAW;
    case ACT_SET_ROLES: {
        char held[FORM_TEXT];
        roles_text(u, held, sizeof held);
        snprintf(title, sizeof title, "Roles of '%.200s', in order", U.sel_name);
        form_open(&t->form, title);
        form_text(&t->form, "Roles (a,b)", held, false);
        t->form_done = roles_done;
        return R_REDRAW;
    }
    case ACT_BIND:
        snprintf(title, sizeof title, "Bind a client id to '%.200s'", U.sel_name);
        form_open(&t->form, title);
        form_choice(&t->form, "Match", bind_kinds, 3, 0);
        form_text(&t->form, "Client id", "", false);
        t->form_done = bind_done;
        return R_REDRAW;
    case ACT_CERTS: return pin_form(t);
    case ACT_USER_RULES:
    case ACT_ENTER:
        roles_show_user(t, U.sel_name);
        t->push_to = SCR_ROLES;
        return R_PUSH;
    default: return R_UNHANDLED;
    }
}

const struct screen_ops scr_users = {
    .name = "Users",
    .update = update,
    .draw = draw,
    .key = key,
    .hints = " a Add  p Password  e Enable/disable  d Delete  R Roles  u Rules  c Bind id"
             "  C Certs  1 2 4 5 6 7 Screens  ? Help  q Quit",
};
