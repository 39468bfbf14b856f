/*
 * cli.c - `warden user|role|client|ban|audit|store ...`: the admin commands
 * over the store, one of the two files that include both core/ and store/.
 *
 * Commands are rows of commands[] (words, argument counts, allowed options,
 * write or read, handler, usage), so the parser, `--help` and the usage
 * messages come from one table. Global options (-c, --store, --json, --help)
 * are taken out first, wherever they stand. A write command is one store
 * transaction that also appends its audit entry, so a failed command changes
 * nothing. Slow work (Argon2id hashing, reading a password) happens before
 * the transaction starts. Exit status: 0 ok, 1 failed (one line on stderr,
 * and {"ok":false,"error":...} on stdout with --json), 2 malformed command.
 */
#include "cli.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backend.h"
#include "config.h"
#include "err.h"
#include "mem.h"
#include "pw.h"
#include "../store/audit.h"
#include "../store/bans.h"
#include "../store/bindings.h"
#include "../store/import.h"
#include "../store/importer.h"
#include "../store/roles.h"
#include "../store/rules.h"
#include "../store/store.h"
#include "../store/users.h"

#define MAX_POS 8
#define MAX_ROLES 64
#define PW_MAX 1024              /* bytes of a password */
#define GEN_PW_LEN 24            /* characters of a generated password (144 bits) */
#define AUDIT_DEFAULT_LIMIT 50
#define FOLLOW_POLL_MS 500

enum opt {
    OPT_ROLE, OPT_PASSWORD_STDIN, OPT_GENERATE, OPT_NO_PASSWORD, OPT_NOTE, OPT_QOS,
    OPT_NO_RETAIN, OPT_AT, OPT_DESCRIPTION, OPT_PREFIX, OPT_REGEX, OPT_CLIENT, OPT_USER,
    OPT_ADDRESS, OPT_FOR, OPT_UNTIL, OPT_REASON, OPT_LIMIT, OPT_FOLLOW, OPT_FORCE,
    OPT_TARGET_MS, OPT_PASSWD, OPT_ACL, OPT_DYNSEC, OPT_SKIP_BAD, OPT_COUNT
};

static const struct {
    const char *name;
    bool arg;
} opts[OPT_COUNT] = {
    [OPT_ROLE] = {"--role", true},           [OPT_PASSWORD_STDIN] = {"--password-stdin", false},
    [OPT_GENERATE] = {"--generate-password", false},
    [OPT_NO_PASSWORD] = {"--no-password", false},
    [OPT_NOTE] = {"--note", true},           [OPT_QOS] = {"--qos", true},
    [OPT_NO_RETAIN] = {"--no-retain", false}, [OPT_AT] = {"--at", true},
    [OPT_DESCRIPTION] = {"--description", true},
    [OPT_PREFIX] = {"--prefix", true},       [OPT_REGEX] = {"--regex", true},
    [OPT_CLIENT] = {"--client", true},       [OPT_USER] = {"--user", true},
    [OPT_ADDRESS] = {"--address", true},     [OPT_FOR] = {"--for", true},
    [OPT_UNTIL] = {"--until", true},         [OPT_REASON] = {"--reason", true},
    [OPT_LIMIT] = {"--limit", true},         [OPT_FOLLOW] = {"--follow", false},
    [OPT_FORCE] = {"--force", false},        [OPT_TARGET_MS] = {"--target-ms", true},
    [OPT_PASSWD] = {"--passwd", true},       [OPT_ACL] = {"--acl", true},
    [OPT_DYNSEC] = {"--dynsec", true},       [OPT_SKIP_BAD] = {"--skip-bad", false},
};

#define O(x) (1u << OPT_##x)

struct cli;
typedef int (*cmd_fn)(struct cli *c);

struct command {
    const char *words;   /* "user rule add" */
    int minpos, maxpos;  /* positional arguments after the words */
    unsigned opts;       /* O(...) bits allowed */
    bool write;          /* creates the store when missing */
    cmd_fn run;
    const char *args;    /* usage text after the words */
    const char *help;    /* one line */
};

struct rule_edit {
    struct rule r;   /* borrows its filter from argv */
    size_t at;       /* insert position, 0 = end */
    size_t index;    /* rule del */
};

/* What a read command fetched; owned, freed by listing_free(). */
struct listing {
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
};

struct cli {
    const struct command *cmd;
    const char *pos[MAX_POS];
    int npos;
    const char *opt[OPT_COUNT];   /* value, or "" for a flag; NULL when absent */
    const char *roles[MAX_ROLES];
    int nroles;
    bool json;
    const char *config_file, *store_dir;
    struct config cfg;
    struct store *st;
    char actor[64];
    char target[300];             /* audit target of a write */
    /* Filled by write bodies for the success message. */
    size_t count;
    char password[GEN_PW_LEN + 1];
    char hash[PW_HASH_MAX];
    bool have_hash;
    struct rule_edit redit;       /* rule add/del */
    struct binding bsel;          /* client bind/unbind: borrows from argv */
    struct ban ban;               /* ban add/del: borrows from argv */
    struct listing l;             /* read results */
};

/* ---------------------------------------------------------------- messages */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int usage_error(struct cli *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->cmd)
        fprintf(stderr, "warden %s: %s\nusage: warden %s%s%s\n", c->cmd->words, msg,
                c->cmd->words, c->cmd->args[0] ? " " : "", c->cmd->args);
    else
        fprintf(stderr, "warden: %s (see warden user --help)\n", msg);
    return 2;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int failed(struct cli *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "warden %s: %s\n", c->cmd ? c->cmd->words : "", msg);
    if (c->json) {
        json_t *o = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
        if (o) {
            json_dumpf(o, stdout, JSON_COMPACT);
            fputc('\n', stdout);
            json_decref(o);
        }
    }
    return 1;
}

/* Print a JSON value (taking it) on one line. */
static int emit_json(json_t *v)
{
    if (!v) {
        fprintf(stderr, "warden: out of memory\n");
        return 1;
    }
    json_dumpf(v, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(v);
    return 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
/* Success: a sentence for people, {"ok":true,...} for scripts (extra may be NULL). */
static int done(struct cli *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->json)
        return emit_json(json_pack("{s:b, s:s}", "ok", 1, "message", msg));
    printf("%s\n", msg);
    return 0;
}

static void fmt_time(int64_t t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&tt, &tm))
        snprintf(out, n, "-");
    else
        strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *json_time(int64_t t)
{
    char buf[32];
    if (t <= 0)
        return json_null();
    fmt_time(t, buf, sizeof buf);
    return json_string(buf);
}

/* ---------------------------------------------------------------- tables */

#define TABLE_COLS 8

struct table {
    int ncols;
    const char *head[TABLE_COLS];
    char **cells;   /* owned, row-major */
    size_t nrows, cap;
    bool oom;
};

static void table_row(struct table *t, ...)
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

static void table_print(struct table *t, const char *indent)
{
    size_t w[TABLE_COLS] = {0};
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

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        wd_free(t->cells[i]);
    wd_free(t->cells);
}

/* ---------------------------------------------------------------- parsing values */

/* "30s", "10m", "2h", "7d", "1w" -> seconds. */
static bool parse_duration(const char *s, int64_t *out)
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
static bool parse_rfc3339(const char *s, int64_t *out)
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

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
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
        return failed(c, "no store in %s (use --store DIR or -c FILE; the first change creates "
                         "it)", c->cfg.store_dir);
    if (e != WD_OK)
        return failed(c, "%s", why);
    return 0;
}

typedef enum wd_err (*body_fn)(struct store_txn *t, struct cli *c);

struct job {
    struct cli *c;
    body_fn fn;
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
static int run_write(struct cli *c, body_fn fn)
{
    struct job j = {c, fn};
    enum wd_err e = store_write(c->st, job_write, &j);
    if (e != WD_OK)
        return failed(c, "%s", store_errmsg(c->st)[0] ? store_errmsg(c->st) : wd_strerror(e));
    return 0;
}

static int read_txn(struct cli *c, body_fn fn)
{
    struct job j = {c, fn};
    enum wd_err e = store_read(c->st, job_read, &j);
    if (e != WD_OK)
        return failed(c, "%s", store_errmsg(c->st)[0] ? store_errmsg(c->st) : wd_strerror(e));
    return 0;
}

/* ---------------------------------------------------------------- passwords */

/* Code points in s[0..n). */
static size_t utf8_len(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            k++;
    return k;
}

/* Read one line (newline stripped) into buf; false on EOF before any byte or overflow. */
static bool read_line(FILE *f, char *buf, size_t size, bool *too_long)
{
    *too_long = false;
    if (!fgets(buf, (int)size, f))
        return false;
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n') {
        buf[--n] = '\0';
        if (n && buf[n - 1] == '\r')
            buf[--n] = '\0';
    } else if (n == size - 1) {
        *too_long = true;
        int ch;
        while ((ch = fgetc(f)) != EOF && ch != '\n')
            ;
    }
    return true;
}

/* Prompt on the terminal and read without echo. */
static bool read_hidden(const char *prompt, char *buf, size_t size, bool *too_long)
{
    struct termios old, quiet;
    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return false;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    /* Echo off before the prompt, so that nothing typed after it is flushed or shown. */
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    fputs(prompt, stderr);
    fflush(stderr);
    bool ok = read_line(stdin, buf, size, too_long);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    return ok;
}

/*
 * Get a password per the options and hash it into c->hash. `none` allowed:
 * --no-password leaves c->have_hash false. Returns 0, 1 or 2.
 */
static int obtain_password(struct cli *c, const char *user, bool allow_none)
{
    int modes = !!c->opt[OPT_PASSWORD_STDIN] + !!c->opt[OPT_GENERATE] + !!c->opt[OPT_NO_PASSWORD];
    if (modes > 1)
        return usage_error(c, "--password-stdin, --generate-password and --no-password exclude "
                              "each other");
    if (c->opt[OPT_NO_PASSWORD]) {
        if (!allow_none)
            return usage_error(c, "--no-password is not valid here");
        c->have_hash = false;
        return 0;
    }
    char pw[PW_MAX + 2];
    bool too_long = false;
    if (c->opt[OPT_GENERATE]) {
        if (pw_generate(c->password, sizeof c->password) != WD_OK)
            return failed(c, "cannot generate a password");
        snprintf(pw, sizeof pw, "%s", c->password);
    } else if (c->opt[OPT_PASSWORD_STDIN]) {
        if (!read_line(stdin, pw, sizeof pw, &too_long))
            return failed(c, "no password on standard input");
    } else if (isatty(STDIN_FILENO)) {
        char again[PW_MAX + 2];
        char prompt[400];
        snprintf(prompt, sizeof prompt, "Password for %.100s: ", user);
        if (!read_hidden(prompt, pw, sizeof pw, &too_long))
            return failed(c, "no password read from the terminal");
        bool tl2;
        if (!read_hidden("Retype it: ", again, sizeof again, &tl2)) {
            explicit_bzero(pw, sizeof pw);
            return failed(c, "no password read from the terminal");
        }
        bool same = strcmp(pw, again) == 0;
        explicit_bzero(again, sizeof again);
        if (!same) {
            explicit_bzero(pw, sizeof pw);
            return failed(c, "the passwords do not match");
        }
    } else {
        return usage_error(c, "no terminal to read a password from: use --password-stdin, "
                              "--generate-password%s", allow_none ? " or --no-password" : "");
    }
    size_t len = strlen(pw);
    int rc = 0;
    if (too_long || len > PW_MAX)
        rc = failed(c, "password too long (at most %d bytes)", PW_MAX);
    else if (utf8_len(pw, len) < c->cfg.password_min_length)
        rc = failed(c, "password too short: at least %u characters (password_min_length)",
                    c->cfg.password_min_length);
    else if (pw_hash(pw, len, c->cfg.password_opslimit, (size_t)c->cfg.password_memlimit,
                     c->hash) != WD_OK)
        rc = failed(c, "cannot hash the password (password_memlimit too large for this "
                       "machine?)");
    else
        c->have_hash = true;
    explicit_bzero(pw, sizeof pw);
    return rc;
}

/* "argon2id", "sha512-crypt", "pbkdf2-sha512", or NULL for no password. */
static const char *hash_scheme(const char *h)
{
    if (!h)
        return NULL;
    if (!strncmp(h, "$argon2id$", 10))
        return "argon2id";
    if (!strncmp(h, "$6$", 3))
        return "sha512-crypt";
    if (!strncmp(h, "$7$", 3))
        return "pbkdf2-sha512";
    return "unknown";
}

/* ---------------------------------------------------------------- user commands */

static int print_generated(struct cli *c, const char *what)
{
    if (c->json) {
        json_t *o = json_pack("{s:b, s:s, s:s}", "ok", 1, "message", what, "user", c->pos[0]);
        if (o && c->password[0])
            json_object_set_new(o, "password", json_string(c->password));
        explicit_bzero(c->password, sizeof c->password);
        return emit_json(o);
    }
    printf("%s\n", what);
    if (c->password[0])
        printf("generated password (shown once): %s\n", c->password);
    explicit_bzero(c->password, sizeof c->password);
    return 0;
}

static enum wd_err body_user_absent(struct store_txn *t, struct cli *c)
{
    const void *v;
    size_t n;
    enum wd_err e = store_get(t, DB_USERS, c->pos[0], strlen(c->pos[0]), &v, &n);
    if (e == WD_OK)
        return store_txn_fail(t, WD_EEXIST, "user '%.100s' already exists", c->pos[0]);
    if (e == WD_ENOTFOUND) {
        for (int i = 0; i < c->nroles; i++) {
            struct role *r = NULL;
            e = roles_get(t, c->roles[i], &r);
            backend_role_free(r);
            if (e != WD_OK)
                return e;
        }
        return WD_OK;
    }
    return e;
}

static enum wd_err body_user_add(struct store_txn *t, struct cli *c)
{
    int64_t now = (int64_t)time(NULL);
    struct user u = {.name = (char *)c->pos[0], .hash = c->have_hash ? c->hash : NULL,
                     .enabled = true, .roles = (char **)c->roles, .nroles = (size_t)c->nroles,
                     .created = now, .updated = now,
                     .note = (char *)(c->opt[OPT_NOTE] ? c->opt[OPT_NOTE] : "")};
    return users_add(t, &u);
}

static int cmd_user_add(struct cli *c)
{
    if (!users_valid_name(c->pos[0]))
        return failed(c, "invalid user name '%.100s' (1-%d bytes of UTF-8, no control "
                         "characters)", c->pos[0], USERS_NAME_MAX);
    /* Fail on a taken name or unknown role before asking for a password. */
    if (read_txn(c, body_user_absent))
        return 1;
    int rc = obtain_password(c, c->pos[0], true);
    if (rc)
        return rc;
    if (run_write(c, body_user_add))
        return 1;
    char msg[400];
    snprintf(msg, sizeof msg, "user '%s' added%s", c->pos[0],
             c->have_hash ? "" : " without a password (certificate or token only)");
    return print_generated(c, msg);
}

static enum wd_err body_user_del(struct store_txn *t, struct cli *c)
{
    return users_del(t, c->pos[0], &c->count);
}

static int cmd_user_del(struct cli *c)
{
    if (run_write(c, body_user_del))
        return 1;
    return done(c, "user '%s' deleted%s", c->pos[0],
                c->count ? " with its client-id bindings" : "");
}

/* Load pos[0], change it with edit, store it. */
static enum wd_err edit_user(struct store_txn *t, struct cli *c,
                             enum wd_err (*edit)(struct store_txn *, struct cli *, struct user *))
{
    struct user *u;
    enum wd_err e = users_get(t, c->pos[0], &u);
    if (e != WD_OK)
        return e;
    e = edit(t, c, u);
    if (e == WD_OK) {
        u->updated = (int64_t)time(NULL);
        e = users_update(t, u);
    }
    backend_user_free(u);
    return e;
}

static enum wd_err set_hash(struct store_txn *t, struct cli *c, struct user *u)
{
    (void)t;
    char *h = NULL;
    if (c->have_hash && !(h = wd_strdup(c->hash)))
        return WD_ENOMEM;
    wd_free(u->hash);
    u->hash = h;
    return WD_OK;
}

static enum wd_err body_passwd(struct store_txn *t, struct cli *c)
{
    return edit_user(t, c, set_hash);
}

static enum wd_err body_user_exists(struct store_txn *t, struct cli *c)
{
    struct user *u;
    enum wd_err e = users_get(t, c->pos[0], &u);
    backend_user_free(u == NULL || e != WD_OK ? NULL : u);
    return e;
}

static int cmd_user_passwd(struct cli *c)
{
    if (read_txn(c, body_user_exists))
        return 1;
    int rc = obtain_password(c, c->pos[0], true);
    if (rc)
        return rc;
    if (run_write(c, body_passwd))
        return 1;
    char msg[400];
    snprintf(msg, sizeof msg, c->have_hash ? "password of user '%s' changed"
                                           : "password of user '%s' removed", c->pos[0]);
    return print_generated(c, msg);
}

static enum wd_err set_enabled(struct store_txn *t, struct cli *c, struct user *u)
{
    (void)t;
    u->enabled = !strcmp(c->cmd->words, "user enable");
    return WD_OK;
}

static enum wd_err body_enable(struct store_txn *t, struct cli *c)
{
    return edit_user(t, c, set_enabled);
}

static int cmd_user_enable(struct cli *c)
{
    if (run_write(c, body_enable))
        return 1;
    return done(c, "user '%s' %s", c->pos[0],
                !strcmp(c->cmd->words, "user enable") ? "enabled" : "disabled");
}

static enum wd_err add_role(struct store_txn *t, struct cli *c, struct user *u)
{
    (void)t;
    char **nv = wd_realloc(u->roles, (u->nroles + 1) * sizeof *nv);
    if (!nv)
        return WD_ENOMEM;
    u->roles = nv;
    if (!(nv[u->nroles] = wd_strdup(c->pos[1])))
        return WD_ENOMEM;
    u->nroles++;
    return WD_OK;
}

static enum wd_err del_role(struct store_txn *t, struct cli *c, struct user *u)
{
    for (size_t i = 0; i < u->nroles; i++) {
        if (strcmp(u->roles[i], c->pos[1]))
            continue;
        wd_free(u->roles[i]);
        memmove(&u->roles[i], &u->roles[i + 1], (u->nroles - i - 1) * sizeof *u->roles);
        u->nroles--;
        return WD_OK;
    }
    return store_txn_fail(t, WD_ENOTFOUND, "user '%.100s' does not have role '%.64s'", u->name,
                          c->pos[1]);
}

static enum wd_err body_user_role(struct store_txn *t, struct cli *c)
{
    return edit_user(t, c, !strcmp(c->cmd->words, "user role add") ? add_role : del_role);
}

static int cmd_user_role(struct cli *c)
{
    bool add = !strcmp(c->cmd->words, "user role add");
    snprintf(c->target, sizeof c->target, "%.100s %.64s", c->pos[0], c->pos[1]);
    if (run_write(c, body_user_role))
        return 1;
    return done(c, add ? "user '%s' now holds role '%s'" : "user '%s' no longer holds role '%s'",
                c->pos[0], c->pos[1]);
}

/* Rule from the positional arguments at pos[1..3] and the options. 0, 1 or 2. */
static int parse_rule(struct cli *c, struct rule *r)
{
    memset(r, 0, sizeof *r);
    if (!strcmp(c->pos[1], "allow"))
        r->effect = RULE_ALLOW;
    else if (!strcmp(c->pos[1], "deny"))
        r->effect = RULE_DENY;
    else
        return usage_error(c, "expected allow or deny, got '%.40s'", c->pos[1]);
    if (rules_parse_actions(c->pos[2], &r->actions) != WD_OK)
        return failed(c, "invalid actions '%.60s' (a comma list of publish, subscribe, receive, "
                         "or all)", c->pos[2]);
    r->filter = (char *)c->pos[3];
    r->max_qos = 2;
    r->retain = !c->opt[OPT_NO_RETAIN];
    unsigned long q;
    if (c->opt[OPT_QOS]) {
        if (!parse_uint(c->opt[OPT_QOS], 2, &q))
            return failed(c, "invalid --qos '%.20s' (0, 1 or 2)", c->opt[OPT_QOS]);
        r->max_qos = (uint8_t)q;
    }
    char why[200];
    if (rules_validate(r, why, sizeof why) != WD_OK)
        return failed(c, "%s", why);
    return 0;
}

/* --at INDEX (1-based) or 0. */
static int parse_at(struct cli *c, size_t *at)
{
    unsigned long v = 0;
    if (c->opt[OPT_AT] && (!parse_uint(c->opt[OPT_AT], 100000, &v) || v == 0))
        return failed(c, "invalid --at '%.20s' (a rule number, 1 for the first)", c->opt[OPT_AT]);
    *at = v;
    return 0;
}


static enum wd_err rules_edit(struct store_txn *t, struct cli *c, const char *owner,
                              struct rule **v, size_t *n, bool add)
{
    if (add) {
        enum wd_err e = rules_insert(v, n, &c->redit.r, c->redit.at);
        if (e == WD_EINVAL)
            return store_txn_fail(t, e, "--at %zu: %s has %zu rule%s", c->redit.at, owner, *n,
                                  *n == 1 ? "" : "s");
        if (e == WD_ELIMIT)
            return store_txn_fail(t, e, "%s has %d rules already", owner, RULES_MAX);
        c->redit.at = c->redit.at ? c->redit.at : *n;
        return e;
    }
    if (rules_remove(*v, n, c->redit.index) != WD_OK)
        return store_txn_fail(t, WD_ENOTFOUND, "no rule %zu: %s has %zu rule%s", c->redit.index,
                              owner, *n, *n == 1 ? "" : "s");
    return WD_OK;
}

static enum wd_err user_rules(struct store_txn *t, struct cli *c, struct user *u)
{
    char owner[300];
    snprintf(owner, sizeof owner, "user '%.100s'", u->name);
    return rules_edit(t, c, owner, &u->rules, &u->nrules, strstr(c->cmd->words, "add") != NULL);
}

static enum wd_err body_user_rule(struct store_txn *t, struct cli *c)
{
    return edit_user(t, c, user_rules);
}

static enum wd_err body_role_rule(struct store_txn *t, struct cli *c)
{
    struct role *r;
    enum wd_err e = roles_get(t, c->pos[0], &r);
    if (e != WD_OK)
        return e;
    char owner[100];
    snprintf(owner, sizeof owner, "role '%.64s'", r->name);
    e = rules_edit(t, c, owner, &r->rules, &r->nrules, strstr(c->cmd->words, "add") != NULL);
    if (e == WD_OK)
        e = roles_update(t, r);
    backend_role_free(r);
    return e;
}

static int cmd_rule(struct cli *c)
{
    bool add = strstr(c->cmd->words, "add") != NULL;
    bool user = !strncmp(c->cmd->words, "user", 4);
    int rc;
    memset(&c->redit, 0, sizeof c->redit);
    if (add) {
        if ((rc = parse_rule(c, &c->redit.r)) || (rc = parse_at(c, &c->redit.at)))
            return rc;
    } else {
        unsigned long v;
        if (!parse_uint(c->pos[1], 100000, &v) || v == 0)
            return failed(c, "invalid rule number '%.20s' (1 for the first, as %s show numbers "
                             "them)", c->pos[1], user ? "user" : "role");
        c->redit.index = v;
    }
    if (run_write(c, user ? body_user_rule : body_role_rule))
        return 1;
    if (add)
        return done(c, "rule %zu added to %s '%s'", c->redit.at, user ? "user" : "role", c->pos[0]);
    return done(c, "rule %zu deleted from %s '%s'", c->redit.index, user ? "user" : "role",
                c->pos[0]);
}

/* ---------------------------------------------------------------- listing */

static void rules_table(const struct rule *v, size_t n, const char *indent)
{
    struct table t = {6, {"#", "EFFECT", "ACTIONS", "FILTER", "QOS", "RETAIN"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        char idx[24], act[64], q[8];
        snprintf(idx, sizeof idx, "%zu", i + 1);
        rules_format_actions(v[i].actions, act, sizeof act);
        snprintf(q, sizeof q, "%u", v[i].max_qos);
        table_row(&t, idx, v[i].effect == RULE_ALLOW ? "allow" : "deny", act, v[i].filter, q,
                  v[i].retain ? "yes" : "no");
    }
    table_print(&t, indent);
    table_free(&t);
}

static json_t *rules_json(const struct rule *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        char act[64];
        rules_format_actions(v[i].actions, act, sizeof act);
        json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:s, s:i, s:b}", "index", (int)i + 1,
                                           "effect", v[i].effect == RULE_ALLOW ? "allow" : "deny",
                                           "actions", act, "filter", v[i].filter, "qos",
                                           v[i].max_qos, "retain", v[i].retain));
    }
    return a;
}

static json_t *strings_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void join(char *out, size_t size, char *const *v, size_t n, const char *none)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", v[i]);
    if (!n)
        snprintf(out, size, "%s", none);
}

static json_t *user_json(const struct user *u, bool full)
{
    json_t *o = json_pack("{s:s, s:b, s:o, s:o, s:s}", "name", u->name, "enabled", u->enabled,
                          "password", hash_scheme(u->hash) ? json_string(hash_scheme(u->hash))
                                                           : json_null(),
                          "roles", strings_json(u->roles, u->nroles), "note",
                          u->note ? u->note : "");
    if (!o)
        return NULL;
    json_object_set_new(o, "rules", full ? rules_json(u->rules, u->nrules)
                                         : json_integer((json_int_t)u->nrules));
    json_object_set_new(o, "created", json_time(u->created));
    json_object_set_new(o, "updated", json_time(u->updated));
    json_object_set_new(o, "last_login", json_time(u->last_login));
    return o;
}


static void listing_free(struct cli *c)
{
    users_list_free(c->l.users, c->l.nusers);
    roles_list_free(c->l.roles, c->l.nroles);
    backend_bindings_free(c->l.binds, c->l.nbinds);
    backend_bans_free(c->l.bans, c->l.nbans);
    backend_user_free(c->l.user);
    backend_role_free(c->l.role);
    backend_audit_free(c->l.audit, c->l.naudit);
    memset(&c->l, 0, sizeof c->l);
}

static enum wd_err body_users(struct store_txn *t, struct cli *c)
{
    return users_list(t, &c->l.users, &c->l.nusers);
}

static int cmd_user_list(struct cli *c)
{
    if (read_txn(c, body_users))
        return 1;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->l.nusers; i++)
            json_array_append_new(a, user_json(c->l.users[i], false));
        listing_free(c);
        return emit_json(a);
    }
    struct table t = {6, {"NAME", "ENABLED", "PASSWORD", "ROLES", "RULES", "NOTE"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.nusers; i++) {
        const struct user *u = c->l.users[i];
        char roles[512], nr[24];
        join(roles, sizeof roles, u->roles, u->nroles, "-");
        snprintf(nr, sizeof nr, "%zu", u->nrules);
        table_row(&t, u->name, u->enabled ? "yes" : "no",
                  hash_scheme(u->hash) ? hash_scheme(u->hash) : "none", roles, nr, u->note);
    }
    table_print(&t, "");
    table_free(&t);
    listing_free(c);
    return 0;
}

static enum wd_err body_user_show(struct store_txn *t, struct cli *c)
{
    enum wd_err e = users_get(t, c->pos[0], &c->l.user);
    if (e == WD_OK)
        e = bindings_list(t, &c->l.binds, &c->l.nbinds);
    return e;
}

static int cmd_user_show(struct cli *c)
{
    if (read_txn(c, body_user_show))
        return 1;
    const struct user *u = c->l.user;
    bool rehash = u->hash && pw_needs_rehash(u->hash, c->cfg.password_opslimit,
                                             (size_t)c->cfg.password_memlimit);
    if (c->json) {
        json_t *o = user_json(u, true);
        json_t *b = json_array();
        for (size_t i = 0; b && i < c->l.nbinds; i++)
            if (!strcmp(c->l.binds[i].user, u->name))
                json_array_append_new(b, json_pack("{s:s, s:s}", "kind",
                                                   bindings_kind_name(c->l.binds[i].kind),
                                                   "pattern", c->l.binds[i].pattern));
        if (o) {
            json_object_set_new(o, "client_ids", b);
            json_object_set_new(o, "password_needs_rehash", json_boolean(rehash));
        } else {
            json_decref(b);
        }
        listing_free(c);
        return emit_json(o);
    }
    char roles[512], created[32], updated[32], login[32];
    join(roles, sizeof roles, u->roles, u->nroles, "-");
    fmt_time(u->created, created, sizeof created);
    fmt_time(u->updated, updated, sizeof updated);
    fmt_time(u->last_login, login, sizeof login);
    printf("name:        %s\n", u->name);
    printf("enabled:     %s\n", u->enabled ? "yes" : "no");
    printf("password:    %s%s\n",
           hash_scheme(u->hash) ? hash_scheme(u->hash) : "none (certificate or token only)",
           rehash ? " (re-hashed at the next login)" : "");
    printf("roles:       %s (and default)\n", roles);
    printf("client ids:  ");
    size_t nb = 0;
    for (size_t i = 0; i < c->l.nbinds; i++)
        if (!strcmp(c->l.binds[i].user, u->name))
            printf("%s%s (%s)", nb++ ? ", " : "", c->l.binds[i].pattern,
                   bindings_kind_name(c->l.binds[i].kind));
    printf("%s\n", nb ? "" : "-");
    printf("created:     %s\nupdated:     %s\nlast login:  %s\n", created, updated,
           u->last_login ? login : "never");
    printf("note:        %s\n", u->note && u->note[0] ? u->note : "-");
    if (u->nrules) {
        printf("rules:\n");
        rules_table(u->rules, u->nrules, "  ");
    } else {
        printf("rules:       none of its own\n");
    }
    listing_free(c);
    return 0;
}

/* ---------------------------------------------------------------- role commands */

static enum wd_err body_role_add(struct store_txn *t, struct cli *c)
{
    struct role r = {.name = (char *)c->pos[0],
                     .description = (char *)(c->opt[OPT_DESCRIPTION] ? c->opt[OPT_DESCRIPTION]
                                                                     : "")};
    return roles_add(t, &r);
}

static int cmd_role_add(struct cli *c)
{
    if (run_write(c, body_role_add))
        return 1;
    return done(c, "role '%s' added", c->pos[0]);
}

static enum wd_err body_role_del(struct store_txn *t, struct cli *c)
{
    return roles_del(t, c->pos[0], c->opt[OPT_FORCE] != NULL, &c->count);
}

static int cmd_role_del(struct cli *c)
{
    if (run_write(c, body_role_del))
        return 1;
    if (c->count)
        return done(c, "role '%s' deleted and taken from %zu user%s", c->pos[0], c->count,
                    c->count == 1 ? "" : "s");
    return done(c, "role '%s' deleted", c->pos[0]);
}

static enum wd_err body_roles(struct store_txn *t, struct cli *c)
{
    enum wd_err e = roles_list(t, &c->l.roles, &c->l.nroles);
    if (e == WD_OK)
        e = users_list(t, &c->l.users, &c->l.nusers);
    return e;
}

/* Users holding role name ("default": all of them). */
static size_t holders(struct cli *c, const char *name, char *list, size_t size)
{
    size_t n = 0;
    if (list)
        list[0] = '\0';
    for (size_t i = 0; i < c->l.nusers; i++) {
        bool holds = !strcmp(name, ROLE_DEFAULT);
        for (size_t j = 0; !holds && j < c->l.users[i]->nroles; j++)
            holds = !strcmp(c->l.users[i]->roles[j], name);
        if (!holds)
            continue;
        if (list)
            snprintf(list + strlen(list), size - strlen(list), "%s%s", n ? ", " : "",
                     c->l.users[i]->name);
        n++;
    }
    return n;
}

static int cmd_role_list(struct cli *c)
{
    if (read_txn(c, body_roles))
        return 1;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->l.nroles; i++) {
            const struct role *r = c->l.roles[i];
            json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:i, s:b}", "name", r->name,
                                               "description", r->description, "rules",
                                               (int)r->nrules, "users",
                                               (int)holders(c, r->name, NULL, 0), "builtin",
                                               roles_is_builtin(r->name)));
        }
        listing_free(c);
        return emit_json(a);
    }
    struct table t = {4, {"NAME", "RULES", "USERS", "DESCRIPTION"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.nroles; i++) {
        char nr[24], nu[24];
        snprintf(nr, sizeof nr, "%zu", c->l.roles[i]->nrules);
        snprintf(nu, sizeof nu, "%zu", holders(c, c->l.roles[i]->name, NULL, 0));
        table_row(&t, c->l.roles[i]->name, nr, nu, c->l.roles[i]->description);
    }
    table_print(&t, "");
    table_free(&t);
    listing_free(c);
    return 0;
}

static enum wd_err body_role_show(struct store_txn *t, struct cli *c)
{
    enum wd_err e = roles_get(t, c->pos[0], &c->l.role);
    if (e == WD_OK)
        e = users_list(t, &c->l.users, &c->l.nusers);
    return e;
}

static int cmd_role_show(struct cli *c)
{
    if (read_txn(c, body_role_show))
        return 1;
    const struct role *r = c->l.role;
    char list[2048];
    size_t n = holders(c, r->name, list, sizeof list);
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s, s:b, s:o, s:i}", "name", r->name, "description",
                              r->description, "builtin", roles_is_builtin(r->name), "rules",
                              rules_json(r->rules, r->nrules), "users", (int)n);
        listing_free(c);
        return emit_json(o);
    }
    printf("name:         %s%s\n", r->name, roles_is_builtin(r->name) ? " (built in)" : "");
    printf("description:  %s\n", r->description[0] ? r->description : "-");
    printf("users:        %s\n", n ? list : "-");
    if (r->nrules) {
        printf("rules:\n");
        rules_table(r->rules, r->nrules, "  ");
    } else {
        printf("rules:        none\n");
    }
    listing_free(c);
    return 0;
}

/* ---------------------------------------------------------------- client bindings */

/* CLIENTID positional, or --prefix / --regex: exactly one. 0 or 2. */
static int selector_binding(struct cli *c, int npos_with_id, uint8_t *kind, const char **pattern)
{
    int n = (c->npos == npos_with_id) + !!c->opt[OPT_PREFIX] + !!c->opt[OPT_REGEX];
    if (n != 1)
        return usage_error(c, "give exactly one of CLIENTID, --prefix P, --regex R");
    if (c->opt[OPT_PREFIX]) {
        *kind = BIND_PREFIX;
        *pattern = c->opt[OPT_PREFIX];
    } else if (c->opt[OPT_REGEX]) {
        *kind = BIND_REGEX;
        *pattern = c->opt[OPT_REGEX];
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

static int cmd_client_bind(struct cli *c)
{
    int rc = selector_binding(c, 2, &c->bsel.kind, (const char **)&c->bsel.pattern);
    if (rc)
        return rc;
    c->bsel.user = (char *)c->pos[c->npos - 1];
    c->bsel.created = (int64_t)time(NULL);
    char why[256];
    if (bindings_validate(c->bsel.kind, c->bsel.pattern, why, sizeof why) != WD_OK)
        return failed(c, "%s", why);
    snprintf(c->target, sizeof c->target, "%s %.200s -> %.80s", bindings_kind_name(c->bsel.kind),
             c->bsel.pattern, c->bsel.user);
    if (run_write(c, body_bind))
        return 1;
    return done(c, "%s '%s' bound to user '%s'",
                c->bsel.kind == BIND_EXACT ? "client id" : bindings_kind_name(c->bsel.kind),
                c->bsel.pattern, c->bsel.user);
}

static enum wd_err body_unbind(struct store_txn *t, struct cli *c)
{
    return bindings_del(t, c->bsel.kind, c->bsel.pattern);
}

static int cmd_client_unbind(struct cli *c)
{
    int rc = selector_binding(c, 1, &c->bsel.kind, (const char **)&c->bsel.pattern);
    if (rc)
        return rc;
    snprintf(c->target, sizeof c->target, "%s %.200s", bindings_kind_name(c->bsel.kind),
             c->bsel.pattern);
    if (run_write(c, body_unbind))
        return 1;
    return done(c, "%s '%s' unbound",
                c->bsel.kind == BIND_EXACT ? "client id" : bindings_kind_name(c->bsel.kind),
                c->bsel.pattern);
}

static enum wd_err body_bindings(struct store_txn *t, struct cli *c)
{
    return bindings_list(t, &c->l.binds, &c->l.nbinds);
}

static int cmd_client_list(struct cli *c)
{
    if (read_txn(c, body_bindings))
        return 1;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->l.nbinds; i++) {
            json_t *o = json_pack("{s:s, s:s, s:s}", "kind", bindings_kind_name(c->l.binds[i].kind),
                                  "pattern", c->l.binds[i].pattern, "user", c->l.binds[i].user);
            if (o)
                json_object_set_new(o, "created", json_time(c->l.binds[i].created));
            json_array_append_new(a, o);
        }
        listing_free(c);
        return emit_json(a);
    }
    struct table t = {4, {"KIND", "CLIENT ID / PATTERN", "USER", "CREATED"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.nbinds; i++) {
        char when[32];
        const struct binding *b = &c->l.binds[i];
        fmt_time(b->created, when, sizeof when);
        table_row(&t, bindings_kind_name(b->kind), b->pattern, b->user, when);
    }
    table_print(&t, "");
    table_free(&t);
    listing_free(c);
    return 0;
}

/* ---------------------------------------------------------------- bans */

/* --client / --user / --address: exactly one. 0 or 2. */
static int selector_ban(struct cli *c)
{
    int n = !!c->opt[OPT_CLIENT] + !!c->opt[OPT_USER] + !!c->opt[OPT_ADDRESS];
    if (n != 1)
        return usage_error(c, "give exactly one of --client ID, --user NAME, --address CIDR");
    memset(&c->ban, 0, sizeof c->ban);
    if (c->opt[OPT_CLIENT]) {
        c->ban.kind = BAN_CLIENT;
        c->ban.value = (char *)c->opt[OPT_CLIENT];
    } else if (c->opt[OPT_USER]) {
        c->ban.kind = BAN_USER;
        c->ban.value = (char *)c->opt[OPT_USER];
    } else {
        c->ban.kind = BAN_ADDRESS;
        c->ban.value = (char *)c->opt[OPT_ADDRESS];
    }
    return 0;
}

static enum wd_err body_ban(struct store_txn *t, struct cli *c)
{
    return bans_add(t, &c->ban);
}

static int cmd_ban_add(struct cli *c)
{
    int rc = selector_ban(c);
    if (rc)
        return rc;
    if (c->opt[OPT_FOR] && c->opt[OPT_UNTIL])
        return usage_error(c, "--for and --until exclude each other");
    int64_t now = (int64_t)time(NULL), d;
    if (c->opt[OPT_FOR]) {
        if (!parse_duration(c->opt[OPT_FOR], &d))
            return failed(c, "invalid duration '%.40s' (a number with s, m, h, d or w: 30s, 10m, "
                             "2h, 7d)", c->opt[OPT_FOR]);
        c->ban.until = now + d;
    } else if (c->opt[OPT_UNTIL]) {
        const char *u = c->opt[OPT_UNTIL];
        if (parse_duration(u, &d)) {
            c->ban.until = now + d;
        } else if (parse_rfc3339(u, &d)) {
            if (d <= now)
                return failed(c, "--until %.40s is in the past", u);
            c->ban.until = d;
        } else {
            return failed(c, "invalid time '%.40s' (RFC 3339 like 2030-01-31T12:00:00Z, or a "
                             "duration like 2h)", u);
        }
    }
    c->ban.reason = (char *)(c->opt[OPT_REASON] ? c->opt[OPT_REASON] : "");
    c->ban.actor = c->actor;
    c->ban.created = now;
    if (c->ban.kind == BAN_ADDRESS) {
        char cidr[BANS_CIDR_MAX];
        if (bans_parse_cidr(c->ban.value, cidr) != WD_OK)
            return failed(c, "invalid address '%.100s' (an IPv4 or IPv6 address or CIDR, e.g. "
                             "10.0.0.0/8)", c->ban.value);
        snprintf(c->target, sizeof c->target, "address %s", cidr);
    } else {
        snprintf(c->target, sizeof c->target, "%s %.200s", bans_kind_name(c->ban.kind),
                 c->ban.value);
    }
    if (run_write(c, body_ban))
        return 1;
    char until[48] = "permanently";
    if (c->ban.until) {
        char t[32];
        fmt_time(c->ban.until, t, sizeof t);
        snprintf(until, sizeof until, "until %s", t);
    }
    return done(c, "banned %s %s", c->target, until);
}

static enum wd_err body_unban(struct store_txn *t, struct cli *c)
{
    return bans_del(t, c->ban.kind, c->ban.value);
}

static int cmd_ban_del(struct cli *c)
{
    int rc = selector_ban(c);
    if (rc)
        return rc;
    snprintf(c->target, sizeof c->target, "%s %.200s", bans_kind_name(c->ban.kind),
             c->ban.value);
    if (run_write(c, body_unban))
        return 1;
    return done(c, "ban of %s lifted", c->target);
}

static enum wd_err body_bans(struct store_txn *t, struct cli *c)
{
    return bans_list(t, &c->l.bans, &c->l.nbans);
}

static int cmd_ban_list(struct cli *c)
{
    if (read_txn(c, body_bans))
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
                json_object_set_new(o, "until", json_time(b->until));
                json_object_set_new(o, "created", json_time(b->created));
            }
            json_array_append_new(a, o);
        }
        listing_free(c);
        return emit_json(a);
    }
    struct table t = {6, {"KIND", "VALUE", "UNTIL", "BY", "CREATED", "REASON"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.nbans; i++) {
        const struct ban *b = &c->l.bans[i];
        char until[48], created[32];
        if (!b->until)
            snprintf(until, sizeof until, "permanent");
        else
            fmt_time(b->until, until, sizeof until);
        if (b->until && b->until <= now)
            strcat(until, " (expired)");
        fmt_time(b->created, created, sizeof created);
        table_row(&t, bans_kind_name(b->kind), b->value, until, b->actor, created, b->reason);
    }
    table_print(&t, "");
    table_free(&t);
    listing_free(c);
    return 0;
}

/* ---------------------------------------------------------------- audit */

static enum wd_err body_audit(struct store_txn *t, struct cli *c)
{
    return audit_list(t, c->l.after, c->l.limit, &c->l.audit, &c->l.naudit);
}

static volatile sig_atomic_t stop_follow;

static void on_stop(int sig)
{
    (void)sig;
    stop_follow = 1;
}

static void print_audit(struct cli *c, bool header)
{
    if (c->json) {
        for (size_t i = 0; i < c->l.naudit; i++) {
            const struct audit_entry *a = &c->l.audit[i];
            json_t *o = json_pack("{s:I, s:o, s:s, s:s, s:s, s:s}", "seq", (json_int_t)a->seq,
                                  "time", json_time(a->time), "actor", a->actor, "action",
                                  a->action, "target", a->target, "result", a->result);
            emit_json(o);
        }
        fflush(stdout);
        return;
    }
    struct table t = {5, {"TIME", "ACTOR", "ACTION", "TARGET", "RESULT"}, NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.naudit; i++) {
        char when[32];
        fmt_time(c->l.audit[i].time, when, sizeof when);
        table_row(&t, when, c->l.audit[i].actor, c->l.audit[i].action, c->l.audit[i].target,
                  c->l.audit[i].result);
    }
    if (header || t.nrows) {
        if (header)
            table_print(&t, "");
        else /* following: rows only, no header */
            for (size_t r = 0; r < t.nrows; r++)
                printf("%s  %s  %s  %s  %s\n", t.cells[r * 5], t.cells[r * 5 + 1],
                       t.cells[r * 5 + 2], t.cells[r * 5 + 3], t.cells[r * 5 + 4]);
    }
    table_free(&t);
    fflush(stdout);
}

static int cmd_audit(struct cli *c)
{
    unsigned long limit = AUDIT_DEFAULT_LIMIT;
    if (c->opt[OPT_LIMIT] && (!parse_uint(c->opt[OPT_LIMIT], 100000000, &limit) || limit == 0))
        return failed(c, "invalid --limit '%.20s' (a positive number)", c->opt[OPT_LIMIT]);
    c->l.limit = limit;
    if (read_txn(c, body_audit))
        return 1;
    bool follow = c->opt[OPT_FOLLOW] != NULL;
    if (c->json && !follow) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->l.naudit; i++) {
            const struct audit_entry *e = &c->l.audit[i];
            json_array_append_new(a, json_pack("{s:I, s:o, s:s, s:s, s:s, s:s}", "seq",
                                               (json_int_t)e->seq, "time", json_time(e->time),
                                               "actor", e->actor, "action", e->action, "target",
                                               e->target, "result", e->result));
        }
        listing_free(c);
        return emit_json(a);
    }
    print_audit(c, true);
    if (!follow) {
        listing_free(c);
        return 0;
    }
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    uint64_t last = c->l.naudit ? c->l.audit[c->l.naudit - 1].seq : 0;
    listing_free(c);
    while (!stop_follow) {
        struct timespec ts = {0, FOLLOW_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        if (stop_follow)
            break;
        c->l.after = last;
        c->l.limit = 0;
        if (read_txn(c, body_audit))
            return 1;
        if (c->l.naudit)
            last = c->l.audit[c->l.naudit - 1].seq;
        print_audit(c, false);
        listing_free(c);
    }
    return 0;
}

/* ---------------------------------------------------------------- store commands */

static int cmd_store_backup(struct cli *c)
{
    if (store_backup(c->st, c->pos[0]) != WD_OK)
        return failed(c, "%s", store_errmsg(c->st));
    return done(c, "backup written to %s (restore: put it in an empty directory as data.mdb)",
                c->pos[0]);
}

struct vreport {
    struct cli *c;
    json_t *list;
};

static void on_problem(void *ctx, const char *db, const char *key, const char *what)
{
    struct vreport *v = ctx;
    if (v->list)
        json_array_append_new(v->list,
                              json_pack("{s:s, s:s, s:s}", "db", db, "key", key, "problem", what));
    else
        fprintf(stderr, "%s/%s: %s\n", db, key, what);
}

static int cmd_store_verify(struct cli *c)
{
    struct vreport v = {c, c->json ? json_array() : NULL};
    size_t problems = 0;
    enum wd_err e = store_verify(c->st, on_problem, &v, &problems);
    if (e != WD_OK) {
        json_decref(v.list);
        return failed(c, "%s", store_errmsg(c->st)[0] ? store_errmsg(c->st) : wd_strerror(e));
    }
    struct store_info in;
    store_info(c->st, &in);
    size_t records = 0;
    for (int i = 0; i < DB_COUNT; i++)
        records += in.counts[i];
    if (c->json) {
        json_t *o = json_pack("{s:b, s:I, s:I, s:o}", "ok", problems == 0, "records",
                              (json_int_t)records, "problems", (json_int_t)problems, "details",
                              v.list);
        emit_json(o);
        return problems ? 1 : 0;
    }
    if (problems) {
        fprintf(stderr, "warden store verify: %zu problem%s in %zu records\n", problems,
                problems == 1 ? "" : "s", records);
        return 1;
    }
    printf("store %s: %zu records, all decode, references intact\n", in.path, records);
    return 0;
}

static int cmd_store_info(struct cli *c)
{
    struct store_info in;
    if (store_info(c->st, &in) != WD_OK)
        return failed(c, "%s", store_errmsg(c->st));
    if (c->json) {
        json_t *counts = json_object();
        for (int i = 0; counts && i < DB_COUNT; i++)
            json_object_set_new(counts, store_db_name((enum store_db)i),
                                json_integer((json_int_t)in.counts[i]));
        return emit_json(json_pack("{s:s, s:i, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:I, s:o}",
                                   "path", in.path, "schema", (int)in.schema, "generation",
                                   (json_int_t)in.generation, "map_size", (json_int_t)in.map_size,
                                   "used", (json_int_t)in.used, "page_size", (int)in.page_size,
                                   "readers", (int)in.readers, "max_readers",
                                   (int)in.max_readers, "stale_readers_cleared",
                                   (int)in.stale_readers_cleared, "last_txn",
                                   (json_int_t)in.last_txn, "records", counts));
    }
    printf("path:        %s\n", in.path);
    printf("schema:      %u\n", in.schema);
    printf("generation:  %llu\n", (unsigned long long)in.generation);
    printf("map:         %.1f MiB used of %.1f MiB (grows when full)\n", in.used / 1048576.0,
           in.map_size / 1048576.0);
    printf("readers:     %u of %u slots%s\n", in.readers, in.max_readers,
           in.stale_readers_cleared ? " (slots of killed readers cleared at open)" : "");
    printf("records:     ");
    for (int i = 1; i < DB_COUNT; i++)
        printf("%s%s %zu", i > 1 ? ", " : "", store_db_name((enum store_db)i), in.counts[i]);
    printf("\n");
    return 0;
}

struct measurement {
    unsigned long long ops;
    size_t mem;
    double ms;
};

/* Median of three verifications: one alone is at the mercy of whatever else runs. */
static double measure(unsigned long long ops, size_t mem)
{
    double v[3];
    for (int i = 0; i < 3; i++)
        v[i] = pw_measure_ms(ops, mem);
    if (v[0] < 0 || v[1] < 0 || v[2] < 0)
        return -1.0;
    double lo = v[0] < v[1] ? v[0] : v[1], hi = v[0] < v[1] ? v[1] : v[0];
    return v[2] < lo ? lo : v[2] > hi ? hi : v[2];
}

static int cmd_store_tune(struct cli *c)
{
    unsigned long target = 20;
    if (c->opt[OPT_TARGET_MS] &&
        (!parse_uint(c->opt[OPT_TARGET_MS], 10000, &target) || target == 0))
        return failed(c, "invalid --target-ms '%.20s'", c->opt[OPT_TARGET_MS]);
    struct measurement m[24];
    int n = 0;
    unsigned long long cops = c->cfg.password_opslimit;
    size_t cmem = (size_t)c->cfg.password_memlimit;
    m[n++] = (struct measurement){cops, cmem, measure(cops, cmem)};
    /* Memory is what a gateway lacks: keep the configured memory, raise passes while
     * they fit the target; if one pass is already too slow, halve the memory. */
    struct measurement best = {0, 0, -1};
    size_t mem = cmem;
    for (int round = 0; round < 6 && best.ms < 0 && n < 24; round++) {
        for (unsigned long long ops = 1; ops <= 10 && n < 24; ops++) {
            double ms = (ops == cops && mem == cmem) ? m[0].ms : measure(ops, mem);
            if (!(ops == cops && mem == cmem))
                m[n++] = (struct measurement){ops, mem, ms};
            if (ms < 0 || ms > target)
                break;
            best = (struct measurement){ops, mem, ms};
        }
        if (best.ms < 0) {
            if (mem / 2 < 8u << 20)
                break;
            mem /= 2;
        }
    }
    if (c->json) {
        json_t *a = json_array();
        for (int i = 0; a && i < n; i++)
            json_array_append_new(a, json_pack("{s:I, s:I, s:f}", "opslimit", (json_int_t)m[i].ops,
                                               "memlimit", (json_int_t)m[i].mem, "ms", m[i].ms));
        json_t *o = json_pack("{s:i, s:{s:I, s:I, s:f}, s:o}", "target_ms", (int)target,
                              "configured", "opslimit", (json_int_t)cops, "memlimit",
                              (json_int_t)cmem, "ms", m[0].ms, "measurements", a);
        if (o && best.ms >= 0)
            json_object_set_new(o, "suggest", json_pack("{s:I, s:I, s:f}", "opslimit",
                                                         (json_int_t)best.ops, "memlimit",
                                                         (json_int_t)best.mem, "ms", best.ms));
        return emit_json(o);
    }
    printf("Argon2id, one verification on this machine (median of 3):\n");
    struct table t = {3, {"OPSLIMIT", "MEMLIMIT", "TIME"}, NULL, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        char ops[24], memb[24], ms[32];
        snprintf(ops, sizeof ops, "%llu", m[i].ops);
        snprintf(memb, sizeof memb, "%zu MiB", m[i].mem >> 20);
        snprintf(ms, sizeof ms, "%.1f ms%s", m[i].ms, i == 0 ? " (configured)" : "");
        table_row(&t, ops, memb, ms);
    }
    table_print(&t, "  ");
    table_free(&t);
    if (best.ms < 0) {
        printf("no parameters reach %lu ms here; keep the defaults or raise --target-ms\n",
               target);
        return 0;
    }
    printf("suggestion for a %lu ms target:\n  password_opslimit %llu\n  password_memlimit %zum\n",
           target, best.ops, best.mem >> 20);
    return 0;
}

/* ---------------------------------------------------------------- import */

struct import_job {
    const struct import *imp;
    bool dynsec;
    struct importer_counts counts;
};
static struct import_job *ijob; /* the one import this process runs */

static enum wd_err body_import(struct store_txn *t, struct cli *c)
{
    (void)c;
    return importer_apply(t, ijob->imp, ijob->dynsec, &ijob->counts);
}

static int cmd_import(struct cli *c)
{
    static const struct {
        enum opt opt;
        enum wd_err (*parse)(struct import *, const char *, const char *, size_t, unsigned);
    } files[] = {
        {OPT_DYNSEC, import_dynsec}, /* roles first: password-file users may not name them */
        {OPT_PASSWD, import_passwd},
        {OPT_ACL, import_acl},
    };
    if (!c->opt[OPT_PASSWD] && !c->opt[OPT_ACL] && !c->opt[OPT_DYNSEC])
        return usage_error(c, "give at least one of --passwd, --acl, --dynsec");
    unsigned flags = c->opt[OPT_SKIP_BAD] ? IMPORT_SKIP_BAD : 0;
    struct import imp;
    import_init(&imp);
    int rc = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0] && !rc; i++) {
        const char *path = c->opt[files[i].opt];
        if (!path)
            continue;
        char *data = NULL, err[IMPORT_ERR_MAX] = "";
        size_t len = 0;
        enum wd_err e = import_read_file(path, 0, &data, &len, err);
        if (e != WD_OK) {
            rc = failed(c, "%s", err[0] ? err : wd_strerror(e));
            break;
        }
        e = files[i].parse(&imp, path, data, len, flags);
        wd_free(data);
        if (e != WD_OK)
            rc = failed(c, "%s", imp.err[0] ? imp.err : wd_strerror(e));
    }
    if (rc) {
        import_fini(&imp);
        return rc;
    }
    struct import_job job = {.imp = &imp, .dynsec = c->opt[OPT_DYNSEC] != NULL};
    ijob = &job;
    snprintf(c->target, sizeof c->target, "%s%s%s%s%s%s", c->opt[OPT_PASSWD] ? "passwd " : "",
             c->opt[OPT_PASSWD] ? c->opt[OPT_PASSWD] : "", c->opt[OPT_ACL] ? " acl " : "",
             c->opt[OPT_ACL] ? c->opt[OPT_ACL] : "", c->opt[OPT_DYNSEC] ? " dynsec " : "",
             c->opt[OPT_DYNSEC] ? c->opt[OPT_DYNSEC] : "");
    rc = run_write(c, body_import);
    size_t skipped = imp.skipped, ignored = imp.ignored;
    char first_skip[IMPORT_ERR_MAX];
    snprintf(first_skip, sizeof first_skip, "%s", imp.err);
    import_fini(&imp);
    ijob = NULL;
    if (rc)
        return rc;
    const struct importer_counts *n = &job.counts;
    if (c->json) {
        json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ok", 1, "users",
                              (json_int_t)n->users, "users_without_password",
                              (json_int_t)n->users_acl_only, "roles", (json_int_t)n->roles,
                              "rules", (json_int_t)n->rules, "bindings", (json_int_t)n->bindings,
                              "skipped", (json_int_t)skipped, "ignored", (json_int_t)ignored);
        if (o && skipped)
            json_object_set_new(o, "first_skipped", json_string(first_skip));
        return emit_json(o);
    }
    printf("imported %zu user%s (%zu named only by the acl_file, without a password), %zu "
           "role%s, %zu rule%s, %zu client-id binding%s\n",
           n->users, n->users == 1 ? "" : "s", n->users_acl_only, n->roles,
           n->roles == 1 ? "" : "s", n->rules, n->rules == 1 ? "" : "s", n->bindings,
           n->bindings == 1 ? "" : "s");
    if (skipped)
        printf("skipped %zu bad line%s or entr%s (first: %s)\n", skipped, skipped == 1 ? "" : "s",
               skipped == 1 ? "y" : "ies", first_skip);
    if (ignored)
        printf("ignored %zu unsubscribe rule%s (Warden does not check unsubscribe)\n", ignored,
               ignored == 1 ? "" : "s");
    printf("imported hashes are re-hashed to Argon2id at each user's next login\n");
    return 0;
}

/* ---------------------------------------------------------------- the table */

static int cmd_help(struct cli *c);

#define PW_OPTS (O(PASSWORD_STDIN) | O(GENERATE) | O(NO_PASSWORD))
#define RULE_OPTS (O(QOS) | O(NO_RETAIN) | O(AT))
#define BAN_SEL (O(CLIENT) | O(USER) | O(ADDRESS))

static const struct command commands[] = {
    {"user add", 1, 1, O(ROLE) | PW_OPTS | O(NOTE), true, cmd_user_add,
     "NAME [--role ROLE]... [--password-stdin | --generate-password | --no-password] "
     "[--note TEXT]", "add a user"},
    {"user del", 1, 1, 0, true, cmd_user_del, "NAME", "delete a user and its client-id bindings"},
    {"user passwd", 1, 1, PW_OPTS, true, cmd_user_passwd,
     "NAME [--password-stdin | --generate-password | --no-password]", "set a user's password"},
    {"user enable", 1, 1, 0, true, cmd_user_enable, "NAME", "let a user connect again"},
    {"user disable", 1, 1, 0, true, cmd_user_enable, "NAME", "refuse a user's connections"},
    {"user list", 0, 0, 0, false, cmd_user_list, "", "list users"},
    {"user show", 1, 1, 0, false, cmd_user_show, "NAME", "show a user, its roles and rules"},
    {"user role add", 2, 2, 0, true, cmd_user_role, "NAME ROLE", "give a user a role"},
    {"user role del", 2, 2, 0, true, cmd_user_role, "NAME ROLE", "take a role from a user"},
    {"user rule add", 4, 4, RULE_OPTS, true, cmd_rule,
     "NAME (allow|deny) ACTIONS FILTER [--qos N] [--no-retain] [--at INDEX]",
     "add a rule of the user's own"},
    {"user rule del", 2, 2, 0, true, cmd_rule, "NAME INDEX", "delete a user's rule"},
    {"role add", 1, 1, O(DESCRIPTION), true, cmd_role_add, "NAME [--description TEXT]",
     "add a role"},
    {"role del", 1, 1, O(FORCE), true, cmd_role_del, "NAME [--force]",
     "delete a role (--force: also when users hold it)"},
    {"role list", 0, 0, 0, false, cmd_role_list, "", "list roles"},
    {"role show", 1, 1, 0, false, cmd_role_show, "NAME", "show a role and its rules"},
    {"role rule add", 4, 4, RULE_OPTS, true, cmd_rule,
     "ROLE (allow|deny) ACTIONS FILTER [--qos N] [--no-retain] [--at INDEX]", "add a rule"},
    {"role rule del", 2, 2, 0, true, cmd_rule, "ROLE INDEX", "delete a rule"},
    {"client bind", 1, 2, O(PREFIX) | O(REGEX), true, cmd_client_bind,
     "(CLIENTID | --prefix P | --regex R) USER", "bind a client id to a user"},
    {"client unbind", 0, 1, O(PREFIX) | O(REGEX), true, cmd_client_unbind,
     "CLIENTID | --prefix P | --regex R", "remove a binding"},
    {"client list", 0, 0, 0, false, cmd_client_list, "", "list client-id bindings"},
    {"ban add", 0, 0, BAN_SEL | O(FOR) | O(UNTIL) | O(REASON), true, cmd_ban_add,
     "(--client ID | --user NAME | --address CIDR) [--for DURATION | --until TIME] "
     "[--reason TEXT]", "ban a client id, user or address range"},
    {"ban del", 0, 0, BAN_SEL, true, cmd_ban_del, "--client ID | --user NAME | --address CIDR",
     "lift a ban"},
    {"ban list", 0, 0, 0, false, cmd_ban_list, "", "list bans"},
    {"audit", 0, 0, O(LIMIT) | O(FOLLOW), false, cmd_audit, "[--limit N] [--follow]",
     "show the audit log (newest last)"},
    {"store backup", 1, 1, 0, false, cmd_store_backup, "FILE",
     "write a consistent compacted copy to FILE"},
    {"store verify", 0, 0, 0, false, cmd_store_verify, "", "decode every record, check references"},
    {"store tune", 0, 0, O(TARGET_MS), false, cmd_store_tune, "[--target-ms N]",
     "measure Argon2id here and suggest parameters"},
    {"store info", 0, 0, 0, false, cmd_store_info, "", "show the store's location, size, counts"},
    {"import mosquitto", 0, 0, O(PASSWD) | O(ACL) | O(DYNSEC) | O(SKIP_BAD), true, cmd_import,
     "[--passwd FILE] [--acl FILE] [--dynsec FILE] [--skip-bad]",
     "import Mosquitto's password file, acl_file and dynamic-security JSON (all or nothing)"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char *const groups[] = {"user", "role", "client", "ban", "audit", "store", "import"};

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
            for (int k = 0; k < OPT_COUNT; k++)
                if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, a, nlen))
                    o = k;
            if (o < 0 || !(c->cmd->opts & (1u << o)))
                return usage_error(c, "unknown option '%.*s'", (int)nlen, a);
            const char *val = "";
            if (opts[o].arg) {
                if (eq)
                    val = eq + 1;
                else if (i + 1 < nargs)
                    val = args[++i];
                else
                    return usage_error(c, "%s needs a value", opts[o].name);
            } else if (eq) {
                return usage_error(c, "%s takes no value", opts[o].name);
            }
            if (o == OPT_ROLE) {
                if (c->nroles == MAX_ROLES)
                    return usage_error(c, "too many --role options");
                c->roles[c->nroles++] = val;
            } else if (c->opt[o]) {
                return usage_error(c, "%s given twice", opts[o].name);
            }
            c->opt[o] = val;
            continue;
        }
        if (c->npos == MAX_POS || c->npos >= c->cmd->maxpos)
            return usage_error(c, "unexpected argument '%.60s'", a);
        c->pos[c->npos++] = a;
    }
    if (c->npos < c->cmd->minpos)
        return usage_error(c, "missing argument");
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
            return failed(c, "%s: configuration has errors", c->config_file);
        }
    }
    if (c->store_dir) {
        char *d = wd_strdup(c->store_dir);
        if (!d) {
            config_fini(&c->cfg);
            return failed(c, "out of memory");
        }
        config_set_store_dir(&c->cfg, d);
    }
    set_actor(c);
    if (c->npos)
        snprintf(c->target, sizeof c->target, "%s", c->pos[0]);
    if (c->cmd->run == cmd_store_tune) {
        rc = cmd_store_tune(c); /* measures this machine: needs no store */
    } else if ((rc = open_store(c)) == 0) {
        rc = c->cmd->run(c);
        store_close(c->st);
    }
    listing_free(c);
    config_fini(&c->cfg);
    explicit_bzero(c->hash, sizeof c->hash);
    fflush(stdout);
    return rc;
}
