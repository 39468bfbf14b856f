/*
 * cli.c - `warden user|role|client|ban|audit|store|import ...`: the shared
 * part of the admin commands over the store. It owns argv parsing, the
 * options, the command table and dispatch, the output helpers (messages,
 * JSON, tables) and opening the store; the commands live in cli_user.c,
 * cli_role.c, cli_access.c and cli_store.c (shared declarations: cli_int.h).
 *
 * Commands are rows of commands[] (words, argument counts, allowed options,
 * write or read, handler, usage), so the parser, `--help` and the usage
 * messages come from one table. Global options (-c, --store, --json, --help)
 * are taken out first, wherever they stand. A write command is one store
 * transaction that also appends its audit entry, so a failed command changes
 * nothing. Exit status: 0 ok, 1 failed (one line on stderr, and
 * {"ok":false,"error":...} on stdout with --json), 2 malformed command.
 */
#include "cli.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backend.h"
#include "cli_int.h"
#include "config.h"
#include "err.h"
#include "mem.h"
#include "../store/audit.h"
#include "../store/roles.h"
#include "../store/store.h"
#include "../store/users.h"

static const struct {
    const char *name;
    bool arg;
} opts[CLI_OPT_COUNT] = {
    [CLI_OPT_ROLE] = {"--role", true},
    [CLI_OPT_PASSWORD_STDIN] = {"--password-stdin", false},
    [CLI_OPT_GENERATE] = {"--generate-password", false},
    [CLI_OPT_NO_PASSWORD] = {"--no-password", false},
    [CLI_OPT_NOTE] = {"--note", true},           [CLI_OPT_QOS] = {"--qos", true},
    [CLI_OPT_NO_RETAIN] = {"--no-retain", false}, [CLI_OPT_AT] = {"--at", true},
    [CLI_OPT_DESCRIPTION] = {"--description", true},
    [CLI_OPT_PREFIX] = {"--prefix", true},       [CLI_OPT_REGEX] = {"--regex", true},
    [CLI_OPT_CLIENT] = {"--client", true},       [CLI_OPT_USER] = {"--user", true},
    [CLI_OPT_ADDRESS] = {"--address", true},     [CLI_OPT_FOR] = {"--for", true},
    [CLI_OPT_UNTIL] = {"--until", true},         [CLI_OPT_REASON] = {"--reason", true},
    [CLI_OPT_LIMIT] = {"--limit", true},         [CLI_OPT_FOLLOW] = {"--follow", false},
    [CLI_OPT_FORCE] = {"--force", false},        [CLI_OPT_TARGET_MS] = {"--target-ms", true},
    [CLI_OPT_PASSWD] = {"--passwd", true},       [CLI_OPT_ACL] = {"--acl", true},
    [CLI_OPT_DYNSEC] = {"--dynsec", true},       [CLI_OPT_SKIP_BAD] = {"--skip-bad", false},
    [CLI_OPT_ON_DENY] = {"--on-deny", true},     [CLI_OPT_CN] = {"--cn", true},
    [CLI_OPT_RETAIN] = {"--retain", false},      [CLI_OPT_CERT] = {"--cert", true},
    [CLI_OPT_FINGERPRINT] = {"--fingerprint", true}, [CLI_OPT_DAYS] = {"--days", true},
    [CLI_OPT_SUBJECT] = {"--subject", true},     [CLI_OPT_CLIENT_ID] = {"--client-id", true},
    [CLI_OPT_SCOPE] = {"--scope", true},         [CLI_OPT_TTL] = {"--ttl", true},
    [CLI_OPT_ALG] = {"--alg", true},             [CLI_OPT_ISS] = {"--iss", true},
    [CLI_OPT_JWKS] = {"--jwks", true},           [CLI_OPT_HS256_STDIN] = {"--hs256-secret-stdin", false},
    [CLI_OPT_ED25519_PUBLIC] = {"--ed25519-public", true},
    [CLI_OPT_AUDIENCE] = {"--audience", true},
    [CLI_OPT_INTROSPECT] = {"--introspect", true}, [CLI_OPT_SECRET_STDIN] = {"--secret-stdin", false},
    [CLI_OPT_TOKEN_STDIN] = {"--token-stdin", false},
    [CLI_OPT_CACHE] = {"--cache", true},         [CLI_OPT_CAFILE] = {"--cafile", true},
};

#define O(x) (UINT64_C(1) << CLI_OPT_##x)

/* cli_exec(): JSON goes to this stream instead of stdout, and nothing to stderr. */
static _Thread_local FILE *capture;

/* ---------------------------------------------------------------- messages */

int cli_usage_error(struct cli *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (capture) {
        cli_emit_json(json_pack("{s:b, s:s}", "ok", 0, "error", msg));
        return 2;
    }
    if (c->cmd)
        fprintf(stderr, "warden %s: %s\nusage: warden %s%s%s\n", c->cmd->words, msg,
                c->cmd->words, c->cmd->args[0] ? " " : "", c->cmd->args);
    else
        fprintf(stderr, "warden: %s (see warden user --help)\n", msg);
    return 2;
}

int cli_failed(struct cli *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!capture)
        fprintf(stderr, "warden %s: %s\n", c->cmd ? c->cmd->words : "", msg);
    if (c->json)
        cli_emit_json(json_pack("{s:b, s:s}", "ok", 0, "error", msg));
    return 1;
}

/* Print a JSON value (taking it) on one line. */
int cli_emit_json(json_t *v)
{
    if (!v) {
        if (!capture)
            fprintf(stderr, "warden: out of memory\n");
        return 1;
    }
    FILE *out = capture ? capture : stdout;
    json_dumpf(v, out, JSON_COMPACT);
    fputc('\n', out);
    json_decref(v);
    return 0;
}

/* Success: a sentence for people, {"ok":true,...} for scripts (extra may be NULL). */
int cli_done(struct cli *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->json)
        return cli_emit_json(json_pack("{s:b, s:s}", "ok", 1, "message", msg));
    printf("%s\n", msg);
    return 0;
}

void cli_fmt_time(int64_t t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&tt, &tm))
        snprintf(out, n, "-");
    else
        strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *cli_json_time(int64_t t)
{
    char buf[32];
    if (t <= 0)
        return json_null();
    cli_fmt_time(t, buf, sizeof buf);
    return json_string(buf);
}
/* ---------------------------------------------------------------- tables */

void cli_table_row(struct cli_table *t, ...)
{
    if (t->oom)
        return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **nc = wd_realloc(t->cells, cap * (size_t)t->ncols * sizeof *nc);
        if (!nc) {
            t->oom = true;
            return;
        }
        t->cells = nc;
        t->cap = cap;
    }
    va_list ap;
    va_start(ap, t);
    for (int i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        char *d = wd_strdup(s ? s : "");
        if (!d)
            t->oom = true;
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = d;
    }
    va_end(ap);
    t->nrows++;
}

/* Display width of UTF-8 text (code points; good enough for names and filters). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

void cli_table_print(struct cli_table *t, const char *indent)
{
    size_t w[CLI_TABLE_COLS] = {0};
    for (int i = 0; i < t->ncols; i++)
        w[i] = width(t->head[i]);
    for (size_t r = 0; r < t->nrows; r++)
        for (int i = 0; i < t->ncols; i++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)i];
            if (s && width(s) > w[i])
                w[i] = width(s);
        }
    for (size_t r = 0; r <= t->nrows; r++) {
        fputs(indent, stdout);
        for (int i = 0; i < t->ncols; i++) {
            const char *s = r == 0 ? t->head[i] : t->cells[(r - 1) * (size_t)t->ncols + (size_t)i];
            if (!s)
                s = "";
            if (i == t->ncols - 1)
                printf("%s", s);
            else
                printf("%s%*s  ", s, (int)(w[i] - width(s)), "");
        }
        fputc('\n', stdout);
    }
}

void cli_table_free(struct cli_table *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        wd_free(t->cells[i]);
    wd_free(t->cells);
}
/* ---------------------------------------------------------------- parsing values */

bool cli_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (!*s)
        return false;
    unsigned long v = 0;
    for (; *s; s++) {
        unsigned long d = (unsigned long)(*s - '0');
        if (*s < '0' || *s > '9' || d > max || v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* ---------------------------------------------------------------- store access */

static int open_store(struct cli *c)
{
    struct store_opts o = {.create = c->cmd->write, .audit_max = c->cfg.audit_max_entries};
    char why[512];
    enum wd_err e = store_open(c->cfg.store_dir, &o, &c->st, why, sizeof why);
    if (e == WD_ENOTFOUND)
        return cli_failed(c, "no store in %s (use --store DIR or -c FILE; the first change creates "
                          "it)", c->cfg.store_dir);
    if (e != WD_OK)
        return cli_failed(c, "%s", why);
    return 0;
}

struct job {
    struct cli *c;
    cli_body_fn fn;
};

/* A write: the body, then its audit entry, in one transaction. */
static enum wd_err job_write(struct store_txn *t, void *arg)
{
    struct job *j = arg;
    enum wd_err e = j->fn(t, j->c);
    if (e == WD_OK)
        e = audit_append(t, j->c->actor, j->c->cmd->words, j->c->target, "ok");
    return e;
}

static enum wd_err job_read(struct store_txn *t, void *arg)
{
    struct job *j = arg;
    return j->fn(t, j->c);
}

/* Run fn in a write transaction. Returns 0 or prints the reason and returns 1. */
int cli_run_write(struct cli *c, cli_body_fn fn)
{
    struct job j = {c, fn};
    enum wd_err e = store_write(c->st, job_write, &j);
    if (e != WD_OK)
        return cli_failed(c, "%s", store_errmsg(c->st)[0] ? store_errmsg(c->st) : wd_strerror(e));
    return 0;
}

int cli_read_txn(struct cli *c, cli_body_fn fn)
{
    struct job j = {c, fn};
    enum wd_err e = store_read(c->st, job_read, &j);
    if (e != WD_OK)
        return cli_failed(c, "%s", store_errmsg(c->st)[0] ? store_errmsg(c->st) : wd_strerror(e));
    return 0;
}

void cli_listing_free(struct cli *c)
{
    users_list_free(c->l.users, c->l.nusers);
    roles_list_free(c->l.roles, c->l.nroles);
    backend_bindings_free(c->l.binds, c->l.nbinds);
    backend_bans_free(c->l.bans, c->l.nbans);
    backend_user_free(c->l.user);
    backend_role_free(c->l.role);
    backend_audit_free(c->l.audit, c->l.naudit);
    backend_certs_free(c->l.certs, c->l.ncerts);
    memset(&c->l, 0, sizeof c->l);
}

/* ---------------------------------------------------------------- the table */

static int cmd_help(struct cli *c);

#define PW_OPTS (O(PASSWORD_STDIN) | O(GENERATE) | O(NO_PASSWORD))
#define RULE_OPTS (O(QOS) | O(NO_RETAIN) | O(AT))
#define BAN_SEL (O(CLIENT) | O(USER) | O(ADDRESS))

static const struct cli_command commands[] = {
    {"user add", 1, 1, O(ROLE) | PW_OPTS | O(NOTE), true, cli_cmd_user_add,
     "NAME [--role ROLE]... [--password-stdin | --generate-password | --no-password] "
     "[--note TEXT]", "add a user"},
    {"user del", 1, 1, 0, true, cli_cmd_user_del, "NAME",
     "delete a user, its client-id bindings and certificate pins"},
    {"user passwd", 1, 1, PW_OPTS, true, cli_cmd_user_passwd,
     "NAME [--password-stdin | --generate-password | --no-password]", "set a user's password"},
    {"user enable", 1, 1, 0, true, cli_cmd_user_enable, "NAME", "let a user connect again"},
    {"user disable", 1, 1, 0, true, cli_cmd_user_enable, "NAME", "refuse a user's connections"},
    {"user list", 0, 0, 0, false, cli_cmd_user_list, "", "list users"},
    {"user show", 1, 1, 0, false, cli_cmd_user_show, "NAME", "show a user, its roles and rules"},
    {"user role add", 2, 2, 0, true, cli_cmd_user_role, "NAME ROLE", "give a user a role"},
    {"user role del", 2, 2, 0, true, cli_cmd_user_role, "NAME ROLE", "take a role from a user"},
    {"user rule add", 4, 4, RULE_OPTS, true, cli_cmd_rule,
     "NAME (allow|deny) ACTIONS FILTER [--qos N] [--no-retain] [--at INDEX]",
     "add a rule of the user's own"},
    {"user rule del", 2, 2, 0, true, cli_cmd_rule, "NAME INDEX", "delete a user's rule"},
    {"user cert add", 1, 1, O(CERT), true, cli_cmd_user_cert, "NAME --cert FILE",
     "pin a certificate: then only the user's pinned certificates authenticate as it"},
    {"user cert del", 1, 1, O(CERT) | O(FINGERPRINT), true, cli_cmd_user_cert,
     "NAME (--cert FILE | --fingerprint HEX)", "remove a pin (a live session using it ends)"},
    {"user cert list", 1, 1, 0, false, cli_cmd_user_cert, "NAME",
     "list a user's pinned certificates"},
    {"user rule set", 5, 5, O(QOS) | O(NO_RETAIN), true, cli_cmd_rule,
     "NAME INDEX (allow|deny) ACTIONS FILTER [--qos N] [--no-retain]",
     "replace a user's rule (one transaction)"},
    {"user rule move", 3, 3, 0, true, cli_cmd_rule, "NAME INDEX TO",
     "move a user's rule to position TO"},
    {"role add", 1, 1, O(DESCRIPTION), true, cli_cmd_role_add, "NAME [--description TEXT]",
     "add a role"},
    {"role del", 1, 1, O(FORCE), true, cli_cmd_role_del, "NAME [--force]",
     "delete a role (--force: also when users hold it)"},
    {"role list", 0, 0, 0, false, cli_cmd_role_list, "", "list roles"},
    {"role show", 1, 1, 0, false, cli_cmd_role_show, "NAME", "show a role and its rules"},
    {"role set", 1, 1, O(ON_DENY) | O(DESCRIPTION), true, cli_cmd_role_set,
     "NAME [--on-deny drop|disconnect|strikes:N|none] [--description TEXT]",
     "change a role's policy on denials or its description"},
    {"role rule add", 4, 4, RULE_OPTS, true, cli_cmd_rule,
     "ROLE (allow|deny) ACTIONS FILTER [--qos N] [--no-retain] [--at INDEX]", "add a rule"},
    {"role rule del", 2, 2, O(FORCE), true, cli_cmd_rule, "ROLE INDEX [--force]",
     "delete a rule (--force: also the last one of a role users hold)"},
    {"role rule set", 5, 5, O(QOS) | O(NO_RETAIN), true, cli_cmd_rule,
     "ROLE INDEX (allow|deny) ACTIONS FILTER [--qos N] [--no-retain]",
     "replace a rule (one transaction)"},
    {"role rule move", 3, 3, 0, true, cli_cmd_rule, "ROLE INDEX TO", "move a rule to position TO"},
    {"acl explain", 2, 2, O(USER) | O(CLIENT) | O(CN) | O(QOS) | O(RETAIN), false,
     cli_cmd_acl_explain,
     "[--user NAME] [--client ID] [--cn CN] (publish|subscribe|receive) TOPIC [--qos N] "
     "[--retain]", "which rule decides a request, and the verdict (no --user: anonymous)"},
    {"client bind", 1, 2, O(PREFIX) | O(REGEX), true, cli_cmd_client_bind,
     "(CLIENTID | --prefix P | --regex R) USER", "bind a client id to a user"},
    {"client unbind", 0, 1, O(PREFIX) | O(REGEX), true, cli_cmd_client_unbind,
     "CLIENTID | --prefix P | --regex R", "remove a binding"},
    {"client list", 0, 0, 0, false, cli_cmd_client_list, "", "list client-id bindings"},
    {"ban add", 0, 0, BAN_SEL | O(FOR) | O(UNTIL) | O(REASON), true, cli_cmd_ban_add,
     "(--client ID | --user NAME | --address CIDR) [--for DURATION | --until TIME] "
     "[--reason TEXT]", "ban a client id, user or address range"},
    {"ban del", 0, 0, BAN_SEL, true, cli_cmd_ban_del, "--client ID | --user NAME | --address CIDR",
     "lift a ban"},
    {"ban list", 0, 0, 0, false, cli_cmd_ban_list, "", "list bans"},
    {"cert revoke", 0, 0, O(CERT) | O(FINGERPRINT) | O(REASON), true, cli_cmd_cert_revoke,
     "(--cert FILE | --fingerprint HEX) [--reason TEXT]",
     "refuse a client certificate (live sessions using it end within a second)"},
    {"cert unrevoke", 0, 0, O(CERT) | O(FINGERPRINT), true, cli_cmd_cert_unrevoke,
     "--fingerprint HEX | --cert FILE", "lift a store revocation"},
    {"cert list-revoked", 0, 0, 0, false, cli_cmd_cert_list_revoked, "",
     "list the store's revoked certificates"},
    {"cert list-seen", 0, 0, O(DAYS), false, cli_cmd_cert_list_seen, "[--days N]",
     "client certificates seen in the last N days (default 30), soonest expiry first"},
    {"audit", 0, 0, O(LIMIT) | O(FOLLOW), false, cli_cmd_audit, "[--limit N] [--follow]",
     "show the audit log (newest last)"},
    {"store backup", 1, 1, 0, false, cli_cmd_store_backup, "FILE",
     "write a consistent compacted copy to FILE"},
    {"store verify", 0, 0, 0, false, cli_cmd_store_verify, "",
     "decode every record, check references"},
    {"store tune", 0, 0, O(TARGET_MS), false, cli_cmd_store_tune, "[--target-ms N]",
     "measure Argon2id here and suggest parameters"},
    {"store info", 0, 0, 0, false, cli_cmd_store_info, "",
     "show the store's location, size, counts"},
    {"import mosquitto", 0, 0, O(PASSWD) | O(ACL) | O(DYNSEC) | O(SKIP_BAD), true, cli_cmd_import,
     "[--passwd FILE] [--acl FILE] [--dynsec FILE] [--skip-bad]",
     "import Mosquitto's password file, acl_file and dynamic-security JSON (all or nothing)"},
    {"token issue", 0, 0, O(USER) | O(SUBJECT) | O(CLIENT_ID) | O(SCOPE) | O(TTL) | O(ALG), true,
     cli_cmd_token_issue,
     "(--user NAME | --subject SUB) [--client-id ID] [--scope \"...\"] [--ttl DURATION] "
     "[--alg eddsa|hs256]", "print an access token signed with Warden's own key"},
    {"token revoke", 0, 1, O(UNTIL) | O(TOKEN_STDIN), true, cli_cmd_token_revoke,
     "(JTI [--until TIME] | --token-stdin)",
     "refuse a token id and end the sessions holding it"},
    {"token list-revoked", 0, 0, 0, false, cli_cmd_token_list_revoked, "",
     "list revoked token ids still in force"},
    {"token key export-public", 0, 0, 0, true, cli_cmd_token_key_export, "",
     "print Warden's public signing key as a JWKS"},
    {"token issuer add", 1, 1,
     O(ISS) | O(JWKS) | O(HS256_STDIN) | O(ED25519_PUBLIC) | O(AUDIENCE) | O(INTROSPECT) |
         O(CLIENT_ID) | O(SECRET_STDIN) | O(CACHE) | O(CAFILE), true,
     cli_cmd_token_issuer_add,
     "NAME (--iss ISS (--jwks FILE | --hs256-secret-stdin | --ed25519-public FILE) | "
     "--introspect URL --client-id ID --secret-stdin [--cache DURATION] [--cafile FILE] "
     "[--iss ISS]) [--audience AUD]", "trust the tokens of an external issuer"},
    {"token issuer del", 1, 1, 0, true, cli_cmd_token_issuer_del, "NAME", "forget an issuer"},
    {"token issuer list", 0, 0, 0, false, cli_cmd_token_issuer_list, "", "list trusted issuers"},
    {"token issuer show", 1, 1, 0, false, cli_cmd_token_issuer_show, "NAME",
     "show an issuer and its keys"},
    {"token issuer reload", 1, 1, 0, true, cli_cmd_token_issuer_reload, "NAME",
     "re-read an issuer's JWKS file"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char *const groups[] = {"user", "role", "acl",   "client", "ban",
                                     "cert", "audit", "store", "import", "token"};

bool cli_is_command(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-c") || !strcmp(a, "--config") || !strcmp(a, "--store")) {
            i++;
            continue;
        }
        if (!strcmp(a, "--json") || !strncmp(a, "--config=", 9) || !strncmp(a, "--store=", 8))
            continue;
        for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
            if (!strcmp(a, groups[g]))
                return true;
        return false;
    }
    return false;
}

/* Print the commands whose words start with prefix. */
static void list_commands(FILE *f, const char *prefix)
{
    fprintf(f, "usage:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strncmp(commands[i].words, prefix, strlen(prefix)))
            fprintf(f, "  warden %s%s%s\n      %s\n", commands[i].words,
                    commands[i].args[0] ? " " : "", commands[i].args, commands[i].help);
    fprintf(f, "options anywhere: -c FILE (configuration), --store DIR (wins over store_dir), "
               "--json\nexit status: 0 ok, 1 failed (reason on stderr), 2 bad usage\n");
}

static int cmd_help(struct cli *c)
{
    list_commands(stdout, c->cmd ? c->cmd->words : "");
    return 0;
}

/* Does the command's word list match words[0..]? Returns the number of words or 0. */
static int match_words(const char *spec, char **words, int nwords)
{
    int n = 0;
    const char *p = spec;
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        if (n >= nwords || strlen(words[n]) != len || strncmp(words[n], p, len))
            return 0;
        n++;
        p = sp ? sp + 1 : p + len;
    }
    return n;
}

static void config_report(void *ctx, const char *file, int line, const char *msg)
{
    (void)ctx;
    if (line > 0)
        fprintf(stderr, "%s:%d: %s\n", file ? file : "config", line, msg);
    else
        fprintf(stderr, "%s: %s\n", file ? file : "config", msg);
}

static void set_actor(struct cli *c)
{
    struct passwd *pw = getpwuid(getuid());
    if (pw && pw->pw_name)
        snprintf(c->actor, sizeof c->actor, "%s", pw->pw_name);
    else
        snprintf(c->actor, sizeof c->actor, "uid:%u", (unsigned)getuid());
}

static void *jansson_alloc(size_t n)
{
    return wd_malloc(n);
}

/* Parse the command's own arguments (global options already removed). 0 or 2. */
static int parse_args(struct cli *c, char **args, int nargs)
{
    bool options = true;
    for (int i = 0; i < nargs; i++) {
        const char *a = args[i];
        if (options && !strcmp(a, "--")) {
            options = false;
            continue;
        }
        if (options && a[0] == '-' && a[1]) {
            const char *eq = strchr(a, '=');
            size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
            int o = -1;
            for (int k = 0; k < CLI_OPT_COUNT; k++)
                if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, a, nlen))
                    o = k;
            if (o < 0 || !(c->cmd->opts & (UINT64_C(1) << o)))
                return cli_usage_error(c, "unknown option '%.*s'", (int)nlen, a);
            const char *val = "";
            if (opts[o].arg) {
                if (eq)
                    val = eq + 1;
                else if (i + 1 < nargs)
                    val = args[++i];
                else
                    return cli_usage_error(c, "%s needs a value", opts[o].name);
            } else if (eq) {
                return cli_usage_error(c, "%s takes no value", opts[o].name);
            }
            if (o == CLI_OPT_ROLE) {
                if (c->nroles == CLI_MAX_ROLES)
                    return cli_usage_error(c, "too many --role options");
                c->roles[c->nroles++] = val;
            } else if (c->opt[o]) {
                return cli_usage_error(c, "%s given twice", opts[o].name);
            }
            c->opt[o] = val;
            continue;
        }
        if (c->npos == CLI_MAX_POS || c->npos >= c->cmd->maxpos)
            return cli_usage_error(c, "unexpected argument '%.60s'", a);
        c->pos[c->npos++] = a;
    }
    if (c->npos < c->cmd->minpos)
        return cli_usage_error(c, "missing argument");
    return 0;
}

int cli_main(int argc, char **argv)
{
    static struct cli cli;
    struct cli *c = &cli;
    memset(c, 0, sizeof *c);
    json_set_alloc_funcs(jansson_alloc, wd_free);

    /* Global options anywhere; the rest keeps its order. */
    char **rest = wd_calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) {
        fprintf(stderr, "warden: out of memory\n");
        return 1;
    }
    int nrest = 0;
    bool help = false, dashdash = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (dashdash) {
            rest[nrest++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            dashdash = true;
            rest[nrest++] = argv[i];
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--config") || !strcmp(a, "--store")) &&
                   i + 1 < argc) {
            if (a[2] == 's')
                c->store_dir = argv[++i];
            else
                c->config_file = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            c->config_file = a + 9;
        } else if (!strncmp(a, "--store=", 8)) {
            c->store_dir = a + 8;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--config") || !strcmp(a, "--store")) {
            wd_free(rest);
            fprintf(stderr, "warden: %s needs a value\n", a);
            return 2;
        } else if (!strcmp(a, "--json")) {
            c->json = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help = true;
        } else {
            rest[nrest++] = argv[i];
        }
    }

    /* The longest command whose words lead the arguments. */
    int best = 0;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        int n = match_words(commands[i].words, rest, nrest);
        if (n > best) {
            best = n;
            c->cmd = &commands[i];
        }
    }
    int rc;
    if (!c->cmd) {
        if (help) {
            list_commands(stdout, nrest ? rest[0] : "");
            rc = 0;
        } else {
            char prefix[64] = "";
            snprintf(prefix, sizeof prefix, "%s%s%s", nrest ? rest[0] : "",
                     nrest > 1 ? " " : "", nrest > 1 ? rest[1] : "");
            fprintf(stderr, "warden: unknown command '%s'\n", prefix);
            list_commands(stderr, nrest ? rest[0] : "");
            rc = 2;
        }
        wd_free(rest);
        return rc;
    }
    if (help) {
        wd_free(rest);
        return cmd_help(c);
    }
    rc = parse_args(c, rest + best, nrest - best);
    wd_free(rest);
    if (rc)
        return rc;

    config_defaults(&c->cfg);
    if (c->config_file) {
        enum wd_err e = config_load(&c->cfg, c->config_file, config_report, NULL);
        if (e != WD_OK) {
            config_fini(&c->cfg);
            return cli_failed(c, "%s: configuration has errors", c->config_file);
        }
    }
    if (c->store_dir) {
        char *d = wd_strdup(c->store_dir);
        if (!d) {
            config_fini(&c->cfg);
            return cli_failed(c, "out of memory");
        }
        config_set_store_dir(&c->cfg, d);
    }
    set_actor(c);
    if (c->npos)
        snprintf(c->target, sizeof c->target, "%s", c->pos[0]);
    if (c->cmd->run == cli_cmd_store_tune) {
        rc = cli_cmd_store_tune(c); /* measures this machine: needs no store */
    } else if ((rc = open_store(c)) == 0) {
        rc = c->cmd->run(c);
        store_close(c->st);
    }
    cli_listing_free(c);
    config_fini(&c->cfg);
    explicit_bzero(c->hash, sizeof c->hash);
    fflush(stdout);
    return rc;
}

/*
 * One command inside the broker process, for the console and the admin
 * socket (core/admin_edit.c): the same table, parser and transaction bodies
 * as `warden ...`, on the broker's open store, with --json output to out.
 */
int cli_exec(struct store *st, const struct config *cfg, const char *actor, const char *password,
             int argc, char **argv, FILE *out)
{
    struct cli *c = wd_calloc(1, sizeof *c);
    if (!c)
        return 1;
    c->json = true;
    c->exec = true;
    c->password_given = password;
    capture = out;
    int best = 0;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        int n = match_words(commands[i].words, argv, argc);
        if (n > best) {
            best = n;
            c->cmd = &commands[i];
        }
    }
    int rc;
    if (!c->cmd) {
        rc = cli_usage_error(c, "unknown command");
    } else if ((rc = parse_args(c, argv + best, argc - best)) == 0) {
        c->cfg = *cfg; /* borrowed: read only, never config_fini()'d here */
        c->st = st;
        snprintf(c->actor, sizeof c->actor, "%s", actor);
        if (c->npos)
            snprintf(c->target, sizeof c->target, "%s", c->pos[0]);
        rc = c->cmd->run(c);
    }
    cli_listing_free(c);
    explicit_bzero(c->hash, sizeof c->hash);
    explicit_bzero(c->password, sizeof c->password);
    wd_free(c);
    fflush(out);
    capture = NULL;
    return rc;
}
