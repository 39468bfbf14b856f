/*
 * keys.h - the console's actions as one X-macro table: id, keys, where it
 * applies, help text. The keymap (keys_lookup) and the help screen are both
 * generated from it, so that they cannot disagree (tig's REQ_INFO).
 * Thread: console.
 */
#ifndef WD_TUI_KEYS_H
#define WD_TUI_KEYS_H

#include <stddef.h>

/* X(id, key, other key (0 = none), key names for help, scope, help) */
#define TUI_ACTIONS(X)                                                                      \
    X(ACT_OVERVIEW, '1', KEY_F(1), "1 F1", "global", "Overview: traffic, connections, memory") \
    X(ACT_SESSIONS, '2', KEY_F(2), "2 F2", "global", "Sessions: connected and offline clients") \
    X(ACT_USERS, '4', KEY_F(4), "4 F4", "global", "Users: add, passwords, enable, roles")     \
    X(ACT_ROLES, '5', KEY_F(5), "5 F5", "global", "Roles and rules, with on_deny")            \
    X(ACT_ACCESS, '6', KEY_F(6), "6 F6", "global", "Client-id bindings and bans")             \
    X(ACT_LOG, '7', KEY_F(7), "7 F7", "global", "Log and audit: log lines and store changes") \
    X(ACT_EXPLAIN_SCR, '8', KEY_F(8), "8 F8", "global",                                      \
      "Explain: which rule decides a client's request")                                     \
    X(ACT_HELP, '?', KEY_F(10), "? F10", "global", "This help")                             \
    X(ACT_QUIT, 'q', 0, "q", "global",                                                      \
      "Quit (embedded: stops the broker, after confirmation; attached: detaches)")          \
    X(ACT_BACK, 27, KEY_LEFT, "Esc Left", "global", "Back to the previous screen")          \
    X(ACT_REDRAW, 12, 0, "^L", "global", "Redraw the screen")                               \
    X(ACT_UP, KEY_UP, 0, "Up", "lists", "Select the previous row / scroll up")              \
    X(ACT_DOWN, KEY_DOWN, 0, "Down", "lists", "Select the next row / scroll down")          \
    X(ACT_PGUP, KEY_PPAGE, 0, "PgUp", "lists", "One page up")                               \
    X(ACT_PGDN, KEY_NPAGE, ' ', "PgDn Space", "lists", "One page down")                     \
    X(ACT_HOME, KEY_HOME, 'g', "Home g", "lists", "First row")                              \
    X(ACT_END, KEY_END, 'G', "End G", "lists", "Last row (Log: follow new lines)")          \
    X(ACT_SORT_NEXT, '>', '.', "> .", "sessions", "Sort by the next column")                \
    X(ACT_SORT_PREV, '<', ',', "< ,", "sessions", "Sort by the previous column")            \
    X(ACT_SORT_REV, 'r', 0, "r", "sessions", "Reverse the sort order")                      \
    X(ACT_FILTER, '/', 0, "/", "sessions, log", "Filter as you type (Enter keeps, Esc clears)") \
    X(ACT_ENTER, '\n', KEY_ENTER, "Enter", "sessions, users, roles, explain",                \
      "Sessions: detail; Users: own rules; Roles: edit the rule; Explain: edit the field")  \
    X(ACT_KICK, 'k', 0, "k", "sessions, detail", "Disconnect the selected client (asks first)") \
    X(ACT_EXPLAIN, 'x', 0, "x", "sessions, detail",                                         \
      "Explain a topic for the selected client (opens screen 8 with it)")                   \
    X(ACT_PAUSE, 'Z', 'z', "Z z", "log", "Pause or resume the log and audit view")          \
    X(ACT_LEVEL, 'v', 0, "v", "log", "Least important level shown: debug, info ... error")  \
    X(ACT_SOURCE, 'A', 0, "A", "log", "Show log and audit, log lines only, audit only")     \
    X(ACT_BAN, 'b', 0, "b", "sessions, access", "Ban a client id, identity or address (form)") \
    X(ACT_ADD, 'a', 0, "a", "users, roles, access",                                           \
      "Add a user / a rule after the selected one / a binding")                             \
    X(ACT_DELETE, 'd', KEY_DC, "d Del", "users, roles, access",                               \
      "Delete the selected user, rule, binding or ban (asks first)")                        \
    X(ACT_EDIT, 'e', 0, "e", "users, roles", "Users: enable or disable; Roles: edit the rule") \
    X(ACT_PASSWD, 'p', 0, "p", "users", "Set the selected user's password (typed or generated)") \
    X(ACT_SET_ROLES, 'R', 0, "R", "users", "Set the selected user's roles")                   \
    X(ACT_USER_RULES, 'u', 0, "u", "users", "The selected user's own rules (on screen 5)")   \
    X(ACT_BIND, 'c', 0, "c", "users", "Bind a client id to the selected user")              \
    X(ACT_CERTS, 'C', 0, "C", "users",                                                        \
      "Pin a certificate (PEM file) to the selected user, or unpin one")                    \
    X(ACT_MOVE_UP, 'K', 0, "K", "roles", "Move the selected rule up (preview, then confirm)") \
    X(ACT_MOVE_DOWN, 'J', 0, "J", "roles", "Move the selected rule down")                  \
    X(ACT_ON_DENY, 'o', 0, "o", "roles", "Set the role's on_deny: drop, disconnect, strikes:N") \
    X(ACT_NEW_ROLE, 'n', 0, "n", "roles", "Add a role")

enum action {
    ACT_NONE,
#define KEYS_ENUM(id, k1, k2, names, scope, help) id,
    TUI_ACTIONS(KEYS_ENUM)
#undef KEYS_ENUM
    ACT_COUNT
};

struct key_info {
    enum action action;
    int key, key2;      /* curses key codes; key2 0 = none */
    const char *names;  /* as shown in help: "1 F1" */
    const char *scope;  /* "global", "lists", "sessions" */
    const char *help;
};

/* The table, in help order (keys_table[i].action == i + 1). */
extern const struct key_info keys_table[];
extern const size_t keys_count;

/* The action bound to curses key ch; ACT_NONE if none. '\r' counts as Enter. */
enum action keys_lookup(int ch);

/* The first key name of an action ("k"), for hints. */
const char *keys_name(enum action a);

#endif
