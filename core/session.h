/*
 * session.h - per-client-id state that outlives a connection: subscriptions,
 * outbound QoS 1/2 in flight, the queue for offline or slow clients, inbound
 * QoS 2 packet ids awaiting PUBREL, the will, and the expiry timers.
 *
 * Invariants: a session is in the broker's table under its client id while
 * it exists; s->conn is NULL exactly when the client is offline; inflight
 * holds at most the window of deliveries, in the order they were sent.
 * Thread: broker.
 */
#ifndef WD_SESSION_H
#define WD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "flight.h"
#include "loop.h"
#include "msg.h"
#include "tree.h"

struct broker;
struct conn;

/* One message on its way to this client. Stored by value in queue and inflight. */
struct delivery {
    struct msg *m;           /* holds a reference */
    uint16_t pid;            /* packet id once in flight, else 0 */
    uint8_t qos;             /* delivery QoS: min(published, granted) */
    uint8_t state;           /* enum delivery_state */
    bool retain;             /* RETAIN flag to send */
    uint16_t nsubid;         /* Subscription Identifiers to attach */
    uint32_t subid;          /* the one id when nsubid == 1 */
    uint32_t *subids;        /* owned array when nsubid > 1 */
};

enum delivery_state {
    DLV_QUEUED = 0,
    DLV_WAIT_PUBACK,         /* QoS 1 sent */
    DLV_WAIT_PUBREC,         /* QoS 2 sent */
    DLV_WAIT_PUBCOMP,        /* QoS 2 PUBREL sent */
};

/* A ring of deliveries (used for both the queue and the in-flight window). */
struct dring {
    struct delivery *v;      /* owned array of cap entries */
    uint32_t head, count, cap;
};

/* One subscription as the client made it (for listing, resubscribe, cleanup). */
struct sub_rec {
    char *filter;            /* owned: the full filter as sent, with any $share/G/ */
    uint16_t flen;
    uint16_t group_off;      /* offset of GROUP in filter, 0 if not shared */
    uint16_t group_len;
    uint16_t topic_off;      /* offset of the topic filter part */
    struct tree_opts opts;
};

/*
 * Laid out for idle memory (one per connected client): pointers and 64-bit
 * fields first, the small ones packed at the end, the client id inline after
 * them (one block with the session). Will delay and expiry share one timer:
 * both run only while the client is offline, and the will's delay, when it
 * is the shorter, comes first.
 */
struct session {
    char *client_id;         /* NUL-terminated, in this block (id_storage) */
    uint64_t id;             /* unique per broker run, never reused (No Local) */
    struct broker *b;
    struct session *hnext;   /* hash chain */
    struct conn *conn;       /* NULL while offline */
    char *username;          /* owned or NULL: identity of the last connection */
    struct sub_rec *subs;    /* owned array */
    uint32_t nsubs, capsubs;
    struct dring inflight;   /* sent, unacknowledged (QoS 1/2) */
    struct dring queue;      /* waiting to be sent */
    uint64_t queued_bytes;   /* msg_size() of entries in queue */
    uint64_t dropped;        /* messages dropped because the queue was full */
    uint16_t *in_qos2;       /* owned: inbound QoS 2 packet ids awaiting PUBREL */
    uint32_t n_in_qos2, cap_in_qos2;
    struct msg *will_m;      /* the will: holds a reference, NULL when none; m->qos and m->retain set */
    struct loop_timer offline_timer; /* while offline: the will's delay, then expiry */
    uint64_t disconnected_at;/* wall clock seconds, when offline */
    struct perms *perms;     /* holds a reference: topic permissions, NULL = none */
    struct perms_state *authz; /* owned or NULL until first needed: verdict cache, denial counters (perms.h) */
    char *cn;                /* owned or NULL: certificate identity (%cn) */
    uint64_t route_mark;     /* route.c: routing pass that last saw this session */
    struct flight *flight;   /* owned or NULL until the first event: recent control events */
    uint32_t route_slot;     /* route.c: its entry in that pass */
    uint32_t expiry;         /* Session Expiry Interval, s; UINT32_MAX = never */
    uint32_t will_delay;     /* Will Delay Interval, seconds */
    uint16_t id_len;
    uint16_t next_pid;       /* last packet id used for outbound */
    uint8_t version;         /* protocol version of the last connection */
    bool default_allow;      /* the answer when no rule matches (anonymous_default allow) */
    char id_storage[];       /* the client id's bytes and NUL (allocated from offsetof, not sizeof) */
};

/* Find a session by client id. Borrows: valid until the session ends. */
struct session *session_find(struct broker *b, const char *id, size_t len);

/* Returns: a new session registered under id, or NULL (WD_ENOMEM). */
struct session *session_new(struct broker *b, const char *id, size_t len);

/*
 * End a session: remove its subscriptions, publish a pending will, drop
 * queued and in-flight messages, unregister and free it. The session must be
 * offline (s->conn NULL).
 */
void session_end(struct session *s);

/* Free every session (shutdown); wills are not published. */
void session_free_all(struct broker *b);

/*
 * Offer a message to this session at QoS qos. Sends at once when the client
 * is online and has room, else queues (QoS 0 is not queued for offline
 * clients). Copies subids. Never fails: a message that cannot be kept is
 * dropped and counted.
 */
void session_deliver(struct session *s, struct msg *m, uint8_t qos, bool retain,
                     const uint32_t *subids, uint16_t nsubid);

/* The client is back or acknowledged something: move queue into flight/out. */
void session_pump(struct session *s);

/* On reconnect of a persistent session: resend in-flight (DUP / PUBREL), then pump. */
void session_resume(struct session *s);

/* Outbound acknowledgements. Return WD_ENOTFOUND if pid is not in flight in that state. */
enum wd_err session_puback(struct session *s, uint16_t pid);
enum wd_err session_pubrec(struct session *s, uint16_t pid, uint8_t reason);
enum wd_err session_pubcomp(struct session *s, uint16_t pid);

/* Inbound QoS 2 ids: has/add/remove. add returns WD_ELIMIT beyond limit. */
bool session_in_qos2_has(const struct session *s, uint16_t pid);
enum wd_err session_in_qos2_add(struct session *s, uint16_t pid, uint32_t limit);
bool session_in_qos2_del(struct session *s, uint16_t pid);

/* Subscriptions held by the session (tree + list). */
enum wd_err session_subscribe(struct session *s, const char *filter, size_t flen,
                              const struct tree_opts *opts, bool *existed);
enum wd_err session_unsubscribe(struct session *s, const char *filter, size_t flen);

/* Replace the will (takes m's reference; m may be NULL to clear). */
void session_set_will(struct session *s, struct msg *m, uint32_t delay);
/* Publish the will now if there is one, and clear it. */
void session_fire_will(struct session *s);

/* Replace the session's permissions (takes a new reference to perms). */
void session_set_perms(struct session *s, struct perms *perms, bool default_allow);

/* May this session do action on topic? (RULE_* from backend.h) Makes s->authz on first use. */
bool session_may(struct session *s, unsigned action, const char *topic, size_t tlen,
                 uint8_t qos, bool retain, uint8_t *granted);

/* Permissions changed: remove subscriptions they no longer allow (logged). */
void session_recheck(struct session *s);

/*
 * Record an event in the flight recorder of the session client_id, if there
 * is one. client_id may be as the connect log names a client: "ID user=NAME".
 */
void session_note(struct broker *b, const char *client_id, enum flight_kind k, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

/* The client went away: decide on will and expiry (called by conn.c). */
void session_detach(struct session *s, bool send_will);

#endif
