/*
 * screen.h - what the console's screens share: the console state (struct
 * tui), reaction flags and struct screen_ops. One scr_*.c per screen.
 *
 * A screen's key function runs one action and returns reaction flags; the
 * loop in tui.c then refreshes snapshots, switches screens or redraws
 * (htop's Htop_Reaction). draw reads the state and never changes the model
 * beyond scrolling it into view. Thread: console.
 */
#ifndef WD_TUI_SCREEN_H
#define WD_TUI_SCREEN_H

#include <stdbool.h>
#include <stdint.h>

#include "form.h"
#include "keys.h"
#include "model.h"
#include "tui.h"
#include "widget.h"

/* Reaction flags: what the loop does after a key. */
#define R_NONE 0u
#define R_REDRAW 1u      /* draw again */
#define R_REFRESH 2u     /* take fresh snapshots now, then draw */
#define R_PUSH 4u        /* open screen tui.push_to on top */
#define R_POP 8u         /* back to the previous screen */
#define R_QUIT 16u       /* leave the console */
#define R_UNHANDLED 32u  /* the screen did not use the key: try the global actions */

enum screen_id {
    SCR_OVERVIEW, SCR_SESSIONS, SCR_DETAIL, SCR_LOG, SCR_HELP, SCR_EXPLAIN,
    SCR_USERS, SCR_ROLES, SCR_ACCESS, /* the editing screens 4, 5, 6 */
    SCR_COUNT
};

#define TUI_LOG_MAX 512  /* log lines fetched (the broker's ring size) */
#define TUI_STACK 8

struct tui;

struct screen_ops {
    const char *name;                               /* title bar */
    void (*enter)(struct tui *t);                   /* NULL = nothing */
    enum wd_err (*update)(struct tui *t);           /* fetch this screen's snapshots */
    void (*draw)(struct tui *t, int y, int h, int w); /* rows [y, y+h) */
    unsigned (*key)(struct tui *t, enum action a, int ch);
    const char *hints;                              /* function bar text */
};

extern const struct screen_ops scr_overview, scr_sessions, scr_detail, scr_log, scr_help;
extern const struct screen_ops scr_users, scr_roles, scr_access;
extern const struct screen_ops scr_explain;

#define TUI_AUDIT_MAX 200 /* audit entries fetched for the log screen */

/* Screen 8's form: one request to explain. */
struct explain_form {
    char client_id[PROMPT_MAX];
    char user[PROMPT_MAX];           /* "" = the client's own identity */
    char topic[PROMPT_MAX];
    int action;                      /* 0 publish, 1 subscribe, 2 receive */
    uint8_t qos;
    bool retain;
    int field;                       /* the selected field */
    bool asked;                      /* x holds an answer to the fields as they are */
    enum wd_err err;                 /* of the last ask */
    struct admin_explanation x;
};

/* Called with each prompt result when set (else the prompt is the session filter). */
typedef unsigned (*tui_prompt_fn)(struct tui *t, enum prompt_result r); /* returns R_* */

typedef void (*tui_confirm_fn)(struct tui *t, const char *arg);
/* A form was submitted: act on t->form; close it, or leave it open with form.error set. */
typedef void (*tui_form_fn)(struct tui *t);

struct tui {
    const struct tui_ops *ops;
    struct tui_info info;
    enum screen_id stack[TUI_STACK]; /* stack[depth-1] is shown */
    int depth;
    enum screen_id push_to;          /* for R_PUSH */
    bool utf8;                       /* the locale is UTF-8: block sparklines */

    struct admin_stats stats;        /* latest, valid when have_stats */
    bool have_stats;
    struct model_rates rates;
    struct admin_sessions sessions;  /* owned: the detail screen's session (0 or 1) */
    struct admin_idents idents;      /* owned: connected sessions per identity (users) */
    struct model model;              /* the sessions screen's window */
    char *detail_id;                 /* malloc'd: the session the detail screen shows */
    struct admin_subs subs;          /* owned: detail_id's subscriptions */
    enum wd_err subs_err;
    char (*log)[TUI_LOG_LINE];       /* malloc'd, TUI_LOG_MAX lines */
    size_t nlog;
    size_t log_back;                 /* lines scrolled back from the newest; 0 = follow */
    size_t help_top;
    struct admin_events flight;      /* owned: detail_id's flight recorder */
    int detail_top;                  /* detail screen: lines scrolled past */
    enum wd_err flight_err;
    struct admin_audits audit;       /* owned: recent audit entries (log screen) */
    enum wd_err audit_err;
    char log_filter[PROMPT_MAX];     /* log screen: case-insensitive substring, "" = all */
    int log_level;                   /* log screen: most verbose level shown, 0 error..4 debug */
    int log_source;                  /* log screen: 0 log and audit, 1 log only, 2 audit only */
    bool log_paused;                 /* log screen: not updated until unpaused */
    char (*log_view)[TUI_LOG_LINE];  /* malloc'd: log lines and audit entries merged by time */
    size_t nview;
    struct explain_form explain;
    tui_prompt_fn prompt_fn;

    char status[256];                /* status line message */
    bool status_err;
    struct prompt prompt;            /* text entry on the status line (filter) */
    bool confirming;                 /* a yes/no question is on the status line */
    char question[256];
    char confirm_arg[256];
    tui_confirm_fn confirm_yes;
    bool quit_confirmed;
    struct form form;                /* a modal form (editing screens), when form.active */
    tui_form_fn form_done;
    bool gone;                       /* the broker went away */
};

/* Put a message on the status line (err: an error, shown in bold). */
void tui_status(struct tui *t, bool err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ask a yes/no question; yes(t, arg) runs on 'y'. arg is copied. */
void tui_confirm(struct tui *t, const char *question, tui_confirm_fn yes, const char *arg);
/* Report a failed admin call on the status line (what: "disconnect"); notes WD_ECLOSED. */
void tui_fail(struct tui *t, const char *what, enum wd_err e);
/* Open screen 8 for client_id (identity user, may be NULL); returns R_PUSH. */
unsigned explain_open(struct tui *t, const char *client_id, const char *user);
/* Fetch the sessions screen's window into the model (around the selection). */
enum wd_err tui_refresh_sessions(struct tui *t);
/* Does the model's window miss rows the sessions screen shows (after a move, sort, filter)? */
bool tui_sessions_stale(const struct tui *t);
/* Fetch one session into t->sessions (0 or 1 rows: the detail screen). */
enum wd_err tui_refresh_session(struct tui *t, const char *client_id);
/* Fetch the connected sessions per identity into t->idents (the users screen's counts). */
enum wd_err tui_refresh_identities(struct tui *t);

#endif
