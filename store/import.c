/*
 * import.c - PURE parsers for Mosquitto's password file, acl_file and
 * dynamic-security JSON, appending owned records to a struct import.
 *
 * Input is untrusted: every line or entry is checked (UTF-8, lengths, topic
 * filters, hash syntax via pw_well_formed()) and a failure names FILE:LINE or
 * the JSON path, never the hash or any secret. Nothing here hashes: import
 * must stay fast for files of 100k users, so duplicate user names are found
 * through an open-addressing index instead of a scan.
 * Invariants: imp->users[i].name are unique (user_slots indexes them all);
 * every name in a user's roles or imp->anon_roles is in imp->roles; an
 * acl_file import puts each owner's deny rules before its allow rules, the
 * order in which Mosquitto checks them (it moves "deny" lines to the front).
 */
#include "import.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "codec.h"
#include "mem.h"
#include "pw.h"
#include "topic.h"

#define NAME_MAX_LEN 65535u   /* MQTT string limit: user names, role names, filters */
#define DYNSEC_PRIO_ROLE (-1) /* Mosquitto's default priority of a role or group link */

/* One parser call: where messages point and whether bad input is skipped. */
struct ctx {
    struct import *imp;
    const char *file; /* for messages */
    unsigned flags;   /* IMPORT_* */
};

/*
 * Report a bad line or entry as "FILE" followed by fmt (which starts with
 * ":LINE: " or ": path: "). The first report is kept in imp->err. Returns
 * WD_OK when the caller should skip it (IMPORT_SKIP_BAD; counted), otherwise
 * WD_EMALFORMED.
 */
static enum wd_err bad(struct ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static enum wd_err bad(struct ctx *c, const char *fmt, ...)
{
    struct import *imp = c->imp;
    if (imp->err[0] == '\0') {
        int n = snprintf(imp->err, sizeof imp->err, "%s", c->file);
        if (n >= 0 && (size_t)n < sizeof imp->err) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(imp->err + n, sizeof imp->err - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    if (c->flags & IMPORT_SKIP_BAD) {
        imp->skipped++;
        return WD_OK;
    }
    return WD_EMALFORMED;
}

/*
 * Make room for element n of an array whose capacity is implied by its count
 * (4, then powers of two), so struct import needs no capacity fields.
 */
static enum wd_err reserve(void **arr, size_t n, size_t size)
{
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return WD_OK;
    size_t cap = n < 4 ? 4 : n * 2;
    if (cap > SIZE_MAX / size)
        return WD_ENOMEM;
    void *p = wd_realloc(*arr, cap * size);
    if (!p)
        return WD_ENOMEM;
    *arr = p;
    return WD_OK;
}

static bool valid_name(const char *s, size_t len)
{
    return len > 0 && len <= NAME_MAX_LEN && codec_utf8_valid((const uint8_t *)s, len);
}

/* Does s[0..len) contain the NUL-terminated needle? */
static bool contains(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(s + i, needle, n) == 0)
            return true;
    return false;
}

/*
 * Check a rule filter. subst: %u and %c are placeholders, otherwise they may
 * not appear at all; %cn never may. Substituting one level's text for a
 * placeholder cannot change where '+' and '#' stand, so the filter is checked
 * as written. Returns NULL when valid, else the reason.
 */
static const char *check_filter(const char *s, size_t len, bool subst)
{
    if (len == 0)
        return "empty topic filter";
    if (len > NAME_MAX_LEN)
        return "topic filter too long";
    if (!codec_utf8_valid((const uint8_t *)s, len))
        return "topic filter is not valid UTF-8";
    if (contains(s, len, "%cn"))
        return "%cn means the certificate name in Warden, the client id + 'n' in Mosquitto";
    if (!subst && (contains(s, len, "%u") || contains(s, len, "%c")))
        return "%u/%c in a `topic` line is literal in Mosquitto but substituted in Warden; "
               "use `pattern`";
    return topic_validate_filter(s, len) == WD_OK ? NULL : "invalid topic filter";
}

/* ---- the struct import ----------------------------------------------------------------- */

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wd_free(v[i]);
    wd_free(v);
}

static void rule_fini(struct import_rule *r)
{
    wd_free(r->user);
    wd_free(r->filter);
}

static void user_fini(struct import_user *u)
{
    wd_free(u->name);
    wd_free(u->hash);
    wd_free(u->textname);
    wd_free(u->textdescription);
    wd_free(u->clientid);
    strv_free(u->roles, u->nroles);
}

static void role_fini(struct import_role *r)
{
    wd_free(r->name);
    wd_free(r->textname);
    wd_free(r->textdescription);
    for (size_t i = 0; i < r->nrules; i++)
        rule_fini(&r->rules[i]);
    wd_free(r->rules);
}

void import_init(struct import *imp)
{
    memset(imp, 0, sizeof *imp);
    imp->default_acl.publish_receive = true; /* Mosquitto's defaults, see import.h */
    imp->default_acl.unsubscribe = true;
}

void import_fini(struct import *imp)
{
    for (size_t i = 0; i < imp->nusers; i++)
        user_fini(&imp->users[i]);
    wd_free(imp->users);
    for (size_t i = 0; i < imp->nroles; i++)
        role_fini(&imp->roles[i]);
    wd_free(imp->roles);
    for (size_t i = 0; i < imp->nrules; i++)
        rule_fini(&imp->rules[i]);
    wd_free(imp->rules);
    strv_free(imp->anon_roles, imp->nanon_roles);
    wd_free(imp->user_slots);
    import_init(imp);
}

/* FNV-1a: the user index needs speed, not resistance (the file is the admin's). */
static size_t hash_name(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

/* Index of the user called name, or SIZE_MAX. Slots hold index + 1; 0 is empty. */
static size_t user_find(const struct import *imp, const char *name)
{
    if (imp->user_cap == 0)
        return SIZE_MAX;
    size_t mask = imp->user_cap - 1;
    for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        size_t v = imp->user_slots[i];
        if (v == 0)
            return SIZE_MAX;
        if (strcmp(imp->users[v - 1].name, name) == 0)
            return v - 1;
    }
}

static void slot_put(size_t *slots, size_t cap, const char *name, size_t idx)
{
    size_t mask = cap - 1, i = hash_name(name) & mask;
    while (slots[i] != 0)
        i = (i + 1) & mask;
    slots[i] = idx + 1;
}

/* Append *u (taken on success; on failure the caller still owns it) and index it. */
static enum wd_err user_append(struct import *imp, struct import_user *u)
{
    if ((imp->nusers + 1) * 2 > imp->user_cap) {
        size_t cap = imp->user_cap ? imp->user_cap * 2 : 64;
        size_t *slots = wd_calloc(cap, sizeof *slots);
        if (!slots)
            return WD_ENOMEM;
        for (size_t i = 0; i < imp->nusers; i++)
            slot_put(slots, cap, imp->users[i].name, i);
        wd_free(imp->user_slots);
        imp->user_slots = slots;
        imp->user_cap = cap;
    }
    if (reserve((void **)&imp->users, imp->nusers, sizeof *imp->users) != WD_OK)
        return WD_ENOMEM;
    slot_put(imp->user_slots, imp->user_cap, u->name, imp->nusers);
    imp->users[imp->nusers++] = *u;
    memset(u, 0, sizeof *u);
    return WD_OK;
}

/* ---- line-based files ------------------------------------------------------------------ */

static bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* One line without its end-of-line and trailing white space (CR included). */
struct line {
    const char *s;
    size_t len;
    unsigned no; /* 1-based */
};

/* Next line of data[*pos..len); false at the end. A NUL byte stays in the line. */
static bool next_line(const char *data, size_t len, size_t *pos, struct line *l)
{
    if (*pos >= len)
        return false;
    const char *s = data + *pos;
    const char *nl = memchr(s, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - s) : len - *pos;
    *pos += n + (nl != NULL);
    while (n > 0 && (is_blank(s[n - 1]) || s[n - 1] == '\r' || s[n - 1] == '\v' ||
                     s[n - 1] == '\f'))
        n--;
    l->s = s;
    l->len = n;
    l->no++;
    return true;
}

/* Drop leading blanks of s[0..*len). */
static const char *ltrim(const char *s, size_t *len)
{
    while (*len > 0 && is_blank(*s)) {
        s++;
        (*len)--;
    }
    return s;
}

/* Drop trailing blanks of s[0..*len). */
static void rtrim(const char *s, size_t *len)
{
    while (*len > 0 && is_blank(s[*len - 1]))
        (*len)--;
}

/* ---- password file --------------------------------------------------------------------- */

/* One "user:hash" line. WD_OK (appended or skipped), WD_EMALFORMED, WD_ENOMEM. */
static enum wd_err passwd_line(struct ctx *c, const struct line *l)
{
    const char *colon = memchr(l->s, ':', l->len);
    if (!colon)
        return bad(c, ":%u: no ':' between user name and hash", l->no);
    size_t nlen = (size_t)(colon - l->s);
    const char *name = ltrim(l->s, &nlen);
    rtrim(name, &nlen);
    size_t hlen = l->len - (size_t)(colon + 1 - l->s);
    const char *hash = ltrim(colon + 1, &hlen);
    if (nlen == 0)
        return bad(c, ":%u: empty user name", l->no);
    if (!valid_name(name, nlen))
        return bad(c, ":%u: user name is too long or not valid UTF-8", l->no);
    if (hlen == 0)
        return bad(c, ":%u: empty password hash", l->no);
    if (memchr(hash, ':', hlen))
        return bad(c, ":%u: more than one ':'", l->no);

    struct import_user u = {.line = l->no};
    u.name = wd_strndup(name, nlen);
    u.hash = wd_strndup(hash, hlen);
    enum wd_err rc = WD_ENOMEM;
    if (!u.name || !u.hash)
        goto out;
    size_t dup = user_find(c->imp, u.name);
    if (memchr(hash, '\0', hlen) || !pw_well_formed(u.hash)) {
        /* Never echo the field: it may be a plain-text password. */
        rc = bad(c, ":%u: not a Mosquitto $6$/$7$ or an Argon2id hash", l->no);
    } else if (dup != SIZE_MAX && c->imp->users[dup].line) {
        rc = bad(c, ":%u: duplicate user '%.64s' (first on line %u)", l->no, u.name,
                 c->imp->users[dup].line);
    } else if (dup != SIZE_MAX) {
        rc = bad(c, ":%u: duplicate user '%.64s' (a dynsec client)", l->no, u.name);
    } else {
        rc = user_append(c->imp, &u);
    }
out:
    user_fini(&u);
    return rc;
}

enum wd_err import_passwd(struct import *imp, const char *file, const char *data, size_t len,
                          unsigned flags)
{
    struct ctx c = {imp, file ? file : "-", flags};
    struct line l = {0};
    size_t pos = 0;
    while (next_line(data, len, &pos, &l)) {
        size_t n = l.len;
        const char *s = ltrim(l.s, &n);
        if (n == 0 || s[0] == '#')
            continue;
        enum wd_err rc = passwd_line(&c, &l);
        if (rc != WD_OK)
            return rc;
    }
    return WD_OK;
}

/* ---- acl_file -------------------------------------------------------------------------- */

/* Parser state across acl_file lines. */
struct acl_state {
    char *user;       /* owned: the current `user` section; NULL before any */
    bool section_bad; /* the current `user` line was bad (and skipped): drop its rules */
};

static const struct {
    const char *word;
    bool allow;
    unsigned actions;
} access_words[] = {
    {"read", true, IMPORT_SUBSCRIBE | IMPORT_RECEIVE},
    {"write", true, IMPORT_PUBLISH},
    {"readwrite", true, IMPORT_ALL},
    {"deny", false, IMPORT_ALL},
};

/* A `topic` or `pattern` line; rest is what follows the keyword. */
static enum wd_err acl_rule_line(struct ctx *c, struct acl_state *st, const struct line *l,
                                 bool pattern, const char *rest, size_t rlen)
{
    if (!pattern && st->section_bad)
        return bad(c, ":%u: rule of a bad `user` line", l->no);
    rest = ltrim(rest, &rlen);
    if (rlen == 0)
        return bad(c, ":%u: missing topic filter", l->no);
    size_t wlen = 0;
    while (wlen < rlen && !is_blank(rest[wlen]))
        wlen++;
    size_t flen = rlen - wlen;
    const char *filter = ltrim(rest + wlen, &flen);
    bool allow = true;
    unsigned actions = IMPORT_ALL;
    if (flen == 0) {
        filter = rest; /* Mosquitto: a lone word is the filter, with readwrite access */
        flen = rlen;
    } else {
        size_t i = 0;
        while (i < sizeof access_words / sizeof access_words[0] &&
               (strlen(access_words[i].word) != wlen ||
                memcmp(access_words[i].word, rest, wlen) != 0))
            i++;
        if (i == sizeof access_words / sizeof access_words[0])
            return bad(c, ":%u: unknown access '%.*s' (read, write, readwrite or deny)", l->no,
                       (int)(wlen > 32 ? 32 : wlen), rest);
        allow = access_words[i].allow;
        actions = access_words[i].actions;
    }
    const char *why = check_filter(filter, flen, pattern);
    if (why)
        return bad(c, ":%u: %s", l->no, why);

    struct import *imp = c->imp;
    if (reserve((void **)&imp->rules, imp->nrules, sizeof *imp->rules) != WD_OK)
        return WD_ENOMEM;
    struct import_rule r = {
        .scope = pattern ? IMPORT_SCOPE_PATTERN : st->user ? IMPORT_SCOPE_USER : IMPORT_SCOPE_ANON,
        .allow = allow,
        .actions = actions,
        .line = l->no,
    };
    r.filter = wd_strndup(filter, flen);
    if (r.scope == IMPORT_SCOPE_USER)
        r.user = wd_strdup(st->user);
    if (!r.filter || (r.scope == IMPORT_SCOPE_USER && !r.user)) {
        rule_fini(&r);
        return WD_ENOMEM;
    }
    imp->rules[imp->nrules++] = r;
    return WD_OK;
}

static enum wd_err acl_user_line(struct ctx *c, struct acl_state *st, const struct line *l,
                                 const char *rest, size_t rlen)
{
    wd_free(st->user);
    st->user = NULL;
    st->section_bad = true;
    rest = ltrim(rest, &rlen);
    if (rlen == 0)
        return bad(c, ":%u: missing user name", l->no);
    if (!valid_name(rest, rlen))
        return bad(c, ":%u: user name is too long or not valid UTF-8", l->no);
    st->user = wd_strndup(rest, rlen);
    if (!st->user)
        return WD_ENOMEM;
    st->section_bad = false;
    return WD_OK;
}

static enum wd_err acl_line(struct ctx *c, struct acl_state *st, const struct line *l,
                            const char *s, size_t n)
{
    if (memchr(s, '\0', n))
        return bad(c, ":%u: NUL byte", l->no);
    size_t klen = 0;
    while (klen < n && !is_blank(s[klen]))
        klen++;
#define KEYWORD(k) (klen == sizeof(k) - 1 && memcmp(s, k, klen) == 0)
    if (KEYWORD("user"))
        return acl_user_line(c, st, l, s + klen, n - klen);
    if (KEYWORD("topic"))
        return acl_rule_line(c, st, l, false, s + klen, n - klen);
    if (KEYWORD("pattern"))
        return acl_rule_line(c, st, l, true, s + klen, n - klen);
#undef KEYWORD
    return bad(c, ":%u: unknown keyword '%.*s' (user, topic or pattern)", l->no,
               (int)(klen > 32 ? 32 : klen), s);
}

/* Stable partition of rules[from..nrules): deny rules first (Mosquitto's check order). */
static enum wd_err denies_first(struct import *imp, size_t from)
{
    size_t n = imp->nrules - from;
    if (n < 2)
        return WD_OK;
    struct import_rule *tmp = wd_malloc(n * sizeof *tmp);
    if (!tmp)
        return WD_ENOMEM;
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = from; i < imp->nrules; i++)
            if (imp->rules[i].allow == (pass == 1))
                tmp[k++] = imp->rules[i];
    memcpy(imp->rules + from, tmp, n * sizeof *tmp);
    wd_free(tmp);
    return WD_OK;
}

enum wd_err import_acl(struct import *imp, const char *file, const char *data, size_t len,
                       unsigned flags)
{
    struct ctx c = {imp, file ? file : "-", flags};
    struct acl_state st = {0};
    struct line l = {0};
    size_t pos = 0, from = imp->nrules;
    enum wd_err rc = WD_OK;
    while (rc == WD_OK && next_line(data, len, &pos, &l)) {
        size_t n = l.len;
        const char *s = ltrim(l.s, &n);
        if (n == 0 || s[0] == '#')
            continue;
        rc = acl_line(&c, &st, &l, s, n);
    }
    wd_free(st.user);
    return rc == WD_OK ? denies_first(imp, from) : rc;
}

/* ---- dynamic-security JSON ------------------------------------------------------------- */

/* A (name, priority) link from a client or group to a role, or a group membership. */
struct link {
    const char *name; /* borrowed from the JSON tree */
    size_t idx;       /* resolved: index into imp->roles, imp->users or groups */
    int prio;
    size_t order; /* position in the file: ties keep it */
};

struct group {
    const char *name;   /* borrowed from the JSON tree */
    struct link *roles; /* sorted by priority, owned */
    size_t nroles;
};

struct membership {
    size_t user, group; /* indexes into imp->users and the group array */
    int prio;
    size_t order;
};

/* State of one import_dynsec() call. */
struct dyn {
    struct ctx c;
    size_t role0;          /* this file's roles are imp->roles[role0..] */
    size_t user0;          /* this file's clients are imp->users[user0..] */
    struct group *groups;  /* valid groups, file order */
    size_t ngroups;
    struct membership *members;
    size_t nmembers;
    char why[192];         /* reason of the entry being rejected */
};

static int link_cmp(const void *a, const void *b)
{
    const struct link *x = a, *y = b;
    if (x->prio != y->prio)
        return x->prio > y->prio ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int membership_cmp(const void *a, const void *b)
{
    const struct membership *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->prio != y->prio)
        return x->prio > y->prio ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Set d->why; returns WD_EMALFORMED for `return why(d, ...)`. */
static enum wd_err why(struct dyn *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enum wd_err why(struct dyn *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof d->why, fmt, ap);
    va_end(ap);
    return WD_EMALFORMED;
}

/* Prefix d->why with "what[i]: ". Returns WD_EMALFORMED. */
static enum wd_err rewrap(struct dyn *d, const char *what, size_t i)
{
    char tmp[sizeof d->why];
    memcpy(tmp, d->why, sizeof tmp);
    return why(d, "%s[%zu]: %.150s", what, i, tmp);
}

/*
 * Optional string member key of obj. out: *out borrowed from the tree (NULL if
 * absent). WD_EMALFORMED if present but not a string or not valid UTF-8.
 */
static enum wd_err opt_str(struct dyn *d, json_t *obj, const char *key, const char **out);

/* Mosquitto 2.0 writes "textName"/"textDescription" in its file; its commands say
 * "textname"/"textdescription". Accept either spelling. */
static enum wd_err opt_text(struct dyn *d, json_t *obj, const char *camel, const char *lower,
                            const char **out)
{
    enum wd_err rc = opt_str(d, obj, camel, out);
    if (rc == WD_OK && !*out)
        rc = opt_str(d, obj, lower, out);
    return rc;
}

static enum wd_err opt_str(struct dyn *d, json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return WD_OK;
    if (!json_is_string(v) || !codec_utf8_valid((const uint8_t *)json_string_value(v),
                                                json_string_length(v)))
        return why(d, "%s is not a string", key);
    *out = json_string_value(v);
    return WD_OK;
}

/* Required name member: non-empty, valid UTF-8, at most NAME_MAX_LEN bytes. */
static enum wd_err req_name(struct dyn *d, json_t *obj, const char *key, const char **out)
{
    enum wd_err rc = opt_str(d, obj, key, out);
    if (rc != WD_OK)
        return rc;
    if (!*out || !valid_name(*out, strlen(*out)))
        return why(d, "%s is missing, empty or too long", key);
    return WD_OK;
}

/* Optional integer member within int range; *out keeps dflt when absent. */
static enum wd_err opt_int(struct dyn *d, json_t *obj, const char *key, int dflt, int *out)
{
    json_t *v = json_object_get(obj, key);
    *out = dflt;
    if (!v)
        return WD_OK;
    if (!json_is_integer(v) || json_integer_value(v) < INT_MIN || json_integer_value(v) > INT_MAX)
        return why(d, "%s is not an integer", key);
    *out = (int)json_integer_value(v);
    return WD_OK;
}

static enum wd_err opt_bool(struct dyn *d, json_t *obj, const char *key, bool dflt, bool *out)
{
    json_t *v = json_object_get(obj, key);
    *out = dflt;
    if (!v)
        return WD_OK;
    if (!json_is_boolean(v))
        return why(d, "%s is not true or false", key);
    *out = json_is_true(v);
    return WD_OK;
}

/* Optional array member; *out NULL when absent. */
static enum wd_err opt_array(struct dyn *d, json_t *obj, const char *key, json_t **out)
{
    *out = json_object_get(obj, key);
    if (*out && !json_is_array(*out))
        return why(d, "%s is not an array", key);
    return WD_OK;
}

/* Duplicate an optional borrowed string into *dst. */
static enum wd_err dup_opt(const char *s, char **dst)
{
    *dst = NULL;
    if (s && !(*dst = wd_strdup(s)))
        return WD_ENOMEM;
    return WD_OK;
}

/* Index of a role of this file called name, or SIZE_MAX. Linear: roles are few. */
static size_t find_role(const struct dyn *d, const char *name)
{
    for (size_t i = d->role0; i < d->c.imp->nroles; i++)
        if (strcmp(d->c.imp->roles[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

/*
 * Parse a "roles" (or group/client "clients") array of {KEY, priority}
 * objects into owned links sorted by priority, resolving names with find.
 */
static enum wd_err parse_links(struct dyn *d, json_t *arr, const char *key, const char *what,
                               size_t (*find)(const struct dyn *, const char *),
                               struct link **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!arr)
        return WD_OK;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *name;
        int prio;
        enum wd_err rc;
        if (!json_is_object(v))
            return why(d, "%s[%zu] is not an object", what, i);
        if ((rc = req_name(d, v, key, &name)) != WD_OK ||
            (rc = opt_int(d, v, "priority", DYNSEC_PRIO_ROLE, &prio)) != WD_OK)
            return rc == WD_EMALFORMED ? rewrap(d, what, i) : rc;
        size_t idx = find(d, name);
        if (idx == SIZE_MAX)
            return why(d, "%s[%zu]: unknown %s '%.64s'", what, i, key, name);
        if (reserve((void **)out, *n, sizeof **out) != WD_OK)
            return WD_ENOMEM;
        (*out)[(*n)++] = (struct link){name, idx, prio, i};
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, link_cmp);
    return WD_OK;
}

/* Append role name to a role list unless present. */
static enum wd_err strv_add_unique(char ***v, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], name) == 0)
            return WD_OK;
    if (reserve((void **)v, *n, sizeof **v) != WD_OK)
        return WD_ENOMEM;
    char *s = wd_strdup(name);
    if (!s)
        return WD_ENOMEM;
    (*v)[(*n)++] = s;
    return WD_OK;
}

static const struct {
    const char *type;
    unsigned actions; /* 0: unsubscribe, which Warden does not check */
} acl_types[] = {
    {"publishClientSend", IMPORT_PUBLISH},
    {"publishClientReceive", IMPORT_RECEIVE},
    {"subscribeLiteral", IMPORT_SUBSCRIBE},
    {"subscribePattern", IMPORT_SUBSCRIBE},
    {"unsubscribeLiteral", 0},
    {"unsubscribePattern", 0},
};

/* One acl of a role, appended to r->rules (or counted as ignored). */
static enum wd_err parse_acl(struct dyn *d, json_t *v, struct import_role *r)
{
    const char *type, *topic;
    int prio;
    bool allow;
    enum wd_err rc;
    if (!json_is_object(v))
        return why(d, "not an object");
    if ((rc = req_name(d, v, "acltype", &type)) != WD_OK ||
        (rc = opt_str(d, v, "topic", &topic)) != WD_OK ||
        (rc = opt_int(d, v, "priority", 0, &prio)) != WD_OK ||
        (rc = opt_bool(d, v, "allow", false, &allow)) != WD_OK)
        return rc;
    size_t t = 0;
    while (t < sizeof acl_types / sizeof acl_types[0] && strcasecmp(type, acl_types[t].type) != 0)
        t++;
    if (t == sizeof acl_types / sizeof acl_types[0])
        return why(d, "unknown acltype '%.40s'", type);
    if (!topic)
        return why(d, "topic is missing");
    const char *bad_filter = check_filter(topic, strlen(topic), true);
    if (bad_filter)
        return why(d, "%s", bad_filter);
    if (acl_types[t].actions == 0) {
        d->c.imp->ignored++;
        return WD_OK;
    }
    if (reserve((void **)&r->rules, r->nrules, sizeof *r->rules) != WD_OK)
        return WD_ENOMEM;
    struct import_rule rule = {.scope = IMPORT_SCOPE_ROLE,
                               .allow = allow,
                               .actions = acl_types[t].actions,
                               .priority = prio};
    if (!(rule.filter = wd_strdup(topic)))
        return WD_ENOMEM;
    /* Insertion keeps equal priorities in file order; roles hold few rules. */
    size_t k = r->nrules++;
    while (k > 0 && r->rules[k - 1].priority < prio) {
        r->rules[k] = r->rules[k - 1];
        k--;
    }
    r->rules[k] = rule;
    return WD_OK;
}

/* One element of "roles". */
static enum wd_err parse_role(struct dyn *d, json_t *v)
{
    struct import *imp = d->c.imp;
    struct import_role r = {0};
    const char *name, *text, *desc;
    json_t *acls;
    enum wd_err rc;
    if (!json_is_object(v))
        return why(d, "not an object");
    if ((rc = req_name(d, v, "rolename", &name)) != WD_OK ||
        (rc = opt_text(d, v, "textName", "textname", &text)) != WD_OK ||
        (rc = opt_text(d, v, "textDescription", "textdescription", &desc)) != WD_OK ||
        (rc = opt_array(d, v, "acls", &acls)) != WD_OK)
        return rc;
    for (size_t i = 0; i < imp->nroles; i++)
        if (strcmp(imp->roles[i].name, name) == 0)
            return why(d, "duplicate role '%.64s'", name);
    if ((rc = dup_opt(name, &r.name)) != WD_OK || (rc = dup_opt(text, &r.textname)) != WD_OK ||
        (rc = dup_opt(desc, &r.textdescription)) != WD_OK)
        goto fail;
    size_t i;
    json_t *a;
    json_array_foreach(acls, i, a) {
        if ((rc = parse_acl(d, a, &r)) != WD_OK) {
            if (rc == WD_EMALFORMED)
                rewrap(d, "acls", i);
            goto fail;
        }
    }
    if ((rc = reserve((void **)&imp->roles, imp->nroles, sizeof *imp->roles)) != WD_OK)
        goto fail;
    imp->roles[imp->nroles++] = r;
    return WD_OK;
fail:
    role_fini(&r);
    return rc;
}

/*
 * Mosquitto's dynsec client password fields as a "$7$ITER$SALT$HASH" string.
 * out: *hash owned, NULL when the client has no password.
 */
static enum wd_err client_hash(struct dyn *d, json_t *v, char **hash)
{
    json_t *pw = json_object_get(v, "password"), *salt = json_object_get(v, "salt"),
           *iter = json_object_get(v, "iterations");
    *hash = NULL;
    if (!pw && !salt && !iter)
        return WD_OK;
    if (!json_is_string(pw) || !json_is_string(salt) || !json_is_integer(iter))
        return why(d, "password needs string password and salt and integer iterations");
    if (json_integer_value(iter) < 1 || json_integer_value(iter) > (json_int_t)PW_PBKDF2_ITER_MAX)
        return why(d, "iterations out of range");
    /* jansson refuses "\u0000" (no JSON_ALLOW_NUL), so the strings hold no NUL. */
    long long it = (long long)json_integer_value(iter);
    int n = snprintf(NULL, 0, "$7$%lld$%s$%s", it, json_string_value(salt), json_string_value(pw));
    if (n < 0)
        return why(d, "password fields too long");
    char *s = wd_malloc((size_t)n + 1);
    if (!s)
        return WD_ENOMEM;
    snprintf(s, (size_t)n + 1, "$7$%lld$%s$%s", it, json_string_value(salt), json_string_value(pw));
    if (!pw_well_formed(s)) {
        wd_free(s); /* never echo the fields */
        return why(d, "password/salt are not a base64 PBKDF2-SHA512 hash");
    }
    *hash = s;
    return WD_OK;
}

/* Index of a client of this file called name, or SIZE_MAX. */
static size_t find_user(const struct dyn *d, const char *name)
{
    size_t i = user_find(d->c.imp, name);
    return i != SIZE_MAX && i >= d->user0 ? i : SIZE_MAX;
}

/* One element of "clients". */
static enum wd_err parse_client(struct dyn *d, json_t *v)
{
    struct import *imp = d->c.imp;
    struct import_user u = {0};
    const char *name, *text, *desc, *cid;
    json_t *roles;
    struct link *links = NULL;
    size_t nlinks = 0;
    enum wd_err rc;
    if (!json_is_object(v))
        return why(d, "not an object");
    if ((rc = req_name(d, v, "username", &name)) != WD_OK ||
        (rc = opt_text(d, v, "textName", "textname", &text)) != WD_OK ||
        (rc = opt_text(d, v, "textDescription", "textdescription", &desc)) != WD_OK ||
        (rc = opt_str(d, v, "clientid", &cid)) != WD_OK ||
        (rc = opt_bool(d, v, "disabled", false, &u.disabled)) != WD_OK ||
        (rc = opt_array(d, v, "roles", &roles)) != WD_OK)
        return rc;
    if (cid && !valid_name(cid, strlen(cid)))
        return why(d, "clientid is empty or too long");
    if (user_find(imp, name) != SIZE_MAX)
        return why(d, "duplicate user '%.64s'", name);
    if ((rc = parse_links(d, roles, "rolename", "roles", find_role, &links, &nlinks)) != WD_OK ||
        (rc = client_hash(d, v, &u.hash)) != WD_OK || (rc = dup_opt(name, &u.name)) != WD_OK ||
        (rc = dup_opt(text, &u.textname)) != WD_OK ||
        (rc = dup_opt(desc, &u.textdescription)) != WD_OK ||
        (rc = dup_opt(cid, &u.clientid)) != WD_OK)
        goto out;
    for (size_t i = 0; i < nlinks && rc == WD_OK; i++)
        rc = strv_add_unique(&u.roles, &u.nroles, imp->roles[links[i].idx].name);
    if (rc == WD_OK)
        rc = user_append(imp, &u);
out:
    wd_free(links);
    user_fini(&u);
    return rc;
}

/* One element of "groups": kept in d->groups, memberships in d->members. */
static enum wd_err parse_group(struct dyn *d, json_t *v)
{
    const char *name;
    json_t *roles, *clients;
    struct group g = {0};
    struct link *users = NULL;
    size_t nusers = 0;
    enum wd_err rc;
    if (!json_is_object(v))
        return why(d, "not an object");
    if ((rc = req_name(d, v, "groupname", &name)) != WD_OK ||
        (rc = opt_array(d, v, "roles", &roles)) != WD_OK ||
        (rc = opt_array(d, v, "clients", &clients)) != WD_OK)
        return rc;
    for (size_t i = 0; i < d->ngroups; i++)
        if (strcmp(d->groups[i].name, name) == 0)
            return why(d, "duplicate group '%.64s'", name);
    g.name = name;
    if ((rc = parse_links(d, roles, "rolename", "roles", find_role, &g.roles, &g.nroles)) !=
            WD_OK ||
        (rc = parse_links(d, clients, "username", "clients", find_user, &users, &nusers)) !=
            WD_OK ||
        (rc = reserve((void **)&d->groups, d->ngroups, sizeof *d->groups)) != WD_OK)
        goto fail;
    for (size_t i = 0; i < nusers; i++) {
        if ((rc = reserve((void **)&d->members, d->nmembers, sizeof *d->members)) != WD_OK)
            goto fail;
        d->members[d->nmembers++] =
            (struct membership){users[i].idx, d->ngroups, users[i].prio, d->nmembers};
    }
    d->groups[d->ngroups++] = g;
    wd_free(users);
    return WD_OK;
fail:
    wd_free(users);
    wd_free(g.roles);
    return rc;
}

/* After all groups: each client gets its groups' roles after its own, by priority. */
static enum wd_err flatten_groups(struct dyn *d)
{
    struct import *imp = d->c.imp;
    if (d->nmembers > 1)
        qsort(d->members, d->nmembers, sizeof *d->members, membership_cmp);
    for (size_t i = 0; i < d->nmembers; i++) {
        struct import_user *u = &imp->users[d->members[i].user];
        const struct group *g = &d->groups[d->members[i].group];
        for (size_t k = 0; k < g->nroles; k++) {
            enum wd_err rc =
                strv_add_unique(&u->roles, &u->nroles, imp->roles[g->roles[k].idx].name);
            if (rc != WD_OK)
                return rc;
        }
    }
    return WD_OK;
}

/* "defaultACLAccess": missing members are false, as in Mosquitto. */
static enum wd_err parse_default_acl(struct dyn *d, json_t *v)
{
    struct import_default_acl a = {.present = true};
    if (!json_is_object(v))
        return why(d, "not an object");
    enum wd_err rc;
    if ((rc = opt_bool(d, v, "publishClientSend", false, &a.publish_send)) != WD_OK ||
        (rc = opt_bool(d, v, "publishClientReceive", false, &a.publish_receive)) != WD_OK ||
        (rc = opt_bool(d, v, "subscribe", false, &a.subscribe)) != WD_OK ||
        (rc = opt_bool(d, v, "unsubscribe", false, &a.unsubscribe)) != WD_OK)
        return rc;
    d->c.imp->default_acl = a;
    return WD_OK;
}

/* Run parse on every element of the array root[key]; bad ones named "key[i]". */
static enum wd_err each(struct dyn *d, json_t *root, const char *key,
                        enum wd_err (*parse)(struct dyn *, json_t *))
{
    json_t *arr = json_object_get(root, key), *v;
    size_t i;
    if (!arr)
        return WD_OK;
    if (!json_is_array(arr)) {
        d->c.flags &= ~IMPORT_SKIP_BAD; /* the whole section: nothing sensible to skip */
        return bad(&d->c, ": %s: not an array", key);
    }
    json_array_foreach(arr, i, v) {
        enum wd_err rc = parse(d, v);
        if (rc == WD_EMALFORMED)
            rc = bad(&d->c, ": %s[%zu]: %s", key, i, d->why);
        if (rc != WD_OK)
            return rc;
    }
    return WD_OK;
}

enum wd_err import_dynsec(struct import *imp, const char *file, const char *data, size_t len,
                          unsigned flags)
{
    struct dyn d = {.c = {imp, file ? file : "-", flags}, .role0 = imp->nroles,
                    .user0 = imp->nusers};
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        d.c.flags &= ~IMPORT_SKIP_BAD; /* a syntax error has no line to skip */
        return bad(&d.c, ":%d: %s", jerr.line, jerr.text);
    }
    enum wd_err rc = WD_OK;
    if (!json_is_object(root)) {
        d.c.flags &= ~IMPORT_SKIP_BAD;
        rc = bad(&d.c, ": the top level is not an object");
        goto out;
    }
    json_t *dflt = json_object_get(root, "defaultACLAccess");
    if (dflt && parse_default_acl(&d, dflt) != WD_OK &&
        (rc = bad(&d.c, ": defaultACLAccess: %s", d.why)) != WD_OK)
        goto out;
    if ((rc = each(&d, root, "roles", parse_role)) != WD_OK ||
        (rc = each(&d, root, "clients", parse_client)) != WD_OK ||
        (rc = each(&d, root, "groups", parse_group)) != WD_OK ||
        (rc = flatten_groups(&d)) != WD_OK)
        goto out;

    json_t *anon = json_object_get(root, "anonymousGroup");
    if (anon) {
        size_t g = 0;
        while (json_is_string(anon) && g < d.ngroups &&
               strcmp(d.groups[g].name, json_string_value(anon)) != 0)
            g++;
        if (!json_is_string(anon) || g == d.ngroups) {
            rc = bad(&d.c, ": anonymousGroup: names no group of this file");
        } else {
            for (size_t k = 0; k < d.groups[g].nroles && rc == WD_OK; k++)
                rc = strv_add_unique(&imp->anon_roles, &imp->nanon_roles,
                                     imp->roles[d.groups[g].roles[k].idx].name);
        }
    }
out:
    for (size_t i = 0; i < d.ngroups; i++)
        wd_free(d.groups[i].roles);
    wd_free(d.groups);
    wd_free(d.members);
    json_decref(root);
    return rc;
}

/* ---- reading a file -------------------------------------------------------------------- */

enum wd_err import_read_file(const char *path, size_t max, char **data, size_t *len,
                             char err[IMPORT_ERR_MAX])
{
    *data = NULL;
    *len = 0;
    err[0] = '\0';
    if (max == 0)
        max = IMPORT_FILE_MAX;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, IMPORT_ERR_MAX, "%s: %s", path, strerror(errno));
        return WD_EIO;
    }
    size_t cap = 0, n = 0;
    char *buf = NULL;
    enum wd_err rc = WD_OK;
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                snprintf(err, IMPORT_ERR_MAX, "%s: larger than %zu bytes", path, max);
                rc = WD_ETOOLARGE;
                break;
            }
            size_t ncap = cap ? cap * 2 : 4096;
            if (ncap > max + 1)
                ncap = max + 1; /* one byte past max tells "too large" from "exactly max" */
            char *nb = wd_realloc(buf, ncap + 1);
            if (!nb) {
                rc = WD_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(err, IMPORT_ERR_MAX, "%s: read error", path);
                rc = WD_EIO;
            }
            break;
        }
        if (n > max) {
            snprintf(err, IMPORT_ERR_MAX, "%s: larger than %zu bytes", path, max);
            rc = WD_ETOOLARGE;
            break;
        }
    }
    fclose(f);
    if (rc != WD_OK) {
        wd_free(buf);
        return rc;
    }
    if (!buf && !(buf = wd_malloc(1)))
        return WD_ENOMEM;
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return WD_OK;
}
