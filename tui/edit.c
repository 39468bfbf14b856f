/*
 * edit.c - the console's side of the admin edits: one call per command
 * through tui_ops.edit (embedded: in-process; attached: the admin socket),
 * the JSON reply read with jansson, and the reason of a failure put where the
 * operator looks (status line or the open form). Also the ban form, shared
 * by the sessions screen (`b`) and the access screen.
 */
#include "edit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *tui_edit_json(struct tui *t, const char *password, int argc, const char *const *argv,
                      bool *ok)
{
    *ok = false;
    char *text = NULL;
    int status = 1;
    enum wd_err e = t->ops->edit ? t->ops->edit(t->ops->ctx, argc, argv, password, &text, &status)
                                 : WD_EINVAL;
    if (e != WD_OK) {
        tui_fail(t, argc ? argv[0] : "edit", e);
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    free(text);
    if (!v) {
        tui_status(t, true, "%s: the broker's reply does not parse", argc ? argv[0] : "edit");
        return NULL;
    }
    *ok = status == 0;
    return v;
}

const char *edit_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

bool tui_edit_run(struct tui *t, const char *password, int argc, const char *const *argv,
                  bool err_to_form)
{
    bool ok;
    json_t *v = tui_edit_json(t, password, argc, argv, &ok);
    if (!v) {
        if (err_to_form)
            snprintf(t->form.error, sizeof t->form.error, "%s", t->status);
        return false;
    }
    if (ok) {
        tui_status(t, false, "%s", edit_str(v, "message")[0] ? edit_str(v, "message") : "done");
    } else if (err_to_form) {
        snprintf(t->form.error, sizeof t->form.error, "%s", edit_str(v, "error"));
        tui_status(t, true, "%s", edit_str(v, "error"));
    } else {
        tui_status(t, true, "%s", edit_str(v, "error"));
    }
    json_decref(v);
    return ok;
}

/* ---------------------------------------------------------------- the ban form */

static const char *const ban_kinds[] = {"client id", "identity", "address"};
enum { BAN_KIND, BAN_CLIENT, BAN_USER, BAN_ADDR, BAN_FOR, BAN_REASON };

static void ban_done(struct tui *t)
{
    size_t kind = t->form.f[BAN_KIND].choice;
    const char *value = form_value(&t->form, BAN_CLIENT + kind);
    const char *dur = form_value(&t->form, BAN_FOR);
    const char *reason = form_value(&t->form, BAN_REASON);
    if (!value[0]) {
        snprintf(t->form.error, sizeof t->form.error, "the %s to ban is empty", ban_kinds[kind]);
        return;
    }
    const char *argv[EDIT_ARGV_MAX];
    int n = 0;
    argv[n++] = "ban";
    argv[n++] = "add";
    argv[n++] = kind == 0 ? "--client" : kind == 1 ? "--user" : "--address";
    argv[n++] = value;
    if (dur[0] && strcmp(dur, "permanent")) {
        argv[n++] = "--for";
        argv[n++] = dur;
    }
    if (reason[0]) {
        argv[n++] = "--reason";
        argv[n++] = reason;
    }
    if (tui_edit_run(t, NULL, n, argv, true))
        form_close(&t->form);
}

void edit_ban_form(struct tui *t, const char *client_id, const char *user, const char *addr)
{
    /* The address without its port: "10.0.0.5:51234" -> "10.0.0.5", "[::1]:5" -> "::1". */
    char ip[64] = "";
    if (addr && addr[0]) {
        const char *s = addr;
        if (s[0] == '[') {
            const char *end = strchr(s, ']');
            snprintf(ip, sizeof ip, "%.*s", end ? (int)(end - s - 1) : 0, s + 1);
        } else {
            const char *colon = strrchr(s, ':');
            snprintf(ip, sizeof ip, "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
        }
    }
    form_open(&t->form, "Ban: refuses connections, disconnects live ones");
    form_choice(&t->form, "Ban by", ban_kinds, 3, 0);
    form_text(&t->form, "Client id", client_id, false);
    form_text(&t->form, "Identity", user, false);
    form_text(&t->form, "Address (CIDR)", ip, false);
    form_text(&t->form, "For (30m 1h 7d)", "1h", false);
    form_text(&t->form, "Reason", "", false);
    t->form_done = ban_done;
}
