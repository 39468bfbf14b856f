/*
 * admin_client.h - the admin calls of admin.h, carried over the admin socket
 * (protocol in admin_sock.h) to a broker in another process: what `warden
 * console` attaches with. Results are the same owned snapshots as admin.h's,
 * freed with admin_sessions_free()/admin_subs_free().
 * Thread: one thread at a time per client (the console's).
 */
#ifndef WD_ADMIN_CLIENT_H
#define WD_ADMIN_CLIENT_H

#include <stddef.h>

#include "admin.h"
#include "err.h"

struct admin_client;

/* Connect to the socket at path. Returns owned: *out (admin_client_free). why says what failed. */
enum wd_err admin_client_open(const char *path, struct admin_client **out, char *why, size_t n);
void admin_client_free(struct admin_client *c);

/* Broker version, pid and listeners (copied, truncated to the sizes given). */
enum wd_err admin_client_hello(struct admin_client *c, char *version, size_t vn, long *pid,
                               char *listeners, size_t ln);
enum wd_err admin_client_sessions(struct admin_client *c, struct admin_sessions *out);
/* admin_identity_counts() over the socket (admin_idents_free). */
enum wd_err admin_client_identities(struct admin_client *c, struct admin_idents *out);
/* admin_session_get() over the socket (admin_session_clear). */
enum wd_err admin_client_session(struct admin_client *c, const char *client_id,
                                 struct admin_session *out);
/* admin_session_page() over the socket (admin_page_free). */
enum wd_err admin_client_page(struct admin_client *c, const struct admin_page_req *req,
                              struct admin_page *out);
enum wd_err admin_client_subs(struct admin_client *c, const char *client_id,
                              struct admin_subs *out);
enum wd_err admin_client_stats(struct admin_client *c, struct admin_stats *out);
enum wd_err admin_client_disconnect(struct admin_client *c, const char *client_id);
enum wd_err admin_client_shutdown(struct admin_client *c);
enum wd_err admin_client_flight(struct admin_client *c, const char *client_id,
                                struct admin_events *out);
/* Up to max (1..ADMIN_AUDIT_MAX) recent audit entries, oldest first (admin_audits_free). */
enum wd_err admin_client_audit(struct admin_client *c, size_t max, struct admin_audits *out);
enum wd_err admin_client_explain(struct admin_client *c, const struct admin_explain_req *req,
                                 struct admin_explanation *out);
/* Up to max recent log lines of line_size bytes each, oldest first; *n = lines. */
enum wd_err admin_client_log(struct admin_client *c, char *lines, size_t line_size, size_t max,
                             size_t *n);

/* admin_edit() over the socket, as the OS user of this process. *json: malloc'd. */
enum wd_err admin_client_edit(struct admin_client *c, int argc, const char *const *argv,
                              const char *password, char **json, int *status);

#endif
