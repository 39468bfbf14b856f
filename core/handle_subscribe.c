/*
 * handle_subscribe.c - SUBSCRIBE and UNSUBSCRIBE.
 *
 * Each filter gets its own answer: an invalid or over-limit filter fails
 * alone (0x8F / 0x97, 0x80 in 3.1.x) while the others are granted. The
 * SUBACK goes out before any retained message, so clients see them in the
 * order the spec describes [MQTT-3.8.4-1].
 */
#include <string.h>

#include "broker.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "mem.h"
#include "perms.h"
#include "retain.h"
#include "session.h"
#include "topic.h"

/* Check one requested filter; returns 0 or a 5.0 failure reason. */
static uint8_t check_filter(struct conn *c, const struct mqtt_sub_entry *e, bool *shared)
{
    const struct config *cfg = &c->b->cfg;
    const char *f = (const char *)e->filter.p;
    const char *group, *tf;
    size_t glen, tlen;
    if (topic_parse_shared(f, e->filter.len, shared, &group, &glen, &tf, &tlen) != WD_OK)
        return MQTT_RC_TOPIC_FILTER_INVALID;
    if (e->filter.len > cfg->max_topic_length || topic_levels(tf, tlen) > cfg->max_topic_levels)
        return MQTT_RC_TOPIC_FILTER_INVALID;
    return 0;
}

void handle_subscribe(struct conn *c, struct mqtt_packet *p)
{
    struct broker *b = c->b;
    const struct config *cfg = &b->cfg;
    struct session *s = c->s;
    const struct mqtt_subscribe *sub = &p->u.subscribe;
    uint8_t *reasons = wd_malloc(sub->count);
    uint8_t *send_retained = wd_calloc(sub->count, 1);
    if (!reasons || !send_retained) {
        wd_free(reasons);
        wd_free(send_retained);
        conn_close(c, MQTT_RC_UNSPECIFIED, true, true);
        return;
    }
    uint32_t subid = sub->props.sub_id;
    struct mqtt_sub_entry e;
    uint32_t pos = 0;
    for (uint32_t i = 0; codec_next_sub(sub, c->version, &pos, &e); i++) {
        bool shared = false;
        uint8_t rc = check_filter(c, &e, &shared);
        if (!rc && shared && e.no_local) {
            /* [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error. */
            wd_free(reasons);
            wd_free(send_retained);
            conn_close(c, MQTT_RC_PROTOCOL_ERROR, true, true);
            return;
        }
        bool existed = false;
        if (!rc && cfg->max_subscriptions_per_client &&
            s->nsubs >= cfg->max_subscriptions_per_client) {
            /* Replacing an existing subscription does not add one. */
            bool found = false;
            for (uint32_t k = 0; k < s->nsubs && !found; k++)
                found = s->subs[k].flen == e.filter.len &&
                        memcmp(s->subs[k].filter, e.filter.p, e.filter.len) == 0;
            if (!found)
                rc = MQTT_RC_QUOTA_EXCEEDED;
        }
        uint8_t allowed_qos = e.qos;
        if (!rc) {
            /* Allowed only if a rule covers every topic the filter can match. */
            const char *tf = (const char *)e.filter.p;
            size_t tl = e.filter.len;
            if (shared) {
                const char *g;
                size_t gl;
                bool sh;
                topic_parse_shared(tf, tl, &sh, &g, &gl, &tf, &tl);
            }
            if (!session_may(s, RULE_SUBSCRIBE, tf, tl, e.qos, false, &allowed_qos)) {
                rc = MQTT_RC_NOT_AUTHORIZED;
                log_info("subscribe denied client=%s filter=%.*s", s->client_id,
                         (int)e.filter.len, (const char *)e.filter.p);
                if (perms_denied(s, RULE_SUBSCRIBE, tf, tl, e.qos, false)) {
                    /* on_deny disconnect: no SUBACK; filters granted so far stay (the
                     * session may persist), the rest are not looked at. */
                    wd_free(reasons);
                    wd_free(send_retained);
                    return;
                }
            }
        }
        if (!rc) {
            uint8_t q = allowed_qos < e.qos ? allowed_qos : e.qos;
            struct tree_opts o = {
                .qos = q < cfg->max_qos ? q : (uint8_t)cfg->max_qos,
                .no_local = e.no_local,
                .retain_as_published = e.retain_as_published,
                .retain_handling = e.retain_handling,
                .sub_id = subid,
            };
            enum wd_err err =
                session_subscribe(s, (const char *)e.filter.p, e.filter.len, &o, &existed);
            if (err == WD_OK) {
                rc = o.qos;
                send_retained[i] =
                    !shared && (e.retain_handling == 0 || (e.retain_handling == 1 && !existed));
            } else {
                rc = err == WD_ETOPIC ? MQTT_RC_TOPIC_FILTER_INVALID : MQTT_RC_UNSPECIFIED;
            }
        }
        if (rc >= 0x80 && c->version != MQTT_V5)
            rc = 0x80; /* 3.1.x knows only "Failure" */
        reasons[i] = rc;
        flight_note(&s->flight, FL_SUBSCRIBE, rc < 0x80 ? "%.*s QoS %u: granted QoS %u"
                                                        : "%.*s QoS %u: refused 0x%02x",
                    (int)e.filter.len, (const char *)e.filter.p, e.qos, (unsigned)rc);
        log_debug("subscribe client=%s filter=%.*s result=0x%02x", s->client_id,
                  (int)e.filter.len, (const char *)e.filter.p, rc);
    }
    struct mqtt_suback ack = {.packet_id = sub->packet_id, .count = sub->count, .reasons = reasons};
    if (codec_encode_suback(&c->out, c->version, MQTT_SUBACK, &ack) != WD_OK) {
        conn_close(c, MQTT_RC_UNSPECIFIED, true, true);
    } else {
        conn_mark_output(c);
        pos = 0;
        for (uint32_t i = 0; codec_next_sub(sub, c->version, &pos, &e); i++) {
            if (!send_retained[i])
                continue;
            struct tree_opts o = {.qos = reasons[i], .sub_id = subid};
            retain_send(s, (const char *)e.filter.p, e.filter.len, &o);
        }
    }
    wd_free(reasons);
    wd_free(send_retained);
}

void handle_unsubscribe(struct conn *c, struct mqtt_packet *p)
{
    const struct mqtt_subscribe *u = &p->u.subscribe;
    uint8_t *reasons = wd_malloc(u->count);
    if (!reasons) {
        conn_close(c, MQTT_RC_UNSPECIFIED, true, true);
        return;
    }
    struct mqtt_str f;
    uint32_t pos = 0;
    for (uint32_t i = 0; codec_next_unsub(u, &pos, &f); i++) {
        enum wd_err e = session_unsubscribe(c->s, (const char *)f.p, f.len);
        reasons[i] = e == WD_OK ? 0 : MQTT_RC_NO_SUBSCRIPTION_EXISTED;
    }
    struct mqtt_suback ack = {.packet_id = u->packet_id, .count = u->count, .reasons = reasons};
    if (codec_encode_suback(&c->out, c->version, MQTT_UNSUBACK, &ack) != WD_OK)
        conn_close(c, MQTT_RC_UNSPECIFIED, true, true);
    else
        conn_mark_output(c);
    wd_free(reasons);
}
