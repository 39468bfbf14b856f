/*
 * form.h - a small modal form for the console's editing screens: text
 * fields, hidden password fields, choice fields, and the status-line confirm
 * that tui.c already has for yes/no questions. The key handling and values
 * are plain data (unit-tested in tests/unit/test_form.c); form_draw is the
 * only curses part. Thread: console.
 */
#ifndef WD_TUI_FORM_H
#define WD_TUI_FORM_H

#include <stdbool.h>
#include <stddef.h>

#define FORM_FIELDS 8
#define FORM_TEXT 256
#define FORM_CHOICES 6

enum field_kind { FIELD_TEXT, FIELD_HIDDEN, FIELD_CHOICE };

struct form_field {
    enum field_kind kind;
    char label[40];
    char text[FORM_TEXT];               /* TEXT, HIDDEN: NUL-terminated */
    size_t len;
    const char *choices[FORM_CHOICES];  /* CHOICE: static strings */
    size_t nchoices, choice;
};

struct form {
    bool active;
    char title[96];
    struct form_field f[FORM_FIELDS];
    size_t n, cur;                      /* fields, the one with the cursor */
    char error[256];                    /* shown under the fields; "" = none */
};

enum form_result { FORM_NONE, FORM_CHANGED, FORM_SUBMIT, FORM_CANCEL };

/* Start an empty form (any previous one is wiped). */
void form_open(struct form *f, const char *title);
/* Add a text field (hidden: shown as '*'). Returns its index, or -1 when full. */
int form_text(struct form *f, const char *label, const char *initial, bool hidden);
/* Add a choice among choices[0..n) (static strings), initial selected. -1 when full. */
int form_choice(struct form *f, const char *label, const char *const *choices, size_t n,
                size_t initial);
/*
 * Feed one curses key: Tab/Down next field, Up/Shift-Tab previous, printable
 * bytes type, Backspace deletes, ^U clears, Left/Right/Space change a choice,
 * Enter submits, Esc cancels (the form closes and its text is wiped).
 */
enum form_result form_key(struct form *f, int ch);
/* The text of field i, or its chosen word for a choice ("" for a bad index). */
const char *form_value(const struct form *f, size_t i);
/* Close the form and wipe every field (passwords included). */
void form_close(struct form *f);
/* Draw the form as a box in the middle of a screen of h x w. */
void form_draw(const struct form *f, int h, int w);

#endif
