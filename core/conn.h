/*
 * conn.h - one client connection: socket, input/output buffers, protocol
 * version, keepalive, topic aliases, and the packet dispatcher.
 *
 * A connection is never freed inside its own callback chain: conn_close()
 * marks it and the broker's before-sleep hook reaps it after its output
 * (a final DISCONNECT, say) has been flushed as far as the socket allows.
 * Thread: broker.
 */
#ifndef WD_CONN_H
#define WD_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "loop.h"
#include "mqtt.h"

struct broker;
struct listener;
struct session;
struct delivery;
struct msg;
struct tls_conn;
struct auth_ticket;
struct pending_connect;

enum conn_state {
    CONN_NEW,                /* waiting for CONNECT */
    CONN_ACTIVE,             /* CONNACK sent */
    CONN_CLOSING,            /* close-asap: no more input is processed */
    CONN_TLS_HANDSHAKE,      /* TLS listener, before CONN_NEW: handshake in progress */
    CONN_AUTH,               /* CONNECT read, credentials being checked: input waits */
};

/* Output above this many bytes makes the client a slow consumer: deliveries queue. */
#define CONN_OUT_HIGH_WATER (256 * 1024)

/* Most outbound topic aliases per connection: bounds memory and lookup cost. */
#define CONN_ALIAS_OUT_MAX 64

struct alias_out {
    char *topic;             /* owned */
    uint16_t len;
};

/*
 * Laid out for idle memory (one of these per connection): pointers and
 * 64-bit fields first, then the small ones packed together. Nothing here is
 * a fixed-size string: the peer's address is stored after the struct, in
 * the same block ("ip:port\0ip\0"), sized to fit.
 */
struct conn {
    struct loop_io io;
    struct broker *b;
    struct listener *lst;
    struct conn *prev, *next;        /* broker's list of all connections */
    struct conn *flush_next;         /* broker's list of connections with output */
    struct conn *reap_next;
    struct buf in;
    struct buf out;
    struct session *s;               /* attached session once CONNACK is sent */
    char *addr;                      /* "ip:port" of the peer, in peer[] */
    char *ip;                        /* the peer address without port (bans, counters), in peer[] */
    uint64_t last_rx_ms;             /* loop time of the last packet received */
    struct loop_timer timer;         /* connect timeout, then keepalive */
    struct alias_out *alias_out;     /* owned, alias_out_max entries */
    struct alias_out *alias_in;      /* owned, topic_alias_maximum entries */
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
    struct tls_conn *tls;            /* owned; NULL on a plain listener (tls.h: identity, cipher) */
    char *username;                  /* owned or NULL: the authenticated identity */
    struct auth_ticket *ticket;      /* a password check in progress (CONN_AUTH) */
    struct pending_connect *pending; /* owned: the CONNECT waiting for that check */
    struct tokauth *token;           /* owned or NULL: the access token of the session (tokauth.h) */
    uint32_t connected_at;           /* wall clock seconds (u32: until 2106) */
    uint32_t max_packet_out;         /* client's Maximum Packet Size, 0 = no limit */
    uint16_t keepalive;              /* effective keepalive, seconds */
    uint16_t window;                 /* outbound in-flight window */
    uint16_t alias_out_max;          /* aliases we may use towards the client */
    uint16_t alias_out_used;
    uint8_t state;                   /* enum conn_state */
    uint8_t version;                 /* MQTT_V31/V311/V5, 0 before CONNECT */
    uint8_t close_reason;            /* why (for the log) */
    uint8_t auth_method;             /* enum auth_method */
    bool in_flush : 1;               /* on the flush list */
    bool reaping : 1;                /* on the reap list */
    bool send_will : 1;              /* the close is abnormal: process the will */
    bool problem_info : 1;           /* 5.0 Request Problem Information (default 1) */
    bool counted : 1;                /* in auth's per-address count (auth_release at free) */
    char peer[];                     /* addr and ip */
};

/* Take a freshly accepted socket (non-blocking). Closes fd on failure. */
void conn_accept(struct listener *lst, int fd, const char *addr);

/*
 * Close the connection as soon as possible. reason: a 5.0 reason code; if
 * it is >= 0x80, the connection is a 5.0 one past CONNACK and send_disconnect
 * is true, a DISCONNECT with that reason goes out first. send_will: process
 * the will (abnormal close).
 */
void conn_close(struct conn *c, uint8_t reason, bool send_disconnect, bool send_will);

/* Queue bytes for the socket (flushed before the loop sleeps). */
void conn_mark_output(struct conn *c);

/*
 * Encode and queue one PUBLISH for d (pid set by the caller for QoS > 0).
 * Returns WD_ETOOLARGE if it would exceed the client's Maximum Packet Size
 * (nothing queued), WD_ENOMEM, or WD_OK.
 */
enum wd_err conn_send_publish(struct conn *c, const struct delivery *d, bool dup);

/*
 * Bracket the deliveries of one routed message (route_publish()): in
 * between, conn_send_publish() encodes each variant of m's PUBLISH once and
 * copies it to further subscribers. m must stay alive and unchanged until
 * conn_fanout_end(). Thread: broker.
 */
void conn_fanout_begin(const struct msg *m);
void conn_fanout_end(void);

/* Queue an ack packet (PUBACK/PUBREC/PUBREL/PUBCOMP). */
void conn_send_ack(struct conn *c, uint8_t type, uint16_t pid, uint8_t reason);

/* Is the output buffer so full that deliveries should wait in the queue? */
static inline bool conn_congested(const struct conn *c)
{
    return buf_used(&c->out) > CONN_OUT_HIGH_WATER;
}

/* Write as much output as the socket takes; re-arms EPOLLOUT if some is left. */
void conn_flush(struct conn *c);

/* Free a connection (broker's reap hook and shutdown only). */
void conn_free(struct conn *c);

/* Packet handlers: one per inbound packet type (handle_*.c). */
void handle_connect(struct conn *c, struct mqtt_packet *p);
void handle_publish(struct conn *c, struct mqtt_packet *p);
void handle_ack(struct conn *c, struct mqtt_packet *p);
void handle_subscribe(struct conn *c, struct mqtt_packet *p);
void handle_unsubscribe(struct conn *c, struct mqtt_packet *p);
void handle_pingreq(struct conn *c, struct mqtt_packet *p);
void handle_disconnect(struct conn *c, struct mqtt_packet *p);
void handle_auth(struct conn *c, struct mqtt_packet *p);
struct tokauth;
/* c's session holds this access token now (Takes: tok; the previous one is freed):
 * the connection is closed at its exp (5.0: DISCONNECT 0xA0). */
void handle_auth_token_attach(struct conn *c, struct tokauth *tok);
/* Free a CONNECT that waited for authentication (conn_free). */
void handle_connect_pending_free(struct pending_connect *pc);

/* Process input that arrived while the connection was authenticating. */
void conn_resume_input(struct conn *c);

/* A CONNECT that failed to decode: answer with a CONNACK where the version allows, close. */
void handle_connect_error(struct conn *c, const struct mqtt_packet *p, enum wd_err e);

/* Map a codec error to the 5.0 DISCONNECT reason code. */
uint8_t conn_reason_for(enum wd_err e);

#endif
