/*
 * conn.c - a client connection: read, frame, dispatch through the packet
 * table, encode replies into the output buffer, flush, close.
 *
 * The packet table says, per type, which decoder runs, in which states the
 * packet may arrive and from which protocol version; the dispatcher checks
 * that, so handlers never repeat those checks. Decoding finishes before a
 * handler runs. Input is read in bounded slices per readiness event so one
 * busy client cannot starve the others.
 */
#include "conn.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "tokauth.h"
#include "broker.h"
#include "codec.h"
#include "log.h"
#include "mem.h"
#include "session.h"
#include "tls.h"

#define READ_BUDGET (256 * 1024) /* bytes read per readiness event */
#define ST_NEW (1u << CONN_NEW)
#define ST_ACTIVE (1u << CONN_ACTIVE)

typedef void (*handler_fn)(struct conn *c, struct mqtt_packet *p);

static const struct packet_rule {
    codec_decode_fn decode;
    handler_fn handle;
    uint8_t states;      /* ST_* bits in which the packet is allowed */
    uint8_t min_version;
} packet_table[16] = {
    [MQTT_CONNECT] = {codec_decode_connect, handle_connect, ST_NEW, 0},
    [MQTT_PUBLISH] = {codec_decode_publish, handle_publish, ST_ACTIVE, MQTT_V31},
    [MQTT_PUBACK] = {codec_decode_ack, handle_ack, ST_ACTIVE, MQTT_V31},
    [MQTT_PUBREC] = {codec_decode_ack, handle_ack, ST_ACTIVE, MQTT_V31},
    [MQTT_PUBREL] = {codec_decode_ack, handle_ack, ST_ACTIVE, MQTT_V31},
    [MQTT_PUBCOMP] = {codec_decode_ack, handle_ack, ST_ACTIVE, MQTT_V31},
    [MQTT_SUBSCRIBE] = {codec_decode_subscribe, handle_subscribe, ST_ACTIVE, MQTT_V31},
    [MQTT_UNSUBSCRIBE] = {codec_decode_unsubscribe, handle_unsubscribe, ST_ACTIVE, MQTT_V31},
    [MQTT_PINGREQ] = {codec_decode_empty, handle_pingreq, ST_ACTIVE, MQTT_V31},
    [MQTT_DISCONNECT] = {codec_decode_disconnect, handle_disconnect, ST_ACTIVE, MQTT_V31},
    [MQTT_AUTH] = {codec_decode_auth, handle_auth, ST_ACTIVE, MQTT_V5},
};

uint8_t conn_reason_for(enum wd_err e)
{
    switch (e) {
    case WD_EMALFORMED: return MQTT_RC_MALFORMED;
    case WD_ETOOLARGE: return MQTT_RC_PACKET_TOO_LARGE;
    case WD_ETOPIC: return MQTT_RC_TOPIC_NAME_INVALID;
    case WD_EPAYLOAD: return MQTT_RC_PAYLOAD_FORMAT_INVALID;
    case WD_ENOMEM: return MQTT_RC_UNSPECIFIED;
    case WD_ELIMIT: return MQTT_RC_QUOTA_EXCEEDED;
    case WD_EDENIED: return MQTT_RC_NOT_AUTHORIZED;
    default: return MQTT_RC_PROTOCOL_ERROR;
    }
}

void conn_mark_output(struct conn *c)
{
    if (c->in_flush)
        return;
    c->in_flush = true;
    c->flush_next = c->b->flush_list;
    c->b->flush_list = c;
}

static void on_io(struct loop_io *io, unsigned events);
static void on_timer(struct loop_timer *t);

void conn_accept(struct listener *lst, int fd, const char *addr)
{
    struct broker *b = lst->b;
    /* "1.2.3.4:5" or "[::1]:5" -> the address alone, for bans and counters:
     * both strings after the struct, in its block: "ip:port\0ip\0". */
    size_t alen = strlen(addr);
    const char *ip;
    size_t iplen = broker_addr_ip(addr, &ip);
    struct conn *c = wd_calloc(1, sizeof *c + alen + 1 + iplen + 1);
    if (!c) {
        log_warning("out of memory accepting %s", addr);
        close(fd);
        return;
    }
    c->b = b;
    c->lst = lst;
    c->problem_info = true;
    c->addr = c->peer;
    memcpy(c->addr, addr, alen + 1);
    c->ip = c->addr + alen + 1;
    memcpy(c->ip, ip, iplen);
    c->ip[iplen] = '\0';
    if (!auth_accept(b->auth, c->ip)) {
        log_info("refusing %s: too many connections from %s", addr, c->ip);
        close(fd);
        wd_free(c);
        return;
    }
    c->counted = true;
    buf_init(&c->in);
    buf_init(&c->out);
    loop_timer_init(&c->timer, on_timer);
    uint32_t timeout = b->cfg.connect_timeout;
    if (lst->tls) {
        c->state = CONN_TLS_HANDSHAKE;
        timeout = lst->cfg->tls.handshake_timeout;
        if (!(c->tls = tls_conn_new(lst->tls, fd))) {
            log_warning("out of memory accepting %s", addr);
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
    c->next = b->conns;
    if (b->conns)
        b->conns->prev = c;
    b->conns = c;
    b->nconns++;
    lst->nconns++;
    c->last_rx_ms = loop_now_ms(b->loop);
    loop_timer_arm(b->loop, &c->timer, (uint64_t)timeout * 1000);
    log_debug("accepted %s on %s", addr, lst->name);
}

void conn_close(struct conn *c, uint8_t reason, bool send_disconnect, bool send_will)
{
    if (c->state == CONN_CLOSING)
        return;
    if (send_disconnect && reason >= 0x80 && c->version == MQTT_V5 && c->state == CONN_ACTIVE) {
        struct mqtt_disconnect d = {.reason = reason};
        codec_encode_disconnect(&c->out, MQTT_V5, &d);
        conn_mark_output(c);
    }
    c->state = CONN_CLOSING;
    c->send_will = send_will;
    c->close_reason = reason;
    loop_timer_cancel(c->b->loop, &c->timer);
    if (!c->reaping) {
        c->reaping = true;
        c->reap_next = c->b->reap_list;
        c->b->reap_list = c;
    }
}

void conn_free(struct conn *c)
{
    struct broker *b = c->b;
    auth_cancel(c->ticket);
    if (c->counted)
        auth_release(b->auth, c->ip);
    handle_connect_pending_free(c->pending);
    if (c->token)
        loop_timer_cancel(b->loop, &c->token->expiry);
    tokauth_free(c->token);
    wd_free(c->username);
    loop_del(b->loop, &c->io);
    tls_conn_free(c->tls);
    close(c->io.fd);
    loop_timer_cancel(b->loop, &c->timer);
    if (c->prev)
        c->prev->next = c->next;
    else
        b->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    b->nconns--;
    c->lst->nconns--;
    buf_fini(&c->in);
    buf_fini(&c->out);
    for (uint16_t i = 0; i < c->alias_out_used; i++)
        wd_free(c->alias_out[i].topic);
    wd_free(c->alias_out);
    if (c->alias_in) {
        for (uint32_t i = 0; i < b->cfg.topic_alias_maximum; i++)
            wd_free(c->alias_in[i].topic);
        wd_free(c->alias_in);
    }
    wd_free(c);
}

/*
 * The transport under MQTT: the socket, or TLS records on it. Same contract
 * as recv()/send(): > 0 bytes, 0 end of stream (recv), -1 with errno
 * (EAGAIN: wait; the TLS error text is logged here).
 */
static ssize_t xport_recv(struct conn *c, void *p, size_t n)
{
    if (!c->tls)
        return recv(c->io.fd, p, n, 0);
    size_t got = 0;
    enum wd_err e = tls_recv(c->tls, p, n, &got);
    if (e == WD_OK)
        return (ssize_t)got;
    if (e == WD_ECLOSED)
        return 0;
    if (e == WD_EIO)
        log_info("TLS read from %s: %s", c->addr, tls_conn_error(c->tls));
    errno = e == WD_EAGAIN ? EAGAIN : EPROTO;
    return -1;
}

static ssize_t xport_send(struct conn *c, const void *p, size_t n)
{
    if (!c->tls)
        return send(c->io.fd, p, n, MSG_NOSIGNAL);
    size_t put = 0;
    enum wd_err e = tls_send(c->tls, p, n, &put);
    if (e == WD_OK)
        return (ssize_t)put;
    if (e == WD_EIO)
        log_info("TLS write to %s: %s", c->addr, tls_conn_error(c->tls));
    errno = e == WD_EAGAIN ? EAGAIN : e == WD_ECLOSED ? EPIPE : EPROTO;
    return -1;
}

void conn_flush(struct conn *c)
{
    while (buf_used(&c->out)) {
        ssize_t n = xport_send(c, buf_head(&c->out), buf_used(&c->out));
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->state != CONN_CLOSING)
                loop_set(c->b->loop, &c->io, LOOP_READABLE | LOOP_WRITABLE);
            return;
        }
        log_debug("send to %s: %s", c->addr, n < 0 ? strerror(errno) : "closed");
        buf_consume(&c->out, buf_used(&c->out));
        conn_close(c, MQTT_RC_UNSPECIFIED, false, true);
        return;
    }
    /* An idle connection keeps no output buffer; a busy one keeps a mid-sized buffer
     * rather than fault its pages in again every iteration; a huge one is given back. */
    if (c->out.cap <= 4096 || c->out.cap > 256 * 1024)
        buf_shrink(&c->out, 0);
    if (c->state != CONN_CLOSING)
        loop_set(c->b->loop, &c->io, LOOP_READABLE);
    /* The socket drained: a slow consumer's queue may move again. */
    if (c->s && c->s->queue.count && c->state == CONN_ACTIVE)
        session_pump(c->s);
}

static void dispatch(struct conn *c, uint8_t type, uint8_t flags, const uint8_t *body,
                     uint32_t len, uint32_t total)
{
    const struct packet_rule *r = &packet_table[type];
    if (c->state == CONN_NEW && type != MQTT_CONNECT) {
        /* [MQTT-3.1.0-1] the first packet must be CONNECT: close, no CONNACK. */
        log_info("first packet from %s is type %u, not CONNECT: closing", c->addr, type);
        conn_close(c, MQTT_RC_PROTOCOL_ERROR, false, false);
        return;
    }
    if (!r->handle || !(r->states & (1u << c->state)) || c->version < r->min_version) {
        /* Server-bound packet types only; a second CONNECT is a protocol error [MQTT-3.1.0-2]. */
        conn_close(c, MQTT_RC_PROTOCOL_ERROR, true, true);
        return;
    }
    struct mqtt_packet p;
    memset(&p, 0, sizeof p);
    p.type = type;
    p.flags = flags;
    p.length = total;
    enum wd_err e = r->decode(flags, body, len, c->version, &p);
    if (e != WD_OK) {
        if (type == MQTT_CONNECT) {
            handle_connect_error(c, &p, e);
            return;
        }
        log_info("bad %u packet from %s (%s): %s", type, c->addr,
                 c->s ? c->s->client_id : "-", wd_strerror(e));
        conn_close(c, conn_reason_for(e), true, true);
        return;
    }
    c->msgs_in++;
    r->handle(c, &p);
}

/*
 * Frame and dispatch the whole packets in p[0..len). Returns the bytes used;
 * a partial packet at the end is left for the caller to keep. On a bad
 * header the connection is closed and everything counts as used.
 */
static size_t process_bytes(struct conn *c, const uint8_t *p, size_t len)
{
    uint32_t max = c->b->cfg.max_packet_size;
    size_t off = 0;
    /* While authenticating, input waits in c->in (bounded in read_input). */
    while ((c->state == CONN_NEW || c->state == CONN_ACTIVE) && off < len) {
        uint8_t type, flags;
        uint32_t rem, hl;
        enum wd_err e = codec_fixed_header(p + off, len - off, max, &type, &flags, &rem, &hl);
        if (e == WD_EAGAIN)
            break;
        if (e != WD_OK) {
            log_info("bad packet header from %s: %s", c->addr, wd_strerror(e));
            conn_close(c, conn_reason_for(e), true, true);
            return len;
        }
        if (len - off < (size_t)hl + rem)
            break;
        c->last_rx_ms = loop_now_ms(c->b->loop);
        c->bytes_in += hl + rem;
        c->b->stats.bytes_received += hl + rem;
        dispatch(c, type, flags, p + off + hl, rem, hl + rem);
        off += (size_t)hl + rem;
    }
    return c->state == CONN_CLOSING ? len : off;
}

/*
 * Input goes first into the broker's shared read buffer and is processed
 * from there; only a partial packet is copied into the connection's own
 * buffer. So an idle connection holds no input buffer at all.
 */
static void read_input(struct conn *c)
{
    struct broker *b = c->b;
    size_t budget = READ_BUDGET;
    /* Bytes WolfSSL already decrypted raise no epoll event: read them past the budget. */
    while ((budget || (c->tls && tls_pending(c->tls))) && c->state != CONN_CLOSING) {
        ssize_t n = xport_recv(c, b->rbuf, sizeof b->rbuf);
        if (n > 0) {
            budget -= (size_t)n < budget ? (size_t)n : budget;
            enum wd_err e = WD_OK;
            if (buf_used(&c->in) == 0) {
                size_t used = process_bytes(c, b->rbuf, (size_t)n);
                if (used < (size_t)n)
                    e = buf_append(&c->in, b->rbuf + used, (size_t)n - used);
            } else if ((e = buf_append(&c->in, b->rbuf, (size_t)n)) == WD_OK) {
                buf_consume(&c->in, process_bytes(c, buf_head(&c->in), buf_used(&c->in)));
                buf_shrink(&c->in, 0);
            }
            if (e != WD_OK)
                conn_close(c, MQTT_RC_UNSPECIFIED, true, true);
            else if (c->state == CONN_AUTH &&
                     buf_used(&c->in) > (size_t)b->cfg.max_packet_size + 65536)
                conn_close(c, MQTT_RC_PACKET_TOO_LARGE, false, false);
            /* A short plain read drained the socket: the level-triggered loop says
             * when more comes (or EOF), so skip the recv() that would say EAGAIN. */
            if (!c->tls && (size_t)n < sizeof b->rbuf)
                return;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->tls && tls_want_write(c->tls)) /* TLS needs to write before it reads on */
                loop_set(b->loop, &c->io, LOOP_READABLE | LOOP_WRITABLE);
            return;
        }
        /* EOF or error: an abnormal close unless DISCONNECT came first. */
        log_debug("read from %s: %s", c->addr, n == 0 ? "end of stream" : strerror(errno));
        conn_close(c, MQTT_RC_UNSPECIFIED, false, true);
        return;
    }
}

void conn_resume_input(struct conn *c)
{
    if (buf_used(&c->in) == 0)
        return;
    buf_consume(&c->in, process_bytes(c, buf_head(&c->in), buf_used(&c->in)));
    buf_shrink(&c->in, 0);
}

/*
 * Advance the TLS handshake. When it completes the connection waits for
 * CONNECT under connect_timeout, and input that came with the last flight
 * is read at once.
 */
static void handshake(struct conn *c)
{
    struct broker *b = c->b;
    enum wd_err e = tls_handshake(c->tls);
    if (e == WD_EAGAIN) {
        loop_set(b->loop, &c->io, LOOP_READABLE | (tls_want_write(c->tls) ? LOOP_WRITABLE : 0));
        return;
    }
    if (e != WD_OK) {
        log_info("TLS handshake with %s on %s failed: %s", c->addr, c->lst->name,
                 tls_conn_error(c->tls));
        conn_close(c, MQTT_RC_NOT_AUTHORIZED, false, false);
        return;
    }
    const struct tls_info *ti = tls_conn_info(c->tls);
    if (ti->has_cert)
        log_info("TLS %s %s from %s: certificate %s=\"%s\" subject=\"%s\" sans=\"%s\" "
                 "sha256=%.16s...", ti->version, ti->cipher, c->addr,
                 tls_identity_name(c->lst->cfg->tls.cert_identity), ti->identity, ti->subject,
                 ti->sans, ti->fingerprint);
    else
        log_debug("TLS %s %s from %s: no client certificate", ti->version, ti->cipher, c->addr);
    c->state = CONN_NEW;
    loop_set(b->loop, &c->io, LOOP_READABLE);
    loop_timer_arm(b->loop, &c->timer, (uint64_t)b->cfg.connect_timeout * 1000);
    read_input(c);
}

static void on_io(struct loop_io *io, unsigned events)
{
    struct conn *c = container_of(io, struct conn, io);
    if (c->state == CONN_CLOSING)
        return;
    if (c->state == CONN_TLS_HANDSHAKE) {
        handshake(c);
        return;
    }
    if (events & LOOP_WRITABLE)
        conn_flush(c);
    /* A TLS read that waited for writability is retried on the writable event too. */
    if (((events & LOOP_READABLE) || c->tls) && c->state != CONN_CLOSING)
        read_input(c);
}

static void on_timer(struct loop_timer *t)
{
    struct conn *c = container_of(t, struct conn, timer);
    struct broker *b = c->b;
    if (c->state == CONN_TLS_HANDSHAKE) {
        log_info("TLS handshake with %s not done within %u s: closing", c->addr,
                 c->lst->cfg->tls.handshake_timeout);
        conn_close(c, MQTT_RC_MAX_CONNECT_TIME, false, false);
        return;
    }
    if (c->state == CONN_NEW || c->state == CONN_AUTH) {
        log_info("no CONNECT%s from %s within %u s: closing",
                 c->state == CONN_AUTH ? " authenticated" : "", c->addr, b->cfg.connect_timeout);
        conn_close(c, MQTT_RC_MAX_CONNECT_TIME, false, false);
        return;
    }
    if (c->state != CONN_ACTIVE || c->keepalive == 0)
        return;
    uint64_t limit = (uint64_t)c->keepalive * 1500;
    uint64_t idle = loop_now_ms(b->loop) - c->last_rx_ms;
    if (idle >= limit) {
        log_info("keepalive timeout client=%s addr=%s", c->s ? c->s->client_id : "-", c->addr);
        conn_close(c, MQTT_RC_KEEPALIVE_TIMEOUT, true, true);
        return;
    }
    loop_timer_arm(b->loop, &c->timer, limit - idle);
}

/* ---- output ---- */

/* The Reason String sent with a failure: fixed words, naming nothing secret. */
static const char *reason_text(uint8_t rc)
{
    switch (rc) {
    case MQTT_RC_NOT_AUTHORIZED: return "not authorized";
    case MQTT_RC_PAYLOAD_FORMAT_INVALID: return "payload is not valid UTF-8";
    case MQTT_RC_PACKET_ID_NOT_FOUND: return "packet identifier not found";
    case MQTT_RC_QUOTA_EXCEEDED: return "quota exceeded";
    case MQTT_RC_TOPIC_NAME_INVALID: return "topic name invalid";
    default: return NULL;
    }
}

void conn_send_ack(struct conn *c, uint8_t type, uint16_t pid, uint8_t reason)
{
    struct mqtt_ack a = {.type = type, .packet_id = pid, .reason = reason};
    /* [MQTT-3.1.2-29] only when the client did not ask us to leave them out. */
    const char *why = c->version == MQTT_V5 && c->problem_info ? reason_text(reason) : NULL;
    if (why) {
        a.props.present = MQTT_PROP_BIT(MQTT_P_REASON_STRING);
        a.props.reason_string = (struct mqtt_str){(const uint8_t *)why, (uint32_t)strlen(why)};
    }
    if (codec_encode_ack(&c->out, c->version, &a) != WD_OK) {
        conn_close(c, MQTT_RC_UNSPECIFIED, true, true);
        return;
    }
    conn_mark_output(c);
}

/* Find or assign an outbound alias for topic; 0 when none is available. */
static uint16_t alias_lookup(struct conn *c, const char *topic, uint16_t len, bool *fresh)
{
    *fresh = false;
    for (uint16_t i = 0; i < c->alias_out_used; i++)
        if (c->alias_out[i].len == len && memcmp(c->alias_out[i].topic, topic, len) == 0)
            return i + 1;
    if (c->alias_out_used >= c->alias_out_max)
        return 0;
    if (!c->alias_out) {
        c->alias_out = wd_calloc(c->alias_out_max, sizeof *c->alias_out);
        if (!c->alias_out)
            return 0;
    }
    char *copy = wd_strndup(topic, len);
    if (!copy)
        return 0;
    c->alias_out[c->alias_out_used] = (struct alias_out){copy, len};
    *fresh = true;
    return ++c->alias_out_used;
}

static void alias_forget_last(struct conn *c)
{
    c->alias_out_used--;
    wd_free(c->alias_out[c->alias_out_used].topic);
    c->alias_out[c->alias_out_used].topic = NULL;
}

/*
 * The fan-out cache. While route_publish() hands one message to its
 * subscribers, each variant of its PUBLISH (protocol version, QoS, RETAIN
 * flag) is encoded once, kept here, and copied into every further
 * subscriber's output with only the packet id patched. A delivery with
 * per-subscriber properties (5.0 Subscription Identifiers, topic alias,
 * Message Expiry) or DUP takes the encoder. Valid only between
 * conn_fanout_begin() and conn_fanout_end(), while the message is alive and
 * unchanged; fixed storage, so nothing to free and nothing counted.
 * Thread: broker (one routing pass at a time).
 */
#define FAN_VARIANTS 4
#define FAN_MAX 1024         /* larger PUBLISH packets are encoded per subscriber */

static struct {
    const struct msg *m;     /* the message being routed; NULL outside a pass */
    uint8_t n;               /* variants used */
    struct fan_variant {
        uint8_t version, qos;
        bool retain;
        uint16_t pid_off;    /* offset of the packet id (QoS > 0) */
        uint16_t len;
        uint8_t bytes[FAN_MAX];
    } v[FAN_VARIANTS];
} fan;

void conn_fanout_begin(const struct msg *m)
{
    fan.m = m;
    fan.n = 0;
}

void conn_fanout_end(void)
{
    fan.m = NULL;
}

/* Can d go to c as a copy of a shared encoding? */
static bool fan_eligible(const struct conn *c, const struct delivery *d, bool dup)
{
    if (d->m != fan.m || dup)
        return false;
    return c->version != MQTT_V5 ||
           (!d->m->expiry_at_ms && !d->nsubid && !c->alias_out_max);
}

static struct fan_variant *fan_find(uint8_t version, uint8_t qos, bool retain)
{
    for (uint8_t i = 0; i < fan.n; i++)
        if (fan.v[i].version == version && fan.v[i].qos == qos && fan.v[i].retain == retain)
            return &fan.v[i];
    return NULL;
}

/* Keep the PUBLISH just encoded at out[before..] as the variant for later subscribers. */
static void fan_keep(const struct conn *c, const struct delivery *d, size_t before, size_t size)
{
    if (fan.n == FAN_VARIANTS || size > FAN_MAX)
        return;
    struct fan_variant *v = &fan.v[fan.n++];
    const uint8_t *p = c->out.data + c->out.len - size;
    assert(c->out.len - size == before);
    v->version = c->version;
    v->qos = d->qos;
    v->retain = d->retain;
    v->len = (uint16_t)size;
    size_t hl = 1;           /* fixed header: type byte, then 1-4 remaining-length bytes */
    while (p[hl] & 0x80)
        hl++;
    hl++;
    /* the topic is sent in full here (no alias), so the packet id follows it */
    v->pid_off = (uint16_t)(hl + 2 + d->m->topic_len);
    memcpy(v->bytes, p, size);
}

enum wd_err conn_send_publish(struct conn *c, const struct delivery *d, bool dup)
{
    const struct msg *m = d->m;
    bool shared = fan_eligible(c, d, dup);
    struct fan_variant *fv = shared ? fan_find(c->version, d->qos, d->retain) : NULL;
    if (fv) {
        if (c->max_packet_out && fv->len > c->max_packet_out) {
            c->b->stats.msgs_dropped++; /* [MQTT-3.1.2-25] */
            return WD_ETOOLARGE;
        }
        if (buf_append(&c->out, fv->bytes, fv->len) != WD_OK)
            return WD_ENOMEM;
        if (d->qos) {
            uint8_t *pid = c->out.data + c->out.len - fv->len + fv->pid_off;
            pid[0] = (uint8_t)(d->pid >> 8);
            pid[1] = (uint8_t)d->pid;
        }
        c->msgs_out++;
        c->bytes_out += fv->len;
        c->b->stats.msgs_sent++;
        c->b->stats.bytes_sent += fv->len;
        conn_mark_output(c);
        return WD_OK;
    }
    struct mqtt_publish p = {
        .qos = d->qos,
        .dup = dup,
        .retain = d->retain,
        .topic = {(const uint8_t *)msg_topic(m), m->topic_len},
        .packet_id = d->qos ? d->pid : 0,
        .payload = {msg_payload(m), m->payload_len},
    };
    bool fresh = false;
    if (c->version == MQTT_V5) {
        struct mqtt_props *pr = &p.props;
        pr->extra = (struct mqtt_str){msg_props(m), m->props_len};
        if (m->expiry_at_ms) {
            uint64_t now = loop_now_ms(c->b->loop);
            uint64_t left = m->expiry_at_ms > now ? (m->expiry_at_ms - now + 999) / 1000 : 0;
            pr->present |= MQTT_PROP_BIT(MQTT_P_MESSAGE_EXPIRY);
            pr->message_expiry = (uint32_t)left;
        }
        if (d->nsubid) {
            pr->sub_ids = d->nsubid == 1 ? &d->subid : d->subids;
            pr->sub_id_count = d->nsubid;
        }
        if (c->alias_out_max) {
            uint16_t alias = alias_lookup(c, msg_topic(m), m->topic_len, &fresh);
            if (alias) {
                pr->present |= MQTT_PROP_BIT(MQTT_P_TOPIC_ALIAS);
                pr->topic_alias = alias;
                if (!fresh)
                    p.topic.len = 0;
            }
        }
    }
    size_t before = buf_used(&c->out);
    enum wd_err e = codec_encode_publish(&c->out, c->version, &p);
    if (e != WD_OK) {
        if (fresh)
            alias_forget_last(c);
        return e;
    }
    size_t size = buf_used(&c->out) - before;
    if (c->max_packet_out && size > c->max_packet_out) {
        /* [MQTT-3.1.2-25] never exceed the client's maximum: skip this message. */
        buf_truncate(&c->out, before);
        if (fresh)
            alias_forget_last(c);
        c->b->stats.msgs_dropped++;
        return WD_ETOOLARGE;
    }
    if (shared)
        fan_keep(c, d, before, size);
    c->msgs_out++;
    c->bytes_out += size;
    c->b->stats.msgs_sent++;
    c->b->stats.bytes_sent += size;
    conn_mark_output(c);
    return WD_OK;
}
