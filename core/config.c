/*
 * config.c - parse Mosquitto-style "key value" configuration text.
 *
 * Every key is a row of `keys[]` (name, scope, type, range, field offset), so
 * adding a key is one line and the parser never grows a strcmp ladder. Parsing
 * is pure: text in, struct config out, each problem reported once through the
 * caller's callback with file:line, and parsing goes on so that one run shows
 * every mistake. Files are small (tens of lines) and read once at startup, so
 * lookups are linear and the listener array grows one element at a time.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <regex.h>
#include <string.h>

#include "mem.h"

/*
 * The default store_dir is this constant, not a heap copy, because
 * config_defaults() cannot fail. config_fini() and a later store_dir line
 * compare against it before freeing. Nobody may write through cfg->store_dir.
 */
static const char default_store_dir[] = "./warden-data";

#define DEFAULT_LISTEN_ADDR "0.0.0.0" /* `listener PORT` without an address, as Mosquitto */
#define EMBEDDED_ADDR "127.0.0.1"
#define EMBEDDED_PORT 1883
#define MAX_FILE_SIZE (4u << 20)      /* config_load refuses larger files: surely not config */
#define SHOW_MAX 64                   /* bytes of a user token quoted in a message */

enum key_scope { SCOPE_GLOBAL, SCOPE_LISTENER };

enum key_type {
    T_LISTENER, /* `listener PORT [ADDRESS]`: opens a section */
    T_PATH,     /* owned char *; the rest of the line, so it may contain spaces */
    T_UINT,     /* uint32_t/uint64_t, decimal */
    T_SIZE,     /* like T_UINT with an optional k/m/g suffix (binary multiples) */
    T_BOOL,     /* bool: exactly "true" or "false" */
    T_ENUM,     /* enum stored as int: index into names[] */
};

struct key {
    const char *name;
    enum key_scope scope;
    enum key_type type;
    uint64_t min, max;          /* T_UINT, T_SIZE: inclusive range */
    size_t off;                 /* field offset in struct config or struct config_listener */
    size_t size;                /* sizeof the field */
    const char *const *names;   /* T_ENUM: NULL-terminated, index = value */
    ptrdiff_t set_off;          /* listener keys: offset of the "given explicitly" flag, or -1 */
};

static const char *const log_level_names[] = {"error", "warning", "notice", "info", "debug", NULL};
static const char *const log_dest_names[] = {"stderr", "syslog", NULL};
static const char *const tls_version_names[] = {"tlsv1.2", "tlsv1.3", NULL};
static const char *const cert_identity_names[] = {"cn", "san_dns", "san_uri", "san_email", NULL};
static const char *const crl_policy_names[] = {"reject", "warn", NULL};

_Static_assert(sizeof(enum config_log_level) == sizeof(int), "T_ENUM stores an int");
_Static_assert(sizeof(enum config_log_dest) == sizeof(int), "T_ENUM stores an int");
_Static_assert(sizeof(enum config_tls_version) == sizeof(int), "T_ENUM stores an int");
_Static_assert(sizeof(enum config_cert_identity) == sizeof(int), "T_ENUM stores an int");
_Static_assert(sizeof(enum config_crl_policy) == sizeof(int), "T_ENUM stores an int");
_Static_assert(sizeof(enum config_anon_default) == sizeof(int), "T_ENUM stores an int");
static const char *const anon_default_names[] = {"deny", "allow", NULL};
_Static_assert(sizeof(enum config_auth_tokens) == sizeof(int), "T_ENUM stores an int");
static const char *const auth_tokens_names[] = {"false", "true", "only", NULL};

#define FIELD_SIZE(type, f) sizeof(((type *)0)->f)
#define G(f, t, lo, hi) \
    {#f, SCOPE_GLOBAL, t, lo, hi, offsetof(struct config, f), FIELD_SIZE(struct config, f), \
     NULL, -1}
#define GE(f, list) \
    {#f, SCOPE_GLOBAL, T_ENUM, 0, 0, offsetof(struct config, f), FIELD_SIZE(struct config, f), \
     list, -1}
#define L(f, t, lo, hi) \
    {#f, SCOPE_LISTENER, t, lo, hi, offsetof(struct config_listener, f), \
     FIELD_SIZE(struct config_listener, f), NULL, offsetof(struct config_listener, f##_set)}
/* A listener key with no "given explicitly" flag. */
#define LX(f, t, lo, hi) \
    {#f, SCOPE_LISTENER, t, lo, hi, offsetof(struct config_listener, f), \
     FIELD_SIZE(struct config_listener, f), NULL, -1}
/* TLS keys of a listener (struct config_tls); no "given explicitly" flag. */
#define LT(name, f, t, lo, hi, list) \
    {name, SCOPE_LISTENER, t, lo, hi, offsetof(struct config_listener, tls.f), \
     FIELD_SIZE(struct config_listener, tls.f), list, -1}

static const struct key keys[] = {
    {"listener", SCOPE_GLOBAL, T_LISTENER, 0, 65535, 0, 0, NULL, -1},
    {"http_listener", SCOPE_GLOBAL, T_LISTENER, 0, 65535, 0, 0, NULL, -1},
    G(store_dir, T_PATH, 0, 0),
    G(admin_socket, T_PATH, 0, 0),
    G(max_connections, T_UINT, 0, UINT32_MAX),
    G(max_packet_size, T_SIZE, 20, 268435455),       /* MQTT's largest remaining length */
    G(max_inflight_messages, T_UINT, 1, 65535),      /* Receive Maximum is 1..65535 */
    G(max_queued_messages, T_UINT, 0, UINT32_MAX),
    G(max_queued_bytes, T_SIZE, 0, UINT64_MAX),
    G(max_topic_length, T_UINT, 1, 65535),           /* a UTF-8 string is at most 65535 bytes */
    G(max_topic_levels, T_UINT, 1, 65535),
    G(max_subscriptions_per_client, T_UINT, 0, UINT32_MAX),
    G(max_keepalive, T_UINT, 10, 65535),             /* Keep Alive is a two-byte integer */
    G(topic_alias_maximum, T_UINT, 0, 65535),
    G(max_qos, T_UINT, 0, 2),
    G(retain_available, T_BOOL, 0, 0),
    G(connect_timeout, T_UINT, 1, 3600),
    G(sys_interval, T_UINT, 0, 86400),
    GE(log_level, log_level_names),
    GE(log_dest, log_dest_names),
    G(password_opslimit, T_UINT, 1, 1000),           /* libsodium's minimum; pw.h's ceiling */
    G(password_memlimit, T_SIZE, 8192, 1u << 30),    /* crypto_pwhash_MEMLIMIT_MIN .. 1 GiB */
    G(password_min_length, T_UINT, 1, 1024),
    G(audit_max_entries, T_UINT, 1, 10000000),
    G(auth_workers, T_UINT, 1, 16),
    G(max_pending_auth, T_UINT, 1, 100000),
    G(auth_cache_seconds, T_UINT, 0, 86400),
    G(auth_fail_delay_after, T_UINT, 0, 1000000),    /* 0 = never delay */
    G(auth_fail_ban_after, T_UINT, 0, 1000000),      /* 0 = never ban */
    G(auth_fail_window, T_UINT, 1, 86400),
    G(auth_ban_duration, T_UINT, 1, 31536000),
    G(max_connections_per_address, T_UINT, 0, UINT32_MAX),
    G(connect_rate_per_address, T_UINT, 0, UINT32_MAX),
    G(oauth_token_ttl, T_UINT, 60, 604800),          /* a minute .. a week */
    G(token_leeway, T_UINT, 0, 3600),
    G(introspect_timeout, T_UINT, 1, 60),            /* seconds: one whole introspection call */
    L(allow_anonymous, T_BOOL, 0, 0),
    LX(clientid_pattern, T_PATH, 0, 0),
    LX(max_clientid_length, T_UINT, 0, 65535),       /* 0 = no limit beyond MQTT's */
    LX(clientid_bound_only, T_BOOL, 0, 0),
    LX(allow_zero_length_clientid, T_BOOL, 0, 0),
    {"anonymous_default", SCOPE_LISTENER, T_ENUM, 0, 0,
     offsetof(struct config_listener, anonymous_default),
     FIELD_SIZE(struct config_listener, anonymous_default), anon_default_names, -1},
    {"auth_tokens", SCOPE_LISTENER, T_ENUM, 0, 0, offsetof(struct config_listener, auth_tokens),
     FIELD_SIZE(struct config_listener, auth_tokens), auth_tokens_names, -1},
    LT("certfile", certfile, T_PATH, 0, 0, NULL),
    LT("keyfile", keyfile, T_PATH, 0, 0, NULL),
    LT("cafile", cafile, T_PATH, 0, 0, NULL),
    LT("capath", capath, T_PATH, 0, 0, NULL),
    LT("crlfile", crlfile, T_PATH, 0, 0, NULL),
    LT("ciphers", ciphers, T_PATH, 0, 0, NULL),
    LT("ciphersuites", ciphersuites, T_PATH, 0, 0, NULL),
    LT("require_certificate", require_certificate, T_BOOL, 0, 0, NULL),
    LT("use_identity_as_username", use_identity_as_username, T_BOOL, 0, 0, NULL),
    LT("use_subject_as_username", use_subject_as_username, T_BOOL, 0, 0, NULL),
    LT("cert_requires_user", cert_requires_user, T_BOOL, 0, 0, NULL),
    LT("tls_version", tls_version, T_ENUM, 0, 0, tls_version_names),
    LT("tls_handshake_timeout", handshake_timeout, T_UINT, 1, 3600, NULL),
    LT("cert_identity", cert_identity, T_ENUM, 0, 0, cert_identity_names),
    LT("crl_expired_policy", crl_expired_policy, T_ENUM, 0, 0, crl_policy_names),
};

/* A view into the configuration text; not NUL-terminated. */
struct tok {
    const char *s;
    size_t n;
};

struct parser {
    struct config *cfg;
    const char *file;
    config_report_fn report;
    void *ctx;
    int line;
    int errors;           /* problems reported so far */
    long cur;             /* listener section: index, NO_SECTION or BAD_SECTION */
    bool saw_listener;    /* some `listener` line, even a bad one */
    struct config_listener scratch; /* target of keys in a BAD_SECTION; never owns memory */
};

#define NO_SECTION (-1L)  /* before the first `listener` */
#define BAD_SECTION (-2L) /* after a rejected `listener`: keys are checked, then dropped */

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->store_dir = (char *)default_store_dir;
    cfg->max_connections = 2048;
    cfg->max_packet_size = 1048576;
    cfg->max_inflight_messages = 20;
    cfg->max_queued_messages = 1000;
    cfg->max_queued_bytes = 16u << 20;
    cfg->max_topic_length = 1024;
    cfg->max_topic_levels = 64;
    cfg->max_subscriptions_per_client = 256;
    cfg->max_keepalive = 65535;
    cfg->topic_alias_maximum = 10;
    cfg->max_qos = 2;
    cfg->retain_available = true;
    cfg->connect_timeout = 10;
    cfg->oauth_token_ttl = 3600;
    cfg->sys_interval = 10;
    cfg->log_level = LOG_LVL_INFO;
    cfg->log_dest = LOG_DEST_STDERR;
    cfg->password_opslimit = 2;
    cfg->password_memlimit = 19u << 20;
    cfg->password_min_length = 12;
    cfg->audit_max_entries = 10000;
    cfg->auth_workers = 1;
    cfg->max_pending_auth = 256;
    cfg->auth_cache_seconds = 300;
    cfg->auth_fail_delay_after = 3;
    cfg->auth_fail_ban_after = 10;
    cfg->auth_fail_window = 300;
    cfg->auth_ban_duration = 600;
    cfg->token_leeway = 30;
    cfg->introspect_timeout = 3;
}

void config_set_store_dir(struct config *cfg, char *dir)
{
    if (cfg->store_dir != default_store_dir)
        wd_free(cfg->store_dir);
    cfg->store_dir = dir;
}

void config_tls_fini(struct config_tls *t)
{
    wd_free(t->certfile);
    wd_free(t->keyfile);
    wd_free(t->cafile);
    wd_free(t->capath);
    wd_free(t->crlfile);
    wd_free(t->ciphers);
    wd_free(t->ciphersuites);
    memset(t, 0, sizeof *t);
}

void config_fini(struct config *cfg)
{
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        wd_free(cfg->listeners[i].address);
        wd_free(cfg->listeners[i].clientid_pattern);
        config_tls_fini(&cfg->listeners[i].tls);
    }
    wd_free(cfg->listeners);
    if (cfg->store_dir != default_store_dir)
        wd_free(cfg->store_dir);
    wd_free(cfg->admin_socket);
    wd_free(cfg->path);
    memset(cfg, 0, sizeof *cfg);
}

/* Parse one decimal octet "0".."255" of a dotted quad; advances *s. */
static bool octet(const char **s, unsigned *out)
{
    unsigned v = 0;
    int digits = 0;
    while (**s >= '0' && **s <= '9' && digits < 3) {
        v = v * 10 + (unsigned)(**s - '0');
        (*s)++;
        digits++;
    }
    *out = v;
    return digits > 0 && v <= 255;
}

bool config_is_loopback(const char *address)
{
    if (!address)
        return false;
    if (strcmp(address, "::1") == 0 || strcmp(address, "localhost") == 0)
        return true;
    const char *s = address;
    unsigned first = 0, o;
    for (int i = 0; i < 4; i++) {
        if (i > 0 && *s++ != '.')
            return false;
        if (!octet(&s, &o))
            return false;
        if (i == 0)
            first = o;
    }
    return *s == '\0' && first == 127;
}

const char *config_log_level_name(enum config_log_level l)
{
    if ((unsigned)l >= sizeof log_level_names / sizeof log_level_names[0] - 1)
        return "unknown";
    return log_level_names[l];
}

/* Add a listener on address:port, taking a copy of address. WD_OK or WD_ENOMEM. */
static enum wd_err add_listener(struct config *cfg, uint16_t port, const char *addr,
                                size_t addrlen, int line)
{
    char *a = wd_strndup(addr, addrlen);
    if (!a)
        return WD_ENOMEM;
    struct config_listener *l =
        wd_realloc(cfg->listeners, (cfg->nlisteners + 1) * sizeof *cfg->listeners);
    if (!l) {
        wd_free(a);
        return WD_ENOMEM;
    }
    cfg->listeners = l;
    l = &cfg->listeners[cfg->nlisteners++];
    memset(l, 0, sizeof *l);
    l->port = port;
    l->address = a;
    l->allow_anonymous = false; /* default deny: only the embedded default allows anonymous */
    l->allow_zero_length_clientid = true;
    l->line = line;
    l->tls.tls_version = TLS_V12;
    l->tls.handshake_timeout = 10;
    l->tls.cert_identity = CERT_ID_CN;
    l->tls.crl_expired_policy = CRL_EXPIRED_WARN;
    return WD_OK;
}

enum wd_err config_embedded(struct config *cfg, uint16_t port)
{
    config_defaults(cfg);
    enum wd_err e = add_listener(cfg, port, EMBEDDED_ADDR, strlen(EMBEDDED_ADDR), 0);
    if (e == WD_OK) {
        cfg->listeners[0].allow_anonymous = true;
        cfg->listeners[0].allow_anonymous_set = true;
        cfg->listeners[0].anonymous_default = ANON_DEFAULT_ALLOW;
    }
    return e;
}

/*
 * Copy a user token into out for a message: at most SHOW_MAX bytes, control
 * and non-ASCII bytes as '?', "..." when cut. Returns out.
 */
static const char *show(char out[SHOW_MAX + 4], struct tok t)
{
    size_t n = t.n > SHOW_MAX ? SHOW_MAX : t.n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t.s[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    strcpy(out + n, t.n > n ? "..." : "");
    return out;
}

/* Report one problem at the current line. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void fail(struct parser *ps, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps->errors++;
    if (ps->report)
        ps->report(ps->ctx, ps->file, ps->line, msg);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static struct tok trim(struct tok t)
{
    while (t.n && is_space(t.s[0])) {
        t.s++;
        t.n--;
    }
    while (t.n && is_space(t.s[t.n - 1]))
        t.n--;
    return t;
}

/* Split the first whitespace-separated word off *rest (already trimmed). */
static struct tok next_word(struct tok *rest)
{
    struct tok w = {rest->s, 0};
    while (w.n < rest->n && !is_space(rest->s[w.n]))
        w.n++;
    rest->s += w.n;
    rest->n -= w.n;
    *rest = trim(*rest);
    return w;
}

static bool tok_eq(struct tok t, const char *s)
{
    return strlen(s) == t.n && memcmp(t.s, s, t.n) == 0;
}

static const struct key *find_key(struct tok name)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (tok_eq(name, keys[i].name))
            return &keys[i];
    return NULL;
}

enum num_result { NUM_OK, NUM_BAD, NUM_RANGE };

/*
 * Decimal digits, then for T_SIZE an optional k/K, m/M or g/G (x1024^n).
 * NUM_RANGE when the value does not fit in 64 bits or lies outside k's range.
 */
static enum num_result parse_number(const struct key *k, struct tok t, uint64_t *out)
{
    uint64_t v = 0;
    bool overflow = false;
    size_t i = 0;
    for (; i < t.n && t.s[i] >= '0' && t.s[i] <= '9'; i++) {
        unsigned d = (unsigned)(t.s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    if (i == 0)
        return NUM_BAD;
    if (i < t.n) {
        unsigned shift;
        switch (k->type == T_SIZE && i + 1 == t.n ? t.s[i] : '\0') {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return NUM_BAD;
        }
        if (v > (UINT64_MAX >> shift))
            overflow = true;
        else
            v <<= shift;
    }
    if (overflow || v < k->min || v > k->max)
        return NUM_RANGE;
    *out = v;
    return NUM_OK;
}

/* Store v into an unsigned field of k->size bytes at base + k->off. */
static void store_uint(void *base, const struct key *k, uint64_t v)
{
    char *p = (char *)base + k->off;
    if (k->size == sizeof(uint64_t)) {
        memcpy(p, &v, sizeof v);
    } else if (k->size == sizeof(uint32_t)) {
        uint32_t x = (uint32_t)v;
        memcpy(p, &x, sizeof x);
    } else {
        uint16_t x = (uint16_t)v;
        memcpy(p, &x, sizeof x);
    }
}

/* The keys an `http_listener` section takes: it serves HTTPS, it authenticates
 * no client certificates. */
static bool http_key(const struct key *k)
{
    static const char *const names[] = {"certfile", "keyfile",      "tls_version",
                                        "ciphers",  "ciphersuites", "tls_handshake_timeout"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(k->name, names[i]))
            return true;
    return false;
}

/* `listener PORT [ADDRESS]` or `http_listener PORT [ADDRESS]`: open a section,
 * or BAD_SECTION when it is rejected. */
static enum wd_err do_listener(struct parser *ps, const struct key *k, struct tok rest)
{
    char sa[SHOW_MAX + 4], sb[SHOW_MAX + 4];
    uint64_t port;
    bool http = !strcmp(k->name, "http_listener");
    if (!http)
        ps->saw_listener = true;
    ps->cur = BAD_SECTION;
    struct tok pt = next_word(&rest);
    struct tok addr = next_word(&rest);
    if (rest.n) {
        fail(ps, "%s: extra argument '%s'", k->name, show(sa, next_word(&rest)));
        return WD_OK;
    }
    switch (parse_number(k, pt, &port)) {
    case NUM_BAD:
        fail(ps, "%s: port '%s' is not a number", k->name, show(sa, pt));
        return WD_OK;
    case NUM_RANGE:
        fail(ps, "%s: port %s is out of range 0..65535", k->name, show(sa, pt));
        return WD_OK;
    case NUM_OK:
        break;
    }
    if (addr.n == 0)
        addr = (struct tok){DEFAULT_LISTEN_ADDR, strlen(DEFAULT_LISTEN_ADDR)};
    /* Port 0 asks the kernel for a free port each time, so two of them never clash. */
    for (size_t i = 0; port != 0 && i < ps->cfg->nlisteners; i++) {
        const struct config_listener *l = &ps->cfg->listeners[i];
        if (l->port == port && tok_eq(addr, l->address)) {
            bool v6 = memchr(addr.s, ':', addr.n) != NULL;
            fail(ps, "%s: duplicate listener %s%s%s:%u (first at line %d)", k->name, v6 ? "[" : "",
                 show(sb, addr), v6 ? "]" : "", (unsigned)port, l->line);
            return WD_OK;
        }
    }
    enum wd_err e = add_listener(ps->cfg, (uint16_t)port, addr.s, addr.n, ps->line);
    if (e == WD_OK) {
        ps->cur = (long)ps->cfg->nlisteners - 1;
        ps->cfg->listeners[ps->cur].http = http;
    }
    return e;
}

/* A key with a value: check the scope and the value, then store it. */
static enum wd_err do_key(struct parser *ps, const struct key *k, struct tok rest)
{
    char sa[SHOW_MAX + 4];
    void *base = ps->cfg;
    if (k->scope == SCOPE_LISTENER) {
        if (ps->cur == NO_SECTION) {
            fail(ps, "%s: only valid inside a listener section", k->name);
            return WD_OK;
        }
        memset(&ps->scratch, 0, sizeof ps->scratch);
        base = ps->cur == BAD_SECTION ? &ps->scratch : &ps->cfg->listeners[ps->cur];
        if (ps->cur != BAD_SECTION && ps->cfg->listeners[ps->cur].http && !http_key(k)) {
            fail(ps, "%s: not valid in an http_listener section (it takes certfile, keyfile, "
                     "tls_version, ciphers, ciphersuites and tls_handshake_timeout)", k->name);
            return WD_OK;
        }
    }
    if (k->type == T_PATH) {
        char **slot = (char **)(void *)((char *)base + k->off);
        char *s = wd_strndup(rest.s, rest.n);
        if (!s)
            return WD_ENOMEM;
        if (base == &ps->scratch) { /* a rejected listener's key: checked, then dropped */
            wd_free(s);
            return WD_OK;
        }
        if (*slot != default_store_dir)
            wd_free(*slot);
        *slot = s;
        return WD_OK;
    }
    struct tok v = next_word(&rest);
    if (rest.n) {
        fail(ps, "%s: extra argument '%s'", k->name, show(sa, next_word(&rest)));
        return WD_OK;
    }
    uint64_t n;
    switch (k->type) {
    case T_UINT:
    case T_SIZE:
        switch (parse_number(k, v, &n)) {
        case NUM_BAD:
            fail(ps, "%s: '%s' is not a number", k->name, show(sa, v));
            return WD_OK;
        case NUM_RANGE:
            fail(ps, "%s: %s is out of range %llu..%llu", k->name, show(sa, v),
                 (unsigned long long)k->min, (unsigned long long)k->max);
            return WD_OK;
        case NUM_OK:
            store_uint(base, k, n);
            break;
        }
        break;
    case T_BOOL:
        if (!tok_eq(v, "true") && !tok_eq(v, "false")) {
            fail(ps, "%s: '%s' is not true or false", k->name, show(sa, v));
            return WD_OK;
        }
        *(bool *)((char *)base + k->off) = tok_eq(v, "true");
        break;
    case T_ENUM: {
        int i = 0;
        while (k->names[i] && !tok_eq(v, k->names[i]))
            i++;
        if (!k->names[i]) {
            char list[128] = "";
            for (int j = 0; k->names[j]; j++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         j ? ", " : "", k->names[j]);
            fail(ps, "%s: '%s' is not one of %s", k->name, show(sa, v), list);
            return WD_OK;
        }
        memcpy((char *)base + k->off, &i, sizeof i);
        break;
    }
    case T_LISTENER:
    case T_PATH:
        break; /* handled above */
    }
    if (k->set_off >= 0)
        *(bool *)((char *)base + k->set_off) = true;
    return WD_OK;
}

/*
 * The TLS keys of one listener, once its section is complete: what cannot
 * work together is reported at the `listener` line. Files are not opened here
 * (parsing stays pure); the broker reports unreadable ones when it starts.
 */
static void check_tls(struct parser *ps, const struct config_listener *l)
{
    const struct config_tls *t = &l->tls;
    int saved = ps->line;
    ps->line = l->line;
    bool ca = t->cafile || t->capath;
    if (t->certfile && !t->keyfile)
        fail(ps, "listener %u: certfile without keyfile", l->port);
    if (t->keyfile && !t->certfile)
        fail(ps, "listener %u: keyfile without certfile", l->port);
    if (!t->certfile && !t->keyfile &&
        (ca || t->crlfile || t->ciphers || t->ciphersuites || t->require_certificate ||
         t->use_identity_as_username || t->use_subject_as_username))
        fail(ps, "listener %u: TLS keys without certfile and keyfile", l->port);
    if (!ca && (t->require_certificate || t->use_identity_as_username ||
                t->use_subject_as_username || t->crlfile || t->cert_requires_user))
        fail(ps, "listener %u: require_certificate, use_identity_as_username, "
                 "use_subject_as_username, cert_requires_user and crlfile need cafile or capath",
             l->port);
    if (t->use_identity_as_username && t->use_subject_as_username)
        fail(ps, "listener %u: use_identity_as_username and use_subject_as_username "
                 "exclude each other", l->port);
    regex_t re;
    if (l->clientid_pattern) {
        if (regcomp(&re, l->clientid_pattern, REG_EXTENDED | REG_NOSUB) != 0)
            fail(ps, "listener %u: clientid_pattern: not a valid POSIX extended regular "
                     "expression", l->port);
        else
            regfree(&re);
    }
    ps->line = saved;
}

/* One line, without its '\n'. */
static enum wd_err parse_line(struct parser *ps, struct tok line)
{
    char sa[SHOW_MAX + 4];
    line = trim(line);
    if (line.n == 0 || line.s[0] == '#')
        return WD_OK;
    if (memchr(line.s, '\0', line.n)) {
        fail(ps, "line contains a NUL byte");
        return WD_OK;
    }
    struct tok rest = line;
    struct tok name = next_word(&rest);
    const struct key *k = find_key(name);
    if (!k) {
        fail(ps, "unknown key '%s'", show(sa, name));
        return WD_OK;
    }
    if (rest.n == 0) {
        fail(ps, "missing value for '%s'", k->name);
        if (k->type == T_LISTENER) { /* keys that follow belong to no valid section */
            ps->saw_listener = true;
            ps->cur = BAD_SECTION;
        }
        return WD_OK;
    }
    if (k->type == T_LISTENER)
        return do_listener(ps, k, rest);
    return do_key(ps, k, rest);
}

enum wd_err config_parse(struct config *cfg, const char *file, const char *text, size_t len,
                         config_report_fn report, void *ctx)
{
    struct parser ps = {.cfg = cfg, .file = file, .report = report, .ctx = ctx,
                        .cur = NO_SECTION};
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (ps.line < INT_MAX)
            ps.line++;
        enum wd_err e = parse_line(&ps, (struct tok){text + pos, end - pos});
        if (e != WD_OK)
            return e;
        pos = nl ? end + 1 : len;
    }
    for (size_t i = 0; i < cfg->nlisteners; i++)
        check_tls(&ps, &cfg->listeners[i]);
    bool mqtt = false;
    for (size_t i = 0; i < cfg->nlisteners; i++)
        mqtt |= !cfg->listeners[i].http;
    if (!ps.saw_listener && !mqtt) {
        enum wd_err e = add_listener(cfg, EMBEDDED_PORT, EMBEDDED_ADDR, strlen(EMBEDDED_ADDR), 0);
        if (e != WD_OK)
            return e;
        struct config_listener *l = &cfg->listeners[cfg->nlisteners - 1];
        l->allow_anonymous = true;
        l->allow_anonymous_set = true;
        l->anonymous_default = ANON_DEFAULT_ALLOW;
    }
    return ps.errors ? WD_ECONFIG : WD_OK;
}

/* Read all of f into an owned buffer. WD_OK, WD_ENOMEM, or WD_EIO with errno set. */
static enum wd_err read_all(FILE *f, char **out, size_t *outlen)
{
    size_t cap = 4096, n = 0;
    char *b = wd_malloc(cap);
    if (!b)
        return WD_ENOMEM;
    for (;;) {
        n += fread(b + n, 1, cap - n, f);
        if (ferror(f)) {
            int saved = errno;
            wd_free(b);
            errno = saved ? saved : EIO;
            return WD_EIO;
        }
        if (feof(f))
            break;
        if (cap >= MAX_FILE_SIZE) {
            wd_free(b);
            errno = EFBIG;
            return WD_EIO;
        }
        char *nb = wd_realloc(b, cap * 2);
        if (!nb) {
            wd_free(b);
            return WD_ENOMEM;
        }
        b = nb;
        cap *= 2;
    }
    *out = b;
    *outlen = n;
    return WD_OK;
}

enum wd_err config_load(struct config *cfg, const char *path, config_report_fn report, void *ctx)
{
    char *p = wd_strdup(path);
    if (!p)
        return WD_ENOMEM;
    wd_free(cfg->path);
    cfg->path = p;

    char *text = NULL;
    size_t len = 0;
    enum wd_err e = WD_EIO;
    FILE *f = fopen(path, "rb");
    if (f) {
        e = read_all(f, &text, &len);
        int saved = errno;
        fclose(f);
        errno = saved;
    }
    if (e == WD_ENOMEM)
        return e;
    if (e != WD_OK) {
        if (report) {
            char msg[512];
            snprintf(msg, sizeof msg, "cannot read %s: %s", path, strerror(errno));
            report(ctx, path, 0, msg);
        }
        return WD_ECONFIG;
    }
    e = config_parse(cfg, path, text, len, report, ctx);
    wd_free(text);
    return e;
}
