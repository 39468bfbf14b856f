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

#include "auth.h"
#include "broker.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "mem.h"
#include "perms.h"
#include "session.h"
#include "tls.h"
#include "tokauth.h"
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
    session_note(c->b, client_id, FL_REFUSED, "CONNECT from %s refused: %s", c->addr, why);
    conn_close(c, v5_reason, false, false);
}

/* Refuse for one of auth.h's reasons. */
static void refuse_ar(struct conn *c, enum auth_refusal r, const char *client_id, const char *why)
{
    c->b->stats.auth_failures++;
    refuse(c, auth_reason(r, MQTT_V5), auth_reason(r, MQTT_V311), client_id, why);
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
    flight_note(&s->flight, FL_TAKEOVER, "taken over by %s (was %s)", addr, old->addr);
    old->s = NULL;
    s->conn = NULL;
    conn_close(old, MQTT_RC_SESSION_TAKEN_OVER, true, false);
    /* The old connection ended abnormally; its will goes out unless the
     * session continues at once with a Will Delay pending [MQTT-3.1.3-9]. */
    if (s->will_m && (s->will_delay == 0 || clean_start))
        session_fire_will(s);
    else
        session_set_will(s, NULL, 0);
}

static void put_connack(struct conn *c, bool present, const char *assigned, bool ka_changed,
                        bool jwt)
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
        if (jwt) {
            /* The method the client chose is the one it may re-authenticate with. */
            p->present |= MQTT_PROP_BIT(MQTT_P_AUTH_METHOD);
            p->auth_method = (struct mqtt_str){(const uint8_t *)TOKAUTH_METHOD,
                                               (uint32_t)strlen(TOKAUTH_METHOD)};
        }
    }
    codec_encode_connack(&c->out, c->version, &ca);
    conn_mark_output(c);
}

/*
 * What the rest of the connect needs from CONNECT, copied, so that it can
 * finish after a password check on a worker (the packet bytes are gone by
 * then).
 */
struct pending_connect {
    uint8_t version;
    bool clean_start;
    bool assigned;              /* client id made up by us (5.0: tell the client) */
    bool ka_changed;            /* 5.0: send Server Keep Alive */
    bool has_receive_max;
    bool has_problem_info;
    uint8_t problem_info;
    uint8_t method;             /* enum auth_method */
    uint16_t keepalive;         /* effective */
    uint16_t receive_max;
    uint16_t topic_alias_max;
    uint32_t session_expiry;
    uint32_t max_packet_size;
    uint32_t will_delay;
    struct msg *will;           /* holds a reference, or NULL */
    struct perms *perms;        /* holds a reference: the identity's permissions, or NULL */
    bool default_allow;         /* anonymous_default allow applies */
    char *client_id;            /* owned */
    char *username;             /* owned or NULL: the identity */
    char shown[160];            /* how the log names the client */
    char cert[80];              /* certificate identity, "" when none */
    struct tokauth *tok;        /* owned or NULL: the verified access token */
    bool jwt;                   /* 5.0 Authentication Method "jwt": AUTH may re-authenticate */
};

void handle_connect_pending_free(struct pending_connect *pc)
{
    if (!pc)
        return;
    msg_unref(pc->will);
    perms_unref(pc->perms);
    tokauth_free(pc->tok);
    wd_free(pc->client_id);
    wd_free(pc->username);
    wd_free(pc);
}

/* Authenticated: ownership, session attach or create, CONNACK. Takes pc's contents. */
/* Append src to *p, keeping one byte for the NUL before end. */
static void put_str(char **p, const char *end, const char *src)
{
    size_t n = strlen(src);
    if (n > (size_t)(end - *p - 1))
        n = (size_t)(end - *p - 1);
    memcpy(*p, src, n);
    *p += n;
}

/*
 * The flight recorder's CONNECT event, built without printf: it is written
 * for every connection, and vsnprintf() was ~2,000 instructions of a
 * connect cycle's ~15,600 (callgrind).
 */
static void note_connect(struct session *s, const struct conn *c, const struct pending_connect *pc,
                         bool present)
{
    char text[FLIGHT_TEXT + 1];
    char *p = text, *end = text + sizeof text;
    char ver[2] = {(char)('0' + c->version % 10), '\0'};
    put_str(&p, end, "CONNECT accepted: MQTT ");
    put_str(&p, end, ver);
    put_str(&p, end, " from ");
    put_str(&p, end, c->addr);
    put_str(&p, end, ", auth ");
    put_str(&p, end, auth_method_name(pc->method));
    if (present)
        put_str(&p, end, ", session resumed");
    if (*pc->cert) {
        put_str(&p, end, ", cert ");
        put_str(&p, end, pc->cert);
    }
    *p = '\0';
    flight_note_str(&s->flight, FL_CONNECT, text);
}

static void finish(struct conn *c, struct pending_connect *pc)
{
    struct broker *b = c->b;
    const struct config *cfg = &b->cfg;
    size_t idlen = strlen(pc->client_id);
    enum auth_refusal ar =
        auth_owns(b->auth, c->lst, pc->client_id, idlen, pc->username, c->ip);
    if (ar != AR_NONE) {
        refuse_ar(c, ar, pc->shown, "client id bound to another identity");
        return;
    }
    if (pc->will) {
        /* The will is published in the client's name: it must be allowed to. */
        struct acl_subject who = {pc->username, pc->client_id, *pc->cert ? pc->cert : NULL};
        if (!perms_allow(pc->perms, pc->default_allow, &who, RULE_PUBLISH, msg_topic(pc->will),
                         pc->will->topic_len, pc->will->qos, pc->will->retain, NULL)) {
            refuse_ar(c, AR_NOT_AUTHORIZED, pc->shown, "will topic not allowed");
            return;
        }
    }
    struct session *s = session_find(b, pc->client_id, idlen);
    if (s && s->conn)
        take_over(s, pc->clean_start, c->addr);
    bool present = false;
    if (s && pc->clean_start) {
        session_end(s);
        s = NULL;
    }
    if (s) {
        present = true;
        loop_timer_cancel(b->loop, &s->offline_timer); /* expiry and any will delay */
        /* Back before the Will Delay passed: that will is not sent [MQTT-3.1.3-9]. */
        session_set_will(s, NULL, 0);
    } else {
        s = session_new(b, pc->client_id, idlen);
        if (!s) {
            refuse(c, MQTT_RC_SERVER_UNAVAILABLE, MQTT3_SERVER_UNAVAILABLE, pc->shown,
                   "out of memory");
            return;
        }
    }
    if (pc->version == MQTT_V5)
        s->expiry = pc->session_expiry;
    else
        s->expiry = pc->clean_start ? 0 : UINT32_MAX;
    s->version = pc->version;
    wd_free(s->username);
    s->username = pc->username ? wd_strdup(pc->username) : NULL;
    wd_free(c->username);
    c->username = pc->username;
    pc->username = NULL;
    c->auth_method = pc->method;
    session_set_perms(s, pc->perms, pc->default_allow);
    wd_free(s->cn);
    s->cn = *pc->cert ? wd_strdup(pc->cert) : NULL;
    s->conn = c;
    c->s = s;
    if (pc->will) {
        pc->will->origin = s->id;
        session_set_will(s, pc->will, pc->will_delay);
        pc->will = NULL;
    }

    c->keepalive = pc->keepalive;
    uint32_t window = cfg->max_inflight_messages;
    if (pc->version == MQTT_V5) {
        if (pc->has_receive_max && pc->receive_max < window)
            window = pc->receive_max;
        c->max_packet_out = pc->max_packet_size;
        c->alias_out_max =
            pc->topic_alias_max < CONN_ALIAS_OUT_MAX ? pc->topic_alias_max : CONN_ALIAS_OUT_MAX;
        if (pc->has_problem_info)
            c->problem_info = pc->problem_info;
    }
    c->window = (uint16_t)window;
    c->state = CONN_ACTIVE;
    c->connected_at = broker_wall();
    b->nclients++;
    b->stats.connects_total++;
    if (b->nclients > b->stats.peak_connections)
        b->stats.peak_connections = b->nclients;

    put_connack(c, present, pc->assigned ? s->client_id : NULL, pc->ka_changed, pc->jwt);
    if (pc->tok) {
        pc->tok->reauth = pc->jwt;
        handle_auth_token_attach(c, pc->tok);
        pc->tok = NULL;
    }
    loop_timer_cancel(b->loop, &c->timer);
    if (c->keepalive)
        loop_timer_arm(b->loop, &c->timer, (uint64_t)c->keepalive * 1500);
    log_info("connect client=%s addr=%s proto=%u%s%s%s auth=%s result=success", pc->shown,
             c->addr, c->version, present ? " session=resumed" : "", *pc->cert ? " cert=" : "",
             pc->cert, auth_method_name(pc->method));
    note_connect(s, c, pc, present);
    if (present)
        session_resume(s);
}

/* The worker's answer to a password or certificate-identity check (broker thread). */
static void checked(void *ctx, enum auth_refusal r, struct perms *perms)
{
    struct conn *c = ctx;
    struct pending_connect *pc = c->pending;
    const char *why = NULL;
    if (pc->method == AUTH_TOKEN)
        pc->tok = auth_ticket_token(c->ticket, &why);
    c->ticket = NULL;
    c->pending = NULL;
    perms_unref(pc->perms);
    pc->perms = perms;
    if (r == AR_NONE && pc->tok) {
        /* The token names the identity: it is the session's user name from now on. */
        char *sub = wd_strdup(pc->tok->sub);
        if (!sub) {
            r = AR_BUSY;
        } else {
            wd_free(pc->username);
            pc->username = sub;
            char cid[65], shown[65];
            log_clean(cid, sizeof cid, pc->client_id, strlen(pc->client_id));
            snprintf(pc->shown, sizeof pc->shown, "%s user=%s", cid,
                     log_clean(shown, sizeof shown, sub, strlen(sub)));
            if (auth_identity_banned(c->b->auth, sub, NULL, NULL)) {
                r = AR_BANNED;
                why = "token subject banned";
            }
        }
    }
    if (c->state == CONN_AUTH) {
        c->state = CONN_NEW;
        if (r != AR_NONE) {
            refuse_ar(c, r, pc->shown, why ? why : auth_refusal_text(r));
        } else {
            finish(c, pc);
            conn_resume_input(c);
        }
    }
    handle_connect_pending_free(pc);
}

void handle_connect(struct conn *c, struct mqtt_packet *p)
{
    struct broker *b = c->b;
    const struct config *cfg = &b->cfg;
    struct mqtt_connect *cn = &p->u.connect;
    c->version = cn->version;

    struct pending_connect *pc = wd_calloc(1, sizeof *pc);
    if (!pc) {
        refuse(c, MQTT_RC_SERVER_UNAVAILABLE, MQTT3_SERVER_UNAVAILABLE, "-", "out of memory");
        return;
    }
    pc->version = cn->version;
    pc->clean_start = cn->clean_start;
    if (cn->client_id.len == 0) {
        /* 3.1 needs an id; 3.1.1 only for a clean session [MQTT-3.1.3-7, -8]. */
        if (cn->version == MQTT_V31 || (cn->version == MQTT_V311 && !cn->clean_start) ||
            !c->lst->cfg->allow_zero_length_clientid) {
            refuse(c, MQTT_RC_CLIENTID_NOT_VALID, MQTT3_ID_REJECTED, "", "empty client id");
            handle_connect_pending_free(pc);
            return;
        }
        char idbuf[64];
        make_client_id(idbuf, sizeof idbuf);
        pc->client_id = wd_strdup(idbuf);
        pc->assigned = cn->version == MQTT_V5;
    } else {
        pc->client_id = wd_strndup((const char *)cn->client_id.p, cn->client_id.len);
    }
    if (cn->has_username)
        pc->username = wd_strndup((const char *)cn->username.p, cn->username.len);
    if (!pc->client_id || (cn->has_username && !pc->username)) {
        refuse(c, MQTT_RC_SERVER_UNAVAILABLE, MQTT3_SERVER_UNAVAILABLE, "-", "out of memory");
        handle_connect_pending_free(pc);
        return;
    }
    size_t idlen = strlen(pc->client_id);
    /* How the log names this client: its id and, when given, its user name. */
    char cid[65], user[65];
    log_clean(cid, sizeof cid, pc->client_id, idlen);
    if (cn->has_username)
        snprintf(pc->shown, sizeof pc->shown, "%s user=%s", cid,
                 log_clean(user, sizeof user, cn->username.p, cn->username.len));
    else
        snprintf(pc->shown, sizeof pc->shown, "%s", cid);
    const char *shown = pc->shown;

    /* Keepalive: 5.0 is told the server's value; 3.1.x above the maximum is refused. */
    uint16_t ka = cn->keepalive;
    if (ka > cfg->max_keepalive || (ka == 0 && cfg->max_keepalive < 65535)) {
        if (cn->version != MQTT_V5 && ka > cfg->max_keepalive) {
            refuse(c, MQTT_RC_CLIENTID_NOT_VALID, MQTT3_ID_REJECTED, shown, "keepalive too long");
            handle_connect_pending_free(pc);
            return;
        }
        if (cn->version == MQTT_V5) {
            ka = (uint16_t)cfg->max_keepalive;
            pc->ka_changed = true;
        }
    }
    pc->keepalive = ka;
    const struct mqtt_props *pr = &cn->props;
    pc->session_expiry = pr->session_expiry;
    pc->has_receive_max = pr->present & MQTT_PROP_BIT(MQTT_P_RECEIVE_MAX);
    pc->receive_max = pr->receive_max;
    pc->max_packet_size = pr->max_packet_size;
    pc->topic_alias_max = pr->topic_alias_max;
    pc->has_problem_info = pr->present & MQTT_PROP_BIT(MQTT_P_REQUEST_PROBLEM_INFO);
    pc->problem_info = pr->request_problem_info;

    enum auth_refusal ar = AR_NONE;
    const char *why = NULL;
    /* TLS: a verified certificate on a use_*_as_username listener authenticates its identity. */
    const struct tls_info *ti = c->tls ? tls_conn_info(c->tls) : NULL;
    const struct config_tls *lt = &c->lst->cfg->tls;
    const char *cert_user = !ti || !ti->has_cert ? NULL
                            : lt->use_subject_as_username ? ti->subject
                            : lt->use_identity_as_username ? ti->identity : NULL;
    if (ti && ti->has_cert) {
        snprintf(pc->cert, sizeof pc->cert, "%.79s", ti->identity);
        auth_cert_seen(b->auth, ti); /* warden cert list-seen; throttled, off this thread */
    }
    /* An access token: the password (or, with method jwt, the Authentication Data). */
    enum config_auth_tokens tokmode = c->lst->cfg->auth_tokens;
    const void *token = NULL;
    size_t toklen = 0;
    if (pr->present & MQTT_PROP_BIT(MQTT_P_AUTH_METHOD)) {
        pc->jwt = tokmode != AUTH_TOKENS_FALSE && !cert_user &&
                  pr->auth_method.len == strlen(TOKAUTH_METHOD) &&
                  memcmp(pr->auth_method.p, TOKAUTH_METHOD, pr->auth_method.len) == 0;
        token = cn->has_password ? cn->password.p : pr->auth_data.p;
        toklen = cn->has_password ? cn->password.len : pr->auth_data.len;
    } else if (tokmode != AUTH_TOKENS_FALSE && !cert_user && cn->has_password &&
               (tokmode == AUTH_TOKENS_ONLY ||
                tokauth_looks_like_token(cn->password.p, cn->password.len))) {
        token = cn->password.p;
        toklen = cn->password.len;
    }
    if ((pr->present & MQTT_PROP_BIT(MQTT_P_AUTH_METHOD)) && !pc->jwt) {
        ar = AR_BAD_METHOD;
        why = "unsupported auth method";
    } else if (pc->jwt && !toklen) {
        ar = AR_BAD_CREDENTIALS;
        why = "authentication method jwt without a token";
    } else if (tokmode == AUTH_TOKENS_ONLY && !token && cn->has_username) {
        ar = AR_BAD_CREDENTIALS;
        why = "passwords are refused on this listener (auth_tokens only)";
    } else if (cert_user && !*cert_user) {
        ar = AR_NOT_AUTHORIZED;
        why = lt->use_subject_as_username ? "certificate has an empty subject"
                                          : "certificate has no identity of the cert_identity kind";
    } else if (cert_user && (cn->has_username || cn->has_password)) {
        ar = AR_BAD_CREDENTIALS;
        why = "credentials sent with a certificate identity";
    } else if (ti && ti->has_cert && !cert_user &&
               (ar = auth_cert_check(b->auth, NULL, ti->fingerprint, cid, c->addr))) {
        /* The store's revocations as last refreshed; a certificate identity is checked
         * against the store itself by auth_identity() below. */
        why = "certificate revoked";
    } else {
        /* 1, 2: bans and the client-id policy, before anything expensive. */
        ar = auth_precheck(b->auth, c->lst, c->ip, pc->client_id, idlen,
                           cert_user ? cert_user : pc->username,
                           cert_user ? strlen(cert_user) : cn->username.len);
        if (ar == AR_NONE && !cert_user && !cn->has_username && !cn->has_password && !token &&
            !c->lst->cfg->allow_anonymous) {
            ar = AR_NOT_AUTHORIZED;
            why = "anonymous not allowed";
        } else if (ar == AR_NONE && cn->has_password && !cn->has_username && !token) {
            ar = AR_BAD_CREDENTIALS; /* 5.0 allows it; we have no user to check it against */
        }
    }
    if (ar != AR_NONE) {
        refuse_ar(c, ar, shown, why ? why : auth_refusal_text(ar));
        handle_connect_pending_free(pc);
        return;
    }
    if (cn->will_flag) {
        uint8_t rc = 0;
        pc->will = make_will(c, cn, &rc);
        if (!pc->will) {
            refuse(c, rc, MQTT3_SERVER_UNAVAILABLE, shown, "invalid will");
            handle_connect_pending_free(pc);
            return;
        }
        pc->will_delay = cn->will_props.will_delay;
    }
    if (cert_user) {
        wd_free(pc->username);
        pc->username = wd_strdup(cert_user);
        if (!pc->username) {
            refuse(c, MQTT_RC_SERVER_UNAVAILABLE, MQTT3_SERVER_UNAVAILABLE, shown, "out of memory");
            handle_connect_pending_free(pc);
            return;
        }
        snprintf(pc->shown, sizeof pc->shown, "%s user=%.80s", cid, cert_user);
        pc->method = AUTH_CERTIFICATE;
        /* The store decides what this identity may do (and whether it is disabled). */
        struct auth_ticket *t = NULL;
        ar = auth_identity(b->auth, pc->username, lt->cert_requires_user, ti->fingerprint,
                           cid, c->ip, checked, c, &t);
        if (ar != AR_NONE) {
            refuse_ar(c, ar, shown, auth_refusal_text(ar));
            handle_connect_pending_free(pc);
            return;
        }
        if (t) {
            c->state = CONN_AUTH;
            c->ticket = t;
            c->pending = pc;
            return;
        }
    } else if (token) {
        /* 3: an access token, verified on a worker (signature, store lookups). */
        struct auth_ticket *t = NULL;
        pc->method = AUTH_TOKEN;
        ar = auth_token(b->auth, c->ip, pc->client_id, pc->username ? pc->username : "",
                        pc->username ? cn->username.len : 0, token, toklen, checked, c, &t);
        if (ar != AR_NONE) {
            refuse_ar(c, ar, shown, auth_refusal_text(ar));
            handle_connect_pending_free(pc);
            return;
        }
        c->state = CONN_AUTH;
        c->ticket = t;
        c->pending = pc;
        return;
    } else if (cn->has_username) {
        /* 3: the password, on a worker unless a recent identical login vouches for it. */
        struct auth_ticket *t = NULL;
        pc->method = AUTH_PASSWORD;
        ar = auth_password(b->auth, c->ip, pc->client_id, pc->username, cn->username.len,
                           cn->password.p, cn->password.len, checked, c, &t, &pc->perms);
        if (ar != AR_NONE) {
            refuse_ar(c, ar, shown, auth_refusal_text(ar));
            handle_connect_pending_free(pc);
            return;
        }
        if (t) {
            c->state = CONN_AUTH;
            c->ticket = t;
            c->pending = pc;
            return;
        }
        log_debug("credentials of %s verified from cache", pc->username);
    } else {
        pc->method = AUTH_ANONYMOUS;
        pc->perms = perms_ref(auth_anonymous_perms(b->auth));
        pc->default_allow = c->lst->cfg->anonymous_default == ANON_DEFAULT_ALLOW;
    }
    finish(c, pc);
    handle_connect_pending_free(pc);
}
