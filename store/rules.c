/*
 * rules.c - rule lists: validation and 1-based editing. Lists are short
 * (tens of rules), so inserting shifts the array in place.
 */
#include "rules.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "topic.h"

static const struct {
    const char *name;
    uint8_t bit;
} action_names[] = {
    {"publish", RULE_PUBLISH},
    {"subscribe", RULE_SUBSCRIBE},
    {"receive", RULE_RECEIVE},
    {"all", RULE_ALL},
};

enum wd_err rules_parse_actions(const char *s, uint8_t *out)
{
    uint8_t a = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        bool found = false;
        for (size_t i = 0; i < sizeof action_names / sizeof action_names[0]; i++) {
            if (strlen(action_names[i].name) == n && !memcmp(p, action_names[i].name, n)) {
                a |= action_names[i].bit;
                found = true;
            }
        }
        if (!found)
            return WD_EINVAL;
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = a;
    return WD_OK;
}

void rules_format_actions(uint8_t actions, char *out, size_t n)
{
    out[0] = '\0';
    if ((actions & RULE_ALL) == RULE_ALL) {
        snprintf(out, n, "all");
        return;
    }
    for (size_t i = 0; i < 3; i++)
        if (actions & action_names[i].bit)
            snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? "," : "",
                     action_names[i].name);
}

enum wd_err rules_validate(const struct rule *r, char *why, size_t whylen)
{
    if (r->effect > RULE_DENY) {
        snprintf(why, whylen, "effect must be allow or deny");
        return WD_EINVAL;
    }
    if (r->actions == 0 || (r->actions & ~RULE_ALL)) {
        snprintf(why, whylen, "actions must be publish, subscribe, receive or all");
        return WD_EINVAL;
    }
    if (r->max_qos > 2) {
        snprintf(why, whylen, "QoS must be 0, 1 or 2");
        return WD_EINVAL;
    }
    const char *f = r->filter;
    size_t n = f ? strlen(f) : 0;
    if (n == 0 || n > 65535 || topic_validate_filter(f, n) != WD_OK) {
        snprintf(why, whylen, "invalid topic filter '%.100s' ('#' must be the last level "
                              "and '+' a whole level)", f ? f : "");
        return WD_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)f[i] < 0x20 || f[i] == 0x7f) {
            snprintf(why, whylen, "topic filter contains a control character");
            return WD_EINVAL;
        }
        if (f[i] == '%' && (i + 1 >= n || (f[i + 1] != 'u' && f[i + 1] != 'c'))) {
            snprintf(why, whylen, "unknown placeholder in '%.100s' (use %%u, %%c or %%cn)", f);
            return WD_EINVAL;
        }
    }
    return WD_OK;
}

enum wd_err rules_insert(struct rule **v, size_t *n, const struct rule *r, size_t at)
{
    if (at == 0)
        at = *n + 1;
    if (at > *n + 1)
        return WD_EINVAL;
    if (*n >= RULES_MAX)
        return WD_ELIMIT;
    char *f = wd_strdup(r->filter);
    if (!f)
        return WD_ENOMEM;
    struct rule *nv = wd_realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) {
        wd_free(f);
        return WD_ENOMEM;
    }
    memmove(&nv[at], &nv[at - 1], (*n - (at - 1)) * sizeof *nv);
    nv[at - 1] = *r;
    nv[at - 1].filter = f;
    *v = nv;
    (*n)++;
    return WD_OK;
}

enum wd_err rules_remove(struct rule *v, size_t *n, size_t index)
{
    if (index == 0 || index > *n)
        return WD_ENOTFOUND;
    backend_rule_fini(&v[index - 1]);
    memmove(&v[index - 1], &v[index], (*n - index) * sizeof *v);
    (*n)--;
    return WD_OK;
}
