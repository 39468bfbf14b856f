/*
 * session.c - sessions: the table by client id, delivery (send now or queue),
 * the outbound QoS 1/2 window, inbound QoS 2 ids, subscriptions, will and
 * expiry.
 *
 * Workload: every routed message passes session_deliver(); a connected client
 * with room in its window and an uncongested socket gets the message encoded
 * straight into its output buffer, with no allocation (QoS 0) or one
 * reference taken (QoS 1/2). Queues and windows are rings of struct delivery.
 */
#include "session.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "conn.h"
#include "log.h"
#include "perms.h"
#include "mem.h"
#include "retain.h"
#include "route.h"
#include "topic.h"

/* ---- the table ---- */

static uint64_t hash_id(const char *id, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)id[i];
        h *= 1099511628211ULL;
    }
    return h;
}

struct session *session_find(struct broker *b, const char *id, size_t len)
{
    if (!b->sess_nbuckets)
        return NULL;
    struct session *s = b->sess_buckets[hash_id(id, len) & (b->sess_nbuckets - 1)];
    for (; s; s = s->hnext)
        if (s->id_len == len && memcmp(s->client_id, id, len) == 0)
            return s;
    return NULL;
}

static enum wd_err table_grow(struct broker *b)
{
    size_t n = b->sess_nbuckets ? b->sess_nbuckets * 2 : 256;
    struct session **nb = wd_calloc(n, sizeof *nb);
    if (!nb)
        return WD_ENOMEM;
    for (size_t i = 0; i < b->sess_nbuckets; i++) {
        struct session *s = b->sess_buckets[i];
        while (s) {
            struct session *next = s->hnext;
            size_t k = hash_id(s->client_id, s->id_len) & (n - 1);
            s->hnext = nb[k];
            nb[k] = s;
            s = next;
        }
    }
    wd_free(b->sess_buckets);
    b->sess_buckets = nb;
    b->sess_nbuckets = n;
    return WD_OK;
}

static void offline_timer_fired(struct loop_timer *t);

struct session *session_new(struct broker *b, const char *id, size_t len)
{
    assert(len <= UINT16_MAX);
    if (b->nsessions >= b->sess_nbuckets && table_grow(b) != WD_OK)
        return NULL;
    /* The id starts in the struct's tail padding (offsetof, not sizeof), but
     * the block is never smaller than the struct. */
    size_t n = offsetof(struct session, id_storage) + len + 1;
    struct session *s = wd_calloc(1, n > sizeof *s ? n : sizeof *s);
    if (!s)
        return NULL;
    memcpy(s->id_storage, id, len); /* NUL from calloc */
    s->client_id = s->id_storage;
    s->id_len = (uint16_t)len;
    s->id = ++b->next_session_id;
    s->b = b;
    loop_timer_init(&s->offline_timer, offline_timer_fired);
    size_t k = hash_id(id, len) & (b->sess_nbuckets - 1);
    s->hnext = b->sess_buckets[k];
    b->sess_buckets[k] = s;
    b->nsessions++;
    return s;
}

static void table_remove(struct session *s)
{
    struct broker *b = s->b;
    struct session **pp = &b->sess_buckets[hash_id(s->client_id, s->id_len) & (b->sess_nbuckets - 1)];
    while (*pp != s)
        pp = &(*pp)->hnext;
    *pp = s->hnext;
    b->nsessions--;
}

/* ---- delivery rings ---- */

static void delivery_fini(struct delivery *d)
{
    msg_unref(d->m);
    if (d->nsubid > 1)
        wd_free(d->subids);
    memset(d, 0, sizeof *d);
}

static struct delivery *ring_at(struct dring *r, uint32_t i)
{
    return &r->v[(r->head + i) % r->cap];
}

static enum wd_err ring_push(struct dring *r, const struct delivery *d)
{
    if (r->count == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 8;
        struct delivery *v = wd_malloc(cap * sizeof *v);
        if (!v)
            return WD_ENOMEM;
        for (uint32_t i = 0; i < r->count; i++)
            v[i] = *ring_at(r, i);
        wd_free(r->v);
        r->v = v;
        r->cap = cap;
        r->head = 0;
    }
    r->v[(r->head + r->count) % r->cap] = *d;
    r->count++;
    return WD_OK;
}

/* Remove entry i, keeping order; the entry is copied to *out. */
static void ring_remove(struct dring *r, uint32_t i, struct delivery *out)
{
    assert(i < r->count);
    *out = *ring_at(r, i);
    if (i == 0) {
        r->head = (r->head + 1) % r->cap;
    } else {
        for (uint32_t j = i; j + 1 < r->count; j++)
            *ring_at(r, j) = *ring_at(r, j + 1);
    }
    r->count--;
}

static void ring_clear(struct dring *r)
{
    for (uint32_t i = 0; i < r->count; i++)
        delivery_fini(ring_at(r, i));
    wd_free(r->v);
    memset(r, 0, sizeof *r);
}

static bool expired(const struct broker *b, const struct msg *m)
{
    return m->expiry_at_ms && m->expiry_at_ms <= loop_now_ms(b->loop);
}

static bool pid_in_flight(const struct session *s, uint16_t pid)
{
    for (uint32_t i = 0; i < s->inflight.count; i++)
        if (s->inflight.v[(s->inflight.head + i) % s->inflight.cap].pid == pid)
            return true;
    return false;
}

static uint16_t next_pid(struct session *s)
{
    do {
        if (++s->next_pid == 0)
            s->next_pid = 1;
    } while (pid_in_flight(s, s->next_pid));
    return s->next_pid;
}

static void drop(struct session *s, struct delivery *d)
{
    s->dropped++;
    s->b->stats.msgs_dropped++;
    delivery_fini(d);
}

/* Send a QoS 1/2 delivery that is not yet in flight: assign an id and move it in. */
static void send_in_flight(struct session *s, struct delivery *d)
{
    d->pid = next_pid(s);
    d->state = d->qos == 1 ? DLV_WAIT_PUBACK : DLV_WAIT_PUBREC;
    enum wd_err e = conn_send_publish(s->conn, d, false);
    if (e != WD_OK || ring_push(&s->inflight, d) != WD_OK) {
        drop(s, d);
        return;
    }
}

static bool queue_full(const struct session *s, size_t add)
{
    const struct config *cfg = &s->b->cfg;
    if (cfg->max_queued_messages && s->queue.count >= cfg->max_queued_messages)
        return true;
    return cfg->max_queued_bytes && s->queued_bytes + add > cfg->max_queued_bytes;
}

static void queue_add(struct session *s, struct delivery *d)
{
    size_t sz = msg_size(d->m);
    while (queue_full(s, sz)) {
        /* Make room by dropping the oldest QoS 0 message; if there is none, the new one. */
        uint32_t i;
        for (i = 0; i < s->queue.count; i++)
            if (ring_at(&s->queue, i)->qos == 0)
                break;
        if (i == s->queue.count) {
            drop(s, d);
            return;
        }
        struct delivery old;
        ring_remove(&s->queue, i, &old);
        s->queued_bytes -= msg_size(old.m);
        drop(s, &old);
    }
    if (ring_push(&s->queue, d) != WD_OK) {
        drop(s, d);
        return;
    }
    s->queued_bytes += sz;
}

static bool can_send(const struct session *s)
{
    return s->conn && s->conn->state == CONN_ACTIVE && !conn_congested(s->conn);
}

void session_deliver(struct session *s, struct msg *m, uint8_t qos, bool retain,
                     const uint32_t *subids, uint16_t nsubid)
{
    if (expired(s->b, m))
        return;
    /* Receive is checked per message: a wildcard subscription never leaks a denied topic. */
    if (!session_may(s, RULE_RECEIVE, msg_topic(m), m->topic_len, qos, false, NULL)) {
        perms_denied(s, RULE_RECEIVE, msg_topic(m), m->topic_len, qos, false);
        return;
    }
    bool online = s->conn && s->conn->state == CONN_ACTIVE;
    if (!online && qos == 0)
        return; /* QoS 0 is not kept for offline clients */
    struct delivery d = {.m = m, .qos = qos, .retain = retain, .nsubid = nsubid};
    if (nsubid == 1)
        d.subid = subids[0];
    if (qos == 0 && s->queue.count == 0 && can_send(s)) {
        d.subids = (uint32_t *)subids; /* borrowed for this call only */
        conn_send_publish(s->conn, &d, false);
        return;
    }
    if (nsubid > 1) {
        d.subids = wd_malloc(nsubid * sizeof *subids);
        if (!d.subids) {
            s->dropped++;
            return;
        }
        memcpy(d.subids, subids, nsubid * sizeof *subids);
    }
    msg_ref(m);
    if (qos > 0 && s->queue.count == 0 && can_send(s) && s->inflight.count < s->conn->window) {
        send_in_flight(s, &d);
        return;
    }
    queue_add(s, &d);
}

void session_pump(struct session *s)
{
    while (s->queue.count && can_send(s)) {
        struct delivery *front = ring_at(&s->queue, 0);
        if (front->qos > 0 && s->inflight.count >= s->conn->window)
            break;
        struct delivery d;
        ring_remove(&s->queue, 0, &d);
        s->queued_bytes -= msg_size(d.m);
        /* Queued under older permissions (an offline client): ask again. */
        if (expired(s->b, d.m) ||
            !session_may(s, RULE_RECEIVE, msg_topic(d.m), d.m->topic_len, d.qos, false, NULL)) {
            drop(s, &d);
            continue;
        }
        if (d.qos == 0) {
            conn_send_publish(s->conn, &d, false);
            delivery_fini(&d);
        } else {
            send_in_flight(s, &d);
        }
    }
}

void session_resume(struct session *s)
{
    for (uint32_t i = 0; i < s->inflight.count;) {
        struct delivery *d = ring_at(&s->inflight, i);
        if (d->state == DLV_WAIT_PUBCOMP) {
            conn_send_ack(s->conn, MQTT_PUBREL, d->pid, 0);
        } else if (conn_send_publish(s->conn, d, true) != WD_OK) {
            /* Too large for this connection's Maximum Packet Size (or no memory):
             * it can never be acknowledged, so it must not hold a window slot. */
            struct delivery gone;
            ring_remove(&s->inflight, i, &gone);
            drop(s, &gone);
            continue;
        }
        i++;
    }
    session_pump(s);
}

static int find_in_flight(struct session *s, uint16_t pid, uint8_t state)
{
    for (uint32_t i = 0; i < s->inflight.count; i++) {
        struct delivery *d = ring_at(&s->inflight, i);
        if (d->pid == pid)
            return d->state == state ? (int)i : -1;
    }
    return -1;
}

static enum wd_err complete(struct session *s, uint16_t pid, uint8_t state)
{
    int i = find_in_flight(s, pid, state);
    if (i < 0)
        return WD_ENOTFOUND;
    struct delivery d;
    ring_remove(&s->inflight, (uint32_t)i, &d);
    delivery_fini(&d);
    session_pump(s);
    return WD_OK;
}

enum wd_err session_puback(struct session *s, uint16_t pid)
{
    return complete(s, pid, DLV_WAIT_PUBACK);
}

enum wd_err session_pubrec(struct session *s, uint16_t pid, uint8_t reason)
{
    if (reason >= 0x80)
        return complete(s, pid, DLV_WAIT_PUBREC);
    int i = find_in_flight(s, pid, DLV_WAIT_PUBREC);
    if (i < 0) {
        /* A PUBREC repeated after our PUBREL: answer with PUBREL again. */
        if (find_in_flight(s, pid, DLV_WAIT_PUBCOMP) >= 0) {
            conn_send_ack(s->conn, MQTT_PUBREL, pid, 0);
            return WD_OK;
        }
        return WD_ENOTFOUND;
    }
    struct delivery *d = ring_at(&s->inflight, (uint32_t)i);
    d->state = DLV_WAIT_PUBCOMP;
    conn_send_ack(s->conn, MQTT_PUBREL, pid, 0);
    return WD_OK;
}

enum wd_err session_pubcomp(struct session *s, uint16_t pid)
{
    return complete(s, pid, DLV_WAIT_PUBCOMP);
}

/* ---- inbound QoS 2 ---- */

bool session_in_qos2_has(const struct session *s, uint16_t pid)
{
    for (uint32_t i = 0; i < s->n_in_qos2; i++)
        if (s->in_qos2[i] == pid)
            return true;
    return false;
}

enum wd_err session_in_qos2_add(struct session *s, uint16_t pid, uint32_t limit)
{
    if (s->n_in_qos2 >= limit)
        return WD_ELIMIT;
    if (s->n_in_qos2 == s->cap_in_qos2) {
        uint32_t cap = s->cap_in_qos2 ? s->cap_in_qos2 * 2 : 4;
        uint16_t *v = wd_realloc(s->in_qos2, cap * sizeof *v);
        if (!v)
            return WD_ENOMEM;
        s->in_qos2 = v;
        s->cap_in_qos2 = cap;
    }
    s->in_qos2[s->n_in_qos2++] = pid;
    return WD_OK;
}

bool session_in_qos2_del(struct session *s, uint16_t pid)
{
    for (uint32_t i = 0; i < s->n_in_qos2; i++) {
        if (s->in_qos2[i] == pid) {
            s->in_qos2[i] = s->in_qos2[--s->n_in_qos2];
            return true;
        }
    }
    return false;
}

/* ---- subscriptions ---- */

static int find_sub(const struct session *s, const char *filter, size_t flen)
{
    for (uint32_t i = 0; i < s->nsubs; i++)
        if (s->subs[i].flen == flen && memcmp(s->subs[i].filter, filter, flen) == 0)
            return (int)i;
    return -1;
}

enum wd_err session_subscribe(struct session *s, const char *filter, size_t flen,
                              const struct tree_opts *opts, bool *existed)
{
    bool shared;
    const char *group, *tf;
    size_t glen, tlen;
    enum wd_err e = topic_parse_shared(filter, flen, &shared, &group, &glen, &tf, &tlen);
    if (e)
        return e;
    int i = find_sub(s, filter, flen);
    *existed = i >= 0;
    if (i < 0 && s->nsubs == s->capsubs) {
        uint32_t cap = s->capsubs ? s->capsubs * 2 : 4;
        struct sub_rec *v = wd_realloc(s->subs, cap * sizeof *v);
        if (!v)
            return WD_ENOMEM;
        s->subs = v;
        s->capsubs = cap;
    }
    char *copy = NULL;
    if (i < 0 && !(copy = wd_strndup(filter, flen)))
        return WD_ENOMEM;
    bool replaced;
    e = tree_subscribe(s->b->subs, tf, tlen, shared ? group : NULL, shared ? glen : 0, s, opts,
                       &replaced);
    if (e) {
        wd_free(copy);
        return e;
    }
    if (i >= 0) {
        s->subs[i].opts = *opts;
        return WD_OK;
    }
    struct sub_rec *r = &s->subs[s->nsubs++];
    r->filter = copy;
    r->flen = (uint16_t)flen;
    r->group_off = shared ? (uint16_t)(group - filter) : 0;
    r->group_len = shared ? (uint16_t)glen : 0;
    r->topic_off = (uint16_t)(tf - filter);
    r->opts = *opts;
    return WD_OK;
}

static void sub_untree(struct session *s, const struct sub_rec *r)
{
    tree_unsubscribe(s->b->subs, r->filter + r->topic_off, r->flen - r->topic_off,
                     r->group_len ? r->filter + r->group_off : NULL, r->group_len, s);
}

enum wd_err session_unsubscribe(struct session *s, const char *filter, size_t flen)
{
    int i = find_sub(s, filter, flen);
    if (i < 0) {
        flight_note(&s->flight, FL_UNSUBSCRIBE, "%.*s: no such subscription", (int)flen, filter);
        return WD_ENOTFOUND;
    }
    flight_note(&s->flight, FL_UNSUBSCRIBE, "%.*s", (int)flen, filter);
    sub_untree(s, &s->subs[i]);
    wd_free(s->subs[i].filter);
    s->subs[i] = s->subs[--s->nsubs];
    return WD_OK;
}

/* ---- will and lifetime ---- */

void session_set_will(struct session *s, struct msg *m, uint32_t delay)
{
    msg_unref(s->will_m);
    s->will_m = m;
    s->will_delay = delay;
}

void session_fire_will(struct session *s)
{
    struct msg *m = s->will_m;
    if (!m)
        return;
    s->will_m = NULL;
    /* A will's Message Expiry Interval starts when it is published. */
    if (m->expiry_s)
        m->expiry_at_ms = loop_now_ms(s->b->loop) + (uint64_t)m->expiry_s * 1000;
    {
        log_info("will client=%s topic=%s", s->client_id, msg_topic(m));
        flight_note(&s->flight, FL_WILL, "will published on %.200s", msg_topic(m));
        if (m->retain)
            retain_store(s->b, m);
        route_publish(s->b, m);
    }
    msg_unref(m);
}

/* Does the pending will's delay end before the session does? (Else the end publishes it.) */
static bool will_first(const struct session *s)
{
    return s->will_m && (s->expiry == UINT32_MAX || s->will_delay < s->expiry);
}

static void offline_timer_fired(struct loop_timer *t)
{
    struct session *s = container_of(t, struct session, offline_timer);
    if (will_first(s)) {
        uint32_t delay = s->will_delay;
        session_fire_will(s);
        if (s->expiry != UINT32_MAX)
            loop_timer_arm(s->b->loop, &s->offline_timer, (uint64_t)(s->expiry - delay) * 1000);
        return;
    }
    log_info("session expired client=%s", s->client_id);
    session_end(s);
}

void session_set_perms(struct session *s, struct perms *perms, bool default_allow)
{
    struct perms *old = s->perms;
    s->perms = perms_ref(perms);
    s->default_allow = default_allow;
    perms_unref(old);
    /* Cached verdicts were those of the old permissions. The state itself is
     * made on first use (session_may, perms_denied): an idle client never
     * needs it, and it is one block per connection. */
    perms_state_reset(s->authz);
}

bool session_may(struct session *s, unsigned action, const char *topic, size_t tlen,
                 uint8_t qos, bool retain, uint8_t *granted)
{
    struct acl_subject who = {s->username, s->client_id, s->cn};
    /* Out of memory: no state, no cache (perms_check walks the rules). */
    if (!s->authz && action != RULE_SUBSCRIBE)
        s->authz = perms_state_new();
    return perms_check(s->authz, s->perms, s->default_allow, &who, action, topic, tlen, qos,
                       retain, granted);
}

void session_recheck(struct session *s)
{
    for (uint32_t i = 0; i < s->nsubs;) {
        struct sub_rec *r = &s->subs[i];
        uint8_t granted;
        if (session_may(s, RULE_SUBSCRIBE, r->filter + r->topic_off, r->flen - r->topic_off,
                        r->opts.qos, false, &granted)) {
            i++;
            continue;
        }
        log_notice("subscription %s of client=%s removed: no longer allowed", r->filter,
                   s->client_id);
        flight_note(&s->flight, FL_DENY, "subscription %.200s removed: rules changed", r->filter);
        sub_untree(s, r);
        wd_free(r->filter);
        s->subs[i] = s->subs[--s->nsubs];
    }
}

static void session_free(struct session *s)
{
    for (uint32_t i = 0; i < s->nsubs; i++) {
        sub_untree(s, &s->subs[i]);
        wd_free(s->subs[i].filter);
    }
    wd_free(s->subs);
    ring_clear(&s->inflight);
    ring_clear(&s->queue);
    wd_free(s->in_qos2);
    msg_unref(s->will_m);
    loop_timer_cancel(s->b->loop, &s->offline_timer);
    table_remove(s);
    perms_unref(s->perms);
    perms_state_free(s->authz);
    wd_free(s->cn);
    wd_free(s->username);
    flight_free(s->flight);
    wd_free(s);
}

void session_end(struct session *s)
{
    assert(s->conn == NULL);
    session_fire_will(s);
    session_free(s);
}

void session_free_all(struct broker *b)
{
    for (size_t i = 0; i < b->sess_nbuckets; i++) {
        while (b->sess_buckets[i]) {
            struct session *s = b->sess_buckets[i];
            s->conn = NULL;
            session_free(s);
        }
    }
    wd_free(b->sess_buckets);
    b->sess_buckets = NULL;
    b->sess_nbuckets = 0;
}

void session_note(struct broker *b, const char *client_id, enum flight_kind k, const char *fmt,
                  ...)
{
    if (!client_id)
        return;
    struct session *s = session_find(b, client_id, strlen(client_id));
    /* The connect code names a client "ID user=NAME" when it gave a user name. */
    const char *u = strstr(client_id, " user=");
    if (!s && u)
        s = session_find(b, client_id, (size_t)(u - client_id));
    if (!s)
        return;
    char text[FLIGHT_TEXT + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    flight_note(&s->flight, k, "%s", text);
}

void session_detach(struct session *s, bool send_will)
{
    s->conn = NULL;
    s->disconnected_at = broker_wall();
    if (!send_will)
        session_set_will(s, NULL, 0);
    else if (s->will_m && (s->will_delay == 0 || s->expiry == 0))
        session_fire_will(s);
    else if (s->will_m)
        flight_note(&s->flight, FL_WILL, "will delayed %us", s->will_delay);
    if (s->expiry == 0) {
        session_end(s);
        return;
    }
    /* One timer: the will's delay first when it is the shorter (the timer
     * then re-arms for the rest of the expiry), else the expiry, whose end
     * publishes the will. */
    uint32_t secs = will_first(s) ? s->will_delay : s->expiry;
    if (secs != UINT32_MAX)
        loop_timer_arm(s->b->loop, &s->offline_timer, (uint64_t)secs * 1000);
}
