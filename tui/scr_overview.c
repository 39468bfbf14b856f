/*
 * scr_overview.c - screen 1: uptime, version, listeners, connections,
 * traffic rates with sparklines of the last minutes, authentication
 * successes and failures and rule denials per minute, retained messages,
 * memory, and the store's generation and size. Everything comes from the
 * stats snapshot and the model's rates.
 */
#include <curses.h>
#include <stdio.h>

#include "screen.h"

#define LABEL_W 22

static void row(int y, int w, const char *label, const char *value)
{
    widget_text(y, 1, LABEL_W, label);
    widget_text(y, 1 + LABEL_W, w - 1 - LABEL_W, value);
}

/* "12.3 msg/s" plus a sparkline of 10-second buckets, as wide as fits. */
static void rate_row(struct tui *t, int y, int w, const char *label, enum model_series k,
                     bool bytes, const char *unit)
{
    char v[32], line[64];
    if (bytes)
        widget_fmt_bytes(v, sizeof v, t->rates.now[k]);
    else
        widget_fmt_count(v, sizeof v, t->rates.now[k]);
    snprintf(line, sizeof line, "%s%s/s", v, unit);
    row(y, w, label, line);
    int x = 1 + LABEL_W + 16;
    int n = w - x - 1;
    if (n > MODEL_HIST / 10)
        n = MODEL_HIST / 10;
    if (n <= 0)
        return;
    double buckets[MODEL_HIST / 10];
    size_t got = model_rates_buckets(&t->rates, k, 10, buckets, (size_t)n);
    /* Right-align: the newest bucket sits at the right edge. */
    widget_sparkline(y, x + n - (int)got, buckets, got, t->utf8);
}

static void draw(struct tui *t, int y, int h, int w)
{
    if (!t->have_stats) {
        widget_text(y + 1, 1, w - 1, "waiting for the broker...");
        return;
    }
    const struct admin_stats *s = &t->stats;
    char v[256], a[32], b[32];
    int r = y + 1;
    int end = y + h;
    /* 21 rows: the whole page fits an 80x24 terminal (3 rows are the bars). */
    widget_fmt_duration(a, sizeof a, s->uptime_s);
    snprintf(v, sizeof v, "%s, up %s", t->info.version, a);
    if (r < end)
        row(r++, w, "Version", v);
    if (r < end)
        row(r++, w, "Listeners", t->info.listeners);
    snprintf(v, sizeof v, "%u now, %llu peak (%u sockets open)", s->clients,
             (unsigned long long)s->peak_clients, s->connections);
    if (r < end)
        row(r++, w, "Connections", v);
    snprintf(v, sizeof v, "%llu (connected and offline persistent), %llu subscriptions",
             (unsigned long long)s->sessions, (unsigned long long)s->subscriptions);
    if (r < end)
        row(r++, w, "Sessions", v);
    if (r < end) {
        widget_text(r++, 1 + LABEL_W + 16, w - 2 - LABEL_W - 16,
                    "last minutes, 10 s a column, newest right");
    }
    if (r < end)
        rate_row(t, r++, w, "Messages in", SER_MSGS_IN, false, " msg");
    if (r < end)
        rate_row(t, r++, w, "Messages out", SER_MSGS_OUT, false, " msg");
    if (r < end)
        rate_row(t, r++, w, "Bytes in", SER_BYTES_IN, true, "");
    if (r < end)
        rate_row(t, r++, w, "Bytes out", SER_BYTES_OUT, true, "");
    if (r < end)
        rate_row(t, r++, w, "Successful connects", SER_CONNECTS, false, "");
    if (r < end)
        rate_row(t, r++, w, "Auth failures", SER_AUTH_FAIL, false, "");
    if (r < end)
        rate_row(t, r++, w, "Denials", SER_DENIALS, false, "");
    r++;
    snprintf(v, sizeof v, "%llu auth succeeded, %llu failed; %llu denials",
             (unsigned long long)model_rates_window(&t->rates, SER_CONNECTS, 60000),
             (unsigned long long)model_rates_window(&t->rates, SER_AUTH_FAIL, 60000),
             (unsigned long long)model_rates_window(&t->rates, SER_DENIALS, 60000));
    if (r < end)
        row(r++, w, "Last minute", v);
    snprintf(v, sizeof v, "%llu auth succeeded, %llu failed; %llu denials",
             (unsigned long long)s->connects_total, (unsigned long long)s->auth_failures,
             (unsigned long long)s->denials);
    if (r < end)
        row(r++, w, "Since start", v);
    widget_fmt_count(a, sizeof a, (double)s->msgs_received);
    widget_fmt_count(b, sizeof b, (double)s->msgs_sent);
    snprintf(v, sizeof v, "%s in, %s out, %llu dropped", a, b,
             (unsigned long long)s->msgs_dropped);
    if (r < end)
        row(r++, w, "Messages total", v);
    widget_fmt_bytes(a, sizeof a, (double)s->bytes_received);
    widget_fmt_bytes(b, sizeof b, (double)s->bytes_sent);
    snprintf(v, sizeof v, "%s in, %s out", a, b);
    if (r < end)
        row(r++, w, "Bytes total", v);
    widget_fmt_bytes(a, sizeof a, (double)s->mem_in_use);
    snprintf(v, sizeof v, "%s; %llu retained messages", a, (unsigned long long)s->retained);
    if (r < end)
        row(r++, w, "Memory in use", v);
    if (s->store_generation) {
        widget_fmt_bytes(a, sizeof a, (double)s->store_bytes);
        snprintf(v, sizeof v, "generation %llu, %s in use",
                 (unsigned long long)s->store_generation, a);
    } else {
        snprintf(v, sizeof v, "- (no store)");
    }
    if (r < end)
        row(r++, w, "Store", v);
}

static unsigned key(struct tui *t, enum action a, int ch)
{
    (void)t;
    (void)a;
    (void)ch;
    return R_UNHANDLED;
}

const struct screen_ops scr_overview = {
    .name = "Overview",
    .draw = draw,
    .key = key,
    .hints = " 2 Sessions  7 Log  ? Help  q Quit",
};
