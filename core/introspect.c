/*
 * introspect.c - RFC 7662 token introspection (see introspect.h).
 *
 * One call is one TLS connection: resolve, non-blocking connect, handshake,
 * one POST with "Connection: close", read until the answer is complete or
 * the peer closes. Every wait is a poll() on the time left of one deadline,
 * so a stalled service costs a worker at most introspect_timeout. The
 * answer is bounded (INTROSPECT_MAX_RESPONSE) before it is parsed.
 *
 * The cache holds active answers only (an inactive token may become active;
 * a failure must be asked again), keyed by BLAKE2b under a per-process random
 * key of (issuer name, client id, token): a memory dump does not give the
 * tokens back. Fixed size: a flood of fresh tokens evicts, it cannot grow it.
 */
#include "introspect.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>
#include <sodium.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "mem.h"

#define SYSTEM_CAS "/etc/ssl/certs/ca-certificates.crt"
#define CACHE_SLOTS 1024  /* power of two */
#define CACHE_PROBE 8

void introspect_answer_fini(struct introspect_answer *a)
{
    wd_free(a->sub);
    wd_free(a->scope);
    wd_free(a->client_id);
    wd_free(a->iss);
    wd_free(a->aud);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- URL */

enum wd_err introspect_parse_url(const char *url, char host[INTROSPECT_HOST_MAX],
                                 uint16_t *port, char path[INTROSPECT_PATH_MAX])
{
    if (strncmp(url, "https://", 8) != 0)
        return WD_EINVAL;
    const char *h = url + 8, *end = h + strcspn(h, "/?#");
    if (strchr(url, '#') || memchr(h, '@', (size_t)(end - h)))
        return WD_EINVAL;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return WD_EINVAL;
    const char *hend, *colon = NULL;
    if (*h == '[') {
        hend = memchr(h, ']', (size_t)(end - h));
        if (!hend)
            return WD_EINVAL;
        if (hend + 1 < end && hend[1] != ':')
            return WD_EINVAL;
        colon = hend + 1 < end ? hend + 1 : NULL;
        h++;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        hend = colon ? colon : end;
    }
    size_t hl = (size_t)(hend - h);
    if (!hl || hl >= INTROSPECT_HOST_MAX)
        return WD_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = 443;
    if (colon) {
        unsigned long v = 0;
        const char *p = colon + 1;
        if (p == end || end - p > 5)
            return WD_EINVAL;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9')
                return WD_EINVAL;
            v = v * 10 + (unsigned long)(*p - '0');
        }
        if (!v || v > 65535)
            return WD_EINVAL;
        *port = (uint16_t)v;
    }
    const char *rest = *end ? end : "/";
    if (*rest == '?') {
        if (strlen(rest) + 2 > INTROSPECT_PATH_MAX)
            return WD_EINVAL;
        snprintf(path, INTROSPECT_PATH_MAX, "/%s", rest);
        return WD_OK;
    }
    if (strlen(rest) + 1 > INTROSPECT_PATH_MAX)
        return WD_EINVAL;
    snprintf(path, INTROSPECT_PATH_MAX, "%s", rest);
    return WD_OK;
}

/* ---------------------------------------------------------------- answer */

struct resp {
    char *body;         /* owned: the body's pieces joined (chunked ones are apart) */
    size_t body_len, cap;
    bool done;          /* message complete */
};

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct resp *r = p->data;
    if (n > r->cap - r->body_len)
        return 1; /* cannot happen: the body is never longer than the response */
    memcpy(r->body + r->body_len, at, n);
    r->body_len += n;
    return 0;
}

static int on_complete(http_parser *p)
{
    ((struct resp *)p->data)->done = true;
    return 0;
}

/* A string claim into *out (absent or null: stays NULL). */
static bool claim_str(json_t *o, const char *name, char **out)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v))
        return false;
    *out = wd_strndup(json_string_value(v), json_string_length(v));
    return *out && strlen(*out) == json_string_length(v); /* no NUL inside */
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static enum wd_err fail(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return WD_EIO;
}

static enum wd_err parse_claims(const char *body, size_t len, struct introspect_answer *a,
                                char *why, size_t n)
{
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return fail(why, n, "introspection answer is not a JSON object");
    }
    enum wd_err e = WD_OK;
    json_t *act = json_object_get(o, "active"), *exp = json_object_get(o, "exp");
    json_t *aud = json_object_get(o, "aud");
    if (!json_is_boolean(act)) {
        e = fail(why, n, "introspection answer has no boolean \"active\"");
        goto done;
    }
    a->active = json_is_true(act);
    if (!a->active)
        goto done; /* RFC 7662 2.2: nothing else of an inactive answer counts */
    if (!claim_str(o, "sub", &a->sub) || !claim_str(o, "scope", &a->scope) ||
        !claim_str(o, "client_id", &a->client_id) || !claim_str(o, "iss", &a->iss)) {
        e = fail(why, n, "introspection answer: sub, scope, client_id or iss is not a string");
        goto done;
    }
    if (exp && !json_is_null(exp)) {
        double d = json_number_value(exp);
        if (!json_is_number(exp) || d < 1 || d > 253402300799.0) {
            e = fail(why, n, "introspection answer: exp is not a time");
            goto done;
        }
        a->exp = (int64_t)d;
    }
    if (aud && !json_is_null(aud)) {
        json_t *list = json_is_array(aud) ? aud : NULL;
        size_t count = list ? json_array_size(list) : 1, total = 1;
        for (size_t i = 0; i < count; i++) {
            json_t *v = list ? json_array_get(list, i) : aud;
            if (!json_is_string(v) || strchr(json_string_value(v), '\n')) {
                e = fail(why, n, "introspection answer: aud is not a string or a list of them");
                goto done;
            }
            total += json_string_length(v) + 1;
        }
        if (!(a->aud = wd_malloc(total))) {
            e = WD_ENOMEM;
            goto done;
        }
        a->aud[0] = '\0';
        for (size_t i = 0; i < count; i++) {
            json_t *v = list ? json_array_get(list, i) : aud;
            if (i)
                strcat(a->aud, "\n");
            strcat(a->aud, json_string_value(v));
        }
    }
done:
    json_decref(o);
    if (e != WD_OK)
        introspect_answer_fini(a);
    return e;
}

enum wd_err introspect_parse_response(const char *buf, size_t len, bool complete,
                                      struct introspect_answer *a, char *why, size_t n)
{
    memset(a, 0, sizeof *a);
    why[0] = '\0';
    if (len > INTROSPECT_MAX_RESPONSE) {
        snprintf(why, n, "introspection answer larger than %d bytes", INTROSPECT_MAX_RESPONSE);
        return WD_ETOOLARGE;
    }
    struct resp r = {wd_malloc(len + 1), 0, len, false};
    if (!r.body)
        return WD_ENOMEM;
    http_parser p;
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = &r;
    http_parser_settings s = {0};
    s.on_body = on_body;
    s.on_message_complete = on_complete;
    size_t used = http_parser_execute(&p, &s, buf, len);
    enum wd_err e = WD_OK;
    if (HTTP_PARSER_ERRNO(&p) != HPE_OK && !r.done) {
        e = fail(why, n, "introspection answer is not HTTP (%s)",
                 http_errno_name(HTTP_PARSER_ERRNO(&p)));
        goto done;
    }
    if (!r.done && complete && used == len)
        http_parser_execute(&p, &s, NULL, 0); /* EOF ends a body without a length */
    if (!r.done)
        e = complete ? fail(why, n, "introspection answer cut short") : WD_EAGAIN;
    else if (p.status_code != 200)
        e = fail(why, n, "introspection service answered HTTP %u", p.status_code);
    else
        e = parse_claims(r.body, r.body_len, a, why, n);
done:
    wd_free(r.body);
    return e;
}

/* ---------------------------------------------------------------- the call */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events until deadline. WD_OK, WD_ETIMEOUT, WD_EIO. */
static enum wd_err wait_fd(int fd, short events, int64_t deadline)
{
    for (int i = 0; i < 1000; i++) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return WD_ETIMEOUT;
        struct pollfd pfd = {fd, events, 0};
        int r = poll(&pfd, 1, (int)left);
        if (r > 0)
            return WD_OK;
        if (r == 0)
            return WD_ETIMEOUT;
        if (errno != EINTR)
            return WD_EIO;
    }
    return WD_EIO;
}

/*
 * A connected non-blocking socket to host:port (each address in turn). -1 on failure.
 * getaddrinfo() itself is bounded by the resolver's timeouts (resolv.conf), not by
 * the deadline: a URL with an IP address or a name in /etc/hosts avoids the wait.
 */
static int dial(const char *host, uint16_t port, int64_t deadline, char *why, size_t n)
{
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(host, ps, &hints, &res);
    if (g != 0) {
        snprintf(why, n, "introspection host %.100s: %s", host, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    enum wd_err e = WD_EIO;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (r < 0 && errno == EINPROGRESS) {
            int err = 0;
            socklen_t el = sizeof err;
            e = wait_fd(fd, POLLOUT, deadline);
            if (e == WD_OK && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && !err)
                r = 0;
            else if (e == WD_OK)
                e = WD_EIO;
        } else if (r == 0) {
            e = WD_OK;
        }
        if (r != 0) {
            close(fd);
            fd = -1;
            if (e == WD_ETIMEOUT)
                break;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(why, n, "introspection service %.100s:%u %s", host, port,
                 e == WD_ETIMEOUT ? "did not answer in time" : "unreachable");
    return fd;
}

/* Run one WolfSSL step until it neither wants to read nor write. r: its return. */
static enum wd_err tls_wait(WOLFSSL *ssl, int fd, int r, int64_t deadline)
{
    int err = wolfSSL_get_error(ssl, r);
    if (err == WOLFSSL_ERROR_WANT_READ)
        return wait_fd(fd, POLLIN, deadline) == WD_OK ? WD_EAGAIN : WD_ETIMEOUT;
    if (err == WOLFSSL_ERROR_WANT_WRITE)
        return wait_fd(fd, POLLOUT, deadline) == WD_OK ? WD_EAGAIN : WD_ETIMEOUT;
    return WD_EIO;
}

/* RFC 6749 2.3.1 / form encoding: unreserved characters as is, others %XX. */
static void form_encode(const char *s, size_t len, char *out)
{
    static const char hexd[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hexd[ch >> 4];
            out[o++] = hexd[ch & 15];
        }
    }
    out[o] = '\0';
}

/* Returns owned (wiped and freed by the caller): the whole request. */
static char *build_request(const struct token_issuer *is, const char *host, uint16_t port,
                           const char *path, const char *token, size_t len, const char *cid,
                           size_t *out_len)
{
    size_t idl = strlen(is->client_id), cl = strlen(cid);
    char *eid = wd_malloc(idl * 3 + 1), *esec = wd_malloc(is->mat_len * 3 + 1);
    char *etok = wd_malloc(len * 3 + 1), *ecid = wd_malloc(cl * 3 + 1);
    size_t credl = idl * 3 + is->mat_len * 3 + 2;
    char *cred = wd_malloc(credl), *b64 = wd_malloc(sodium_base64_ENCODED_LEN(
                                       credl, sodium_base64_VARIANT_ORIGINAL));
    char *req = NULL;
    if (eid && esec && etok && ecid && cred && b64) {
        form_encode(is->client_id, idl, eid);
        form_encode((const char *)is->mat, is->mat_len, esec);
        form_encode(token, len, etok);
        form_encode(cid, cl, ecid);
        int cn = snprintf(cred, credl, "%s:%s", eid, esec);
        sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(credl, sodium_base64_VARIANT_ORIGINAL),
                          (const unsigned char *)cred, (size_t)cn,
                          sodium_base64_VARIANT_ORIGINAL);
        size_t body = strlen("token=&token_type_hint=access_token&client_id=") + strlen(etok) +
                      strlen(ecid);
        size_t cap = body + strlen(b64) + strlen(path) + strlen(host) + 400;
        if ((req = wd_malloc(cap))) {
            bool v6 = strchr(host, ':') != NULL;
            int r = snprintf(req, cap,
                             "POST %s HTTP/1.1\r\nHost: %s%s%s:%u\r\n"
                             "Authorization: Basic %s\r\n"
                             "Content-Type: application/x-www-form-urlencoded\r\n"
                             "Accept: application/json\r\nContent-Length: %zu\r\n"
                             "Connection: close\r\nUser-Agent: warden\r\n\r\n"
                             "token=%s&token_type_hint=access_token&client_id=%s",
                             path, v6 ? "[" : "", host, v6 ? "]" : "", port, b64, body, etok,
                             ecid);
            *out_len = (size_t)r;
        }
    }
    /* Everything here held the secret or the token. */
    if (eid)
        explicit_bzero(eid, idl * 3 + 1);
    if (esec)
        explicit_bzero(esec, is->mat_len * 3 + 1);
    if (etok)
        explicit_bzero(etok, len * 3 + 1);
    if (cred)
        explicit_bzero(cred, credl);
    if (b64)
        explicit_bzero(b64, strlen(b64));
    wd_free(eid);
    wd_free(esec);
    wd_free(etok);
    wd_free(ecid);
    wd_free(cred);
    wd_free(b64);
    return req;
}

/* The call itself, no cache. */
static enum wd_err call(const struct token_issuer *is, const char *token, size_t len,
                        const char *cid, uint32_t timeout_ms, struct introspect_answer *a,
                        char *why, size_t n)
{
    int64_t deadline = mono_ms() + timeout_ms;
    char host[INTROSPECT_HOST_MAX], path[INTROSPECT_PATH_MAX];
    uint16_t port;
    if (introspect_parse_url(is->url, host, &port, path) != WD_OK)
        return fail(why, n, "issuer %.60s: bad introspection URL", is->name);
    const char *ca = is->path && is->path[0] ? is->path : SYSTEM_CAS;
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
    if (!ctx)
        return WD_ENOMEM;
    enum wd_err e = WD_OK;
    WOLFSSL *ssl = NULL;
    char *req = NULL, *buf = NULL;
    size_t reqlen = 0, got = 0;
    int fd = -1;
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
    if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_load_verify_locations(ctx, ca, NULL) != WOLFSSL_SUCCESS) {
        e = fail(why, n, "issuer %.60s: cannot load the CA file %.200s", is->name, ca);
        goto done;
    }
    if ((fd = dial(host, port, deadline, why, n)) < 0) {
        e = strstr(why, "in time") ? WD_ETIMEOUT : WD_EIO;
        goto done;
    }
    if (!(ssl = wolfSSL_new(ctx)) || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS ||
        wolfSSL_check_domain_name(ssl, host) != WOLFSSL_SUCCESS) {
        e = WD_ENOMEM;
        goto done;
    }
    for (int i = 0;; i++) {
        int r = wolfSSL_connect(ssl);
        if (r == WOLFSSL_SUCCESS)
            break;
        if (i > 10000 || (e = tls_wait(ssl, fd, r, deadline)) != WD_EAGAIN) {
            int err = wolfSSL_get_error(ssl, r);
            if (e == WD_ETIMEOUT)
                fail(why, n, "introspection service %.100s: TLS handshake timed out", host);
            else
                fail(why, n, "introspection service %.100s: TLS handshake failed (%s)", host,
                     wolfSSL_ERR_reason_error_string((unsigned long)err));
            e = e == WD_ETIMEOUT ? e : WD_EIO;
            goto done;
        }
    }
    if (!(req = build_request(is, host, port, path, token, len, cid, &reqlen))) {
        e = WD_ENOMEM;
        goto done;
    }
    for (size_t off = 0, i = 0; off < reqlen; i++) {
        int r = wolfSSL_write(ssl, req + off, (int)(reqlen - off));
        if (r > 0) {
            off += (size_t)r;
            continue;
        }
        if (i > 10000 || (e = tls_wait(ssl, fd, r, deadline)) != WD_EAGAIN) {
            e = e == WD_ETIMEOUT ? e : WD_EIO;
            fail(why, n, "introspection service %.100s: cannot send the request%s", host,
                 e == WD_ETIMEOUT ? " in time" : "");
            goto done;
        }
    }
    if (!(buf = wd_malloc(INTROSPECT_MAX_RESPONSE + 1))) {
        e = WD_ENOMEM;
        goto done;
    }
    e = WD_EAGAIN;
    for (int i = 0; e == WD_EAGAIN && i < 100000; i++) {
        int r = wolfSSL_read(ssl, buf + got, (int)(INTROSPECT_MAX_RESPONSE + 1 - got));
        bool eof = false;
        if (r > 0) {
            got += (size_t)r;
        } else {
            int err = wolfSSL_get_error(ssl, r);
            if (err == WOLFSSL_ERROR_ZERO_RETURN || r == 0 ||
                (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE && got)) {
                eof = true; /* closed (with or without close_notify): the answer ends */
            } else if ((e = tls_wait(ssl, fd, r, deadline)) != WD_EAGAIN) {
                e = e == WD_ETIMEOUT ? e : WD_EIO;
                fail(why, n, "introspection service %.100s: %s", host,
                     e == WD_ETIMEOUT ? "no answer in time" : "connection failed");
                goto done;
            } else {
                continue;
            }
        }
        e = introspect_parse_response(buf, got, eof, a, why, n);
        if (e == WD_EAGAIN && (eof || got > INTROSPECT_MAX_RESPONSE))
            e = fail(why, n, "introspection answer cut short or too large");
    }
    if (e == WD_EAGAIN)
        e = fail(why, n, "introspection service %.100s: no answer", host);
done:
    if (req) {
        explicit_bzero(req, reqlen);
        wd_free(req);
    }
    wd_free(buf);
    if (ssl)
        wolfSSL_free(ssl);
    if (fd >= 0)
        close(fd);
    wolfSSL_CTX_free(ctx);
    /* Debian's WolfSSL keeps an ECC fixed-point cache per thread (FP_ECC) that only this
     * frees, on this thread: without it each worker that did an ECDHE handshake leaks it
     * at exit (token.c does the same after ES256). */
    wc_ecc_fp_free();
    return e;
}

/* ---------------------------------------------------------------- cache */

struct cached {
    uint8_t key[32];
    int64_t until;               /* Unix seconds; 0 = free */
    struct introspect_answer a;  /* owned */
};

static struct {
    pthread_mutex_t lock;
    struct cached slot[CACHE_SLOTS];
    uint8_t hkey[crypto_generichash_KEYBYTES];
    bool keyed;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static char *dup_or_null(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = wd_strdup(s);
    if (!d)
        *ok = false;
    return d;
}

static enum wd_err answer_copy(const struct introspect_answer *from, struct introspect_answer *to)
{
    bool ok = true;
    *to = (struct introspect_answer){from->active, dup_or_null(from->sub, &ok),
                                     dup_or_null(from->scope, &ok),
                                     dup_or_null(from->client_id, &ok),
                                     dup_or_null(from->iss, &ok), dup_or_null(from->aud, &ok),
                                     from->exp};
    if (!ok)
        introspect_answer_fini(to);
    return ok ? WD_OK : WD_ENOMEM;
}

/* Caller holds the lock. */
static void cache_key(const struct token_issuer *is, const char *token, size_t len,
                      const char *cid, uint8_t out[32])
{
    if (!cache.keyed) {
        randombytes_buf(cache.hkey, sizeof cache.hkey);
        cache.keyed = true;
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, cache.hkey, sizeof cache.hkey, 32);
    crypto_generichash_update(&st, (const unsigned char *)is->name, strlen(is->name) + 1);
    crypto_generichash_update(&st, (const unsigned char *)cid, strlen(cid) + 1);
    crypto_generichash_update(&st, (const unsigned char *)token, len);
    crypto_generichash_final(&st, out, 32);
}

static size_t slot_of(const uint8_t key[32])
{
    size_t h;
    memcpy(&h, key, sizeof h);
    return h & (CACHE_SLOTS - 1);
}

void introspect_cache_clear(void)
{
    pthread_mutex_lock(&cache.lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        introspect_answer_fini(&cache.slot[i].a);
        cache.slot[i].until = 0;
    }
    pthread_mutex_unlock(&cache.lock);
}

enum wd_err introspect_lookup(const struct token_issuer *is, const char *token, size_t len,
                              const char *cid, uint32_t timeout_ms,
                              struct introspect_answer *a, char *why, size_t n)
{
    memset(a, 0, sizeof *a);
    why[0] = '\0';
    uint8_t key[32];
    int64_t now = (int64_t)time(NULL);
    enum wd_err e = WD_ENOTFOUND;
    pthread_mutex_lock(&cache.lock);
    cache_key(is, token, len, cid, key);
    size_t h = slot_of(key);
    for (size_t i = 0; i < CACHE_PROBE; i++) {
        struct cached *c = &cache.slot[(h + i) & (CACHE_SLOTS - 1)];
        if (c->until > now && sodium_memcmp(c->key, key, sizeof key) == 0) {
            e = answer_copy(&c->a, a);
            break;
        }
    }
    pthread_mutex_unlock(&cache.lock);
    if (e != WD_ENOTFOUND)
        return e;
    if ((e = call(is, token, len, cid, timeout_ms, a, why, n)) != WD_OK || !a->active)
        return e;
    int64_t until = now + (int64_t)is->cache;
    if (a->exp && a->exp < until)
        until = a->exp;
    if (until <= now)
        return WD_OK;
    struct introspect_answer copy;
    if (answer_copy(a, &copy) != WD_OK)
        return WD_OK; /* not cached: asked again next time */
    pthread_mutex_lock(&cache.lock);
    /* The slot in the window that frees soonest (a free one, or an expired one, first). */
    struct cached *victim = &cache.slot[h];
    for (size_t i = 0; i < CACHE_PROBE; i++) {
        struct cached *c = &cache.slot[(h + i) & (CACHE_SLOTS - 1)];
        if (sodium_memcmp(c->key, key, sizeof key) == 0 || c->until <= now) {
            victim = c;
            break;
        }
        if (c->until < victim->until)
            victim = c;
    }
    introspect_answer_fini(&victim->a);
    memcpy(victim->key, key, sizeof key);
    victim->a = copy;
    victim->until = until;
    pthread_mutex_unlock(&cache.lock);
    return WD_OK;
}
