/*
 * cli_cert.c - `warden user cert ...` and `warden cert ...`: certificate
 * pins (only a user's pinned certificates authenticate as it), the store's
 * revocation list, and the certificates the broker has seen. A certificate
 * is named by the SHA-256 of its DER: read from a PEM or DER file (tls.c
 * decodes it; no verification: a pin or revocation names a certificate
 * whoever signed it) or given as hex. Bad input is refused before the store
 * is touched; every change is one transaction with its audit entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "backend.h"
#include "cli_int.h"
#include "err.h"
#include "tls.h"
#include "../store/certs.h"
#include "../store/store.h"
#include "../store/users.h"

#define DAYS_DEFAULT 30
#define DAYS_MAX 36500

/* Certificate fields read from --cert, kept for the record (the cert_rec borrows them). */
static struct tls_info info;

/*
 * The certificate the options name, into c->cert.fp (and, from a file, its
 * subject, issuer, CN and expiry). need_file: only --cert will do.
 * Returns 0, 1 (file unreadable or not a certificate) or 2 (usage).
 */
static int cert_arg(struct cli *c, bool need_file)
{
    const char *file = c->opt[CLI_OPT_CERT], *hex = c->opt[CLI_OPT_FINGERPRINT];
    if (file && hex)
        return cli_usage_error(c, "--cert and --fingerprint exclude each other");
    if (need_file && !file)
        return cli_usage_error(c, "--cert FILE is required");
    if (!file && !hex)
        return cli_usage_error(c, "--cert FILE or --fingerprint HEX is required");
    if (hex) {
        if (!backend_fp_parse(hex, c->cert.fp))
            return cli_failed(c, "invalid fingerprint '%.120s' (expected the SHA-256 of the "
                              "certificate: 64 hex digits, optionally colon-separated pairs)", hex);
        c->cert.identity = c->cert.subject = c->cert.issuer = "";
        return 0;
    }
    char why[512];
    if (tls_global_init() != WD_OK)
        return cli_failed(c, "cannot initialise WolfSSL");
    enum wd_err e = tls_cert_file(file, &info, why, sizeof why);
    if (e != WD_OK)
        return cli_failed(c, "%s", e == WD_ENOMEM ? "out of memory" : why);
    if (!backend_fp_parse(info.fingerprint, c->cert.fp))
        return cli_failed(c, "%s: no fingerprint", file);
    c->cert.identity = info.cn;
    c->cert.subject = info.subject;
    c->cert.issuer = info.issuer;
    c->cert.not_after = info.not_after;
    return 0;
}

/* ---------------------------------------------------------------- user cert */

static enum wd_err body_pin_add(struct store_txn *t, struct cli *c)
{
    return certs_pin_add(t, &c->cert);
}

static enum wd_err body_pin_del(struct store_txn *t, struct cli *c)
{
    return certs_pin_del(t, c->pos[0], c->cert.fp);
}

static enum wd_err body_pins(struct store_txn *t, struct cli *c)
{
    struct user *u;
    enum wd_err e = users_get(t, c->pos[0], &u);
    if (e != WD_OK)
        return e;
    backend_user_free(u);
    return certs_list(t, CERTREC_PIN, c->pos[0], &c->l.certs, &c->l.ncerts);
}

static json_t *cert_json(const struct cert_rec *r)
{
    char hex[CERT_FP_HEX];
    backend_fp_hex(r->fp, hex);
    json_t *o = json_pack("{s:s, s:s, s:s}", "fingerprint", hex, "subject", r->subject,
                          "issuer", r->issuer);
    if (!o)
        return NULL;
    json_object_set_new(o, "not_after", cli_json_time(r->not_after));
    if (r->kind == CERTREC_PIN)
        json_object_set_new(o, "user", json_string(r->user));
    if (r->kind == CERTREC_REVOKED)
        json_object_set_new(o, "reason", json_string(r->reason));
    if (r->kind != CERTREC_SEEN) {
        json_object_set_new(o, "actor", json_string(r->actor));
        json_object_set_new(o, "created", cli_json_time(r->created));
    }
    return o;
}

static int list_pins(struct cli *c)
{
    if (cli_read_txn(c, body_pins))
        return 1;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->l.ncerts; i++)
            json_array_append_new(a, cert_json(&c->l.certs[i]));
        cli_listing_free(c);
        return cli_emit_json(a);
    }
    struct cli_table t = {5, {"FINGERPRINT", "SUBJECT", "EXPIRES", "ADDED", "BY"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.ncerts; i++) {
        const struct cert_rec *r = &c->l.certs[i];
        char hex[CERT_FP_HEX], exp[32], added[32];
        backend_fp_hex(r->fp, hex);
        cli_fmt_time(r->not_after, exp, sizeof exp);
        cli_fmt_time(r->created, added, sizeof added);
        cli_table_row(&t, hex, r->subject, exp, added, r->actor);
    }
    if (!c->l.ncerts)
        printf("user '%s' pins no certificate: any valid certificate with its identity "
               "authenticates as it\n", c->pos[0]);
    else
        cli_table_print(&t, "");
    cli_table_free(&t);
    cli_listing_free(c);
    return 0;
}

int cli_cmd_user_cert(struct cli *c)
{
    if (!strcmp(c->cmd->words, "user cert list"))
        return list_pins(c);
    bool add = !strcmp(c->cmd->words, "user cert add");
    if (!users_valid_name(c->pos[0]))
        return cli_failed(c, "invalid user name '%.100s'", c->pos[0]);
    int rc = cert_arg(c, add);
    if (rc)
        return rc;
    char hex[CERT_FP_HEX];
    backend_fp_hex(c->cert.fp, hex);
    snprintf(c->target, sizeof c->target, "%.100s %s", c->pos[0], hex);
    c->cert.kind = CERTREC_PIN;
    c->cert.user = (char *)c->pos[0];
    c->cert.reason = "";
    c->cert.actor = c->actor;
    c->cert.created = (int64_t)time(NULL);
    if (cli_run_write(c, add ? body_pin_add : body_pin_del))
        return 1;
    if (add)
        return cli_done(c, "user '%s' pins certificate %s (%s); only its pinned certificates "
                           "authenticate as it", c->pos[0], hex, c->cert.subject);
    return cli_done(c, "user '%s' no longer pins certificate %s", c->pos[0], hex);
}

/* ---------------------------------------------------------------- cert */

static enum wd_err body_revoke(struct store_txn *t, struct cli *c)
{
    return certs_revoke(t, &c->cert);
}

static enum wd_err body_unrevoke(struct store_txn *t, struct cli *c)
{
    return certs_unrevoke(t, c->cert.fp);
}

int cli_cmd_cert_revoke(struct cli *c)
{
    int rc = cert_arg(c, false);
    if (rc)
        return rc;
    const char *reason = c->opt[CLI_OPT_REASON] ? c->opt[CLI_OPT_REASON] : "";
    if (!users_valid_text(reason, CERTS_REASON_MAX))
        return cli_failed(c, "invalid reason (no control characters, at most %d bytes)",
                          CERTS_REASON_MAX);
    char hex[CERT_FP_HEX];
    backend_fp_hex(c->cert.fp, hex);
    snprintf(c->target, sizeof c->target, "%s", hex);
    c->cert.kind = CERTREC_REVOKED;
    c->cert.reason = (char *)reason;
    c->cert.actor = c->actor;
    c->cert.created = (int64_t)time(NULL);
    if (cli_run_write(c, body_revoke))
        return 1;
    return cli_done(c, "certificate %s revoked%s%s", hex, *c->cert.subject ? ": " : "",
                    c->cert.subject);
}

int cli_cmd_cert_unrevoke(struct cli *c)
{
    int rc = cert_arg(c, false);
    if (rc)
        return rc;
    char hex[CERT_FP_HEX];
    backend_fp_hex(c->cert.fp, hex);
    snprintf(c->target, sizeof c->target, "%s", hex);
    if (cli_run_write(c, body_unrevoke))
        return 1;
    return cli_done(c, "certificate %s is no longer revoked", hex);
}

static enum wd_err body_list(struct store_txn *t, struct cli *c)
{
    uint8_t kind = c->cmd->run == cli_cmd_cert_list_seen ? CERTREC_SEEN : CERTREC_REVOKED;
    return certs_list(t, kind, NULL, &c->l.certs, &c->l.ncerts);
}

int cli_cmd_cert_list_revoked(struct cli *c)
{
    if (cli_read_txn(c, body_list))
        return 1;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->l.ncerts; i++)
            json_array_append_new(a, cert_json(&c->l.certs[i]));
        cli_listing_free(c);
        return cli_emit_json(a);
    }
    struct cli_table t = {5, {"FINGERPRINT", "SUBJECT", "REVOKED", "BY", "REASON"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.ncerts; i++) {
        const struct cert_rec *r = &c->l.certs[i];
        char hex[CERT_FP_HEX], when[32];
        backend_fp_hex(r->fp, hex);
        cli_fmt_time(r->created, when, sizeof when);
        cli_table_row(&t, hex, *r->subject ? r->subject : "-", when, r->actor, r->reason);
    }
    cli_table_print(&t, "");
    cli_table_free(&t);
    cli_listing_free(c);
    return 0;
}

/* Soonest expiry first; unknown expiry last. */
static int by_expiry(const void *x, const void *y)
{
    const struct cert_rec *a = x, *b = y;
    int64_t ea = a->not_after ? a->not_after : INT64_MAX;
    int64_t eb = b->not_after ? b->not_after : INT64_MAX;
    return ea < eb ? -1 : ea > eb;
}

/* Whole days from now to t, rounded down (negative once expired). */
static long long days_left(int64_t t, int64_t now)
{
    int64_t d = t - now;
    return (long long)(d >= 0 ? d / 86400 : -((-d + 86399) / 86400));
}

int cli_cmd_cert_list_seen(struct cli *c)
{
    unsigned long days = DAYS_DEFAULT;
    if (c->opt[CLI_OPT_DAYS] && (!cli_parse_uint(c->opt[CLI_OPT_DAYS], DAYS_MAX, &days) || !days))
        return cli_usage_error(c, "--days must be a number of days, 1 to %d", DAYS_MAX);
    if (cli_read_txn(c, body_list))
        return 1;
    int64_t now = (int64_t)time(NULL), since = now - (int64_t)days * 86400;
    size_t n = 0;
    for (size_t i = 0; i < c->l.ncerts; i++) { /* keep those seen since, in place */
        if (c->l.certs[i].last_seen >= since) {
            struct cert_rec keep = c->l.certs[i];
            c->l.certs[i] = c->l.certs[n];
            c->l.certs[n++] = keep;
        }
    }
    if (n)
        qsort(c->l.certs, n, sizeof *c->l.certs, by_expiry);
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++) {
            const struct cert_rec *r = &c->l.certs[i];
            json_t *o = cert_json(r);
            if (o) {
                json_object_set_new(o, "identity", json_string(r->identity));
                json_object_set_new(o, "days_left", r->not_after
                                        ? json_integer(days_left(r->not_after, now))
                                        : json_null());
                json_object_set_new(o, "first_seen", cli_json_time(r->created));
                json_object_set_new(o, "last_seen", cli_json_time(r->last_seen));
            }
            json_array_append_new(a, o);
        }
        cli_listing_free(c);
        return cli_emit_json(a);
    }
    struct cli_table t = {8, {"IDENTITY", "SUBJECT", "ISSUER", "EXPIRES", "DAYS", "FIRST SEEN",
                              "LAST SEEN", "FINGERPRINT"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const struct cert_rec *r = &c->l.certs[i];
        char hex[CERT_FP_HEX], exp[32], dl[24], first[32], last[32];
        backend_fp_hex(r->fp, hex);
        cli_fmt_time(r->not_after, exp, sizeof exp);
        if (r->not_after)
            snprintf(dl, sizeof dl, "%lld", days_left(r->not_after, now));
        else
            snprintf(dl, sizeof dl, "-");
        cli_fmt_time(r->created, first, sizeof first);
        cli_fmt_time(r->last_seen, last, sizeof last);
        cli_table_row(&t, *r->identity ? r->identity : "-", r->subject, r->issuer, exp, dl,
                      first, last, hex);
    }
    cli_table_print(&t, "");
    cli_table_free(&t);
    cli_listing_free(c);
    return 0;
}
