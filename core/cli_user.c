/*
 * cli_user.c - `warden user ...`: add, delete, passwords, enable/disable,
 * roles held, list and show. Passwords are read (terminal without echo,
 * stdin, or generated) and hashed with Argon2id before the write
 * transaction starts, so the slow part never holds the store's write lock;
 * plaintext is wiped as soon as it is hashed or shown. User rules are edited
 * by cli_role.c through cli_user_edit().
 */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backend.h"
#include "cli_int.h"
#include "err.h"
#include "mem.h"
#include "pw.h"
#include "../store/bindings.h"
#include "../store/certs.h"
#include "../store/roles.h"
#include "../store/store.h"
#include "../store/users.h"

#define PW_MAX 1024              /* bytes of a password */

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
    int modes = !!c->opt[CLI_OPT_PASSWORD_STDIN] + !!c->opt[CLI_OPT_GENERATE] +
                !!c->opt[CLI_OPT_NO_PASSWORD];
    if (modes > 1)
        return cli_usage_error(c, "--password-stdin, --generate-password and --no-password exclude "
                               "each other");
    if (c->opt[CLI_OPT_NO_PASSWORD]) {
        if (!allow_none)
            return cli_usage_error(c, "--no-password is not valid here");
        c->have_hash = false;
        return 0;
    }
    char pw[PW_MAX + 2];
    bool too_long = false;
    if (c->opt[CLI_OPT_GENERATE]) {
        if (pw_generate(c->password, sizeof c->password) != WD_OK)
            return cli_failed(c, "cannot generate a password");
        snprintf(pw, sizeof pw, "%s", c->password);
    } else if (c->exec) {
        /* Inside the broker (console, admin socket): the caller typed it; stdin is not ours. */
        if (!c->password_given)
            return cli_failed(c, "no password given");
        if (strlen(c->password_given) > PW_MAX)
            too_long = true;
        else
            snprintf(pw, sizeof pw, "%s", c->password_given);
    } else if (c->opt[CLI_OPT_PASSWORD_STDIN]) {
        if (!read_line(stdin, pw, sizeof pw, &too_long))
            return cli_failed(c, "no password on standard input");
    } else if (isatty(STDIN_FILENO)) {
        char again[PW_MAX + 2];
        char prompt[400];
        snprintf(prompt, sizeof prompt, "Password for %.100s: ", user);
        if (!read_hidden(prompt, pw, sizeof pw, &too_long))
            return cli_failed(c, "no password read from the terminal");
        bool tl2;
        if (!read_hidden("Retype it: ", again, sizeof again, &tl2)) {
            explicit_bzero(pw, sizeof pw);
            return cli_failed(c, "no password read from the terminal");
        }
        bool same = strcmp(pw, again) == 0;
        explicit_bzero(again, sizeof again);
        if (!same) {
            explicit_bzero(pw, sizeof pw);
            return cli_failed(c, "the passwords do not match");
        }
    } else {
        return cli_usage_error(c, "no terminal to read a password from: use --password-stdin, "
                               "--generate-password%s", allow_none ? " or --no-password" : "");
    }
    size_t len = strlen(pw);
    int rc = 0;
    if (too_long || len > PW_MAX)
        rc = cli_failed(c, "password too long (at most %d bytes)", PW_MAX);
    else if (utf8_len(pw, len) < c->cfg.password_min_length)
        rc = cli_failed(c, "password too short: at least %u characters (password_min_length)",
                        c->cfg.password_min_length);
    else if (pw_hash(pw, len, c->cfg.password_opslimit, (size_t)c->cfg.password_memlimit,
                     c->hash) != WD_OK)
        rc = cli_failed(c, "cannot hash the password (password_memlimit too large for this "
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
        return cli_emit_json(o);
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
                     .note = (char *)(c->opt[CLI_OPT_NOTE] ? c->opt[CLI_OPT_NOTE] : "")};
    return users_add(t, &u);
}

int cli_cmd_user_add(struct cli *c)
{
    if (!users_valid_name(c->pos[0]))
        return cli_failed(c, "invalid user name '%.100s' (1-%d bytes of UTF-8, no control "
                          "characters)", c->pos[0], USERS_NAME_MAX);
    /* Fail on a taken name or unknown role before asking for a password. */
    if (cli_read_txn(c, body_user_absent))
        return 1;
    int rc = obtain_password(c, c->pos[0], true);
    if (rc)
        return rc;
    if (cli_run_write(c, body_user_add))
        return 1;
    char msg[400];
    snprintf(msg, sizeof msg, "user '%s' added%s", c->pos[0],
             c->have_hash ? "" : " without a password (certificate or token only)");
    return print_generated(c, msg);
}

static enum wd_err body_user_del(struct store_txn *t, struct cli *c)
{
    enum wd_err e = users_del(t, c->pos[0], &c->count);
    /* Its pins go too: a new user of that name must not inherit them. */
    return e == WD_OK ? certs_pin_del_user(t, c->pos[0], &c->npins) : e;
}

int cli_cmd_user_del(struct cli *c)
{
    if (cli_run_write(c, body_user_del))
        return 1;
    return cli_done(c, "user '%s' deleted%s%s", c->pos[0],
                    c->count ? " with its client-id bindings" : "",
                    c->npins ? (c->count ? " and certificate pins" : " with its certificate pins")
                             : "");
}

/* Load pos[0], change it with edit, store it. */
enum wd_err cli_user_edit(struct store_txn *t, struct cli *c,
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
    return cli_user_edit(t, c, set_hash);
}

static enum wd_err body_user_exists(struct store_txn *t, struct cli *c)
{
    struct user *u;
    enum wd_err e = users_get(t, c->pos[0], &u);
    backend_user_free(u == NULL || e != WD_OK ? NULL : u);
    return e;
}

int cli_cmd_user_passwd(struct cli *c)
{
    if (cli_read_txn(c, body_user_exists))
        return 1;
    int rc = obtain_password(c, c->pos[0], true);
    if (rc)
        return rc;
    if (cli_run_write(c, body_passwd))
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
    return cli_user_edit(t, c, set_enabled);
}

int cli_cmd_user_enable(struct cli *c)
{
    if (cli_run_write(c, body_enable))
        return 1;
    return cli_done(c, "user '%s' %s", c->pos[0],
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
    return cli_user_edit(t, c, !strcmp(c->cmd->words, "user role add") ? add_role : del_role);
}

int cli_cmd_user_role(struct cli *c)
{
    bool add = !strcmp(c->cmd->words, "user role add");
    snprintf(c->target, sizeof c->target, "%.100s %.64s", c->pos[0], c->pos[1]);
    if (cli_run_write(c, body_user_role))
        return 1;
    return cli_done(c, add ? "user '%s' now holds role '%s'"
                           : "user '%s' no longer holds role '%s'", c->pos[0], c->pos[1]);
}

/* ---------------------------------------------------------------- listing */

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
    json_object_set_new(o, "rules", full ? cli_rules_json(u->rules, u->nrules)
                                         : json_integer((json_int_t)u->nrules));
    json_object_set_new(o, "created", cli_json_time(u->created));
    json_object_set_new(o, "updated", cli_json_time(u->updated));
    json_object_set_new(o, "last_login", cli_json_time(u->last_login));
    return o;
}


static enum wd_err body_users(struct store_txn *t, struct cli *c)
{
    enum wd_err e = users_list(t, &c->l.users, &c->l.nusers);
    /* Every pin, counted per user for the JSON (the console's users screen shows it). */
    return e == WD_OK && c->json ? certs_list(t, CERTREC_PIN, NULL, &c->l.certs, &c->l.ncerts) : e;
}

int cli_cmd_user_list(struct cli *c)
{
    if (cli_read_txn(c, body_users))
        return 1;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->l.nusers; i++) {
            json_t *o = user_json(c->l.users[i], false);
            json_int_t pins = 0;
            for (size_t k = 0; k < c->l.ncerts; k++)
                pins += !strcmp(c->l.certs[k].user, c->l.users[i]->name);
            if (o)
                json_object_set_new(o, "pins", json_integer(pins));
            json_array_append_new(a, o);
        }
        cli_listing_free(c);
        return cli_emit_json(a);
    }
    struct cli_table t = {6, {"NAME", "ENABLED", "PASSWORD", "ROLES", "RULES", "NOTE"},
                          NULL, 0, 0, 0};
    for (size_t i = 0; i < c->l.nusers; i++) {
        const struct user *u = c->l.users[i];
        char roles[512], nr[24];
        join(roles, sizeof roles, u->roles, u->nroles, "-");
        snprintf(nr, sizeof nr, "%zu", u->nrules);
        cli_table_row(&t, u->name, u->enabled ? "yes" : "no",
                      hash_scheme(u->hash) ? hash_scheme(u->hash) : "none", roles, nr, u->note);
    }
    cli_table_print(&t, "");
    cli_table_free(&t);
    cli_listing_free(c);
    return 0;
}

static enum wd_err body_user_show(struct store_txn *t, struct cli *c)
{
    enum wd_err e = users_get(t, c->pos[0], &c->l.user);
    if (e == WD_OK)
        e = bindings_list(t, &c->l.binds, &c->l.nbinds);
    return e;
}

int cli_cmd_user_show(struct cli *c)
{
    if (cli_read_txn(c, body_user_show))
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
        cli_listing_free(c);
        return cli_emit_json(o);
    }
    char roles[512], created[32], updated[32], login[32];
    join(roles, sizeof roles, u->roles, u->nroles, "-");
    cli_fmt_time(u->created, created, sizeof created);
    cli_fmt_time(u->updated, updated, sizeof updated);
    cli_fmt_time(u->last_login, login, sizeof login);
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
        cli_rules_table(u->rules, u->nrules, "  ");
    } else {
        printf("rules:       none of its own\n");
    }
    cli_listing_free(c);
    return 0;
}

