/*
 * admin_sock.c - the admin interface on a UNIX socket, for attached consoles.
 *
 * One thread polls the listening socket, a wake-up pipe and up to
 * MAX_CONSOLES connections. A request is carried out with the admin.h call
 * (which waits for the broker thread) and the reply is written whole with a
 * send timeout; a console that stops reading is dropped. The broker thread
 * never waits for this thread. Record layouts are tables, shared by the
 * encoder here and the decoder in admin_client.c.
 */
#include "admin_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

#define MAX_CONSOLES 16
#define SEND_TIMEOUT_S 5

#define F(type, st, f, t) {#f, t, offsetof(type, f), sizeof(((type *)0)->f)}
#define SF(f, t) F(struct admin_session, s, f, t)
const struct admin_sock_field admin_sock_session_fields[] = {
    SF(client_id, ASF_STR),     SF(username, ASF_STR),      SF(addr, ASF_CHARS),
    SF(version, ASF_U8),        SF(connected, ASF_BOOL),    SF(keepalive, ASF_U16),
    SF(since, ASF_U64),         SF(msgs_in, ASF_U64),       SF(msgs_out, ASF_U64),
    SF(bytes_in, ASF_U64),      SF(bytes_out, ASF_U64),     SF(subscriptions, ASF_U32),
    SF(inflight, ASF_U32),      SF(queued, ASF_U32),        SF(expiry, ASF_U32),
    SF(auth_method, ASF_CHARS), SF(tls_version, ASF_CHARS), SF(tls_cipher, ASF_CHARS),
    SF(cert_subject, ASF_STR),  SF(cert_issuer, ASF_STR),   SF(cert_sans, ASF_STR),
    SF(cert_fingerprint, ASF_CHARS), SF(cert_not_after, ASF_I64), SF(roles, ASF_STR),
    SF(token_sub, ASF_STR),     SF(token_iss, ASF_STR),     SF(token_scope, ASF_STR),
    SF(token_exp, ASF_I64),
};
const size_t admin_sock_nsession_fields =
    sizeof admin_sock_session_fields / sizeof admin_sock_session_fields[0];

#define IF(f, t) F(struct admin_ident, s, f, t)
const struct admin_sock_field admin_sock_ident_fields[] = {
    IF(user, ASF_STR), IF(sessions, ASF_U32),
};
const size_t admin_sock_nident_fields =
    sizeof admin_sock_ident_fields / sizeof admin_sock_ident_fields[0];

#define BF(f, t) F(struct admin_sub, s, f, t)
const struct admin_sock_field admin_sock_sub_fields[] = {
    BF(filter, ASF_STR), BF(qos, ASF_U8), BF(no_local, ASF_BOOL),
    BF(retain_as_published, ASF_BOOL), BF(retain_handling, ASF_U8), BF(sub_id, ASF_U32),
};
const size_t admin_sock_nsub_fields =
    sizeof admin_sock_sub_fields / sizeof admin_sock_sub_fields[0];

#define TF(f, t) F(struct admin_stats, s, f, t)
const struct admin_sock_field admin_sock_stats_fields[] = {
    TF(uptime_s, ASF_U64),       TF(connections, ASF_U32),    TF(clients, ASF_U32),
    TF(peak_clients, ASF_U64),   TF(sessions, ASF_U64),       TF(subscriptions, ASF_U64),
    TF(retained, ASF_U64),       TF(msgs_received, ASF_U64),  TF(msgs_sent, ASF_U64),
    TF(bytes_received, ASF_U64), TF(bytes_sent, ASF_U64),     TF(msgs_dropped, ASF_U64),
    TF(connects_total, ASF_U64), TF(mem_in_use, ASF_U64),     TF(auth_failures, ASF_U64),
    TF(denials, ASF_U64),        TF(store_generation, ASF_U64), TF(store_bytes, ASF_U64),
};
const size_t admin_sock_nstats_fields =
    sizeof admin_sock_stats_fields / sizeof admin_sock_stats_fields[0];

#define EF(f, t) F(struct admin_event, s, f, t)
const struct admin_sock_field admin_sock_event_fields[] = {
    EF(ms, ASF_I64), EF(kind, ASF_CHARS), EF(text, ASF_STR),
};
const size_t admin_sock_nevent_fields =
    sizeof admin_sock_event_fields / sizeof admin_sock_event_fields[0];

#define AF(f, t) F(struct admin_audit, s, f, t)
const struct admin_sock_field admin_sock_audit_fields[] = {
    AF(seq, ASF_U64),    AF(time, ASF_I64),   AF(actor, ASF_STR),
    AF(action, ASF_STR), AF(target, ASF_STR), AF(result, ASF_STR),
};
const size_t admin_sock_naudit_fields =
    sizeof admin_sock_audit_fields / sizeof admin_sock_audit_fields[0];

#define XF(f, t) F(struct admin_explanation, s, f, t)
const struct admin_sock_field admin_sock_explain_fields[] = {
    XF(allow, ASF_BOOL),   XF(matched, ASF_BOOL), XF(granted, ASF_U8),   XF(user, ASF_CHARS),
    XF(list, ASF_CHARS),   XF(index, ASF_U32),    XF(rule, ASF_CHARS),   XF(reason, ASF_CHARS),
};
const size_t admin_sock_nexplain_fields =
    sizeof admin_sock_explain_fields / sizeof admin_sock_explain_fields[0];

/* ---- wire format ---- */

enum wd_err admin_sock_put_str(struct buf *b, const char *s)
{
    if (!s)
        return buf_append_u8(b, '%');
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        enum wd_err e;
        if (*p < 0x20 || *p == 0x7f || *p == '%') {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            e = buf_append(b, esc, 3);
        } else {
            e = buf_append_u8(b, *p);
        }
        if (e)
            return e;
    }
    return WD_OK;
}

enum wd_err admin_sock_encode(struct buf *b, const struct admin_sock_field *f, size_t nf,
                              const void *rec)
{
    const char *base = rec;
    for (size_t i = 0; i < nf; i++) {
        const void *p = base + f[i].off;
        char num[32];
        enum wd_err e = WD_OK;
        if (i && (e = buf_append_u8(b, '\t')))
            return e;
        switch (f[i].type) {
        case ASF_STR: e = admin_sock_put_str(b, *(char *const *)p); break;
        case ASF_CHARS: e = admin_sock_put_str(b, p); break;
        case ASF_U8: snprintf(num, sizeof num, "%u", *(const uint8_t *)p); goto number;
        case ASF_BOOL: snprintf(num, sizeof num, "%d", *(const bool *)p ? 1 : 0); goto number;
        case ASF_U16: snprintf(num, sizeof num, "%u", *(const uint16_t *)p); goto number;
        case ASF_U32: snprintf(num, sizeof num, "%u", *(const uint32_t *)p); goto number;
        case ASF_U64:
            snprintf(num, sizeof num, "%llu", (unsigned long long)*(const uint64_t *)p);
            goto number;
        case ASF_I64:
            snprintf(num, sizeof num, "%lld", (long long)*(const int64_t *)p);
        number:
            e = buf_append(b, num, strlen(num));
            break;
        }
        if (e)
            return e;
    }
    return buf_append_u8(b, '\n');
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool admin_sock_next(char **cur, char **out, bool *at_end)
{
    char *s = *cur;
    if (!s)
        return false;
    char *tab = strchr(s, '\t');
    if (tab) {
        *tab = '\0';
        *cur = tab + 1;
    } else {
        *cur = NULL;
    }
    if (at_end)
        *at_end = !tab;
    if (!strcmp(s, "%")) {
        *out = NULL;
        return true;
    }
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r != '%') {
            *w++ = *r;
            continue;
        }
        int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
        if (hi < 0 || lo < 0)
            return false;
        *w++ = (char)(hi << 4 | lo);
        r += 2;
    }
    *w = '\0';
    *out = s;
    return true;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

enum wd_err admin_sock_decode(char *line, const struct admin_sock_field *f, size_t nf, void *rec)
{
    char *base = rec;
    char *cur = line;
    for (size_t i = 0; i < nf; i++) {
        char *v;
        bool last;
        if (!admin_sock_next(&cur, &v, &last) || (last && i + 1 < nf))
            return WD_EMALFORMED;
        void *p = base + f[i].off;
        uint64_t u = 0;
        switch (f[i].type) {
        case ASF_STR:
            if (v && !(*(char **)p = wd_strdup(v)))
                return WD_ENOMEM;
            break;
        case ASF_CHARS:
            snprintf(p, f[i].size, "%s", v ? v : "");
            break;
        case ASF_U8:
        case ASF_BOOL:
            if (!parse_u64(v, UINT8_MAX, &u))
                return WD_EMALFORMED;
            if (f[i].type == ASF_BOOL)
                *(bool *)p = u != 0;
            else
                *(uint8_t *)p = (uint8_t)u;
            break;
        case ASF_U16:
            if (!parse_u64(v, UINT16_MAX, &u))
                return WD_EMALFORMED;
            *(uint16_t *)p = (uint16_t)u;
            break;
        case ASF_U32:
            if (!parse_u64(v, UINT32_MAX, &u))
                return WD_EMALFORMED;
            *(uint32_t *)p = (uint32_t)u;
            break;
        case ASF_U64:
            if (!parse_u64(v, UINT64_MAX, &u))
                return WD_EMALFORMED;
            *(uint64_t *)p = u;
            break;
        case ASF_I64: {
            if (!v || !*v)
                return WD_EMALFORMED;
            char *end;
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (errno || *end)
                return WD_EMALFORMED;
            *(int64_t *)p = x;
            break;
        }
        }
    }
    return WD_OK;
}

/* ---- the server ---- */

struct console {
    int fd;
    struct buf in;             /* bytes of a request line not yet complete */
    char who[96];              /* "alice (uid 1000, pid 4242)" */
    char user[64];             /* "alice", or "uid:1000": the actor of its edits */
};

struct admin_sock {
    struct admin *a;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int lfd;
    int wake[2];               /* admin_sock_free writes wake[1] */
    pthread_t thread;
    char version[32];
    char listeners[256];
    struct console c[MAX_CONSOLES];
    size_t n;
};

void admin_sock_path(const char *admin_socket, const char *store_dir, char *out, size_t n)
{
    if (admin_socket)
        snprintf(out, n, "%s", admin_socket);
    else
        snprintf(out, n, "%s/%s", store_dir, ADMIN_SOCK_NAME);
}

static enum wd_err send_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return WD_EIO;
        p += k;
        n -= (size_t)k;
    }
    return WD_OK;
}

static enum wd_err put_header(struct buf *b, size_t n)
{
    char h[32];
    int k = snprintf(h, sizeof h, "ok %zu\n", n);
    return buf_append(b, h, (size_t)k);
}

/* "explain CLIENT_ID ACTION TOPIC QOS RETAIN [USER]": the fields after the client id in rest. */
static enum wd_err serve_explain(struct admin_sock *s, char *client_id, char *rest,
                                 struct buf *out)
{
    char *action, *topic, *qos, *retain;
    uint64_t q, r;
    if (!admin_sock_next(&rest, &action, NULL) || !admin_sock_next(&rest, &topic, NULL) ||
        !admin_sock_next(&rest, &qos, NULL) || !admin_sock_next(&rest, &retain, NULL) ||
        !action || !topic || !parse_u64(qos, 2, &q) || !parse_u64(retain, 1, &r))
        return WD_EINVAL;
    char *user = NULL; /* optional sixth field: the identity the asker expects */
    if (rest && !admin_sock_next(&rest, &user, NULL))
        return WD_EINVAL;
    struct admin_explain_req req = {.client_id = client_id, .user = user, .action = action,
                                     .topic = topic, .qos = (uint8_t)q, .retain = r != 0};
    struct admin_explanation x;
    enum wd_err e = admin_explain(s->a, &req, &x);
    if (e || (e = put_header(out, 1)))
        return e;
    return admin_sock_encode(out, admin_sock_explain_fields, admin_sock_nexplain_fields, &x);
}

/*
 * "page SORT\tDESC\tOFFSET\tLIMIT\tFILTER\tFOLLOW" (FOLLOW "%": none): one window of
 * the session list. Reply: a record "TOTAL\tMATCHED\tOFFSET\tFOLLOW" (-1: not
 * followed), then the window's rows.
 */
static enum wd_err serve_page(struct admin_sock *s, char *sort, char *rest, struct buf *out)
{
    char *desc, *offset, *limit, *filter, *follow;
    uint64_t col, d, off, lim;
    if (!admin_sock_next(&rest, &desc, NULL) || !admin_sock_next(&rest, &offset, NULL) ||
        !admin_sock_next(&rest, &limit, NULL) || !admin_sock_next(&rest, &filter, NULL) ||
        !admin_sock_next(&rest, &follow, NULL) || !parse_u64(sort, ADMIN_NCOLS - 1, &col) ||
        !parse_u64(desc, 1, &d) || !parse_u64(offset, UINT32_MAX, &off) ||
        !parse_u64(limit, ADMIN_PAGE_MAX, &lim) || !filter || strlen(filter) >= ADMIN_FILTER_MAX)
        return WD_EINVAL;
    struct admin_page_req req = {.sort = (enum admin_col)col, .desc = d != 0, .filter = filter,
                                 .follow = follow, .offset = (size_t)off, .limit = (size_t)lim};
    struct admin_page pg;
    enum wd_err e = admin_session_page(s->a, &req, &pg);
    if (e)
        return e;
    char head[96];
    snprintf(head, sizeof head, "%zu\t%zu\t%zu\t%lld\n", pg.total, pg.matched, pg.offset,
             (long long)pg.follow);
    if (!(e = put_header(out, 1 + pg.rows.n)))
        e = buf_append(out, head, strlen(head));
    for (size_t i = 0; !e && i < pg.rows.n; i++)
        e = admin_sock_encode(out, admin_sock_session_fields, admin_sock_nsession_fields,
                              &pg.rows.v[i]);
    admin_page_free(&pg);
    return e;
}

/*
 * "edit PASSWORD\tWORD\t...": an identity command (admin_edit.c) as the OS user at
 * the other end. Reply: one record, the exit status and the command's JSON.
 */
static enum wd_err serve_edit(struct admin_sock *s, struct console *c, char *cur, struct buf *out)
{
    static const char *argv[ADMIN_EDIT_ARGS_MAX]; /* this thread only: too big for the stack */
    int argc = 0;
    char *password = NULL, *v;
    bool at_end = false;
    if (!admin_sock_next(&cur, &password, &at_end))
        return WD_EMALFORMED;
    while (!at_end) {
        if (argc == (int)(sizeof argv / sizeof argv[0]) || !admin_sock_next(&cur, &v, &at_end) ||
            !v)
            return WD_EMALFORMED;
        argv[argc++] = v;
    }
    char *json = NULL;
    int status = 1;
    enum wd_err e = admin_edit(s->a, c->user, argc, argv, password, &json, &status);
    if (password)
        explicit_bzero(password, strlen(password));
    if (e)
        return e;
    char num[8];
    snprintf(num, sizeof num, "%d", status);
    if (!(e = put_header(out, 1)) && !(e = admin_sock_put_str(out, num)) &&
        !(e = buf_append_u8(out, '\t')) && !(e = admin_sock_put_str(out, json)))
        e = buf_append_u8(out, '\n');
    free(json);
    return e;
}

/* Carry out one request line; the reply goes to out. */
static enum wd_err serve(struct admin_sock *s, struct console *c, char *line, struct buf *out)
{
    if (!strncmp(line, "edit ", 5))
        return serve_edit(s, c, line + 5, out);
    char *arg = strchr(line, ' ');
    char *rest = NULL; /* fields after the first, for verbs that take several */
    if (arg) {
        *arg++ = '\0';
        char *v;
        char *cur = arg;
        if (!admin_sock_next(&cur, &v, NULL) || !v)
            return WD_EMALFORMED;
        arg = v;
        rest = cur;
    }
    enum wd_err e;
    if (!strcmp(line, "hello")) {
        char pid[24];
        snprintf(pid, sizeof pid, "%ld", (long)getpid());
        if ((e = put_header(out, 1)) || (e = admin_sock_put_str(out, s->version)) ||
            (e = buf_append_u8(out, '\t')) || (e = admin_sock_put_str(out, pid)) ||
            (e = buf_append_u8(out, '\t')) || (e = admin_sock_put_str(out, s->listeners)))
            return e;
        return buf_append_u8(out, '\n');
    }
    if (!strcmp(line, "stats")) {
        struct admin_stats st;
        if ((e = admin_get_stats(s->a, &st)))
            return e;
        if ((e = put_header(out, 1)))
            return e;
        return admin_sock_encode(out, admin_sock_stats_fields, admin_sock_nstats_fields, &st);
    }
    if (!strcmp(line, "sessions")) {
        struct admin_sessions ss;
        if ((e = admin_list_sessions(s->a, &ss)))
            return e;
        e = put_header(out, ss.n);
        for (size_t i = 0; !e && i < ss.n; i++)
            e = admin_sock_encode(out, admin_sock_session_fields, admin_sock_nsession_fields,
                                  &ss.v[i]);
        admin_sessions_free(&ss);
        return e;
    }
    if (!strcmp(line, "identities")) {
        struct admin_idents id;
        if ((e = admin_identity_counts(s->a, &id)))
            return e;
        e = put_header(out, id.n);
        for (size_t i = 0; !e && i < id.n; i++)
            e = admin_sock_encode(out, admin_sock_ident_fields, admin_sock_nident_fields,
                                  &id.v[i]);
        admin_idents_free(&id);
        return e;
    }
    if (!strcmp(line, "session") && arg) {
        struct admin_session one;
        if ((e = admin_session_get(s->a, arg, &one)))
            return e;
        if (!(e = put_header(out, 1)))
            e = admin_sock_encode(out, admin_sock_session_fields, admin_sock_nsession_fields,
                                  &one);
        admin_session_clear(&one);
        return e;
    }
    if (!strcmp(line, "page") && arg && rest)
        return serve_page(s, arg, rest, out);
    if (!strcmp(line, "subs") && arg) {
        struct admin_subs sb;
        if ((e = admin_session_subs(s->a, arg, &sb)))
            return e;
        e = put_header(out, sb.n);
        for (size_t i = 0; !e && i < sb.n; i++)
            e = admin_sock_encode(out, admin_sock_sub_fields, admin_sock_nsub_fields, &sb.v[i]);
        admin_subs_free(&sb);
        return e;
    }
    if (!strcmp(line, "disconnect") && arg) {
        char id[128];
        log_notice("admin socket: %s disconnects client=%s", c->who,
                   log_clean(id, sizeof id, arg, strlen(arg)));
        if ((e = admin_disconnect(s->a, arg)))
            return e;
        return put_header(out, 0);
    }
    if (!strcmp(line, "shutdown")) {
        log_notice("admin socket: %s stops the broker", c->who);
        if ((e = admin_shutdown(s->a)))
            return e;
        return put_header(out, 0);
    }
    if (!strcmp(line, "flight") && arg) {
        struct admin_events ev;
        if ((e = admin_session_flight(s->a, arg, &ev)))
            return e;
        e = put_header(out, ev.n);
        for (size_t i = 0; !e && i < ev.n; i++)
            e = admin_sock_encode(out, admin_sock_event_fields, admin_sock_nevent_fields,
                                  &ev.v[i]);
        admin_events_free(&ev);
        return e;
    }
    if (!strcmp(line, "audit") && arg) {
        uint64_t max;
        struct admin_audits au;
        if (!parse_u64(arg, ADMIN_AUDIT_MAX, &max))
            return WD_EINVAL;
        if ((e = admin_audit_recent(s->a, (size_t)max, &au)))
            return e;
        e = put_header(out, au.n);
        for (size_t i = 0; !e && i < au.n; i++)
            e = admin_sock_encode(out, admin_sock_audit_fields, admin_sock_naudit_fields,
                                  &au.v[i]);
        admin_audits_free(&au);
        return e;
    }
    if (!strcmp(line, "explain") && arg)
        return serve_explain(s, arg, rest, out);
    if (!strcmp(line, "log") && arg) {
        uint64_t max;
        if (!parse_u64(arg, LOG_RING_LINES, &max))
            return WD_EINVAL;
        char (*lines)[LOG_LINE_MAX] = wd_malloc((max ? max : 1) * LOG_LINE_MAX);
        if (!lines)
            return WD_ENOMEM;
        size_t n = log_recent(lines, max);
        e = put_header(out, n);
        for (size_t i = 0; !e && i < n; i++) {
            if (!(e = admin_sock_put_str(out, lines[i])))
                e = buf_append_u8(out, '\n');
        }
        wd_free(lines);
        return e;
    }
    return WD_EINVAL;
}

static void drop(struct admin_sock *s, size_t i)
{
    log_info("admin socket: console of %s detached", s->c[i].who);
    close(s->c[i].fd);
    buf_fini(&s->c[i].in);
    s->c[i] = s->c[--s->n];
}

/* Read what c sent and answer each complete line. false: drop the console. */
static bool on_readable(struct admin_sock *s, struct console *c)
{
    if (buf_reserve(&c->in, 1024) != WD_OK)
        return false;
    ssize_t k = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
    if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
        return false;
    if (k < 0)
        return true;
    c->in.len += (size_t)k;
    for (;;) {
        uint8_t *head = buf_head(&c->in);
        uint8_t *nl = memchr(head, '\n', buf_used(&c->in));
        if (!nl)
            return buf_used(&c->in) <= ADMIN_SOCK_LINE_MAX;
        *nl = '\0';
        size_t used = (size_t)(nl - head) + 1;
        struct buf out;
        buf_init(&out);
        enum wd_err e = serve(s, c, (char *)head, &out);
        if (e != WD_OK) {
            buf_truncate(&out, 0);
            char msg[64];
            int m = snprintf(msg, sizeof msg, "err %s\n", wd_errname(e));
            e = buf_append(&out, msg, (size_t)m);
        }
        buf_consume(&c->in, used);
        if (e == WD_OK)
            e = send_all(c->fd, buf_head(&out), buf_used(&out));
        buf_fini(&out);
        if (e != WD_OK)
            return false;
    }
}

static void on_accept(struct admin_sock *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        log_warning("admin socket: SO_PEERCRED: %s", strerror(errno));
        close(fd);
        return;
    }
    char name[64] = "?";
    struct passwd pw, *res = NULL;
    char pwbuf[1024];
    if (getpwuid_r(cred.uid, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
        snprintf(name, sizeof name, "%s", res->pw_name);
    if (cred.uid != geteuid() && cred.uid != 0) {
        log_warning("admin socket: refusing %s (uid %u): not the broker's user", name,
                    (unsigned)cred.uid);
        close(fd);
        return;
    }
    if (s->n == MAX_CONSOLES) {
        log_warning("admin socket: refusing %s: %d consoles attached already", name,
                    MAX_CONSOLES);
        close(fd);
        return;
    }
    struct timeval tv = {.tv_sec = SEND_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct console *c = &s->c[s->n++];
    memset(c, 0, sizeof *c);
    c->fd = fd;
    buf_init(&c->in);
    if (res)
        snprintf(c->user, sizeof c->user, "%s", name); /* the audit actor of its changes */
    else
        snprintf(c->user, sizeof c->user, "uid:%u", (unsigned)cred.uid);
    snprintf(c->who, sizeof c->who, "%s (uid %u, pid %d)", name, (unsigned)cred.uid,
             (int)cred.pid);
    log_notice("admin socket: console attached by %s", c->who);
}

static void *run(void *arg)
{
    struct admin_sock *s = arg;
    struct pollfd p[2 + MAX_CONSOLES];
    for (;;) {
        p[0] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        p[1] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        size_t n = s->n;
        for (size_t i = 0; i < n; i++)
            p[2 + i] = (struct pollfd){.fd = s->c[i].fd, .events = POLLIN};
        if (poll(p, 2 + n, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("admin socket: poll: %s", strerror(errno));
            break;
        }
        if (p[0].revents)
            break;
        /* Consoles first, from the end: drop() moves the last one into the gap. */
        for (size_t i = n; i-- > 0;)
            if (p[2 + i].revents && !on_readable(s, &s->c[i]))
                drop(s, i);
        if (p[1].revents & POLLIN)
            on_accept(s);
    }
    return NULL;
}

/* Is someone listening on path? (Then it is not ours to remove.) */
static bool alive(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool yes = connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0;
    close(fd);
    return yes;
}

enum wd_err admin_sock_new(struct admin *a, const char *path, const char *version,
                           const char *listeners, struct admin_sock **out, char *why, size_t n)
{
    *out = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(why, n, "%s: path longer than %zu bytes", path, sizeof sa.sun_path - 1);
        return WD_ETOOLARGE;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(why, n, "%s exists and is not a socket", path);
            return WD_EEXIST;
        }
        if (alive(&sa)) {
            snprintf(why, n, "%s: another broker is serving it", path);
            return WD_EEXIST;
        }
        unlink(path);
    }
    struct admin_sock *s = wd_calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, n, "out of memory");
        return WD_ENOMEM;
    }
    s->a = a;
    s->lfd = -1;
    s->wake[0] = s->wake[1] = -1;
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(s->version, sizeof s->version, "%s", version);
    snprintf(s->listeners, sizeof s->listeners, "%s", listeners);
    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || pipe2(s->wake, O_CLOEXEC) < 0) {
        snprintf(why, n, "socket: %s", strerror(errno));
        goto fail;
    }
    /* Owner only from the start: umask covers the window between bind and chmod. */
    mode_t old = umask(0177);
    int rc = bind(s->lfd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || chmod(path, 0600) < 0 || listen(s->lfd, 8) < 0) {
        snprintf(why, n, "%s: %s", path, strerror(errno));
        if (rc == 0)
            unlink(path);
        goto fail;
    }
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        snprintf(why, n, "cannot start the admin socket thread");
        unlink(path);
        goto fail;
    }
    log_notice("admin socket on %s", path);
    *out = s;
    return WD_OK;
fail:
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    wd_free(s);
    return WD_EIO;
}

void admin_sock_free(struct admin_sock *s)
{
    if (!s)
        return;
    char x = 1;
    if (write(s->wake[1], &x, 1) < 0)
        log_warning("admin socket: wake: %s", strerror(errno));
    pthread_join(s->thread, NULL);
    while (s->n)
        drop(s, s->n - 1);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    unlink(s->path);
    wd_free(s);
}
