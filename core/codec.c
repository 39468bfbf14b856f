/*
 * codec.c - MQTT 3.1/3.1.1/5.0 packets <-> struct mqtt_packet (see codec.h).
 *
 * Decoding reads with a bounds-checked cursor and never allocates: strings are
 * views into the caller's bytes. What varies by packet type (fixed-header
 * flags, minimum version, valid reason codes, where each property may appear)
 * lives in tables, so the decoders only walk the layout. Encoding is the
 * delivery hot path: every encoder sizes the packet first, makes one
 * buf_reserve() and then writes with no further checks, so a failure leaves
 * the buffer untouched.
 */
#include "codec.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#define VARINT_MAX 268435455u /* largest 4-byte variable byte integer */
#define STR_MAX 65535u        /* two-byte length prefix */

#define TRY(expr)                                                                              \
    do {                                                                                       \
        enum wd_err try_e_ = (expr);                                                           \
        if (try_e_ != WD_OK)                                                                   \
            return try_e_;                                                                     \
    } while (0)

/* ---- per-type rules ---------------------------------------------------- */

struct pkt_rule {
    codec_decode_fn decode;
    uint8_t flags;       /* required fixed-header low nibble (PUBLISH: checked by its decoder) */
    uint8_t min_version; /* lower versions get WD_EPROTOCOL */
};

/* Flags per [MQTT-2.2.2-1] (3.1.1) / [MQTT-2.1.3-1] (5.0): reserved bits hold fixed values. */
static const struct pkt_rule pkt_rules[16] = {
    [MQTT_CONNECT] = {codec_decode_connect, 0x0, MQTT_V31},
    [MQTT_CONNACK] = {codec_decode_connack, 0x0, MQTT_V31},
    [MQTT_PUBLISH] = {codec_decode_publish, 0x0, MQTT_V31},
    [MQTT_PUBACK] = {codec_decode_ack, 0x0, MQTT_V31},
    [MQTT_PUBREC] = {codec_decode_ack, 0x0, MQTT_V31},
    [MQTT_PUBREL] = {codec_decode_ack, 0x2, MQTT_V31},
    [MQTT_PUBCOMP] = {codec_decode_ack, 0x0, MQTT_V31},
    [MQTT_SUBSCRIBE] = {codec_decode_subscribe, 0x2, MQTT_V31},
    [MQTT_SUBACK] = {codec_decode_suback, 0x0, MQTT_V31},
    [MQTT_UNSUBSCRIBE] = {codec_decode_unsubscribe, 0x2, MQTT_V31},
    [MQTT_UNSUBACK] = {codec_decode_suback, 0x0, MQTT_V31},
    [MQTT_PINGREQ] = {codec_decode_empty, 0x0, MQTT_V31},
    [MQTT_PINGRESP] = {codec_decode_empty, 0x0, MQTT_V31},
    [MQTT_DISCONNECT] = {codec_decode_disconnect, 0x0, MQTT_V31},
    [MQTT_AUTH] = {codec_decode_auth, 0x0, MQTT_V5},
};

/* Valid reason codes per packet type: 5.0 section 2.4 and each packet's reason code table. */
static const uint8_t rc_connack5[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
                                      0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C,
                                      0x9D, 0x9F};
static const uint8_t rc_puback[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
static const uint8_t rc_pubrel[] = {0x00, 0x92};
static const uint8_t rc_suback5[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                     0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
static const uint8_t rc_unsuback[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
static const uint8_t rc_disconnect[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                        0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                        0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
static const uint8_t rc_auth[] = {0x00, 0x18, 0x19};
static const uint8_t rc_connack3[] = {0, 1, 2, 3, 4, 5};
static const uint8_t rc_suback3[] = {0x00, 0x01, 0x02, 0x80};

struct rc_set {
    const uint8_t *v;
    uint8_t n;
};
#define RCS(a) {a, sizeof a}

static const struct rc_set rc_v5[16] = {
    [MQTT_CONNACK] = RCS(rc_connack5),    [MQTT_PUBACK] = RCS(rc_puback),
    [MQTT_PUBREC] = RCS(rc_puback),       [MQTT_PUBREL] = RCS(rc_pubrel),
    [MQTT_PUBCOMP] = RCS(rc_pubrel),      [MQTT_SUBACK] = RCS(rc_suback5),
    [MQTT_UNSUBACK] = RCS(rc_unsuback),   [MQTT_DISCONNECT] = RCS(rc_disconnect),
    [MQTT_AUTH] = RCS(rc_auth),
};
static const struct rc_set rc_v3[16] = {
    [MQTT_CONNACK] = RCS(rc_connack3),
    [MQTT_SUBACK] = RCS(rc_suback3),
};

static bool rc_valid(uint8_t type, uint8_t version, uint8_t rc)
{
    const struct rc_set *s = version == MQTT_V5 ? &rc_v5[type] : &rc_v3[type];
    return memchr(s->v, rc, s->n) != NULL;
}

/* ---- property rules (5.0 section 2.2.2.2, table 2-4) ------------------- */

enum prop_kind { PK_NONE, PK_BYTE, PK_U16, PK_U32, PK_VARINT, PK_UTF8, PK_BIN, PK_PAIR };

#define PF_BOOL 0x1    /* value must be 0 or 1 ("Protocol Error to include a value other than") */
#define PF_NONZERO 0x2 /* value 0 is a Protocol Error */

struct prop_rule {
    uint8_t kind;   /* enum prop_kind; PK_NONE = not a property id */
    uint8_t flags;  /* PF_* */
    uint16_t where; /* IN(type) per packet type that may carry it; bit 0 = Will Properties */
    uint16_t off;   /* field in struct mqtt_props */
};

#define IN(t) ((uint16_t)(1u << (t)))
#define WILL IN(0) /* slot 0: no packet has type 0, so Will Properties borrow it */
#define ACKS (IN(MQTT_PUBACK) | IN(MQTT_PUBREC) | IN(MQTT_PUBREL) | IN(MQTT_PUBCOMP))
#define MSG (WILL | IN(MQTT_PUBLISH))
#define CON (IN(MQTT_CONNECT) | IN(MQTT_CONNACK))
#define ALL                                                                                    \
    (MSG | CON | ACKS | IN(MQTT_SUBSCRIBE) | IN(MQTT_SUBACK) | IN(MQTT_UNSUBSCRIBE) |           \
     IN(MQTT_UNSUBACK) | IN(MQTT_DISCONNECT) | IN(MQTT_AUTH))
#define OFF(f) offsetof(struct mqtt_props, f)

static const struct prop_rule prop_rules[64] = {
    [MQTT_P_PAYLOAD_FORMAT] = {PK_BYTE, PF_BOOL, MSG, OFF(payload_format)},
    [MQTT_P_MESSAGE_EXPIRY] = {PK_U32, 0, MSG, OFF(message_expiry)},
    [MQTT_P_CONTENT_TYPE] = {PK_UTF8, 0, MSG, OFF(content_type)},
    [MQTT_P_RESPONSE_TOPIC] = {PK_UTF8, 0, MSG, OFF(response_topic)},
    [MQTT_P_CORRELATION_DATA] = {PK_BIN, 0, MSG, OFF(correlation_data)},
    [MQTT_P_SUBSCRIPTION_ID] = {PK_VARINT, PF_NONZERO, IN(MQTT_PUBLISH) | IN(MQTT_SUBSCRIBE),
                                OFF(sub_id)},
    [MQTT_P_SESSION_EXPIRY] = {PK_U32, 0, CON | IN(MQTT_DISCONNECT), OFF(session_expiry)},
    [MQTT_P_ASSIGNED_CLIENT_ID] = {PK_UTF8, 0, IN(MQTT_CONNACK), OFF(assigned_client_id)},
    [MQTT_P_SERVER_KEEPALIVE] = {PK_U16, 0, IN(MQTT_CONNACK), OFF(server_keepalive)},
    [MQTT_P_AUTH_METHOD] = {PK_UTF8, 0, CON | IN(MQTT_AUTH), OFF(auth_method)},
    [MQTT_P_AUTH_DATA] = {PK_BIN, 0, CON | IN(MQTT_AUTH), OFF(auth_data)},
    [MQTT_P_REQUEST_PROBLEM_INFO] = {PK_BYTE, PF_BOOL, IN(MQTT_CONNECT),
                                     OFF(request_problem_info)},
    [MQTT_P_WILL_DELAY] = {PK_U32, 0, WILL, OFF(will_delay)},
    [MQTT_P_REQUEST_RESPONSE_INFO] = {PK_BYTE, PF_BOOL, IN(MQTT_CONNECT),
                                      OFF(request_response_info)},
    [MQTT_P_RESPONSE_INFO] = {PK_UTF8, 0, IN(MQTT_CONNACK), OFF(response_info)},
    [MQTT_P_SERVER_REFERENCE] = {PK_UTF8, 0, IN(MQTT_CONNACK) | IN(MQTT_DISCONNECT),
                                 OFF(server_reference)},
    [MQTT_P_REASON_STRING] = {PK_UTF8, 0, ALL & ~(MSG | IN(MQTT_CONNECT) | IN(MQTT_SUBSCRIBE) |
                                                  IN(MQTT_UNSUBSCRIBE)),
                              OFF(reason_string)},
    [MQTT_P_RECEIVE_MAX] = {PK_U16, PF_NONZERO, CON, OFF(receive_max)},
    [MQTT_P_TOPIC_ALIAS_MAX] = {PK_U16, 0, CON, OFF(topic_alias_max)},
    /* [MQTT-3.3.2-8]: Topic Alias 0 is not permitted. */
    /* Alias 0 decodes: the broker answers it with 0x94 Topic Alias invalid. */
    [MQTT_P_TOPIC_ALIAS] = {PK_U16, 0, IN(MQTT_PUBLISH), OFF(topic_alias)},
    [MQTT_P_MAX_QOS] = {PK_BYTE, PF_BOOL, IN(MQTT_CONNACK), OFF(max_qos)},
    [MQTT_P_RETAIN_AVAILABLE] = {PK_BYTE, PF_BOOL, IN(MQTT_CONNACK), OFF(retain_available)},
    [MQTT_P_USER_PROPERTY] = {PK_PAIR, 0, ALL, 0},
    [MQTT_P_MAX_PACKET_SIZE] = {PK_U32, PF_NONZERO, CON, OFF(max_packet_size)},
    [MQTT_P_WILDCARD_AVAILABLE] = {PK_BYTE, PF_BOOL, IN(MQTT_CONNACK), OFF(wildcard_available)},
    [MQTT_P_SUBID_AVAILABLE] = {PK_BYTE, PF_BOOL, IN(MQTT_CONNACK), OFF(subid_available)},
    [MQTT_P_SHARED_AVAILABLE] = {PK_BYTE, PF_BOOL, IN(MQTT_CONNACK), OFF(shared_available)},
};

/* ---- reading ----------------------------------------------------------- */

/* Cursor over untrusted bytes: every read checks against end. */
struct rd {
    const uint8_t *p;
    const uint8_t *end;
};

/* p may be NULL when len is 0 (a 3.1.x packet has no property section): NULL + 0 is UB. */
static struct rd rd_make(const uint8_t *p, size_t len)
{
    struct rd r = {p, len ? p + len : p};
    return r;
}

static size_t rd_left(const struct rd *r)
{
    return (size_t)(r->end - r->p);
}

static enum wd_err rd_u8(struct rd *r, uint8_t *v)
{
    if (rd_left(r) < 1)
        return WD_EMALFORMED;
    *v = *r->p++;
    return WD_OK;
}

static enum wd_err rd_u16(struct rd *r, uint16_t *v)
{
    if (rd_left(r) < 2)
        return WD_EMALFORMED;
    *v = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return WD_OK;
}

static enum wd_err rd_u32(struct rd *r, uint32_t *v)
{
    if (rd_left(r) < 4)
        return WD_EMALFORMED;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return WD_OK;
}

/* Variable byte integer, at most 4 bytes [MQTT-1.5.5-1]. */
static enum wd_err rd_varint(struct rd *r, uint32_t *v)
{
    uint32_t val = 0;
    for (unsigned i = 0; i < 4; i++) {
        if (rd_left(r) < 1)
            return WD_EMALFORMED;
        uint8_t b = *r->p++;
        val |= (uint32_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            *v = val;
            return WD_OK;
        }
    }
    return WD_EMALFORMED;
}

/* Two-byte length then that many bytes (Binary Data, or a string not yet validated). */
static enum wd_err rd_bin(struct rd *r, struct mqtt_str *s)
{
    uint16_t n;
    TRY(rd_u16(r, &n));
    if (rd_left(r) < n)
        return WD_EMALFORMED;
    s->p = r->p;
    s->len = n;
    r->p += n;
    return WD_OK;
}

/* UTF-8 Encoded String [MQTT-1.5.3-1] [MQTT-1.5.3-2]: well-formed, no U+0000. */
static enum wd_err rd_utf8(struct rd *r, struct mqtt_str *s)
{
    TRY(rd_bin(r, s));
    return codec_utf8_valid(s->p, s->len) ? WD_OK : WD_EMALFORMED;
}

static void rd_rest(struct rd *r, struct mqtt_str *s)
{
    s->p = r->p;
    s->len = (uint32_t)rd_left(r);
    r->p = r->end;
}

bool codec_utf8_valid(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    while (p < end) {
        uint8_t c = *p;
        if (c >= 0x01 && c <= 0x7F) {
            p++;
            continue;
        }
        /* Second-byte range per lead byte (RFC 3629 table): it excludes overlong forms,
         * surrogates (ED A0..BF) and code points above U+10FFFF. */
        uint8_t lo = 0x80, hi = 0xBF;
        size_t n;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return false; /* U+0000, stray continuation, C0/C1 overlong, F5..FF */
        }
        if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
            return false;
        for (size_t i = 2; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

/* Store one property value into its struct field (types match the prop kind). */
static void prop_store(struct mqtt_props *pr, const struct prop_rule *pt, uint32_t v,
                       const struct mqtt_str *s)
{
    char *f = (char *)pr + pt->off;
    uint8_t u8 = (uint8_t)v;
    uint16_t u16 = (uint16_t)v;
    switch (pt->kind) {
    case PK_BYTE: memcpy(f, &u8, sizeof u8); break;
    case PK_U16: memcpy(f, &u16, sizeof u16); break;
    case PK_U32:
    case PK_VARINT: memcpy(f, &v, sizeof v); break;
    default: memcpy(f, s, sizeof *s); break;
    }
}

/*
 * Property Length then properties, each checked against table 2-4 for `slot`
 * (a packet type, or 0 for Will Properties). Sets pr->raw to the section.
 */
static enum wd_err rd_props(struct rd *r, unsigned slot, struct mqtt_props *pr)
{
    uint32_t plen;
    TRY(rd_varint(r, &plen));
    if (plen > rd_left(r))
        return WD_EMALFORMED;
    struct rd s = rd_make(r->p, plen);
    pr->raw.p = r->p;
    pr->raw.len = plen;
    r->p += plen;

    while (s.p < s.end) {
        uint32_t id, v = 0;
        struct mqtt_str str = {0}, val;
        TRY(rd_varint(&s, &id));
        /* An id we don't know has no known length: nothing after it can be parsed. */
        if (id >= 64 || prop_rules[id].kind == PK_NONE)
            return WD_EMALFORMED;
        const struct prop_rule *pt = &prop_rules[id];
        if (!(pt->where & IN(slot)))
            return WD_EPROTOCOL;
        uint64_t bit = MQTT_PROP_BIT(id);
        /* Each property may appear once, except User Property and, in PUBLISH only, the
         * Subscription Identifier (one per matching subscription, 3.3.2.3.8). */
        bool multi = id == MQTT_P_USER_PROPERTY ||
                     (id == MQTT_P_SUBSCRIPTION_ID && slot == MQTT_PUBLISH);
        if ((pr->present & bit) && !multi)
            return WD_EPROTOCOL;
        switch (pt->kind) {
        case PK_BYTE: {
            uint8_t b;
            TRY(rd_u8(&s, &b));
            v = b;
            break;
        }
        case PK_U16: {
            uint16_t w;
            TRY(rd_u16(&s, &w));
            v = w;
            break;
        }
        case PK_U32: TRY(rd_u32(&s, &v)); break;
        case PK_VARINT: TRY(rd_varint(&s, &v)); break;
        case PK_UTF8: TRY(rd_utf8(&s, &str)); break;
        case PK_BIN: TRY(rd_bin(&s, &str)); break;
        case PK_PAIR:
            TRY(rd_utf8(&s, &str));
            TRY(rd_utf8(&s, &val));
            pr->present |= bit;
            pr->user_prop_count++;
            continue;
        }
        if ((pt->flags & PF_BOOL) && v > 1)
            return WD_EPROTOCOL;
        if ((pt->flags & PF_NONZERO) && v == 0)
            return WD_EPROTOCOL;
        if (id == MQTT_P_SUBSCRIPTION_ID && (pr->present & bit)) {
            pr->sub_id_count++; /* keep the first value */
            continue;
        }
        if (id == MQTT_P_SUBSCRIPTION_ID)
            pr->sub_id_count = 1;
        pr->present |= bit;
        prop_store(pr, pt, v, &str);
    }
    return WD_OK;
}

/* ---- decoders ------------------------------------------------------------ */

/* Reset the packet for `type`; check fixed-header flags and the minimum version. */
static enum wd_err begin(struct mqtt_packet *pkt, uint8_t type, uint8_t flags, uint8_t version)
{
    assert(type >= MQTT_CONNECT && type <= MQTT_AUTH);
    memset(&pkt->u, 0, sizeof pkt->u);
    pkt->type = type;
    pkt->flags = flags;
    if (version < pkt_rules[type].min_version)
        return WD_EPROTOCOL;
    if (type != MQTT_PUBLISH && flags != pkt_rules[type].flags)
        return WD_EMALFORMED;
    return WD_OK;
}

static bool protocol_known(const struct mqtt_str *name, uint8_t level)
{
    if (name->len == 4 && memcmp(name->p, "MQTT", 4) == 0)
        return level == MQTT_V311 || level == MQTT_V5;
    if (name->len == 6 && memcmp(name->p, "MQIsdp", 6) == 0)
        return level == MQTT_V31;
    return false;
}

enum wd_err codec_decode_connect(uint8_t flags, const uint8_t *body, uint32_t len,
                                 uint8_t version, struct mqtt_packet *pkt)
{
    (void)version; /* CONNECT carries its own */
    struct mqtt_connect *c = &pkt->u.connect;
    struct rd r = rd_make(body, len);
    struct mqtt_str name;
    uint8_t level, cf;

    TRY(begin(pkt, MQTT_CONNECT, flags, MQTT_V31));
    TRY(rd_bin(&r, &name));
    TRY(rd_u8(&r, &level));
    /* Record the level even when refusing it, so the CONNACK can be in the client's version. */
    c->version = level;
    if (!protocol_known(&name, level))
        return WD_EVERSION; /* [MQTT-3.1.2-2] */
    TRY(rd_u8(&r, &cf));
    if (cf & 0x01)
        return WD_EMALFORMED; /* [MQTT-3.1.2-3] */
    c->clean_start = cf & 0x02;
    c->will_flag = cf & 0x04;
    c->will_qos = (cf >> 3) & 3;
    c->will_retain = cf & 0x20;
    c->has_password = cf & 0x40;
    c->has_username = cf & 0x80;
    if (c->will_qos == 3)
        return WD_EMALFORMED; /* [MQTT-3.1.2-14] (3.1.1) */
    if (!c->will_flag && (c->will_qos || c->will_retain))
        return WD_EMALFORMED; /* [MQTT-3.1.2-13] [MQTT-3.1.2-15] (3.1.1) */
    if (level != MQTT_V5 && c->has_password && !c->has_username)
        return WD_EMALFORMED; /* [MQTT-3.1.2-22]; 5.0 allows a password alone */
    TRY(rd_u16(&r, &c->keepalive));
    if (level == MQTT_V5)
        TRY(rd_props(&r, MQTT_CONNECT, &c->props));
    TRY(rd_utf8(&r, &c->client_id)); /* [MQTT-3.1.3-4] */
    if (c->will_flag) {
        if (level == MQTT_V5)
            TRY(rd_props(&r, 0, &c->will_props));
        TRY(rd_utf8(&r, &c->will_topic)); /* [MQTT-3.1.3-10] */
        TRY(rd_bin(&r, &c->will_payload));
    }
    if (c->has_username)
        TRY(rd_utf8(&r, &c->username)); /* [MQTT-3.1.3-11] */
    if (c->has_password)
        TRY(rd_bin(&r, &c->password));
    return rd_left(&r) ? WD_EMALFORMED : WD_OK;
}

enum wd_err codec_decode_connack(uint8_t flags, const uint8_t *body, uint32_t len,
                                 uint8_t version, struct mqtt_packet *pkt)
{
    struct mqtt_connack *c = &pkt->u.connack;
    struct rd r = rd_make(body, len);
    uint8_t af;

    TRY(begin(pkt, MQTT_CONNACK, flags, version));
    TRY(rd_u8(&r, &af));
    TRY(rd_u8(&r, &c->reason));
    if (af & 0xFE)
        return WD_EMALFORMED; /* [MQTT-3.2.2-1] reserved ack flags */
    c->session_present = af & 0x01;
    if (version == MQTT_V5)
        TRY(rd_props(&r, MQTT_CONNACK, &c->props));
    if (rd_left(&r))
        return WD_EMALFORMED;
    if (!rc_valid(MQTT_CONNACK, version, c->reason))
        return WD_EPROTOCOL;
    if (c->session_present && c->reason)
        return WD_EPROTOCOL; /* [MQTT-3.2.2-4] (3.1.1), [MQTT-3.2.2-6] (5.0) */
    return WD_OK;
}

enum wd_err codec_decode_publish(uint8_t flags, const uint8_t *body, uint32_t len,
                                 uint8_t version, struct mqtt_packet *pkt)
{
    struct mqtt_publish *m = &pkt->u.publish;
    struct rd r = rd_make(body, len);

    TRY(begin(pkt, MQTT_PUBLISH, flags, version));
    m->qos = (flags >> 1) & 3;
    m->dup = flags & 0x08;
    m->retain = flags & 0x01;
    if (m->qos == 3)
        return WD_EMALFORMED; /* [MQTT-3.3.1-4] */
    if (m->dup && m->qos == 0)
        return WD_EMALFORMED; /* [MQTT-3.3.1-2] */
    /* Wildcards and the empty topic are the broker's call: empty + Topic Alias is valid. */
    TRY(rd_utf8(&r, &m->topic)); /* [MQTT-3.3.2-1] */
    if (m->qos) {
        TRY(rd_u16(&r, &m->packet_id));
        if (m->packet_id == 0)
            return WD_EPROTOCOL; /* [MQTT-2.2.1-3] (5.0), [MQTT-2.3.1-1] (3.1.1) */
    }
    if (version == MQTT_V5)
        TRY(rd_props(&r, MQTT_PUBLISH, &m->props));
    rd_rest(&r, &m->payload);
    return WD_OK;
}

enum wd_err codec_decode_ack(uint8_t flags, const uint8_t *body, uint32_t len, uint8_t version,
                             struct mqtt_packet *pkt)
{
    uint8_t type = pkt->type;
    struct mqtt_ack *a = &pkt->u.ack;
    struct rd r = rd_make(body, len);

    assert(type >= MQTT_PUBACK && type <= MQTT_PUBCOMP);
    TRY(begin(pkt, type, flags, version));
    a->type = type;
    TRY(rd_u16(&r, &a->packet_id));
    /* 5.0: reason and properties may be left out (3.4.2.1); 3.1.x has exactly the id. */
    if (version == MQTT_V5 && rd_left(&r)) {
        TRY(rd_u8(&r, &a->reason));
        if (rd_left(&r))
            TRY(rd_props(&r, type, &a->props));
    }
    if (rd_left(&r))
        return WD_EMALFORMED;
    if (a->packet_id == 0)
        return WD_EPROTOCOL; /* [MQTT-2.2.1-3]: no packet carries id 0 */
    if (version == MQTT_V5 && !rc_valid(type, version, a->reason))
        return WD_EPROTOCOL;
    return WD_OK;
}

/* One SUBSCRIBE entry's options byte; qos 3 and reserved bits are malformed. */
static enum wd_err check_sub_options(uint8_t o, uint8_t version)
{
    if ((o & 3) == 3)
        return WD_EMALFORMED; /* [MQTT-3-8.3-4] (3.1.1), 3.8.3.1 (5.0) */
    if (version != MQTT_V5)
        return (o & 0xFC) ? WD_EMALFORMED : WD_OK; /* [MQTT-3-8.3-4] (3.1.1) */
    if (o & 0xC0)
        return WD_EMALFORMED; /* [MQTT-3.8.3-5] */
    if (((o >> 4) & 3) == 3)
        return WD_EPROTOCOL; /* 3.8.3.1: Retain Handling 3 is a Protocol Error */
    return WD_OK;
}

/* SUBSCRIBE and UNSUBSCRIBE share the layout up to the payload entries. */
static enum wd_err decode_sub(uint8_t type, uint8_t flags, const uint8_t *body, uint32_t len,
                              uint8_t version, struct mqtt_packet *pkt)
{
    struct mqtt_subscribe *s = &pkt->u.subscribe;
    struct rd r = rd_make(body, len);

    TRY(begin(pkt, type, flags, version));
    TRY(rd_u16(&r, &s->packet_id));
    if (version == MQTT_V5)
        TRY(rd_props(&r, type, &s->props));
    rd_rest(&r, &s->entries);
    r.p = s->entries.p;
    while (rd_left(&r)) {
        struct mqtt_str filter;
        TRY(rd_utf8(&r, &filter)); /* [MQTT-3.8.3-1] [MQTT-3.10.3-1] */
        if (type == MQTT_SUBSCRIBE) {
            uint8_t o;
            TRY(rd_u8(&r, &o));
            TRY(check_sub_options(o, version));
        }
        s->count++;
    }
    if (s->packet_id == 0)
        return WD_EPROTOCOL; /* [MQTT-2.2.1-3] (5.0), [MQTT-2.3.1-1] (3.1.1) */
    if (s->count == 0)
        return WD_EPROTOCOL; /* [MQTT-3.8.3-2] [MQTT-3.10.3-2] (5.0) */
    return WD_OK;
}

enum wd_err codec_decode_subscribe(uint8_t flags, const uint8_t *body, uint32_t len,
                                   uint8_t version, struct mqtt_packet *pkt)
{
    return decode_sub(MQTT_SUBSCRIBE, flags, body, len, version, pkt);
}

enum wd_err codec_decode_unsubscribe(uint8_t flags, const uint8_t *body, uint32_t len,
                                     uint8_t version, struct mqtt_packet *pkt)
{
    return decode_sub(MQTT_UNSUBSCRIBE, flags, body, len, version, pkt);
}

enum wd_err codec_decode_suback(uint8_t flags, const uint8_t *body, uint32_t len,
                                uint8_t version, struct mqtt_packet *pkt)
{
    uint8_t type = pkt->type;
    struct mqtt_suback *s = &pkt->u.suback;
    struct rd r = rd_make(body, len);
    struct mqtt_str rcs;

    assert(type == MQTT_SUBACK || type == MQTT_UNSUBACK);
    TRY(begin(pkt, type, flags, version));
    TRY(rd_u16(&r, &s->packet_id));
    if (version == MQTT_V5)
        TRY(rd_props(&r, type, &s->props));
    rd_rest(&r, &rcs);
    if (s->packet_id == 0)
        return WD_EPROTOCOL;
    /* A 3.1.x UNSUBACK is the packet id alone. */
    if (type == MQTT_UNSUBACK && version != MQTT_V5)
        return rcs.len ? WD_EMALFORMED : WD_OK;
    if (rcs.len == 0)
        return WD_EPROTOCOL; /* one reason code per filter, and there is at least one */
    for (uint32_t i = 0; i < rcs.len; i++)
        if (!rc_valid(type, version, rcs.p[i]))
            return WD_EPROTOCOL;
    s->count = rcs.len;
    s->reasons = rcs.p;
    return WD_OK;
}

enum wd_err codec_decode_empty(uint8_t flags, const uint8_t *body, uint32_t len,
                               uint8_t version, struct mqtt_packet *pkt)
{
    (void)body;
    assert(pkt->type == MQTT_PINGREQ || pkt->type == MQTT_PINGRESP);
    TRY(begin(pkt, pkt->type, flags, version));
    return len ? WD_EMALFORMED : WD_OK;
}

/* DISCONNECT and AUTH: 5.0 allows an empty body (reason 0), or a reason alone. */
static enum wd_err decode_reason_props(uint8_t type, uint8_t flags, const uint8_t *body,
                                       uint32_t len, uint8_t version, struct mqtt_packet *pkt,
                                       uint8_t *reason, struct mqtt_props *props)
{
    struct rd r = rd_make(body, len);

    TRY(begin(pkt, type, flags, version));
    if (version != MQTT_V5)
        return len ? WD_EMALFORMED : WD_OK;
    if (rd_left(&r)) {
        TRY(rd_u8(&r, reason));
        if (rd_left(&r))
            TRY(rd_props(&r, type, props));
    }
    if (rd_left(&r))
        return WD_EMALFORMED;
    return rc_valid(type, version, *reason) ? WD_OK : WD_EPROTOCOL;
}

enum wd_err codec_decode_disconnect(uint8_t flags, const uint8_t *body, uint32_t len,
                                    uint8_t version, struct mqtt_packet *pkt)
{
    return decode_reason_props(MQTT_DISCONNECT, flags, body, len, version, pkt,
                               &pkt->u.disconnect.reason, &pkt->u.disconnect.props);
}

enum wd_err codec_decode_auth(uint8_t flags, const uint8_t *body, uint32_t len,
                              uint8_t version, struct mqtt_packet *pkt)
{
    return decode_reason_props(MQTT_AUTH, flags, body, len, version, pkt, &pkt->u.auth.reason,
                               &pkt->u.auth.props);
}

codec_decode_fn codec_decoder(uint8_t type)
{
    return type < 16 ? pkt_rules[type].decode : NULL;
}

enum wd_err codec_fixed_header(const uint8_t *p, size_t len, uint32_t max_size, uint8_t *type,
                               uint8_t *flags, uint32_t *remaining, uint32_t *hdr_len)
{
    if (len < 1)
        return WD_EAGAIN;
    if ((p[0] >> 4) == 0)
        return WD_EMALFORMED; /* type 0 is reserved */
    uint32_t val = 0;
    for (uint32_t i = 1; i <= 4; i++) {
        if (len <= i)
            return WD_EAGAIN;
        val |= (uint32_t)(p[i] & 0x7F) << (7 * (i - 1));
        if (p[i] & 0x80)
            continue;
        /* Refuse by the declared size, before anyone buffers the body. */
        if (max_size && (uint64_t)i + 1 + val > max_size)
            return WD_ETOOLARGE;
        *type = p[0] >> 4;
        *flags = p[0] & 0x0F;
        *remaining = val;
        *hdr_len = i + 1;
        return WD_OK;
    }
    return WD_EMALFORMED; /* a 5th length byte [MQTT-1.5.5-1] */
}

enum wd_err codec_decode(const uint8_t *p, size_t len, uint8_t version, uint32_t max_size,
                         struct mqtt_packet *pkt, size_t *consumed)
{
    uint8_t type, flags;
    uint32_t remaining, hdr_len;

    *consumed = 0;
    TRY(codec_fixed_header(p, len, max_size, &type, &flags, &remaining, &hdr_len));
    if (len - hdr_len < remaining)
        return WD_EAGAIN;
    pkt->type = type;
    pkt->flags = flags;
    pkt->length = hdr_len + remaining;
    *consumed = pkt->length;
    return codec_decoder(type)(flags, p + hdr_len, remaining, version, pkt);
}

/* ---- iterators ----------------------------------------------------------- */

bool codec_next_sub(const struct mqtt_subscribe *s, uint8_t version, uint32_t *pos,
                    struct mqtt_sub_entry *e)
{
    struct rd r;
    uint8_t o;

    if (*pos >= s->entries.len)
        return false;
    r = rd_make(s->entries.p + *pos, s->entries.len - *pos);
    if (rd_bin(&r, &e->filter) || rd_u8(&r, &o))
        return false;
    e->qos = o & 3;
    e->no_local = version == MQTT_V5 && (o & 0x04);
    e->retain_as_published = version == MQTT_V5 && (o & 0x08);
    e->retain_handling = version == MQTT_V5 ? (o >> 4) & 3 : 0;
    *pos = (uint32_t)(r.p - s->entries.p);
    return true;
}

bool codec_next_unsub(const struct mqtt_subscribe *s, uint32_t *pos, struct mqtt_str *filter)
{
    struct rd r;

    if (*pos >= s->entries.len)
        return false;
    r = rd_make(s->entries.p + *pos, s->entries.len - *pos);
    if (rd_bin(&r, filter))
        return false;
    *pos = (uint32_t)(r.p - s->entries.p);
    return true;
}

/*
 * Step over one property of a validated section: *id gets its identifier,
 * *val the offset of its value (ids are varints, so not always pos + 1) and
 * *pos moves past it. False at the end (or on bytes the decoder never saw).
 */
static bool raw_next(const struct mqtt_str *raw, uint32_t *pos, uint32_t *id, uint32_t *val)
{
    struct rd r;
    struct mqtt_str s;
    uint32_t v;
    uint16_t w;
    uint8_t b;
    enum wd_err e;

    if (*pos >= raw->len)
        return false;
    r = rd_make(raw->p + *pos, raw->len - *pos);
    if (rd_varint(&r, id) || *id >= 64)
        return false;
    *val = (uint32_t)(r.p - raw->p);
    switch (prop_rules[*id].kind) {
    case PK_BYTE: e = rd_u8(&r, &b); break;
    case PK_U16: e = rd_u16(&r, &w); break;
    case PK_U32: e = rd_u32(&r, &v); break;
    case PK_VARINT: e = rd_varint(&r, &v); break;
    case PK_UTF8:
    case PK_BIN: e = rd_bin(&r, &s); break;
    case PK_PAIR:
        e = rd_bin(&r, &s);
        if (!e)
            e = rd_bin(&r, &s);
        break;
    default: return false;
    }
    if (e)
        return false;
    *pos = (uint32_t)(r.p - raw->p);
    return true;
}

bool codec_next_user_prop(const struct mqtt_props *p, uint32_t *pos, struct mqtt_str *key,
                          struct mqtt_str *value)
{
    uint32_t id, val;

    while (raw_next(&p->raw, pos, &id, &val)) {
        if (id == MQTT_P_USER_PROPERTY) {
            struct rd r = rd_make(p->raw.p + val, *pos - val);
            return !rd_bin(&r, key) && !rd_bin(&r, value);
        }
    }
    return false;
}

/* ---- writing ------------------------------------------------------------- */

/* Writes into space already reserved: no bounds checks, the sizes were computed first. */
struct wr {
    uint8_t *p;
};

static void w_u8(struct wr *w, uint8_t v)
{
    *w->p++ = v;
}

static void w_u16(struct wr *w, uint16_t v)
{
    w->p[0] = (uint8_t)(v >> 8);
    w->p[1] = (uint8_t)v;
    w->p += 2;
}

static void w_u32(struct wr *w, uint32_t v)
{
    w->p[0] = (uint8_t)(v >> 24);
    w->p[1] = (uint8_t)(v >> 16);
    w->p[2] = (uint8_t)(v >> 8);
    w->p[3] = (uint8_t)v;
    w->p += 4;
}

static void w_varint(struct wr *w, uint32_t v)
{
    assert(v <= VARINT_MAX);
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        *w->p++ = v ? b | 0x80 : b;
    } while (v);
}

static void w_bytes(struct wr *w, const void *p, size_t n)
{
    if (n) /* p may be NULL for an empty field */
        memcpy(w->p, p, n);
    w->p += n;
}

static void w_str(struct wr *w, const struct mqtt_str *s)
{
    w_u16(w, (uint16_t)s->len);
    w_bytes(w, s->p, s->len);
}

uint32_t codec_varint_size(uint32_t v)
{
    assert(v <= VARINT_MAX);
    return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

/*
 * Sizing: each helper adds to a uint64_t and clears *ok when a field cannot be
 * encoded (string over 65535 bytes, integer over the varint range), so the
 * encoder can refuse once instead of checking every field.
 */
static uint64_t sz_str(const struct mqtt_str *s, bool *ok)
{
    if (s->len > STR_MAX)
        *ok = false;
    return 2 + (uint64_t)s->len;
}

static uint64_t sz_varint(uint64_t v, bool *ok)
{
    if (v > VARINT_MAX) {
        *ok = false;
        return 4;
    }
    return codec_varint_size((uint32_t)v);
}

/* Bits of `present` written from struct fields; the rest come from sub_ids and extra. */
#define FIELD_PROPS (~(MQTT_PROP_BIT(MQTT_P_USER_PROPERTY) | MQTT_PROP_BIT(MQTT_P_SUBSCRIPTION_ID)))

/* Without sub_ids, a Subscription Identifier in `present` writes the single sub_id. */
#define SUB_ID_BIT MQTT_PROP_BIT(MQTT_P_SUBSCRIPTION_ID)

/* Bytes of the property section, without its length prefix. */
static uint64_t sz_props(const struct mqtt_props *pr, bool *ok)
{
    uint64_t n = pr->extra.len;
    for (uint64_t bits = pr->present & FIELD_PROPS; bits; bits &= bits - 1) {
        const struct prop_rule *pt = &prop_rules[__builtin_ctzll(bits)];
        const char *f = (const char *)pr + pt->off;
        switch (pt->kind) {
        case PK_BYTE: n += 2; break;
        case PK_U16: n += 3; break;
        case PK_U32: n += 5; break;
        case PK_UTF8:
        case PK_BIN: n += 1 + sz_str((const struct mqtt_str *)(const void *)f, ok); break;
        default: break; /* not a property id: nothing is written for it */
        }
    }
    if (pr->sub_ids) {
        for (uint32_t i = 0; i < pr->sub_id_count; i++)
            n += 1 + sz_varint(pr->sub_ids[i], ok);
    } else if (pr->present & SUB_ID_BIT) {
        n += 1 + sz_varint(pr->sub_id, ok);
    }
    return n;
}

/* The n bytes sz_props() counted, without the length prefix. */
static void w_props_body(struct wr *w, const struct mqtt_props *pr, uint32_t n)
{
    uint8_t *start = w->p;

    for (uint64_t bits = pr->present & FIELD_PROPS; bits; bits &= bits - 1) {
        unsigned id = (unsigned)__builtin_ctzll(bits);
        const struct prop_rule *pt = &prop_rules[id];
        const char *f = (const char *)pr + pt->off;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        struct mqtt_str s;
        if (pt->kind < PK_BYTE || pt->kind > PK_BIN || pt->kind == PK_VARINT)
            continue;
        w_u8(w, (uint8_t)id);
        switch (pt->kind) {
        case PK_BYTE: memcpy(&u8, f, 1); w_u8(w, u8); break;
        case PK_U16: memcpy(&u16, f, 2); w_u16(w, u16); break;
        case PK_U32: memcpy(&u32, f, 4); w_u32(w, u32); break;
        default: memcpy(&s, f, sizeof s); w_str(w, &s); break;
        }
    }
    if (pr->sub_ids) {
        for (uint32_t i = 0; i < pr->sub_id_count; i++) {
            w_u8(w, MQTT_P_SUBSCRIPTION_ID);
            w_varint(w, pr->sub_ids[i]);
        }
    } else if (pr->present & SUB_ID_BIT) {
        w_u8(w, MQTT_P_SUBSCRIPTION_ID);
        w_varint(w, pr->sub_id);
    }
    w_bytes(w, pr->extra.p, pr->extra.len);
    assert((uint32_t)(w->p - start) == n);
}

static void w_props(struct wr *w, const struct mqtt_props *pr, uint32_t n)
{
    w_varint(w, n);
    w_props_body(w, pr, n);
}

/* Property section with its length prefix, or 0 when v < 5. *plen gets the section size. */
static uint64_t sz_props_v(uint8_t version, const struct mqtt_props *pr, uint32_t *plen, bool *ok)
{
    if (version != MQTT_V5)
        return 0;
    uint64_t n = sz_props(pr, ok);
    uint64_t total = sz_varint(n, ok) + n;
    *plen = *ok ? (uint32_t)n : 0;
    return total;
}

/*
 * Reserve the whole packet in one go and write its fixed header. Refuses with
 * WD_ETOOLARGE what no encoding can carry; the buffer is untouched on error.
 */
static enum wd_err begin_packet(struct buf *out, uint8_t first, uint64_t rem, bool ok,
                                struct wr *w, size_t *total)
{
    if (!ok || rem > VARINT_MAX)
        return WD_ETOOLARGE;
    *total = 1 + codec_varint_size((uint32_t)rem) + (size_t)rem;
    TRY(buf_reserve(out, *total));
    w->p = out->data + out->len;
    w_u8(w, first);
    w_varint(w, (uint32_t)rem);
    return WD_OK;
}

static void end_packet(struct buf *out, const struct wr *w, size_t total)
{
    assert((size_t)(w->p - (out->data + out->len)) == total);
    out->len += total;
}

enum wd_err codec_encode_connect(struct buf *out, const struct mqtt_connect *c)
{
    static const struct mqtt_str mqtt = {(const uint8_t *)"MQTT", 4};
    static const struct mqtt_str mqisdp = {(const uint8_t *)"MQIsdp", 6};
    const struct mqtt_str *name = c->version == MQTT_V31 ? &mqisdp : &mqtt;
    bool ok = true;
    uint32_t plen = 0, wplen = 0;
    struct wr w;
    size_t total;

    assert(c->version >= MQTT_V31 && c->version <= MQTT_V5);
    assert(c->will_qos <= 2);
    uint64_t rem = 2 + name->len + 1 + 1 + 2 + sz_props_v(c->version, &c->props, &plen, &ok) +
                   sz_str(&c->client_id, &ok);
    if (c->will_flag)
        rem += sz_props_v(c->version, &c->will_props, &wplen, &ok) + sz_str(&c->will_topic, &ok) +
               sz_str(&c->will_payload, &ok);
    if (c->has_username)
        rem += sz_str(&c->username, &ok);
    if (c->has_password)
        rem += sz_str(&c->password, &ok);
    uint8_t cf = (uint8_t)(c->clean_start << 1 | c->has_password << 6 | c->has_username << 7);
    if (c->will_flag)
        cf |= (uint8_t)(0x04 | c->will_qos << 3 | c->will_retain << 5);

    TRY(begin_packet(out, MQTT_CONNECT << 4, rem, ok, &w, &total));
    w_str(&w, name);
    w_u8(&w, c->version);
    w_u8(&w, cf);
    w_u16(&w, c->keepalive);
    if (c->version == MQTT_V5)
        w_props(&w, &c->props, plen);
    w_str(&w, &c->client_id);
    if (c->will_flag) {
        if (c->version == MQTT_V5)
            w_props(&w, &c->will_props, wplen);
        w_str(&w, &c->will_topic);
        w_str(&w, &c->will_payload);
    }
    if (c->has_username)
        w_str(&w, &c->username);
    if (c->has_password)
        w_str(&w, &c->password);
    end_packet(out, &w, total);
    return WD_OK;
}

enum wd_err codec_encode_connack(struct buf *out, uint8_t version, const struct mqtt_connack *c)
{
    bool ok = true;
    uint32_t plen = 0;
    struct wr w;
    size_t total;
    uint64_t rem = 2 + sz_props_v(version, &c->props, &plen, &ok);

    TRY(begin_packet(out, MQTT_CONNACK << 4, rem, ok, &w, &total));
    /* 3.1 has no Session Present: the byte is reserved there. */
    w_u8(&w, version >= MQTT_V311 && c->session_present);
    w_u8(&w, c->reason);
    if (version == MQTT_V5)
        w_props(&w, &c->props, plen);
    end_packet(out, &w, total);
    return WD_OK;
}

enum wd_err codec_encode_publish(struct buf *out, uint8_t version, const struct mqtt_publish *p)
{
    bool ok = true;
    uint32_t plen = 0;
    struct wr w;
    size_t total;

    assert(p->qos <= 2);
    uint64_t rem = sz_str(&p->topic, &ok) + (p->qos ? 2 : 0) +
                   sz_props_v(version, &p->props, &plen, &ok) + p->payload.len;
    uint8_t first = (uint8_t)(MQTT_PUBLISH << 4 | p->dup << 3 | p->qos << 1 | p->retain);

    TRY(begin_packet(out, first, rem, ok, &w, &total));
    w_str(&w, &p->topic);
    if (p->qos)
        w_u16(&w, p->packet_id);
    if (version == MQTT_V5)
        w_props(&w, &p->props, plen);
    w_bytes(&w, p->payload.p, p->payload.len);
    end_packet(out, &w, total);
    return WD_OK;
}

/*
 * Acks, DISCONNECT and AUTH: [packet id] then, in 5.0, reason + properties,
 * shortened as the spec allows: both dropped when the reason is 0 and there
 * are no properties; the property length dropped too when there are none,
 * except in AUTH (reason_alone_ok false), which has no such form.
 */
static enum wd_err encode_reason_tail(struct buf *out, uint8_t first, uint8_t version,
                                      bool has_id, uint16_t id, uint8_t reason,
                                      const struct mqtt_props *props, bool reason_alone_ok)
{
    bool ok = true;
    uint64_t n = version == MQTT_V5 ? sz_props(props, &ok) : 0;
    bool with_props = n > 0 || (version == MQTT_V5 && reason && !reason_alone_ok);
    bool with_reason = with_props || (version == MQTT_V5 && reason);
    uint64_t rem = (has_id ? 2 : 0) + with_reason + (with_props ? sz_varint(n, &ok) + n : 0);
    struct wr w;
    size_t total;

    TRY(begin_packet(out, first, rem, ok, &w, &total));
    if (has_id)
        w_u16(&w, id);
    if (with_reason)
        w_u8(&w, reason);
    if (with_props)
        w_props(&w, props, (uint32_t)n);
    end_packet(out, &w, total);
    return WD_OK;
}

enum wd_err codec_encode_ack(struct buf *out, uint8_t version, const struct mqtt_ack *a)
{
    assert(a->type >= MQTT_PUBACK && a->type <= MQTT_PUBCOMP);
    uint8_t first = (uint8_t)(a->type << 4 | pkt_rules[a->type].flags);
    return encode_reason_tail(out, first, version, true, a->packet_id, a->reason, &a->props,
                              true);
}

enum wd_err codec_encode_subscribe(struct buf *out, uint8_t version, uint16_t packet_id,
                                   const struct mqtt_props *props,
                                   const struct mqtt_sub_entry *entries, uint32_t count)
{
    static const struct mqtt_props none;
    bool ok = true;
    uint32_t plen = 0;
    struct wr w;
    size_t total;
    uint64_t rem = 2 + sz_props_v(version, props ? props : &none, &plen, &ok);

    for (uint32_t i = 0; i < count; i++)
        rem += sz_str(&entries[i].filter, &ok) + 1;
    TRY(begin_packet(out, MQTT_SUBSCRIBE << 4 | 0x2, rem, ok, &w, &total));
    w_u16(&w, packet_id);
    if (version == MQTT_V5)
        w_props(&w, props ? props : &none, plen);
    for (uint32_t i = 0; i < count; i++) {
        const struct mqtt_sub_entry *e = &entries[i];
        uint8_t o = e->qos & 3;
        if (version == MQTT_V5)
            o |= (uint8_t)(e->no_local << 2 | e->retain_as_published << 3 |
                           (e->retain_handling & 3) << 4);
        w_str(&w, &e->filter);
        w_u8(&w, o);
    }
    end_packet(out, &w, total);
    return WD_OK;
}

enum wd_err codec_encode_unsubscribe(struct buf *out, uint8_t version, uint16_t packet_id,
                                     const struct mqtt_props *props,
                                     const struct mqtt_str *filters, uint32_t count)
{
    static const struct mqtt_props none;
    bool ok = true;
    uint32_t plen = 0;
    struct wr w;
    size_t total;
    uint64_t rem = 2 + sz_props_v(version, props ? props : &none, &plen, &ok);

    for (uint32_t i = 0; i < count; i++)
        rem += sz_str(&filters[i], &ok);
    TRY(begin_packet(out, MQTT_UNSUBSCRIBE << 4 | 0x2, rem, ok, &w, &total));
    w_u16(&w, packet_id);
    if (version == MQTT_V5)
        w_props(&w, props ? props : &none, plen);
    for (uint32_t i = 0; i < count; i++)
        w_str(&w, &filters[i]);
    end_packet(out, &w, total);
    return WD_OK;
}

enum wd_err codec_encode_suback(struct buf *out, uint8_t version, uint8_t type,
                                const struct mqtt_suback *s)
{
    bool ok = true;
    uint32_t plen = 0;
    struct wr w;
    size_t total;
    bool with_rcs = type == MQTT_SUBACK || version == MQTT_V5;

    assert(type == MQTT_SUBACK || type == MQTT_UNSUBACK);
    uint64_t rem = 2 + sz_props_v(version, &s->props, &plen, &ok) + (with_rcs ? s->count : 0);
    TRY(begin_packet(out, (uint8_t)(type << 4), rem, ok, &w, &total));
    w_u16(&w, s->packet_id);
    if (version == MQTT_V5)
        w_props(&w, &s->props, plen);
    if (with_rcs)
        w_bytes(&w, s->reasons, s->count);
    end_packet(out, &w, total);
    return WD_OK;
}

enum wd_err codec_encode_empty(struct buf *out, uint8_t type)
{
    assert(type == MQTT_PINGREQ || type == MQTT_PINGRESP);
    uint8_t b[2] = {(uint8_t)(type << 4), 0};
    return buf_append(out, b, sizeof b);
}

enum wd_err codec_encode_disconnect(struct buf *out, uint8_t version,
                                    const struct mqtt_disconnect *d)
{
    return encode_reason_tail(out, MQTT_DISCONNECT << 4, version, false, 0, d->reason, &d->props,
                              true);
}

enum wd_err codec_encode_auth(struct buf *out, const struct mqtt_auth *a)
{
    return encode_reason_tail(out, MQTT_AUTH << 4, MQTT_V5, false, 0, a->reason, &a->props,
                              false);
}

enum wd_err codec_props_passthrough(const struct mqtt_props *p, struct buf *out)
{
    /* Forwarded with the message unchanged (3.3.2.3): these, and no others. */
    static const uint64_t keep =
        MQTT_PROP_BIT(MQTT_P_PAYLOAD_FORMAT) | MQTT_PROP_BIT(MQTT_P_CONTENT_TYPE) |
        MQTT_PROP_BIT(MQTT_P_RESPONSE_TOPIC) | MQTT_PROP_BIT(MQTT_P_CORRELATION_DATA);
    struct mqtt_props sel = {
        .present = p->present & keep,
        .payload_format = p->payload_format,
        .content_type = p->content_type,
        .response_topic = p->response_topic,
        .correlation_data = p->correlation_data,
    };
    bool ok = true;
    uint32_t pos, prev, id, val;
    uint64_t user = 0;
    struct wr w;

    uint64_t n = sz_props(&sel, &ok);
    assert(ok); /* every field came from a decoded packet */
    /* User Properties are copied as encoded, in order [MQTT-3.3.2-17] [MQTT-3.3.2-18]. */
    for (pos = prev = 0; raw_next(&p->raw, &pos, &id, &val); prev = pos)
        if (id == MQTT_P_USER_PROPERTY)
            user += pos - prev;
    if (n + user == 0)
        return WD_OK; /* out->data may still be NULL */
    TRY(buf_reserve(out, (size_t)(n + user)));
    w.p = out->data + out->len;
    w_props_body(&w, &sel, (uint32_t)n);
    for (pos = prev = 0; raw_next(&p->raw, &pos, &id, &val); prev = pos)
        if (id == MQTT_P_USER_PROPERTY)
            w_bytes(&w, p->raw.p + prev, pos - prev);
    out->len += (size_t)(n + user);
    assert(w.p == out->data + out->len);
    return WD_OK;
}
