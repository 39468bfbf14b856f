/*
 * introspect.h - OAuth 2.0 token introspection (RFC 7662) for opaque access
 * tokens: a blocking HTTP/1.1 POST over TLS (WolfSSL, the server's chain and
 * host name verified) to an introspection issuer's endpoint, bounded in time
 * and size, and a cache of the answers keyed by a keyed BLAKE2b of the token
 * and the client id (never the token itself). Calls run on the auth workers;
 * the cache is shared between them under a mutex.
 */
#ifndef WD_INTROSPECT_H
#define WD_INTROSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"

#define INTROSPECT_MAX_RESPONSE 16384  /* bytes of a whole answer, headers and body */
#define INTROSPECT_CACHE_DEFAULT 300   /* seconds: --cache when not given */
#define INTROSPECT_HOST_MAX 256
#define INTROSPECT_PATH_MAX 1024

/* What the service said about a token (the claims Warden uses). */
struct introspect_answer {
    bool active;
    char *sub;          /* owned or NULL */
    char *scope;        /* owned or NULL */
    char *client_id;    /* owned or NULL */
    char *iss;          /* owned or NULL */
    char *aud;          /* owned or NULL: the audiences, one per line ("a\nb") */
    int64_t exp;        /* Unix seconds; 0 = none given */
};

/* Free what a owns (not a); fields become NULL. */
void introspect_answer_fini(struct introspect_answer *a);

/*
 * PURE. Split an https:// URL into host (a name, an IPv4 address or a
 * bracketed IPv6 address, brackets dropped), port (443 when absent) and path
 * ("/" when absent). Returns WD_OK or WD_EINVAL (not https, no host, a bad
 * port, user info, a fragment, too long).
 */
enum wd_err introspect_parse_url(const char *url, char host[INTROSPECT_HOST_MAX],
                                 uint16_t *port, char path[INTROSPECT_PATH_MAX]);

/*
 * PURE. Parse a whole HTTP/1.1 response in buf[0..len) (http-parser,
 * HTTP_RESPONSE): status 200 and a JSON object body, whose `active` must be a
 * boolean; `sub`, `scope`, `client_id`, `iss` strings, `exp` a number, `aud`
 * a string or an array of strings, when present. complete: the peer closed
 * (a body without a length ends there).
 * out: *a (introspect_answer_fini) on WD_OK; why[0..n) on failure.
 * Returns WD_OK; WD_EAGAIN (incomplete: read more); WD_EIO (not 200, garbled,
 * not JSON, a claim of the wrong type); WD_ETOOLARGE; WD_ENOMEM.
 */
enum wd_err introspect_parse_response(const char *buf, size_t len, bool complete,
                                      struct introspect_answer *a, char *why, size_t n);

/*
 * Ask is (a TOKEN_ISSUER_INTROSPECT issuer) about token[0..len) for the MQTT
 * client cid, unless a cached answer (until min(exp, is->cache)) exists.
 * timeout_ms bounds the whole call: resolve, connect, handshake, request,
 * answer. Only active answers are cached.
 * out: *a on WD_OK (active or not); why[0..n) on failure: never the token or
 * the secret.
 * Returns WD_OK; WD_EIO or WD_ETIMEOUT (the service cannot answer: fail
 * closed); WD_ENOMEM. Thread: worker.
 */
enum wd_err introspect_lookup(const struct token_issuer *is, const char *token, size_t len,
                              const char *cid, uint32_t timeout_ms,
                              struct introspect_answer *a, char *why, size_t n);

/* Drop every cached answer (tests, shutdown). Thread: any. */
void introspect_cache_clear(void);

#endif
