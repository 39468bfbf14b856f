/*
 * flight.h - a session's flight recorder: its last FLIGHT_MAX control events
 * (CONNECT result, SUBSCRIBE grants, UNSUBSCRIBE, denials with the deciding
 * rule, DISCONNECT and will, takeover, kick), for the console's detail screen.
 *
 * The session holds one pointer, NULL until its first event, so that a
 * session that never did anything costs nothing more. The first event
 * (every session has one: its CONNECT) is one block: the ring, one slot and
 * its text, because one block per idle connection is what the idle-memory
 * target can afford. The ring then grows to 4 slots and doubles up to
 * FLIGHT_MAX; each later event's text is its own allocation of exactly its
 * length. Oldest events are overwritten.
 * Thread: broker (the ring belongs to its session).
 */
#ifndef WD_FLIGHT_H
#define WD_FLIGHT_H

#include <stddef.h>
#include <stdint.h>

#define FLIGHT_MAX 50     /* events kept per session */
#define FLIGHT_FIRST 1    /* slots in the first block (with the ring and the text) */
#define FLIGHT_TEXT 400   /* longest event text kept, bytes (NUL excluded) */

#define FLIGHT_KINDS(X)                                                                        \
    X(FL_CONNECT, "connect") X(FL_REFUSED, "refused") X(FL_SUBSCRIBE, "subscribe")            \
    X(FL_UNSUBSCRIBE, "unsubscribe") X(FL_DENY, "deny") X(FL_DISCONNECT, "disconnect")        \
    X(FL_WILL, "will") X(FL_TAKEOVER, "takeover") X(FL_KICK, "kick")

enum flight_kind {
#define FLIGHT_ENUM(id, name) id,
    FLIGHT_KINDS(FLIGHT_ENUM)
#undef FLIGHT_ENUM
    FL_COUNT
};

struct flight_event {
    int64_t ms;               /* wall clock, milliseconds since the epoch */
    uint8_t kind;             /* enum flight_kind */
    char *text;               /* owned */
};

struct flight {
    uint16_t cap;             /* slots allocated: FLIGHT_FIRST .. FLIGHT_MAX (u16: the ring header is 16 bytes) */
    uint16_t count;           /* events held, <= cap */
    uint16_t next;            /* slot of the next event */
    struct flight_event *ev;  /* owned array of cap slots */
};

/*
 * Record an event stamped now in *f, allocating the ring on the first event
 * (*f NULL). Text is printf-formatted and cut at FLIGHT_TEXT bytes. Out of
 * memory: the event is lost, nothing else changes (the recorder is a
 * diagnostic, never a reason to fail a client).
 */
void flight_note(struct flight **f, enum flight_kind k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same with text as it is (no formatting: for a hot path that builds its own). */
void flight_note_str(struct flight **f, enum flight_kind k, const char *text);
/* Same with an explicit time stamp (tests). */
void flight_note_at(struct flight **f, int64_t ms, enum flight_kind k, const char *text);

/* Number of events held (0 for NULL). */
size_t flight_count(const struct flight *f);
/* The i-th event, oldest first (i < flight_count). Borrows: until the next note or free. */
const struct flight_event *flight_at(const struct flight *f, size_t i);

/* "connect", "deny", ... */
const char *flight_kind_name(enum flight_kind k);
/* A few words for an MQTT 5 reason code: "normal", "not authorized", ...; "" if unknown. */
const char *flight_reason_name(uint8_t rc);

/* Free the ring and its texts. NULL is a no-op. */
void flight_free(struct flight *f);

#endif
