/*
 * scr_sessions.h - pieces of the sessions screen that the detail screen uses.
 * Thread: console.
 */
#ifndef WD_TUI_SCR_SESSIONS_H
#define WD_TUI_SCR_SESSIONS_H

#include <stddef.h>

#include "model.h"

struct tui;

/* The text of column c for s, as the list shows it. */
void session_cell(const struct admin_session *s, enum model_col c, char *out, size_t n);
/* Ask to disconnect client_id (confirmation on the status line). Returns reaction flags. */
unsigned sessions_kick(struct tui *t, const char *client_id);

#endif
