/*
 * edit.h - what the editing screens (scr_users.c, scr_roles.c, scr_access.c)
 * and the sessions screen's `b` share: running an identity command through
 * tui_ops.edit and reading its JSON reply, the ban form, and opening the
 * rules screen on one user's own rules. Thread: console.
 */
#ifndef WD_TUI_EDIT_H
#define WD_TUI_EDIT_H

#include <jansson.h>
#include <stdbool.h>

#include "screen.h"

#define EDIT_ARGV_MAX 24

/*
 * Run argv[0..argc) (what follows `warden`) with password (NULL: none).
 * Returns owned: the parsed reply (json_decref), also when the command failed;
 * NULL when the call itself failed (the status line says why).
 * *ok: the command succeeded.
 */
json_t *tui_edit_json(struct tui *t, const char *password, int argc, const char *const *argv,
                      bool *ok);
/*
 * Run a change; the status line gets the command's message or its error
 * (err_to_form: the error goes to the open form instead, which stays open).
 * Returns true when it succeeded.
 */
bool tui_edit_run(struct tui *t, const char *password, int argc, const char *const *argv,
                  bool err_to_form);

/* A JSON object's string member, or "" (never NULL). */
const char *edit_str(json_t *o, const char *key);

/* Open the ban form: kind choice (client id, identity, address), value, duration, reason.
 * The values given ("" = none) fill the value as the kind is chosen. */
void edit_ban_form(struct tui *t, const char *client_id, const char *user, const char *addr);

/* Show the rules screen on user's own rules (NULL: on the roles). */
void roles_show_user(struct tui *t, const char *user);

#endif
