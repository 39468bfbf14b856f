/*
 * relay.c - the trivial relay that bounds the load generator's ceiling.
 *
 * Speaks just enough MQTT for mqbench's QoS 0 scenarios: CONNECT gets a
 * CONNACK, SUBSCRIBE a SUBACK, PINGREQ a PINGRESP, DISCONNECT closes, and
 * every PUBLISH is copied byte for byte to every connection that has
 * subscribed (no topic matching, no sessions, no QoS). One thread, epoll,
 * one read of up to 256 KiB per readable socket, output gathered per
 * connection and written once per loop iteration. Whatever rate mqbench
 * reaches against it is the most it can measure on this machine.
 *
 * usage: relay PORT   (127.0.0.1 only; runs until SIGTERM/SIGINT)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct rconn {
    int fd;
    bool sub;                 /* has sent SUBSCRIBE: receives every PUBLISH */
    bool dirty, pollout, dead;
    uint8_t *in;              /* carried partial packet */
    size_t inlen, incap;
    uint8_t *out;             /* pending output out[off..len) */
    size_t off, len, cap;
    struct rconn *next_dirty;
    struct rconn *next_sub;
};

static int ep;
static struct rconn *dirty, *subs;
static volatile sig_atomic_t stop;

static void on_sig(int s)
{
    (void)s;
    stop = 1;
}

static void append(struct rconn *c, const uint8_t *p, size_t n)
{
    if (c->dead)
        return;
    if (c->off == c->len)
        c->off = c->len = 0;
    if (c->len + n > c->cap) {
        if (c->off) {
            memmove(c->out, c->out + c->off, c->len - c->off);
            c->len -= c->off;
            c->off = 0;
        }
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + n)
            cap *= 2;
        if (cap != c->cap) {
            uint8_t *q = realloc(c->out, cap);
            if (!q)
                abort();
            c->out = q;
            c->cap = cap;
        }
    }
    memcpy(c->out + c->len, p, n);
    c->len += n;
    if (!c->dirty) {
        c->dirty = true;
        c->next_dirty = dirty;
        dirty = c;
    }
}

static void kill_conn(struct rconn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    for (struct rconn **pp = &subs; *pp; pp = &(*pp)->next_sub)
        if (*pp == c) {
            *pp = c->next_sub;
            break;
        }
    /* freed lazily: never, a benchmark relay lives for seconds */
}

static void flush(struct rconn *c)
{
    while (!c->dead && c->off < c->len) {
        ssize_t n = write(c->fd, c->out + c->off, c->len - c->off);
        if (n > 0) {
            c->off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->pollout) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                c->pollout = true;
            }
            return;
        } else if (!(n < 0 && errno == EINTR)) {
            kill_conn(c);
            return;
        }
    }
    if (c->pollout && !c->dead) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->pollout = false;
    }
}

static void packet(struct rconn *c, const uint8_t *p, size_t n, size_t hl)
{
    static const uint8_t connack[4] = {0x20, 2, 0, 0}, pingresp[2] = {0xd0, 0};
    switch (p[0] >> 4) {
    case 1:
        append(c, connack, 4);
        break;
    case 3:
        for (struct rconn *s = subs; s; s = s->next_sub)
            append(s, p, n);
        if (((p[0] >> 1) & 3) == 1 && n >= hl + 2) { /* PUBACK: topic length + topic + id */
            size_t tl = ((size_t)p[hl] << 8) | p[hl + 1];
            if (hl + 2 + tl + 2 <= n) {
                uint8_t a[4] = {0x40, 2, p[hl + 2 + tl], p[hl + 3 + tl]};
                append(c, a, 4);
            }
        }
        break;
    case 8:
        if (n >= hl + 2) {
            uint8_t a[5] = {0x90, 3, p[hl], p[hl + 1], 0};
            append(c, a, 5);
        }
        if (!c->sub) {
            c->sub = true;
            c->next_sub = subs;
            subs = c;
        }
        break;
    case 12:
        append(c, pingresp, 2);
        break;
    case 14:
        kill_conn(c);
        break;
    default:
        break;
    }
}

static void readable(struct rconn *c)
{
    static uint8_t rbuf[256 * 1024];
    ssize_t n = read(c->fd, rbuf, sizeof rbuf);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            kill_conn(c);
        return;
    }
    uint8_t *p = rbuf;
    size_t avail = (size_t)n;
    if (c->inlen) {
        if (c->inlen + avail > c->incap) {
            c->incap = c->inlen + avail;
            c->in = realloc(c->in, c->incap);
            if (!c->in)
                abort();
        }
        memcpy(c->in + c->inlen, rbuf, avail);
        c->inlen += avail;
        p = c->in;
        avail = c->inlen;
    }
    size_t pos = 0;
    while (avail - pos >= 2 && !c->dead) {
        uint32_t rl = 0;
        size_t i = 1;
        int shift = 0;
        bool done = false;
        while (i < avail - pos && i <= 4) {
            uint8_t b = p[pos + i++];
            rl |= (uint32_t)(b & 0x7f) << shift;
            shift += 7;
            if (!(b & 0x80)) {
                done = true;
                break;
            }
        }
        if (!done || avail - pos - i < rl)
            break;
        packet(c, p + pos, i + rl, i);
        pos += i + rl;
    }
    size_t rest = avail - pos;
    if (rest && p == rbuf) {
        if (rest > c->incap) {
            c->incap = rest;
            c->in = realloc(c->in, rest);
            if (!c->in)
                abort();
        }
        memcpy(c->in, p + pos, rest);
    } else if (rest) {
        memmove(c->in, c->in + pos, rest);
    }
    c->inlen = rest;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: relay PORT\n");
        return 2;
    }
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1024) < 0) {
        perror("relay: listen");
        return 1;
    }
    ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    while (!stop) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct rconn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct rconn *nc = calloc(1, sizeof *nc);
                    if (!nc)
                        abort();
                    nc->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (c->dead)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                readable(c);
            if (!c->dead && (evs[i].events & EPOLLOUT))
                flush(c);
        }
        while (dirty) {
            struct rconn *c = dirty;
            dirty = c->next_dirty;
            c->dirty = false;
            flush(c);
        }
    }
    return 0;
}
