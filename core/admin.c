/*
 * admin.c - admin requests carried to the broker thread and answered there.
 *
 * A caller fills a request, appends it to a mutex-protected list, writes the
 * eventfd and waits on a condition variable. The broker thread drains the
 * list from its event loop, runs each request through the command table and
 * signals completion. Results are deep copies made on the broker thread.
 */
#include "admin.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "auth.h"
#include "backend.h"
#include "broker.h"
#include "conn.h"
#include "flight.h"
#include "log.h"
#include "mem.h"
#include "perms.h"
#include "retain.h"
#include "session.h"
#include "tokauth.h"
#include "tls.h"
#include "topic.h"
#include "tree.h"

enum admin_op {
    OP_SESSIONS, OP_PAGE, OP_SESSION, OP_IDENTS, OP_SUBS, OP_STATS, OP_DISCONNECT, OP_SHUTDOWN,
    OP_EXPLAIN, OP_FLIGHT, OP_COUNT
};

struct request {
    enum admin_op op;
    const char *arg;          /* borrowed from the caller, who waits */
    const void *in;           /* borrowed likewise: a request struct (OP_PAGE) */
    void *out;
    enum wd_err result;
    bool done;
    struct request *next;
};

struct admin {
    struct broker *b;
    int efd;
    struct loop_io io;
    pthread_t broker_thread;
    bool have_thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct request *head, *tail;
    bool closed;
    struct backend_ops store;  /* copy; store.ctx NULL: no store */
    bool have_store;
};

typedef enum wd_err (*op_fn)(struct broker *b, struct request *r);

static enum wd_err op_sessions(struct broker *b, struct request *r);
static enum wd_err op_page(struct broker *b, struct request *r);
static enum wd_err op_session(struct broker *b, struct request *r);
static enum wd_err op_idents(struct broker *b, struct request *r);
static enum wd_err op_subs(struct broker *b, struct request *r);
static enum wd_err op_stats(struct broker *b, struct request *r);
static enum wd_err op_disconnect(struct broker *b, struct request *r);
static enum wd_err op_shutdown(struct broker *b, struct request *r);
static enum wd_err op_explain(struct broker *b, struct request *r);
static enum wd_err op_flight(struct broker *b, struct request *r);

static const op_fn ops[OP_COUNT] = {
    [OP_SESSIONS] = op_sessions,
    [OP_PAGE] = op_page,
    [OP_SESSION] = op_session,
    [OP_IDENTS] = op_idents,
    [OP_SUBS] = op_subs,
    [OP_STATS] = op_stats,
    [OP_DISCONNECT] = op_disconnect,
    [OP_SHUTDOWN] = op_shutdown,
    [OP_EXPLAIN] = op_explain,
    [OP_FLIGHT] = op_flight,
};

const struct admin_command admin_commands[] = {
    {"sessions", "", "list sessions, connected and offline"},
    {"page", "SORT DESC OFFSET LIMIT FILTER FOLLOW",
     "one window of the session list, sorted and filtered, following a row"},
    {"session", "CLIENT_ID", "one session, as a row of the list"},
    {"identities", "", "connected sessions per identity"},
    {"subscriptions", "CLIENT_ID", "list one session's subscriptions"},
    {"stats", "", "broker counters"},
    {"disconnect", "CLIENT_ID", "disconnect a client (its will is sent)"},
    {"shutdown", "", "stop the broker"},
    {"explain", "CLIENT_ID ACTION TOPIC [QOS] [RETAIN]",
     "which rule decides a request of a connected client, and the verdict"},
    {"flight", "CLIENT_ID", "a session's last control events (its flight recorder)"},
    {"audit", "MAX", "the store's most recent audit entries"},
};
const size_t admin_ncommands = sizeof admin_commands / sizeof admin_commands[0];

static void on_wake(struct loop_io *io, unsigned events)
{
    (void)events;
    struct admin *a = container_of(io, struct admin, io);
    uint64_t v;
    if (read(a->efd, &v, sizeof v) < 0 && errno != EAGAIN)
        log_warning("admin eventfd: %s", strerror(errno));
    pthread_mutex_lock(&a->lock);
    struct request *r = a->head;
    a->head = a->tail = NULL;
    pthread_mutex_unlock(&a->lock);
    while (r) {
        struct request *next = r->next;
        enum wd_err e = ops[r->op](a->b, r);
        pthread_mutex_lock(&a->lock);
        r->result = e;
        r->done = true;
        pthread_cond_broadcast(&a->cond);
        pthread_mutex_unlock(&a->lock);
        r = next;
    }
}

struct admin *admin_new(struct broker *b, const struct backend_ops *store)
{
    struct admin *a = wd_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->b = b;
    if (store) {
        a->store = *store;
        a->have_store = true;
    }
    a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->efd < 0) {
        log_error("eventfd: %s", strerror(errno));
        wd_free(a);
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    if (loop_add(b->loop, &a->io, a->efd, LOOP_READABLE, on_wake) != WD_OK) {
        close(a->efd);
        wd_free(a);
        return NULL;
    }
    return a;
}

void admin_close(struct admin *a)
{
    pthread_mutex_lock(&a->lock);
    a->closed = true;
    for (struct request *r = a->head; r; r = r->next) {
        r->result = WD_ECLOSED;
        r->done = true;
    }
    a->head = a->tail = NULL;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

void admin_free(struct admin *a)
{
    if (!a)
        return;
    admin_close(a);
    loop_del(a->b->loop, &a->io);
    close(a->efd);
    /* A waiter may still hold the lock briefly; it only reads its own request. */
    pthread_mutex_lock(&a->lock);
    pthread_mutex_unlock(&a->lock);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->lock);
    wd_free(a);
}

void admin_attach_thread(struct admin *a)
{
    a->broker_thread = pthread_self();
    a->have_thread = true;
}

struct admin *admin_of(struct broker *b)
{
    return b->admin;
}

static enum wd_err call_in(struct admin *a, enum admin_op op, const char *arg, const void *in,
                           void *out)
{
    struct request r = {.op = op, .arg = arg, .in = in, .out = out};
    pthread_mutex_lock(&a->lock);
    if (!a->closed && a->have_thread && pthread_equal(pthread_self(), a->broker_thread)) {
        pthread_mutex_unlock(&a->lock);
        return ops[op](a->b, &r);
    }
    if (a->closed) {
        pthread_mutex_unlock(&a->lock);
        return WD_ECLOSED;
    }
    if (a->tail)
        a->tail->next = &r;
    else
        a->head = &r;
    a->tail = &r;
    uint64_t one = 1;
    if (write(a->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_warning("admin eventfd write: %s", strerror(errno));
    while (!r.done)
        pthread_cond_wait(&a->cond, &a->lock);
    pthread_mutex_unlock(&a->lock);
    return r.result;
}

static enum wd_err call(struct admin *a, enum admin_op op, const char *arg, void *out)
{
    return call_in(a, op, arg, NULL, out);
}

/* ---- snapshots, made on the broker thread ---- */

static enum wd_err copy_session(const struct session *s, struct admin_session *o)
{
    memset(o, 0, sizeof *o);
    o->client_id = wd_strdup(s->client_id);
    if (!o->client_id)
        return WD_ENOMEM;
    if (s->username && !(o->username = wd_strdup(s->username)))
        return WD_ENOMEM;
    const struct conn *c = s->conn;
    if (s->perms && s->perms->n) {
        size_t len = 1;
        for (size_t i = 0; i < s->perms->n; i++)
            len += strlen(s->perms->lists[i].name) + 2;
        if (!(o->roles = wd_malloc(len)))
            return WD_ENOMEM;
        o->roles[0] = '\0';
        for (size_t i = 0; i < s->perms->n; i++)
            snprintf(o->roles + strlen(o->roles), len - strlen(o->roles), "%s%s", i ? ", " : "",
                     s->perms->lists[i].name);
    }
    o->version = s->version;
    o->connected = c && c->state == CONN_ACTIVE;
    o->subscriptions = s->nsubs;
    o->inflight = s->inflight.count;
    o->queued = s->queue.count;
    o->expiry = s->expiry;
    if (c)
        snprintf(o->auth_method, sizeof o->auth_method, "%s", auth_method_name(c->auth_method));
    if (c && c->token) {
        if (!(o->token_sub = wd_strdup(c->token->sub)) ||
            !(o->token_iss = wd_strdup(c->token->iss)) ||
            (c->token->scope && !(o->token_scope = wd_strdup(c->token->scope))))
            return WD_ENOMEM;
        o->token_exp = c->token->exp;
    }
    o->since = s->disconnected_at;
    if (c) {
        snprintf(o->addr, sizeof o->addr, "%s", c->addr);
        o->keepalive = c->keepalive;
        o->since = c->connected_at;
        o->msgs_in = c->msgs_in;
        o->msgs_out = c->msgs_out;
        o->bytes_in = c->bytes_in;
        o->bytes_out = c->bytes_out;
    }
    if (c && c->tls && c->state != CONN_TLS_HANDSHAKE) {
        const struct tls_info *ti = tls_conn_info(c->tls);
        memcpy(o->tls_version, ti->version, sizeof o->tls_version);
        memcpy(o->tls_cipher, ti->cipher, sizeof o->tls_cipher);
        if (ti->has_cert) {
            if (!(o->cert_subject = wd_strdup(ti->subject)) ||
                !(o->cert_issuer = wd_strdup(ti->issuer)) ||
                !(o->cert_sans = wd_strdup(ti->sans)))
                return WD_ENOMEM;
            memcpy(o->cert_fingerprint, ti->fingerprint, sizeof o->cert_fingerprint);
            o->cert_not_after = ti->not_after;
        }
    }
    return WD_OK;
}

static enum wd_err op_sessions(struct broker *b, struct request *r)
{
    struct admin_sessions *out = r->out;
    out->n = 0;
    out->v = wd_calloc(b->nsessions ? b->nsessions : 1, sizeof *out->v);
    if (!out->v)
        return WD_ENOMEM;
    for (size_t i = 0; i < b->sess_nbuckets; i++) {
        for (struct session *s = b->sess_buckets[i]; s; s = s->hnext) {
            enum wd_err e = copy_session(s, &out->v[out->n++]);
            if (e) {
                admin_sessions_free(out);
                return e;
            }
        }
    }
    return WD_OK;
}

/* The session's columns read in place, as copy_session() would show them. */
static const char *sess_text(const void *row, enum admin_col c)
{
    const struct session *s = row;
    const struct conn *cn = s->conn;
    switch (c) {
    case ADMIN_COL_CLIENT: return s->client_id;
    case ADMIN_COL_IDENTITY: return s->username ? s->username : "";
    case ADMIN_COL_AUTH: return cn ? auth_method_name(cn->auth_method) : "";
    case ADMIN_COL_ADDR: return cn ? cn->addr : "";
    case ADMIN_COL_TLS:
        return cn && cn->tls && cn->state != CONN_TLS_HANDSHAKE ? tls_conn_info(cn->tls)->version
                                                                : "";
    default: return "";
    }
}

static uint64_t sess_num(const void *row, enum admin_col c)
{
    const struct session *s = row;
    const struct conn *cn = s->conn;
    switch (c) {
    case ADMIN_COL_PROTO: return s->version;
    case ADMIN_COL_SINCE: return cn ? cn->connected_at : s->disconnected_at;
    case ADMIN_COL_IN: return cn ? cn->msgs_in : 0;
    case ADMIN_COL_OUT: return cn ? cn->msgs_out : 0;
    case ADMIN_COL_SUBS: return s->nsubs;
    case ADMIN_COL_INFLIGHT: return s->inflight.count;
    case ADMIN_COL_QUEUED: return s->queue.count;
    default: return 0;
    }
}

static enum wd_err op_page(struct broker *b, struct request *r)
{
    static const struct admin_page_keys keys = {sess_text, sess_num};
    const struct admin_page_req *req = r->in;
    struct admin_page *out = r->out;
    memset(out, 0, sizeof *out);
    out->follow = -1;
    if (req->sort >= ADMIN_NCOLS || req->limit > ADMIN_PAGE_MAX)
        return WD_EINVAL;
    /* The one allocation besides the window: an index of the sessions. */
    const void **rows = wd_malloc((b->nsessions ? b->nsessions : 1) * sizeof *rows);
    if (!rows)
        return WD_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < b->sess_nbuckets; i++)
        for (struct session *s = b->sess_buckets[i]; s; s = s->hnext)
            rows[n++] = s;
    size_t count;
    admin_page_select(rows, n, &keys, req, out, &count);
    enum wd_err e = WD_OK;
    if (!(out->rows.v = wd_calloc(count ? count : 1, sizeof *out->rows.v)))
        e = WD_ENOMEM;
    for (size_t i = 0; !e && i < count; i++)
        e = copy_session(rows[out->offset + i], &out->rows.v[out->rows.n++]);
    wd_free(rows);
    if (e)
        admin_page_free(out);
    return e;
}

static enum wd_err op_session(struct broker *b, struct request *r)
{
    struct admin_session *out = r->out;
    memset(out, 0, sizeof *out);
    const struct session *s = session_find(b, r->arg, strlen(r->arg));
    if (!s)
        return WD_ENOTFOUND;
    enum wd_err e = copy_session(s, out);
    if (e)
        admin_session_clear(out);
    return e;
}

static int cmp_name(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static enum wd_err op_idents(struct broker *b, struct request *r)
{
    struct admin_idents *out = r->out;
    out->n = 0;
    out->v = NULL;
    /* The identities of the connected sessions, sorted: equal names are neighbours. */
    const char **names = wd_malloc((b->nsessions ? b->nsessions : 1) * sizeof *names);
    if (!names)
        return WD_ENOMEM;
    size_t n = 0, distinct = 0;
    for (size_t i = 0; i < b->sess_nbuckets; i++)
        for (struct session *s = b->sess_buckets[i]; s; s = s->hnext)
            if (s->username && s->conn && s->conn->state == CONN_ACTIVE)
                names[n++] = s->username;
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n; i++)
        distinct += !i || strcmp(names[i], names[i - 1]);
    enum wd_err e = WD_OK;
    if (!(out->v = wd_calloc(distinct ? distinct : 1, sizeof *out->v)))
        e = WD_ENOMEM;
    for (size_t i = 0; !e && i < n; i++) {
        if (i && !strcmp(names[i], names[i - 1])) {
            out->v[out->n - 1].sessions++;
            continue;
        }
        struct admin_ident *o = &out->v[out->n++];
        o->sessions = 1;
        if (!(o->user = wd_strdup(names[i])))
            e = WD_ENOMEM;
    }
    wd_free(names);
    if (e)
        admin_idents_free(out);
    return e;
}

static enum wd_err op_subs(struct broker *b, struct request *r)
{
    struct admin_subs *out = r->out;
    out->n = 0;
    out->v = NULL;
    struct session *s = session_find(b, r->arg, strlen(r->arg));
    if (!s)
        return WD_ENOTFOUND;
    out->v = wd_calloc(s->nsubs ? s->nsubs : 1, sizeof *out->v);
    if (!out->v)
        return WD_ENOMEM;
    for (uint32_t i = 0; i < s->nsubs; i++) {
        const struct sub_rec *sr = &s->subs[i];
        struct admin_sub *o = &out->v[out->n++];
        o->filter = wd_strndup(sr->filter, sr->flen);
        if (!o->filter) {
            admin_subs_free(out);
            return WD_ENOMEM;
        }
        o->qos = sr->opts.qos;
        o->no_local = sr->opts.no_local;
        o->retain_as_published = sr->opts.retain_as_published;
        o->retain_handling = sr->opts.retain_handling;
        o->sub_id = sr->opts.sub_id;
    }
    return WD_OK;
}

static enum wd_err op_stats(struct broker *b, struct request *r)
{
    struct admin_stats *o = r->out;
    memset(o, 0, sizeof *o);
    o->uptime_s = (loop_update_time(b->loop) - b->start_ms) / 1000;
    o->connections = b->nconns;
    o->clients = b->nclients;
    o->peak_clients = b->stats.peak_connections;
    o->sessions = b->nsessions;
    o->subscriptions = tree_count(b->subs);
    o->retained = retain_count(b);
    o->msgs_received = b->stats.msgs_received;
    o->msgs_sent = b->stats.msgs_sent;
    o->bytes_received = b->stats.bytes_received;
    o->bytes_sent = b->stats.bytes_sent;
    o->msgs_dropped = b->stats.msgs_dropped;
    o->connects_total = b->stats.connects_total;
    o->mem_in_use = mem_in_use();
    o->auth_failures = b->stats.auth_failures;
    o->denials = b->stats.denials;
    return WD_OK;
}

static enum wd_err op_flight(struct broker *b, struct request *r)
{
    struct admin_events *out = r->out;
    out->n = 0;
    out->v = NULL;
    struct session *s = session_find(b, r->arg, strlen(r->arg));
    if (!s)
        return WD_ENOTFOUND;
    size_t n = flight_count(s->flight);
    out->v = wd_calloc(n ? n : 1, sizeof *out->v);
    if (!out->v)
        return WD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct flight_event *ev = flight_at(s->flight, i);
        struct admin_event *o = &out->v[out->n];
        if (!(o->text = wd_strdup(ev->text))) {
            admin_events_free(out);
            return WD_ENOMEM;
        }
        out->n++;
        o->ms = ev->ms;
        snprintf(o->kind, sizeof o->kind, "%s", flight_kind_name((enum flight_kind)ev->kind));
    }
    return WD_OK;
}

static enum wd_err op_disconnect(struct broker *b, struct request *r)
{
    struct session *s = session_find(b, r->arg, strlen(r->arg));
    if (!s || !s->conn || s->conn->state != CONN_ACTIVE)
        return WD_ENOTFOUND;
    log_notice("admin: disconnecting client=%s", s->client_id);
    flight_note(&s->flight, FL_KICK, "disconnected by an administrator");
    conn_close(s->conn, MQTT_RC_ADMIN_ACTION, true, true);
    return WD_OK;
}

static enum wd_err op_shutdown(struct broker *b, struct request *r)
{
    (void)r;
    broker_shutdown(b);
    return WD_OK;
}

enum wd_err admin_list_sessions(struct admin *a, struct admin_sessions *out)
{
    return call(a, OP_SESSIONS, NULL, out);
}

enum wd_err admin_identity_counts(struct admin *a, struct admin_idents *out)
{
    return call(a, OP_IDENTS, NULL, out);
}

void admin_idents_free(struct admin_idents *s)
{
    for (size_t i = 0; i < s->n; i++)
        wd_free(s->v[i].user);
    wd_free(s->v);
    s->v = NULL;
    s->n = 0;
}

enum wd_err admin_session_get(struct admin *a, const char *client_id, struct admin_session *out)
{
    return call(a, OP_SESSION, client_id, out);
}

enum wd_err admin_session_page(struct admin *a, const struct admin_page_req *req,
                               struct admin_page *out)
{
    return call_in(a, OP_PAGE, NULL, req, out);
}

enum wd_err admin_session_subs(struct admin *a, const char *client_id, struct admin_subs *out)
{
    return call(a, OP_SUBS, client_id, out);
}

void admin_subs_free(struct admin_subs *s)
{
    for (size_t i = 0; i < s->n; i++)
        wd_free(s->v[i].filter);
    wd_free(s->v);
    s->v = NULL;
    s->n = 0;
}

enum wd_err admin_get_stats(struct admin *a, struct admin_stats *out)
{
    enum wd_err e = call(a, OP_STATS, NULL, out);
    /* The store is asked here, on the caller's thread: an LMDB read
     * transaction is cheap, but the broker thread takes none it can avoid. */
    if (e == WD_OK && a->have_store && a->store.store_stat &&
        a->store.store_stat(a->store.ctx, &out->store_generation, &out->store_bytes) != WD_OK)
        out->store_generation = out->store_bytes = 0;
    return e;
}

enum wd_err admin_session_flight(struct admin *a, const char *client_id, struct admin_events *out)
{
    return call(a, OP_FLIGHT, client_id, out);
}

void admin_events_free(struct admin_events *e)
{
    for (size_t i = 0; i < e->n; i++)
        wd_free(e->v[i].text);
    wd_free(e->v);
    e->v = NULL;
    e->n = 0;
}

enum wd_err admin_audit_recent(struct admin *a, size_t max, struct admin_audits *out)
{
    out->n = 0;
    out->v = NULL;
    if (!max || max > ADMIN_AUDIT_MAX)
        return WD_EINVAL;
    if (!a->have_store || !a->store.audit_recent)
        return WD_ENOTFOUND;
    struct audit_entry *v = NULL;
    size_t n = 0;
    enum wd_err e = a->store.audit_recent(a->store.ctx, max, &v, &n);
    if (e)
        return e;
    out->v = wd_calloc(n ? n : 1, sizeof *out->v);
    if (!out->v) {
        backend_audit_free(v, n);
        return WD_ENOMEM;
    }
    /* Move the strings over: the two structs differ only in name. */
    for (size_t i = 0; i < n; i++) {
        out->v[i] = (struct admin_audit){v[i].seq, v[i].time, v[i].actor, v[i].action,
                                         v[i].target, v[i].result};
        v[i].actor = v[i].action = v[i].target = v[i].result = NULL;
    }
    out->n = n;
    backend_audit_free(v, n);
    return WD_OK;
}

void admin_audits_free(struct admin_audits *e)
{
    for (size_t i = 0; i < e->n; i++) {
        wd_free(e->v[i].actor);
        wd_free(e->v[i].action);
        wd_free(e->v[i].target);
        wd_free(e->v[i].result);
    }
    wd_free(e->v);
    e->v = NULL;
    e->n = 0;
}

enum wd_err admin_disconnect(struct admin *a, const char *client_id)
{
    return call(a, OP_DISCONNECT, client_id, NULL);
}

enum wd_err admin_shutdown(struct admin *a)
{
    return call(a, OP_SHUTDOWN, NULL, NULL);
}

/* ---- explain: a connected client's live permissions asked about one request ---- */

struct explain_call {
    const struct admin_explain_req *req;
    struct admin_explanation *out;
};

static enum wd_err op_explain(struct broker *b, struct request *r)
{
    const struct explain_call *ec = r->out;
    const struct admin_explain_req *q = ec->req;
    struct admin_explanation *o = ec->out;
    memset(o, 0, sizeof *o);
    unsigned action = !strcmp(q->action, "publish")     ? RULE_PUBLISH
                      : !strcmp(q->action, "subscribe") ? RULE_SUBSCRIBE
                      : !strcmp(q->action, "receive")   ? RULE_RECEIVE
                                                        : 0;
    const char *topic = q->topic;
    size_t tlen = strlen(topic);
    if (!action || q->qos > 2)
        return WD_EINVAL;
    if (action == RULE_SUBSCRIBE) {
        bool shared;
        const char *g;
        size_t gl;
        if (topic_parse_shared(topic, tlen, &shared, &g, &gl, &topic, &tlen) != WD_OK)
            return WD_EINVAL;
    } else if (topic_validate_name(topic, tlen) != WD_OK) {
        return WD_EINVAL;
    }
    struct session *s = session_find(b, q->client_id, strlen(q->client_id));
    if (!s || !s->conn || s->conn->state != CONN_ACTIVE)
        return WD_ENOTFOUND;
    /* The session's own identity decides; a different one asked for is a mistake. */
    if ((q->user && (!s->username || strcmp(q->user, s->username))) ||
        (q->cn && (!s->cn || strcmp(q->cn, s->cn))))
        return WD_EINVAL;
    struct acl_subject who = {s->username, s->client_id, s->cn};
    struct perms_explanation x;
    perms_explain(s->perms, s->default_allow, s->username == NULL, &who, action, topic, tlen,
                  q->qos, q->retain, &x);
    o->allow = x.allow;
    o->matched = x.matched;
    o->granted = x.granted;
    o->index = x.index;
    snprintf(o->user, sizeof o->user, "%s", s->username ? s->username : "");
    snprintf(o->list, sizeof o->list, "%s", x.list);
    snprintf(o->rule, sizeof o->rule, "%s", x.rule);
    snprintf(o->reason, sizeof o->reason, "%s", x.reason);
    return WD_OK;
}

enum wd_err admin_explain(struct admin *a, const struct admin_explain_req *req,
                          struct admin_explanation *out)
{
    struct explain_call ec = {req, out};
    return call(a, OP_EXPLAIN, NULL, &ec);
}
