/*
 * http.h - a small HTTP/1.1 server on the broker loop, for the OAuth 2.0
 * token endpoint (oauth.c) on `http_listener` sections.
 *
 * One request per connection: the request (line, headers and body) must
 * arrive whole within HTTP_REQUEST_TIMEOUT_MS and HTTP_MAX_REQUEST bytes,
 * parsed by Debian's http-parser; the answer is sent with `Connection: close`
 * and the connection ends. TLS comes from the listener's keys (tls.h), as on
 * MQTT listeners. A handler may answer later (after an auth worker): the
 * connection waits, bounded by the same timer.
 * Thread: broker.
 */
#ifndef WD_HTTP_H
#define WD_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct broker;
struct listener;
struct http_conn;

#define HTTP_MAX_REQUEST 8192          /* request line, headers and body together */
#define HTTP_REQUEST_TIMEOUT_MS 10000  /* from accept (or the TLS handshake) to the answer */
#define HTTP_MAX_CONNS 64              /* open at once on all HTTP listeners */

enum http_verb { HTTP_M_GET, HTTP_M_POST, HTTP_M_OTHER };

/* A parsed request; every pointer borrows from the connection until it ends. */
struct http_request {
    enum http_verb method;
    const char *path;          /* the URL's path, query removed */
    const char *authorization; /* the Authorization header, or NULL */
    const char *content_type;  /* the Content-Type header, or NULL */
    const char *body;          /* NUL-terminated; bodylen bytes */
    size_t bodylen;
    const char *ip;            /* the peer's address */
};

/* A new connection accepted on an HTTP listener. Takes fd. */
void http_accept(struct listener *l, int fd, const char *addr);

/*
 * Answer the request: status, optional extra header lines (each ending in
 * "\r\n"), and a JSON body. Then the connection closes. Only once.
 */
void http_respond(struct http_conn *c, int status, const char *headers, const char *json);

/* A handler that answers later keeps its state here: done(state) runs when the
 * connection ends first (to cancel an auth ticket), free(state) always at the end. */
void http_set_pending(struct http_conn *c, void *state, void (*cancel)(void *state),
                      void (*release)(void *state));

struct broker *http_broker(const struct http_conn *c);

/* Close every HTTP connection (shutdown) and free them (broker_free). */
void http_free_all(struct broker *b);

#endif
