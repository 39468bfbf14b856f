/*
 * http.c - one HTTP/1.1 request per connection, parsed with http-parser
 * (its callbacks hand us pieces of the URL, header names and values and the
 * body, possibly split across reads: each piece is appended to a bounded
 * field). Everything received counts against HTTP_MAX_REQUEST, so a client
 * cannot make us hold more than that; the timer bounds how long it may take.
 * Answers are small JSON documents written through the connection's buffer.
 */
#include "http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_parser.h>

#include "auth.h"
#include "broker.h"
#include "buf.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "oauth.h"
#include "tls.h"

#define LINGER_MS 1000  /* after the answer: wait this long for the peer to close */
#define FIELD_MAX 1024  /* URL, Authorization and Content-Type each */

enum http_state { HS_HANDSHAKE, HS_READING, HS_HANDLING, HS_WRITING, HS_LINGER };

enum hdr { HDR_NONE, HDR_AUTHORIZATION, HDR_CONTENT_TYPE };

struct field {
    char s[FIELD_MAX + 1];
    size_t n;
    bool over;            /* longer than FIELD_MAX */
};

struct http_conn {
    struct loop_io io;
    struct loop_timer timer;
    struct listener *l;
    struct http_conn *next, *prev;
    struct tls_conn *tls;
    enum http_state state;
    bool counted;         /* auth_accept() counted it against its address */
    char addr[64];
    char ip[64];
    http_parser parser;
    size_t received;
    struct field url, auth, ctype;
    char hname[32];       /* the header name being read, truncated */
    size_t hnlen;
    enum hdr hdr;         /* which field the current header value goes to */
    bool in_value;
    bool dup_header;      /* Authorization or Content-Type given twice */
    char *body;           /* owned, NUL-terminated */
    size_t bodylen;
    bool complete;        /* on_message_complete seen */
    struct buf out;
    void *pending;        /* a handler's state while it waits (http_set_pending) */
    void (*pending_cancel)(void *);
    void (*pending_release)(void *);
};

static http_parser_settings settings;

static void on_io(struct loop_io *io, unsigned events);
static void on_timer(struct loop_timer *t);
static void flush(struct http_conn *c);

struct broker *http_broker(const struct http_conn *c)
{
    return c->l->b;
}

static void conn_free(struct http_conn *c)
{
    struct broker *b = c->l->b;
    if (c->pending && c->pending_cancel)
        c->pending_cancel(c->pending);
    if (c->pending && c->pending_release)
        c->pending_release(c->pending);
    if (c->counted)
        auth_release(b->auth, c->ip);
    loop_del(b->loop, &c->io);
    loop_timer_cancel(b->loop, &c->timer);
    tls_conn_free(c->tls);
    close(c->io.fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        b->http_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    b->nhttp--;
    buf_fini(&c->out);
    wd_free(c->body);
    wd_free(c);
}

/* ---- parsing ---- */

static int field_add(struct field *f, const char *at, size_t n)
{
    if (f->n + n > FIELD_MAX) {
        f->over = true;
        return 0;
    }
    memcpy(f->s + f->n, at, n);
    f->n += n;
    f->s[f->n] = '\0';
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    return field_add(&c->url, at, n);
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (c->in_value) { /* a new header begins */
        c->in_value = false;
        c->hnlen = 0;
    }
    size_t room = sizeof c->hname - 1 - c->hnlen;
    size_t k = n < room ? n : room;
    memcpy(c->hname + c->hnlen, at, k);
    c->hnlen += k;
    c->hname[c->hnlen] = '\0';
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (!c->in_value) { /* the first piece of this header's value */
        c->in_value = true;
        c->hdr = !strcasecmp(c->hname, "authorization")  ? HDR_AUTHORIZATION
                 : !strcasecmp(c->hname, "content-type") ? HDR_CONTENT_TYPE
                                                         : HDR_NONE;
        struct field *f = c->hdr == HDR_AUTHORIZATION ? &c->auth
                          : c->hdr == HDR_CONTENT_TYPE ? &c->ctype : NULL;
        if (f && (f->n || f->over))
            c->dup_header = true;
    }
    if (c->hdr == HDR_AUTHORIZATION)
        return field_add(&c->auth, at, n);
    if (c->hdr == HDR_CONTENT_TYPE)
        return field_add(&c->ctype, at, n);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    /* received bytes are bounded by HTTP_MAX_REQUEST, so the body is too */
    char *nb = wd_realloc(c->body, c->bodylen + n + 1);
    if (!nb)
        return 1;
    c->body = nb;
    memcpy(c->body + c->bodylen, at, n);
    c->bodylen += n;
    c->body[c->bodylen] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    c->complete = true;
    http_parser_pause(p, 1); /* one request per connection: ignore what follows */
    return 0;
}

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

void http_respond(struct http_conn *c, int status, const char *headers, const char *json)
{
    if (c->state == HS_WRITING || c->state == HS_LINGER)
        return;
    char head[512];
    size_t blen = strlen(json);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nPragma: no-cache\r\nConnection: close\r\n%s\r\n",
                     status, status_text(status), blen, headers ? headers : "");
    if (n < 0 || (size_t)n >= sizeof head || buf_append(&c->out, head, (size_t)n) != WD_OK ||
        buf_append(&c->out, json, blen) != WD_OK) {
        log_warning("http %s: cannot build the answer", c->addr);
        buf_truncate(&c->out, 0);
    }
    log_info("http %s: %d", c->addr, status);
    c->state = HS_WRITING;
    flush(c);
}

void http_set_pending(struct http_conn *c, void *state, void (*cancel)(void *),
                      void (*release)(void *))
{
    c->pending = state;
    c->pending_cancel = cancel;
    c->pending_release = release;
}

/* The request is whole: hand it to the handler (which answers now or later). */
static void dispatch(struct http_conn *c)
{
    if (c->url.over || c->auth.over || c->ctype.over) {
        http_respond(c, 413, NULL, "{\"error\":\"invalid_request\","
                                   "\"error_description\":\"a header is too long\"}");
        return;
    }
    if (c->dup_header) {
        http_respond(c, 400, NULL, "{\"error\":\"invalid_request\","
                                   "\"error_description\":\"a header is repeated\"}");
        return;
    }
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(c->url.s, c->url.n, 0, &u) != 0 || !(u.field_set & (1 << UF_PATH))) {
        http_respond(c, 400, NULL, "{\"error\":\"invalid_request\","
                                   "\"error_description\":\"bad request target\"}");
        return;
    }
    char *path = c->url.s + u.field_data[UF_PATH].off;
    path[u.field_data[UF_PATH].len] = '\0'; /* drops the query */
    struct http_request r = {
        .method = c->parser.method == HTTP_GET    ? HTTP_M_GET
                  : c->parser.method == HTTP_POST ? HTTP_M_POST
                                                  : HTTP_M_OTHER,
        .path = path,
        .authorization = c->auth.n ? c->auth.s : NULL,
        .content_type = c->ctype.n ? c->ctype.s : NULL,
        .body = c->body ? c->body : "",
        .bodylen = c->bodylen,
        .ip = c->ip,
    };
    c->state = HS_HANDLING;
    oauth_request(c, &r);
}

/* ---- I/O ---- */

static enum wd_err sock_recv(struct http_conn *c, char *p, size_t cap, size_t *n)
{
    if (c->tls)
        return tls_recv(c->tls, p, cap, n);
    ssize_t r = recv(c->io.fd, p, cap, 0);
    if (r > 0) {
        *n = (size_t)r;
        return WD_OK;
    }
    if (r == 0)
        return WD_ECLOSED;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? WD_EAGAIN : WD_EIO;
}

static enum wd_err sock_send(struct http_conn *c, const void *p, size_t len, size_t *n)
{
    if (c->tls)
        return tls_send(c->tls, p, len, n);
    ssize_t r = send(c->io.fd, p, len, MSG_NOSIGNAL);
    if (r >= 0) {
        *n = (size_t)r;
        return WD_OK;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? WD_EAGAIN : WD_EIO;
}

/* The answer is out: stop sending, and wait a little for the peer to close, so
 * that unread input does not turn our close into a reset that loses the answer. */
static void linger(struct http_conn *c)
{
    struct broker *b = c->l->b;
    tls_conn_free(c->tls); /* close_notify */
    c->tls = NULL;
    shutdown(c->io.fd, SHUT_WR);
    c->state = HS_LINGER;
    loop_set(b->loop, &c->io, LOOP_READABLE);
    loop_timer_arm(b->loop, &c->timer, LINGER_MS);
}

static void flush(struct http_conn *c)
{
    struct broker *b = c->l->b;
    while (buf_used(&c->out)) {
        size_t n = 0;
        enum wd_err e = sock_send(c, buf_head(&c->out), buf_used(&c->out), &n);
        if (e == WD_EAGAIN) {
            loop_set(b->loop, &c->io, LOOP_WRITABLE);
            return;
        }
        if (e != WD_OK) {
            conn_free(c);
            return;
        }
        buf_consume(&c->out, n);
    }
    linger(c);
}

static void read_request(struct http_conn *c)
{
    char tmp[2048];
    for (int round = 0; round < 8 && c->state == HS_READING; round++) {
        size_t n = 0;
        enum wd_err e = sock_recv(c, tmp, sizeof tmp, &n);
        if (e == WD_EAGAIN)
            return;
        if (e != WD_OK) {
            conn_free(c);
            return;
        }
        if (c->received + n > HTTP_MAX_REQUEST) {
            http_respond(c, 413, NULL, "{\"error\":\"invalid_request\","
                                       "\"error_description\":\"request too large\"}");
            return;
        }
        c->received += n;
        size_t used = http_parser_execute(&c->parser, &settings, tmp, n);
        enum http_errno he = HTTP_PARSER_ERRNO(&c->parser);
        if (c->complete) {
            dispatch(c);
            return;
        }
        if (he != HPE_OK || used != n) {
            log_info("http %s: malformed request: %s", c->addr, http_errno_description(he));
            http_respond(c, 400, NULL, "{\"error\":\"invalid_request\","
                                       "\"error_description\":\"malformed HTTP request\"}");
            return;
        }
    }
}

static void handshake(struct http_conn *c)
{
    struct broker *b = c->l->b;
    enum wd_err e = tls_handshake(c->tls);
    if (e == WD_EAGAIN) {
        loop_set(b->loop, &c->io, LOOP_READABLE | (tls_want_write(c->tls) ? LOOP_WRITABLE : 0));
        return;
    }
    if (e != WD_OK) {
        log_info("http %s: TLS handshake failed: %s", c->addr, tls_conn_error(c->tls));
        conn_free(c);
        return;
    }
    c->state = HS_READING;
    loop_set(b->loop, &c->io, LOOP_READABLE);
    read_request(c);
}

static void on_io(struct loop_io *io, unsigned events)
{
    struct http_conn *c = container_of(io, struct http_conn, io);
    switch (c->state) {
    case HS_HANDSHAKE:
        handshake(c);
        break;
    case HS_READING:
        read_request(c);
        break;
    case HS_HANDLING:
        break; /* waiting for the handler; input is ignored */
    case HS_WRITING:
        if (events & (LOOP_WRITABLE | LOOP_READABLE))
            flush(c);
        break;
    case HS_LINGER: {
        char tmp[512];
        ssize_t r = recv(c->io.fd, tmp, sizeof tmp, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            conn_free(c);
        break;
    }
    }
}

static void on_timer(struct loop_timer *t)
{
    struct http_conn *c = container_of(t, struct http_conn, timer);
    if (c->state == HS_READING || c->state == HS_HANDLING) {
        log_info("http %s: request not complete in time", c->addr);
        if (c->state == HS_HANDLING && c->pending && c->pending_cancel) {
            c->pending_cancel(c->pending);
            c->pending_cancel = NULL;
        }
        c->state = HS_READING; /* so that http_respond answers */
        http_respond(c, 408, NULL, "{\"error\":\"invalid_request\","
                                   "\"error_description\":\"request timeout\"}");
        return;
    }
    conn_free(c); /* handshake, a stuck write, or the linger is over */
}

void http_accept(struct listener *l, int fd, const char *addr)
{
    struct broker *b = l->b;
    if (b->nhttp >= HTTP_MAX_CONNS) {
        log_notice("http: refusing %s: %u HTTP connections open", addr, HTTP_MAX_CONNS);
        close(fd);
        return;
    }
    struct http_conn *c = wd_calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->l = l;
    c->io.fd = fd;
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    const char *ip;
    size_t iplen = broker_addr_ip(addr, &ip);
    snprintf(c->ip, sizeof c->ip, "%.*s", (int)iplen, ip);
    if (!settings.on_message_complete) {
        settings.on_url = on_url;
        settings.on_header_field = on_header_field;
        settings.on_header_value = on_header_value;
        settings.on_body = on_body;
        settings.on_message_complete = on_message_complete;
    }
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    buf_init(&c->out);
    loop_timer_init(&c->timer, on_timer);
    if (!auth_accept(b->auth, c->ip)) {
        log_info("http: refusing %s: too many connections from %s", addr, c->ip);
        close(fd);
        wd_free(c);
        return;
    }
    c->counted = true;
    c->state = HS_READING;
    if (l->tls) {
        c->state = HS_HANDSHAKE;
        if (!(c->tls = tls_conn_new(l->tls, fd))) {
            auth_release(b->auth, c->ip);
            close(fd);
            wd_free(c);
            return;
        }
    }
    if (loop_add(b->loop, &c->io, fd, LOOP_READABLE, on_io) != WD_OK) {
        auth_release(b->auth, c->ip);
        tls_conn_free(c->tls);
        close(fd);
        wd_free(c);
        return;
    }
    c->next = b->http_conns;
    if (c->next)
        c->next->prev = c;
    b->http_conns = c;
    b->nhttp++;
    loop_timer_arm(b->loop, &c->timer, HTTP_REQUEST_TIMEOUT_MS);
}

void http_free_all(struct broker *b)
{
    while (b->http_conns)
        conn_free(b->http_conns);
}
