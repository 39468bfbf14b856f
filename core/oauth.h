/*
 * oauth.h - the OAuth 2.0 client-credentials token endpoint (RFC 6749
 * section 4.4) and the public signing keys, served on `http_listener`s:
 *
 *   POST /oauth2/token            grant_type=client_credentials [&scope=...]
 *                                 client authentication: HTTP Basic, a store
 *                                 user and its password (Argon2id on a worker)
 *   GET  /.well-known/jwks.json   Warden's Ed25519 public key as a JWK set
 *
 * A requested scope is granted only when the user's own rules allow every
 * entry (invalid_scope otherwise); the token is Warden's own (EdDSA), valid
 * for oauth_token_ttl seconds. Failures answer with the RFC's JSON errors.
 * Thread: broker (the store and Argon2id work go to the auth workers).
 */
#ifndef WD_OAUTH_H
#define WD_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

struct perms;

/* Handle one parsed request: answers now or later through http_respond(). */
void oauth_request(struct http_conn *c, const struct http_request *r);

/*
 * PURE. Does p allow every entry of scope for user (%u substituted; %c and %cn
 * cannot be granted before a client id exists)? Returns false and a short
 * reason in why (size n) when not, or when the scope is malformed.
 */
bool oauth_scope_allowed(const struct perms *p, const char *user, const char *scope, char *why,
                         size_t n);

#endif
