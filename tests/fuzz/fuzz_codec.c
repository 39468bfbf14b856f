/*
 * fuzz_codec.c - libFuzzer target for the codec. The input is read as a
 * stream of packets under each protocol version (3.1, 3.1.1, 5.0). Every
 * packet that decodes is re-encoded; the result must decode again and encode
 * to the same bytes, so an encoder/decoder disagreement aborts like a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "codec.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum wd_err encode(struct buf *b, uint8_t version, const struct mqtt_packet *k)
{
    const struct mqtt_subscribe *s = &k->u.subscribe;
    uint32_t pos = 0, n = 0;
    enum wd_err e;

    switch (k->type) {
    case MQTT_CONNECT: return codec_encode_connect(b, &k->u.connect);
    case MQTT_CONNACK: return codec_encode_connack(b, version, &k->u.connack);
    case MQTT_PUBLISH: return codec_encode_publish(b, version, &k->u.publish);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP: return codec_encode_ack(b, version, &k->u.ack);
    case MQTT_SUBSCRIBE: {
        struct mqtt_sub_entry *ent = malloc(s->count * sizeof *ent);
        if (!ent)
            abort();
        while (codec_next_sub(s, version, &pos, &ent[n]))
            n++;
        if (n != s->count)
            abort();
        e = codec_encode_subscribe(b, version, s->packet_id, &s->props, ent, n);
        free(ent);
        return e;
    }
    case MQTT_UNSUBSCRIBE: {
        struct mqtt_str *f = malloc(s->count * sizeof *f);
        if (!f)
            abort();
        while (codec_next_unsub(s, &pos, &f[n]))
            n++;
        if (n != s->count)
            abort();
        e = codec_encode_unsubscribe(b, version, s->packet_id, &s->props, f, n);
        free(f);
        return e;
    }
    case MQTT_SUBACK:
    case MQTT_UNSUBACK: return codec_encode_suback(b, version, k->type, &k->u.suback);
    case MQTT_PINGREQ:
    case MQTT_PINGRESP: return codec_encode_empty(b, k->type);
    case MQTT_DISCONNECT: return codec_encode_disconnect(b, version, &k->u.disconnect);
    case MQTT_AUTH: return codec_encode_auth(b, &k->u.auth);
    default: abort();
    }
}

/* Walk what the iterators expose so their bounds are exercised too. */
static void walk_props(const struct mqtt_props *p, struct buf *b)
{
    struct mqtt_str key, val;
    uint32_t pos = 0, n = 0;

    while (codec_next_user_prop(p, &pos, &key, &val))
        n++;
    if (n != p->user_prop_count)
        abort();
    if (codec_props_passthrough(p, b) != WD_OK)
        abort();
}

static const struct mqtt_props *props_of(const struct mqtt_packet *k)
{
    switch (k->type) {
    case MQTT_CONNECT: return &k->u.connect.will_props;
    case MQTT_PUBLISH: return &k->u.publish.props;
    default: return NULL;
    }
}

static void check(const struct mqtt_packet *k, uint8_t version)
{
    struct buf e1, e2, pt;
    struct mqtt_packet k2;
    size_t consumed;
    const struct mqtt_props *p = props_of(k);

    buf_init(&e1);
    buf_init(&e2);
    buf_init(&pt);
    if (p)
        walk_props(p, &pt);
    if (encode(&e1, version, k) != WD_OK)
        abort();
    if (codec_decode(buf_head(&e1), buf_used(&e1), version, 0, &k2, &consumed) != WD_OK)
        abort();
    if (consumed != buf_used(&e1) || k2.type != k->type)
        abort();
    if (encode(&e2, version, &k2) != WD_OK)
        abort();
    if (buf_used(&e1) != buf_used(&e2) || memcmp(buf_head(&e1), buf_head(&e2), buf_used(&e1)))
        abort();
    buf_fini(&e1);
    buf_fini(&e2);
    buf_fini(&pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t versions[] = {MQTT_V31, MQTT_V311, MQTT_V5};

    for (size_t v = 0; v < sizeof versions; v++) {
        size_t pos = 0, consumed;
        struct mqtt_packet k;
        while (pos < size) {
            enum wd_err e = codec_decode(data + pos, size - pos, versions[v], 0, &k, &consumed);
            if (e == WD_OK)
                check(&k, k.type == MQTT_CONNECT ? k.u.connect.version : versions[v]);
            if (consumed == 0)
                break; /* incomplete, or a fixed header that cannot be skipped */
            pos += consumed;
        }
    }
    if (mem_in_use() != 0)
        abort();
    return 0;
}
