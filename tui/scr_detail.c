/*
 * scr_detail.c - screen 3: one session's fields, its TLS and certificate,
 * its effective roles, its subscriptions with granted QoS and options, and
 * its flight recorder (the broker's ring of its last control events).
 * Refreshed with the session list; a session that vanished says so instead
 * of showing stale data. The page scrolls when it is taller than the screen.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "scr_sessions.h"
#include "screen.h"

static const struct admin_session *find(const struct tui *t)
{
    if (!t->detail_id)
        return NULL;
    for (size_t i = 0; i < t->sessions.n; i++)
        if (!strcmp(t->sessions.v[i].client_id, t->detail_id))
            return &t->sessions.v[i];
    return NULL;
}

static enum wd_err update(struct tui *t)
{
    enum wd_err e = t->detail_id ? tui_refresh_session(t, t->detail_id) : WD_OK;
    if (e != WD_OK)
        return e;
    admin_subs_free(&t->subs);
    t->subs_err = t->detail_id ? t->ops->subs(t->ops->ctx, t->detail_id, &t->subs) : WD_ENOTFOUND;
    if (t->subs_err != WD_OK && t->subs_err != WD_ENOTFOUND)
        return t->subs_err;
    admin_events_free(&t->flight);
    t->flight_err =
        t->detail_id ? t->ops->flight(t->ops->ctx, t->detail_id, &t->flight) : WD_ENOTFOUND;
    return t->flight_err == WD_ENOTFOUND ? WD_OK : t->flight_err;
}

static void enter(struct tui *t)
{
    t->detail_top = 0;
}

/* Where the next line goes: v counts lines of the whole page, top of them are scrolled off. */
struct page {
    int y, end;  /* screen rows [y, end) */
    int top;     /* page lines above the screen */
    int v;       /* next page line */
};

/* The screen row of the next page line, or -1 when it is off screen; advances. */
static int next_row(struct page *p)
{
    int r = p->y + p->v - p->top;
    p->v++;
    return r >= p->y && r < p->end ? r : -1;
}

static void field(struct page *p, int w, const char *label, const char *value)
{
    int r = next_row(p);
    if (r < 0)
        return;
    widget_text(r, 1, 20, label);
    widget_text(r, 21, w - 21, value);
}

static void heading(struct page *p, int w, const char *text)
{
    next_row(p); /* a blank line before */
    int r = next_row(p);
    if (r < 0)
        return;
    attron(A_BOLD);
    widget_text(r, 1, w - 1, text);
    attroff(A_BOLD);
}

static void draw(struct tui *t, int y, int h, int w)
{
    const struct admin_session *s = find(t);
    char v[512], a[64];
    if (!s) {
        snprintf(v, sizeof v, "Session '%s' is gone (disconnected and expired, or taken over).",
                 t->detail_id ? t->detail_id : "?");
        widget_text(y + 1, 1, w - 1, v);
        return;
    }
    struct page pg = {.y = y, .end = y + h, .top = t->detail_top};
    next_row(&pg);
    field(&pg, w, "Client id", s->client_id);
    field(&pg, w, "Identity", s->username ? s->username : "- (anonymous)");
    field(&pg, w, "Effective roles", s->roles ? s->roles : "- (no permissions)");
    field(&pg, w, "State", s->connected ? "connected" : "offline (persistent session)");
    session_cell(s, COL_AUTH, v, sizeof v);
    field(&pg, w, "Authentication", v);
    session_cell(s, COL_ADDR, v, sizeof v);
    field(&pg, w, "Address", v);
    session_cell(s, COL_PROTO, a, sizeof a);
    snprintf(v, sizeof v, "MQTT %s, keepalive %us", a, s->keepalive);
    field(&pg, w, "Protocol", v);
    session_cell(s, COL_SINCE, a, sizeof a);
    snprintf(v, sizeof v, "%s (%s ago)", s->connected ? "connected" : "offline", a);
    field(&pg, w, "Since", v);
    if (s->expiry == UINT32_MAX)
        snprintf(v, sizeof v, "never");
    else
        snprintf(v, sizeof v, "%us after disconnect", s->expiry);
    field(&pg, w, "Session expiry", v);
    snprintf(v, sizeof v, "%llu msgs / %llu bytes in, %llu msgs / %llu bytes out",
             (unsigned long long)s->msgs_in, (unsigned long long)s->bytes_in,
             (unsigned long long)s->msgs_out, (unsigned long long)s->bytes_out);
    field(&pg, w, "Traffic", v);
    snprintf(v, sizeof v, "%u in flight, %u queued", s->inflight, s->queued);
    field(&pg, w, "Delivery", v);
    if (s->tls_version[0]) {
        snprintf(v, sizeof v, "%s, %s", s->tls_version, s->tls_cipher);
        field(&pg, w, "TLS", v);
    } else {
        field(&pg, w, "TLS", "- (plain TCP)");
    }
    if (s->cert_subject) {
        field(&pg, w, "Cert subject", s->cert_subject);
        field(&pg, w, "Cert issuer", s->cert_issuer ? s->cert_issuer : "");
        field(&pg, w, "Cert SANs", s->cert_sans ? s->cert_sans : "");
        field(&pg, w, "Cert SHA-256", s->cert_fingerprint);
        time_t na = (time_t)s->cert_not_after;
        struct tm tm;
        gmtime_r(&na, &tm);
        strftime(v, sizeof v, "%Y-%m-%d %H:%M:%SZ", &tm);
        field(&pg, w, "Cert expires", v);
    } else if (s->tls_version[0]) {
        field(&pg, w, "Certificate", "- (none presented)");
    }
    if (s->token_sub) {
        long long left = (long long)(s->token_exp - (int64_t)time(NULL));
        snprintf(v, sizeof v, "%s from %s, scope %s, expires in %llds", s->token_sub,
                 s->token_iss ? s->token_iss : "?", s->token_scope ? s->token_scope : "(rules)",
                 left > 0 ? left : 0);
        field(&pg, w, "Token", v);
    }

    snprintf(v, sizeof v, "Subscriptions (%zu)", t->subs.n);
    heading(&pg, w, v);
    if (t->subs_err != WD_OK && t->subs_err != WD_ENOTFOUND) {
        snprintf(v, sizeof v, "(cannot list: %s)", wd_strerror(t->subs_err));
        field(&pg, w, "", v);
    }
    for (size_t i = 0; i < t->subs.n; i++) {
        const struct admin_sub *sb = &t->subs.v[i];
        snprintf(v, sizeof v, "QoS %u%s%s rh=%u", sb->qos,
                 sb->no_local ? " no-local" : "", sb->retain_as_published ? " rap" : "",
                 sb->retain_handling);
        if (sb->sub_id)
            snprintf(v + strlen(v), sizeof v - strlen(v), " id=%u", sb->sub_id);
        int r = next_row(&pg);
        if (r < 0)
            continue;
        widget_text(r, 3, 40 < w - 3 ? 40 : w - 3, sb->filter);
        if (w > 44)
            widget_text(r, 44, w - 44, v);
    }

    snprintf(v, sizeof v, "Flight recorder (last %zu control events, UTC, newest last)",
             t->flight.n);
    heading(&pg, w, v);
    if (t->flight_err != WD_OK && t->flight_err != WD_ENOTFOUND) {
        snprintf(v, sizeof v, "(cannot read: %s)", wd_strerror(t->flight_err));
        field(&pg, w, "", v);
    }
    for (size_t i = 0; i < t->flight.n; i++) {
        const struct admin_event *ev = &t->flight.v[i];
        int r = next_row(&pg);
        if (r < 0)
            continue;
        time_t secs = (time_t)(ev->ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(a, sizeof a, "%H:%M:%S", &tm);
        snprintf(v, sizeof v, "%s.%03d", a, (int)(ev->ms % 1000));
        widget_text(r, 3, 13, v);
        widget_text(r, 16, 12, ev->kind);
        if (w > 28)
            widget_text(r, 28, w - 28, ev->text);
    }
    /* Keep the last page line reachable, no further. */
    int max_top = pg.v - (pg.end - pg.y);
    if (t->detail_top > (max_top > 0 ? max_top : 0))
        t->detail_top = max_top > 0 ? max_top : 0;
}

static unsigned key(struct tui *t, enum action a, int ch)
{
    (void)ch;
    const struct admin_session *s = find(t);
    int page = LINES - 4 > 1 ? LINES - 4 : 1;
    switch (a) {
    case ACT_UP: t->detail_top = t->detail_top > 0 ? t->detail_top - 1 : 0; return R_REDRAW;
    case ACT_DOWN: t->detail_top++; return R_REDRAW; /* draw clamps it */
    case ACT_PGUP: t->detail_top = t->detail_top > page ? t->detail_top - page : 0; return R_REDRAW;
    case ACT_PGDN: t->detail_top += page; return R_REDRAW;
    case ACT_HOME: t->detail_top = 0; return R_REDRAW;
    case ACT_END: t->detail_top = 1 << 20; return R_REDRAW;
    case ACT_KICK:
        if (!s || !s->connected) {
            tui_status(t, true, "not connected");
            return R_REDRAW;
        }
        return sessions_kick(t, s->client_id);
    case ACT_EXPLAIN:
        return explain_open(t, s ? s->client_id : t->detail_id, s ? s->username : NULL);
    default: return R_UNHANDLED;
    }
}

const struct screen_ops scr_detail = {
    .name = "Session",
    .enter = enter,
    .update = update,
    .draw = draw,
    .key = key,
    .hints = " Esc Back  k Kick  x Explain  Up/Down Scroll  1 Overview  2 Sessions  7 Log  ? Help"
             "  q Quit",
};
