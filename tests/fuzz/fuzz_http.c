/*
 * fuzz_http.c - libFuzzer target for the HTTP-side parsers: the token
 * endpoint's form body and Basic credentials (oauth_form.c), and the
 * introspection client's URL splitter and response parser (introspect.c).
 *
 * The first byte selects the parser ('F' form, 'B' Basic header, 'U' URL,
 * 'R' a response with the peer still open, 'C' a closed one); any other
 * byte runs the rest through all of them. Outputs must be NUL-terminated
 * within their buffers, answers must hold their invariants, and nothing may
 * stay allocated.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "introspect.h"
#include "mem.h"
#include "oauth_form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void form(const char *s, size_t n)
{
    char grant[64], scope[4096];
    bool have_scope = false;
    if (!oauth_parse_form(s, n, grant, sizeof grant, scope, sizeof scope, &have_scope)) {
        assert(strlen(grant) < sizeof grant);
        assert(!have_scope || strlen(scope) < sizeof scope);
    }
}

static void basic(const char *s)
{
    char id[OAUTH_CRED_MAX], secret[OAUTH_CRED_MAX];
    if (oauth_parse_basic(s, id, secret))
        assert(id[0] && strlen(id) < sizeof id && strlen(secret) < sizeof secret);
}

static void url(const char *s)
{
    char host[INTROSPECT_HOST_MAX], path[INTROSPECT_PATH_MAX];
    uint16_t port = 0;
    if (introspect_parse_url(s, host, &port, path) == WD_OK)
        assert(host[0] && port && path[0] == '/');
}

static void response(const char *s, size_t n, bool complete)
{
    struct introspect_answer a;
    memset(&a, 0, sizeof a);
    char why[160];
    why[0] = '\0';
    enum wd_err e = introspect_parse_response(s, n, complete, &a, why, sizeof why);
    if (e == WD_OK)
        introspect_answer_fini(&a);
    else
        assert(memchr(why, '\0', sizeof why));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 20000)
        return 0;
    size_t base = mem_in_use();
    char *s = malloc(size); /* the rest, NUL-terminated, for the string parsers */
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    size_t n = size - 1;
    switch (data[0]) {
    case 'F': form(s, n); break;
    case 'B': basic(s); break;
    case 'U': url(s); break;
    case 'R': response(s, n, false); break;
    case 'C': response(s, n, true); break;
    default:
        form(s, n);
        basic(s);
        url(s);
        response(s, n, true);
    }
    free(s);
    assert(mem_in_use() == base);
    return 0;
}
