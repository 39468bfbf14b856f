/*
 * admin.h - the admin interface: the one way other threads (the console, the
 * admin socket, tests) look at and act on the broker.
 *
 * A call hands a request to the broker thread (queue + eventfd) and waits for
 * it to be carried out there; results come back as owned snapshots, plain
 * copies that never point into broker state. Thread: any thread except the
 * broker's own for the calls (called on the broker thread they run directly).
 */
#ifndef WD_ADMIN_H
#define WD_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

struct admin;
struct backend_ops;
struct broker;

struct admin_session {
    char *client_id;          /* owned */
    char *username;           /* owned, NULL when anonymous */
    char addr[64];            /* "" when offline */
    uint8_t version;          /* 3, 4, 5 */
    bool connected;
    uint16_t keepalive;       /* seconds */
    uint64_t since;           /* wall clock: connected since, or offline since */
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out; /* of the current connection */
    uint32_t subscriptions;
    uint32_t inflight;
    uint32_t queued;
    uint32_t expiry;          /* Session Expiry Interval, UINT32_MAX = never */
    char auth_method[16];     /* "anonymous", "password", "certificate", "token"; "" offline */
    /* Access token of a "token" session (NULL / 0 otherwise). */
    char *token_sub;          /* owned */
    char *token_iss;          /* owned */
    char *token_scope;        /* owned; NULL: no scope claim (the user's rules) */
    int64_t token_exp;        /* seconds since the epoch: the session ends then */
    /* TLS, when connected over a TLS listener ("" / NULL / 0 otherwise). */
    char tls_version[16];     /* "TLSv1.3" */
    char tls_cipher[64];
    char *cert_subject;       /* owned, RFC 2253; NULL without a client certificate */
    char *cert_issuer;        /* owned */
    char *cert_sans;          /* owned: "DNS:a, URI:b, email:c" */
    char cert_fingerprint[65]; /* SHA-256, hex */
    int64_t cert_not_after;   /* expiry, seconds since the epoch */
    char *roles;              /* owned: effective rule lists in order, "user a, role ops,
                                 role default"; NULL without permissions */
};

struct admin_sessions {
    size_t n;
    struct admin_session *v;  /* owned array */
};

struct admin_sub {
    char *filter;             /* owned: as subscribed, with any $share/G/ */
    uint8_t qos;
    bool no_local;
    bool retain_as_published;
    uint8_t retain_handling;
    uint32_t sub_id;
};

struct admin_subs {
    size_t n;
    struct admin_sub *v;      /* owned array */
};

struct admin_stats {
    uint64_t uptime_s;
    uint32_t connections;     /* sockets open */
    uint32_t clients;         /* connected past CONNACK */
    uint64_t peak_clients;
    uint64_t sessions;        /* connected + offline persistent */
    uint64_t subscriptions;
    uint64_t retained;
    uint64_t msgs_received, msgs_sent, bytes_received, bytes_sent, msgs_dropped;
    uint64_t connects_total;
    uint64_t mem_in_use;      /* bytes allocated through mem.c */
    uint64_t auth_failures;   /* CONNECTs refused by authentication or identity policy */
    uint64_t denials;         /* publishes, subscribes, deliveries refused by topic rules */
    uint64_t store_generation; /* the store's generation counter (0: no store) */
    uint64_t store_bytes;     /* store file bytes in use (0: no store) */
};

/* One flight recorder event of a session (flight.h). */
struct admin_event {
    int64_t ms;               /* wall clock, milliseconds since the epoch */
    char kind[16];            /* "connect", "subscribe", "deny", ... */
    char *text;               /* owned */
};

struct admin_events {
    size_t n;
    struct admin_event *v;    /* owned array, oldest first */
};

/* One audit entry of the store. */
struct admin_audit {
    uint64_t seq;
    int64_t time;             /* Unix seconds */
    char *actor, *action, *target, *result; /* owned */
};

struct admin_audits {
    size_t n;
    struct admin_audit *v;    /* owned array, oldest first */
};

/*
 * Create the interface for b (called by broker_new on the broker thread).
 * ops: the store (copied; NULL: none), read by admin_audit_recent and for the
 * store fields of admin_get_stats on the calling thread. NULL on failure.
 */
struct admin *admin_new(struct broker *b, const struct backend_ops *ops);
/* The broker loop has ended: fail every pending and later call with WD_ECLOSED. */
void admin_close(struct admin *a);
/* admin_close(), then free. */
void admin_free(struct admin *a);

/* Record the calling thread as the broker thread (broker_run does this). */
void admin_attach_thread(struct admin *a);

/* The admin interface of a broker. */
struct admin *admin_of(struct broker *b);

/* Returns owned: *out filled, free with admin_sessions_free(). */
enum wd_err admin_list_sessions(struct admin *a, struct admin_sessions *out);
void admin_sessions_free(struct admin_sessions *s);

/* Connected sessions of one identity (the users screen's live counts). */
struct admin_ident {
    char *user;               /* owned */
    uint32_t sessions;        /* connected sessions with this identity */
};

struct admin_idents {
    size_t n;
    struct admin_ident *v;    /* owned array, by name */
};

/* Every identity with connected sessions, and how many: one row per identity,
 * not per session. Returns owned: free with admin_idents_free(). */
enum wd_err admin_identity_counts(struct admin *a, struct admin_idents *out);
void admin_idents_free(struct admin_idents *s);

/* One session by client id (the detail screen): a lookup, not a list. WD_ENOTFOUND
 * when there is no such session. Returns owned: free with admin_session_clear(). */
enum wd_err admin_session_get(struct admin *a, const char *client_id, struct admin_session *out);
/* Free what one row owns (the row itself is not freed) and zero it. */
void admin_session_clear(struct admin_session *s);

/* ---- one window of the session list (admin_page.c): what the console shows ---- */

/* The session list's columns, in the console's order: the sort keys. */
enum admin_col {
    ADMIN_COL_CLIENT, ADMIN_COL_IDENTITY, ADMIN_COL_AUTH, ADMIN_COL_ADDR, ADMIN_COL_PROTO,
    ADMIN_COL_TLS, ADMIN_COL_SINCE, ADMIN_COL_IN, ADMIN_COL_OUT, ADMIN_COL_SUBS,
    ADMIN_COL_INFLIGHT, ADMIN_COL_QUEUED, ADMIN_NCOLS
};

#define ADMIN_PAGE_MAX 1000    /* rows in one window */
#define ADMIN_FILTER_MAX 128   /* bytes of filter text, with the NUL */

struct admin_page_req {
    enum admin_col sort;       /* ties are broken by client id */
    bool desc;                 /* descending (the whole order reversed) */
    const char *filter;        /* NULL or "": all; else a case-insensitive substring of the
                                  client id, identity, auth method or address */
    const char *follow;        /* NULL, or the client id of a row to keep in the window */
    size_t offset;             /* wanted index of the window's first row (clamped) */
    size_t limit;              /* rows wanted, 0..ADMIN_PAGE_MAX */
};

struct admin_page {
    size_t total;              /* sessions */
    size_t matched;            /* sessions that pass the filter */
    size_t offset;             /* index of rows.v[0] in the filtered, sorted list */
    int64_t follow;            /* index of the followed row in that list; -1: not in it */
    struct admin_sessions rows; /* the window: at most limit rows from offset */
};

/*
 * Filter and sort the sessions on the broker thread and copy one window: O(n log n)
 * over a temporary index array, only the window's rows are copied. offset is clamped
 * so that the window is full when enough rows match; when the followed row is in the
 * list but outside [offset, offset+limit) the window is centred on it instead.
 * WD_EINVAL: bad column or limit. Returns owned: free with admin_page_free().
 */
enum wd_err admin_session_page(struct admin *a, const struct admin_page_req *req,
                               struct admin_page *out);
void admin_page_free(struct admin_page *p);

/* How a row type gives its columns to admin_page_select(). */
struct admin_page_keys {
    const char *(*text)(const void *row, enum admin_col c); /* client id, identity, auth,
                                                               address, TLS; never NULL */
    uint64_t (*num)(const void *row, enum admin_col c);     /* the numeric columns */
};

/*
 * The algorithm of admin_session_page() over any rows: moves the rows that pass
 * the filter to the front of rows (n borrowed pointers), sorts them and fills
 * out's counts, offset and follow (not its rows); *count: rows in the window,
 * from rows[out->offset]. Pure, no allocation.
 */
void admin_page_select(const void **rows, size_t n, const struct admin_page_keys *k,
                       const struct admin_page_req *req, struct admin_page *out, size_t *count);

/* The columns of struct admin_session (for admin_page_matches()). */
extern const struct admin_page_keys admin_session_keys;
/* admin_session_page() over a snapshot (tests, and consoles given a whole list). */
enum wd_err admin_page_of(const struct admin_sessions *all, const struct admin_page_req *req,
                          struct admin_page *out);
/* Deep copy of one row (dst zeroed first). On WD_ENOMEM free dst as a row of a snapshot. */
enum wd_err admin_session_copy(struct admin_session *dst, const struct admin_session *src);
/* Does text f (case-insensitive substring; "" matches) match the row's filter columns? */
bool admin_page_matches(const void *row, const struct admin_page_keys *k, const char *f);

/* One session's subscriptions. WD_ENOTFOUND for an unknown client id. */
enum wd_err admin_session_subs(struct admin *a, const char *client_id, struct admin_subs *out);
void admin_subs_free(struct admin_subs *s);

/* Counters; the store fields are read on the calling thread, off the broker's. */
enum wd_err admin_get_stats(struct admin *a, struct admin_stats *out);

/* A session's flight recorder, oldest first. WD_ENOTFOUND for an unknown client id.
 * Returns owned: free with admin_events_free(). */
enum wd_err admin_session_flight(struct admin *a, const char *client_id, struct admin_events *out);
void admin_events_free(struct admin_events *e);

/*
 * The last max (1..ADMIN_AUDIT_MAX) audit entries of the store, oldest first,
 * read through the backend on the calling thread (never the broker's).
 * WD_ENOTFOUND without a store. Returns owned: free with admin_audits_free().
 */
#define ADMIN_AUDIT_MAX 1000
enum wd_err admin_audit_recent(struct admin *a, size_t max, struct admin_audits *out);
void admin_audits_free(struct admin_audits *e);

/* Disconnect a connected client (5.0: DISCONNECT 0x98 Administrative action; the
 * will is sent). WD_ENOTFOUND if no such client is connected. */
enum wd_err admin_disconnect(struct admin *a, const char *client_id);

/* Stop the broker as SIGTERM does. */
enum wd_err admin_shutdown(struct admin *a);

/* admin_explain(): one request of a connected client, as `warden acl explain` takes it. */
struct admin_explain_req {
    const char *client_id;    /* the connected client whose live permissions are asked */
    const char *user;         /* NULL, or must be that client's identity (else WD_EINVAL) */
    const char *cn;           /* NULL, or must be its certificate identity */
    const char *action;       /* "publish", "subscribe" or "receive" */
    const char *topic;        /* a topic name; subscribe: a filter ($share/G/ allowed) */
    uint8_t qos;              /* 0..2: the publish's QoS or the requested subscription QoS */
    bool retain;              /* a retained publish */
};

struct admin_explanation {
    bool allow;               /* the verdict */
    bool matched;             /* a rule decided; false: nothing matched (the default) */
    uint8_t granted;          /* subscribe: the QoS that would be granted */
    char user[128];           /* the session's identity, "" for an anonymous client */
    char list[160];           /* where the rule is: "user alice", "role ops", "role default" */
    uint32_t index;           /* 1-based rule number in that list */
    char rule[1200];          /* the rule after substitution: "deny publish plant/valves/#" */
    char reason[200];         /* one sentence: why that verdict */
};

/*
 * Explain a request with the live permissions of a connected client (the
 * broker's cache of the store, as of the last refresh). out: filled.
 * WD_OK, WD_ENOTFOUND (no such client connected), WD_EINVAL (bad action,
 * topic, QoS, or another identity than the client's).
 */
enum wd_err admin_explain(struct admin *a, const struct admin_explain_req *req,
                          struct admin_explanation *out);

/* The commands, as data: name and help, for the CLI, socket and console. */
struct admin_command {
    const char *name;
    const char *args;
    const char *help;
};
extern const struct admin_command admin_commands[];
extern const size_t admin_ncommands;

/* ---- identity edits (admin_edit.c): users, roles, rules, bindings, bans ---- */

struct backend_ops;
struct config;
struct store;

/* Words in one admin_edit() call: a preview of up to 256 rules fits. */
#define ADMIN_EDIT_ARGS_MAX (3 + 5 * 256)

/* Runs one `warden` command in this process: cli_exec() in cli.h (main.c wires it, so
 * that core, and its tests, do not link the admin commands). */
typedef int (*admin_exec_fn)(struct store *st, const struct config *cfg, const char *actor,
                             const char *password, int argc, char **argv, FILE *out);

/* Wire the edits to the broker's open store (main.c, before any console or socket). */
void admin_edit_setup(admin_exec_fn exec, struct store *st, const struct config *cfg,
                      const struct backend_ops *ops);

/* The OS user running this process: the actor of the embedded console. */
void admin_self_actor(char *out, size_t n);

/*
 * Run one identity command as actor, on the calling thread (never the
 * broker's: it writes the store and may hash a password). argv is what
 * follows `warden`: {"user", "add", "bob", "--role", "ops"}; the groups
 * user, role, client, ban and `acl explain` only. The change is the command's
 * own transaction (same checks, generation bump, audit entry with actor).
 * password stands for the typed password of user add/passwd (NULL: give
 * --generate-password or --no-password). argv {"preview", "user"|"role",
 * NAME, then per proposed rule: effect actions filter qos retain(0|1)}
 * answers which live subscriptions that rule list would remove:
 * {"ok":true,"sessions":N,"lost":[{"client","user","filter"}]}.
 * *json: malloc'd reply (the command's --json output, {"ok":false,"error":..}
 * on failure); *status: its exit status (0 = done). Returns WD_OK when the
 * command ran (failed or not), WD_EINVAL (no or too many words), WD_ENOMEM,
 * WD_ECLOSED (no store wired).
 */
enum wd_err admin_edit(struct admin *a, const char *actor, int argc, const char *const *argv,
                       const char *password, char **json, int *status);

#endif
