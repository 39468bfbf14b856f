/*
 * flight.c - the per-session ring of recent control events (flight.h).
 *
 * Workload: a handful of events per session over its life (connect,
 * subscribes, the odd denial, disconnect); a misbehaving client can produce
 * one per packet, which only overwrites its own oldest events.
 */
#include "flight.h"

#include <stdarg.h>
#include <stdbool.h>
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

/* Is text inside r's own block (the first event's text), not its own allocation? */
static int text_inline(const struct flight *r, const char *text)
{
    const char *lo = (const char *)(r + 1) + sizeof(struct flight_event);
    return text >= lo && text <= lo + FLIGHT_TEXT;
}

/* The first event: ring, slot and text in one block. */
static struct flight *first(int64_t ms, enum flight_kind k, const char *text, size_t len)
{
    struct flight *r = wd_malloc(sizeof *r + sizeof(struct flight_event) + len + 1);
    if (!r)
        return NULL;
    struct flight_event *e = (struct flight_event *)(r + 1);
    char *t = (char *)(e + 1);
    memcpy(t, text, len);
    t[len] = '\0';
    *e = (struct flight_event){.ms = ms, .kind = (uint8_t)k, .text = t};
    *r = (struct flight){.cap = FLIGHT_FIRST, .count = 1, .next = 0, .ev = e};
    return r;
}

/* Make room for one more event: grow a full ring while below FLIGHT_MAX. */
static void room(struct flight *r)
{
    /* Grow only a full ring that never wrapped (next back at 0, events in slot
     * order); after a failed growth it wraps and stays at its size. */
    if (r->count < r->cap || r->cap == FLIGHT_MAX || r->next != 0)
        return;
    uint32_t cap = r->cap * 2 < 4 ? 4 : r->cap * 2 < FLIGHT_MAX ? r->cap * 2 : FLIGHT_MAX;
    bool inl = r->ev == (struct flight_event *)(r + 1);
    struct flight_event *ev = inl ? wd_malloc(cap * sizeof *ev) : wd_realloc(r->ev, cap * sizeof *ev);
    if (!ev)
        return; /* keep the ring as it is: the oldest event is overwritten */
    if (inl)
        memcpy(ev, r->ev, r->cap * sizeof *ev); /* the texts stay where they are */
    memset(ev + r->cap, 0, (cap - r->cap) * sizeof *ev);
    r->ev = ev;
    r->next = r->cap;
    r->cap = (uint16_t)cap;
}

void flight_note_at(struct flight **f, int64_t ms, enum flight_kind k, const char *text)
{
    size_t len = strnlen(text, FLIGHT_TEXT);
    struct flight *r = *f;
    if (!r) {
        *f = first(ms, k, text, len);
        return;
    }
    char *copy = wd_strndup(text, len);
    if (!copy)
        return;
    room(r);
    struct flight_event *e = &r->ev[r->next];
    if (!text_inline(r, e->text))
        wd_free(e->text); /* the overwritten oldest event, or NULL */
    e->text = copy;
    e->ms = ms;
    e->kind = (uint8_t)k;
    r->next = (uint16_t)((r->next + 1) % r->cap);
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

void flight_note_str(struct flight **f, enum flight_kind k, const char *text)
{
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
        if (!text_inline(f, f->ev[i].text))
            wd_free(f->ev[i].text);
    if (f->ev != (struct flight_event *)(f + 1))
        wd_free(f->ev);
    wd_free(f);
}
