/*
 * mqtt.h - MQTT 3.1, 3.1.1 and 5.0 packet structures, types, reason codes and
 * property identifiers. Data only: no functions.
 *
 * Decoded strings are struct mqtt_str views (pointer + length) into the input
 * buffer. Borrows: valid until the input buffer is consumed (buf_consume());
 * a handler copies what it keeps.
 */
#ifndef WD_MQTT_H
#define WD_MQTT_H

#include <stdbool.h>
#include <stdint.h>

/* Protocol levels as carried in CONNECT. */
#define MQTT_V31 3
#define MQTT_V311 4
#define MQTT_V5 5

enum mqtt_type {
    MQTT_CONNECT = 1,
    MQTT_CONNACK = 2,
    MQTT_PUBLISH = 3,
    MQTT_PUBACK = 4,
    MQTT_PUBREC = 5,
    MQTT_PUBREL = 6,
    MQTT_PUBCOMP = 7,
    MQTT_SUBSCRIBE = 8,
    MQTT_SUBACK = 9,
    MQTT_UNSUBSCRIBE = 10,
    MQTT_UNSUBACK = 11,
    MQTT_PINGREQ = 12,
    MQTT_PINGRESP = 13,
    MQTT_DISCONNECT = 14,
    MQTT_AUTH = 15,
};

/* MQTT 5 reason codes (section 2.4). */
enum mqtt_rc {
    MQTT_RC_SUCCESS = 0x00, /* also Normal disconnection, Granted QoS 0 */
    MQTT_RC_GRANTED_QOS1 = 0x01,
    MQTT_RC_GRANTED_QOS2 = 0x02,
    MQTT_RC_DISCONNECT_WITH_WILL = 0x04,
    MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    MQTT_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    MQTT_RC_CONTINUE_AUTH = 0x18,
    MQTT_RC_REAUTHENTICATE = 0x19,
    MQTT_RC_UNSPECIFIED = 0x80,
    MQTT_RC_MALFORMED = 0x81,
    MQTT_RC_PROTOCOL_ERROR = 0x82,
    MQTT_RC_IMPL_SPECIFIC = 0x83,
    MQTT_RC_UNSUPPORTED_VERSION = 0x84,
    MQTT_RC_CLIENTID_NOT_VALID = 0x85,
    MQTT_RC_BAD_USERNAME_OR_PASSWORD = 0x86,
    MQTT_RC_NOT_AUTHORIZED = 0x87,
    MQTT_RC_SERVER_UNAVAILABLE = 0x88,
    MQTT_RC_SERVER_BUSY = 0x89,
    MQTT_RC_BANNED = 0x8A,
    MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
    MQTT_RC_BAD_AUTH_METHOD = 0x8C,
    MQTT_RC_KEEPALIVE_TIMEOUT = 0x8D,
    MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
    MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
    MQTT_RC_TOPIC_NAME_INVALID = 0x90,
    MQTT_RC_PACKET_ID_IN_USE = 0x91,
    MQTT_RC_PACKET_ID_NOT_FOUND = 0x92,
    MQTT_RC_RECEIVE_MAX_EXCEEDED = 0x93,
    MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
    MQTT_RC_PACKET_TOO_LARGE = 0x95,
    MQTT_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
    MQTT_RC_QUOTA_EXCEEDED = 0x97,
    MQTT_RC_ADMIN_ACTION = 0x98,
    MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    MQTT_RC_QOS_NOT_SUPPORTED = 0x9B,
    MQTT_RC_USE_ANOTHER_SERVER = 0x9C,
    MQTT_RC_SERVER_MOVED = 0x9D,
    MQTT_RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
    MQTT_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    MQTT_RC_MAX_CONNECT_TIME = 0xA0,
    MQTT_RC_SUBID_NOT_SUPPORTED = 0xA1,
    MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
};

/* MQTT 3.1/3.1.1 CONNACK return codes. */
enum mqtt_v3_rc {
    MQTT3_ACCEPTED = 0,
    MQTT3_BAD_VERSION = 1,
    MQTT3_ID_REJECTED = 2,
    MQTT3_SERVER_UNAVAILABLE = 3,
    MQTT3_BAD_CREDENTIALS = 4,
    MQTT3_NOT_AUTHORIZED = 5,
};

/* MQTT 5 property identifiers (section 2.2.2.2); all are below 64. */
enum mqtt_prop {
    MQTT_P_PAYLOAD_FORMAT = 0x01,      /* byte */
    MQTT_P_MESSAGE_EXPIRY = 0x02,      /* four-byte integer */
    MQTT_P_CONTENT_TYPE = 0x03,        /* UTF-8 string */
    MQTT_P_RESPONSE_TOPIC = 0x08,      /* UTF-8 string */
    MQTT_P_CORRELATION_DATA = 0x09,    /* binary data */
    MQTT_P_SUBSCRIPTION_ID = 0x0B,     /* variable byte integer */
    MQTT_P_SESSION_EXPIRY = 0x11,      /* four-byte integer */
    MQTT_P_ASSIGNED_CLIENT_ID = 0x12,  /* UTF-8 string */
    MQTT_P_SERVER_KEEPALIVE = 0x13,    /* two-byte integer */
    MQTT_P_AUTH_METHOD = 0x15,         /* UTF-8 string */
    MQTT_P_AUTH_DATA = 0x16,           /* binary data */
    MQTT_P_REQUEST_PROBLEM_INFO = 0x17,/* byte */
    MQTT_P_WILL_DELAY = 0x18,          /* four-byte integer */
    MQTT_P_REQUEST_RESPONSE_INFO = 0x19,/* byte */
    MQTT_P_RESPONSE_INFO = 0x1A,       /* UTF-8 string */
    MQTT_P_SERVER_REFERENCE = 0x1C,    /* UTF-8 string */
    MQTT_P_REASON_STRING = 0x1F,       /* UTF-8 string */
    MQTT_P_RECEIVE_MAX = 0x21,         /* two-byte integer */
    MQTT_P_TOPIC_ALIAS_MAX = 0x22,     /* two-byte integer */
    MQTT_P_TOPIC_ALIAS = 0x23,         /* two-byte integer */
    MQTT_P_MAX_QOS = 0x24,             /* byte */
    MQTT_P_RETAIN_AVAILABLE = 0x25,    /* byte */
    MQTT_P_USER_PROPERTY = 0x26,       /* UTF-8 string pair */
    MQTT_P_MAX_PACKET_SIZE = 0x27,     /* four-byte integer */
    MQTT_P_WILDCARD_AVAILABLE = 0x28,  /* byte */
    MQTT_P_SUBID_AVAILABLE = 0x29,     /* byte */
    MQTT_P_SHARED_AVAILABLE = 0x2A,    /* byte */
};

#define MQTT_PROP_BIT(id) (UINT64_C(1) << (id))

/* A byte string that is not ours: pointer + length, not NUL-terminated. */
struct mqtt_str {
    const uint8_t *p;
    uint32_t len;
};

/*
 * MQTT 5 properties of one packet. `present` has MQTT_PROP_BIT(id) set for
 * every property decoded (or to be encoded). Values of absent properties are 0.
 */
struct mqtt_props {
    uint64_t present;                /* MQTT_PROP_BIT(id) per property */
    uint8_t payload_format;
    uint8_t request_problem_info;
    uint8_t request_response_info;
    uint8_t max_qos;
    uint8_t retain_available;
    uint8_t wildcard_available;
    uint8_t subid_available;
    uint8_t shared_available;
    uint16_t server_keepalive;
    uint16_t receive_max;
    uint16_t topic_alias_max;
    uint16_t topic_alias;
    uint32_t message_expiry;
    uint32_t session_expiry;
    uint32_t will_delay;
    uint32_t max_packet_size;
    uint32_t sub_id;                 /* decode: first Subscription Identifier */
    uint32_t sub_id_count;           /* decode: how many there were; encode: entries in sub_ids */
    const uint32_t *sub_ids;         /* encode only: Subscription Identifiers to write */
    struct mqtt_str content_type;
    struct mqtt_str response_topic;
    struct mqtt_str correlation_data;
    struct mqtt_str assigned_client_id;
    struct mqtt_str auth_method;
    struct mqtt_str auth_data;
    struct mqtt_str response_info;
    struct mqtt_str server_reference;
    struct mqtt_str reason_string;
    uint32_t user_prop_count;        /* decode: number of User Property pairs */
    struct mqtt_str raw;             /* decode: the whole property section (after its length) */
    struct mqtt_str extra;           /* encode only: pre-encoded properties appended verbatim */
};

struct mqtt_connect {
    uint8_t version;                 /* MQTT_V31, MQTT_V311 or MQTT_V5 */
    bool clean_start;                /* Clean Session in 3.1.x */
    bool will_flag;
    bool will_retain;
    uint8_t will_qos;
    bool has_username;
    bool has_password;
    uint16_t keepalive;              /* seconds, 0 = off */
    struct mqtt_props props;
    struct mqtt_str client_id;
    struct mqtt_props will_props;    /* 5.0 only */
    struct mqtt_str will_topic;
    struct mqtt_str will_payload;
    struct mqtt_str username;
    struct mqtt_str password;
};

struct mqtt_connack {
    bool session_present;
    uint8_t reason;                  /* 5.0 reason code, or 3.1.x return code */
    struct mqtt_props props;
};

struct mqtt_publish {
    uint8_t qos;
    bool dup;
    bool retain;
    struct mqtt_str topic;
    uint16_t packet_id;              /* 0 at QoS 0 */
    struct mqtt_props props;
    struct mqtt_str payload;
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
struct mqtt_ack {
    uint8_t type;                    /* enum mqtt_type */
    uint16_t packet_id;
    uint8_t reason;                  /* 5.0; 0 when absent */
    struct mqtt_props props;
};

/* Subscription options byte (5.0 section 3.8.3.1). */
struct mqtt_sub_entry {
    struct mqtt_str filter;
    uint8_t qos;
    bool no_local;
    bool retain_as_published;
    uint8_t retain_handling;         /* 0, 1 or 2 */
};

/*
 * SUBSCRIBE and UNSUBSCRIBE. The topic list is left as the validated raw
 * payload; walk it with codec_next_sub()/codec_next_unsub().
 */
struct mqtt_subscribe {
    uint16_t packet_id;
    struct mqtt_props props;
    uint32_t count;                  /* entries in the payload, at least 1 */
    struct mqtt_str entries;         /* raw payload */
};

/* SUBACK and UNSUBACK: one reason code per requested filter. */
struct mqtt_suback {
    uint16_t packet_id;
    struct mqtt_props props;
    uint32_t count;
    const uint8_t *reasons;          /* count bytes; decode: view into the input */
};

struct mqtt_disconnect {
    uint8_t reason;                  /* 5.0; 0 when absent */
    struct mqtt_props props;
};

struct mqtt_auth {
    uint8_t reason;
    struct mqtt_props props;
};

/* One decoded packet. */
struct mqtt_packet {
    uint8_t type;                    /* enum mqtt_type */
    uint8_t flags;                   /* low nibble of the fixed header */
    uint32_t length;                 /* whole packet: fixed header + remaining length */
    union {
        struct mqtt_connect connect;
        struct mqtt_connack connack;
        struct mqtt_publish publish;
        struct mqtt_ack ack;
        struct mqtt_subscribe subscribe;   /* also UNSUBSCRIBE */
        struct mqtt_suback suback;         /* also UNSUBACK */
        struct mqtt_disconnect disconnect;
        struct mqtt_auth auth;
    } u;
};

#endif
