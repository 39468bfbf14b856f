/*
 * scr_help.c - the help screen, generated from the key table (keys.h), so
 * the keys it lists are the keys that work.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "screen.h"

static void enter(struct tui *t)
{
    t->help_top = 0;
}

static void draw(struct tui *t, int y, int h, int w)
{
    int r = y + 1;
    widget_text(r++, 1, w - 1, "Keys (number and function keys switch screens):");
    r++;
    const char *scope = "";
    for (size_t i = t->help_top; i < keys_count && r < y + h; i++) {
        const struct key_info *k = &keys_table[i];
        if (strcmp(scope, k->scope) != 0) {
            scope = k->scope;
            attron(A_BOLD);
            widget_text(r++, 1, w - 1, scope);
            attroff(A_BOLD);
            if (r >= y + h)
                break;
        }
        char line[256];
        snprintf(line, sizeof line, "  %-12s %s", k->names, k->help);
        widget_text(r++, 1, w - 1, line);
    }
}

static unsigned key(struct tui *t, enum action a, int ch)
{
    (void)ch;
    switch (a) {
    case ACT_DOWN: if (t->help_top + 1 < keys_count) t->help_top++; return R_REDRAW;
    case ACT_UP: if (t->help_top) t->help_top--; return R_REDRAW;
    case ACT_HELP: return R_POP;
    default: return R_UNHANDLED;
    }
}

const struct screen_ops scr_help = {
    .name = "Help",
    .enter = enter,
    .draw = draw,
    .key = key,
    .hints = " Esc Back  Up/Down Scroll  q Quit",
};
