/*
 * widget.c - drawing helpers shared by the screens. Everything here writes
 * to stdscr through curses; nothing keeps state except a struct prompt.
 */
#include "widget.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

void prompt_open(struct prompt *p, const char *label, const char *initial)
{
    p->active = true;
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->text, sizeof p->text, "%s", initial ? initial : "");
    p->len = strlen(p->text);
}

enum prompt_result prompt_key(struct prompt *p, int ch)
{
    if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
        p->active = false;
        return PROMPT_DONE;
    }
    if (ch == 27) {
        p->active = false;
        p->len = 0;
        p->text[0] = '\0';
        return PROMPT_CANCEL;
    }
    if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        if (!p->len)
            return PROMPT_NONE;
        /* Drop a whole UTF-8 sequence: continuation bytes are 10xxxxxx. */
        do
            p->len--;
        while (p->len && ((unsigned char)p->text[p->len] & 0xC0) == 0x80);
        p->text[p->len] = '\0';
        return PROMPT_CHANGED;
    }
    if (ch == 21) { /* ^U */
        p->len = 0;
        p->text[0] = '\0';
        return PROMPT_CHANGED;
    }
    if (ch >= 0x20 && ch <= 0xff && ch != 0x7f && p->len + 1 < sizeof p->text) {
        p->text[p->len++] = (char)ch;
        p->text[p->len] = '\0';
        return PROMPT_CHANGED;
    }
    return PROMPT_NONE;
}

void widget_text(int y, int x, int width, const char *s)
{
    if (width <= 0)
        return;
    move(y, x);
    int used = 0;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    const char *p = s ? s : "";
    size_t left = strlen(p);
    while (left && used < width) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, p, left, &st);
        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
            addch('?');
            used++;
            memset(&st, 0, sizeof st);
            p++;
            left--;
            continue;
        }
        int cw = wcwidth(wc);
        if (cw < 0 || wc < 0x20 || wc == 0x7f) {
            addch('?');
            used++;
        } else if (used + cw <= width) {
            addnstr(p, (int)k);
            used += cw;
        } else {
            break;
        }
        p += k;
        left -= k;
    }
    for (; used < width; used++)
        addch(' ');
}

void widget_bar(int y, int w, int attr, const char *s)
{
    attron(attr);
    widget_text(y, 0, w, s);
    attroff(attr);
}

void widget_sparkline(int y, int x, const double *v, size_t n, bool utf8)
{
    static const char *const blocks[] = {" ", "\u2581", "\u2582", "\u2583", "\u2584",
                                         "\u2585", "\u2586", "\u2587", "\u2588"};
    static const char ascii[] = " .:-=+*#%@";
    double max = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] > max)
            max = v[i];
    move(y, x);
    for (size_t i = 0; i < n; i++) {
        if (utf8) {
            int lvl = max > 0 ? (int)(v[i] / max * 8.0 + 0.5) : 0;
            if (v[i] > 0 && lvl == 0)
                lvl = 1;
            addstr(blocks[lvl]);
        } else {
            int lvl = max > 0 ? (int)(v[i] / max * 9.0 + 0.5) : 0;
            if (v[i] > 0 && lvl == 0)
                lvl = 1;
            addch((chtype)(unsigned char)ascii[lvl]);
        }
    }
}

void widget_fmt_count(char *out, size_t n, double v)
{
    if (v < 1000)
        snprintf(out, n, v == (double)(uint64_t)v ? "%.0f" : "%.1f", v);
    else if (v < 1e6)
        snprintf(out, n, "%.1fk", v / 1e3);
    else if (v < 1e9)
        snprintf(out, n, "%.1fM", v / 1e6);
    else
        snprintf(out, n, "%.1fG", v / 1e9);
}

void widget_fmt_bytes(char *out, size_t n, double v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void widget_fmt_duration(char *out, size_t n, uint64_t s)
{
    if (s < 60)
        snprintf(out, n, "%llus", (unsigned long long)s);
    else if (s < 3600)
        snprintf(out, n, "%llum%02llus", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    else if (s < 86400)
        snprintf(out, n, "%lluh%02llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s / 60 % 60));
    else
        snprintf(out, n, "%llud%02lluh", (unsigned long long)(s / 86400),
                 (unsigned long long)(s / 3600 % 24));
}
