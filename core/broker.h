/*
 * broker.h - the broker: listeners, connections, sessions, the subscription
 * tree, retained messages and counters, all owned by the one broker thread.
 * Other threads reach it only through admin.h.
 */
#ifndef WD_BROKER_H
#define WD_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <regex.h>

#include "backend.h"
#include "config.h"
#include "err.h"
#include "loop.h"

struct conn;
struct session;
struct rtree;
struct tree;
struct admin;
struct auth;
struct route_entry;
struct tls_ctx;
struct http_conn;

#define WARDEN_VERSION "0.1.0"

struct listener {
    struct loop_io io;
    struct broker *b;
    struct config_listener *cfg;     /* borrows b->cfg.listeners[i] */
    int fd;
    uint16_t port;                   /* the bound port (resolves port 0) */
    char name[80];                   /* "127.0.0.1:1883" */
    uint32_t nconns;
    struct tls_ctx *tls;             /* holds a reference; NULL = plain TCP; swapped on SIGHUP */
    bool tls_stale_failed;           /* rebuilding for an expired CRL failed: don't retry per accept */
    int64_t crl_stamp;               /* crlfile's mtime (ns) + size, to notice it changing */
    regex_t clientid_re;             /* cfg->clientid_pattern, compiled */
    bool clientid_re_ok;
};

struct stats {
    uint64_t msgs_received, msgs_sent, bytes_received, bytes_sent;
    uint64_t connects_total;         /* successful CONNACKs */
    uint64_t msgs_dropped;           /* queue full, expired, too large */
    uint64_t msgs_denied;            /* publishes refused by topic rules */
    uint64_t denials;                /* requests refused by topic rules (perms_denied) */
    uint64_t auth_failures;          /* CONNECTs refused for credentials, bans, bindings */
    uint64_t peak_connections;
};

/* Exponentially decaying per-minute rates, as in $SYS/broker/load/. */
struct load {
    double rate[3];                  /* 1, 5, 15 minutes */
    uint64_t last;                   /* counter value at the previous sample */
};

struct broker {
    struct config cfg;               /* owned */
    struct loop *loop;
    struct listener *listeners;      /* owned array, cfg.nlisteners entries */
    size_t nlisteners;
    struct tree *subs;
    struct rtree *retained;          /* topic -> struct msg * (holds a reference) */
    struct session **sess_buckets;   /* hash table of sessions by client id */
    size_t sess_nbuckets, nsessions;
    uint64_t next_session_id;
    struct conn *conns;              /* list of all connections */
    uint32_t nconns;                 /* connections open (any state) */
    uint32_t nclients;               /* connections past CONNACK */
    struct http_conn *http_conns;   /* http.c: connections on HTTP listeners */
    uint32_t nhttp;
    struct conn *flush_list;
    struct conn *reap_list;
    struct stats stats;
    struct load load_msgs_in, load_msgs_out, load_bytes_in, load_bytes_out, load_conns;
    uint64_t start_ms;               /* loop time at start */
    uint64_t route_seq;              /* route.c: routing pass counter */
    struct route_entry *route;       /* route.c: scratch, reused per message */
    uint32_t route_cap;
    uint32_t *route_ids;             /* route.c: scratch subscription ids */
    uint32_t route_ids_cap;
    struct loop_timer sys_timer;
    struct loop_timer crl_timer;     /* watches the listeners' crlfile for changes */
    struct admin *admin;
    struct auth *auth;               /* identity checks (auth.h) */
    int sigfd;
    struct loop_io sig_io;
    bool stopping;
    int exit_code;
    uint8_t rbuf[64 * 1024];         /* conn.c: shared read buffer (one thread reads at a time) */
};

/*
 * Create a broker for cfg (takes cfg's contents; cfg is zeroed) and open its
 * listeners. ops: the identity store (NULL: none, every credential is wrong);
 * copied, and what ops->ctx points to must outlive the broker.
 * Returns NULL with the reason logged.
 */
struct broker *broker_new(struct config *cfg, const struct backend_ops *ops);
/* Run the event loop on the calling thread until broker_stop(). */
void broker_run(struct broker *b);
/* Ask the loop to stop: 5.0 clients get DISCONNECT 0x8B. Thread: broker. */
void broker_shutdown(struct broker *b);
void broker_free(struct broker *b);

/* Apply a re-read configuration (SIGHUP): limits and log level; log what needs a restart. */
void broker_reload(struct broker *b, struct config *fresh);

/* Wall clock seconds. */
uint64_t broker_wall(void);

/* The address part of "1.2.3.4:5" or "[::1]:5" (for bans and per-address
 * counters): *ip points into addr; returns its length. */
size_t broker_addr_ip(const char *addr, const char **ip);

#endif
