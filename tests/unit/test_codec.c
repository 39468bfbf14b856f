/*
 * test_codec.c - codec unit tests. Every valid vector below was written by
 * hand from the MQTT 3.1.1 / 5.0 specs; each is decoded, fed one byte at a
 * time, and round-tripped (encode -> decode -> encode). Each malformed case
 * is its own row in `bad`. Decoding always reads from an exact-size heap copy
 * so ASan catches any read past the packet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "codec.h"
#include "err.h"
#include "mem.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Compare by name so a failure prints "WD_EMALFORMED" != "WD_OK". */
#define assert_err(got, want) assert_string_equal(wd_errname(got), wd_errname(want))
#define assert_str(s, lit)                                                                     \
    do {                                                                                       \
        assert_int_equal((s).len, strlen(lit));                                                \
        assert_memory_equal((s).p, (lit), strlen(lit));                                       \
    } while (0)
#define assert_bytes(b, ...)                                                                   \
    do {                                                                                       \
        static const uint8_t want_[] = {__VA_ARGS__};                                          \
        assert_int_equal(buf_used(b), sizeof want_);                                           \
        assert_memory_equal(buf_head(b), want_, sizeof want_);                                 \
    } while (0)
#define PBIT(id) MQTT_PROP_BIT(MQTT_P_##id)
#define MQTT_ 0x00, 0x04, 'M', 'Q', 'T', 'T'
#define MQISDP 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p'
#define A_B 0x00, 0x03, 'a', '/', 'b'

/* ---- valid vectors ------------------------------------------------------- */

/* 3.1.1 */
static const uint8_t connect4_min[] = {0x10, 0x0C, MQTT_, 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00};
static const uint8_t connect4_full[] = {
    0x10, 0x1F, MQTT_, 0x04, 0xEE, 0x00, 0x3C, /* user, pass, will retain+QoS 1, will, clean */
    0x00, 0x02, 'c', '1',                       /* client id */
    0x00, 0x03, 'w', '/', 't',                  /* will topic */
    0x00, 0x03, 'b', 'y', 'e',                  /* will payload */
    0x00, 0x01, 'u',                            /* user name */
    0x00, 0x02, 0xFF, 0x00,                     /* password: binary, not UTF-8 */
};
static const uint8_t connect3[] = {0x10, 0x18, MQISDP, 0x03, 0xC2, 0x00, 0x0A, 0x00, 0x03,
                                   'a',  'b',  'c',    0x00, 0x01, 'u',  0x00, 0x02, 'p',  'w'};
static const uint8_t connack4[] = {0x20, 0x02, 0x01, 0x00};
static const uint8_t connack4_refused[] = {0x20, 0x02, 0x00, 0x05};
static const uint8_t publish4_q0[] = {0x30, 0x07, A_B, 'h', 'i'};
static const uint8_t publish4_q1[] = {0x3B, 0x08, A_B, 0x00, 0x0A, 'x'}; /* DUP, QoS 1, RETAIN */
static const uint8_t publish4_q2[] = {0x34, 0x07, A_B, 0x12, 0x34};     /* empty payload */
static const uint8_t puback4[] = {0x40, 0x02, 0x00, 0x01};
static const uint8_t pubrec4[] = {0x50, 0x02, 0x00, 0x02};
static const uint8_t pubrel4[] = {0x62, 0x02, 0x00, 0x03};
static const uint8_t pubcomp4[] = {0x70, 0x02, 0x00, 0x04};
static const uint8_t subscribe4[] = {0x82, 0x0C, 0x00, 0x0A, A_B, 0x01, 0x00, 0x01, '#', 0x02};
static const uint8_t suback4[] = {0x90, 0x04, 0x00, 0x0A, 0x01, 0x80};
static const uint8_t unsubscribe4[] = {0xA2, 0x0A, 0x00, 0x0B, A_B, 0x00, 0x01, '#'};
static const uint8_t unsuback4[] = {0xB0, 0x02, 0x00, 0x0B};
static const uint8_t pingreq[] = {0xC0, 0x00};
static const uint8_t pingresp[] = {0xD0, 0x00};
static const uint8_t disconnect4[] = {0xE0, 0x00};

/* 5.0 */
static const uint8_t connect5_min[] = {0x10, 0x0D, MQTT_, 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x00};
static const uint8_t connect5_pass_only[] = {0x10, 0x11, MQTT_, 0x05, 0x42, 0x00, 0x3C, 0x00,
                                             0x00, 0x00, 0x00, 0x02, 'p',  'w'};
static const uint8_t connect5_full[] = {
    0x10, 0x69, MQTT_, 0x05, 0xEE, 0x00, 0x3C,
    0x25,                                     /* properties: 37 bytes */
    0x11, 0x00, 0x00, 0x0E, 0x10,             /* Session Expiry 3600 */
    0x21, 0x00, 0x14,                         /* Receive Maximum 20 */
    0x22, 0x00, 0x0A,                         /* Topic Alias Maximum 10 */
    0x27, 0x00, 0x00, 0x10, 0x00,             /* Maximum Packet Size 4096 */
    0x17, 0x01,                               /* Request Problem Information */
    0x19, 0x01,                               /* Request Response Information */
    0x15, 0x00, 0x02, 'A', 'M',               /* Authentication Method */
    0x16, 0x00, 0x02, 0x01, 0x02,             /* Authentication Data */
    0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v',   /* User Property */
    0x00, 0x02, 'c', '1',                     /* client id */
    0x23,                                     /* will properties: 35 bytes */
    0x18, 0x00, 0x00, 0x00, 0x05,             /* Will Delay 5 */
    0x01, 0x01,                               /* Payload Format 1 */
    0x02, 0x00, 0x00, 0x00, 0x3C,             /* Message Expiry 60 */
    0x03, 0x00, 0x04, 't', 'e', 'x', 't',     /* Content Type */
    0x08, 0x00, 0x01, 'r',                    /* Response Topic */
    0x09, 0x00, 0x02, 0xAA, 0xBB,             /* Correlation Data */
    0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b',   /* User Property */
    0x00, 0x03, 'w', '/', 't',
    0x00, 0x03, 'b', 'y', 'e',
    0x00, 0x01, 'u',
    0x00, 0x02, 0xFF, 0x00,
};
static const uint8_t connack5[] = {
    0x20, 0x32, 0x00, 0x00,
    0x2F,                                     /* properties: 47 bytes */
    0x11, 0x00, 0x00, 0x00, 0x3C,             /* Session Expiry 60 */
    0x12, 0x00, 0x02, 'i', 'd',               /* Assigned Client Identifier */
    0x13, 0x00, 0x1E,                         /* Server Keep Alive 30 */
    0x21, 0x00, 0x05,                         /* Receive Maximum 5 */
    0x22, 0x00, 0x0A,                         /* Topic Alias Maximum 10 */
    0x24, 0x01,                               /* Maximum QoS 1 */
    0x25, 0x00,                               /* Retain Available 0 */
    0x27, 0x00, 0x00, 0x04, 0x00,             /* Maximum Packet Size 1024 */
    0x28, 0x01,                               /* Wildcard Subscription Available */
    0x29, 0x00,                               /* Subscription Identifiers Available */
    0x2A, 0x01,                               /* Shared Subscription Available */
    0x1F, 0x00, 0x02, 'o', 'k',               /* Reason String */
    0x1A, 0x00, 0x01, 'r',                    /* Response Information */
    0x1C, 0x00, 0x01, 's',                    /* Server Reference */
};
static const uint8_t connack5_refused[] = {0x20, 0x03, 0x00, 0x87, 0x00};
static const uint8_t publish5_q0[] = {0x30, 0x08, A_B, 0x00, 'h', 'i'};
static const uint8_t publish5_q1[] = {
    0x32, 0x34, A_B, 0x00, 0x07,
    0x2A,                                     /* properties: 42 bytes */
    0x01, 0x01,                               /* Payload Format 1 */
    0x02, 0x00, 0x00, 0x00, 0x0A,             /* Message Expiry 10 */
    0x23, 0x00, 0x05,                         /* Topic Alias 5 */
    0x08, 0x00, 0x01, 'r',                    /* Response Topic */
    0x09, 0x00, 0x01, 0x5A,                   /* Correlation Data */
    0x03, 0x00, 0x02, 't', 'x',               /* Content Type */
    0x0B, 0x05,                               /* Subscription Identifier 5 */
    0x0B, 0x81, 0x01,                         /* Subscription Identifier 129 */
    0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v',
    0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'w',
    'h', 'i',
};
/* Empty topic + Topic Alias: valid in 5.0, so the codec must let it through. */
static const uint8_t publish5_alias[] = {0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01};
static const uint8_t puback5[] = {0x40, 0x02, 0x00, 0x01};
static const uint8_t puback5_rc[] = {0x40, 0x03, 0x00, 0x01, 0x10};
static const uint8_t puback5_props[] = {0x40, 0x09, 0x00, 0x01, 0x87, 0x05,
                                        0x1F, 0x00, 0x02, 'n',  'o'};
static const uint8_t puback5_long0[] = {0x40, 0x04, 0x00, 0x01, 0x00, 0x00}; /* not shortest */
static const uint8_t pubrec5[] = {0x50, 0x03, 0x00, 0x02, 0x80};
static const uint8_t pubrel5[] = {0x62, 0x03, 0x00, 0x03, 0x92};
static const uint8_t pubcomp5[] = {0x70, 0x0B, 0x00, 0x04, 0x00, 0x07,
                                   0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'v'};
static const uint8_t subscribe5[] = {
    0x82, 0x16, 0x00, 0x0A,
    0x09, 0x0B, 0x07, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v',
    A_B, 0x2D,                                /* QoS 1, No Local, RAP, Retain Handling 2 */
    0x00, 0x01, '#', 0x00,
};
static const uint8_t suback5[] = {0x90, 0x05, 0x00, 0x0A, 0x00, 0x01, 0xA2};
static const uint8_t suback5_props[] = {0x90, 0x08, 0x00, 0x0A, 0x04, 0x1F, 0x00, 0x01, 'x', 0x00};
static const uint8_t unsubscribe5[] = {0xA2, 0x08, 0x00, 0x0B, 0x00, A_B};
static const uint8_t unsuback5[] = {0xB0, 0x05, 0x00, 0x0B, 0x00, 0x00, 0x11};
static const uint8_t disconnect5_rc[] = {0xE0, 0x01, 0x04};
static const uint8_t disconnect5_props[] = {0xE0, 0x0F, 0x04, 0x0D, 0x11, 0x00, 0x00, 0x00,
                                            0x00, 0x1F, 0x00, 0x01, 'x',  0x1C, 0x00, 0x01,
                                            's'};
static const uint8_t auth5_empty[] = {0xF0, 0x00};
static const uint8_t auth5[] = {0xF0, 0x0B, 0x18, 0x09, 0x15, 0x00, 0x02,
                                'S',  'C',  0x16, 0x00, 0x01, 'D'};

struct vec {
    const char *name;
    uint8_t version;
    const uint8_t *p;
    size_t len;
    bool canonical; /* re-encoding (properties copied raw) must give back exactly these bytes */
};
#define VEC(a, ver, canon) {#a, ver, a, sizeof a, canon}

static const struct vec valid[] = {
    VEC(connect4_min, MQTT_V311, true),
    VEC(connect4_full, MQTT_V311, true),
    VEC(connect3, MQTT_V31, true),
    VEC(connack4, MQTT_V311, true),
    VEC(connack4_refused, MQTT_V311, true),
    VEC(publish4_q0, MQTT_V311, true),
    VEC(publish4_q1, MQTT_V311, true),
    VEC(publish4_q2, MQTT_V311, true),
    VEC(puback4, MQTT_V311, true),
    VEC(pubrec4, MQTT_V311, true),
    VEC(pubrel4, MQTT_V311, true),
    VEC(pubcomp4, MQTT_V311, true),
    VEC(subscribe4, MQTT_V311, true),
    VEC(suback4, MQTT_V311, true),
    VEC(unsubscribe4, MQTT_V311, true),
    VEC(unsuback4, MQTT_V311, true),
    VEC(pingreq, MQTT_V311, true),
    VEC(pingresp, MQTT_V311, true),
    VEC(disconnect4, MQTT_V311, true),
    VEC(connect5_min, MQTT_V5, true),
    VEC(connect5_pass_only, MQTT_V5, true),
    VEC(connect5_full, MQTT_V5, true),
    VEC(connack5, MQTT_V5, true),
    VEC(connack5_refused, MQTT_V5, true),
    VEC(publish5_q0, MQTT_V5, true),
    VEC(publish5_q1, MQTT_V5, true),
    VEC(publish5_alias, MQTT_V5, true),
    VEC(puback5, MQTT_V5, true),
    VEC(puback5_rc, MQTT_V5, true),
    VEC(puback5_props, MQTT_V5, true),
    VEC(puback5_long0, MQTT_V5, false),
    VEC(pubrec5, MQTT_V5, true),
    VEC(pubrel5, MQTT_V5, true),
    VEC(pubcomp5, MQTT_V5, true),
    VEC(subscribe5, MQTT_V5, true),
    VEC(suback5, MQTT_V5, true),
    VEC(suback5_props, MQTT_V5, true),
    VEC(unsubscribe5, MQTT_V5, true),
    VEC(unsuback5, MQTT_V5, true),
    {"pingreq5", MQTT_V5, pingreq, sizeof pingreq, true},
    {"pingresp5", MQTT_V5, pingresp, sizeof pingresp, true},
    {"disconnect5_empty", MQTT_V5, disconnect4, sizeof disconnect4, true},
    VEC(disconnect5_rc, MQTT_V5, true),
    VEC(disconnect5_props, MQTT_V5, true),
    VEC(auth5_empty, MQTT_V5, true),
    VEC(auth5, MQTT_V5, true),
};

/* ---- malformed and refused vectors ---------------------------------------- */

struct bad {
    const char *name;
    uint8_t version;
    uint32_t max_size;
    enum wd_err want;
    const uint8_t *p;
    size_t len;
};
#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define BAD(name, ver, want, ...) {name, ver, 0, want, BYTES(__VA_ARGS__)}
#define V31 MQTT_V31
#define V4 MQTT_V311
#define V5 MQTT_V5
#define MAL WD_EMALFORMED
#define PROTO WD_EPROTOCOL
#define CONNECT_HDR(rl, level, flags) 0x10, rl, MQTT_, level, flags, 0x00, 0x3C

static const struct bad bad[] = {
    /* fixed header */
    BAD("remaining length 5 bytes", V4, MAL, 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F),
    BAD("type 0", V4, MAL, 0x00, 0x00),
    {"too large for max_size", V4, 8, WD_ETOOLARGE, BYTES(0x30, 0x07, A_B, 'h', 'i')},
    /* running past the end */
    BAD("topic past end", V4, MAL, 0x30, 0x04, 0x00, 0x05, 'a', 'b'),
    BAD("protocol name past end", V4, MAL, 0x10, 0x03, 0x00, 0x04, 'M'),
    BAD("client id past end", V4, MAL, CONNECT_HDR(0x0C, 4, 0x02), 0x00, 0x05),
    BAD("connect no keepalive", V4, MAL, 0x10, 0x08, MQTT_, 0x04, 0x02),
    BAD("publish qos1 no packet id", V4, MAL, 0x32, 0x05, A_B),
    BAD("connect trailing byte", V4, MAL, CONNECT_HDR(0x0D, 4, 0x02), 0x00, 0x00, 0xFF),
    /* UTF-8 [MQTT-1.5.3-1] [MQTT-1.5.3-2] */
    BAD("utf8 FF", V4, MAL, 0x30, 0x03, 0x00, 0x01, 0xFF),
    BAD("utf8 lone continuation", V4, MAL, 0x30, 0x03, 0x00, 0x01, 0x80),
    BAD("utf8 truncated sequence", V4, MAL, 0x30, 0x03, 0x00, 0x01, 0xC3),
    BAD("utf8 overlong C0 80", V4, MAL, 0x30, 0x04, 0x00, 0x02, 0xC0, 0x80),
    BAD("utf8 overlong E0 80 80", V4, MAL, 0x30, 0x05, 0x00, 0x03, 0xE0, 0x80, 0x80),
    BAD("utf8 overlong F0 80 80 80", V4, MAL, 0x30, 0x06, 0x00, 0x04, 0xF0, 0x80, 0x80, 0x80),
    BAD("utf8 surrogate ED A0 80", V4, MAL, 0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80),
    BAD("utf8 above U+10FFFF", V4, MAL, 0x30, 0x06, 0x00, 0x04, 0xF4, 0x90, 0x80, 0x80),
    BAD("utf8 U+0000", V4, MAL, 0x30, 0x04, 0x00, 0x02, 'a', 0x00),
    BAD("client id overlong", V4, MAL, CONNECT_HDR(0x0E, 4, 0x02), 0x00, 0x02, 0xC0, 0x80),
    BAD("will topic surrogate", V4, MAL, CONNECT_HDR(0x13, 4, 0x06), 0x00, 0x00, 0x00, 0x03, 0xED,
        0xA0, 0x80, 0x00, 0x00),
    BAD("username U+0000", V4, MAL, CONNECT_HDR(0x0F, 4, 0x82), 0x00, 0x00, 0x00, 0x01, 0x00),
    BAD("subscribe filter bad utf8", V4, MAL, 0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0xFF, 0x00),
    BAD("unsubscribe filter bad utf8", V4, MAL, 0xA2, 0x05, 0x00, 0x01, 0x00, 0x01, 0xFF),
    BAD("user property key bad utf8", V5, MAL, 0x30, 0x0B, 0x00, 0x01, 't', 0x07, 0x26, 0x00,
        0x01, 0xFF, 0x00, 0x01, 'v'),
    BAD("user property value bad utf8", V5, MAL, 0x30, 0x0B, 0x00, 0x01, 't', 0x07, 0x26, 0x00,
        0x01, 'k', 0x00, 0x01, 0xFF),
    BAD("content type bad utf8", V5, MAL, 0x30, 0x08, 0x00, 0x01, 't', 0x04, 0x03, 0x00, 0x01,
        0xFF),
    /* reserved fixed-header flags [MQTT-2.2.2-1] */
    BAD("flags connect", V4, MAL, 0x11, 0x0C, MQTT_, 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00),
    BAD("flags connack", V4, MAL, 0x21, 0x02, 0x00, 0x00),
    BAD("flags puback", V4, MAL, 0x41, 0x02, 0x00, 0x01),
    BAD("flags pubrec", V4, MAL, 0x52, 0x02, 0x00, 0x01),
    BAD("flags pubrel 0", V4, MAL, 0x60, 0x02, 0x00, 0x01),
    BAD("flags pubcomp", V5, MAL, 0x78, 0x02, 0x00, 0x01),
    BAD("flags subscribe 0", V4, MAL, 0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x00),
    BAD("flags suback", V4, MAL, 0x92, 0x03, 0x00, 0x01, 0x00),
    BAD("flags unsubscribe 0", V4, MAL, 0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, 't'),
    BAD("flags unsubscribe 3", V5, MAL, 0xA3, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 't'),
    BAD("flags unsuback", V4, MAL, 0xB2, 0x02, 0x00, 0x01),
    BAD("flags pingreq", V4, MAL, 0xC1, 0x00),
    BAD("flags pingresp", V4, MAL, 0xD4, 0x00),
    BAD("flags disconnect", V4, MAL, 0xE8, 0x00),
    BAD("flags auth", V5, MAL, 0xF2, 0x00),
    /* PUBLISH */
    BAD("publish qos 3", V4, MAL, 0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01),
    BAD("publish dup at qos 0", V4, MAL, 0x38, 0x03, 0x00, 0x01, 't'),
    BAD("publish qos1 packet id 0", V4, PROTO, 0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00),
    BAD("publish qos2 packet id 0 v5", V5, PROTO, 0x34, 0x06, 0x00, 0x01, 't', 0x00, 0x00, 0x00),
    /* 5.0 properties */
    BAD("duplicate payload format", V5, PROTO, 0x30, 0x08, 0x00, 0x01, 't', 0x04, 0x01, 0x01,
        0x01, 0x00),
    BAD("duplicate topic alias", V5, PROTO, 0x30, 0x0A, 0x00, 0x01, 't', 0x06, 0x23, 0x00, 0x01,
        0x23, 0x00, 0x02),
    BAD("duplicate session expiry", V5, PROTO, CONNECT_HDR(0x17, 5, 0x02), 0x0A, 0x11, 0x00,
        0x00, 0x00, 0x01, 0x11, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00),
    BAD("duplicate sub id in subscribe", V5, PROTO, 0x82, 0x0B, 0x00, 0x01, 0x04, 0x0B, 0x01,
        0x0B, 0x02, 0x00, 0x01, 't', 0x00),
    BAD("duplicate reason string", V5, PROTO, 0x40, 0x0C, 0x00, 0x01, 0x80, 0x08, 0x1F, 0x00,
        0x01, 'a', 0x1F, 0x00, 0x01, 'b'),
    BAD("session expiry in publish", V5, PROTO, 0x30, 0x09, 0x00, 0x01, 't', 0x05, 0x11, 0x00,
        0x00, 0x00, 0x01),
    BAD("topic alias in connect", V5, PROTO, CONNECT_HDR(0x10, 5, 0x02), 0x03, 0x23, 0x00, 0x01,
        0x00, 0x00),
    BAD("will delay in connect", V5, PROTO, CONNECT_HDR(0x12, 5, 0x02), 0x05, 0x18, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00),
    BAD("session expiry in will", V5, PROTO, CONNECT_HDR(0x18, 5, 0x06), 0x00, 0x00, 0x00, 0x05,
        0x11, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00),
    BAD("sub id in unsubscribe", V5, PROTO, 0xA2, 0x08, 0x00, 0x01, 0x02, 0x0B, 0x01, 0x00, 0x01,
        't'),
    BAD("reason string in subscribe", V5, PROTO, 0x82, 0x0B, 0x00, 0x01, 0x04, 0x1F, 0x00, 0x01,
        'x', 0x00, 0x01, 't', 0x00),
    BAD("topic alias in disconnect", V5, PROTO, 0xE0, 0x05, 0x00, 0x03, 0x23, 0x00, 0x01),
    BAD("session expiry in auth", V5, PROTO, 0xF0, 0x07, 0x18, 0x05, 0x11, 0x00, 0x00, 0x00,
        0x01),
    BAD("unknown property 0x04", V5, MAL, 0x30, 0x06, 0x00, 0x01, 't', 0x02, 0x04, 0x00),
    BAD("property past its section", V5, MAL, 0x30, 0x09, 0x00, 0x01, 't', 0x02, 0x02, 0x00,
        0x00, 0x00, 0x05),
    BAD("property length past body", V5, MAL, 0x30, 0x05, 0x00, 0x01, 't', 0x09, 0x00),
    BAD("property length 5 bytes", V5, MAL, 0x30, 0x08, 0x00, 0x01, 't', 0xFF, 0xFF, 0xFF, 0xFF,
        0x7F),
    BAD("sub id varint 5 bytes", V5, MAL, 0x30, 0x09, 0x00, 0x01, 't', 0x05, 0x0B, 0xFF, 0xFF,
        0xFF, 0xFF),
    BAD("payload format 2", V5, PROTO, 0x30, 0x06, 0x00, 0x01, 't', 0x02, 0x01, 0x02),
    BAD("request problem info 2", V5, PROTO, CONNECT_HDR(0x0F, 5, 0x02), 0x02, 0x17, 0x02, 0x00,
        0x00),
    BAD("receive maximum 0", V5, PROTO, CONNECT_HDR(0x10, 5, 0x02), 0x03, 0x21, 0x00, 0x00, 0x00,
        0x00),
    BAD("maximum packet size 0", V5, PROTO, CONNECT_HDR(0x12, 5, 0x02), 0x05, 0x27, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00),
    BAD("subscription id 0", V5, PROTO, 0x30, 0x06, 0x00, 0x01, 't', 0x02, 0x0B, 0x00),
    BAD("maximum qos 2", V5, PROTO, 0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02),
    /* acks */
    BAD("puback v4 length 3", V4, MAL, 0x40, 0x03, 0x00, 0x01, 0x00),
    BAD("puback length 1", V4, MAL, 0x40, 0x01, 0x00),
    BAD("puback packet id 0", V4, PROTO, 0x40, 0x02, 0x00, 0x00),
    BAD("pubrel reason 0x10", V5, PROTO, 0x62, 0x03, 0x00, 0x01, 0x10),
    BAD("puback reason 0x92", V5, PROTO, 0x40, 0x03, 0x00, 0x01, 0x92),
    BAD("pubcomp bytes after props", V5, MAL, 0x70, 0x05, 0x00, 0x01, 0x00, 0x00, 0xFF),
    /* CONNACK */
    BAD("connack reserved ack flags", V4, MAL, 0x20, 0x02, 0x02, 0x00),
    BAD("connack v4 length 3", V4, MAL, 0x20, 0x03, 0x00, 0x00, 0x00),
    BAD("connack return code 6", V4, PROTO, 0x20, 0x02, 0x00, 0x06),
    BAD("connack session present refused", V4, PROTO, 0x20, 0x02, 0x01, 0x05),
    BAD("connack v5 reason 0x01", V5, PROTO, 0x20, 0x03, 0x00, 0x01, 0x00),
    BAD("connack v5 no properties", V5, MAL, 0x20, 0x02, 0x00, 0x00),
    /* SUBSCRIBE / UNSUBSCRIBE / SUBACK / UNSUBACK */
    BAD("subscribe empty", V4, PROTO, 0x82, 0x02, 0x00, 0x01),
    BAD("subscribe empty v5", V5, PROTO, 0x82, 0x03, 0x00, 0x01, 0x00),
    BAD("subscribe packet id 0", V4, PROTO, 0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 't', 0x00),
    BAD("subscribe v4 reserved option", V4, MAL, 0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x04),
    BAD("subscribe v4 qos 3", V4, MAL, 0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x03),
    BAD("subscribe v5 reserved option", V5, MAL, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 't',
        0x40),
    BAD("subscribe v5 retain handling 3", V5, PROTO, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01,
        't', 0x30),
    BAD("subscribe v5 qos 3", V5, MAL, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 't', 0x03),
    BAD("subscribe missing options", V4, MAL, 0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 't'),
    BAD("unsubscribe empty", V4, PROTO, 0xA2, 0x02, 0x00, 0x01),
    BAD("unsubscribe empty v5", V5, PROTO, 0xA2, 0x03, 0x00, 0x01, 0x00),
    BAD("unsubscribe packet id 0", V4, PROTO, 0xA2, 0x05, 0x00, 0x00, 0x00, 0x01, 't'),
    BAD("suback return code 3", V4, PROTO, 0x90, 0x03, 0x00, 0x01, 0x03),
    BAD("suback no codes", V4, PROTO, 0x90, 0x02, 0x00, 0x01),
    BAD("suback v5 reason 0x11", V5, PROTO, 0x90, 0x04, 0x00, 0x01, 0x00, 0x11),
    BAD("unsuback v4 extra byte", V4, MAL, 0xB0, 0x03, 0x00, 0x01, 0x00),
    /* CONNECT */
    BAD("connect reserved flag", V4, MAL, CONNECT_HDR(0x0C, 4, 0x03), 0x00, 0x00),
    BAD("connect will qos 3", V4, MAL, CONNECT_HDR(0x11, 4, 0x1E), 0x00, 0x00, 0x00, 0x01, 't',
        0x00, 0x00),
    BAD("connect will qos without will", V4, MAL, CONNECT_HDR(0x0C, 4, 0x0A), 0x00, 0x00),
    BAD("connect will retain without will", V4, MAL, CONNECT_HDR(0x0C, 4, 0x22), 0x00, 0x00),
    BAD("connect password without user", V4, MAL, CONNECT_HDR(0x10, 4, 0x42), 0x00, 0x00, 0x00,
        0x02, 'p', 'w'),
    BAD("connect 3.1 password without user", V31, MAL, 0x10, 0x12, MQISDP, 0x03, 0x42, 0x00, 0x3C,
        0x00, 0x00, 0x00, 0x02, 'p', 'w'),
    BAD("protocol name MQTX", V4, WD_EVERSION, 0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'X', 0x04,
        0x02, 0x00, 0x3C, 0x00, 0x00),
    BAD("MQTT level 3", V4, WD_EVERSION, CONNECT_HDR(0x0C, 3, 0x02), 0x00, 0x00),
    BAD("MQIsdp level 4", V4, WD_EVERSION, 0x10, 0x0E, MQISDP, 0x04, 0x02, 0x00, 0x3C, 0x00,
        0x00),
    BAD("MQTT level 6", V5, WD_EVERSION, CONNECT_HDR(0x0C, 6, 0x02), 0x00, 0x00),
    /* DISCONNECT, AUTH, PING */
    BAD("disconnect v4 with body", V4, MAL, 0xE0, 0x01, 0x00),
    BAD("disconnect reason 0x05", V5, PROTO, 0xE0, 0x01, 0x05),
    BAD("auth on 3.1.1", V4, PROTO, 0xF0, 0x00),
    BAD("auth reason 0x01", V5, PROTO, 0xF0, 0x01, 0x01),
    BAD("pingreq with body", V4, MAL, 0xC0, 0x01, 0x00),
};

/* ---- helpers --------------------------------------------------------------- */

/* Decode from an exact-size heap copy so ASan sees reads past the end. */
static enum wd_err decode(const uint8_t *p, size_t len, uint8_t version, uint32_t max_size,
                          struct mqtt_packet *k, size_t *consumed)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, p, len);
    enum wd_err e = codec_decode(copy, len, version, max_size, k, consumed);
    free(copy);
    return e;
}

/* Decode in place (the caller keeps the bytes alive for the views). */
static void decode_ok(const uint8_t *p, size_t len, uint8_t version, struct mqtt_packet *k)
{
    size_t consumed;
    assert_err(codec_decode(p, len, version, 0, k, &consumed), WD_OK);
    assert_int_equal(consumed, len);
    assert_int_equal(k->length, len);
}

static struct mqtt_props *packet_props(struct mqtt_packet *k, struct mqtt_props **will)
{
    *will = NULL;
    switch (k->type) {
    case MQTT_CONNECT: *will = &k->u.connect.will_props; return &k->u.connect.props;
    case MQTT_CONNACK: return &k->u.connack.props;
    case MQTT_PUBLISH: return &k->u.publish.props;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP: return &k->u.ack.props;
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE: return &k->u.subscribe.props;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK: return &k->u.suback.props;
    case MQTT_DISCONNECT: return &k->u.disconnect.props;
    case MQTT_AUTH: return &k->u.auth.props;
    default: return NULL;
    }
}

static enum wd_err encode(struct buf *b, uint8_t version, const struct mqtt_packet *k)
{
    struct mqtt_sub_entry e[16];
    struct mqtt_str f[16];
    uint32_t pos = 0, n = 0;

    switch (k->type) {
    case MQTT_CONNECT: return codec_encode_connect(b, &k->u.connect);
    case MQTT_CONNACK: return codec_encode_connack(b, version, &k->u.connack);
    case MQTT_PUBLISH: return codec_encode_publish(b, version, &k->u.publish);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP: return codec_encode_ack(b, version, &k->u.ack);
    case MQTT_SUBSCRIBE:
        while (n < LEN(e) && codec_next_sub(&k->u.subscribe, version, &pos, &e[n]))
            n++;
        assert_int_equal(n, k->u.subscribe.count);
        return codec_encode_subscribe(b, version, k->u.subscribe.packet_id, &k->u.subscribe.props,
                                      e, n);
    case MQTT_UNSUBSCRIBE:
        while (n < LEN(f) && codec_next_unsub(&k->u.subscribe, &pos, &f[n]))
            n++;
        assert_int_equal(n, k->u.subscribe.count);
        return codec_encode_unsubscribe(b, version, k->u.subscribe.packet_id,
                                        &k->u.subscribe.props, f, n);
    case MQTT_SUBACK:
    case MQTT_UNSUBACK: return codec_encode_suback(b, version, k->type, &k->u.suback);
    case MQTT_PINGREQ:
    case MQTT_PINGRESP: return codec_encode_empty(b, k->type);
    case MQTT_DISCONNECT: return codec_encode_disconnect(b, version, &k->u.disconnect);
    case MQTT_AUTH: return codec_encode_auth(b, &k->u.auth);
    default: return WD_EINVAL;
    }
}

/* Make the encoder copy the decoded property section as it came. */
static void props_as_raw(struct mqtt_props *p)
{
    if (!p)
        return;
    p->present = 0;
    p->sub_ids = NULL;
    p->extra = p->raw;
}

static int no_leaks(void **state)
{
    (void)state;
    mem_fail_after(0);
    return mem_in_use() == 0 ? 0 : -1;
}

/* ---- table-driven tests ----------------------------------------------------- */

static void test_bytewise(void **state)
{
    const struct vec *v = *state;
    struct mqtt_packet k;
    size_t consumed;

    for (size_t n = 0; n < v->len; n++)
        assert_err(decode(v->p, n, v->version, 0, &k, &consumed), WD_EAGAIN);
    assert_err(decode(v->p, v->len, v->version, 0, &k, &consumed), WD_OK);
    assert_int_equal(consumed, v->len);
    /* Exactly at the limit is allowed; one byte under it is not. */
    assert_err(decode(v->p, v->len, v->version, (uint32_t)v->len, &k, &consumed), WD_OK);
    assert_err(decode(v->p, v->len, v->version, (uint32_t)v->len - 1, &k, &consumed),
               WD_ETOOLARGE);
}

static void test_roundtrip(void **state)
{
    const struct vec *v = *state;
    struct mqtt_packet k1, k2;
    struct mqtt_props *p, *will;
    struct buf e1, e2, e3;

    buf_init(&e1);
    buf_init(&e2);
    buf_init(&e3);
    decode_ok(v->p, v->len, v->version, &k1);
    assert_err(encode(&e1, v->version, &k1), WD_OK);
    decode_ok(buf_head(&e1), buf_used(&e1), v->version, &k2);
    assert_int_equal(k2.type, k1.type);
    assert_err(encode(&e2, v->version, &k2), WD_OK);
    assert_int_equal(buf_used(&e2), buf_used(&e1));
    assert_memory_equal(buf_head(&e2), buf_head(&e1), buf_used(&e1));
    if (v->canonical) {
        p = packet_props(&k1, &will);
        props_as_raw(p);
        props_as_raw(will);
        assert_err(encode(&e3, v->version, &k1), WD_OK);
        assert_int_equal(buf_used(&e3), v->len);
        assert_memory_equal(buf_head(&e3), v->p, v->len);
    }
    buf_fini(&e1);
    buf_fini(&e2);
    buf_fini(&e3);
}

static void test_bad(void **state)
{
    const struct bad *b = *state;
    struct mqtt_packet k;
    size_t consumed;
    uint8_t type, flags;
    uint32_t rem, hl;

    /* Each row is exactly one packet, so it fails for its own reason, not for a short body. */
    if (codec_fixed_header(b->p, b->len, 0, &type, &flags, &rem, &hl) == WD_OK)
        assert_int_equal(hl + rem, b->len);
    assert_err(decode(b->p, b->len, b->version, b->max_size, &k, &consumed), b->want);
}

/* ---- field checks per packet type ------------------------------------------- */

static void test_connect_fields(void **state)
{
    struct mqtt_packet k;
    const struct mqtt_connect *c = &k.u.connect;
    (void)state;

    decode_ok(connect4_min, sizeof connect4_min, MQTT_V311, &k);
    assert_int_equal(k.type, MQTT_CONNECT);
    assert_int_equal(c->version, MQTT_V311);
    assert_true(c->clean_start);
    assert_false(c->will_flag);
    assert_int_equal(c->keepalive, 60);
    assert_int_equal(c->client_id.len, 0);

    decode_ok(connect4_full, sizeof connect4_full, MQTT_V311, &k);
    assert_true(c->will_flag);
    assert_true(c->will_retain);
    assert_int_equal(c->will_qos, 1);
    assert_true(c->has_username);
    assert_true(c->has_password);
    assert_str(c->client_id, "c1");
    assert_str(c->will_topic, "w/t");
    assert_str(c->will_payload, "bye");
    assert_str(c->username, "u");
    assert_int_equal(c->password.len, 2);
    assert_int_equal(c->password.p[0], 0xFF);
    assert_int_equal(c->props.present, 0);

    decode_ok(connect3, sizeof connect3, MQTT_V311, &k);
    assert_int_equal(c->version, MQTT_V31);
    assert_int_equal(c->keepalive, 10);
    assert_str(c->client_id, "abc");
    assert_str(c->username, "u");
    assert_str(c->password, "pw");

    decode_ok(connect5_pass_only, sizeof connect5_pass_only, MQTT_V5, &k);
    assert_false(c->has_username);
    assert_true(c->has_password);
    assert_str(c->password, "pw");
}

static void test_connect5_fields(void **state)
{
    struct mqtt_packet k;
    const struct mqtt_connect *c = &k.u.connect;
    const struct mqtt_props *p = &c->props, *w = &c->will_props;
    (void)state;

    decode_ok(connect5_full, sizeof connect5_full, MQTT_V311, &k); /* CONNECT has its own */
    assert_int_equal(c->version, MQTT_V5);
    assert_int_equal(p->present, PBIT(SESSION_EXPIRY) | PBIT(RECEIVE_MAX) | PBIT(TOPIC_ALIAS_MAX) |
                                     PBIT(MAX_PACKET_SIZE) | PBIT(REQUEST_PROBLEM_INFO) |
                                     PBIT(REQUEST_RESPONSE_INFO) | PBIT(AUTH_METHOD) |
                                     PBIT(AUTH_DATA) | PBIT(USER_PROPERTY));
    assert_int_equal(p->session_expiry, 3600);
    assert_int_equal(p->receive_max, 20);
    assert_int_equal(p->topic_alias_max, 10);
    assert_int_equal(p->max_packet_size, 4096);
    assert_int_equal(p->request_problem_info, 1);
    assert_int_equal(p->request_response_info, 1);
    assert_str(p->auth_method, "AM");
    assert_memory_equal(p->auth_data.p, "\x01\x02", 2);
    assert_int_equal(p->user_prop_count, 1);
    assert_int_equal(p->raw.len, 37);
    assert_str(c->client_id, "c1");
    assert_int_equal(w->present, PBIT(WILL_DELAY) | PBIT(PAYLOAD_FORMAT) | PBIT(MESSAGE_EXPIRY) |
                                     PBIT(CONTENT_TYPE) | PBIT(RESPONSE_TOPIC) |
                                     PBIT(CORRELATION_DATA) | PBIT(USER_PROPERTY));
    assert_int_equal(w->will_delay, 5);
    assert_int_equal(w->payload_format, 1);
    assert_int_equal(w->message_expiry, 60);
    assert_str(w->content_type, "text");
    assert_str(w->response_topic, "r");
    assert_memory_equal(w->correlation_data.p, "\xAA\xBB", 2);
    assert_int_equal(w->user_prop_count, 1);
    assert_str(c->will_topic, "w/t");
    assert_str(c->will_payload, "bye");
    assert_str(c->username, "u");
    assert_int_equal(c->password.len, 2);
}

static void test_connack_fields(void **state)
{
    struct mqtt_packet k;
    const struct mqtt_connack *c = &k.u.connack;
    const struct mqtt_props *p = &c->props;
    (void)state;

    decode_ok(connack4, sizeof connack4, MQTT_V311, &k);
    assert_true(c->session_present);
    assert_int_equal(c->reason, MQTT3_ACCEPTED);
    decode_ok(connack4_refused, sizeof connack4_refused, MQTT_V311, &k);
    assert_false(c->session_present);
    assert_int_equal(c->reason, MQTT3_NOT_AUTHORIZED);
    decode_ok(connack5_refused, sizeof connack5_refused, MQTT_V5, &k);
    assert_int_equal(c->reason, MQTT_RC_NOT_AUTHORIZED);

    decode_ok(connack5, sizeof connack5, MQTT_V5, &k);
    assert_int_equal(p->session_expiry, 60);
    assert_str(p->assigned_client_id, "id");
    assert_int_equal(p->server_keepalive, 30);
    assert_int_equal(p->receive_max, 5);
    assert_int_equal(p->topic_alias_max, 10);
    assert_true(p->present & PBIT(MAX_QOS));
    assert_int_equal(p->max_qos, 1);
    assert_true(p->present & PBIT(RETAIN_AVAILABLE));
    assert_int_equal(p->retain_available, 0);
    assert_int_equal(p->max_packet_size, 1024);
    assert_int_equal(p->wildcard_available, 1);
    assert_int_equal(p->subid_available, 0);
    assert_int_equal(p->shared_available, 1);
    assert_str(p->reason_string, "ok");
    assert_str(p->response_info, "r");
    assert_str(p->server_reference, "s");
}

static void test_publish_fields(void **state)
{
    struct mqtt_packet k;
    const struct mqtt_publish *m = &k.u.publish;
    const struct mqtt_props *p = &m->props;
    (void)state;

    decode_ok(publish4_q0, sizeof publish4_q0, MQTT_V311, &k);
    assert_int_equal(m->qos, 0);
    assert_false(m->dup);
    assert_false(m->retain);
    assert_str(m->topic, "a/b");
    assert_int_equal(m->packet_id, 0);
    assert_str(m->payload, "hi");

    decode_ok(publish4_q1, sizeof publish4_q1, MQTT_V311, &k);
    assert_int_equal(m->qos, 1);
    assert_true(m->dup);
    assert_true(m->retain);
    assert_int_equal(m->packet_id, 10);
    assert_str(m->payload, "x");

    decode_ok(publish4_q2, sizeof publish4_q2, MQTT_V311, &k);
    assert_int_equal(m->qos, 2);
    assert_int_equal(m->packet_id, 0x1234);
    assert_int_equal(m->payload.len, 0);

    /* The same bytes read as 5.0: the first payload byte is the property length. */
    decode_ok(publish5_q0, sizeof publish5_q0, MQTT_V5, &k);
    assert_int_equal(p->present, 0);
    assert_str(m->payload, "hi");

    decode_ok(publish5_q1, sizeof publish5_q1, MQTT_V5, &k);
    assert_int_equal(m->packet_id, 7);
    assert_int_equal(p->payload_format, 1);
    assert_int_equal(p->message_expiry, 10);
    assert_int_equal(p->topic_alias, 5);
    assert_str(p->response_topic, "r");
    assert_str(p->correlation_data, "Z");
    assert_str(p->content_type, "tx");
    assert_int_equal(p->sub_id, 5);
    assert_int_equal(p->sub_id_count, 2);
    assert_int_equal(p->user_prop_count, 2);
    assert_int_equal(p->raw.len, 42);
    assert_str(m->payload, "hi");

    decode_ok(publish5_alias, sizeof publish5_alias, MQTT_V5, &k);
    assert_int_equal(m->topic.len, 0);
    assert_int_equal(p->topic_alias, 1);
    assert_int_equal(m->payload.len, 0);
}

static void test_ack_fields(void **state)
{
    struct mqtt_packet k;
    const struct mqtt_ack *a = &k.u.ack;
    (void)state;

    decode_ok(pubrel4, sizeof pubrel4, MQTT_V311, &k);
    assert_int_equal(k.type, MQTT_PUBREL);
    assert_int_equal(k.flags, 0x2);
    assert_int_equal(a->type, MQTT_PUBREL);
    assert_int_equal(a->packet_id, 3);
    decode_ok(puback5, sizeof puback5, MQTT_V5, &k);
    assert_int_equal(a->reason, 0);
    decode_ok(puback5_rc, sizeof puback5_rc, MQTT_V5, &k);
    assert_int_equal(a->reason, MQTT_RC_NO_MATCHING_SUBSCRIBERS);
    decode_ok(puback5_props, sizeof puback5_props, MQTT_V5, &k);
    assert_int_equal(a->reason, MQTT_RC_NOT_AUTHORIZED);
    assert_str(a->props.reason_string, "no");
    decode_ok(puback5_long0, sizeof puback5_long0, MQTT_V5, &k);
    assert_int_equal(a->reason, 0);
    assert_int_equal(a->props.present, 0);
    decode_ok(pubrel5, sizeof pubrel5, MQTT_V5, &k);
    assert_int_equal(a->reason, MQTT_RC_PACKET_ID_NOT_FOUND);
    decode_ok(pubcomp5, sizeof pubcomp5, MQTT_V5, &k);
    assert_int_equal(a->type, MQTT_PUBCOMP);
    assert_int_equal(a->props.user_prop_count, 1);
}

static void test_subscribe_fields(void **state)
{
    struct mqtt_packet k;
    const struct mqtt_subscribe *s = &k.u.subscribe;
    struct mqtt_sub_entry e;
    struct mqtt_str f;
    uint32_t pos = 0;
    (void)state;

    decode_ok(subscribe4, sizeof subscribe4, MQTT_V311, &k);
    assert_int_equal(s->packet_id, 10);
    assert_int_equal(s->count, 2);
    assert_true(codec_next_sub(s, MQTT_V311, &pos, &e));
    assert_str(e.filter, "a/b");
    assert_int_equal(e.qos, 1);
    assert_true(codec_next_sub(s, MQTT_V311, &pos, &e));
    assert_str(e.filter, "#");
    assert_int_equal(e.qos, 2);
    assert_false(codec_next_sub(s, MQTT_V311, &pos, &e));

    decode_ok(subscribe5, sizeof subscribe5, MQTT_V5, &k);
    assert_int_equal(s->props.sub_id, 7);
    assert_int_equal(s->props.sub_id_count, 1);
    assert_int_equal(s->props.user_prop_count, 1);
    pos = 0;
    assert_true(codec_next_sub(s, MQTT_V5, &pos, &e));
    assert_str(e.filter, "a/b");
    assert_int_equal(e.qos, 1);
    assert_true(e.no_local);
    assert_true(e.retain_as_published);
    assert_int_equal(e.retain_handling, 2);
    assert_true(codec_next_sub(s, MQTT_V5, &pos, &e));
    assert_str(e.filter, "#");
    assert_int_equal(e.qos, 0);
    assert_false(e.no_local);
    assert_int_equal(e.retain_handling, 0);
    assert_false(codec_next_sub(s, MQTT_V5, &pos, &e));

    decode_ok(unsubscribe4, sizeof unsubscribe4, MQTT_V311, &k);
    assert_int_equal(k.type, MQTT_UNSUBSCRIBE);
    assert_int_equal(s->count, 2);
    pos = 0;
    assert_true(codec_next_unsub(s, &pos, &f));
    assert_str(f, "a/b");
    assert_true(codec_next_unsub(s, &pos, &f));
    assert_str(f, "#");
    assert_false(codec_next_unsub(s, &pos, &f));
}

static void test_suback_fields(void **state)
{
    struct mqtt_packet k;
    const struct mqtt_suback *s = &k.u.suback;
    (void)state;

    decode_ok(suback4, sizeof suback4, MQTT_V311, &k);
    assert_int_equal(s->packet_id, 10);
    assert_int_equal(s->count, 2);
    assert_int_equal(s->reasons[0], 0x01);
    assert_int_equal(s->reasons[1], 0x80);
    decode_ok(unsuback4, sizeof unsuback4, MQTT_V311, &k);
    assert_int_equal(k.type, MQTT_UNSUBACK);
    assert_int_equal(s->count, 0);
    decode_ok(suback5_props, sizeof suback5_props, MQTT_V5, &k);
    assert_str(s->props.reason_string, "x");
    assert_int_equal(s->count, 1);
    decode_ok(unsuback5, sizeof unsuback5, MQTT_V5, &k);
    assert_int_equal(s->count, 2);
    assert_int_equal(s->reasons[1], MQTT_RC_NO_SUBSCRIPTION_EXISTED);
}

static void test_disconnect_auth_fields(void **state)
{
    struct mqtt_packet k;
    (void)state;

    decode_ok(disconnect5_rc, sizeof disconnect5_rc, MQTT_V5, &k);
    assert_int_equal(k.u.disconnect.reason, MQTT_RC_DISCONNECT_WITH_WILL);
    decode_ok(disconnect5_props, sizeof disconnect5_props, MQTT_V5, &k);
    assert_true(k.u.disconnect.props.present & PBIT(SESSION_EXPIRY));
    assert_int_equal(k.u.disconnect.props.session_expiry, 0);
    assert_str(k.u.disconnect.props.reason_string, "x");
    assert_str(k.u.disconnect.props.server_reference, "s");
    decode_ok(auth5, sizeof auth5, MQTT_V5, &k);
    assert_int_equal(k.u.auth.reason, MQTT_RC_CONTINUE_AUTH);
    assert_str(k.u.auth.props.auth_method, "SC");
    assert_str(k.u.auth.props.auth_data, "D");
    decode_ok(pingresp, sizeof pingresp, MQTT_V311, &k);
    assert_int_equal(k.type, MQTT_PINGRESP);
}

/* The broker answers an unknown version with a CONNACK in the level it read. */
static void test_version_reported(void **state)
{
    struct mqtt_packet k;
    size_t consumed;
    static const uint8_t v6[] = {CONNECT_HDR(0x0C, 6, 0x02), 0x00, 0x00};
    static const uint8_t mqtx[] = {0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'X',
                                   0x05, 0x02, 0x00, 0x3C, 0x00, 0x00};
    (void)state;

    assert_err(decode(v6, sizeof v6, MQTT_V311, 0, &k, &consumed), WD_EVERSION);
    assert_int_equal(k.u.connect.version, 6);
    assert_err(decode(mqtx, sizeof mqtx, MQTT_V311, 0, &k, &consumed), WD_EVERSION);
    assert_int_equal(k.u.connect.version, 5);
}

static void test_user_props(void **state)
{
    struct mqtt_packet k;
    struct mqtt_str key, val;
    uint32_t pos = 0;
    (void)state;

    decode_ok(publish5_q1, sizeof publish5_q1, MQTT_V5, &k);
    assert_true(codec_next_user_prop(&k.u.publish.props, &pos, &key, &val));
    assert_str(key, "k");
    assert_str(val, "v");
    assert_true(codec_next_user_prop(&k.u.publish.props, &pos, &key, &val));
    assert_str(key, "k");
    assert_str(val, "w");
    assert_false(codec_next_user_prop(&k.u.publish.props, &pos, &key, &val));

    decode_ok(connect5_full, sizeof connect5_full, MQTT_V5, &k);
    pos = 0;
    assert_true(codec_next_user_prop(&k.u.connect.will_props, &pos, &key, &val));
    assert_str(key, "a");
    assert_str(val, "b");
    assert_false(codec_next_user_prop(&k.u.connect.will_props, &pos, &key, &val));

    decode_ok(publish5_q0, sizeof publish5_q0, MQTT_V5, &k);
    pos = 0;
    assert_false(codec_next_user_prop(&k.u.publish.props, &pos, &key, &val));
}

/* Property ids are varints: a 2-byte id (26 written as A6 00) must not confuse the iterators. */
static void test_user_prop_long_id(void **state)
{
    static const uint8_t pkt[] = {0x30, 0x0C, 0x00, 0x01, 't', 0x08, 0xA6, 0x00,
                                  0x00, 0x01, 'k',  0x00, 0x01, 'v'};
    struct mqtt_packet k;
    struct mqtt_str key, val;
    struct buf b;
    uint32_t pos = 0;
    (void)state;

    decode_ok(pkt, sizeof pkt, MQTT_V5, &k);
    assert_true(codec_next_user_prop(&k.u.publish.props, &pos, &key, &val));
    assert_str(key, "k");
    assert_str(val, "v");
    buf_init(&b);
    assert_err(codec_props_passthrough(&k.u.publish.props, &b), WD_OK);
    assert_bytes(&b, 0xA6, 0x00, 0x00, 0x01, 'k', 0x00, 0x01, 'v');
    buf_fini(&b);
}

/*
 * From the fuzzer: a 3.1.x packet has no property section, so raw.p is NULL,
 * and the iterators must not do arithmetic on it. A broker may also hand an
 * empty body as NULL.
 */
static void test_null_views(void **state)
{
    struct mqtt_packet k;
    struct mqtt_props none = {0};
    struct mqtt_subscribe sub = {0};
    struct mqtt_sub_entry e;
    struct mqtt_str key, val;
    struct buf b;
    uint32_t pos = 0;
    (void)state;

    decode_ok(connect3, sizeof connect3, MQTT_V31, &k);
    assert_null(k.u.connect.will_props.raw.p);
    assert_false(codec_next_user_prop(&k.u.connect.will_props, &pos, &key, &val));
    buf_init(&b);
    assert_err(codec_props_passthrough(&k.u.connect.will_props, &b), WD_OK);
    assert_int_equal(buf_used(&b), 0);
    assert_false(codec_next_user_prop(&none, &pos, &key, &val));
    assert_false(codec_next_sub(&sub, MQTT_V5, &pos, &e));
    assert_false(codec_next_unsub(&sub, &pos, &key));
    k.type = MQTT_DISCONNECT;
    assert_err(codec_decode_disconnect(0, NULL, 0, MQTT_V5, &k), WD_OK);
    k.type = MQTT_PINGREQ;
    assert_err(codec_decode_empty(0, NULL, 0, MQTT_V311, &k), WD_OK);
    k.type = MQTT_PUBACK;
    assert_err(codec_decode_ack(0, NULL, 0, MQTT_V5, &k), WD_EMALFORMED);
    buf_fini(&b);
}

static void test_passthrough(void **state)
{
    struct mqtt_packet k, k2;
    struct mqtt_publish out;
    struct buf extra, b;
    uint32_t pos = 0;
    struct mqtt_str key, val;
    (void)state;

    buf_init(&extra);
    buf_init(&b);
    decode_ok(publish5_q1, sizeof publish5_q1, MQTT_V5, &k);
    assert_err(codec_props_passthrough(&k.u.publish.props, &extra), WD_OK);
    assert_bytes(&extra, 0x01, 0x01, 0x03, 0x00, 0x02, 't', 'x', 0x08, 0x00, 0x01, 'r', 0x09,
                 0x00, 0x01, 0x5A, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', 0x26, 0x00, 0x01, 'k',
                 0x00, 0x01, 'w');
    /* Forward it: new alias and subscription id from the broker, the rest passed through. */
    out = k.u.publish;
    memset(&out.props, 0, sizeof out.props);
    out.props.present = PBIT(MESSAGE_EXPIRY);
    out.props.message_expiry = 9;
    out.props.extra.p = buf_head(&extra);
    out.props.extra.len = (uint32_t)buf_used(&extra);
    assert_err(codec_encode_publish(&b, MQTT_V5, &out), WD_OK);
    decode_ok(buf_head(&b), buf_used(&b), MQTT_V5, &k2);
    assert_int_equal(k2.u.publish.props.message_expiry, 9);
    assert_int_equal(k2.u.publish.props.payload_format, 1);
    assert_str(k2.u.publish.props.content_type, "tx");
    assert_int_equal(k2.u.publish.props.user_prop_count, 2);
    assert_true(codec_next_user_prop(&k2.u.publish.props, &pos, &key, &val));
    assert_str(val, "v");
    assert_false(k2.u.publish.props.present & PBIT(TOPIC_ALIAS));
    buf_fini(&extra);
    buf_fini(&b);
}

/* ---- encoders from hand-built structs --------------------------------------- */

static void test_encode_publish(void **state)
{
    static const uint32_t ids[] = {5, 129};
    static const uint8_t user[] = {0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'};
    struct mqtt_publish m = {
        .qos = 1,
        .topic = {(const uint8_t *)"a/b", 3},
        .packet_id = 7,
        .payload = {(const uint8_t *)"hi", 2},
        .props = {.present = PBIT(PAYLOAD_FORMAT) | PBIT(TOPIC_ALIAS),
                  .payload_format = 1,
                  .topic_alias = 5,
                  .sub_ids = ids,
                  .sub_id_count = 2,
                  .extra = {user, sizeof user}},
    };
    struct buf b;
    (void)state;

    buf_init(&b);
    assert_err(codec_encode_publish(&b, MQTT_V5, &m), WD_OK);
    assert_bytes(&b, 0x32, 0x1B, A_B, 0x00, 0x07, 0x11, 0x01, 0x01, 0x23, 0x00, 0x05, 0x0B, 0x05,
                 0x0B, 0x81, 0x01, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', 'h', 'i');
    buf_consume(&b, buf_used(&b));
    assert_err(codec_encode_publish(&b, MQTT_V311, &m), WD_OK);
    assert_bytes(&b, 0x32, 0x09, A_B, 0x00, 0x07, 'h', 'i');
    buf_fini(&b);
}

static void test_encode_short_forms(void **state)
{
    struct mqtt_ack a = {.type = MQTT_PUBACK, .packet_id = 7};
    struct mqtt_disconnect d = {.reason = MQTT_RC_SESSION_TAKEN_OVER};
    struct mqtt_auth au = {.reason = MQTT_RC_CONTINUE_AUTH};
    struct mqtt_connack ca = {.session_present = true};
    struct buf b;
    (void)state;

    buf_init(&b);
#define CHECK(call, ...)                                                                       \
    do {                                                                                       \
        buf_consume(&b, buf_used(&b));                                                         \
        assert_err(call, WD_OK);                                                               \
        assert_bytes(&b, __VA_ARGS__);                                                         \
    } while (0)
    CHECK(codec_encode_ack(&b, MQTT_V5, &a), 0x40, 0x02, 0x00, 0x07);
    a.reason = MQTT_RC_NO_MATCHING_SUBSCRIBERS;
    CHECK(codec_encode_ack(&b, MQTT_V5, &a), 0x40, 0x03, 0x00, 0x07, 0x10);
    CHECK(codec_encode_ack(&b, MQTT_V311, &a), 0x40, 0x02, 0x00, 0x07);
    a.reason = 0;
    a.props.present = PBIT(REASON_STRING);
    a.props.reason_string = (struct mqtt_str){(const uint8_t *)"no", 2};
    CHECK(codec_encode_ack(&b, MQTT_V5, &a), 0x40, 0x09, 0x00, 0x07, 0x00, 0x05, 0x1F, 0x00, 0x02,
          'n', 'o');
    a.type = MQTT_PUBREL;
    a.props.present = 0;
    CHECK(codec_encode_ack(&b, MQTT_V311, &a), 0x62, 0x02, 0x00, 0x07);
    CHECK(codec_encode_disconnect(&b, MQTT_V5, &d), 0xE0, 0x01, 0x8E);
    CHECK(codec_encode_disconnect(&b, MQTT_V311, &d), 0xE0, 0x00);
    d.reason = 0;
    CHECK(codec_encode_disconnect(&b, MQTT_V5, &d), 0xE0, 0x00);
    CHECK(codec_encode_auth(&b, &au), 0xF0, 0x02, 0x18, 0x00);
    au.reason = 0;
    CHECK(codec_encode_auth(&b, &au), 0xF0, 0x00);
    CHECK(codec_encode_connack(&b, MQTT_V31, &ca), 0x20, 0x02, 0x00, 0x00);
    CHECK(codec_encode_connack(&b, MQTT_V311, &ca), 0x20, 0x02, 0x01, 0x00);
    CHECK(codec_encode_connack(&b, MQTT_V5, &ca), 0x20, 0x03, 0x01, 0x00, 0x00);
    CHECK(codec_encode_empty(&b, MQTT_PINGRESP), 0xD0, 0x00);
#undef CHECK
    buf_fini(&b);
}

static void test_encode_too_large(void **state)
{
    static uint8_t big[65536];
    struct mqtt_publish m = {.topic = {big, sizeof big}};
    struct mqtt_sub_entry e = {.filter = {big, sizeof big}};
    struct buf b;
    (void)state;

    buf_init(&b);
    assert_err(buf_append(&b, "x", 1), WD_OK);
    assert_err(codec_encode_publish(&b, MQTT_V311, &m), WD_ETOOLARGE);
    assert_err(codec_encode_subscribe(&b, MQTT_V5, 1, NULL, &e, 1), WD_ETOOLARGE);
    assert_int_equal(buf_used(&b), 1);
    m.topic.len = 65535;
    assert_err(codec_encode_publish(&b, MQTT_V311, &m), WD_OK);
    assert_int_equal(buf_used(&b), 1 + 1 + 3 + 2 + 65535);
    buf_fini(&b);
}

/* An allocation failure leaves the buffer exactly as it was. */
static void test_encode_enomem(void **state)
{
    uint8_t fill[256];
    struct mqtt_publish m = {.topic = {(const uint8_t *)"a/b", 3},
                             .payload = {fill, sizeof fill}};
    struct mqtt_ack a = {.type = MQTT_PUBACK, .packet_id = 1};
    struct buf b;
    (void)state;

    memset(fill, 0x5A, sizeof fill);
    buf_init(&b);
    mem_fail_after(1);
    assert_err(codec_encode_ack(&b, MQTT_V5, &a), WD_ENOMEM);
    assert_int_equal(buf_used(&b), 0);
    mem_fail_after(0);
    assert_err(buf_append(&b, fill, sizeof fill), WD_OK);
    mem_fail_after(1);
    assert_err(codec_encode_publish(&b, MQTT_V5, &m), WD_ENOMEM);
    mem_fail_after(0);
    assert_int_equal(buf_used(&b), sizeof fill);
    assert_memory_equal(buf_head(&b), fill, sizeof fill);
    buf_fini(&b);
}

/* ---- small pieces ------------------------------------------------------------- */

static void test_fixed_header(void **state)
{
    static const struct {
        uint8_t p[6];
        size_t len;
        uint32_t max;
        enum wd_err want;
        uint32_t remaining, hdr_len;
    } t[] = {
        {{0}, 0, 0, WD_EAGAIN, 0, 0},
        {{0x30}, 1, 0, WD_EAGAIN, 0, 0},
        {{0x30, 0x80}, 2, 0, WD_EAGAIN, 0, 0},
        {{0x30, 0x00}, 2, 0, WD_OK, 0, 2},
        {{0x30, 0x7F}, 2, 0, WD_OK, 127, 2},
        {{0x30, 0x80, 0x01}, 3, 0, WD_OK, 128, 3},
        {{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, 5, 0, WD_OK, 268435455, 5},
        {{0x30, 0xFF, 0xFF, 0xFF, 0xFF}, 5, 0, WD_EMALFORMED, 0, 0},
        {{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 6, 0, WD_EMALFORMED, 0, 0},
        {{0x30, 0x80, 0x01}, 3, 131, WD_OK, 128, 3},
        {{0x30, 0x80, 0x01}, 3, 130, WD_ETOOLARGE, 0, 0},
        {{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, 5, 1u << 20, WD_ETOOLARGE, 0, 0},
        {{0x00, 0x00}, 2, 0, WD_EMALFORMED, 0, 0},
    };
    uint8_t type, flags;
    uint32_t rem, hl;
    (void)state;

    for (size_t i = 0; i < LEN(t); i++) {
        enum wd_err e = codec_fixed_header(t[i].p, t[i].len, t[i].max, &type, &flags, &rem, &hl);
        assert_err(e, t[i].want);
        if (e == WD_OK) {
            assert_int_equal(type, MQTT_PUBLISH);
            assert_int_equal(rem, t[i].remaining);
            assert_int_equal(hl, t[i].hdr_len);
        }
    }
}

static void test_varint_size(void **state)
{
    static const uint32_t t[][2] = {{0, 1},       {127, 1},     {128, 2},       {16383, 2},
                                    {16384, 3},   {2097151, 3}, {2097152, 4},   {268435455, 4}};
    (void)state;

    for (size_t i = 0; i < LEN(t); i++)
        assert_int_equal(codec_varint_size(t[i][0]), t[i][1]);
}

static void test_utf8(void **state)
{
    static const struct {
        const char *s;
        size_t len;
        bool ok;
    } t[] = {
        {"", 0, true},
        {"a/b", 3, true},
        {"\xC2\x80", 2, true},             /* U+0080 */
        {"\xDF\xBF", 2, true},             /* U+07FF */
        {"\xE0\xA0\x80", 3, true},         /* U+0800 */
        {"\xED\x9F\xBF", 3, true},         /* U+D7FF */
        {"\xEE\x80\x80", 3, true},         /* U+E000 */
        {"\xEF\xBF\xBF", 3, true},         /* U+FFFF: non-character, allowed */
        {"\xF0\x90\x80\x80", 4, true},     /* U+10000 */
        {"\xF4\x8F\xBF\xBF", 4, true},     /* U+10FFFF */
        {"\x01\x7F", 2, true},             /* control characters: allowed */
        {"\x00", 1, false},
        {"\x80", 1, false},
        {"\xC0\x80", 2, false},
        {"\xC1\xBF", 2, false},
        {"\xC2", 1, false},
        {"\xC2\x41", 2, false},
        {"\xE0\x9F\xBF", 3, false},
        {"\xED\xA0\x80", 3, false},
        {"\xED\xBF\xBF", 3, false},
        {"\xE1\x80", 2, false},
        {"\xE1\x80\x41", 3, false},
        {"\xF0\x8F\xBF\xBF", 4, false},
        {"\xF4\x90\x80\x80", 4, false},
        {"\xF5\x80\x80\x80", 4, false},
        {"\xF1\x80\x80\x41", 4, false},
        {"\xFF", 1, false},
    };
    (void)state;

    for (size_t i = 0; i < LEN(t); i++)
        assert_int_equal(codec_utf8_valid((const uint8_t *)t[i].s, t[i].len), t[i].ok);
}

static void test_stream_and_decoder(void **state)
{
    uint8_t two[sizeof puback4 + sizeof publish4_q0];
    uint8_t big[4 + 3 + 200];
    struct mqtt_packet k;
    size_t consumed;
    (void)state;

    memcpy(two, puback4, sizeof puback4);
    memcpy(two + sizeof puback4, publish4_q0, sizeof publish4_q0);
    assert_err(decode(two, sizeof two, MQTT_V311, 0, &k, &consumed), WD_OK);
    assert_int_equal(consumed, sizeof puback4);
    assert_int_equal(k.type, MQTT_PUBACK);
    assert_err(decode(two + consumed, sizeof two - consumed, MQTT_V311, 0, &k, &consumed), WD_OK);
    assert_int_equal(k.type, MQTT_PUBLISH);

    /* Two-byte remaining length: 3 + 200 = 203 = 0xCB 0x01. */
    big[0] = 0x30;
    big[1] = 0xCB;
    big[2] = 0x01;
    big[3] = 0x00;
    big[4] = 0x01;
    big[5] = 't';
    memset(big + 6, 'x', 200);
    for (size_t n = 0; n < sizeof big - 1; n++)
        assert_err(decode(big, n, MQTT_V311, 0, &k, &consumed), WD_EAGAIN);
    assert_err(decode(big, sizeof big - 1, MQTT_V311, 0, &k, &consumed), WD_OK);
    assert_int_equal(k.u.publish.payload.len, 200);

    assert_null(codec_decoder(0));
    assert_ptr_equal(codec_decoder(MQTT_PUBLISH), codec_decode_publish);
    assert_ptr_equal(codec_decoder(MQTT_PUBCOMP), codec_decode_ack);
    assert_ptr_equal(codec_decoder(MQTT_UNSUBACK), codec_decode_suback);
    assert_ptr_equal(codec_decoder(MQTT_AUTH), codec_decode_auth);
}

int main(void)
{
    static const struct CMUnitTest fields[] = {
        cmocka_unit_test(test_connect_fields),
        cmocka_unit_test(test_connect5_fields),
        cmocka_unit_test(test_connack_fields),
        cmocka_unit_test(test_publish_fields),
        cmocka_unit_test(test_ack_fields),
        cmocka_unit_test(test_subscribe_fields),
        cmocka_unit_test(test_suback_fields),
        cmocka_unit_test(test_disconnect_auth_fields),
        cmocka_unit_test(test_version_reported),
        cmocka_unit_test(test_user_props),
        cmocka_unit_test(test_user_prop_long_id),
        cmocka_unit_test(test_null_views),
        cmocka_unit_test(test_passthrough),
        cmocka_unit_test(test_encode_publish),
        cmocka_unit_test(test_encode_short_forms),
        cmocka_unit_test(test_encode_too_large),
        cmocka_unit_test(test_encode_enomem),
        cmocka_unit_test(test_fixed_header),
        cmocka_unit_test(test_varint_size),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_stream_and_decoder),
    };
    struct CMUnitTest bytewise[LEN(valid)], roundtrip[LEN(valid)], malformed[LEN(bad)];
    int failed = 0;

    for (size_t i = 0; i < LEN(valid); i++) {
        void *v = (void *)&valid[i];
        bytewise[i] = (struct CMUnitTest){valid[i].name, test_bytewise, NULL, NULL, v};
        roundtrip[i] = (struct CMUnitTest){valid[i].name, test_roundtrip, NULL, NULL, v};
    }
    for (size_t i = 0; i < LEN(bad); i++)
        malformed[i] = (struct CMUnitTest){bad[i].name, test_bad, NULL, NULL, (void *)&bad[i]};
    failed += cmocka_run_group_tests_name("codec fields and encoders", fields, NULL, no_leaks);
    failed += cmocka_run_group_tests_name("codec byte at a time", bytewise, NULL, no_leaks);
    failed += cmocka_run_group_tests_name("codec round trip", roundtrip, NULL, no_leaks);
    failed += cmocka_run_group_tests_name("codec malformed", malformed, NULL, no_leaks);
    return failed ? 1 : 0;
}
