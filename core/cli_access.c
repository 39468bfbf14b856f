/*
 * cli_access.c - `warden client ...` and `warden ban ...`: who may use a
 * client id (exact, prefix or regex bindings to a user) and who may not
 * connect at all (bans by client id, user or address range, permanent or
 * until a time). Selectors come from argv and are borrowed by c->bsel and
 * c->ban for the one write they feed; times are parsed here (durations and
 * RFC 3339), stored as Unix seconds.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "backend.h"
#include "cli_int.h"
#include "err.h"
#include "../store/bans.h"
#include "../store/bindings.h"

/* ---------------------------------------------------------------- parsing times */

/* "30s", "10m", "2h", "7d", "1w" -> seconds. */
bool cli_parse_duration(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0 || !s[i] || s[i + 1])
        return false;
    int64_t mult;
    switch (s[i]) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    case 'w': mult = 7 * 86400; break;
    default: return false;
    }
    if (v == 0 || v > (INT64_C(100) * 365 * 86400) / mult)
        return false; /* zero, or more than a century */
    *out = v * mult;
    return true;
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* RFC 3339: 2025-01-02T03:04:05[.frac](Z|+hh:mm|-hh:mm) -> Unix seconds. */
bool cli_parse_rfc3339(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se;
    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        off = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = se};
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d)
        return false; /* e.g. February 30th */
    *out = (int64_t)t - off;
    return true;
}

/* ---------------------------------------------------------------- client bindings */

/* CLIENTID positional, or --prefix / --regex: exactly one. 0 or 2. */
static int selector_binding(struct cli *c, int npos_with_id, uint8_t *kind, const char **pattern)
{
    int n = (c->npos == npos_with_id) + !!c->opt[CLI_OPT_PREFIX] + !!c->opt[CLI_OPT_REGEX];
    if (n != 1)
        return cli_usage_error(c, "give exactly one of CLIENTID, --prefix P, --regex R");
    if (c->opt[CLI_OPT_PREFIX]) {
        *kind = BIND_PREFIX;
        *pattern = c->opt[CLI_OPT_PREFIX];
    } else if (c->opt[CLI_OPT_REGEX]) {
        *kind = BIND_REGEX;
        *pattern = c->opt[CLI_OPT_REGEX];
    } else {
        *kind = BIND_EXACT;
        *pattern = c->pos[0];
    }
    return 0;
}

static enum wd_err body_bind(struct store_txn *t, struct cli *c)
{
    return bindings_add(t, &c->bsel);
}

int cli_cmd_client_bind(struct cli *c)
{
    int rc = selector_binding(c, 2, &c->bsel.kind, (const char **)&c->bsel.pattern);
    if (rc)
        return rc;
    c->bsel.user = (char *)c->pos[c->npos - 1];
    c->bsel.created = (int64_t)time(NULL);
    char why[256];
    if (bindings_validate(c->bsel.kind, c->bsel.pattern, why, sizeof why) != WD_OK)
        return cli_failed(c, "%s", why);
    snprintf(c->target, sizeof c->target, "%s %.200s -> %.80s", bindings_kind_name(c->bsel.kind),
             c->bsel.pattern, c->bsel.user);
    if (cli_run_write(c, body_bind))
        return 1;
    return cli_done(c, "%s '%s' bound to user '%s'",
                    c->bsel.kind == BIND_EXACT ? "client id" : bindings_kind_name(c->bsel.kind),
                    c->bsel.pattern, c->bsel.user);
}

static enum wd_err body_unbind(struct store_txn *t, struct cli *c)
{
    return bindings_del(t, c->bsel.kind, c->bsel.pattern);
}

int cli_cmd_client_unbind(struct cli *c)
{
    int rc = selector_binding(c, 1, &c->bsel.kind, (const char **)&c->bsel.pattern);
    if (rc)
        return rc;
    snprintf(c->target, sizeof c->target, "%s %.200s", bindings_kind_name(c->bsel.kind),
             c->bsel.pattern);
    if (cli_run_write(c, body_unbind))
        return 1;
    return cli_done(c, "%s '%s' unbound",
                    c->bsel.kind == BIND_EXACT ? "client id" : bindings_kind_name(c->bsel.kind),
                    c->bsel.pattern);
}

static enum wd_err body_bindings(struct store_txn *t, struct cli *c)
{
    return bindings_list(t, &c->l.binds, &c->l.nbinds);
}

int cli_cmd_client_list(struct cli *c)
{
    if (cli_read_txn(c, body_bindings))
        return 1;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->l.nbinds; i++) {
            json_t *o = json_pack("{s:s, s:s, s:s}", "kind", bindings_kind_name(c->l.binds[i].kind),
                                  "pattern", c->l.binds[i].pattern, "user", c->l.binds[i].user);
            if (o)
                json_object_set_new(o, "created", cli_json_time(c->l.binds[i].created));
            json_array_append_new(a, o);
        }
        cli_listing_free(c);
        return cli_emit_json(a);
    }
    struct cli_table t = {4, {"KIND", "CLIENT ID / PATTERN", "USER", "CREATED"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.nbinds; i++) {
        char when[32];
        const struct binding *b = &c->l.binds[i];
        cli_fmt_time(b->created, when, sizeof when);
        cli_table_row(&t, bindings_kind_name(b->kind), b->pattern, b->user, when);
    }
    cli_table_print(&t, "");
    cli_table_free(&t);
    cli_listing_free(c);
    return 0;
}

/* ---------------------------------------------------------------- bans */

/* --client / --user / --address: exactly one. 0 or 2. */
static int selector_ban(struct cli *c)
{
    int n = !!c->opt[CLI_OPT_CLIENT] + !!c->opt[CLI_OPT_USER] + !!c->opt[CLI_OPT_ADDRESS];
    if (n != 1)
        return cli_usage_error(c, "give exactly one of --client ID, --user NAME, --address CIDR");
    memset(&c->ban, 0, sizeof c->ban);
    if (c->opt[CLI_OPT_CLIENT]) {
        c->ban.kind = BAN_CLIENT;
        c->ban.value = (char *)c->opt[CLI_OPT_CLIENT];
    } else if (c->opt[CLI_OPT_USER]) {
        c->ban.kind = BAN_USER;
        c->ban.value = (char *)c->opt[CLI_OPT_USER];
    } else {
        c->ban.kind = BAN_ADDRESS;
        c->ban.value = (char *)c->opt[CLI_OPT_ADDRESS];
    }
    return 0;
}

static enum wd_err body_ban(struct store_txn *t, struct cli *c)
{
    return bans_add(t, &c->ban);
}

int cli_cmd_ban_add(struct cli *c)
{
    int rc = selector_ban(c);
    if (rc)
        return rc;
    if (c->opt[CLI_OPT_FOR] && c->opt[CLI_OPT_UNTIL])
        return cli_usage_error(c, "--for and --until exclude each other");
    int64_t now = (int64_t)time(NULL), d;
    if (c->opt[CLI_OPT_FOR]) {
        if (!cli_parse_duration(c->opt[CLI_OPT_FOR], &d))
            return cli_failed(c, "invalid duration '%.40s' (a number with s, m, h, d or w: "
                              "30s, 10m, 2h, 7d)", c->opt[CLI_OPT_FOR]);
        c->ban.until = now + d;
    } else if (c->opt[CLI_OPT_UNTIL]) {
        const char *u = c->opt[CLI_OPT_UNTIL];
        if (cli_parse_duration(u, &d)) {
            c->ban.until = now + d;
        } else if (cli_parse_rfc3339(u, &d)) {
            if (d <= now)
                return cli_failed(c, "--until %.40s is in the past", u);
            c->ban.until = d;
        } else {
            return cli_failed(c, "invalid time '%.40s' (RFC 3339 like 2030-01-31T12:00:00Z, or a "
                              "duration like 2h)", u);
        }
    }
    c->ban.reason = (char *)(c->opt[CLI_OPT_REASON] ? c->opt[CLI_OPT_REASON] : "");
    c->ban.actor = c->actor;
    c->ban.created = now;
    if (c->ban.kind == BAN_ADDRESS) {
        char cidr[BANS_CIDR_MAX];
        if (bans_parse_cidr(c->ban.value, cidr) != WD_OK)
            return cli_failed(c, "invalid address '%.100s' (an IPv4 or IPv6 address or CIDR, e.g. "
                              "10.0.0.0/8)", c->ban.value);
        snprintf(c->target, sizeof c->target, "address %s", cidr);
    } else {
        snprintf(c->target, sizeof c->target, "%s %.200s", bans_kind_name(c->ban.kind),
                 c->ban.value);
    }
    if (cli_run_write(c, body_ban))
        return 1;
    char until[48] = "permanently";
    if (c->ban.until) {
        char t[32];
        cli_fmt_time(c->ban.until, t, sizeof t);
        snprintf(until, sizeof until, "until %s", t);
    }
    return cli_done(c, "banned %s %s", c->target, until);
}

static enum wd_err body_unban(struct store_txn *t, struct cli *c)
{
    return bans_del(t, c->ban.kind, c->ban.value);
}

int cli_cmd_ban_del(struct cli *c)
{
    int rc = selector_ban(c);
    if (rc)
        return rc;
    snprintf(c->target, sizeof c->target, "%s %.200s", bans_kind_name(c->ban.kind),
             c->ban.value);
    if (cli_run_write(c, body_unban))
        return 1;
    return cli_done(c, "ban of %s lifted", c->target);
}

static enum wd_err body_bans(struct store_txn *t, struct cli *c)
{
    return bans_list(t, &c->l.bans, &c->l.nbans);
}

int cli_cmd_ban_list(struct cli *c)
{
    if (cli_read_txn(c, body_bans))
        return 1;
    int64_t now = (int64_t)time(NULL);
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->l.nbans; i++) {
            const struct ban *b = &c->l.bans[i];
            json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b}", "kind", bans_kind_name(b->kind),
                                  "value", b->value, "reason", b->reason, "actor", b->actor,
                                  "active", b->until == 0 || b->until > now);
            if (o) {
                json_object_set_new(o, "until", cli_json_time(b->until));
                json_object_set_new(o, "created", cli_json_time(b->created));
            }
            json_array_append_new(a, o);
        }
        cli_listing_free(c);
        return cli_emit_json(a);
    }
    struct cli_table t = {6, {"KIND", "VALUE", "UNTIL", "BY", "CREATED", "REASON"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.nbans; i++) {
        const struct ban *b = &c->l.bans[i];
        char until[48], created[32];
        if (!b->until)
            snprintf(until, sizeof until, "permanent");
        else
            cli_fmt_time(b->until, until, sizeof until);
        if (b->until && b->until <= now)
            strcat(until, " (expired)");
        cli_fmt_time(b->created, created, sizeof created);
        cli_table_row(&t, bans_kind_name(b->kind), b->value, until, b->actor, created, b->reason);
    }
    cli_table_print(&t, "");
    cli_table_free(&t);
    cli_listing_free(c);
    return 0;
}

