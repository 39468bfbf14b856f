/*
 * scr_explain.c - screen 8: which rule decides one request of a connected
 * client (identity, client id, action, topic, QoS, retain), and the verdict.
 * It asks the broker's explain operation with the client's live permissions
 * on every refresh, so a rule changed elsewhere shows here within a second.
 * Opened with 8 for any client, or with x from the sessions and detail
 * screens, prefilled with the selected client.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "screen.h"

enum { F_CLIENT, F_USER, F_ACTION, F_TOPIC, F_QOS, F_RETAIN, F_COUNT };

static const char *const labels[F_COUNT] = {"Client id", "Identity", "Action",
                                            "Topic",     "QoS",      "Retain"};
static const char *const actions[] = {"publish", "subscribe", "receive"};

/* The text field being edited (client id, identity or topic), or NULL. */
static char *text_field(struct explain_form *f, int i)
{
    return i == F_CLIENT ? f->client_id : i == F_USER ? f->user : i == F_TOPIC ? f->topic : NULL;
}

static enum wd_err update(struct tui *t)
{
    struct explain_form *f = &t->explain;
    f->asked = false;
    if (!f->client_id[0] || !f->topic[0])
        return WD_OK;
    struct admin_explain_req req = {
        .client_id = f->client_id, .user = f->user[0] ? f->user : NULL,
        .action = actions[f->action], .topic = f->topic, .qos = f->qos, .retain = f->retain,
    };
    f->err = t->ops->explain(t->ops->ctx, &req, &f->x);
    f->asked = true;
    /* Not connected or a bad field: said on the screen, not an error of the console. */
    return f->err == WD_ENOTFOUND || f->err == WD_EINVAL ? WD_OK : f->err;
}

unsigned explain_open(struct tui *t, const char *client_id, const char *user)
{
    struct explain_form *f = &t->explain;
    snprintf(f->client_id, sizeof f->client_id, "%s", client_id ? client_id : "");
    snprintf(f->user, sizeof f->user, "%s", user ? user : "");
    f->field = f->topic[0] ? F_CLIENT : F_TOPIC; /* the topic is what is left to type */
    f->asked = false;
    t->push_to = SCR_EXPLAIN;
    return R_PUSH;
}

static void line(int *r, int end, int w, bool sel, const char *label, const char *value)
{
    if (*r >= end)
        return;
    if (sel)
        attron(A_REVERSE);
    widget_text(*r, 1, 2, sel ? ">" : "");
    widget_text(*r, 3, 16, label);
    widget_text(*r, 19, w - 19 > 0 ? w - 19 : 0, value);
    if (sel)
        attroff(A_REVERSE);
    (*r)++;
}

static void draw(struct tui *t, int y, int h, int w)
{
    const struct explain_form *f = &t->explain;
    int r = y + 1, end = y + h;
    char v[1400];
    widget_text(r++, 1, w - 1, "Which rule decides a request of a connected client "
                               "(its live permissions):");
    r++;
    for (int i = 0; i < F_COUNT; i++) {
        switch (i) {
        case F_CLIENT:
            snprintf(v, sizeof v, "%s", f->client_id[0] ? f->client_id : "(type one)");
            break;
        case F_USER:
            snprintf(v, sizeof v, "%s", f->user[0] ? f->user : "(the client's own)");
            break;
        case F_ACTION: snprintf(v, sizeof v, "%s", actions[f->action]); break;
        case F_TOPIC: snprintf(v, sizeof v, "%s", f->topic[0] ? f->topic : "(type one)"); break;
        case F_QOS: snprintf(v, sizeof v, "%u", f->qos); break;
        case F_RETAIN: snprintf(v, sizeof v, "%s", f->retain ? "yes" : "no"); break;
        }
        line(&r, end, w, i == f->field, labels[i], v);
    }
    r++;
    if (!f->asked) {
        line(&r, end, w, false, "Verdict", "- (needs a client id and a topic)");
        return;
    }
    if (f->err == WD_ENOTFOUND) {
        snprintf(v, sizeof v, "- client '%s' is not connected", f->client_id);
        line(&r, end, w, false, "Verdict", v);
        return;
    }
    if (f->err != WD_OK) {
        snprintf(v, sizeof v, "- %s (a bad topic or QoS, or not that client's identity)",
                 wd_strerror(f->err));
        line(&r, end, w, false, "Verdict", v);
        return;
    }
    const struct admin_explanation *x = &f->x;
    attron(A_BOLD);
    line(&r, end, w, false, "Verdict", x->allow ? "ALLOWED" : "DENIED");
    attroff(A_BOLD);
    line(&r, end, w, false, "Identity", x->user[0] ? x->user : "- (anonymous)");
    if (x->matched)
        snprintf(v, sizeof v, "rule %u of %s: %s", x->index, x->list, x->rule);
    else
        snprintf(v, sizeof v, "none (the default)");
    line(&r, end, w, false, "Deciding rule", v);
    line(&r, end, w, false, "Why", x->reason);
    if (f->action == 1 && x->allow) {
        snprintf(v, sizeof v, "%u", x->granted);
        line(&r, end, w, false, "Granted QoS", v);
    }
}

static unsigned prompt_done(struct tui *t, enum prompt_result pr)
{
    char *dst = text_field(&t->explain, t->explain.field);
    if (pr == PROMPT_DONE && dst) {
        snprintf(dst, PROMPT_MAX, "%s", t->prompt.text);
        return R_REFRESH;
    }
    return R_REDRAW;
}

static unsigned key(struct tui *t, enum action a, int ch)
{
    (void)ch;
    struct explain_form *f = &t->explain;
    switch (a) {
    case ACT_UP: f->field = f->field ? f->field - 1 : F_COUNT - 1; return R_REDRAW;
    case ACT_DOWN: f->field = (f->field + 1) % F_COUNT; return R_REDRAW;
    case ACT_ENTER:
        switch (f->field) {
        case F_ACTION: f->action = (f->action + 1) % 3; return R_REFRESH;
        case F_QOS: f->qos = (uint8_t)((f->qos + 1) % 3); return R_REFRESH;
        case F_RETAIN: f->retain = !f->retain; return R_REFRESH;
        default: {
            char label[32];
            snprintf(label, sizeof label, "%s: ", labels[f->field]);
            prompt_open(&t->prompt, label, text_field(f, f->field));
            t->prompt_fn = prompt_done;
            return R_REDRAW;
        }
        }
    default: return R_UNHANDLED;
    }
}

const struct screen_ops scr_explain = {
    .name = "Explain",
    .update = update,
    .draw = draw,
    .key = key,
    .hints = " Up/Down Field  Enter Edit/Change  Esc Back  1 Overview  2 Sessions  ? Help  q Quit",
};
