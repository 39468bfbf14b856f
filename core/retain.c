/*
 * retain.c - retained messages in memory (see retain.h). Each stored message
 * holds one reference; a message with an empty payload clears the topic
 * [MQTT-3.3.1-6]. Expired retained messages are skipped when sent.
 */
#include "retain.h"

#include "rtree.h"

void retain_store(struct broker *b, struct msg *m)
{
    if (m->payload_len == 0)
        rtree_set(b->retained, msg_topic(m), m->topic_len, NULL);
    else
        rtree_set(b->retained, msg_topic(m), m->topic_len, msg_ref(m));
}

struct send_ctx {
    struct session *s;
    const struct tree_opts *opts;
};

static void send_one(void *ctx, const char *topic, size_t tlen, void *value)
{
    (void)topic;
    (void)tlen;
    struct send_ctx *x = ctx;
    struct msg *m = value;
    uint8_t qos = m->qos < x->opts->qos ? m->qos : x->opts->qos;
    uint32_t id = x->opts->sub_id;
    /* Retained messages keep RETAIN=1 when sent for a subscription [MQTT-3.3.1-9]. */
    session_deliver(x->s, m, qos, true, &id, id ? 1 : 0);
}

void retain_send(struct session *s, const char *filter, size_t flen, const struct tree_opts *opts)
{
    struct send_ctx x = {s, opts};
    rtree_match(s->b->retained, filter, flen, send_one, &x);
}

size_t retain_count(struct broker *b)
{
    return rtree_count(b->retained);
}
