/*
 * handle_connect.c - CONNECT: version and client-id policy, keepalive,
 * credentials, takeover, session attach or create, will, CONNACK.
 *
 * Order matters: every check that can refuse the client runs before any
 * state changes, so a refused CONNECT leaves sessions and other clients
 * untouched. A refusal is a CONNACK with the failure code and a close, never
 * a DISCONNECT [MQTT-3.2.2-6, MQTT-3.14.0-1].
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "broker.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "mem.h"
#include "session.h"
#include "tls.h"
#include "topic.h"

/* Send a failure CONNACK (5.0 reason or 3.1.x return code) and close. */
static void refuse(struct conn *c, uint8_t v5_reason, uint8_t v3_code, const char *client_id,
                   const char *why)
{
    struct mqtt_connack ca = {.reason = c->version == MQTT_V5 ? v5_reason : v3_code};
    codec_encode_connack(&c->out, c->version, &ca);
    conn_mark_output(c);
    log_info("connect client=%s addr=%s proto=%u result=refused (%s)", client_id, c->addr,
             c->version, why);
    conn_close(c, v5_reason, false, false);
}

void handle_connect_error(struct conn *c, const struct mqtt_packet *p, enum wd_err e)
{
    uint8_t v = p->u.connect.version;
    if (e == WD_EVERSION) {
        /* [MQTT-3.1.2-2] unsupported level: CONNACK 0x84 in 5.0 form, else 3.1.1 rc 1. */
        c->version = v == MQTT_V5 ? MQTT_V5 : MQTT_V311;
        refuse(c, MQTT_RC_UNSUPPORTED_VERSION, MQTT3_BAD_VERSION, "-", "unsupported version");
        return;
    }
    if (v == MQTT_V5) {
        c->version = MQTT_V5;
        refuse(c, conn_reason_for(e), 0, "-", wd_strerror(e));
        return;
    }
    log_info("connect addr=%s result=closed (bad CONNECT: %s)", c->addr, wd_strerror(e));
    conn_close(c, conn_reason_for(e), false, false);
}

static void make_client_id(char *out, size_t n)
{
    uint8_t r[8] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        memset(r, 0x5a, sizeof r);
    snprintf(out, n, "warden-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4],
             r[5], r[6], r[7]);
}

/* Build the will message from CONNECT; NULL with *rc set on a bad will. */
static struct msg *make_will(struct conn *c, const struct mqtt_connect *cn, uint8_t *rc)
{
    const struct config *cfg = &c->b->cfg;
    const char *t = (const char *)cn->will_topic.p;
    size_t tl = cn->will_topic.len;
    if (topic_validate_name(t, tl) != WD_OK || tl > cfg->max_topic_length ||
        topic_levels(t, tl) > cfg->max_topic_levels) {
        *rc = MQTT_RC_TOPIC_NAME_INVALID;
        return NULL;
    }
    if (cn->will_qos > cfg->max_qos) {
        *rc = MQTT_RC_QOS_NOT_SUPPORTED;
        return NULL;
    }
    if (cn->will_retain && !cfg->retain_available) {
        *rc = MQTT_RC_RETAIN_NOT_SUPPORTED;
        return NULL;
    }
    const struct mqtt_props *wp = &cn->will_props;
    if (wp->payload_format == 1 && !codec_utf8_valid(cn->will_payload.p, cn->will_payload.len)) {
        *rc = MQTT_RC_PAYLOAD_FORMAT_INVALID;
        return NULL;
    }
    struct buf props;
    buf_init(&props);
    struct msg *m = NULL;
    if (codec_props_passthrough(wp, &props) == WD_OK)
        m = msg_new(t, tl, buf_head(&props), buf_used(&props), cn->will_payload.p,
                    cn->will_payload.len);
    buf_fini(&props);
    if (!m) {
        *rc = MQTT_RC_UNSPECIFIED;
        return NULL;
    }
    m->qos = cn->will_qos;
    m->retain = cn->will_retain;
    m->payload_format = wp->payload_format;
    if (wp->present & MQTT_PROP_BIT(MQTT_P_MESSAGE_EXPIRY))
        m->expiry_s = wp->message_expiry;
    return m;
}

/* Another connection holds this session: close it [MQTT-3.1.4-3]. */
static void take_over(struct session *s, bool clean_start, const char *addr)
{
    struct conn *old = s->conn;
    log_info("client=%s taken over by %s (was %s)", s->client_id, addr, old->addr);
    old->s = NULL;
    s->conn = NULL;
    conn_close(old, MQTT_RC_SESSION_TAKEN_OVER, true, false);
    /* The old connection ended abnormally; its will goes out unless the
     * session continues at once with a Will Delay pending [MQTT-3.1.3-9]. */
    if (s->will.m && (s->will.delay == 0 || clean_start))
        session_fire_will(s);
    else
        session_set_will(s, NULL, 0);
}

static void put_connack(struct conn *c, bool present, const char *assigned, bool ka_changed)
{
    const struct config *cfg = &c->b->cfg;
    struct mqtt_connack ca = {.session_present = present};
    if (c->version == MQTT_V5) {
        struct mqtt_props *p = &ca.props;
        p->present = MQTT_PROP_BIT(MQTT_P_RECEIVE_MAX) | MQTT_PROP_BIT(MQTT_P_MAX_PACKET_SIZE) |
                     MQTT_PROP_BIT(MQTT_P_TOPIC_ALIAS_MAX) |
                     MQTT_PROP_BIT(MQTT_P_RETAIN_AVAILABLE) |
                     MQTT_PROP_BIT(MQTT_P_WILDCARD_AVAILABLE) |
                     MQTT_PROP_BIT(MQTT_P_SUBID_AVAILABLE) |
                     MQTT_PROP_BIT(MQTT_P_SHARED_AVAILABLE);
        p->receive_max = (uint16_t)cfg->max_inflight_messages;
        p->max_packet_size = cfg->max_packet_size;
        p->topic_alias_max = (uint16_t)cfg->topic_alias_maximum;
        p->retain_available = cfg->retain_available;
        p->wildcard_available = 1;
        p->subid_available = 1;
        p->shared_available = 1;
        if (cfg->max_qos < 2) {
            /* [MQTT-3.2.2-9] Maximum QoS is sent only when below 2. */
            p->present |= MQTT_PROP_BIT(MQTT_P_MAX_QOS);
            p->max_qos = (uint8_t)cfg->max_qos;
        }
        if (assigned) {
            p->present |= MQTT_PROP_BIT(MQTT_P_ASSIGNED_CLIENT_ID);
            p->assigned_client_id = (struct mqtt_str){(const uint8_t *)assigned,
                                                      (uint32_t)strlen(assigned)};
        }
        if (ka_changed) {
            p->present |= MQTT_PROP_BIT(MQTT_P_SERVER_KEEPALIVE);
            p->server_keepalive = c->keepalive;
        }
    }
    codec_encode_connack(&c->out, c->version, &ca);
    conn_mark_output(c);
}

void handle_connect(struct conn *c, struct mqtt_packet *p)
{
    struct broker *b = c->b;
    const struct config *cfg = &b->cfg;
    struct mqtt_connect *cn = &p->u.connect;
    c->version = cn->version;

    char idbuf[64];
    const char *id = (const char *)cn->client_id.p;
    size_t idlen = cn->client_id.len;
    const char *assigned = NULL;
    if (idlen == 0) {
        /* 3.1 needs an id; 3.1.1 only for a clean session [MQTT-3.1.3-7, -8]. */
        if (cn->version == MQTT_V31 || (cn->version == MQTT_V311 && !cn->clean_start)) {
            refuse(c, MQTT_RC_CLIENTID_NOT_VALID, MQTT3_ID_REJECTED, "", "empty client id");
            return;
        }
        make_client_id(idbuf, sizeof idbuf);
        id = idbuf;
        idlen = strlen(idbuf);
        if (cn->version == MQTT_V5)
            assigned = idbuf;
    }
    /* How the log names this client: its id and, when given, its user name. */
    char shown[160], cid[65], user[65];
    log_clean(cid, sizeof cid, id, idlen);
    if (cn->has_username)
        snprintf(shown, sizeof shown, "%s user=%s", cid,
                 log_clean(user, sizeof user, cn->username.p, cn->username.len));
    else
        snprintf(shown, sizeof shown, "%s", cid);

    /* Keepalive: 5.0 is told the server's value; 3.1.x above the maximum is refused. */
    uint16_t ka = cn->keepalive;
    bool ka_changed = false;
    if (ka > cfg->max_keepalive || (ka == 0 && cfg->max_keepalive < 65535)) {
        if (cn->version != MQTT_V5 && ka > cfg->max_keepalive) {
            refuse(c, MQTT_RC_CLIENTID_NOT_VALID, MQTT3_ID_REJECTED, shown, "keepalive too long");
            return;
        }
        if (cn->version == MQTT_V5) {
            ka = (uint16_t)cfg->max_keepalive;
            ka_changed = true;
        }
    }

    if (cn->props.present & MQTT_PROP_BIT(MQTT_P_AUTH_METHOD)) {
        refuse(c, MQTT_RC_BAD_AUTH_METHOD, MQTT3_NOT_AUTHORIZED, shown, "unsupported auth method");
        return;
    }
    if (cn->has_username || cn->has_password) {
        /* No identity store in this build: nobody's password can be right. */
        refuse(c, MQTT_RC_BAD_USERNAME_OR_PASSWORD, MQTT3_BAD_CREDENTIALS, shown,
               "bad user name or password");
        return;
    }
    /* TLS: a verified certificate on a use_*_as_username listener authenticates its identity. */
    const struct tls_info *ti = c->tls ? tls_conn_info(c->tls) : NULL;
    const struct config_tls *lt = &c->lst->cfg->tls;
    const char *cert_user = !ti || !ti->has_cert ? NULL
                            : lt->use_subject_as_username ? ti->subject
                            : lt->use_identity_as_username ? ti->identity : NULL;
    if (cert_user && !*cert_user) {
        refuse(c, MQTT_RC_NOT_AUTHORIZED, MQTT3_NOT_AUTHORIZED, shown,
               lt->use_subject_as_username ? "certificate has an empty subject"
                                           : "certificate has no identity of the cert_identity kind");
        return;
    }
    if (cert_user)
        snprintf(shown, sizeof shown, "%s user=%.80s", cid, cert_user);
    if (!cert_user && !c->lst->cfg->allow_anonymous) {
        refuse(c, MQTT_RC_NOT_AUTHORIZED, MQTT3_NOT_AUTHORIZED, shown, "anonymous not allowed");
        return;
    }

    struct msg *will = NULL;
    if (cn->will_flag) {
        uint8_t rc = 0;
        will = make_will(c, cn, &rc);
        if (!will) {
            refuse(c, rc, MQTT3_SERVER_UNAVAILABLE, shown, "invalid will");
            return;
        }
    }

    struct session *s = session_find(b, id, idlen);
    if (s && s->conn)
        take_over(s, cn->clean_start, c->addr);
    bool present = false;
    if (s && cn->clean_start) {
        session_end(s);
        s = NULL;
    }
    if (s) {
        present = true;
        loop_timer_cancel(b->loop, &s->expiry_timer);
        /* Back before the Will Delay passed: that will is not sent [MQTT-3.1.3-9]. */
        session_set_will(s, NULL, 0);
    } else {
        s = session_new(b, id, idlen);
        if (!s) {
            msg_unref(will);
            refuse(c, MQTT_RC_SERVER_UNAVAILABLE, MQTT3_SERVER_UNAVAILABLE, shown, "out of memory");
            return;
        }
    }
    if (cn->version == MQTT_V5)
        s->expiry = cn->props.session_expiry;
    else
        s->expiry = cn->clean_start ? 0 : UINT32_MAX;
    s->version = cn->version;
    wd_free(s->username);
    s->username = cert_user ? wd_strdup(cert_user) : NULL;
    s->conn = c;
    c->s = s;
    if (will) {
        will->origin = s->id;
        session_set_will(s, will, cn->will_props.will_delay);
    }

    c->keepalive = ka;
    uint32_t window = cfg->max_inflight_messages;
    if (cn->version == MQTT_V5) {
        if ((cn->props.present & MQTT_PROP_BIT(MQTT_P_RECEIVE_MAX)) &&
            cn->props.receive_max < window)
            window = cn->props.receive_max;
        c->max_packet_out = cn->props.max_packet_size;
        c->alias_out_max = cn->props.topic_alias_max < CONN_ALIAS_OUT_MAX ? cn->props.topic_alias_max
                                                                  : CONN_ALIAS_OUT_MAX;
        if (cn->props.present & MQTT_PROP_BIT(MQTT_P_REQUEST_PROBLEM_INFO))
            c->problem_info = cn->props.request_problem_info;
    }
    c->window = (uint16_t)window;
    c->state = CONN_ACTIVE;
    c->connected_at = broker_wall();
    b->nclients++;
    b->stats.connects_total++;
    if (b->nclients > b->stats.peak_connections)
        b->stats.peak_connections = b->nclients;

    put_connack(c, present, assigned, ka_changed);
    loop_timer_cancel(b->loop, &c->timer);
    if (c->keepalive)
        loop_timer_arm(b->loop, &c->timer, (uint64_t)c->keepalive * 1500);
    log_info("connect client=%s addr=%s proto=%u%s%s%s%s result=success", shown, c->addr,
             c->version, present ? " session=resumed" : "", ti && ti->has_cert ? " cert=" : "",
             ti && ti->has_cert ? ti->identity : "", cert_user ? " auth=certificate" : "");
    if (present)
        session_resume(s);
}
