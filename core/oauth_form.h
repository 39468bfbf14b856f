/*
 * oauth_form.h - PURE decoding of what a token request carries: the
 * application/x-www-form-urlencoded body and the HTTP Basic client
 * credentials (RFC 6749 sections 2.3.1 and 4.4.2). No I/O, no globals;
 * fuzzed by tests/fuzz/fuzz_http.c.
 */
#ifndef WD_OAUTH_FORM_H
#define WD_OAUTH_FORM_H

#include <stdbool.h>
#include <stddef.h>

#define OAUTH_CRED_MAX 512     /* a client id or secret, decoded, with its NUL */

/*
 * PURE. The form body body[0..len) (application/x-www-form-urlencoded):
 * grant_type into grant (size gcap), scope into scope (size scap) and
 * whether it was given. Other parameters are ignored (RFC 6749 section 3.2).
 * Returns NULL, or why the form is refused (missing or repeated grant_type,
 * a repeated scope, a bad escape, a NUL, too long).
 */
const char *oauth_parse_form(const char *body, size_t len, char *grant, size_t gcap,
                             char *scope, size_t scap, bool *have_scope);

/*
 * PURE. An Authorization header "Basic base64(id ':' secret)", both parts
 * form-urlencoded (RFC 6749 section 2.3.1), into id and secret (each
 * OAUTH_CRED_MAX). false when it is not that or the id is empty.
 */
bool oauth_parse_basic(const char *header, char *id, char *secret);

#endif
