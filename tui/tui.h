/*
 * tui.h - the console: an ncurses front end on top of the admin interface.
 *
 * The console never sees broker state; it calls the operations in struct
 * tui_ops, which main.c fills either with admin.h calls (embedded: the broker
 * runs on another thread of this process) or with the admin socket client
 * (attached: `warden console`). The code above this table is the same in
 * both modes. Thread: console (tui_run blocks the calling thread).
 */
#ifndef WD_TUI_H
#define WD_TUI_H

#include <stdbool.h>
#include <stddef.h>

#include "admin.h"

#define TUI_LOG_LINE 256 /* bytes per log line, NUL included (= LOG_LINE_MAX) */

struct tui_info {
    char version[32];      /* "0.1.0" */
    char listeners[256];   /* "127.0.0.1:1883, 0.0.0.0:8883 (TLS)" */
    char where[160];       /* "embedded", "attached to /path/admin.sock" */
};

/*
 * What the console may do. Every call may block briefly (a round trip to the
 * broker thread or over the socket) and returns WD_ECLOSED once the broker
 * is gone. Snapshots are freed with admin_sessions_free()/admin_subs_free().
 */
struct tui_ops {
    void *ctx;
    bool embedded;   /* quitting stops the broker (after confirmation) */
    enum wd_err (*info)(void *ctx, struct tui_info *out);
    /* One window of the session list (admin_session_page(); admin_page_free). */
    enum wd_err (*page)(void *ctx, const struct admin_page_req *req, struct admin_page *out);
    /* One session by client id (admin_session_get(); admin_session_clear). */
    enum wd_err (*session)(void *ctx, const char *client_id, struct admin_session *out);
    /* Connected sessions per identity (admin_idents_free). */
    enum wd_err (*identities)(void *ctx, struct admin_idents *out);
    enum wd_err (*subs)(void *ctx, const char *client_id, struct admin_subs *out);
    enum wd_err (*stats)(void *ctx, struct admin_stats *out);
    enum wd_err (*disconnect)(void *ctx, const char *client_id);
    enum wd_err (*shutdown)(void *ctx);
    /* Up to max recent log lines, oldest first, into out; *n = lines copied. */
    enum wd_err (*log_recent)(void *ctx, char (*out)[TUI_LOG_LINE], size_t max, size_t *n);
    /* A session's flight recorder (admin_events_free). */
    enum wd_err (*flight)(void *ctx, const char *client_id, struct admin_events *out);
    /* The store's last max audit entries (admin_audits_free). */
    enum wd_err (*audit)(void *ctx, size_t max, struct admin_audits *out);
    enum wd_err (*explain)(void *ctx, const struct admin_explain_req *req,
                           struct admin_explanation *out);
    /* An identity command or a rule preview (admin_edit() in admin.h, which says the
     * argv forms): *json malloc'd (free()), *status the command's exit status. */
    enum wd_err (*edit)(void *ctx, int argc, const char *const *argv, const char *password,
                        char **json, int *status);
};

enum tui_end {
    TUI_QUIT,        /* the operator quit (embedded: ops->shutdown was called) */
    TUI_BROKER_GONE, /* the broker stopped or the socket closed */
    TUI_SIGNALLED,   /* SIGTERM, SIGINT or SIGHUP reached the console */
    TUI_HANGUP,      /* the terminal went away (its window or SSH session closed) */
    TUI_NO_TERMINAL, /* curses could not start */
};

/*
 * Run the console on the terminal until it ends; the terminal is restored
 * on every way out (also on SIGTERM and on a crash of this thread).
 * Borrows: ops for the call.
 */
enum tui_end tui_run(const struct tui_ops *ops);

#endif
