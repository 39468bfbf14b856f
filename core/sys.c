/*
 * sys.c - $SYS topics: counters as text payloads, retained, published on a
 * timer; load averages are exponentially decaying per-minute rates over 1, 5
 * and 15 minutes, sampled every sys_interval seconds.
 */
#include "sys.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "retain.h"
#include "route.h"
#include "tree.h"

static void publish(struct broker *b, const char *topic, const char *value)
{
    struct msg *m = msg_new(topic, strlen(topic), NULL, 0, value, strlen(value));
    if (!m)
        return;
    m->retain = true;
    retain_store(b, m);
    route_publish(b, m);
    msg_unref(m);
}

static void publish_u64(struct broker *b, const char *topic, uint64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%" PRIu64, v);
    publish(b, topic, s);
}

static void load_sample(struct load *l, uint64_t counter, double interval)
{
    static const double minutes[3] = {1, 5, 15};
    double per_min = (double)(counter - l->last) * 60.0 / interval;
    l->last = counter;
    for (int i = 0; i < 3; i++) {
        double k = exp(-interval / (60.0 * minutes[i]));
        l->rate[i] = l->rate[i] * k + per_min * (1 - k);
    }
}

static void publish_load(struct broker *b, const char *name, const struct load *l)
{
    static const char *const suffix[3] = {"1min", "5min", "15min"};
    for (int i = 0; i < 3; i++) {
        char topic[96], v[32];
        snprintf(topic, sizeof topic, "$SYS/broker/load/%s/%s", name, suffix[i]);
        snprintf(v, sizeof v, "%.2f", l->rate[i]);
        publish(b, topic, v);
    }
}

static void sys_tick(struct loop_timer *t)
{
    struct broker *b = container_of(t, struct broker, sys_timer);
    double interval = b->cfg.sys_interval;
    const struct stats *st = &b->stats;
    char s[64];
    publish(b, "$SYS/broker/version", "warden " WARDEN_VERSION);
    snprintf(s, sizeof s, "%" PRIu64 " seconds", (loop_now_ms(b->loop) - b->start_ms) / 1000);
    publish(b, "$SYS/broker/uptime", s);
    publish_u64(b, "$SYS/broker/clients/connected", b->nclients);
    publish_u64(b, "$SYS/broker/clients/total", b->nsessions);
    publish_u64(b, "$SYS/broker/clients/maximum", st->peak_connections);
    publish_u64(b, "$SYS/broker/messages/received", st->msgs_received);
    publish_u64(b, "$SYS/broker/messages/sent", st->msgs_sent);
    publish_u64(b, "$SYS/broker/messages/dropped", st->msgs_dropped);
    publish_u64(b, "$SYS/broker/bytes/received", st->bytes_received);
    publish_u64(b, "$SYS/broker/bytes/sent", st->bytes_sent);
    publish_u64(b, "$SYS/broker/subscriptions/count", tree_count(b->subs));
    publish_u64(b, "$SYS/broker/retained messages/count", retain_count(b));
    load_sample(&b->load_msgs_in, st->msgs_received, interval);
    load_sample(&b->load_msgs_out, st->msgs_sent, interval);
    load_sample(&b->load_bytes_in, st->bytes_received, interval);
    load_sample(&b->load_bytes_out, st->bytes_sent, interval);
    load_sample(&b->load_conns, st->connects_total, interval);
    publish_load(b, "messages/received", &b->load_msgs_in);
    publish_load(b, "messages/sent", &b->load_msgs_out);
    publish_load(b, "bytes/received", &b->load_bytes_in);
    publish_load(b, "bytes/sent", &b->load_bytes_out);
    publish_load(b, "connections", &b->load_conns);
    if (b->cfg.sys_interval)
        loop_timer_arm(b->loop, &b->sys_timer, (uint64_t)b->cfg.sys_interval * 1000);
}

void sys_start(struct broker *b)
{
    loop_timer_init(&b->sys_timer, sys_tick);
    if (b->cfg.sys_interval)
        loop_timer_arm(b->loop, &b->sys_timer, 0);
}
