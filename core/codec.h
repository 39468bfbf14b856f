/*
 * codec.h - PURE MQTT 3.1/3.1.1/5.0 encoder and decoder.
 *
 * No sockets, no globals, no logging. Decoding never allocates: results are
 * views into the caller's bytes (Borrows: valid as long as those bytes).
 * Encoding appends to a struct buf and fails only with WD_ENOMEM (the buffer
 * is then left as it was before the call).
 *
 * Decode errors: WD_EAGAIN (not a whole packet yet), WD_EMALFORMED
 * (remaining length over 4 bytes, a string or property running past its
 * end, invalid UTF-8 or U+0000 in a UTF-8 field, bad variable byte integer,
 * reserved bits set, QoS 3, ...), WD_EPROTOCOL (a well-formed packet that
 * breaks a rule: duplicate property, property not allowed in this packet,
 * packet id 0 at QoS > 0, empty SUBSCRIBE/UNSUBSCRIBE, invalid reason
 * code), WD_EVERSION (CONNECT with an unknown protocol name/level),
 * WD_ETOOLARGE (packet larger than max_size).
 */
#ifndef WD_CODEC_H
#define WD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "mqtt.h"

/*
 * Read the fixed header at p[0..len).
 * out: *type, *flags, *remaining (remaining length), *hdr_len (1 + 1..4).
 * Returns WD_EAGAIN if the header is incomplete, WD_EMALFORMED for a
 * remaining length longer than 4 bytes or type 0, WD_ETOOLARGE if
 * hdr_len + remaining > max_size (max_size 0 = no limit). Checks the header
 * only, before the body is buffered [MQTT-3.1.2-24 style limit check].
 */
enum wd_err codec_fixed_header(const uint8_t *p, size_t len, uint32_t max_size, uint8_t *type,
                               uint8_t *flags, uint32_t *remaining, uint32_t *hdr_len);

/*
 * Decoder for one packet type's body (variable header + payload).
 * in: flags (fixed-header low nibble, checked against the spec), body/len,
 *     version (MQTT_V31/V311/V5 of the connection; ignored for CONNECT which
 *     carries its own). out: pkt->u.<type>, pkt->type and pkt->flags set.
 */
typedef enum wd_err (*codec_decode_fn)(uint8_t flags, const uint8_t *body, uint32_t len,
                                       uint8_t version, struct mqtt_packet *pkt);

enum wd_err codec_decode_connect(uint8_t flags, const uint8_t *body, uint32_t len,
                                 uint8_t version, struct mqtt_packet *pkt);
enum wd_err codec_decode_connack(uint8_t flags, const uint8_t *body, uint32_t len,
                                 uint8_t version, struct mqtt_packet *pkt);
enum wd_err codec_decode_publish(uint8_t flags, const uint8_t *body, uint32_t len,
                                 uint8_t version, struct mqtt_packet *pkt);
/* PUBACK, PUBREC, PUBREL, PUBCOMP (type taken from pkt->type, which the caller sets). */
enum wd_err codec_decode_ack(uint8_t flags, const uint8_t *body, uint32_t len, uint8_t version,
                             struct mqtt_packet *pkt);
enum wd_err codec_decode_subscribe(uint8_t flags, const uint8_t *body, uint32_t len,
                                   uint8_t version, struct mqtt_packet *pkt);
enum wd_err codec_decode_unsubscribe(uint8_t flags, const uint8_t *body, uint32_t len,
                                     uint8_t version, struct mqtt_packet *pkt);
/* SUBACK and UNSUBACK (type from pkt->type). */
enum wd_err codec_decode_suback(uint8_t flags, const uint8_t *body, uint32_t len,
                                uint8_t version, struct mqtt_packet *pkt);
/* PINGREQ, PINGRESP: empty body, flags 0. */
enum wd_err codec_decode_empty(uint8_t flags, const uint8_t *body, uint32_t len,
                               uint8_t version, struct mqtt_packet *pkt);
enum wd_err codec_decode_disconnect(uint8_t flags, const uint8_t *body, uint32_t len,
                                    uint8_t version, struct mqtt_packet *pkt);
/* AUTH: 5.0 only (WD_EPROTOCOL on 3.1.x). */
enum wd_err codec_decode_auth(uint8_t flags, const uint8_t *body, uint32_t len,
                              uint8_t version, struct mqtt_packet *pkt);

/* The decoder for a packet type, or NULL for type 0 / unknown. */
codec_decode_fn codec_decoder(uint8_t type);

/*
 * Decode one whole packet from p[0..len): fixed header + body.
 * out: *pkt, *consumed (bytes of this packet). Returns WD_EAGAIN until the
 * last byte of the packet is present. For tests, fuzzers and clients; the
 * broker calls codec_fixed_header() and the per-type decoder itself.
 */
enum wd_err codec_decode(const uint8_t *p, size_t len, uint8_t version, uint32_t max_size,
                         struct mqtt_packet *pkt, size_t *consumed);

/*
 * Iterate a decoded SUBSCRIBE/UNSUBSCRIBE payload. *pos starts at 0.
 * Returns true and fills *e (for UNSUBSCRIBE only e->filter) while entries
 * remain. Cannot fail: the decoder validated the whole payload.
 */
bool codec_next_sub(const struct mqtt_subscribe *s, uint8_t version, uint32_t *pos,
                    struct mqtt_sub_entry *e);
bool codec_next_unsub(const struct mqtt_subscribe *s, uint32_t *pos, struct mqtt_str *filter);

/*
 * Iterate the User Property pairs of decoded properties in order. *pos
 * starts at 0. Returns true and fills *key and *value while pairs remain.
 */
bool codec_next_user_prop(const struct mqtt_props *p, uint32_t *pos, struct mqtt_str *key,
                          struct mqtt_str *value);

/*
 * Append, in encoded form, the properties a broker forwards unchanged with an
 * application message: Payload Format Indicator, Content Type, Response
 * Topic, Correlation Data and every User Property in order. The result is
 * meant for struct mqtt_props.extra when encoding the outgoing PUBLISH.
 */
enum wd_err codec_props_passthrough(const struct mqtt_props *p, struct buf *out);

/* Encoders: append one whole packet to out for protocol version `version`.
 * 3.1.x encodings omit properties and 5.0-only fields. */
enum wd_err codec_encode_connect(struct buf *out, const struct mqtt_connect *c);
enum wd_err codec_encode_connack(struct buf *out, uint8_t version, const struct mqtt_connack *c);
enum wd_err codec_encode_publish(struct buf *out, uint8_t version, const struct mqtt_publish *p);
/* PUBACK/PUBREC/PUBREL/PUBCOMP (a->type). 5.0: reason and properties are
 * omitted when reason is 0 and there are no properties, as the spec allows. */
enum wd_err codec_encode_ack(struct buf *out, uint8_t version, const struct mqtt_ack *a);
/* SUBSCRIBE from count entries. */
enum wd_err codec_encode_subscribe(struct buf *out, uint8_t version, uint16_t packet_id,
                                   const struct mqtt_props *props,
                                   const struct mqtt_sub_entry *entries, uint32_t count);
enum wd_err codec_encode_unsubscribe(struct buf *out, uint8_t version, uint16_t packet_id,
                                     const struct mqtt_props *props,
                                     const struct mqtt_str *filters, uint32_t count);
/* SUBACK or UNSUBACK (type). UNSUBACK on 3.1.x carries no reason codes. */
enum wd_err codec_encode_suback(struct buf *out, uint8_t version, uint8_t type,
                                const struct mqtt_suback *s);
/* PINGREQ or PINGRESP. */
enum wd_err codec_encode_empty(struct buf *out, uint8_t type);
/* DISCONNECT. 3.1.x: two bytes, reason ignored. */
enum wd_err codec_encode_disconnect(struct buf *out, uint8_t version,
                                    const struct mqtt_disconnect *d);
enum wd_err codec_encode_auth(struct buf *out, const struct mqtt_auth *a);

/*
 * UTF-8 check per MQTT 1.5.4: well-formed, no surrogates, no overlong forms,
 * no U+0000. (Control characters and non-characters are allowed; the spec
 * says a receiver MAY reject them and we don't.) Returns true when valid.
 */
bool codec_utf8_valid(const uint8_t *p, size_t len);

/* Bytes needed to encode v as a variable byte integer (1..4); v < 268435456. */
uint32_t codec_varint_size(uint32_t v);

#endif
