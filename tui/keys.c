/*
 * keys.c - the keymap and the help text, both made from TUI_ACTIONS.
 * A key bound twice is a bug in the table: keys_lookup returns the first.
 */
#include "keys.h"

#include <curses.h>
#include <string.h>

const struct key_info keys_table[] = {
#define KEYS_ROW(id, k1, k2, names, scope, help) {id, k1, k2, names, scope, help},
    TUI_ACTIONS(KEYS_ROW)
#undef KEYS_ROW
};
const size_t keys_count = sizeof keys_table / sizeof keys_table[0];

enum action keys_lookup(int ch)
{
    if (ch == '\r')
        ch = '\n';
    for (size_t i = 0; i < keys_count; i++)
        if (keys_table[i].key == ch || (keys_table[i].key2 && keys_table[i].key2 == ch))
            return keys_table[i].action;
    return ACT_NONE;
}

const char *keys_name(enum action a)
{
    static char buf[ACT_COUNT][16];
    if (a <= ACT_NONE || a >= ACT_COUNT)
        return "?";
    const char *n = keys_table[a - 1].names;
    size_t len = strcspn(n, " ");
    if (len >= sizeof buf[0])
        len = sizeof buf[0] - 1;
    memcpy(buf[a], n, len);
    buf[a][len] = '\0';
    return buf[a];
}
