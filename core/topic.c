/*
 * topic.c - PURE rules for MQTT topic names and filters (MQTT 5 section 4.7, 4.8.2).
 *
 * Owns validation, "$share/" splitting and one-to-one matching. Strings are
 * (pointer, length) views, never NUL-terminated; UTF-8 is the codec's job.
 * A level runs from just after a '/' (or the start) to the next '/' (or the
 * end); a position one past the end means "no levels left", which is how an
 * empty last level ("a/") stays distinct from a consumed string ("a").
 * Workload: called once per SUBSCRIBE filter and per ACL check; the publish
 * hot path uses tree.c instead of topic_match().
 */
#include "topic.h"

#include <string.h>

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN (sizeof SHARE_PREFIX - 1)

/* End of the level that starts at `from` (index of the next '/', or len). */
static size_t level_end(const char *s, size_t len, size_t from)
{
    const char *slash = from < len ? memchr(s + from, '/', len - from) : NULL;
    return slash ? (size_t)(slash - s) : len;
}

enum wd_err topic_validate_name(const char *s, size_t len)
{
    if (len == 0)
        return WD_ETOPIC; /* [MQTT-4.7.3-1] */
    if (topic_has_wildcard(s, len))
        return WD_ETOPIC; /* [MQTT-3.3.2-2] */
    return WD_OK;
}

enum wd_err topic_validate_filter(const char *s, size_t len)
{
    if (len == 0)
        return WD_ETOPIC; /* [MQTT-4.7.3-1] */
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '+' && s[i] != '#')
            continue;
        bool level_start = i == 0 || s[i - 1] == '/';
        bool level_stop = i + 1 == len || s[i + 1] == '/';
        if (!level_start || !level_stop)
            return WD_ETOPIC; /* [MQTT-4.7.1-2], [MQTT-4.7.1-3] */
        if (s[i] == '#' && i + 1 != len)
            return WD_ETOPIC; /* '#' must be the last level [MQTT-4.7.1-2] */
    }
    return WD_OK;
}

enum wd_err topic_parse_shared(const char *s, size_t len, bool *shared, const char **group,
                               size_t *glen, const char **filter, size_t *flen)
{
    if (len < SHARE_PREFIX_LEN || memcmp(s, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0) {
        *shared = false;
        *group = NULL;
        *glen = 0;
        *filter = s;
        *flen = len;
        return topic_validate_filter(s, len);
    }
    const char *g = s + SHARE_PREFIX_LEN;
    size_t rest = len - SHARE_PREFIX_LEN;
    const char *slash = memchr(g, '/', rest);
    if (!slash)
        return WD_ETOPIC; /* "$share/GROUP" without a filter [MQTT-4.8.2-2] */
    size_t gl = (size_t)(slash - g);
    if (gl == 0 || topic_has_wildcard(g, gl))
        return WD_ETOPIC; /* [MQTT-4.8.2-1] */
    const char *f = slash + 1;
    size_t fl = rest - gl - 1;
    if (topic_validate_filter(f, fl) != WD_OK)
        return WD_ETOPIC;
    *shared = true;
    *group = g;
    *glen = gl;
    *filter = f;
    *flen = fl;
    return WD_OK;
}

bool topic_match(const char *filter, size_t flen, const char *name, size_t nlen)
{
    /* A filter starting with a wildcard never matches a '$' name [MQTT-4.7.2-1]. */
    if (nlen > 0 && name[0] == '$' && flen > 0 && (filter[0] == '+' || filter[0] == '#'))
        return false;
    size_t fi = 0, ni = 0; /* start of the current level; len + 1 = none left */
    for (;;) {
        if (fi > flen)
            return ni > nlen;
        size_t fe = level_end(filter, flen, fi);
        bool one = fe - fi == 1;
        if (one && filter[fi] == '#')
            return true; /* also matches the parent level [MQTT-4.7.1-2] */
        if (ni > nlen)
            return false;
        size_t ne = level_end(name, nlen, ni);
        if (!(one && filter[fi] == '+')) {
            if (fe - fi != ne - ni)
                return false;
            if (fe > fi && memcmp(filter + fi, name + ni, fe - fi) != 0)
                return false;
        }
        fi = fe + 1;
        ni = ne + 1;
    }
}

uint32_t topic_levels(const char *s, size_t len)
{
    uint32_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '/';
    return n;
}

bool topic_has_wildcard(const char *s, size_t len)
{
    return len > 0 && (memchr(s, '+', len) != NULL || memchr(s, '#', len) != NULL);
}
