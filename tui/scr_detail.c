/*
 * scr_detail.c - screen 3: one session's fields, its TLS and certificate,
 * and its subscriptions with granted QoS and options. Refreshed with the
 * session list; a session that vanished says so instead of showing stale data.
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
    enum wd_err e = tui_refresh_sessions(t);
    if (e != WD_OK)
        return e;
    admin_subs_free(&t->subs);
    t->subs_err = t->detail_id ? t->ops->subs(t->ops->ctx, t->detail_id, &t->subs) : WD_ENOTFOUND;
    return t->subs_err == WD_ENOTFOUND ? WD_OK : t->subs_err;
}

static void field(int *r, int end, int w, const char *label, const char *value)
{
    if (*r >= end)
        return;
    widget_text(*r, 1, 20, label);
    widget_text(*r, 21, w - 21, value);
    (*r)++;
}

static void draw(struct tui *t, int y, int h, int w)
{
    const struct admin_session *s = find(t);
    int r = y + 1, end = y + h;
    char v[512], a[64];
    if (!s) {
        snprintf(v, sizeof v, "Session '%s' is gone (disconnected and expired, or taken over).",
                 t->detail_id ? t->detail_id : "?");
        widget_text(r, 1, w - 1, v);
        return;
    }
    field(&r, end, w, "Client id", s->client_id);
    field(&r, end, w, "Identity", s->username ? s->username : "- (anonymous)");
    field(&r, end, w, "State", s->connected ? "connected" : "offline (persistent session)");
    session_cell(s, COL_AUTH, v, sizeof v);
    field(&r, end, w, "Authentication", v);
    session_cell(s, COL_ADDR, v, sizeof v);
    field(&r, end, w, "Address", v);
    session_cell(s, COL_PROTO, a, sizeof a);
    snprintf(v, sizeof v, "MQTT %s, keepalive %us", a, s->keepalive);
    field(&r, end, w, "Protocol", v);
    session_cell(s, COL_SINCE, a, sizeof a);
    snprintf(v, sizeof v, "%s (%s ago)", s->connected ? "connected" : "offline", a);
    field(&r, end, w, "Since", v);
    if (s->expiry == UINT32_MAX)
        snprintf(v, sizeof v, "never");
    else
        snprintf(v, sizeof v, "%us after disconnect", s->expiry);
    field(&r, end, w, "Session expiry", v);
    snprintf(v, sizeof v, "%llu msgs / %llu bytes in, %llu msgs / %llu bytes out",
             (unsigned long long)s->msgs_in, (unsigned long long)s->bytes_in,
             (unsigned long long)s->msgs_out, (unsigned long long)s->bytes_out);
    field(&r, end, w, "Traffic", v);
    snprintf(v, sizeof v, "%u in flight, %u queued", s->inflight, s->queued);
    field(&r, end, w, "Delivery", v);
    if (s->tls_version[0]) {
        snprintf(v, sizeof v, "%s, %s", s->tls_version, s->tls_cipher);
        field(&r, end, w, "TLS", v);
    } else {
        field(&r, end, w, "TLS", "- (plain TCP)");
    }
    if (s->cert_subject) {
        field(&r, end, w, "Cert subject", s->cert_subject);
        field(&r, end, w, "Cert issuer", s->cert_issuer ? s->cert_issuer : "");
        field(&r, end, w, "Cert SANs", s->cert_sans ? s->cert_sans : "");
        field(&r, end, w, "Cert SHA-256", s->cert_fingerprint);
        time_t na = (time_t)s->cert_not_after;
        struct tm tm;
        gmtime_r(&na, &tm);
        strftime(v, sizeof v, "%Y-%m-%d %H:%M:%SZ", &tm);
        field(&r, end, w, "Cert expires", v);
    }
    if (s->token_sub) {
        long long left = (long long)(s->token_exp - (int64_t)time(NULL));
        snprintf(v, sizeof v, "%s from %s, scope %s, expires in %llds", s->token_sub,
                 s->token_iss ? s->token_iss : "?", s->token_scope ? s->token_scope : "(rules)",
                 left > 0 ? left : 0);
        field(&r, end, w, "Token", v);
    }
    r++;
    if (r >= end)
        return;
    attron(A_BOLD);
    snprintf(v, sizeof v, "Subscriptions (%zu)", t->subs.n);
    widget_text(r++, 1, w - 1, v);
    attroff(A_BOLD);
    if (t->subs_err != WD_OK && t->subs_err != WD_ENOTFOUND) {
        snprintf(v, sizeof v, "(cannot list: %s)", wd_strerror(t->subs_err));
        field(&r, end, w, "", v);
    }
    for (size_t i = 0; i < t->subs.n && r < end; i++) {
        const struct admin_sub *sb = &t->subs.v[i];
        snprintf(v, sizeof v, "QoS %u%s%s rh=%u%s", sb->qos, sb->no_local ? " no-local" : "",
                 sb->retain_as_published ? " rap" : "", sb->retain_handling,
                 sb->sub_id ? "" : "");
        if (sb->sub_id)
            snprintf(v + strlen(v), sizeof v - strlen(v), " id=%u", sb->sub_id);
        widget_text(r, 3, 40 < w - 3 ? 40 : w - 3, sb->filter);
        widget_text(r, 44, w - 44, v);
        r++;
    }
}

static unsigned key(struct tui *t, enum action a, int ch)
{
    (void)ch;
    const struct admin_session *s = find(t);
    switch (a) {
    case ACT_KICK:
        if (!s || !s->connected) {
            tui_status(t, true, "not connected");
            return R_REDRAW;
        }
        return sessions_kick(t, s->client_id);
    default: return R_UNHANDLED;
    }
}

const struct screen_ops scr_detail = {
    .name = "Session",
    .update = update,
    .draw = draw,
    .key = key,
    .hints = " Esc Back  k Kick  1 Overview  2 Sessions  7 Log  ? Help  q Quit",
};
