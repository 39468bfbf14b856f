/*
 * oauth_form.c - form and Basic decoding for the token endpoint. Every
 * output is bounded by its buffer; a bad escape, a NUL or an overlong value
 * refuses the whole input rather than passing on a truncated one.
 */
#include "oauth_form.h"

#include <string.h>
#include <strings.h>

#include <sodium.h>

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* application/x-www-form-urlencoded decoding of s[0..n) into out (size cap).
 * false: a bad escape, a NUL, or too long. */
static bool form_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            if (i + 2 >= n)
                return false;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            ch = (char)(hi << 4 | lo);
            i += 2;
        }
        if (ch == '\0' || o + 1 >= cap)
            return false;
        out[o++] = ch;
    }
    out[o] = '\0';
    return true;
}

const char *oauth_parse_form(const char *body, size_t len, char *grant, size_t gcap,
                             char *scope, size_t scap, bool *have_scope)
{
    bool have_grant = false;
    *have_scope = false;
    grant[0] = scope[0] = '\0';
    size_t pos = 0;
    while (pos < len) {
        const char *amp = memchr(body + pos, '&', len - pos);
        size_t end = amp ? (size_t)(amp - body) : len;
        const char *eq = memchr(body + pos, '=', end - pos);
        size_t klen = eq ? (size_t)(eq - body) - pos : end - pos;
        const char *v = eq ? eq + 1 : body + end;
        size_t vlen = (size_t)(body + end - v);
        char key[32];
        if (klen && form_decode(body + pos, klen, key, sizeof key)) {
            if (!strcmp(key, "grant_type")) {
                if (have_grant)
                    return "grant_type given twice";
                if (!form_decode(v, vlen, grant, gcap))
                    return "bad grant_type encoding";
                have_grant = true;
            } else if (!strcmp(key, "scope")) {
                if (*have_scope)
                    return "scope given twice";
                if (!form_decode(v, vlen, scope, scap))
                    return "bad scope encoding or scope too long";
                *have_scope = true;
            }
        }
        pos = end + 1;
    }
    return have_grant ? NULL : "grant_type missing";
}

bool oauth_parse_basic(const char *h, char *id, char *secret)
{
    if (!h || strncasecmp(h, "Basic ", 6))
        return false;
    h += 6;
    while (*h == ' ')
        h++;
    size_t hlen = strlen(h);
    while (hlen && h[hlen - 1] == ' ')
        hlen--;
    unsigned char raw[2 * OAUTH_CRED_MAX + 2];
    size_t rlen = 0;
    if (sodium_base642bin(raw, sizeof raw - 1, h, hlen, NULL, &rlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    raw[rlen] = '\0';
    const char *colon = memchr(raw, ':', rlen);
    size_t idlen = colon ? (size_t)(colon - (const char *)raw) : 0;
    bool ok = colon && form_decode((const char *)raw, idlen, id, OAUTH_CRED_MAX) &&
              form_decode(colon + 1, rlen - idlen - 1, secret, OAUTH_CRED_MAX) && id[0];
    sodium_memzero(raw, sizeof raw);
    return ok;
}
