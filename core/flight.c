/*
 * flight.c - the per-session ring of recent control events (flight.h).
 *
 * Workload: a handful of events per session over its life (connect,
 * subscribes, the odd denial, disconnect); a misbehaving client can produce
 * one per packet, which only overwrites its own oldest events.
 */
#include "flight.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mem.h"

static const char *const kind_names[FL_COUNT] = {
#define FLIGHT_NAME(id, name) [id] = name,
    FLIGHT_KINDS(FLIGHT_NAME)
#undef FLIGHT_NAME
};

const char *flight_kind_name(enum flight_kind k)
{
    return k < FL_COUNT ? kind_names[k] : "?";
}

const char *flight_reason_name(uint8_t rc)
{
    switch (rc) {
    case 0x00: return "normal";
    case 0x04: return "disconnect with will";
    case 0x80: return "unspecified error";
    case 0x81: return "malformed packet";
    case 0x82: return "protocol error";
    case 0x85: return "client id not valid";
    case 0x86: return "bad user name or password";
    case 0x87: return "not authorized";
    case 0x88: return "server unavailable";
    case 0x89: return "server busy";
    case 0x8A: return "banned";
    case 0x8B: return "server shutting down";
    case 0x8D: return "keep alive timeout";
    case 0x8E: return "session taken over";
    case 0x95: return "packet too large";
    case 0x97: return "quota exceeded";
    case 0x98: return "administrative action";
    case 0xA0: return "maximum connect time";
    default: return "";
    }
}

/* Make room for one more event: allocate or grow while below FLIGHT_MAX. */
static struct flight *room(struct flight **f)
{
    struct flight *r = *f;
    if (!r) {
        r = wd_calloc(1, sizeof *r);
        if (!r)
            return NULL;
        r->ev = wd_calloc(FLIGHT_FIRST, sizeof *r->ev);
        if (!r->ev) {
            wd_free(r);
            return NULL;
        }
        r->cap = FLIGHT_FIRST;
        *f = r;
        return r;
    }
    /* Grow only a full ring that never wrapped (next back at 0, events in slot
     * order); after a failed growth it wraps and stays at its size. */
    if (r->count < r->cap || r->cap == FLIGHT_MAX || r->next != 0)
        return r;
    uint32_t cap = r->cap * 2 < FLIGHT_MAX ? r->cap * 2 : FLIGHT_MAX;
    struct flight_event *ev = wd_realloc(r->ev, cap * sizeof *ev);
    if (!ev)
        return r; /* keep the ring as it is: the oldest event is overwritten */
    memset(ev + r->cap, 0, (cap - r->cap) * sizeof *ev);
    r->ev = ev;
    r->next = r->cap;
    r->cap = cap;
    return r;
}

void flight_note_at(struct flight **f, int64_t ms, enum flight_kind k, const char *text)
{
    size_t len = strnlen(text, FLIGHT_TEXT);
    char *copy = wd_strndup(text, len);
    if (!copy)
        return;
    struct flight *r = room(f);
    if (!r) {
        wd_free(copy);
        return;
    }
    struct flight_event *e = &r->ev[r->next];
    wd_free(e->text); /* the overwritten oldest event, or NULL */
    e->text = copy;
    e->ms = ms;
    e->kind = (uint8_t)k;
    r->next = (r->next + 1) % r->cap;
    if (r->count < r->cap)
        r->count++;
}

void flight_note(struct flight **f, enum flight_kind k, const char *fmt, ...)
{
    char text[FLIGHT_TEXT + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    flight_note_at(f, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, k, text);
}

size_t flight_count(const struct flight *f)
{
    return f ? f->count : 0;
}

const struct flight_event *flight_at(const struct flight *f, size_t i)
{
    /* The oldest is at next when the ring is full, else at 0. */
    size_t first = f->count == f->cap ? f->next : 0;
    return &f->ev[(first + i) % f->cap];
}

void flight_free(struct flight *f)
{
    if (!f)
        return;
    for (uint32_t i = 0; i < f->cap; i++)
        wd_free(f->ev[i].text);
    wd_free(f->ev);
    wd_free(f);
}
