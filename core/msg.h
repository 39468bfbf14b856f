/*
 * msg.h - an application message as the broker holds it: one allocation with
 * topic, forwarded MQTT 5 properties and payload, reference-counted so that
 * every delivery, queue entry and the retained store share one copy.
 * Thread: broker.
 */
#ifndef WD_MSG_H
#define WD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msg {
    uint32_t refs;
    uint8_t qos;              /* QoS it was published with */
    bool retain;              /* RETAIN flag it was published with */
    uint8_t payload_format;   /* 5.0 Payload Format Indicator, 0 or 1 */
    uint16_t topic_len;
    uint32_t props_len;       /* bytes of pre-encoded forwarded properties */
    uint32_t payload_len;
    uint32_t expiry_s;        /* Message Expiry Interval as published, 0 = none */
    uint64_t expiry_at_ms;    /* loop time at which it expires; 0 = never */
    uint64_t origin;          /* session id of the publisher (No Local); 0 = the broker */
    char data[];              /* topic, NUL, properties, payload */
};

/*
 * Returns owned (one reference): release with msg_unref(). NULL on
 * allocation failure. Copies topic, props (encoded forwarded properties,
 * codec_props_passthrough form) and payload.
 */
struct msg *msg_new(const char *topic, size_t tlen, const void *props, size_t plen,
                    const void *payload, size_t len);

static inline struct msg *msg_ref(struct msg *m)
{
    m->refs++;
    return m;
}

/* Drop one reference; frees at zero. msg_unref(NULL) is a no-op. */
void msg_unref(struct msg *m);

static inline const char *msg_topic(const struct msg *m) { return m->data; }
static inline const uint8_t *msg_props(const struct msg *m)
{
    return (const uint8_t *)m->data + m->topic_len + 1;
}
static inline const uint8_t *msg_payload(const struct msg *m)
{
    return msg_props(m) + m->props_len;
}
/* Bytes a message accounts for in queue limits. */
static inline size_t msg_size(const struct msg *m)
{
    return sizeof *m + m->topic_len + m->props_len + m->payload_len;
}

#endif
