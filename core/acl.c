/*
 * acl.c - rule evaluation and the verdict cache (see acl.h). Filters are
 * compared level by level without copying; the only buffer is the
 * substituted filter on the stack. The cache allocates through mem.c.
 */
#include "acl.h"

#include <string.h>

#include "mem.h"
#include "topic.h"

/* One level of a filter: [p, p+len), and whether more levels follow. */
struct level {
    const char *p;
    size_t len;
    bool more;
};

static bool next_level(const char **s, const char *end, struct level *lv)
{
    if (!*s)
        return false;
    const char *slash = memchr(*s, '/', (size_t)(end - *s));
    lv->p = *s;
    lv->len = (size_t)((slash ? slash : end) - *s);
    lv->more = slash != NULL;
    *s = slash ? slash + 1 : NULL;
    return true;
}

static bool is(const struct level *lv, char c)
{
    return lv->len == 1 && lv->p[0] == c;
}

static bool dollar(const struct level *lv)
{
    return lv->len > 0 && lv->p[0] == '$';
}

bool acl_covers(const char *r, size_t rlen, const char *f, size_t flen)
{
    const char *rs = r, *fs = f, *re = r + rlen, *fe = f + flen;
    struct level a = {0}, b = {0};
    for (int depth = 0;; depth++) {
        bool ha = next_level(&rs, re, &a);
        bool hb = next_level(&fs, fe, &b);
        if (!ha)
            return !hb; /* r ended: covers only if f ended too */
        if (is(&a, '#'))
            return !(depth == 0 && hb && dollar(&b)); /* [MQTT-4.7.2-1] */
        if (!hb)
            return false; /* f ended, r has more than '#': f's topic "x" not matched */
        if (is(&b, '#'))
            return false; /* f reaches any depth, r does not */
        if (is(&a, '+')) {
            if (depth == 0 && dollar(&b))
                return false;
            continue;
        }
        if (is(&b, '+') || a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
            return false;
    }
}

bool acl_overlaps(const char *x, size_t xlen, const char *y, size_t ylen)
{
    const char *xs = x, *ys = y, *xe = x + xlen, *ye = y + ylen;
    struct level a = {0}, b = {0};
    for (int depth = 0;; depth++) {
        bool ha = next_level(&xs, xe, &a);
        bool hb = next_level(&ys, ye, &b);
        if (!ha && !hb)
            return true;
        if (!ha)
            return is(&b, '#') && !b.more; /* "a" and "a/#" share "a" */
        if (!hb)
            return is(&a, '#') && !a.more;
        bool wa = is(&a, '#') || is(&a, '+'), wb = is(&b, '#') || is(&b, '+');
        /* A wildcard at the first level never meets a '$' topic. */
        if (depth == 0 && ((wa && !wb && dollar(&b)) || (wb && !wa && dollar(&a))))
            return false;
        if (is(&a, '#') || is(&b, '#'))
            return true;
        if (wa || wb)
            continue;
        if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
            return false;
    }
}

static bool safe_value(const char *v)
{
    return v && *v && !strpbrk(v, "+#/");
}

bool acl_substitute(const char *pattern, const struct acl_subject *who, char *out, size_t n,
                    size_t *outlen)
{
    size_t o = 0;
    for (const char *p = pattern; *p;) {
        const char *val = NULL;
        size_t skip = 0;
        if (p[0] == '%' && p[1] == 'c' && p[2] == 'n') {
            val = who->cn;
            skip = 3;
        } else if (p[0] == '%' && p[1] == 'u') {
            val = who->user;
            skip = 2;
        } else if (p[0] == '%' && p[1] == 'c') {
            val = who->client_id;
            skip = 2;
        }
        if (skip) {
            if (!safe_value(val))
                return false;
            size_t l = strlen(val);
            if (o + l >= n)
                return false;
            memcpy(out + o, val, l);
            o += l;
            p += skip;
            continue;
        }
        if (o + 1 >= n)
            return false;
        out[o++] = *p++;
    }
    out[o] = '\0';
    *outlen = o;
    return true;
}

enum acl_result acl_eval(const struct acl_list *lists, size_t nlists,
                         const struct acl_subject *who, unsigned action, const char *topic,
                         size_t tlen, uint8_t qos, bool retain, uint8_t *granted,
                         struct acl_why *why)
{
    char buf[1024];
    for (size_t li = 0; li < nlists; li++) {
        for (size_t ri = 0; ri < lists[li].n; ri++) {
            const struct rule *r = &lists[li].rules[ri];
            size_t flen;
            if (!(r->actions & action) || !acl_substitute(r->filter, who, buf, sizeof buf, &flen))
                continue;
            bool hit;
            if (action == RULE_SUBSCRIBE)
                hit = r->effect == RULE_ALLOW ? acl_covers(buf, flen, topic, tlen)
                                              : acl_overlaps(buf, flen, topic, tlen);
            else
                hit = topic_match(buf, flen, topic, tlen);
            if (!hit)
                continue;
            if (why) {
                why->list = li;
                why->rule = ri;
                memcpy(why->filter, buf, flen + 1);
            }
            if (r->effect == RULE_DENY)
                return ACL_DENY;
            if (action == RULE_PUBLISH && (qos > r->max_qos || (retain && !r->retain)))
                return ACL_DENY;
            if (granted)
                *granted = qos < r->max_qos ? qos : r->max_qos;
            return ACL_ALLOW;
        }
    }
    return ACL_NO_MATCH;
}

/* ---- verdict cache ---- */

static uint8_t cache_key(unsigned action, uint8_t qos, bool retain)
{
    return (uint8_t)(action | (unsigned)qos << 3 | (retain ? 1u : 0u) << 5);
}

static uint64_t cache_hash(uint8_t key, const char *topic, size_t tlen)
{
    uint64_t h = 1469598103934665603ULL ^ key; /* FNV-1a */
    for (size_t i = 0; i < tlen; i++) {
        h ^= (uint8_t)topic[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The two slots a hash may live in. */
static void cache_probes(uint64_t h, unsigned *a, unsigned *b)
{
    *a = (unsigned)(h & (ACL_CACHE_SLOTS - 1));
    *b = (unsigned)((h >> 32) & (ACL_CACHE_SLOTS - 1));
    if (*b == *a)
        *b = (*a + 1) & (ACL_CACHE_SLOTS - 1);
}

static bool slot_is(const struct acl_cache_slot *s, uint64_t h, uint8_t key, const char *topic,
                    size_t tlen)
{
    return s->topic && s->hash == h && s->key == key && s->tlen == tlen &&
           memcmp(s->topic, topic, tlen) == 0;
}

struct acl_cache *acl_cache_new(void)
{
    return wd_calloc(1, sizeof(struct acl_cache));
}

void acl_cache_clear(struct acl_cache *c)
{
    for (unsigned i = 0; i < ACL_CACHE_SLOTS; i++) {
        wd_free(c->slot[i].topic);
        c->slot[i].topic = NULL;
    }
}

void acl_cache_free(struct acl_cache *c)
{
    if (!c)
        return;
    acl_cache_clear(c);
    wd_free(c);
}

int acl_cache_get(struct acl_cache *c, unsigned action, const char *topic, size_t tlen,
                  uint8_t qos, bool retain)
{
    uint8_t key = cache_key(action, qos, retain);
    uint64_t h = cache_hash(key, topic, tlen);
    unsigned a, b;
    cache_probes(h, &a, &b);
    const struct acl_cache_slot *s = slot_is(&c->slot[a], h, key, topic, tlen)   ? &c->slot[a]
                                     : slot_is(&c->slot[b], h, key, topic, tlen) ? &c->slot[b]
                                                                                  : NULL;
    if (!s) {
        c->misses++;
        return -1;
    }
    c->hits++;
    return s->allow ? 1 : 0;
}

void acl_cache_put(struct acl_cache *c, unsigned action, const char *topic, size_t tlen,
                   uint8_t qos, bool retain, bool allow)
{
    if (tlen > ACL_CACHE_TOPIC_MAX)
        return;
    uint8_t key = cache_key(action, qos, retain);
    uint64_t h = cache_hash(key, topic, tlen);
    unsigned a, b;
    cache_probes(h, &a, &b);
    struct acl_cache_slot *s;
    if (slot_is(&c->slot[a], h, key, topic, tlen) || !c->slot[a].topic)
        s = &c->slot[a];
    else if (slot_is(&c->slot[b], h, key, topic, tlen) || !c->slot[b].topic)
        s = &c->slot[b];
    else
        s = &c->slot[(c->next_victim++ & 1) ? b : a];
    if (!s->topic || s->tlen != tlen) {
        char *copy = wd_malloc(tlen + 1);
        if (!copy)
            return;
        wd_free(s->topic);
        s->topic = copy;
    }
    memcpy(s->topic, topic, tlen);
    s->topic[tlen] = '\0';
    s->hash = h;
    s->tlen = (uint16_t)tlen;
    s->key = key;
    s->allow = allow;
}

enum acl_result acl_eval_scoped(const struct acl_list *scope, bool scope_only,
                                const struct acl_list *lists, size_t nlists,
                                const struct acl_subject *who, unsigned action, const char *topic,
                                size_t tlen, uint8_t qos, bool retain, uint8_t *granted)
{
    uint8_t g1 = qos, g2 = qos;
    if (acl_eval(scope, 1, who, action, topic, tlen, qos, retain, &g1, NULL) != ACL_ALLOW)
        return ACL_DENY;
    if (!scope_only &&
        acl_eval(lists, nlists, who, action, topic, tlen, qos, retain, &g2, NULL) != ACL_ALLOW)
        return ACL_DENY;
    if (granted)
        *granted = g1 < g2 ? g1 : g2;
    return ACL_ALLOW;
}
