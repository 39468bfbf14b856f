/*
 * handle_publish.c - inbound PUBLISH: topic alias resolution, topic and
 * limit checks, QoS 2 duplicate suppression, retain, routing, acknowledgement.
 *
 * This is the hot path: one msg allocation per inbound message (shared by
 * every delivery), no other allocation in the steady state.
 */
#include <string.h>

#include "broker.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "mem.h"
#include "perms.h"
#include "retain.h"
#include "route.h"
#include "session.h"
#include "topic.h"

/* Resolve or record a 5.0 Topic Alias. Returns a 5.0 reason code, 0 when fine. */
static uint8_t resolve_alias(struct conn *c, struct mqtt_publish *pub)
{
    uint32_t max = c->b->cfg.topic_alias_maximum;
    uint16_t alias = pub->props.topic_alias;
    if (!(pub->props.present & MQTT_PROP_BIT(MQTT_P_TOPIC_ALIAS)))
        return pub->topic.len ? 0 : MQTT_RC_TOPIC_NAME_INVALID;
    if (alias == 0 || alias > max)
        return MQTT_RC_TOPIC_ALIAS_INVALID; /* [MQTT-3.3.2-9] */
    if (!c->alias_in) {
        c->alias_in = wd_calloc(max, sizeof *c->alias_in);
        if (!c->alias_in)
            return MQTT_RC_UNSPECIFIED;
    }
    struct alias_out *slot = &c->alias_in[alias - 1];
    if (pub->topic.len == 0) {
        if (!slot->topic)
            return MQTT_RC_PROTOCOL_ERROR; /* alias never set */
        pub->topic = (struct mqtt_str){(const uint8_t *)slot->topic, slot->len};
        return 0;
    }
    if (pub->topic.len > UINT16_MAX)
        return MQTT_RC_TOPIC_NAME_INVALID;
    char *copy = wd_strndup((const char *)pub->topic.p, pub->topic.len);
    if (!copy)
        return MQTT_RC_UNSPECIFIED;
    wd_free(slot->topic);
    slot->topic = copy;
    slot->len = (uint16_t)pub->topic.len;
    return 0;
}

static void ack(struct conn *c, const struct mqtt_publish *pub, uint8_t reason)
{
    if (pub->qos == 1)
        conn_send_ack(c, MQTT_PUBACK, pub->packet_id, reason);
    else if (pub->qos == 2)
        conn_send_ack(c, MQTT_PUBREC, pub->packet_id, reason);
}

void handle_publish(struct conn *c, struct mqtt_packet *p)
{
    struct broker *b = c->b;
    const struct config *cfg = &b->cfg;
    struct session *s = c->s;
    struct mqtt_publish *pub = &p->u.publish;
    b->stats.msgs_received++;

    uint8_t rc = 0;
    if (c->version == MQTT_V5)
        rc = resolve_alias(c, pub);
    else if (pub->topic.len == 0)
        rc = MQTT_RC_TOPIC_NAME_INVALID;
    const char *topic = (const char *)pub->topic.p;
    size_t tlen = pub->topic.len;
    if (!rc && (topic_validate_name(topic, tlen) != WD_OK || tlen > cfg->max_topic_length ||
                topic_levels(topic, tlen) > cfg->max_topic_levels))
        rc = MQTT_RC_TOPIC_NAME_INVALID; /* [MQTT-3.3.2-2] no wildcards in a topic name */
    if (!rc && pub->props.sub_id_count)
        rc = MQTT_RC_PROTOCOL_ERROR; /* [MQTT-3.3.4-6] */
    if (!rc && pub->qos > cfg->max_qos)
        rc = MQTT_RC_QOS_NOT_SUPPORTED; /* [MQTT-3.2.2-11] */
    if (!rc && pub->retain && !cfg->retain_available)
        rc = MQTT_RC_RETAIN_NOT_SUPPORTED; /* [MQTT-3.2.2-14] */
    if (rc) {
        log_info("bad PUBLISH from client=%s addr=%s: reason 0x%02x", s->client_id, c->addr, rc);
        conn_close(c, rc, true, true);
        return;
    }
    if (pub->props.payload_format == 1 && !codec_utf8_valid(pub->payload.p, pub->payload.len)) {
        if (pub->qos == 0)
            conn_close(c, MQTT_RC_PAYLOAD_FORMAT_INVALID, true, true);
        else
            ack(c, pub, MQTT_RC_PAYLOAD_FORMAT_INVALID);
        return;
    }
    if (!session_may(s, RULE_PUBLISH, topic, tlen, pub->qos, pub->retain, NULL)) {
        /* 5.0 learns it was refused; 3.1.x has no way to be told: acknowledged, dropped. */
        log_info("publish denied client=%s topic=%.*s", s->client_id, (int)tlen, topic);
        b->stats.msgs_denied++;
        if (perms_denied(s, RULE_PUBLISH, topic, tlen, pub->qos, pub->retain))
            return; /* on_deny disconnect: the DISCONNECT is the answer */
        ack(c, pub, c->version == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED : 0);
        return;
    }
    if (pub->qos == 2) {
        if (session_in_qos2_has(s, pub->packet_id)) {
            /* A resend before PUBREL: acknowledge again, deliver once [MQTT-4.3.3-9]. */
            ack(c, pub, 0);
            return;
        }
        /* 5.0 clients were told our Receive Maximum [MQTT-3.3.4-9]; 3.1.x clients were
         * not, so they are bounded only by the packet id space. */
        uint32_t limit = c->version == MQTT_V5 ? cfg->max_inflight_messages : UINT16_MAX;
        enum wd_err e = session_in_qos2_add(s, pub->packet_id, limit);
        if (e != WD_OK) {
            conn_close(c, e == WD_ELIMIT ? MQTT_RC_RECEIVE_MAX_EXCEEDED : MQTT_RC_UNSPECIFIED,
                       true, true);
            return;
        }
    }

    struct msg *m = NULL;
    if (c->version == MQTT_V5 && pub->props.raw.len) {
        struct buf props;
        buf_init(&props);
        if (codec_props_passthrough(&pub->props, &props) == WD_OK)
            m = msg_new(topic, tlen, buf_head(&props), buf_used(&props), pub->payload.p,
                        pub->payload.len);
        buf_fini(&props);
    } else {
        m = msg_new(topic, tlen, NULL, 0, pub->payload.p, pub->payload.len);
    }
    if (!m) {
        conn_close(c, MQTT_RC_UNSPECIFIED, true, true);
        return;
    }
    m->qos = pub->qos;
    m->retain = pub->retain;
    m->payload_format = pub->props.payload_format;
    m->origin = s->id;
    if (pub->props.present & MQTT_PROP_BIT(MQTT_P_MESSAGE_EXPIRY)) {
        m->expiry_s = pub->props.message_expiry;
        m->expiry_at_ms = loop_now_ms(b->loop) + (uint64_t)m->expiry_s * 1000;
    }
    if (pub->retain)
        retain_store(b, m);
    route_publish(b, m);
    msg_unref(m);
    ack(c, pub, 0);
}
