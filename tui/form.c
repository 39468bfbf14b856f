/*
 * form.c - the console's modal form: fields typed into, moved between with
 * Tab, submitted with Enter. Passwords never leave the form's buffers except
 * through form_value(), and form_close() wipes them.
 */
#include "form.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "widget.h"

void form_open(struct form *f, const char *title)
{
    form_close(f);
    f->active = true;
    snprintf(f->title, sizeof f->title, "%s", title);
}

static struct form_field *add(struct form *f, enum field_kind kind, const char *label)
{
    if (f->n == FORM_FIELDS)
        return NULL;
    struct form_field *fl = &f->f[f->n++];
    memset(fl, 0, sizeof *fl);
    fl->kind = kind;
    snprintf(fl->label, sizeof fl->label, "%s", label);
    return fl;
}

int form_text(struct form *f, const char *label, const char *initial, bool hidden)
{
    struct form_field *fl = add(f, hidden ? FIELD_HIDDEN : FIELD_TEXT, label);
    if (!fl)
        return -1;
    snprintf(fl->text, sizeof fl->text, "%s", initial ? initial : "");
    fl->len = strlen(fl->text);
    return (int)f->n - 1;
}

int form_choice(struct form *f, const char *label, const char *const *choices, size_t n,
                size_t initial)
{
    struct form_field *fl = add(f, FIELD_CHOICE, label);
    if (!fl)
        return -1;
    for (size_t i = 0; i < n && i < FORM_CHOICES; i++)
        fl->choices[fl->nchoices++] = choices[i];
    fl->choice = initial < fl->nchoices ? initial : 0;
    return (int)f->n - 1;
}

enum form_result form_key(struct form *f, int ch)
{
    if (!f->active || !f->n)
        return FORM_NONE;
    struct form_field *fl = &f->f[f->cur];
    if (ch == '\n' || ch == '\r' || ch == KEY_ENTER)
        return FORM_SUBMIT;
    if (ch == 27) {
        form_close(f);
        return FORM_CANCEL;
    }
    if (ch == '\t' || ch == KEY_DOWN) {
        f->cur = (f->cur + 1) % f->n;
        return FORM_CHANGED;
    }
    if (ch == KEY_BTAB || ch == KEY_UP) {
        f->cur = (f->cur + f->n - 1) % f->n;
        return FORM_CHANGED;
    }
    if (fl->kind == FIELD_CHOICE) {
        if (ch == KEY_RIGHT || ch == ' ') {
            fl->choice = (fl->choice + 1) % fl->nchoices;
            return FORM_CHANGED;
        }
        if (ch == KEY_LEFT) {
            fl->choice = (fl->choice + fl->nchoices - 1) % fl->nchoices;
            return FORM_CHANGED;
        }
        return FORM_NONE;
    }
    if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        if (!fl->len)
            return FORM_NONE;
        do /* a whole UTF-8 sequence: continuation bytes are 10xxxxxx */
            fl->len--;
        while (fl->len && ((unsigned char)fl->text[fl->len] & 0xC0) == 0x80);
        fl->text[fl->len] = '\0';
        return FORM_CHANGED;
    }
    if (ch == 21) { /* ^U */
        explicit_bzero(fl->text, sizeof fl->text);
        fl->len = 0;
        return FORM_CHANGED;
    }
    if (ch >= 0x20 && ch <= 0xff && ch != 0x7f && fl->len + 1 < sizeof fl->text) {
        fl->text[fl->len++] = (char)ch;
        fl->text[fl->len] = '\0';
        return FORM_CHANGED;
    }
    return FORM_NONE;
}

const char *form_value(const struct form *f, size_t i)
{
    if (i >= f->n)
        return "";
    const struct form_field *fl = &f->f[i];
    if (fl->kind == FIELD_CHOICE)
        return fl->nchoices ? fl->choices[fl->choice] : "";
    return fl->text;
}

void form_close(struct form *f)
{
    explicit_bzero(f, sizeof *f);
}

void form_draw(const struct form *f, int h, int w)
{
    if (!f->active)
        return;
    int bw = w > 76 ? 72 : w - 4;
    int bh = (int)f->n + 5;
    if (bw < 20 || bh > h)
        return;
    int y0 = (h - bh) / 2, x0 = (w - bw) / 2;
    for (int y = 0; y < bh; y++)
        widget_text(y0 + y, x0, bw, "");
    attron(A_REVERSE);
    char line[160];
    snprintf(line, sizeof line, " %s ", f->title);
    widget_text(y0, x0, bw, line);
    attroff(A_REVERSE);
    int cy = y0 + 1, cx = x0;
    for (size_t i = 0; i < f->n; i++) {
        const struct form_field *fl = &f->f[i];
        char val[FORM_TEXT + 16];
        if (fl->kind == FIELD_HIDDEN) {
            size_t k = fl->len < 40 ? fl->len : 40;
            memset(val, '*', k);
            val[k] = '\0';
        } else if (fl->kind == FIELD_CHOICE) {
            snprintf(val, sizeof val, "< %s >", fl->nchoices ? fl->choices[fl->choice] : "");
        } else {
            snprintf(val, sizeof val, "%s", fl->text);
        }
        snprintf(line, sizeof line, "%c %-18s ", i == f->cur ? '>' : ' ', fl->label);
        if (i == f->cur)
            attron(A_BOLD);
        widget_text(y0 + 2 + (int)i, x0 + 1, 21, line);
        if (i == f->cur)
            attroff(A_BOLD);
        attron(A_UNDERLINE);
        widget_text(y0 + 2 + (int)i, x0 + 22, bw - 23, val);
        attroff(A_UNDERLINE);
        if (i == f->cur) {
            cy = y0 + 2 + (int)i;
            cx = x0 + 22 + (int)strlen(val) < x0 + bw - 1 ? x0 + 22 + (int)strlen(val)
                                                          : x0 + bw - 1;
        }
    }
    if (f->error[0]) {
        attron(A_BOLD);
        widget_text(y0 + bh - 2, x0 + 1, bw - 2, f->error);
        attroff(A_BOLD);
    }
    widget_text(y0 + bh - 1, x0 + 1, bw - 2,
                "Tab next field  Space/Left/Right choose  Enter save  Esc cancel");
    move(cy, cx);
}
