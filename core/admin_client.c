/*
 * admin_client.c - client side of the admin socket: one request, one reply,
 * blocking, with a receive timeout so that a stuck broker shows as an error
 * in the console instead of a frozen screen. After any protocol error the
 * connection is closed and every later call returns WD_ECLOSED.
 */
#include "admin_client.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin_sock.h"
#include "buf.h"
#include "mem.h"

#define RECV_TIMEOUT_S 10
#define REPLY_LINE_MAX (1u << 20)

struct admin_client {
    int fd;                 /* -1 once broken */
    struct buf in;          /* reply bytes not yet consumed */
    size_t line_used;       /* bytes of the last returned line, consumed on the next read */
};

enum wd_err admin_client_open(const char *path, struct admin_client **out, char *why, size_t n)
{
    *out = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(why, n, "%s: path too long", path);
        return WD_ETOOLARGE;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, n, "socket: %s", strerror(errno));
        return WD_EIO;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        snprintf(why, n, "%s: %s", path, strerror(errno));
        close(fd);
        return errno == EACCES ? WD_EDENIED : WD_EIO;
    }
    struct timeval tv = {.tv_sec = RECV_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct admin_client *c = wd_calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        snprintf(why, n, "out of memory");
        return WD_ENOMEM;
    }
    c->fd = fd;
    buf_init(&c->in);
    *out = c;
    return WD_OK;
}

void admin_client_free(struct admin_client *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    buf_fini(&c->in);
    wd_free(c);
}

static enum wd_err broken(struct admin_client *c, enum wd_err e)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    return e == WD_ENOMEM ? e : WD_ECLOSED;
}

/* The next reply line, NUL-terminated. Borrows: until the next call. */
static enum wd_err read_line(struct admin_client *c, char **line)
{
    buf_consume(&c->in, c->line_used);
    c->line_used = 0;
    size_t scanned = 0;
    for (;;) {
        uint8_t *head = buf_head(&c->in);
        uint8_t *nl = buf_used(&c->in) > scanned
                          ? memchr(head + scanned, '\n', buf_used(&c->in) - scanned) : NULL;
        if (nl) {
            *nl = '\0';
            c->line_used = (size_t)(nl - head) + 1;
            *line = (char *)head;
            return WD_OK;
        }
        scanned = buf_used(&c->in);
        if (scanned > REPLY_LINE_MAX)
            return WD_ETOOLARGE;
        enum wd_err e = buf_reserve(&c->in, 64 * 1024);
        if (e)
            return e;
        ssize_t k = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return WD_ETIMEOUT;
        if (k <= 0)
            return WD_ECLOSED;
        c->in.len += (size_t)k;
    }
}

static enum wd_err error_by_name(const char *name)
{
    for (int e = 1; e < WD_ERR_COUNT; e++)
        if (!strcmp(wd_errname((enum wd_err)e), name))
            return (enum wd_err)e;
    return WD_EPROTOCOL;
}

/*
 * Send "verb [field TAB field ...]" (nf fields, each escaped) and read the
 * reply header: *count records follow. A server-side error comes back as
 * itself, with the connection still good.
 */
static enum wd_err request_fields(struct admin_client *c, const char *verb,
                                  const char *const *fields, size_t nf, size_t *count)
{
    if (c->fd < 0)
        return WD_ECLOSED;
    struct buf req;
    buf_init(&req);
    enum wd_err e = buf_append(&req, verb, strlen(verb));
    for (size_t i = 0; !e && i < nf; i++)
        if (!(e = buf_append_u8(&req, i ? '\t' : ' ')))
            e = admin_sock_put_str(&req, fields[i]);
    if (!e)
        e = buf_append_u8(&req, '\n');
    for (size_t off = 0; !e && off < buf_used(&req);) {
        ssize_t k = send(c->fd, buf_head(&req) + off, buf_used(&req) - off, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            e = WD_ECLOSED;
        else
            off += (size_t)k;
    }
    buf_fini(&req);
    if (e)
        return broken(c, e);
    char *line;
    if ((e = read_line(c, &line)))
        return broken(c, e);
    if (!strncmp(line, "err ", 4))
        return error_by_name(line + 4);
    char *end;
    if (strncmp(line, "ok ", 3) != 0)
        return broken(c, WD_EPROTOCOL);
    errno = 0;
    unsigned long long n = strtoull(line + 3, &end, 10);
    if (errno || *end || n > 10000000)
        return broken(c, WD_EPROTOCOL);
    *count = (size_t)n;
    return WD_OK;
}

/* request_fields() with no argument or one. */
static enum wd_err request(struct admin_client *c, const char *verb, const char *arg,
                           size_t *count)
{
    return request_fields(c, verb, &arg, arg ? 1 : 0, count);
}

enum wd_err admin_client_hello(struct admin_client *c, char *version, size_t vn, long *pid,
                               char *listeners, size_t ln)
{
    size_t n;
    enum wd_err e = request(c, "hello", NULL, &n);
    if (e)
        return e;
    char *line, *cur, *v, *p, *l;
    if (n != 1 || (e = read_line(c, &line)))
        return broken(c, e ? e : WD_EPROTOCOL);
    cur = line;
    if (!admin_sock_next(&cur, &v, NULL) || !admin_sock_next(&cur, &p, NULL) ||
        !admin_sock_next(&cur, &l, NULL) || !v || !p || !l)
        return broken(c, WD_EPROTOCOL);
    snprintf(version, vn, "%s", v);
    snprintf(listeners, ln, "%s", l);
    *pid = strtol(p, NULL, 10);
    return WD_OK;
}

/*
 * Read the n records of a list reply into a new array of n elements of size
 * bytes each, decoded with the field table f; the char * at key_off (the
 * record's key) must be present. out: *v (owned) and *got, the elements that
 * hold anything to free, also on failure (the caller frees them its way).
 */
static enum wd_err read_records(struct admin_client *c, size_t n, const struct admin_sock_field *f,
                                size_t nf, size_t size, size_t key_off, void **v, size_t *got)
{
    *got = 0;
    char *base = *v = wd_calloc(n ? n : 1, size);
    if (!base)
        return WD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char *line, *key;
        enum wd_err e = read_line(c, &line);
        if (e)
            return e;
        (*got)++; /* counted before decoding, so that a half-decoded row is freed */
        if ((e = admin_sock_decode(line, f, nf, base + i * size)))
            return e;
        memcpy(&key, base + i * size + key_off, sizeof key);
        if (!key)
            return WD_EMALFORMED;
    }
    return WD_OK;
}

enum wd_err admin_client_sessions(struct admin_client *c, struct admin_sessions *out)
{
    out->n = 0;
    out->v = NULL;
    size_t n;
    enum wd_err e = request(c, "sessions", NULL, &n);
    if (e)
        return e;
    e = read_records(c, n, admin_sock_session_fields, admin_sock_nsession_fields,
                     sizeof *out->v, offsetof(struct admin_session, client_id),
                     (void **)&out->v, &out->n);
    if (e) {
        admin_sessions_free(out);
        return broken(c, e);
    }
    return WD_OK;
}

enum wd_err admin_client_identities(struct admin_client *c, struct admin_idents *out)
{
    out->n = 0;
    out->v = NULL;
    size_t n;
    enum wd_err e = request(c, "identities", NULL, &n);
    if (e)
        return e;
    e = read_records(c, n, admin_sock_ident_fields, admin_sock_nident_fields, sizeof *out->v,
                     offsetof(struct admin_ident, user), (void **)&out->v, &out->n);
    if (e) {
        admin_idents_free(out);
        return broken(c, e);
    }
    return WD_OK;
}

enum wd_err admin_client_session(struct admin_client *c, const char *client_id,
                                 struct admin_session *out)
{
    memset(out, 0, sizeof *out);
    size_t n;
    enum wd_err e = request(c, "session", client_id, &n);
    if (e)
        return e;
    char *line;
    if (n != 1 || (e = read_line(c, &line)))
        return broken(c, e ? e : WD_EPROTOCOL);
    if ((e = admin_sock_decode(line, admin_sock_session_fields, admin_sock_nsession_fields,
                               out)) ||
        !out->client_id) {
        admin_session_clear(out);
        return broken(c, e ? e : WD_EPROTOCOL);
    }
    return WD_OK;
}

/* A decimal field of a page header, at most max; -1 allowed when neg. */
static bool header_num(char **cur, long long max, bool neg, long long *out)
{
    char *v, *end;
    if (!admin_sock_next(cur, &v, NULL) || !v || !*v)
        return false;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n > max || n < (neg ? -1 : 0))
        return false;
    *out = n;
    return true;
}

enum wd_err admin_client_page(struct admin_client *c, const struct admin_page_req *req,
                              struct admin_page *out)
{
    memset(out, 0, sizeof *out);
    out->follow = -1;
    char sort[8], desc[4], off[24], lim[24];
    snprintf(sort, sizeof sort, "%d", (int)req->sort);
    snprintf(desc, sizeof desc, "%d", req->desc ? 1 : 0);
    snprintf(off, sizeof off, "%zu", req->offset);
    snprintf(lim, sizeof lim, "%zu", req->limit);
    const char *f[] = {sort, desc, off, lim, req->filter ? req->filter : "", req->follow};
    size_t n;
    enum wd_err e = request_fields(c, "page", f, 6, &n);
    if (e)
        return e;
    char *line, *cur;
    long long total, matched, offset, follow;
    if (!n || (e = read_line(c, &line)))
        return broken(c, e ? e : WD_EPROTOCOL);
    cur = line;
    if (!header_num(&cur, 10000000, false, &total) ||
        !header_num(&cur, total, false, &matched) ||
        !header_num(&cur, matched, false, &offset) ||
        !header_num(&cur, matched - 1, true, &follow) || n - 1 > (size_t)(matched - offset))
        return broken(c, WD_EPROTOCOL);
    out->total = (size_t)total;
    out->matched = (size_t)matched;
    out->offset = (size_t)offset;
    out->follow = follow;
    e = read_records(c, n - 1, admin_sock_session_fields, admin_sock_nsession_fields,
                     sizeof *out->rows.v, offsetof(struct admin_session, client_id),
                     (void **)&out->rows.v, &out->rows.n);
    if (e) {
        admin_page_free(out);
        return broken(c, e);
    }
    return WD_OK;
}

enum wd_err admin_client_subs(struct admin_client *c, const char *client_id,
                              struct admin_subs *out)
{
    out->n = 0;
    out->v = NULL;
    size_t n;
    enum wd_err e = request(c, "subs", client_id, &n);
    if (e)
        return e;
    e = read_records(c, n, admin_sock_sub_fields, admin_sock_nsub_fields, sizeof *out->v,
                     offsetof(struct admin_sub, filter), (void **)&out->v, &out->n);
    if (e) {
        admin_subs_free(out);
        return broken(c, e);
    }
    return WD_OK;
}

enum wd_err admin_client_stats(struct admin_client *c, struct admin_stats *out)
{
    memset(out, 0, sizeof *out);
    size_t n;
    enum wd_err e = request(c, "stats", NULL, &n);
    if (e)
        return e;
    char *line;
    if (n != 1 || (e = read_line(c, &line)))
        return broken(c, e ? e : WD_EPROTOCOL);
    if ((e = admin_sock_decode(line, admin_sock_stats_fields, admin_sock_nstats_fields, out)))
        return broken(c, e);
    return WD_OK;
}

static enum wd_err no_records(struct admin_client *c, const char *verb, const char *arg)
{
    size_t n;
    enum wd_err e = request(c, verb, arg, &n);
    if (e)
        return e;
    return n ? broken(c, WD_EPROTOCOL) : WD_OK;
}

enum wd_err admin_client_disconnect(struct admin_client *c, const char *client_id)
{
    return no_records(c, "disconnect", client_id);
}

enum wd_err admin_client_shutdown(struct admin_client *c)
{
    return no_records(c, "shutdown", NULL);
}

enum wd_err admin_client_log(struct admin_client *c, char *lines, size_t line_size, size_t max,
                             size_t *count)
{
    *count = 0;
    char arg[24];
    snprintf(arg, sizeof arg, "%zu", max);
    size_t n;
    enum wd_err e = request(c, "log", arg, &n);
    if (e)
        return e;
    if (n > max)
        return broken(c, WD_EPROTOCOL);
    for (size_t i = 0; i < n; i++) {
        char *line, *cur, *v;
        if ((e = read_line(c, &line)))
            return broken(c, e);
        cur = line;
        if (!admin_sock_next(&cur, &v, NULL) || !v)
            return broken(c, WD_EPROTOCOL);
        snprintf(lines + i * line_size, line_size, "%s", v);
    }
    *count = n;
    return WD_OK;
}

enum wd_err admin_client_flight(struct admin_client *c, const char *client_id,
                                struct admin_events *out)
{
    out->n = 0;
    out->v = NULL;
    size_t n;
    enum wd_err e = request(c, "flight", client_id, &n);
    if (e)
        return e;
    e = read_records(c, n, admin_sock_event_fields, admin_sock_nevent_fields, sizeof *out->v,
                     offsetof(struct admin_event, text), (void **)&out->v, &out->n);
    if (e) {
        admin_events_free(out);
        return broken(c, e);
    }
    return WD_OK;
}

enum wd_err admin_client_audit(struct admin_client *c, size_t max, struct admin_audits *out)
{
    out->n = 0;
    out->v = NULL;
    char arg[24];
    snprintf(arg, sizeof arg, "%zu", max);
    size_t n;
    enum wd_err e = request(c, "audit", arg, &n);
    if (e)
        return e;
    if (n > max)
        return broken(c, WD_EPROTOCOL);
    e = read_records(c, n, admin_sock_audit_fields, admin_sock_naudit_fields, sizeof *out->v,
                     offsetof(struct admin_audit, action), (void **)&out->v, &out->n);
    if (e) {
        admin_audits_free(out);
        return broken(c, e);
    }
    return WD_OK;
}

enum wd_err admin_client_explain(struct admin_client *c, const struct admin_explain_req *req,
                                 struct admin_explanation *out)
{
    memset(out, 0, sizeof *out);
    char qos[4], retain[4];
    snprintf(qos, sizeof qos, "%u", req->qos);
    snprintf(retain, sizeof retain, "%d", req->retain ? 1 : 0);
    const char *f[] = {req->client_id, req->action, req->topic, qos, retain, req->user};
    size_t n;
    enum wd_err e = request_fields(c, "explain", f, sizeof f / sizeof f[0], &n);
    if (e)
        return e;
    char *line;
    if (n != 1 || (e = read_line(c, &line)))
        return broken(c, e ? e : WD_EPROTOCOL);
    if ((e = admin_sock_decode(line, admin_sock_explain_fields, admin_sock_nexplain_fields, out)))
        return broken(c, e);
    return WD_OK;
}

enum wd_err admin_client_edit(struct admin_client *c, int argc, const char *const *argv,
                              const char *password, char **json, int *status)
{
    *json = NULL;
    if (c->fd < 0)
        return WD_ECLOSED;
    /* The request is built here (several fields), then sent like request() does. */
    struct buf req;
    buf_init(&req);
    enum wd_err e = buf_append(&req, "edit ", 5);
    if (!e)
        e = admin_sock_put_str(&req, password);
    for (int i = 0; !e && i < argc; i++)
        if (!(e = buf_append_u8(&req, '\t')))
            e = admin_sock_put_str(&req, argv[i]);
    if (!e)
        e = buf_append_u8(&req, '\n');
    if (!e && buf_used(&req) > ADMIN_SOCK_LINE_MAX)
        e = WD_ETOOLARGE;
    for (size_t off = 0; !e && off < buf_used(&req);) {
        ssize_t k = send(c->fd, buf_head(&req) + off, buf_used(&req) - off, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            e = WD_ECLOSED;
        else
            off += (size_t)k;
    }
    explicit_bzero(buf_head(&req), buf_used(&req)); /* it held the password */
    buf_fini(&req);
    if (e == WD_ETOOLARGE)
        return e;
    if (e)
        return broken(c, e);
    char *line;
    if ((e = read_line(c, &line)))
        return broken(c, e);
    if (!strncmp(line, "err ", 4))
        return error_by_name(line + 4);
    if (strcmp(line, "ok 1") != 0)
        return broken(c, WD_EPROTOCOL);
    char *cur, *num, *text;
    if ((e = read_line(c, &line)))
        return broken(c, e);
    cur = line;
    if (!admin_sock_next(&cur, &num, NULL) || !num || !admin_sock_next(&cur, &text, NULL) || !text)
        return broken(c, WD_EPROTOCOL);
    *status = atoi(num);
    *json = strdup(text);
    return *json ? WD_OK : WD_ENOMEM;
}
