/*
 * model.h - the console's view-model: one window of the session list, sorted
 * and filtered by the broker (admin_session_page), with a selection kept by
 * key (the client id) across refreshes, and per-second rates computed from
 * successive stats snapshots.
 * Pure: no curses, no I/O, no globals; draw code reads it and never changes it.
 * Thread: console.
 */
#ifndef WD_TUI_MODEL_H
#define WD_TUI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin.h"

/* Session list columns, in display order: the sort keys. */
#define MODEL_COLUMNS(X)                          \
    X(COL_CLIENT, "Client id", 17)                \
    X(COL_IDENTITY, "Identity", 11)               \
    X(COL_AUTH, "Auth", 11)                       \
    X(COL_ADDR, "Address", 19)                    \
    X(COL_PROTO, "Proto", 5)                      \
    X(COL_TLS, "TLS", 7)                          \
    X(COL_SINCE, "Since", 7)                      \
    X(COL_IN, "Msgs in", 7)                       \
    X(COL_OUT, "Msgs out", 8)                     \
    X(COL_SUBS, "Subs", 5)                        \
    X(COL_INFLIGHT, "Infl", 5)                    \
    X(COL_QUEUED, "Queue", 5)

enum model_col {
#define MODEL_COL_ENUM(id, title, width) id,
    MODEL_COLUMNS(MODEL_COL_ENUM)
#undef MODEL_COL_ENUM
    MODEL_NCOLS
};
/* The broker sorts by the same columns (admin_col) in the same order. */
_Static_assert((int)COL_QUEUED == (int)ADMIN_COL_QUEUED && (int)MODEL_NCOLS == (int)ADMIN_NCOLS,
               "model and admin columns differ");

#define MODEL_FILTER_MAX ADMIN_FILTER_MAX

/*
 * The session list is paged: the broker filters and sorts, and the model holds
 * one window of the result (what the screen shows plus a screenful either
 * side). Row indexes (sel, top, model_row's i) count in the whole filtered,
 * sorted list; rows outside the window are not held. model_request() says
 * which window to ask for next, model_set_page() takes the answer.
 * The selection follows its client id across refreshes: the request names it
 * and the broker returns where it is now.
 */
struct model {
    struct admin_page page;      /* owned: page.rows.v[i] is row page.offset + i */
    const struct admin_sessions *snap; /* borrowed, or NULL: see model_set_sessions() */
    size_t nrows;                /* rows that pass the filter, in the whole list */
    size_t total;                /* sessions, filtered or not */
    enum model_col sort_col;     /* default COL_CLIENT */
    bool sort_desc;              /* descending order */
    char filter[MODEL_FILTER_MAX]; /* case-insensitive substring; "" = all */
    char *sel_key;               /* owned: client id of the selected row, NULL = none */
    size_t sel;                  /* selected row when nrows > 0 */
    size_t top;                  /* first row on screen */
    bool stale;                  /* sort or filter changed since the window was taken */
};

void model_init(struct model *m);
/* Free what m owns (not a snapshot it borrows). */
void model_fini(struct model *m);

/* The window to ask for when height rows are on screen: a screenful either side. */
void model_request(const struct model *m, size_t height, struct admin_page_req *req);
/*
 * Show the window p (taken: *p is zeroed, the model frees it). The selection
 * goes to the followed row; if it vanished, to the row now at the same
 * position (kept on screen at the same height). The key is kept with no rows.
 */
void model_set_page(struct model *m, struct admin_page *p);
/* Does the window miss rows the screen (height rows from top) shows, or is it stale? */
bool model_stale(const struct model *m, size_t height);

/*
 * Whole-list mode (tests, small lists): show snap, paged locally the same way
 * as the broker pages (admin_page_of, up to ADMIN_PAGE_MAX rows). Borrows: snap
 * until the next call or model_fini(); sort and filter changes re-page at once.
 */
enum wd_err model_set_sessions(struct model *m, const struct admin_sessions *snap);
/* Filter text (copied, truncated to MODEL_FILTER_MAX-1); marks the window stale. */
enum wd_err model_set_filter(struct model *m, const char *text);
/* Sort by col (desc: descending); marks the window stale, the selection kept by key. */
enum wd_err model_set_sort(struct model *m, enum model_col col, bool desc);
/* Move the selection by delta rows, clamped; past the window the key is forgotten
 * until the next page names the row there. */
void model_move(struct model *m, long delta);
/* Select the row with client id key; false (selection unchanged) if not in the window. */
bool model_select_key(struct model *m, const char *key);
/* The selected session, or NULL (no rows, or not in the window). Borrows: the window. */
const struct admin_session *model_selected(const struct model *m);
/* Row i of the list, or NULL when outside the window. Borrows: the window. */
const struct admin_session *model_row(const struct model *m, size_t i);
/* Adjust top so that the selection is visible in height rows. */
void model_scroll(struct model *m, size_t height);
/* Column title and width. */
const char *model_col_title(enum model_col c);
int model_col_width(enum model_col c);
/* Does s match filter text f (case-insensitive substring of id, identity, auth, address)? */
bool model_matches(const struct admin_session *s, const char *f);

/* ---- rates over successive stats snapshots ---- */

#define MODEL_HIST 600 /* one sample a second: ten minutes */

enum model_series {
    SER_MSGS_IN, SER_MSGS_OUT, SER_BYTES_IN, SER_BYTES_OUT,
    SER_CONNECTS,     /* successful CONNECTs: authentication successes */
    SER_AUTH_FAIL,    /* CONNECTs refused by authentication or identity policy */
    SER_DENIALS,      /* requests refused by topic rules */
    SER_N
};

struct model_rates {
    struct admin_stats last;     /* previous snapshot */
    uint64_t last_ms;            /* when it was taken (caller's monotonic clock) */
    bool have_last;
    double now[SER_N];           /* latest per-second rates */
    float hist[SER_N][MODEL_HIST]; /* ring of per-second rates */
    uint64_t delta[SER_N][MODEL_HIST]; /* the same samples as counter increments */
    uint64_t at_ms[MODEL_HIST];  /* when each sample was taken */
    size_t hist_n;               /* samples held, up to MODEL_HIST */
    size_t hist_next;            /* slot of the next sample */
};

void model_rates_init(struct model_rates *r);
/* Add a snapshot taken at now_ms; the first one only sets the baseline. */
void model_rates_push(struct model_rates *r, const struct admin_stats *s, uint64_t now_ms);
/*
 * Average the last n*per samples of series k into n buckets of per samples,
 * oldest first, into out. Returns the number of buckets filled (missing
 * history at the start is left out).
 */
size_t model_rates_buckets(const struct model_rates *r, enum model_series k, size_t per,
                           double *out, size_t n);
/*
 * How much counter k grew in the samples taken within window_ms of the
 * newest one (60000: "per minute"); less history counts what there is.
 */
uint64_t model_rates_window(const struct model_rates *r, enum model_series k, uint64_t window_ms);

#endif
