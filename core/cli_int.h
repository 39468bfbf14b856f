/*
 * cli_int.h - private to core/cli*.c: what the admin command files share.
 * It exists because `warden ...` is split by command group (cli_user.c,
 * cli_role.c, cli_access.c, cli_store.c) while argv parsing, the command
 * table, output helpers and store access stay in cli.c; every group needs
 * struct cli and those helpers. No other file includes it: the public face
 * of the admin commands is cli.h.
 */
#ifndef WD_CLI_INT_H
#define WD_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "backend.h"
#include "config.h"
#include "err.h"
#include "pw.h"

struct store;
struct store_txn;

#define CLI_MAX_POS 8
#define CLI_MAX_ROLES 64
#define CLI_GEN_PW_LEN 24        /* characters of a generated password (144 bits) */

enum cli_opt {
    CLI_OPT_ROLE, CLI_OPT_PASSWORD_STDIN, CLI_OPT_GENERATE, CLI_OPT_NO_PASSWORD, CLI_OPT_NOTE,
    CLI_OPT_QOS, CLI_OPT_NO_RETAIN, CLI_OPT_AT, CLI_OPT_DESCRIPTION, CLI_OPT_PREFIX,
    CLI_OPT_REGEX, CLI_OPT_CLIENT, CLI_OPT_USER, CLI_OPT_ADDRESS, CLI_OPT_FOR, CLI_OPT_UNTIL,
    CLI_OPT_REASON, CLI_OPT_LIMIT, CLI_OPT_FOLLOW, CLI_OPT_FORCE, CLI_OPT_TARGET_MS,
    CLI_OPT_PASSWD, CLI_OPT_ACL, CLI_OPT_DYNSEC, CLI_OPT_SKIP_BAD, CLI_OPT_ON_DENY, CLI_OPT_CN,
    CLI_OPT_RETAIN, CLI_OPT_CERT, CLI_OPT_FINGERPRINT, CLI_OPT_DAYS,
    /* warden token ... */
    CLI_OPT_SUBJECT, CLI_OPT_CLIENT_ID, CLI_OPT_SCOPE, CLI_OPT_TTL, CLI_OPT_ALG, CLI_OPT_ISS,
    CLI_OPT_JWKS, CLI_OPT_HS256_STDIN, CLI_OPT_ED25519_PUBLIC, CLI_OPT_AUDIENCE,
    CLI_OPT_INTROSPECT, CLI_OPT_SECRET_STDIN, CLI_OPT_CACHE, CLI_OPT_CAFILE, CLI_OPT_TOKEN_STDIN,
    CLI_OPT_COUNT
};

struct cli;
/* A command handler: returns the exit status (0, 1 or 2). */
typedef int (*cli_cmd_fn)(struct cli *c);

struct cli_command {
    const char *words;   /* "user rule add" */
    int minpos, maxpos;  /* positional arguments after the words */
    uint64_t opts;       /* 1 << CLI_OPT_* bits allowed (more than 32 options) */
    bool write;          /* creates the store when missing */
    cli_cmd_fn run;
    const char *args;    /* usage text after the words */
    const char *help;    /* one line */
};

enum cli_rule_op { RULE_OP_ADD, RULE_OP_DEL, RULE_OP_SET, RULE_OP_MOVE };

struct cli_rule_edit {
    uint8_t op;      /* enum cli_rule_op */
    struct rule r;   /* add, set: borrows its filter from argv */
    size_t at;       /* add: insert position, 0 = end */
    size_t index;    /* del, set, move: the rule (1-based) */
    size_t to;       /* move: its new position (1-based) */
};

/* What a read command fetched; owned, freed by cli_listing_free(). */
struct cli_listing {
    struct user **users;
    size_t nusers;
    struct role **roles;
    size_t nroles;
    struct binding *binds;
    size_t nbinds;
    struct ban *bans;
    size_t nbans;
    struct user *user;
    struct role *role;
    struct audit_entry *audit;
    size_t naudit;
    uint64_t after;
    size_t limit;
    struct cert_rec *certs;
    size_t ncerts;
};

/* One run of one command; cli_main() owns it (a static: commands run once per process). */
struct cli {
    const struct cli_command *cmd;
    const char *pos[CLI_MAX_POS];
    int npos;
    const char *opt[CLI_OPT_COUNT]; /* value, or "" for a flag; NULL when absent */
    const char *roles[CLI_MAX_ROLES];
    int nroles;
    bool json;
    const char *config_file, *store_dir;
    struct config cfg;
    struct store *st;
    char actor[64];
    bool exec;                      /* cli_exec(): in the broker, never read the terminal */
    const char *password_given;     /* cli_exec(): the password, instead of stdin */
    char target[300];               /* audit target of a write */
    /* Filled by write bodies for the success message. */
    size_t count;
    char password[CLI_GEN_PW_LEN + 1];
    char hash[PW_HASH_MAX];
    bool have_hash;
    struct cli_rule_edit redit;     /* rule add/del */
    struct binding bsel;            /* client bind/unbind: borrows from argv */
    struct ban ban;                 /* ban add/del: borrows from argv */
    struct cert_rec cert;           /* cert commands: fingerprint, fields borrowed */
    size_t npins;                   /* user del: certificate pins removed */
    struct cli_listing l;           /* read results */
};

/* ---------------------------------------------------------------- cli.c: messages */

/* Malformed command line: reason and usage on stderr. Returns 2. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_usage_error(struct cli *c, const char *fmt, ...);

/* The command failed: one line on stderr, {"ok":false,...} on stdout with --json. Returns 1. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_failed(struct cli *c, const char *fmt, ...);

/* Success: a sentence for people, {"ok":true,"message":...} for scripts. Returns 0 (1: OOM). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_done(struct cli *c, const char *fmt, ...);

/* Print v on one line of stdout. Takes: v (NULL: out of memory, returns 1). Returns 0 or 1. */
int cli_emit_json(json_t *v);

/* Unix seconds t as RFC 3339 UTC into out[0..n), or "-" when t <= 0. */
void cli_fmt_time(int64_t t, char *out, size_t n);
/* The same as a JSON string, or null when t <= 0. Returns owned: json_decref(). */
json_t *cli_json_time(int64_t t);

/* ---------------------------------------------------------------- cli.c: tables */

#define CLI_TABLE_COLS 8

/* Columns sized to their widest cell. Init as {ncols, {headings}, NULL, 0, 0, 0}. */
struct cli_table {
    int ncols;
    const char *head[CLI_TABLE_COLS];
    char **cells;   /* owned, row-major */
    size_t nrows, cap;
    bool oom;       /* an allocation failed: rows or cells may be missing */
};

/* Append a row of ncols strings (copied; NULL prints as ""). */
void cli_table_row(struct cli_table *t, ...);
/* Print the heading and the rows on stdout, each line after indent. */
void cli_table_print(struct cli_table *t, const char *indent);
/* Free the cells (not t itself). */
void cli_table_free(struct cli_table *t);

/* ---------------------------------------------------------------- cli.c: values, store */

/* Decimal digits only, at most max, into *out. */
bool cli_parse_uint(const char *s, unsigned long max, unsigned long *out);

/* A transaction body: reads pos/opt, fills c->l or acts on the store. */
typedef enum wd_err (*cli_body_fn)(struct store_txn *t, struct cli *c);

/* Run fn in a write transaction with its audit entry. Returns 0, or prints why and returns 1. */
int cli_run_write(struct cli *c, cli_body_fn fn);
/* Run fn in a read transaction. Returns 0, or prints why and returns 1. */
int cli_read_txn(struct cli *c, cli_body_fn fn);
/* Free what a read command fetched into c->l and clear it. */
void cli_listing_free(struct cli *c);

/* ---------------------------------------------------------------- cli_user.c */

int cli_cmd_user_add(struct cli *c);
int cli_cmd_user_del(struct cli *c);
int cli_cmd_user_passwd(struct cli *c);
int cli_cmd_user_enable(struct cli *c);   /* also `user disable` */
int cli_cmd_user_list(struct cli *c);
int cli_cmd_user_show(struct cli *c);
int cli_cmd_user_role(struct cli *c);     /* `user role add|del` */
/* Inside a write: load user pos[0], change it with edit, store it. */
enum wd_err cli_user_edit(struct store_txn *t, struct cli *c,
                          enum wd_err (*edit)(struct store_txn *, struct cli *, struct user *));

/* ---------------------------------------------------------------- cli_role.c */

int cli_cmd_role_add(struct cli *c);
int cli_cmd_role_del(struct cli *c);
int cli_cmd_role_list(struct cli *c);
int cli_cmd_role_show(struct cli *c);
int cli_cmd_role_set(struct cli *c);      /* --on-deny, --description */
int cli_cmd_rule(struct cli *c);          /* `user|role rule add|del` */
/* Rules v[0..n) as a numbered table on stdout, each line after indent. */
void cli_rules_table(const struct rule *v, size_t n, const char *indent);
/* Rules v[0..n) as a JSON array. Returns owned: json_decref() (NULL: out of memory). */
json_t *cli_rules_json(const struct rule *v, size_t n);

/* ---------------------------------------------------------------- cli_acl.c */

int cli_cmd_acl_explain(struct cli *c);

/* ---------------------------------------------------------------- cli_access.c */

int cli_cmd_client_bind(struct cli *c);
int cli_cmd_client_unbind(struct cli *c);
int cli_cmd_client_list(struct cli *c);
int cli_cmd_ban_add(struct cli *c);
int cli_cmd_ban_del(struct cli *c);
int cli_cmd_ban_list(struct cli *c);

/* ---------------------------------------------------------------- cli_cert.c */

int cli_cmd_user_cert(struct cli *c);     /* `user cert add|del|list` */
int cli_cmd_cert_revoke(struct cli *c);
int cli_cmd_cert_unrevoke(struct cli *c);
int cli_cmd_cert_list_revoked(struct cli *c);
int cli_cmd_cert_list_seen(struct cli *c);
/* "30s", "10m", "2h", "7d", "1w" -> seconds (cli_access.c). */
bool cli_parse_duration(const char *s, int64_t *out);
/* RFC 3339 -> Unix seconds (cli_access.c). */
bool cli_parse_rfc3339(const char *s, int64_t *out);

/* ---------------------------------------------------------------- cli_token.c */

int cli_cmd_token_issue(struct cli *c);
int cli_cmd_token_revoke(struct cli *c);
int cli_cmd_token_list_revoked(struct cli *c);
int cli_cmd_token_key_export(struct cli *c);
int cli_cmd_token_issuer_add(struct cli *c);
int cli_cmd_token_issuer_del(struct cli *c);
int cli_cmd_token_issuer_list(struct cli *c);
int cli_cmd_token_issuer_show(struct cli *c);
int cli_cmd_token_issuer_reload(struct cli *c);

/* ---------------------------------------------------------------- cli_store.c */

int cli_cmd_audit(struct cli *c);
int cli_cmd_store_backup(struct cli *c);
int cli_cmd_store_verify(struct cli *c);
int cli_cmd_store_info(struct cli *c);
int cli_cmd_store_tune(struct cli *c);    /* needs no store: cli_main() opens none for it */
int cli_cmd_import(struct cli *c);

#endif
