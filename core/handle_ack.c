/*
 * handle_ack.c - PUBACK, PUBREC, PUBCOMP (our outbound QoS 1/2) and PUBREL
 * (the client's inbound QoS 2). An ack for an id we don't have in that state
 * is answered as the spec says (PUBCOMP 0x92 for PUBREL) or ignored.
 */
#include "broker.h"
#include "conn.h"
#include "session.h"

void handle_ack(struct conn *c, struct mqtt_packet *p)
{
    struct session *s = c->s;
    const struct mqtt_ack *a = &p->u.ack;
    switch (p->type) {
    case MQTT_PUBACK:
        session_puback(s, a->packet_id);
        break;
    case MQTT_PUBREC:
        session_pubrec(s, a->packet_id, a->reason);
        break;
    case MQTT_PUBCOMP:
        session_pubcomp(s, a->packet_id);
        break;
    case MQTT_PUBREL: {
        bool had = session_in_qos2_del(s, a->packet_id);
        conn_send_ack(c, MQTT_PUBCOMP, a->packet_id, had ? 0 : MQTT_RC_PACKET_ID_NOT_FOUND);
        break;
    }
    }
}
