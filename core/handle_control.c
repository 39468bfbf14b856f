/*
 * handle_control.c - PINGREQ, DISCONNECT and AUTH.
 *
 * AUTH is decoded and handed to the enhanced-authentication hook; with no
 * authentication method negotiated at CONNECT, an AUTH packet is a protocol
 * error [MQTT-4.12.0-1].
 */
#include "broker.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "session.h"

void handle_pingreq(struct conn *c, struct mqtt_packet *p)
{
    (void)p;
    if (codec_encode_empty(&c->out, MQTT_PINGRESP) != WD_OK) {
        conn_close(c, MQTT_RC_UNSPECIFIED, true, true);
        return;
    }
    conn_mark_output(c);
}

void handle_disconnect(struct conn *c, struct mqtt_packet *p)
{
    const struct mqtt_disconnect *d = &p->u.disconnect;
    struct session *s = c->s;
    if (d->props.present & MQTT_PROP_BIT(MQTT_P_SESSION_EXPIRY)) {
        /* [MQTT-3.14.2-2] from 0 at CONNECT to non-zero now is a protocol error. */
        if (s->expiry == 0 && d->props.session_expiry != 0) {
            conn_close(c, MQTT_RC_PROTOCOL_ERROR, true, true);
            return;
        }
        s->expiry = d->props.session_expiry;
    }
    /* 0x04: Disconnect with Will Message [MQTT-3.14.4-3]; otherwise the will is dropped. */
    bool will = c->version == MQTT_V5 && d->reason == MQTT_RC_DISCONNECT_WITH_WILL;
    conn_close(c, d->reason, false, will);
}
