/*
 * widget.h - small drawing pieces of the console: bars, clipped untrusted
 * text, a one-line text prompt, sparklines, and number formatting.
 * Thread: console.
 */
#ifndef WD_TUI_WIDGET_H
#define WD_TUI_WIDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROMPT_MAX 128

/* A one-line text entry (the filter). */
struct prompt {
    bool active;
    char label[32];        /* "Filter: " */
    char text[PROMPT_MAX]; /* NUL-terminated */
    size_t len;
};

enum prompt_result { PROMPT_NONE, PROMPT_CHANGED, PROMPT_DONE, PROMPT_CANCEL };

void prompt_open(struct prompt *p, const char *label, const char *initial);
/* Feed one curses key: printable bytes append, Backspace deletes, Enter ends, Esc cancels. */
enum prompt_result prompt_key(struct prompt *p, int ch);

/*
 * Draw s at (y, x) in at most width columns, padded with spaces to width.
 * Control characters show as '?'; invalid UTF-8 bytes as '?'. Untrusted
 * strings (client ids, user names) go through here.
 */
void widget_text(int y, int x, int width, const char *s);
/* A whole line of width w at row y with attribute attr (A_REVERSE for bars). */
void widget_bar(int y, int w, int attr, const char *s);
/* A sparkline of n values, scaled to their maximum, in n columns. */
void widget_sparkline(int y, int x, const double *v, size_t n, bool utf8);

/* "1.2k", "3.4M" for counts; "12.0 KiB" for bytes; "3d4h", "5m", "12s" for seconds. */
void widget_fmt_count(char *out, size_t n, double v);
void widget_fmt_bytes(char *out, size_t n, double v);
void widget_fmt_duration(char *out, size_t n, uint64_t secs);

#endif
