/*
 * mqbench.c - MQTT 3.1.1 load generator for `make bench`.
 *
 * One thread, one epoll set, raw non-blocking sockets. Every packet kind is
 * encoded once at start-up and copied (with its packet id, sequence number
 * and timestamp patched in place) into each connection's output buffer; a
 * connection's output is written with one write() per loop iteration, so a
 * publisher sends hundreds of packets per system call.
 *
 * Modes (one run each, result as one JSON object on stdout):
 *   thru     N publishers -> M subscribers, QoS 0/1/2, closed loop: a
 *            publisher is never more than --window messages ahead of its
 *            slowest subscriber, and never has more than --inflight
 *            unacknowledged QoS 1/2 messages. Rate = deliveries/s counted
 *            at the subscribers during the measuring window.
 *   lat      1 -> 1 at a fixed --rate (open loop). Latency is measured from
 *            each message's SCHEDULED send time (carried in the payload), so
 *            a broker that makes the publisher wait is charged for the wait
 *            (no coordinated omission).
 *   idle     open --conns connections, CONNECT, wait for every CONNACK,
 *            print "READY n" on stderr, hold them --hold seconds, close.
 *   connect  --par parallel CONNECT / CONNACK / DISCONNECT / EOF cycles
 *            (with --user/--pass: a password CONNECT; with --tls CAFILE: a
 *            TLS handshake first, then CONNECT / CONNACK / DISCONNECT / close).
 *   lat --storm N: after the --duration baseline, N clients connect at once
 *            with --user/--pass while the stream goes on; the stream's p99
 *            during the storm (until every storm client is answered) is
 *            reported beside its p99 before it.
 *
 * Payload layout (>= 16 bytes): u32 publisher index, u32 sequence number,
 * u64 timestamp (ns, CLOCK_MONOTONIC; scheduled send time in `lat`).
 * Subscribers count per (subscriber, publisher) pair; messages lost = what
 * was sent times the subscribers minus what arrived after a drain period.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef MQBENCH_TLS
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#endif

enum role { R_PUB, R_SUB, R_IDLE, R_CONN };
enum state { S_CONNECTING, S_WAIT_CONNACK, S_WAIT_SUBACK, S_READY, S_WAIT_EOF, S_DEAD };

struct conn {
    int fd;
    enum role role;
    enum state st;
    int idx;                 /* index within its role */
    uint8_t *in;             /* partial packet carried between reads */
    size_t inlen, incap;
    uint8_t *out;            /* pending output: out[outoff..outlen) */
    size_t outoff, outlen, outcap;
    bool dirty;              /* on the flush list */
    bool pollout;            /* EPOLLOUT registered */
    struct conn *flush_next;
    /* publisher */
    uint64_t sent;           /* PUBLISH packets queued so far */
    uint32_t unacked;        /* QoS 1/2 not yet PUBACK/PUBCOMP */
    uint16_t next_pid;
    uint8_t *pkt;            /* this publisher's PUBLISH, encoded once */
    size_t pktlen, pidoff, payoff;
    /* connect mode */
    uint64_t cycles;
    bool storm;              /* one of the auth storm's clients */
    void *ssl;               /* WOLFSSL * in connect --tls */
};

/* ---------------------------------------------------------------- options */
static const char *o_mode = "thru";
static int o_port = 1883;
static int o_pubs = 1, o_subs = 1, o_qos = 0, o_paylen = 64;
static int o_window = 1000, o_inflight = 20;
static double o_warmup = 1.0, o_duration = 3.0, o_drain = 3.0, o_hold = 3.0;
static double o_rate = 5000;
static int o_conns = 1000, o_par = 16;
static int o_broker_pid = 0;
static const char *o_tag = "b";
static const char *o_user, *o_pass;  /* password CONNECT for R_CONN */
static const char *o_tls;            /* CA file: connect mode over TLS */
static int o_storm;                  /* lat: clients in the auth storm */

/* ---------------------------------------------------------------- state */
static int ep;
static struct conn **conns;
static struct conn **pubs, **subs;
static uint64_t *recv_cnt;   /* [sub * o_pubs + pub] */
static uint64_t *next_seq;   /* same shape: next expected sequence */
static uint64_t total_recv, total_dups, total_late;
static struct conn *flush_list;
static bool publishing;
static uint64_t storm_ok, storm_refused;


/* latency samples (ns) */
static uint64_t *lat;
static size_t nlat, latcap;
static uint64_t lat_from, lat_to; /* scheduled-time window that counts */
/* auth storm: samples scheduled from lat_to on, as (scheduled time, latency) */
static uint64_t *slat_ts, *slat;
static size_t nslat, slatcap;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "mqbench: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "mqbench: out of memory\n");
        exit(2);
    }
    return p;
}

/* CPU ticks (utime + stime) of a process from /proc/PID/stat. */
static uint64_t proc_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, pid ? "/proc/%d/stat" : "/proc/self/stat", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may contain spaces */
    if (!p)
        return 0;
    unsigned long ut = 0, st = 0;
    /* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return ut + st;
}

/* ---------------------------------------------------------------- encoding */
static size_t put_varint(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = b | (v ? 0x80 : 0);
    } while (v);
    return n;
}

static size_t put_str(uint8_t *p, const char *s)
{
    size_t l = strlen(s);
    p[0] = (uint8_t)(l >> 8);
    p[1] = (uint8_t)l;
    memcpy(p + 2, s, l);
    return l + 2;
}

static size_t build_connect(uint8_t *p, const char *cid, bool creds)
{
    uint8_t body[600];
    size_t n = put_str(body, "MQTT");
    body[n++] = 4;    /* 3.1.1 */
    body[n++] = (uint8_t)(0x02 | (creds ? 0xc0 : 0)); /* clean session, user, password */
    body[n++] = 0;    /* keep alive 0: none, so idle connections stay */
    body[n++] = 0;
    n += put_str(body + n, cid);
    if (creds) {
        n += put_str(body + n, o_user);
        n += put_str(body + n, o_pass);
    }
    p[0] = 0x10;
    size_t h = 1 + put_varint(p + 1, (uint32_t)n);
    memcpy(p + h, body, n);
    return h + n;
}

static size_t build_subscribe(uint8_t *p, const char *filter, int qos)
{
    uint8_t body[300];
    body[0] = 0;
    body[1] = 1;
    size_t n = 2 + put_str(body + 2, filter);
    body[n++] = (uint8_t)qos;
    p[0] = 0x82;
    size_t h = 1 + put_varint(p + 1, (uint32_t)n);
    memcpy(p + h, body, n);
    return h + n;
}

static void build_publish(struct conn *c, const char *topic)
{
    size_t tl = strlen(topic);
    uint8_t *p = c->pkt = xrealloc(NULL, tl + (size_t)o_paylen + 16);
    uint32_t rl = (uint32_t)(2 + tl + (o_qos ? 2 : 0) + (size_t)o_paylen);
    p[0] = (uint8_t)(0x30 | (o_qos << 1));
    size_t n = 1 + put_varint(p + 1, rl);
    n += put_str(p + n, topic);
    c->pidoff = n;
    if (o_qos)
        n += 2;
    c->payoff = n;
    memset(p + n, 'x', (size_t)o_paylen);
    n += (size_t)o_paylen;
    c->pktlen = n;
}

/* ---------------------------------------------------------------- I/O */
static void out_reserve(struct conn *c, size_t extra)
{
    if (c->outoff && c->outoff == c->outlen)
        c->outoff = c->outlen = 0;
    if (c->outlen + extra <= c->outcap)
        return;
    if (c->outoff) {
        memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
        c->outlen -= c->outoff;
        c->outoff = 0;
        if (c->outlen + extra <= c->outcap)
            return;
    }
    size_t cap = c->outcap ? c->outcap : 256;
    while (cap < c->outlen + extra)
        cap *= 2;
    c->out = xrealloc(c->out, cap);
    c->outcap = cap;
}

static void mark_dirty(struct conn *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->flush_next = flush_list;
    flush_list = c;
}

static void out_append(struct conn *c, const void *p, size_t n)
{
    out_reserve(c, n);
    memcpy(c->out + c->outlen, p, n);
    c->outlen += n;
    mark_dirty(c);
}

static void out_ack(struct conn *c, uint8_t type, uint16_t pid)
{
    uint8_t a[4] = {type, 2, (uint8_t)(pid >> 8), (uint8_t)pid};
    out_append(c, a, 4);
}

static void set_pollout(struct conn *c, bool on)
{
    if (c->pollout == on || c->st == S_DEAD)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->pollout = on;
}

static void conn_close(struct conn *c)
{
    if (c->st == S_DEAD)
        return;
    close(c->fd); /* leaves the epoll set with it: the fd is never duplicated */
    c->fd = -1;
    c->st = S_DEAD;
    c->outoff = c->outlen = 0;
    c->inlen = 0;
}

static void flush_conn(struct conn *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (n > 0) {
            c->outoff += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_pollout(c, true);
            return;
        }
        if (n < 0 && errno == EINTR)
            continue;
        fprintf(stderr, "mqbench: write: %s\n", strerror(errno));
        conn_close(c);
        return;
    }
    c->outoff = c->outlen = 0;
    set_pollout(c, false);
}

static void flush_all(void)
{
    while (flush_list) {
        struct conn *c = flush_list;
        flush_list = c->flush_next;
        c->dirty = false;
        if (c->st != S_DEAD && c->st != S_CONNECTING)
            flush_conn(c);
    }
}

static void conn_send_connect(struct conn *c);

static struct conn *conn_open(enum role role, int idx)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    /* A connect cycle writes CONNECT, then DISCONNECT only after CONNACK has
     * acknowledged it: Nagle never holds anything back, so it skips the
     * setsockopt (one system call of a dozen per cycle). TLS keeps it. */
    bool plain_cycle = role == R_CONN && !o_tls;
    int one = 1;
    if (!plain_cycle)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        die("calloc");
    c->fd = fd;
    c->role = role;
    c->idx = idx;
    c->next_pid = 1;
    c->st = S_CONNECTING;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
        die("connect");
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    c->pollout = true;
    if (plain_cycle) {
        /* On loopback the handshake is usually done by the time connect()
         * returns (EINPROGRESS or not): try CONNECT at once and wait only for
         * input (no EPOLLOUT wake-up, no epoll_ctl to drop it). If the socket
         * is not ready yet, the write fails and EPOLLOUT sends it as before. */
        conn_send_connect(c);
        ssize_t n = write(fd, c->out, c->outlen);
        if (n == (ssize_t)c->outlen) {
            c->outoff = c->outlen = 0;
            ev.events = EPOLLIN;
            c->pollout = false;
        } else {
            if (n > 0)
                c->outoff = (size_t)n;
            c->st = S_CONNECTING; /* on EPOLLOUT: flush_conn sends the rest */
        }
    }
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");
    return c;
}

static void conn_send_connect(struct conn *c)
{
    char cid[64];
    static unsigned long serial;
    static int pid;
    if (!pid)
        pid = (int)getpid(); /* once: it was a system call per connect cycle */
    snprintf(cid, sizeof cid, "mqb-%c%d-%lu-%d", "psic"[c->role], c->idx, serial++, pid);
    uint8_t p[640];
    out_append(c, p, build_connect(p, cid, c->role == R_CONN && o_user));
    c->st = S_WAIT_CONNACK;
}

/* ---------------------------------------------------------------- inbound */
static void on_publish(struct conn *c, uint8_t hdr, const uint8_t *b, size_t len, uint64_t t)
{
    int qos = (hdr >> 1) & 3;
    if (len < 2)
        return;
    size_t tl = ((size_t)b[0] << 8) | b[1];
    size_t off = 2 + tl;
    uint16_t pid = 0;
    if (qos) {
        if (off + 2 > len)
            return;
        pid = (uint16_t)((b[off] << 8) | b[off + 1]);
        off += 2;
    }
    if (qos == 1)
        out_ack(c, 0x40, pid);
    else if (qos == 2)
        out_ack(c, 0x50, pid);
    if (c->role != R_SUB || off + 16 > len)
        return;
    uint32_t pub, seq;
    uint64_t ts;
    memcpy(&pub, b + off, 4);
    memcpy(&seq, b + off + 4, 4);
    memcpy(&ts, b + off + 8, 8);
    if (pub >= (uint32_t)o_pubs)
        return;
    size_t k = (size_t)c->idx * (size_t)o_pubs + pub;
    if (seq < next_seq[k]) {
        total_dups++;
        return;
    }
    next_seq[k] = (uint64_t)seq + 1;
    recv_cnt[k]++;
    total_recv++;
    if (lat && ts >= lat_from && ts < lat_to) {
        if (nlat == latcap) {
            latcap = latcap ? latcap * 2 : 65536;
            lat = xrealloc(lat, latcap * sizeof *lat);
        }
        lat[nlat++] = t > ts ? t - ts : 0;
    } else if (lat && o_storm && ts >= lat_to) {
        if (nslat == slatcap) {
            slatcap = slatcap ? slatcap * 2 : 65536;
            slat = xrealloc(slat, slatcap * sizeof *slat);
            slat_ts = xrealloc(slat_ts, slatcap * sizeof *slat_ts);
        }
        slat_ts[nslat] = ts;
        slat[nslat++] = t > ts ? t - ts : 0;
    } else if (lat && ts >= lat_to) {
        total_late++;
    }
}

static void on_packet(struct conn *c, uint8_t hdr, const uint8_t *b, size_t len, uint64_t t)
{
    uint16_t pid = len >= 2 ? (uint16_t)((b[0] << 8) | b[1]) : 0;
    switch (hdr >> 4) {
    case 2: /* CONNACK */
        if (c->storm && (len < 2 || b[1] != 0)) {
            storm_refused++;
            conn_close(c);
            break;
        }
        if (len < 2 || b[1] != 0) {
            fprintf(stderr, "mqbench: CONNACK refused (%d)\n", len >= 2 ? b[1] : -1);
            exit(3);
        }
        if (c->role == R_SUB) {
            char filter[64];
            if (o_pubs == 1)
                snprintf(filter, sizeof filter, "%s/0", o_tag);
            else
                snprintf(filter, sizeof filter, "%s/+", o_tag);
            uint8_t p[128];
            out_append(c, p, build_subscribe(p, filter, o_qos));
            c->st = S_WAIT_SUBACK;
        } else if (c->role == R_CONN) {
            uint8_t d[2] = {0xe0, 0};
            out_append(c, d, 2);
            c->st = S_WAIT_EOF;
        } else {
            c->st = S_READY;
        }
        break;
    case 3:
        on_publish(c, hdr, b, len, t);
        break;
    case 4: /* PUBACK */
        if (c->unacked)
            c->unacked--;
        break;
    case 5: /* PUBREC -> PUBREL */
        out_ack(c, 0x62, pid);
        break;
    case 6: /* PUBREL -> PUBCOMP */
        out_ack(c, 0x70, pid);
        break;
    case 7: /* PUBCOMP */
        if (c->unacked)
            c->unacked--;
        break;
    case 9: /* SUBACK */
        if (len < 3 || b[2] >= 0x80) {
            fprintf(stderr, "mqbench: SUBACK refused\n");
            exit(3);
        }
        c->st = S_READY;
        break;
    default:
        break;
    }
}

/* Reads what the socket has (bounded), decodes every complete packet. */
static void on_readable(struct conn *c)
{
    static uint8_t rbuf[256 * 1024];
    uint64_t t = now_ns();
    for (int round = 0; round < 4; round++) {
        ssize_t n = read(c->fd, rbuf, sizeof rbuf);
        if (n == 0) {
            if (c->role == R_CONN && c->st == S_WAIT_EOF) {
                c->cycles++;
                storm_ok += c->storm;
                conn_close(c);
                return;
            }
            if (publishing || c->role == R_IDLE)
                fprintf(stderr, "mqbench: broker closed a %s connection\n",
                        c->role == R_PUB ? "publisher" : "subscriber");
            conn_close(c);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            if (c->role == R_CONN && c->st == S_WAIT_EOF && errno == ECONNRESET) {
                c->cycles++;
                storm_ok += c->storm;
                conn_close(c);
                return;
            }
            fprintf(stderr, "mqbench: read: %s\n", strerror(errno));
            conn_close(c);
            return;
        }
        const uint8_t *p = rbuf;
        size_t avail = (size_t)n;
        if (c->inlen) { /* join with the carried partial packet */
            if (c->inlen + avail > c->incap) {
                c->incap = c->inlen + avail;
                c->in = xrealloc(c->in, c->incap);
            }
            memcpy(c->in + c->inlen, rbuf, avail);
            c->inlen += avail;
            p = c->in;
            avail = c->inlen;
        }
        size_t pos = 0;
        while (avail - pos >= 2) {
            uint32_t rl = 0;
            size_t i = 1;
            int shift = 0;
            bool done = false;
            while (i < avail - pos && i <= 4) {
                uint8_t byte = p[pos + i++];
                rl |= (uint32_t)(byte & 0x7f) << shift;
                shift += 7;
                if (!(byte & 0x80)) {
                    done = true;
                    break;
                }
            }
            if (!done || avail - pos - i < rl)
                break;
            on_packet(c, p[pos], p + pos + i, rl, t);
            pos += i + rl;
        }
        size_t rest = avail - pos;
        if (rest && p != c->in) {
            if (rest > c->incap) {
                c->incap = rest < 4096 ? 4096 : rest;
                c->in = xrealloc(c->in, c->incap);
            }
            memcpy(c->in, p + pos, rest);
        } else if (rest) {
            memmove(c->in, c->in + pos, rest);
        }
        c->inlen = rest;
        if ((size_t)n < sizeof rbuf)
            return;
    }
}

#ifdef MQBENCH_TLS
/*
 * connect --tls: the handshake, then CONNECT, CONNACK, DISCONNECT and close,
 * all through WolfSSL on the non-blocking socket. Small packets only, so a
 * write either goes whole or the cycle fails.
 */
static WOLFSSL_CTX *tls_ctx;

static void tls_init(void)
{
    wolfSSL_Init();
    tls_ctx = wolfSSL_CTX_new(wolfTLS_client_method());
    if (!tls_ctx || wolfSSL_CTX_load_verify_locations(tls_ctx, o_tls, NULL) != WOLFSSL_SUCCESS) {
        fprintf(stderr, "mqbench: cannot load CA file %s\n", o_tls);
        exit(2);
    }
}

static void tls_done(struct conn *c)
{
    wolfSSL_free(c->ssl);
    c->ssl = NULL;
    conn_close(c);
}

static void tls_step(struct conn *c)
{
    WOLFSSL *ssl = c->ssl;
    int r = 0;
    if (c->st == S_CONNECTING) {
        if ((r = wolfSSL_connect(ssl)) == WOLFSSL_SUCCESS) {
            char cid[64];
            static unsigned long serial;
            snprintf(cid, sizeof cid, "mqb-t%d-%lu-%d", c->idx, serial++, (int)getpid());
            uint8_t p[640];
            int n = (int)build_connect(p, cid, o_user != NULL);
            if (wolfSSL_write(ssl, p, n) != n) {
                fprintf(stderr, "mqbench: TLS write failed\n");
                tls_done(c);
                return;
            }
            c->st = S_WAIT_CONNACK;
            set_pollout(c, false);
        }
    }
    if (c->st == S_WAIT_CONNACK) {
        uint8_t b[64];
        if ((r = wolfSSL_read(ssl, b, sizeof b)) > 0) {
            if (r < 4 || b[0] != 0x20 || b[3] != 0) {
                fprintf(stderr, "mqbench: TLS CONNACK refused\n");
                exit(3);
            }
            uint8_t d[2] = {0xe0, 0};
            wolfSSL_write(ssl, d, 2);
            c->cycles++;
            tls_done(c);
            return;
        }
    }
    int err = wolfSSL_get_error(ssl, r);
    if (err == WOLFSSL_ERROR_WANT_READ) {
        set_pollout(c, false);
    } else if (err == WOLFSSL_ERROR_WANT_WRITE) {
        set_pollout(c, true);
    } else {
        char msg[80];
        fprintf(stderr, "mqbench: TLS: %s\n", wolfSSL_ERR_error_string((unsigned long)err, msg));
        tls_done(c);
    }
}
#endif

static void on_event(struct epoll_event *ev)
{
    struct conn *c = ev->data.ptr;
    if (c->st == S_DEAD)
        return;
#ifdef MQBENCH_TLS
    if (o_tls) {
        if (!c->ssl) {
            if (ev->events & (EPOLLERR | EPOLLHUP)) {
                fprintf(stderr, "mqbench: TLS connect failed\n");
                exit(3);
            }
            if (!(c->ssl = wolfSSL_new(tls_ctx)) || wolfSSL_set_fd(c->ssl, c->fd) != WOLFSSL_SUCCESS)
                die("wolfSSL_new");
        }
        tls_step(c);
        return;
    }
#endif
    if (c->st == S_CONNECTING) {
        if (ev->events & (EPOLLERR | EPOLLHUP)) {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            fprintf(stderr, "mqbench: connect: %s\n", strerror(err));
            exit(3);
        }
        if (ev->events & EPOLLOUT) {
            if (c->outlen == 0)
                conn_send_connect(c);
            else
                c->st = S_WAIT_CONNACK; /* conn_open built it; the socket was not ready */
            flush_conn(c);
        }
        return;
    }
    if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        on_readable(c);
    if (c->st != S_DEAD && (ev->events & EPOLLOUT))
        flush_conn(c);
}

static void poll_once(int timeout_ms)
{
    struct epoll_event evs[512];
    int n = epoll_wait(ep, evs, 512, timeout_ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait");
    for (int i = 0; i < n; i++)
        on_event(&evs[i]);
    flush_all();
}

/* Runs the loop until every connection of `list` is in `st`, or the deadline. */
static bool wait_state(struct conn **list, int n, enum state st, double secs)
{
    uint64_t deadline = now_ns() + (uint64_t)(secs * 1e9);
    for (;;) {
        int ok = 0;
        for (int i = 0; i < n; i++)
            ok += list[i]->st == st;
        if (ok == n)
            return true;
        if (now_ns() > deadline)
            return false;
        poll_once(10);
    }
}

/* ---------------------------------------------------------------- publishing */
static uint64_t min_recv(int pub)
{
    uint64_t m = UINT64_MAX;
    for (int s = 0; s < o_subs; s++) {
        uint64_t v = recv_cnt[(size_t)s * (size_t)o_pubs + (size_t)pub];
        if (v < m)
            m = v;
    }
    return m;
}

/* Appends one PUBLISH with its sequence number and timestamp patched in. */
static void queue_publish(struct conn *c, uint64_t ts)
{
    out_reserve(c, c->pktlen);
    uint8_t *d = c->out + c->outlen;
    memcpy(d, c->pkt, c->pktlen);
    if (o_qos) {
        uint16_t pid = c->next_pid;
        c->next_pid = (uint16_t)(pid == 65535 ? 1 : pid + 1);
        d[c->pidoff] = (uint8_t)(pid >> 8);
        d[c->pidoff + 1] = (uint8_t)pid;
        c->unacked++;
    }
    uint32_t pub = (uint32_t)c->idx, seq = (uint32_t)c->sent;
    memcpy(d + c->payoff, &pub, 4);
    memcpy(d + c->payoff + 4, &seq, 4);
    memcpy(d + c->payoff + 8, &ts, 8);
    c->outlen += c->pktlen;
    c->sent++;
    mark_dirty(c);
}

#define OUT_HIGH (64 * 1024) /* stop queueing on a publisher past this */

static void fill_publishers(void)
{
    uint64_t ts = now_ns();
    for (int i = 0; i < o_pubs; i++) {
        struct conn *c = pubs[i];
        if (c->st != S_READY)
            continue;
        uint64_t ahead = c->sent - min_recv(i);
        if (ahead >= (uint64_t)o_window)
            continue;
        uint64_t room = (uint64_t)o_window - ahead;
        if (o_qos && c->unacked < (uint32_t)o_inflight) {
            if (room > (uint64_t)o_inflight - c->unacked)
                room = (uint64_t)o_inflight - c->unacked;
        } else if (o_qos) {
            room = 0;
        }
        while (room-- && c->outlen - c->outoff < OUT_HIGH)
            queue_publish(c, ts);
    }
}

static uint64_t total_sent(void)
{
    uint64_t s = 0;
    for (int i = 0; i < o_pubs; i++)
        s += pubs[i]->sent;
    return s;
}

static void setup_pubsub(void)
{
    subs = calloc((size_t)o_subs, sizeof *subs);
    pubs = calloc((size_t)o_pubs, sizeof *pubs);
    recv_cnt = calloc((size_t)o_subs * (size_t)o_pubs, sizeof *recv_cnt);
    next_seq = calloc((size_t)o_subs * (size_t)o_pubs, sizeof *next_seq);
    if (!subs || !pubs || !recv_cnt || !next_seq)
        die("calloc");
    for (int i = 0; i < o_subs; i++)
        subs[i] = conn_open(R_SUB, i);
    if (!wait_state(subs, o_subs, S_READY, 10)) {
        fprintf(stderr, "mqbench: subscribers not ready\n");
        exit(3);
    }
    for (int i = 0; i < o_pubs; i++)
        pubs[i] = conn_open(R_PUB, i);
    if (!wait_state(pubs, o_pubs, S_READY, 10)) {
        fprintf(stderr, "mqbench: publishers not ready\n");
        exit(3);
    }
    /* Each publisher has its own topic, <tag>/<index>, in its own packet. */
    for (int i = 0; i < o_pubs; i++) {
        char topic[64];
        snprintf(topic, sizeof topic, "%s/%d", o_tag, i);
        build_publish(pubs[i], topic);
    }
}

/* Busy ticks of the whole machine (all CPUs; idle and iowait excluded). */
static uint64_t machine_ticks(void)
{
    char buf[512];
    int fd = open("/proc/stat", O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    unsigned long long v[8] = {0};
    if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) != 8)
        return 0;
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

static uint64_t m_start, m_end;

/* Call at the start of the measuring window, beside the proc_ticks() reads. */
static void machine_mark(void)
{
    m_start = machine_ticks();
}

static void print_common(double secs, uint64_t b0, uint64_t b1, uint64_t g0, uint64_t g1)
{
    double hz = (double)sysconf(_SC_CLK_TCK);
    printf("\"seconds\":%.3f,\"broker_cpu\":%.1f,\"gen_cpu\":%.1f,\"machine_cpu\":%.1f", secs,
           o_broker_pid ? 100.0 * (double)(b1 - b0) / hz / secs : -1.0,
           100.0 * (double)(g1 - g0) / hz / secs, 100.0 * (double)(m_end - m_start) / hz / secs);
}

static int run_thru(void)
{
    setup_pubsub();
    uint64_t t0 = now_ns();
    uint64_t t_start = t0 + (uint64_t)(o_warmup * 1e9);
    uint64_t t_end = t_start + (uint64_t)(o_duration * 1e9);
    uint64_t r0 = 0, r1 = 0, b0 = 0, b1 = 0, g0 = 0, g1 = 0, ts0 = 0, ts1 = 0;
    bool started = false;
    publishing = true;
    for (;;) {
        uint64_t t = now_ns();
        if (!started && t >= t_start) {
            started = true;
            ts0 = t;
            r0 = total_recv;
            b0 = o_broker_pid ? proc_ticks(o_broker_pid) : 0;
            g0 = proc_ticks(0);
            machine_mark();
        }
        if (started && t >= t_end) {
            ts1 = t;
            r1 = total_recv;
            b1 = o_broker_pid ? proc_ticks(o_broker_pid) : 0;
            g1 = proc_ticks(0);
            m_end = machine_ticks();
            break;
        }
        fill_publishers();
        flush_all();
        poll_once(1);
    }
    /* Drain: stop publishing, wait until every subscriber has everything. */
    publishing = false;
    uint64_t sent = total_sent();
    uint64_t expect = sent * (uint64_t)o_subs;
    uint64_t deadline = now_ns() + (uint64_t)(o_drain * 1e9);
    while (total_recv < expect && now_ns() < deadline)
        poll_once(5);
    double secs = (double)(ts1 - ts0) / 1e9;
    printf("{\"mode\":\"thru\",\"qos\":%d,\"pubs\":%d,\"subs\":%d,\"rate\":%.0f,"
           "\"sent\":%llu,\"delivered\":%llu,\"lost\":%lld,\"dups\":%llu,",
           o_qos, o_pubs, o_subs, (double)(r1 - r0) / secs, (unsigned long long)sent,
           (unsigned long long)total_recv, (long long)(expect - total_recv),
           (unsigned long long)total_dups);
    print_common(secs, b0, b1, g0, g1);
    printf("}\n");
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_of(const uint64_t *v, size_t n, double p)
{
    if (!n)
        return -1;
    size_t i = (size_t)(p / 100.0 * (double)n);
    if (i >= n)
        i = n - 1;
    return (double)v[i] / 1000.0; /* microseconds */
}

static double pct(double p) { return pct_of(lat, nlat, p); }

/* The storm: o_storm password CONNECTs at once; each disconnects when answered. */
static struct conn **storm;

static void storm_start(void)
{
    storm = calloc((size_t)o_storm, sizeof *storm);
    if (!storm)
        die("calloc");
    for (int i = 0; i < o_storm; i++) {
        storm[i] = conn_open(R_CONN, i);
        storm[i]->storm = true;
    }
}

static bool storm_over(void)
{
    for (int i = 0; i < o_storm; i++)
        if (storm[i]->st != S_DEAD)
            return false;
    return true;
}

static int run_lat(void)
{
    o_pubs = 1;
    o_subs = 1;
    setup_pubsub();
    latcap = (size_t)(o_rate * (o_duration + 1)) + 1024;
    lat = xrealloc(NULL, latcap * sizeof *lat);
    uint64_t period = (uint64_t)(1e9 / o_rate);
    uint64_t t0 = now_ns();
    lat_from = t0 + (uint64_t)(o_warmup * 1e9);
    lat_to = lat_from + (uint64_t)(o_duration * 1e9);
    uint64_t next = t0, scheduled = 0;
    uint64_t b0 = 0, b1 = 0, g0 = 0, g1 = 0;
    bool started = false;
    publishing = true;
    struct conn *c = pubs[0];
    /* With a storm the stream goes on past lat_to until the storm is over. */
    uint64_t stop = o_storm ? lat_to + 60ull * 1000000000ull : lat_to, storm_to = 0;
    for (;;) {
        uint64_t t = now_ns();
        if (!started && t >= lat_from) {
            started = true;
            b0 = o_broker_pid ? proc_ticks(o_broker_pid) : 0;
            g0 = proc_ticks(0);
            machine_mark();
        }
        if (o_storm && !storm && t >= lat_to)
            storm_start();
        if (storm && !storm_to && storm_over())
            stop = storm_to = t;
        if (t >= stop)
            break;
        /* Send everything that is due, stamped with its scheduled time. A
         * full QoS window delays sending but not the stamp. */
        while (next <= t && next < stop && c->st == S_READY &&
               (!o_qos || c->unacked < (uint32_t)o_inflight)) {
            queue_publish(c, next);
            scheduled++;
            next += period;
        }
        flush_all();
        struct epoll_event evs[64];
        uint64_t wait = next > t ? next - t : 0;
        struct timespec to = {.tv_sec = (time_t)(wait / 1000000000ull),
                              .tv_nsec = (long)(wait % 1000000000ull)};
        int n = epoll_pwait2(ep, evs, 64, &to, NULL);
        for (int i = 0; i < n; i++)
            on_event(&evs[i]);
        flush_all();
    }
    b1 = o_broker_pid ? proc_ticks(o_broker_pid) : 0;
    g1 = proc_ticks(0);
    m_end = machine_ticks();
    publishing = false;
    uint64_t deadline = now_ns() + (uint64_t)(o_drain * 1e9);
    while (total_recv < c->sent && now_ns() < deadline)
        poll_once(5);
    qsort(lat, nlat, sizeof *lat, cmp_u64);
    /* CPU use is over everything measured: the baseline and the storm. */
    double secs = (double)((o_storm ? stop : lat_to) - lat_from) / 1e9;
    if (o_storm) {
        size_t k = 0; /* the samples scheduled while the storm lasted */
        for (size_t i = 0; i < nslat; i++)
            if (!storm_to || slat_ts[i] < storm_to)
                slat[k++] = slat[i];
        qsort(slat, k, sizeof *slat, cmp_u64);
        double p99 = pct(99), sp99 = pct_of(slat, k, 99);
        printf("{\"storm\":%d,\"storm_ok\":%llu,\"storm_refused\":%llu,"
               "\"storm_s\":%.3f,\"storm_samples\":%zu,\"p99_storm_us\":%.1f,"
               "\"p999_storm_us\":%.1f,\"storm_ratio\":%.3f,",
               o_storm, (unsigned long long)storm_ok, (unsigned long long)storm_refused,
               storm_to ? (double)(storm_to - lat_to) / 1e9 : -1.0, k, sp99,
               pct_of(slat, k, 99.9), p99 > 0 ? sp99 / p99 : -1.0);
    } else {
        printf("{");
    }
    printf("\"mode\":\"lat\",\"qos\":%d,\"rate_target\":%.0f,\"samples\":%zu,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"sent\":%llu,\"delivered\":%llu,\"lost\":%lld,\"dups\":%llu,",
           o_qos, o_rate, nlat, pct(50), pct(99), pct(99.9),
           nlat ? (double)lat[nlat - 1] / 1000.0 : -1.0, (unsigned long long)c->sent,
           (unsigned long long)total_recv, (long long)(c->sent - total_recv),
           (unsigned long long)total_dups);
    print_common(secs, b0, b1, g0, g1);
    printf("}\n");
    return 0;
}

static int run_idle(void)
{
    conns = calloc((size_t)o_conns, sizeof *conns);
    if (!conns)
        die("calloc");
    uint64_t deadline = now_ns() + 60ull * 1000000000ull;
    int opened = 0, ready = 0;
    /* At most 128 handshakes at once: stay below the listen backlog. */
    while (ready < o_conns && now_ns() < deadline) {
        while (opened < o_conns && opened - ready < 128)
            conns[opened] = conn_open(R_IDLE, opened), opened++;
        poll_once(10);
        ready = 0;
        for (int i = 0; i < opened; i++) {
            if (conns[i]->st == S_DEAD) {
                fprintf(stderr, "mqbench: idle connection %d closed\n", i);
                exit(3);
            }
            ready += conns[i]->st == S_READY;
        }
    }
    if (ready < o_conns) {
        fprintf(stderr, "mqbench: only %d of %d connections ready\n", ready, o_conns);
        exit(3);
    }
    fprintf(stderr, "READY %d\n", ready);
    uint64_t hold_end = now_ns() + (uint64_t)(o_hold * 1e9);
    int dead = 0;
    while (now_ns() < hold_end)
        poll_once(50);
    for (int i = 0; i < o_conns; i++)
        dead += conns[i]->st == S_DEAD;
    printf("{\"mode\":\"idle\",\"conns\":%d,\"closed_by_broker\":%d}\n", o_conns, dead);
    return 0;
}

static int run_connect(void)
{
    struct conn **slot = calloc((size_t)o_par, sizeof *slot);
    if (!slot)
        die("calloc");
    for (int i = 0; i < o_par; i++)
        slot[i] = conn_open(R_CONN, i);
    uint64_t t0 = now_ns();
    uint64_t t_start = t0 + (uint64_t)(o_warmup * 1e9);
    uint64_t t_end = t_start + (uint64_t)(o_duration * 1e9);
    uint64_t done = 0, d0 = 0, d1 = 0, b0 = 0, b1 = 0, g0 = 0, g1 = 0, ts0 = 0, ts1 = 0;
    bool started = false;
    for (;;) {
        uint64_t t = now_ns();
        if (!started && t >= t_start) {
            started = true;
            ts0 = t;
            d0 = done;
            b0 = o_broker_pid ? proc_ticks(o_broker_pid) : 0;
            g0 = proc_ticks(0);
            machine_mark();
        }
        if (started && t >= t_end) {
            ts1 = t;
            d1 = done;
            b1 = o_broker_pid ? proc_ticks(o_broker_pid) : 0;
            g1 = proc_ticks(0);
            m_end = machine_ticks();
            break;
        }
        poll_once(5);
        for (int i = 0; i < o_par; i++) {
            if (slot[i]->st != S_DEAD)
                continue;
            done += slot[i]->cycles;
            int idx = slot[i]->idx;
            free(slot[i]->in);
            free(slot[i]->out);
            free(slot[i]);
            slot[i] = conn_open(R_CONN, idx);
        }
    }
    double secs = (double)(ts1 - ts0) / 1e9;
    printf("{\"mode\":\"connect\",\"par\":%d,\"rate\":%.0f,\"cycles\":%llu,\"lost\":0,",
           o_par, (double)(d1 - d0) / secs, (unsigned long long)done);
    print_common(secs, b0, b1, g0, g1);
    printf("}\n");
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: mqbench MODE [options]\n"
            "  MODE: thru | lat | idle | connect\n"
            "  --port N --pubs N --subs N --qos N --payload BYTES --window N --inflight N\n"
            "  --warmup S --duration S --drain S --rate MSGS_PER_S --conns N --hold S\n"
            "  --par N --broker-pid PID (for CPU use)\n"
            "  --user U --pass P (password CONNECT: connect mode, storm clients)\n"
            "  --storm N (lat: N password connects at once after the baseline)\n"
            "  --tls CAFILE (connect mode over TLS; needs a build with MQBENCH_TLS)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    o_mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(k, "--port")) o_port = atoi(v);
        else if (!strcmp(k, "--pubs")) o_pubs = atoi(v);
        else if (!strcmp(k, "--subs")) o_subs = atoi(v);
        else if (!strcmp(k, "--qos")) o_qos = atoi(v);
        else if (!strcmp(k, "--payload")) o_paylen = atoi(v);
        else if (!strcmp(k, "--window")) o_window = atoi(v);
        else if (!strcmp(k, "--inflight")) o_inflight = atoi(v);
        else if (!strcmp(k, "--warmup")) o_warmup = atof(v);
        else if (!strcmp(k, "--duration")) o_duration = atof(v);
        else if (!strcmp(k, "--drain")) o_drain = atof(v);
        else if (!strcmp(k, "--rate")) o_rate = atof(v);
        else if (!strcmp(k, "--conns")) o_conns = atoi(v);
        else if (!strcmp(k, "--hold")) o_hold = atof(v);
        else if (!strcmp(k, "--par")) o_par = atoi(v);
        else if (!strcmp(k, "--broker-pid")) o_broker_pid = atoi(v);
        else if (!strcmp(k, "--user")) o_user = v;
        else if (!strcmp(k, "--pass")) o_pass = v;
        else if (!strcmp(k, "--storm")) o_storm = atoi(v);
        else if (!strcmp(k, "--tls")) o_tls = v;
        else usage();
    }
    if (o_pubs < 1 || o_subs < 1 || o_qos < 0 || o_qos > 2 || o_paylen < 16 ||
        o_paylen > 400 || o_window < 1 || o_inflight < 1 || o_rate <= 0 || o_par < 1 ||
        o_conns < 1 || o_duration <= 0 || o_duration > 60 || o_warmup < 0 || o_warmup > 60 ||
        (o_user && (!o_pass || strlen(o_user) > 200 || strlen(o_pass) > 200)) ||
        (o_storm && (o_storm < 0 || !o_user)))
        usage();
#ifdef MQBENCH_TLS
    if (o_tls)
        tls_init();
#else
    if (o_tls) {
        fprintf(stderr, "mqbench: built without TLS (MQBENCH_TLS)\n");
        return 2;
    }
#endif
    /* As many descriptors as the hard limit allows. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    prctl(PR_SET_TIMERSLACK, 1UL); /* wake at the scheduled send time, not 50 us later */
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(o_mode, "thru"))
        return run_thru();
    if (!strcmp(o_mode, "lat"))
        return run_lat();
    if (!strcmp(o_mode, "idle"))
        return run_idle();
    if (!strcmp(o_mode, "connect"))
        return run_connect();
    usage();
    return 2;
}
