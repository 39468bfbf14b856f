/*
 * admin_sock.h - the admin interface served on a UNIX socket (mode 0600, in
 * the store directory unless `admin_socket` says otherwise) for `warden
 * console`; and the wire format that admin_client.c speaks.
 *
 * Protocol, version 1: text lines ending in '\n'.
 *   request  VERB [ARG]        ARG escaped as a field
 *   reply    "ok N" and N record lines, or "err NAME" (NAME from wd_errname)
 *   record   fields separated by TAB; in a field the bytes < 0x20, 0x7f and
 *            '%' are written %XX; a lone "%" is a NULL string
 *   verbs    hello                 -> 1 record: version, pid, listeners
 *            stats                 -> 1 record (admin_sock_stats_fields)
 *            sessions              -> N records (admin_sock_session_fields)
 *            session CLIENT_ID     -> 1 record (admin_sock_session_fields)
 *            identities            -> N records (admin_sock_ident_fields), by name
 *            page SORT DESC OFFSET LIMIT FILTER FOLLOW (fields, TAB-separated; FOLLOW
 *                                  may be NULL) -> 1 + N records: "TOTAL MATCHED OFFSET
 *                                  FOLLOW" (-1: none), then the window (session fields)
 *            subs CLIENT_ID        -> N records (admin_sock_sub_fields)
 *            disconnect CLIENT_ID  -> 0 records
 *            shutdown              -> 0 records
 *            log MAX               -> up to MAX records of one field: a log line
 *            flight CLIENT_ID      -> N records (admin_sock_event_fields), oldest first
 *            audit MAX             -> up to MAX records (admin_sock_audit_fields), oldest first
 *            explain CLIENT_ID ACTION TOPIC QOS RETAIN [USER] (fields, TAB-separated)
 *                                  -> 1 record (admin_sock_explain_fields)
 * The peer's OS user (SO_PEERCRED) is the actor: logged at attach and with
 * every change. Only the broker's own user and root may attach.
 * Thread: the server runs on its own thread and reaches the broker only
 * through admin.h calls, so a slow console never blocks the broker thread.
 */
#ifndef WD_ADMIN_SOCK_H
#define WD_ADMIN_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin.h"
#include "buf.h"
#include "err.h"

#define ADMIN_SOCK_NAME "admin.sock"  /* in the store directory */
#define ADMIN_SOCK_LINE_MAX 65536     /* longest request line (an edit preview lists rules) */

struct admin_sock;

/*
 * Serve a on the UNIX socket path (created 0600; a stale socket file is
 * replaced, a live one is an error). info_version and listeners are copied
 * for `hello`. Returns owned: *out, free with admin_sock_free(). On failure
 * why says what went wrong.
 */
enum wd_err admin_sock_new(struct admin *a, const char *path, const char *version,
                           const char *listeners, struct admin_sock **out, char *why, size_t n);
/* Stop the thread, close every console, remove the socket file. NULL is a no-op. */
void admin_sock_free(struct admin_sock *s);

/* The socket path for a configuration: admin_socket, else STORE_DIR/admin.sock. */
void admin_sock_path(const char *admin_socket, const char *store_dir, char *out, size_t n);

/* ---- wire format, shared with admin_client.c ---- */

enum admin_sock_type { ASF_STR, ASF_CHARS, ASF_U8, ASF_BOOL, ASF_U16, ASF_U32, ASF_U64, ASF_I64 };

struct admin_sock_field {
    const char *name;
    enum admin_sock_type type;
    size_t off;    /* offset in the record struct */
    size_t size;   /* ASF_CHARS: array size */
};

extern const struct admin_sock_field admin_sock_session_fields[];
extern const size_t admin_sock_nsession_fields;
extern const struct admin_sock_field admin_sock_ident_fields[];
extern const size_t admin_sock_nident_fields;
extern const struct admin_sock_field admin_sock_sub_fields[];
extern const size_t admin_sock_nsub_fields;
extern const struct admin_sock_field admin_sock_stats_fields[];
extern const size_t admin_sock_nstats_fields;
extern const struct admin_sock_field admin_sock_event_fields[];
extern const size_t admin_sock_nevent_fields;
extern const struct admin_sock_field admin_sock_audit_fields[];
extern const size_t admin_sock_naudit_fields;
extern const struct admin_sock_field admin_sock_explain_fields[];
extern const size_t admin_sock_nexplain_fields;

/* Append s escaped (NULL as a lone "%"). */
enum wd_err admin_sock_put_str(struct buf *b, const char *s);
/* Append rec's fields, TAB-separated, and a newline. */
enum wd_err admin_sock_encode(struct buf *b, const struct admin_sock_field *f, size_t nf,
                              const void *rec);
/*
 * Split the next TAB-separated field off *cur (NUL-terminated line, changed
 * in place) and unescape it. *out = NULL for the NULL marker. false when
 * there is no field left or the escaping is bad.
 */
bool admin_sock_next(char **cur, char **out, bool *at_end);
/*
 * Decode a record line into rec (zeroed by the caller). Strings are
 * wd_strdup'd (the record's free function releases them, also on failure).
 * WD_EMALFORMED when a field is missing or bad.
 */
enum wd_err admin_sock_decode(char *line, const struct admin_sock_field *f, size_t nf, void *rec);

#endif
