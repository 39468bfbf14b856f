/*
 * broker.c - the broker object: listeners and accept, the before-sleep hook
 * (flush output, reap closed connections), signals, reload and shutdown.
 *
 * Reaping order in the before-sleep hook: flush every connection with
 * output, then free the closed ones (their will may produce output for
 * others), then flush again, so the loop never sleeps with bytes pending.
 */
#include "broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "auth.h"
#include "codec.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "mem.h"
#include "msg.h"
#include "rtree.h"
#include "session.h"
#include "sys.h"
#include "tls.h"
#include "tree.h"

#define ACCEPT_BUDGET 64

uint64_t broker_wall(void)
{
    return (uint64_t)time(NULL);
}

size_t broker_addr_ip(const char *addr, const char **ip)
{
    const char *colon = strrchr(addr, ':');
    size_t n = colon ? (size_t)(colon - addr) : strlen(addr);
    *ip = addr;
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
        ++*ip;
        n -= 2;
    }
    return n;
}

/* Decimal digits of v at p; returns the end. */
static char *put_uint(char *p, unsigned v)
{
    char t[10];
    int k = 0;
    do {
        t[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        *p++ = t[--k];
    return p;
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET && n >= sizeof "255.255.255.255:65535") {
        /* By hand: this runs for every accepted connection, and inet_ntop()
         * plus snprintf() were 2,800 instructions of a connect's ~15,600
         * (callgrind, make bench connect cycle). */
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        const uint8_t *ip = (const uint8_t *)&a->sin_addr;
        char *p = out;
        for (int i = 0; i < 4; i++) {
            p = put_uint(p, ip[i]);
            *p++ = i < 3 ? '.' : ':';
        }
        p = put_uint(p, ntohs(a->sin_port));
        *p = '\0';
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(out, n, "%s:%u", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(out, n, "[%s]:%u", host, port);
    } else {
        snprintf(out, n, "?");
    }
}

static enum wd_err tls_reload(struct listener *l, const struct config_tls *t, const char *why);

static void on_accept(struct loop_io *io, unsigned events)
{
    (void)events;
    struct listener *l = container_of(io, struct listener, io);
    struct broker *b = l->b;
    for (int i = 0; i < ACCEPT_BUDGET; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warning("accept on %s: %s", l->name, strerror(errno));
            return;
        }
        char addr[64];
        format_addr(&ss, addr, sizeof addr);
        if (b->stopping || (b->cfg.max_connections && b->nconns >= b->cfg.max_connections)) {
            log_notice("refusing %s: max_connections (%u) reached", addr, b->cfg.max_connections);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (l->tls && !l->tls_stale_failed && tls_ctx_crl_stale(l->tls, (int64_t)broker_wall()))
            tls_reload(l, &l->cfg->tls, "its CRL has expired");
        if (l->cfg->http)
            http_accept(l, fd, addr);
        else
            conn_accept(l, fd, addr);
    }
}

/*
 * Build a fresh TLS context for l from t (the running keys, or a re-read
 * configuration's) and swap it in; connections keep the context they were
 * accepted with. On failure the old context stays and the log says why.
 */
static enum wd_err tls_reload(struct listener *l, const struct config_tls *t, const char *why)
{
    char err[512];
    struct tls_ctx *fresh;
    enum wd_err e = tls_ctx_new(t, l->name, &fresh, err, sizeof err);
    if (e != WD_OK) {
        log_error("listener %s: TLS reload (%s) failed, keeping the previous certificate, key "
                  "and CRL: %s", l->name, why, err);
        l->tls_stale_failed = true;
        return e;
    }
    tls_ctx_unref(l->tls);
    l->tls = fresh;
    l->tls_stale_failed = false;
    log_notice("listener %s: TLS certificate, key, CAs and CRL reloaded (%s)", l->name, why);
    return WD_OK;
}

/* A stamp of a file's state: changes when it is rewritten or replaced; 0 if missing. */
static int64_t file_stamp(const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return 0;
    return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec + (int64_t)st.st_size +
           (int64_t)st.st_ino;
}

#define CRL_CHECK_MS 2000

/* Reload a listener's TLS context when its CRL file changed (no SIGHUP needed). */
static void crl_check(struct loop_timer *t)
{
    struct broker *b = container_of(t, struct broker, crl_timer);
    for (size_t i = 0; i < b->nlisteners; i++) {
        struct listener *l = &b->listeners[i];
        if (!l->tls || !l->cfg->tls.crlfile)
            continue;
        int64_t now = file_stamp(l->cfg->tls.crlfile);
        if (now == l->crl_stamp)
            continue;
        l->crl_stamp = now;
        tls_reload(l, &l->cfg->tls, "crlfile changed");
    }
    loop_timer_arm(b->loop, &b->crl_timer, CRL_CHECK_MS);
}

static enum wd_err open_listener(struct broker *b, struct listener *l, struct config_listener *lc)
{
    l->b = b;
    l->cfg = lc;
    l->fd = -1;
    if (lc->clientid_pattern) {
        /* Matched against the whole client id (config.c checked that it compiles). */
        char anchored[1100];
        snprintf(anchored, sizeof anchored, "^(%s)$", lc->clientid_pattern);
        l->clientid_re_ok = regcomp(&l->clientid_re, anchored, REG_EXTENDED | REG_NOSUB) == 0;
        if (!l->clientid_re_ok) {
            log_error("listener %s:%u: clientid_pattern does not compile", lc->address, lc->port);
            return WD_ECONFIG;
        }
    }
    if (lc->tls.certfile) {
        char err[512];
        snprintf(l->name, sizeof l->name, "%s:%u", lc->address, lc->port);
        if (tls_ctx_new(&lc->tls, l->name, &l->tls, err, sizeof err) != WD_OK) {
            log_error("listener %s:%u (line %d): %s", lc->address, lc->port, lc->line, err);
            return WD_ECONFIG;
        }
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    char port[8];
    snprintf(port, sizeof port, "%u", lc->port);
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(lc->address, port, &hints, &ai);
    if (rc != 0) {
        log_error("listener %s:%u: %s", lc->address, lc->port, gai_strerror(rc));
        return WD_ECONFIG;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error("socket: %s", strerror(errno));
        freeaddrinfo(ai);
        return WD_EIO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        log_error("cannot listen on %s:%u: %s", lc->address, lc->port, strerror(errno));
        close(fd);
        freeaddrinfo(ai);
        return WD_EIO;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    format_addr(&ss, l->name, sizeof l->name);
    l->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    l->fd = fd;
    if (loop_add(b->loop, &l->io, fd, LOOP_READABLE, on_accept) != WD_OK) {
        close(fd);
        l->fd = -1;
        return WD_EIO;
    }
    log_notice("listening on %s%s%s%s", l->name, lc->http ? " (HTTP, OAuth 2.0 tokens)" : "",
               l->tls ? " (TLS)" : "",
               lc->allow_anonymous ? " (anonymous allowed)" : "");
    return WD_OK;
}

static void reap(struct broker *b)
{
    while (b->reap_list) {
        struct conn *c = b->reap_list;
        b->reap_list = c->reap_next;
        if (buf_used(&c->out))
            conn_flush(c); /* best effort: a final CONNACK or DISCONNECT */
        if (c->in_flush) {
            /* conn_flush() may not have run from the flush list: unlink it. */
            struct conn **pp = &b->flush_list;
            while (*pp && *pp != c)
                pp = &(*pp)->flush_next;
            if (*pp)
                *pp = c->flush_next;
        }
        if (c->connected_at)
            b->nclients--;
        if (c->s) {
            struct session *s = c->s;
            log_info("disconnect client=%s addr=%s reason=0x%02x%s", s->client_id, c->addr,
                     c->close_reason, c->send_will ? " (abnormal)" : "");
            c->s = NULL;
            /* A session with no expiry ends in session_detach(), recorder and
             * all: noting its DISCONNECT would be formatted only to be freed. */
            if (s->expiry != 0)
                flight_note(&s->flight, FL_DISCONNECT, "reason 0x%02x %s%s", c->close_reason,
                            flight_reason_name(c->close_reason), c->send_will ? " (abnormal)" : "");
            session_detach(s, c->send_will);
        }
        conn_free(c);
    }
}

static void flush_all(struct broker *b)
{
    /* Bounded: pumping a queue may put a connection back on the list. */
    for (int round = 0; round < 4 && b->flush_list; round++) {
        struct conn *c = b->flush_list;
        b->flush_list = NULL;
        while (c) {
            struct conn *next = c->flush_next;
            c->in_flush = false;
            c->flush_next = NULL;
            if (c->state != CONN_CLOSING)
                conn_flush(c);
            c = next;
        }
    }
}

static void before_sleep(void *ctx)
{
    struct broker *b = ctx;
    flush_all(b);
    reap(b);
    flush_all(b);
    if (b->stopping && !b->reap_list)
        loop_stop(b->loop);
}

static void on_signal(struct loop_io *io, unsigned events)
{
    (void)events;
    struct broker *b = container_of(io, struct broker, sig_io);
    struct signalfd_siginfo si;
    while (read(b->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            auth_tokens_reload(b->auth);
            if (!b->cfg.path) {
                log_notice("SIGHUP: no configuration file to re-read");
                continue;
            }
            struct config fresh;
            config_defaults(&fresh);
            if (config_load(&fresh, b->cfg.path, NULL, NULL) != WD_OK) {
                log_error("SIGHUP: %s has errors; keeping the running configuration "
                          "(run 'warden check -c %s')", b->cfg.path, b->cfg.path);
                config_fini(&fresh);
                continue;
            }
            broker_reload(b, &fresh);
            config_fini(&fresh);
        } else {
            log_notice("signal %u: shutting down", si.ssi_signo);
            broker_shutdown(b);
        }
    }
}

static enum wd_err setup_signals(struct broker *b)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    b->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (b->sigfd < 0) {
        log_error("signalfd: %s", strerror(errno));
        return WD_EIO;
    }
    return loop_add(b->loop, &b->sig_io, b->sigfd, LOOP_READABLE, on_signal);
}

static void retained_free(void *v)
{
    msg_unref(v);
}

struct broker *broker_new(struct config *cfg, const struct backend_ops *ops)
{
    struct broker *b = wd_calloc(1, sizeof *b);
    if (!b) {
        log_error("out of memory");
        return NULL;
    }
    b->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    b->sigfd = -1;
    b->loop = loop_new();
    b->subs = tree_new();
    b->retained = rtree_new(retained_free);
    b->listeners = wd_calloc(b->cfg.nlisteners ? b->cfg.nlisteners : 1, sizeof *b->listeners);
    if (!b->loop || !b->subs || !b->retained || !b->listeners) {
        log_error("out of memory");
        broker_free(b);
        return NULL;
    }
    loop_set_before_sleep(b->loop, before_sleep, b);
    b->start_ms = loop_now_ms(b->loop);
    for (size_t i = 0; i < b->cfg.nlisteners; i++) {
        if (open_listener(b, &b->listeners[i], &b->cfg.listeners[i]) != WD_OK) {
            broker_free(b);
            return NULL;
        }
        b->nlisteners++;
    }
    if (setup_signals(b) != WD_OK) {
        broker_free(b);
        return NULL;
    }
    b->admin = admin_new(b, ops);
    b->auth = auth_new(b, ops);
    if (!b->admin || !b->auth) {
        broker_free(b);
        return NULL;
    }
    sys_start(b);
    loop_timer_init(&b->crl_timer, crl_check);
    for (size_t i = 0; i < b->nlisteners; i++) {
        if (b->listeners[i].tls && b->listeners[i].cfg->tls.crlfile) {
            b->listeners[i].crl_stamp = file_stamp(b->listeners[i].cfg->tls.crlfile);
            loop_timer_arm(b->loop, &b->crl_timer, CRL_CHECK_MS);
        }
    }
    return b;
}

void broker_run(struct broker *b)
{
    log_notice("warden %s running (%zu listener%s)", WARDEN_VERSION, b->nlisteners,
               b->nlisteners == 1 ? "" : "s");
    admin_attach_thread(b->admin);
    loop_run(b->loop);
    admin_close(b->admin);
    log_notice("warden stopped");
}

void broker_shutdown(struct broker *b)
{
    if (b->stopping)
        return;
    b->stopping = true;
    for (size_t i = 0; i < b->nlisteners; i++)
        loop_del(b->loop, &b->listeners[i].io);
    for (struct conn *c = b->conns; c; c = c->next) {
        /* 5.0 clients learn why [MQTT-3.14.2]: 0x8B Server shutting down. No wills. */
        conn_close(c, MQTT_RC_SERVER_SHUTTING_DOWN, true, false);
    }
    /* Shutting down is not the clients' fault: no wills; sessions stay until exit. */
    for (struct conn *c = b->reap_list; c; c = c->reap_next)
        c->send_will = false;
}

void broker_free(struct broker *b)
{
    if (!b)
        return;
    http_free_all(b);
    while (b->conns) {
        struct conn *c = b->conns;
        if (c->s)
            c->s->conn = NULL;
        c->s = NULL;
        conn_free(c);
    }
    b->reap_list = NULL;
    b->flush_list = NULL;
    auth_free(b->auth);
    admin_free(b->admin);
    session_free_all(b);
    tree_free(b->subs);
    rtree_free(b->retained);
    for (size_t i = 0; i < b->nlisteners; i++) {
        close(b->listeners[i].fd);
        tls_ctx_unref(b->listeners[i].tls);
        if (b->listeners[i].clientid_re_ok)
            regfree(&b->listeners[i].clientid_re);
    }
    if (b->listeners && b->nlisteners < b->cfg.nlisteners)
        tls_ctx_unref(b->listeners[b->nlisteners].tls); /* the one that failed to open */
    wd_free(b->listeners);
    if (b->sigfd >= 0)
        close(b->sigfd);
    wd_free(b->route);
    wd_free(b->route_ids);
    loop_free(b->loop);
    config_fini(&b->cfg);
    wd_free(b);
}

/* A key that needs a restart, if it changed. */
static void needs_restart(const char *key, bool changed, char *out, size_t n)
{
    if (changed)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", *out ? ", " : "", key);
}

static bool listeners_differ(const struct config *a, const struct config *b)
{
    if (a->nlisteners != b->nlisteners)
        return true;
    for (size_t i = 0; i < a->nlisteners; i++) {
        const struct config_listener *x = &a->listeners[i], *y = &b->listeners[i];
        if (x->port != y->port || strcmp(x->address, y->address) != 0 ||
            x->allow_anonymous != y->allow_anonymous)
            return true;
    }
    return false;
}

void broker_reload(struct broker *b, struct config *f)
{
    struct config *c = &b->cfg;
    char restart[256] = "";
    needs_restart("listeners", listeners_differ(c, f), restart, sizeof restart);
    needs_restart("store_dir", strcmp(c->store_dir, f->store_dir) != 0, restart, sizeof restart);
    needs_restart("topic_alias_maximum", c->topic_alias_maximum != f->topic_alias_maximum,
                  restart, sizeof restart);
    bool sys_changed = c->sys_interval != f->sys_interval;
    /* TLS: certificates, keys, CAs and CRLs are re-read; a listener keeps its old ones on error. */
    for (size_t i = 0; i < b->nlisteners && !listeners_differ(c, f); i++) {
        struct listener *l = &b->listeners[i];
        struct config_tls *ft = &f->listeners[i].tls;
        if (!l->tls != !ft->certfile) {
            needs_restart("certfile (TLS on/off)", true, restart, sizeof restart);
            continue;
        }
        if (l->tls && tls_reload(l, ft, "SIGHUP") == WD_OK) {
            struct config_tls old = l->cfg->tls; /* fresh's config owns the old strings now */
            l->cfg->tls = *ft;
            *ft = old;
        }
    }
    c->max_connections = f->max_connections;
    c->max_packet_size = f->max_packet_size;
    c->max_inflight_messages = f->max_inflight_messages;
    c->max_queued_messages = f->max_queued_messages;
    c->max_queued_bytes = f->max_queued_bytes;
    c->max_topic_length = f->max_topic_length;
    c->max_topic_levels = f->max_topic_levels;
    c->max_subscriptions_per_client = f->max_subscriptions_per_client;
    c->max_keepalive = f->max_keepalive;
    c->max_qos = f->max_qos;
    c->retain_available = f->retain_available;
    c->connect_timeout = f->connect_timeout;
    c->sys_interval = f->sys_interval;
    c->log_level = f->log_level;
    c->log_dest = f->log_dest;
    log_setup(c->log_level, c->log_dest);
    if (sys_changed) {
        loop_timer_cancel(b->loop, &b->sys_timer);
        if (c->sys_interval)
            loop_timer_arm(b->loop, &b->sys_timer, (uint64_t)c->sys_interval * 1000);
    }
    log_notice("config reloaded: applied limits, max_qos, retain_available, connect_timeout, "
               "sys_interval, log_level (%s), log_dest; %s%s",
               config_log_level_name(c->log_level), *restart ? "needs restart: " : "",
               *restart ? restart : "nothing needs a restart");
}
