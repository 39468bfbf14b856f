/*
 * route.c - route_publish(): tree match, merge per session, deliver.
 *
 * Each session carries route_mark/route_slot so that merging is O(1) per
 * match with no hash table: a session whose mark equals this pass's sequence
 * number already has an entry at route_slot. Subscription Identifiers are
 * chained through b->route_ids as (value, next) pairs.
 */
#include "route.h"

#include <string.h>

#include "conn.h"
#include "mem.h"
#include "session.h"
#include "tree.h"

struct route_entry {
    struct session *s;
    uint8_t qos;          /* highest granted QoS among the matches */
    bool retain;          /* RETAIN flag to send (Retain As Published) */
    uint32_t ids_head;    /* index+1 of the first id pair in route_ids, 0 = none */
    uint16_t nids;
};

struct route_ctx {
    struct broker *b;
    struct msg *m;
    uint32_t n;           /* entries used */
    uint32_t nids_used;   /* id pairs used */
    bool oom;
};

static bool online(void *owner)
{
    struct session *s = owner;
    return s->conn && s->conn->state == CONN_ACTIVE;
}

static struct route_entry *new_entry(struct route_ctx *x)
{
    struct broker *b = x->b;
    if (x->n == b->route_cap) {
        uint32_t cap = b->route_cap ? b->route_cap * 2 : 64;
        struct route_entry *r = wd_realloc(b->route, cap * sizeof *r);
        if (!r) {
            x->oom = true;
            return NULL;
        }
        b->route = r;
        b->route_cap = cap;
    }
    struct route_entry *e = &b->route[x->n++];
    memset(e, 0, sizeof *e);
    return e;
}

static void add_id(struct route_ctx *x, struct route_entry *e, uint32_t id)
{
    struct broker *b = x->b;
    if (2 * (x->nids_used + 1) > b->route_ids_cap) {
        uint32_t cap = b->route_ids_cap ? b->route_ids_cap * 2 : 128;
        uint32_t *v = wd_realloc(b->route_ids, cap * sizeof *v);
        if (!v) {
            x->oom = true;
            return;
        }
        b->route_ids = v;
        b->route_ids_cap = cap;
    }
    uint32_t i = x->nids_used++;
    b->route_ids[2 * i] = id;
    b->route_ids[2 * i + 1] = e->ids_head;
    e->ids_head = i + 1;
    e->nids++;
}

static void on_match(void *ctx, void *owner, const struct tree_opts *o, bool shared)
{
    struct route_ctx *x = ctx;
    struct session *s = owner;
    if (o->no_local && s->id == x->m->origin)
        return;
    struct route_entry *e;
    if (!shared && s->route_mark == x->b->route_seq) {
        e = &x->b->route[s->route_slot];
    } else {
        e = new_entry(x);
        if (!e)
            return;
        e->s = s;
        if (!shared) {
            s->route_mark = x->b->route_seq;
            s->route_slot = x->n - 1;
        }
    }
    if (o->qos > e->qos)
        e->qos = o->qos;
    if (o->retain_as_published && x->m->retain)
        e->retain = true;
    if (o->sub_id)
        add_id(x, e, o->sub_id);
}

void route_publish(struct broker *b, struct msg *m)
{
    struct route_ctx x = {.b = b, .m = m};
    b->route_seq++;
    tree_match(b->subs, msg_topic(m), m->topic_len, online, on_match, &x);
    if (x.oom)
        b->stats.msgs_dropped++;

    uint32_t local[64];
    conn_fanout_begin(m);
    for (uint32_t i = 0; i < x.n; i++) {
        struct route_entry *e = &b->route[i];
        uint32_t *ids = local;
        if (e->nids > 64 && !(ids = wd_malloc(e->nids * sizeof *ids)))
            ids = local; /* rare and out of memory: attach the first 64 */
        uint32_t cap = ids == local ? 64 : e->nids;
        uint16_t n = 0;
        for (uint32_t j = e->ids_head; j && n < cap; j = b->route_ids[2 * (j - 1) + 1])
            ids[n++] = b->route_ids[2 * (j - 1)];
        for (uint16_t k = 0; k < n / 2; k++) { /* the chain runs newest first */
            uint32_t t = ids[k];
            ids[k] = ids[n - 1 - k];
            ids[n - 1 - k] = t;
        }
        uint8_t qos = e->qos < m->qos ? e->qos : m->qos;
        session_deliver(e->s, m, qos, e->retain, ids, n);
        if (ids != local)
            wd_free(ids);
    }
    conn_fanout_end();
}
